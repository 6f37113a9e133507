"""``swiftprop.plot``: the pictures are drawn (Agg backend) from the right
data, bad arguments name themselves, and ``import swiftprop`` does not
import matplotlib."""

import subprocess
import sys

import numpy as np
import pytest

import swiftprop as sp

from conftest import XOR_X, XOR_Y

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def moons(n=60, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, np.pi, n)
    labels = np.arange(n) % 2
    X = np.column_stack([np.cos(t) + labels, np.sin(t) * (1 - 2 * labels)
                         + 0.5 * labels])
    return X + rng.normal(0, 0.1, X.shape), labels


def test_import_swiftprop_does_not_import_matplotlib():
    code = ("import sys, swiftprop, swiftprop.plot, swiftprop.explain; "
            "print('matplotlib' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == "False"


def test_decision_boundary_classes_equal_predict_classes():
    X, labels = moons()
    net = sp.Network([2, 8, 2], activation="tanh", loss="cross_entropy",
                     seed=0)
    net.fit(X, labels, epochs=200, lr=0.05, optimizer="adam")
    display = sp.plot.decision_boundary(net, X, labels, resolution=40)
    assert display.response == "class"
    assert display.xx.shape == display.yy.shape == display.Z.shape == (40, 40)
    grid = np.column_stack([display.xx.ravel(), display.yy.ravel()])
    np.testing.assert_array_equal(display.grid, grid)
    np.testing.assert_array_equal(display.Z.ravel(),
                                  np.argmax(net.predict(grid), axis=1))
    assert set(np.unique(display.Z)) == {0, 1}  # the boundary is in view
    # The grid spans the samples plus the margin.
    assert display.xx.min() == pytest.approx(X[:, 0].min() - 0.5)
    assert display.yy.max() == pytest.approx(X[:, 1].max() + 0.5)
    assert display.figure_ is display.ax.figure
    # The samples are drawn on top, coloured by label.
    points = display.ax.collections[-1]
    np.testing.assert_allclose(points.get_offsets(), X)


def test_decision_boundary_probability_and_output():
    net = sp.Network([2, 4, 1], activation="tanh", loss="binary_cross_entropy",
                     seed=1)
    fig, ax = plt.subplots()
    display = sp.plot.decision_boundary(net, XOR_X, XOR_Y, ax=ax,
                                        response="probability", resolution=25)
    assert display.ax is ax
    grid = display.grid
    # The grid spans X plus the margin, evenly.
    np.testing.assert_allclose(display.xx[0], np.linspace(-0.5, 1.5, 25))
    np.testing.assert_allclose(display.yy[:, 0], np.linspace(-0.5, 1.5, 25))
    np.testing.assert_allclose(display.Z.ravel(), net.predict(grid)[:, 0],
                               rtol=0, atol=0)

    regression = sp.Network([2, 5, 1], activation="relu",
                            output_activation="identity", seed=2)
    display = sp.plot.decision_boundary(regression, XOR_X, [0, 1, 2, 3],
                                        resolution=10)
    assert display.response == "output"
    np.testing.assert_array_equal(display.Z.ravel(),
                                  regression.predict(display.grid)[:, 0])

    two = sp.Network([2, 3, 2], loss="cross_entropy", seed=3)
    display = sp.plot.decision_boundary(two, XOR_X, [0, 1, 1, 0],
                                        response="probability", resolution=10)
    np.testing.assert_array_equal(display.Z.ravel(),
                                  two.predict(display.grid)[:, 1])

    softmax = sp.Network([2, 3, 3], loss="cross_entropy", seed=3)
    display = sp.plot.decision_boundary(softmax, XOR_X,
                                        np.eye(3)[[0, 1, 2, 0]],
                                        response="probability", resolution=10)
    np.testing.assert_array_equal(display.Z.ravel(),
                                  softmax.predict(display.grid).max(axis=1))


@pytest.mark.parametrize("make, X, y, options, error, words", [
    (lambda: sp.Network([2, 3, 1]), np.zeros((4, 3)), None, {},
     ValueError, "X must have shape \\(n_samples, 2\\)"),
    (lambda: sp.Network([2, 3, 1]), np.zeros((4, 2, 2)), None, {},
     ValueError, "got shape \\(4, 2, 2\\)"),
    (lambda: sp.Network([3, 3, 1]), np.zeros((4, 3)), None, {},
     ValueError, "2 inputs, but net has 3"),
    (lambda: sp.Network([2, 3, 1]), XOR_X, [0, 1, 0], {},
     ValueError, "y must have 4 rows"),
    (lambda: sp.Network([2, 3, 1]), XOR_X, None, {"response": "margin"},
     ValueError, "unknown response 'margin'"),
    (lambda: sp.Network([2, 3, 1], output_activation="identity"), XOR_X,
     None, {"response": "class"}, ValueError, "use predict for regression"),
    (lambda: sp.Network([2, 3, 2]), XOR_X, None, {"response": "output"},
     ValueError, "response='output' needs a network with one output"),
    (lambda: sp.Network([2, 3, 1]), XOR_X, None, {"resolution": 1},
     ValueError, "resolution must be >= 2"),
    (lambda: sp.Network([2, 3, 1]), [["a", "b"]], None, {},
     TypeError, "X must be a numeric array"),
    (lambda: sp.Network([2, 3, 1]), XOR_X, None, {"ax": "here"},
     TypeError, "ax must be a matplotlib Axes"),
])
def test_decision_boundary_bad_arguments(make, X, y, options, error, words):
    with pytest.raises(error, match=words):
        sp.plot.decision_boundary(make(), X, y, **options)


def test_gradient_norms_plots_every_layer_on_a_log_scale():
    net = sp.Network([2, 4, 3, 1], activation="sigmoid", seed=0)
    history = net.fit(XOR_X, XOR_Y, epochs=30, lr=0.5)
    ax = sp.plot.gradient_norms(history)
    assert ax.get_yscale() == "log"
    assert len(ax.lines) == 3
    for layer, line in enumerate(ax.lines):
        np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 31))
        np.testing.assert_array_equal(line.get_ydata(),
                                      history.grad_norms[:, layer])
        assert line.get_label() == f"layer {layer + 1}"
    with pytest.raises(ValueError, match="labels has 1 names"):
        sp.plot.gradient_norms(history, labels=["only"])
    with pytest.raises(TypeError, match="needs the History"):
        sp.plot.gradient_norms([1.0, 2.0])
    with pytest.raises(ValueError, match="history is empty"):
        sp.plot.gradient_norms(sp.History())


def test_loss_plots_the_history():
    net = sp.Network([2, 4, 1], seed=0)
    history = net.fit(XOR_X, XOR_Y, epochs=20, lr=0.5,
                      validation_data=(XOR_X, XOR_Y))
    ax = sp.plot.loss(history, log=True)
    assert ax.get_yscale() == "log"
    assert [line.get_label() for line in ax.lines] == ["loss", "val_loss"]
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), history.loss)


def test_network_draws_a_line_per_weight_and_a_circle_per_neuron():
    net = sp.Network([3, 5, 4, 2], activation="relu", seed=0)
    weights = net.weights
    ax = sp.plot.network(net)
    collections = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert [len(c.get_segments()) for c in collections] == [15, 20, 8]
    neurons = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [len(c.get_offsets()) for c in neurons] == [3, 5, 4, 2]
    # Each weight's line joins its two neurons.
    W1 = collections[0].get_segments()
    np.testing.assert_allclose(W1[1 * 5 + 2][0], neurons[0].get_offsets()[1])
    np.testing.assert_allclose(W1[1 * 5 + 2][1], neurons[1].get_offsets()[2])
    for (W, _), lines in zip(weights, collections):
        # Colour by sign, in the order W[i, j] row by row; width by |w|.
        colours = lines.get_colors()
        blue = matplotlib.colors.to_rgba(sp.plot.POSITIVE_COLOUR)
        red = matplotlib.colors.to_rgba(sp.plot.NEGATIVE_COLOUR)
        expected = [blue if w >= 0 else red for w in W.ravel()]
        np.testing.assert_allclose(colours, expected)
        widths = lines.get_linewidths()
        order = np.argsort(np.abs(W.ravel()))
        assert np.all(np.diff(np.asarray(widths)[order]) >= 0)
    with pytest.raises(ValueError, match="more than max_neurons=32"):
        sp.plot.network(sp.Network([40, 2]))

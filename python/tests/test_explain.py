"""``Network.explain`` against an independent computation.

For every hidden activation, output activation and loss the package
accepts (found by asking ``build_architecture``, so a new activation or loss
is tested without editing this file), the trace's forward pass, loss,
deltas, gradients and input gradient equal ``sp.reference``'s to 1e-12 in
float64, and its new weights equal those after one ``train_step``. Then the
text and HTML renderings, bad arguments and ``predict_classes``.
"""

import copy
import html.parser
import itertools

import numpy as np
import pytest

import swiftprop as sp
from swiftprop._codes import ACTIVATIONS, LOSSES, OUTPUT_ACTIVATION_FOR_LOSS
from swiftprop.layers import build_architecture

from swiftprop.layers import OUTPUT_ONLY_ACTIVATIONS

from conftest import (HIDDEN_ACTIVATIONS, OUTPUT_LOSS_PAIRS, XOR_X, XOR_Y,
                      random_data)

TOL = 1e-12
SIZES = [3, 4, 5, 3]


def allowed_combinations():
    """Every (hidden activation, output activation, loss) that
    ``Network`` accepts for a network of ``SIZES``."""
    combos = []
    for hidden, output, loss in itertools.product(ACTIVATIONS, ACTIVATIONS,
                                                  LOSSES):
        try:
            build_architecture(SIZES, hidden, output, loss)
        except ValueError:
            continue
        combos.append((hidden, output, loss))
    return combos


COMBINATIONS = allowed_combinations()


def test_the_combinations_cover_every_name():
    # Every hidden activation (softmax and exp are output-only) times every
    # output activation and loss pair; and every activation and loss
    # appears somewhere.
    assert len(COMBINATIONS) == len(HIDDEN_ACTIVATIONS) * len(
        OUTPUT_LOSS_PAIRS)
    assert {c[0] for c in COMBINATIONS} == (set(ACTIVATIONS)
                                            - OUTPUT_ONLY_ACTIVATIONS)
    assert {c[1] for c in COMBINATIONS} == set(ACTIVATIONS)
    assert {c[2] for c in COMBINATIONS} == set(LOSSES)


def close(actual, expected, what):
    np.testing.assert_allclose(actual, expected, rtol=TOL, atol=TOL,
                               err_msg=what)


@pytest.mark.parametrize("hidden, output, loss", COMBINATIONS)
def test_trace_equals_the_reference(hidden, output, loss):
    seed = 7 + len(hidden) * 31 + len(output) * 7 + len(loss)
    net = sp.Network(SIZES, activation=hidden, output_activation=output,
                     loss=loss, seed=seed)
    X, y = random_data(loss, 6, SIZES[0], SIZES[-1], seed=seed)
    before = net.weights
    trace = net.explain(X, y, lr=0.3)

    reference = sp.reference.Network(SIZES, activation=hidden,
                                     output_activation=output, loss=loss)
    reference.set_weights(before)
    zs, activations = reference.forward(X)
    backward = reference.backward(X, y)
    gradients = reference.gradients(X, y)

    assert len(trace.layers) == len(SIZES) - 1
    close(trace.X, X, "X")
    close(trace.loss, backward["loss"], "loss")
    close(trace.loss, reference.loss(X, y), "loss")
    close(trace.dX, backward["dX"], "dX")
    for l, layer in enumerate(trace.layers):
        assert layer.number == l + 1
        assert layer.activation == net.layers[l].activation
        close(layer.W, before[l][0], f"W{l + 1}")
        close(layer.b, before[l][1], f"b{l + 1}")
        close(layer.a_in, activations[l], f"a{l}")
        close(layer.z, zs[l], f"z{l + 1}")
        close(layer.a, activations[l + 1], f"a{l + 1}")
        close(layer.delta, backward["deltas"][l], f"delta{l + 1}")
        close(layer.dW, gradients[l][0], f"dW{l + 1}")
        close(layer.db, gradients[l][1], f"db{l + 1}")
        # The update by hand from the reference's gradients.
        close(layer.W_new, before[l][0] - 0.3 * gradients[l][0],
              f"W{l + 1} new")
        close(layer.b_new, before[l][1] - 0.3 * gradients[l][1],
              f"b{l + 1} new")

    # The reference's own step, and the engine's: the latter bit for bit.
    reference.train_step(X, y, lr=0.3)
    engine = copy.deepcopy(net)
    engine.train_step(X, y, lr=0.3)
    for l, layer in enumerate(trace.layers):
        close(layer.W_new, reference.weights[l][0], f"W{l + 1} new")
        close(layer.b_new, reference.weights[l][1], f"b{l + 1} new")
        np.testing.assert_array_equal(layer.W_new, engine.weights[l][0])
        np.testing.assert_array_equal(layer.b_new, engine.weights[l][1])

    # explain left the network as it was.
    for (W, b), (W0, b0) in zip(net.weights, before):
        np.testing.assert_array_equal(W, W0)
        np.testing.assert_array_equal(b, b0)


@pytest.mark.parametrize("hidden, output, loss", COMBINATIONS)
def test_chain_rule_factors_multiply_to_delta(hidden, output, loss):
    net = sp.Network(SIZES, activation=hidden, output_activation=output,
                     loss=loss, seed=3)
    X, y = random_data(loss, 5, SIZES[0], SIZES[-1], seed=4)
    trace = net.explain(X, y, lr=0.1)
    Y = trace.y
    n, k = Y.shape
    for l, layer in enumerate(trace.layers):
        W_next = trace.layers[l + 1].W if l + 1 < len(trace.layers) else None
        if W_next is not None:
            # Hidden layer: dL/da from the next delta and W^T, then f'.
            close(layer.grad_a, trace.layers[l + 1].delta @ W_next.T,
                  "grad_a")
            close(layer.grad_a * layer.f_prime, layer.delta, "delta")
        elif loss not in OUTPUT_ACTIVATION_FOR_LOSS:
            # Not fused with its output activation: dL/da, then f' (or the
            # softmax's Jacobian).
            if loss == "mse":
                close(layer.grad_a, 2 * (layer.a - Y) / (n * k), "grad_a")
            else:
                close(layer.grad_a, sp.reference.OUTPUT_DELTAS[loss](
                    layer.z, layer.a, Y, "identity"), "grad_a")
            if output == "softmax":
                g, a = layer.grad_a, layer.a
                expected = a * (g - np.sum(g * a, axis=1, keepdims=True))
                assert layer.f_prime is None
            else:
                expected = layer.grad_a * layer.f_prime
            close(expected, layer.delta, "delta")
        else:
            assert layer.grad_a is None and layer.f_prime is None
            divisor = n if loss == "cross_entropy" else n * k
            close((layer.a - Y) / divisor, layer.delta, "delta")


def test_l2_and_earlier_momentum():
    net = sp.Network([2, 3, 1], activation="tanh", seed=1)
    # Two momentum steps leave a velocity that explain must ignore.
    net.train_step(XOR_X, XOR_Y, lr=0.1, momentum=0.9)
    net.train_step(XOR_X, XOR_Y, lr=0.1, momentum=0.9)
    reference = sp.reference.Network([2, 3, 1], activation="tanh")
    reference.set_weights(net.weights)
    trace = net.explain(XOR_X, XOR_Y, lr=0.2, l2=0.05)
    reference.train_step(XOR_X, XOR_Y, lr=0.2, l2=0.05)
    for layer, (W, b) in zip(trace.layers, reference.weights):
        close(layer.W_new, W, "W new")
        close(layer.W_new, layer.W - 0.2 * (layer.dW + 0.05 * layer.W),
              "W new")
        close(layer.b_new, layer.b - 0.2 * layer.db, "b new")  # no decay
    assert "(dW1 + 0.05 * W1)" in str(trace)


def test_default_lr_is_train_steps():
    net = sp.Network([2, 2, 1], seed=2)
    trace = net.explain(XOR_X, XOR_Y)
    assert trace.lr == sp.SGD().lr
    close(trace.layers[0].W_new, trace.layers[0].W - 0.01 * trace.layers[0].dW,
          "W new")


def test_float32_network_matches_its_own_step():
    net = sp.Network([2, 3, 2], activation="relu", loss="cross_entropy",
                     dtype="float32", seed=5)
    y = np.array([0, 1, 1, 0])
    trace = net.explain(XOR_X, y, lr=0.5)
    stepped = copy.deepcopy(net)
    stepped.train_step(XOR_X, y, lr=0.5)
    for layer, (W, b) in zip(trace.layers, stepped.weights):
        assert layer.W_new.dtype == np.float32
        np.testing.assert_array_equal(layer.W_new, W)
        np.testing.assert_array_equal(layer.b_new, b)
    # Class labels become one-hot targets.
    np.testing.assert_array_equal(trace.y, np.eye(2)[y])


def test_reference_networks_can_be_explained_too():
    net = sp.Network([2, 3, 1], activation="sigmoid", seed=9)
    reference = sp.reference.Network([2, 3, 1], activation="sigmoid")
    reference.set_weights(net.weights)
    ours = net.explain(XOR_X, XOR_Y, lr=1.0)
    theirs = sp.explain.explain(reference, XOR_X, XOR_Y, lr=1.0)
    for a, b in zip(ours.layers, theirs.layers):
        close(a.delta, b.delta, "delta")
        close(a.W_new, b.W_new, "W new")


# MARK: - Text and HTML


class _TagCounter(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.open, self.closed = {}, {}

    def handle_starttag(self, tag, attrs):
        self.open[tag] = self.open.get(tag, 0) + 1

    def handle_endtag(self, tag):
        self.closed[tag] = self.closed.get(tag, 0) + 1


def test_text_names_every_step_with_shapes():
    net = sp.Network([2, 3, 1], activation="sigmoid", seed=0)
    trace = net.explain(XOR_X, XOR_Y, lr=0.025)
    text = str(trace)
    assert repr(trace) == text
    for name in ["a0 = X    [(4, 2)]", "y    [(4, 1)]",
                 "z1 = a0 @ W1 + b1", "a1 = sigmoid(z1)", "z2 = a1 @ W2 + b2",
                 "f'(z1) = sigmoid'(z1) = a1 (1 - a1)",
                 "L = mse", "delta2 = dL/da2 * f'(z2)",
                 "delta1 = dL/da1 * f'(z1) = (delta2 @ W2.T) * sigmoid'(z1)",
                 "dW2 = a1.T @ delta2", "dW1 = a0.T @ delta1",
                 "db1 = sum of delta1", "dX = delta1 @ W1.T",
                 "W1 new = W1 - 0.025 * dW1", "b2 new = b2 - 0.025 * db2",
                 "[(4, 2) @ (2, 3) + (3,) -> (4, 3)]",
                 "[(3, 4) @ (4, 1) -> (3, 1)]"]:
        assert name in text, name
    # Stages in order, and the loss's digits.
    positions = [text.index(title) for title in
                 ("Forward pass", "Loss", "Backward pass", "Update")]
    assert positions == sorted(positions)
    assert f"{trace.loss:.8g}" in text
    # Values are printed: W1 (of order one) to 4 decimals, dW1 (all below
    # 1e-2 here) with 4 digits in scientific notation.
    assert np.abs(trace.layers[0].dW).max() < 1e-2
    assert f"{trace.layers[0].W[0, 0]:.4f}" in text
    assert f"{trace.layers[0].dW[0, 0]:.4e}" in text


def test_html_has_a_table_per_stage():
    net = sp.Network([2, 3, 2], activation="relu", loss="cross_entropy",
                     seed=0)
    trace = net.explain(XOR_X, [0, 1, 1, 0], lr=0.1)
    page = trace._repr_html_()
    for stage in ("forward", "loss", "backward", "update"):
        assert f"class='swiftprop-explain-{stage}'" in page
    counter = _TagCounter()
    counter.feed(page)
    assert counter.open == counter.closed
    assert counter.open["table"] == 4
    # One row per (stage, name) row of the trace, plus four header rows.
    assert counter.open["tr"] == len(trace.rows()) + 4
    assert "delta1" in page
    assert "(4, 2) @ (2, 3) + (3,) -&gt; (4, 3)" in page  # escaped
    assert "relu&#x27;(z1) = 1 where z1 &gt; 0, else 0" in page


def test_small_gradients_print_in_scientific_notation():
    net = sp.Network([2, 2, 1], activation="identity", seed=0)
    target = net.predict(XOR_X) - 1e-6  # almost fitted: tiny gradients
    trace = net.explain(XOR_X, target, lr=0.1)
    text = str(trace)
    assert np.abs(trace.layers[1].dW).max() < 1e-4
    dW2 = text[text.index("dW2 = "):text.index("db2 = ")]
    assert "e-0" in dW2
    db2 = text[text.index("db2 = "):text.index("dL/da1 = ")]
    assert f"{trace.layers[1].db[0]:.4e}" in db2
    W1 = text[text.index("W1 = "):text.index("b1 = ")]
    assert "e-0" not in W1 and "e+" not in W1


def test_big_batches_are_summarised_in_text():
    net = sp.Network([2, 3, 1], seed=0)
    X = np.random.default_rng(0).uniform(size=(500, 2))
    trace = net.explain(X, X[:, :1], lr=0.1)
    assert "..." in str(trace)
    assert trace.layers[0].z.shape == (500, 3)  # the arrays are whole
    assert len(str(trace)) < 20000


# MARK: - Bad arguments


@pytest.mark.parametrize("X, y, options, error, words", [
    (np.zeros((4, 3)), XOR_Y, {}, ValueError, "X has 3 features"),
    (np.zeros((4, 2, 1)), XOR_Y, {}, ValueError, "X must be a 2-D"),
    (XOR_X, np.zeros((3, 1)), {}, ValueError, "y has 3 samples"),
    (XOR_X, np.zeros((4, 2)), {}, ValueError, "y has 2 columns"),
    (XOR_X, XOR_Y, {"lr": -1.0}, ValueError, "lr must be > 0"),
    (XOR_X, XOR_Y, {"lr": "big"}, TypeError, "lr must be a real number"),
    (XOR_X, XOR_Y, {"l2": -1.0}, ValueError, "l2 must be >= 0"),
    (XOR_X, XOR_Y, {"precision": 40}, ValueError, "precision"),
    (np.array([[0, np.nan]]), [[0]], {}, ValueError, "X contains NaN"),
])
def test_bad_arguments_name_themselves(X, y, options, error, words):
    net = sp.Network([2, 2, 1], seed=0)
    with pytest.raises(error, match=words):
        net.explain(X, y, **options)


# MARK: - predict_classes


def test_predict_classes_argmax_for_several_outputs():
    net = sp.Network([2, 4, 3], activation="tanh", loss="cross_entropy",
                     seed=0)
    X = np.random.default_rng(1).uniform(-2, 2, (50, 2))
    classes = net.predict_classes(X)
    assert classes.shape == (50,) and classes.dtype.kind == "i"
    np.testing.assert_array_equal(classes, np.argmax(net.predict(X), axis=1))
    assert len(set(classes.tolist())) > 1  # not a constant by accident


@pytest.mark.parametrize("loss", ["mse", "binary_cross_entropy"])
def test_predict_classes_threshold_for_one_sigmoid_output(loss):
    net = sp.Network([2, 4, 1], activation="sigmoid",
                     output_activation="sigmoid", loss=loss, seed=0)
    net.fit(XOR_X, XOR_Y, epochs=2000, lr=0.1, optimizer="adam")
    np.testing.assert_array_equal(net.predict_classes(XOR_X), [0, 1, 1, 0])
    # Exactly 0.5 counts as class 1.
    net.set_weights([(np.zeros((2, 4)), np.zeros(4)),
                     (np.zeros((4, 1)), np.zeros(1))])
    np.testing.assert_array_equal(net.predict_classes(XOR_X), [1, 1, 1, 1])


def test_predict_classes_refuses_a_regression():
    net = sp.Network([2, 3, 1], activation="tanh",
                     output_activation="identity",
                     seed=0)
    with pytest.raises(ValueError, match="one 'identity' output"):
        net.predict_classes(XOR_X)
    with pytest.raises(ValueError, match="X has 3 features"):
        sp.Network([2, 2], loss="cross_entropy").predict_classes(
            np.zeros((1, 3)))


def test_a_step_that_overflows_raises_as_train_step_does():
    net = sp.Network([2, 2, 1], activation="identity", seed=0)
    before = net.weights
    with pytest.raises(FloatingPointError, match="NaN or infinite"):
        net.explain([[1e200, 1e200]], [[0.0]], lr=1.0)
    for (W, b), (W0, b0) in zip(net.weights, before):
        np.testing.assert_array_equal(W, W0)

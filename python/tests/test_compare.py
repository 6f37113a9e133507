"""``swiftprop.compare``: the differences between two networks."""

import numpy as np
import pytest

import swiftprop as sp
from swiftprop import reference
from swiftprop.compare import Comparison, Difference, compare

from conftest import random_data

SIZES = [4, 6, 3]
SETTINGS = dict(activation="tanh", output_activation="softmax",
                loss="cross_entropy")


@pytest.fixture
def data():
    return random_data("cross_entropy", 20, SIZES[0], SIZES[-1], seed=4)


@pytest.mark.parametrize("net_class", [sp.Network, reference.Network])
def test_identical_networks_differ_by_nothing(net_class, data):
    X, y = data
    net = net_class(SIZES, **SETTINGS, seed=5)
    for other in (net, net_class(SIZES, **SETTINGS, seed=5)):
        result = compare(net, other, X, y)
        assert isinstance(result, Comparison)
        for row in result.rows:
            assert (row.max_abs, row.max_rel) == (0.0, 0.0), row.quantity
        assert result.max_abs == result.max_rel == 0.0
        assert result.loss_a == result.loss_b
        assert result.within(0.0)


def test_engine_and_reference_agree_after_training(data):
    X, y = data
    engine = sp.Network(SIZES, **SETTINGS, seed=5)
    numpy_twin = reference.Network(SIZES, **SETTINGS, seed=5)
    for net in (engine, numpy_twin):
        net.fit(X, y, epochs=30, batch_size=8, optimizer="adam", lr=0.01)
    result = compare(engine, numpy_twin, X, y)
    assert result.max_rel < 1e-10
    assert result.max_abs < 1e-10
    assert result.within(1e-10)
    assert result.name_a == "swiftprop.Network"
    assert result.name_b == "swiftprop.reference.Network"
    assert result.n_samples == 20


def test_different_seeds_differ_widely(data):
    X, y = data
    result = compare(sp.Network(SIZES, **SETTINGS, seed=1),
                     reference.Network(SIZES, **SETTINGS, seed=2), X, y)
    assert result.weights.max_abs > 0.1
    assert result.weights.max_rel > 0.1
    assert result.outputs.max_abs > 1e-3
    assert result.gradients.max_rel > 1e-2
    assert not result.within(1e-3)


def test_relative_difference_is_scaled_by_the_largest_value():
    net_a = reference.Network([1, 1], activation="identity", seed=0)
    net_b = reference.Network([1, 1], activation="identity", seed=0)
    net_a.set_weights([([[2.0]], [0.0])])
    net_b.set_weights([([[2.5]], [0.0])])
    result = compare(net_a, net_b, [[1.0]], [[0.0]])
    assert result.weights == Difference("weights", 0.5, 0.5 / 2.5)
    assert result.outputs.max_abs == pytest.approx(0.5)
    assert result.loss.max_abs == pytest.approx(2.5**2 - 2.0**2)


def test_table_text_and_html(data):
    X, y = data
    result = compare(sp.Network(SIZES, **SETTINGS, seed=5),
                     reference.Network(SIZES, **SETTINGS, seed=5), X, y)
    text = str(result)
    assert repr(result) == text
    lines = text.splitlines()
    assert "swiftprop.Network vs swiftprop.reference.Network" in lines[0]
    for quantity in ("outputs", "loss", "gradients", "weights"):
        assert any(line.startswith(quantity) for line in lines), text
    html = result._repr_html_()
    assert html.startswith("<table>") and html.endswith("</table>")
    assert html.count("<tr>") == 5


def test_networks_of_different_shapes_are_refused(data):
    X, y = data
    with pytest.raises(ValueError, match="different parameter shapes"):
        compare(sp.Network(SIZES, **SETTINGS, seed=5),
                sp.Network([4, 5, 3], **SETTINGS, seed=5), X, y)


def test_float32_against_float64(data):
    X, y = data
    single = sp.Network(SIZES, **SETTINGS, dtype="float32", seed=5)
    double = reference.Network(SIZES, **SETTINGS, seed=5)
    result = compare(single, double, X, y)
    assert 0 < result.max_rel < 1e-4
    assert np.isfinite(result.max_abs)

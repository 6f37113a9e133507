"""Dropout: the engine against its NumPy twin (``sp.reference``) to 1e-10 in
float64, reproducibility from the seed, inference that never drops, the
masks' keep rate, the effect on over-fitting, and the rates as part of the
architecture (checks, saving, copying, display, torch)."""

import copy
import math
import pickle

import numpy as np
import pytest

import swiftprop as sp
from swiftprop import _engine, reference

TOL = 1e-10


def data(n=40, inputs=4, outputs=3, seed=0, loss="mse"):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, inputs))
    if loss == "cross_entropy":
        return X, rng.integers(0, outputs, size=n)
    if loss == "binary_cross_entropy":
        return X, (rng.uniform(size=(n, outputs)) > 0.5).astype(float)
    return X, rng.normal(size=(n, outputs))


def pair(layers, **kwargs):
    kwargs.setdefault("seed", 5)
    return sp.Network(layers, **kwargs), reference.Network(layers, **kwargs)


def largest_difference(a, b):
    return max(float(np.max(np.abs(x - y)))
               for pa, pb in zip(a.weights, b.weights)
               for x, y in zip(pa, pb))


# The engine against the twin


SETUPS = [
    dict(loss="mse", activation="tanh"),
    dict(loss="huber", activation="relu"),
    dict(loss="binary_cross_entropy", activation="sigmoid"),
    dict(loss="cross_entropy", activation="elu"),
    dict(loss="cross_entropy", activation="leaky_relu"),
]


@pytest.mark.parametrize("setup", SETUPS,
                         ids=[s["loss"] + "-" + s["activation"]
                              for s in SETUPS])
@pytest.mark.parametrize("batch_size", [8, None], ids=["minibatch", "full"])
@pytest.mark.parametrize("weighted", [False, True],
                         ids=["unweighted", "weighted"])
def test_fit_agrees_with_reference(setup, batch_size, weighted):
    X, y = data(loss=setup["loss"])
    w = (np.random.default_rng(1).uniform(0, 2, size=len(X)) if weighted
         else None)
    engine, twin = pair([4, 12, 9, 3], dropout=[0.3, 0.5], **setup)
    kwargs = dict(epochs=50, lr=0.05, batch_size=batch_size,
                  sample_weight=w, metrics=["accuracy"]
                  if "cross" in setup["loss"] else None)
    he = engine.fit(X, y, **kwargs)
    ht = twin.fit(X, y, **kwargs)
    assert largest_difference(engine, twin) < TOL
    np.testing.assert_allclose(he.loss, ht.loss, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(he.grad_norms, ht.grad_norms,
                               rtol=1e-9, atol=TOL)
    assert _engine.get_generator(engine._handle) == twin._generator.state


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_optimizers_and_one_dropped_layer_agree(optimizer):
    # Rates per layer, one of them 0: only the other draws masks.
    X, y = data(n=30, loss="mse")
    layers = [sp.Dense(4, 10, "relu", dropout=0.0),
              sp.Dense(10, 7, "tanh", dropout=0.25), sp.Dense(7, 3)]
    engine, twin = pair(layers)
    kwargs = dict(epochs=50, lr=0.01, batch_size=7, optimizer=optimizer,
                  validation_data=data(n=11, seed=4))
    he, ht = engine.fit(X, y, **kwargs), twin.fit(X, y, **kwargs)
    assert largest_difference(engine, twin) < TOL
    np.testing.assert_allclose(he.val_loss, ht.val_loss, rtol=TOL, atol=TOL)


def test_train_step_agrees_with_reference():
    X, y = data(n=16, loss="binary_cross_entropy")
    engine, twin = pair([4, 20, 3], loss="binary_cross_entropy",
                        activation="relu", dropout=0.6)
    for _ in range(10):
        le = engine.train_step(X, y, lr=0.1, momentum=0.9)
        lt = twin.train_step(X, y, lr=0.1, momentum=0.9)
        assert abs(le - lt) < TOL
    assert largest_difference(engine, twin) < TOL


def test_float32_fit_agrees_with_reference():
    # The same masks in float32: agreement to float32 rounding.
    X, y = data(n=24, loss="mse")
    engine, twin = pair([4, 16, 3], activation="tanh", dropout=0.4,
                        dtype="float32")
    engine.fit(X, y, epochs=20, lr=0.05, batch_size=6)
    twin.fit(X, y, epochs=20, lr=0.05, batch_size=6)
    assert largest_difference(engine, twin) < 1e-4


# Reproducibility and inference


def fitted(seed, dropout=0.5, epochs=30):
    X, y = data(n=50, loss="cross_entropy")
    network = sp.Network([4, 32, 32, 3], activation="relu",
                         loss="cross_entropy", seed=seed, dropout=dropout)
    network.fit(X, y, epochs=epochs, lr=0.05, batch_size=10)
    return network


def test_same_seed_gives_bit_identical_weights():
    a, b = fitted(7), fitted(7)
    for (Wa, ba), (Wb, bb) in zip(a.weights, b.weights):
        assert np.array_equal(Wa, Wb) and np.array_equal(ba, bb)


def test_different_seeds_differ():
    a, b = fitted(7), fitted(8)
    assert largest_difference(a, b) > 1e-3


def test_masks_differ_from_a_fit_without_dropout():
    # Same seed, same start: only the masks differ.
    assert largest_difference(fitted(7), fitted(7, dropout=0.0)) > 1e-3


def test_zero_rates_change_nothing():
    X, y = data(n=30, loss="mse")
    a = sp.Network([4, 8, 3], seed=2, dropout=0.0)
    b = sp.Network([4, 8, 3], seed=2)
    ha = a.fit(X, y, epochs=20, lr=0.1, batch_size=4)
    hb = b.fit(X, y, epochs=20, lr=0.1, batch_size=4)
    assert np.array_equal(ha.loss, hb.loss)
    for (Wa, _), (Wb, _) in zip(a.weights, b.weights):
        assert np.array_equal(Wa, Wb)


def test_inference_never_drops():
    network = fitted(3)
    X, y = data(n=25, seed=9, loss="cross_entropy")
    plain = sp.Network([4, 32, 32, 3], activation="relu",
                       loss="cross_entropy", seed=0)
    plain.set_weights(network.weights)
    state = _engine.get_generator(network._handle)
    first = network.predict(X)
    assert np.array_equal(first, network.predict(X))
    assert np.array_equal(first, plain.predict(X))
    assert network.loss(X, y) == plain.loss(X, y)
    for (dWa, dba), (dWb, dbb) in zip(network.gradients(X, y),
                                      plain.gradients(X, y)):
        assert np.array_equal(dWa, dWb) and np.array_equal(dba, dbb)
    za, aa = network.forward(X)
    zb, ab = plain.forward(X)
    assert all(np.array_equal(p, q) for p, q in zip(za + aa, zb + ab))
    ba, bb = network.backward(X, y), plain.backward(X, y)
    assert np.array_equal(ba["dX"], bb["dX"])
    trace_a = network.explain(X[:4], y[:4], lr=0.1)
    trace_b = plain.explain(X[:4], y[:4], lr=0.1)
    for la, lb in zip(trace_a.layers, trace_b.layers):
        assert np.array_equal(la.W_new, lb.W_new)
    small = sp.Network([2, 3, 1], seed=1, dropout=0.5)
    small_plain = sp.Network([2, 3, 1], seed=1)
    Xs, ys = X[:5, :2], X[:5, 2:3]
    for (na, _), (nb, _) in zip(small.numerical_gradients(Xs, ys),
                                small_plain.numerical_gradients(Xs, ys)):
        assert np.array_equal(na, nb)
    # None of them drew from the generator.
    assert _engine.get_generator(network._handle) == state


def test_keep_fraction_is_one_minus_rate():
    # One hidden identity layer whose activations are all 1 (W1 = 1,
    # b1 = 0, x = 1) and an output of zero weights with targets -1: the
    # output layer's dW is (2/n) times the sum over rows of the dropped
    # activations m / (1 - p), so the number of kept units is read off it.
    n, units = 200, 50
    X = np.ones((n, 1))
    y = -np.ones((n, 1))
    for p in (0.1, 0.5, 0.9):
        network = sp.Network([1, units, 1], activation="identity",
                             output_activation="identity", seed=11,
                             dropout=p)
        network.set_weights([(np.ones((1, units)), np.zeros(units)),
                             (np.zeros((units, 1)), np.zeros(1))])
        network.train_step(X, y, lr=1.0)
        step = -network.weights[1][0][:, 0]  # lr * dW of the output layer
        kept = float(np.sum(step)) * n * (1 - p) / 2
        assert abs(kept - round(kept)) < 1e-6
        draws = n * units
        # Five binomial standard deviations around draws * (1 - p).
        bound = 5 * math.sqrt(draws * p * (1 - p))
        assert abs(kept - draws * (1 - p)) < bound, (p, kept / draws)


def test_lbfgs_refuses_dropout():
    X, y = data(n=10, loss="mse")
    for network in pair([4, 5, 3], dropout=0.2):
        with pytest.raises(ValueError, match="dropout"):
            network.fit(X, y, optimizer="lbfgs", epochs=5)


# Over-fitting


def overfitting_gap(rate):
    """Train and test loss of a wide network on 30 noisy samples of a
    smooth function of 5 inputs: (train mse, test mse)."""
    rng = np.random.default_rng(0)

    def sample(n):
        X = rng.uniform(-1, 1, size=(n, 5))
        return X, np.sin(2 * X[:, :1]) + 0.3 * rng.normal(size=(n, 1))

    X, y = sample(30)
    X_test, y_test = sample(2000)
    network = sp.Network([5, 200, 200, 1], activation="relu",
                         output_activation="identity", seed=1, dropout=rate)
    network.fit(X, y, epochs=1500, optimizer="adam", lr=1e-3, batch_size=30)
    return network.loss(X, y), network.loss(X_test, y_test)


def test_dropout_reduces_the_train_test_gap():
    train_plain, test_plain = overfitting_gap(0.0)
    train_drop, test_drop = overfitting_gap(0.5)
    print(f"no dropout: train {train_plain:.4f}, test {test_plain:.4f}, "
          f"gap {test_plain - train_plain:.4f}; dropout 0.5: train "
          f"{train_drop:.4f}, test {test_drop:.4f}, gap "
          f"{test_drop - train_drop:.4f}")
    assert test_drop - train_drop < test_plain - train_plain


# Checks


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5, float("nan"),
                                  float("inf")])
def test_bad_rates_are_refused_by_name(rate):
    with pytest.raises(ValueError, match="dropout"):
        sp.Dense(3, 4, "relu", dropout=rate)
    with pytest.raises(ValueError, match="dropout"):
        sp.Network([3, 4, 1], dropout=rate)
    with pytest.raises(ValueError, match=r"dropout\[1\]"):
        sp.Network([3, 4, 4, 1], dropout=[0.1, rate])


def test_bad_dropout_arguments():
    with pytest.raises(TypeError, match="dropout"):
        sp.Network([3, 4, 1], dropout="0.5")
    with pytest.raises(TypeError, match="dropout"):
        sp.Dense(3, 4, dropout=True)
    with pytest.raises(ValueError, match="2 hidden layers"):
        sp.Network([3, 4, 4, 1], dropout=[0.1])
    with pytest.raises(ValueError, match="output layer"):
        sp.Network([sp.Dense(3, 4, "relu"), sp.Dense(4, 1, dropout=0.2)])
    with pytest.raises(ValueError, match="not both"):
        sp.Network([sp.Dense(3, 4, "relu", dropout=0.1), sp.Dense(4, 1)],
                   dropout=0.2)
    with pytest.raises(ValueError, match="output layer"):
        reference.Network([sp.Dense(3, 4), sp.Dense(4, 1, dropout=0.5)])


def test_engine_refuses_bad_rates():
    network = sp.Network([3, 4, 1], seed=0)
    for rates, message in [([0.5, 0.5], "output layer"),
                           ([1.0, 0.0], "layer 0"),
                           ([float("nan"), 0.0], "layer 0"),
                           ([0.5], "one rate per layer")]:
        with pytest.raises(ValueError, match=message):
            _engine.set_dropout(network._handle, rates)
    assert _engine.get_dropout(network._handle) == [0.0, 0.0]
    _engine.set_dropout(network._handle, [0.25, 0.0])
    assert _engine.get_dropout(network._handle) == [0.25, 0.0]


# The rates as architecture


def test_rates_in_layers_repr_and_html():
    network = sp.Network([3, 5, 4, 2], activation="relu",
                         dropout=[0.5, 0.25], seed=0)
    assert network.dropout == [0.5, 0.25, 0.0]
    assert [layer.dropout for layer in network.layers] == [0.5, 0.25, 0.0]
    assert _engine.get_dropout(network._handle) == [0.5, 0.25, 0.0]
    assert "dropout=[0.5, 0.25]" in repr(network)
    assert "<th>dropout</th>" in network._repr_html_()
    assert "dropout" not in repr(sp.Network([3, 5, 2], seed=0))
    assert "dropout" not in sp.Network([3, 5, 2], seed=0)._repr_html_()


def continue_training(network):
    X, y = data(n=20, loss="mse", inputs=3, outputs=2)
    network.fit(X, y, epochs=5, lr=0.05, batch_size=4, optimizer="adam")
    return network.weights


def test_save_load_pickle_and_deepcopy_keep_the_rates(tmp_path):
    network = sp.Network([3, 6, 2], activation="tanh", dropout=0.3, seed=4)
    continue_training(network)
    path = tmp_path / "net.npz"
    network.save(path)
    with np.load(path) as arrays:
        assert int(arrays["version"]) == 2
        assert arrays["dropout"].tolist() == [0.3, 0.0]
    copies = [sp.Network.load(path), pickle.loads(pickle.dumps(network)),
              copy.deepcopy(network)]
    expected = continue_training(network)
    for duplicate in copies:
        assert duplicate.dropout == [0.3, 0.0]
        # Same masks from the same generator state: the same weights.
        for (Wa, ba), (Wb, bb) in zip(continue_training(duplicate),
                                      expected):
            assert np.array_equal(Wa, Wb) and np.array_equal(ba, bb)


def test_files_without_dropout_stay_version_1(tmp_path):
    path = tmp_path / "plain.npz"
    sp.Network([3, 6, 2], seed=4).save(path)
    with np.load(path) as arrays:
        assert int(arrays["version"]) == 1
        assert "dropout" not in arrays.files
    assert sp.Network.load(path).dropout == [0.0, 0.0]


def test_damaged_rates_are_refused(tmp_path):
    network = sp.Network([3, 6, 2], dropout=0.3, seed=4)
    arrays = dict(sp.persistence.state_to_arrays(network._state()))
    for bad in ([0.3, 0.2], [1.0, 0.0], [0.3]):
        arrays["dropout"] = np.array(bad)
        with pytest.raises(ValueError, match="dropout"):
            sp.persistence.state_from_arrays(arrays)
    del arrays["dropout"]
    with pytest.raises(ValueError, match="dropout"):
        sp.persistence.state_from_arrays(arrays)


def test_torch_round_trip():
    torch = pytest.importorskip("torch")
    network = sp.Network([3, 6, 5, 2], activation="relu", dropout=[0.5, 0.2],
                         seed=4)
    module = network.to_torch()
    dropouts = [m for m in module if isinstance(m, torch.nn.Dropout)]
    assert [m.p for m in dropouts] == [0.5, 0.2]
    # Dropout after the activation.
    kinds = [type(m).__name__ for m in module]
    assert kinds == ["Linear", "ReLU", "Dropout", "Linear", "ReLU",
                     "Dropout", "Linear", "ReLU"]
    module.eval()
    X = np.random.default_rng(0).normal(size=(7, 3))
    with torch.no_grad():
        out = module(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(out, network.predict(X), rtol=1e-12,
                               atol=1e-12)
    back = sp.Network.from_torch(module)
    assert back.dropout == [0.5, 0.2, 0.0]
    with pytest.raises(ValueError, match="Dropout"):
        sp.Network.from_torch(torch.nn.Sequential(
            torch.nn.Linear(3, 4), torch.nn.Dropout(0.5), torch.nn.ReLU(),
            torch.nn.Linear(4, 1)))
    with pytest.raises(ValueError, match="output layer"):
        sp.Network.from_torch(torch.nn.Sequential(
            torch.nn.Linear(3, 4), torch.nn.Dropout(0.5)))

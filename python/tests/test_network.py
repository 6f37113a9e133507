"""The public ``Network`` API on the Swift engine."""

import numpy as np
import pytest

import swiftprop as sp

from conftest import (HIDDEN_ACTIVATIONS, OUTPUT_LOSS_PAIRS, random_data,
                      relative_error)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_weights_have_tutorial_shapes_and_round_trip():
    net = sp.Network([3, 5, 2], seed=1)
    shapes = [(W.shape, b.shape) for W, b in net.weights]
    assert shapes == [((3, 5), (5,)), ((5, 2), (2,))]
    rng = np.random.default_rng(0)
    new = [(rng.normal(size=(3, 5)), rng.normal(size=5)),
           (rng.normal(size=(5, 2)), rng.normal(size=2))]
    net.set_weights(new)
    for (W, b), (W2, b2) in zip(net.weights, new):
        np.testing.assert_array_equal(W, W2)
        np.testing.assert_array_equal(b, b2)


def test_weights_are_copies():
    net = sp.Network([2, 2, 1], seed=0)
    W, _ = net.weights[0]
    W[:] = 123.0
    assert not np.any(net.weights[0][0] == 123.0)


def test_predict_is_the_dense_forward_pass(xor):
    X, _ = xor
    net = sp.Network([2, 3, 1], activation="tanh", output_activation="sigmoid",
                     seed=5)
    (W1, b1), (W2, b2) = net.weights
    expected = sigmoid(np.tanh(X @ W1 + b1) @ W2 + b2)
    np.testing.assert_allclose(net.predict(X), expected, rtol=1e-12)
    assert net.predict(X).shape == (4, 1)
    # A single sample may be given as a 1-D array.
    np.testing.assert_allclose(net.predict(X[1]), expected[1:2], rtol=1e-12)


def test_loss_is_the_mean_squared_error(xor):
    X, y = xor
    net = sp.Network([2, 3, 1], seed=2)
    assert isinstance(net.loss(X, y), float)
    assert net.loss(X, y) == pytest.approx(np.mean((net.predict(X) - y) ** 2),
                                           rel=1e-12)


def test_cross_entropy_accepts_labels_and_one_hot():
    X, labels = random_data("cross_entropy", 20, 4, 3, seed=1)
    net = sp.Network([4, 6, 3], activation="relu", loss="cross_entropy",
                     seed=0)
    one_hot = np.eye(3)[labels]
    assert net.loss(X, labels) == net.loss(X, one_hot)
    p = net.predict(X)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    expected = -np.mean(np.log(p[np.arange(20), labels]))
    assert net.loss(X, labels) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("output,loss", OUTPUT_LOSS_PAIRS)
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
def test_gradients_match_finite_differences(hidden, output, loss):
    X, y = random_data(loss, 6, 3, 2, seed=3)
    net = sp.Network([3, 4, 2], activation=hidden, output_activation=output,
                     loss=loss, seed=11)
    error = relative_error(net.gradients(X, y), net.numerical_gradients(X, y))
    assert error < 1e-6


def test_float32_gradients_match_finite_differences():
    X, y = random_data("cross_entropy", 8, 3, 4, seed=2)
    net = sp.Network([3, 5, 4], activation="tanh", loss="cross_entropy",
                     dtype="float32", seed=1)
    grads = net.gradients(X, y)
    assert grads[0][0].dtype == np.float32
    assert relative_error(grads, net.numerical_gradients(X, y)) < 1e-4


def test_gradients_do_not_update(xor):
    X, y = xor
    net = sp.Network([2, 2, 1], seed=0)
    before = net.weights
    net.gradients(X, y)
    for (W, b), (W2, b2) in zip(before, net.weights):
        np.testing.assert_array_equal(W, W2)


def test_train_step_returns_loss_before_and_applies_sgd(xor):
    X, y = xor
    net = sp.Network([2, 2, 1], seed=0)
    before, grads, loss = net.weights, net.gradients(X, y), net.loss(X, y)
    assert net.train_step(X, y, lr=0.5) == loss
    for (W, b), (dW, db), (W2, b2) in zip(before, grads, net.weights):
        np.testing.assert_allclose(W2, W - 0.5 * dW, rtol=1e-14)
        np.testing.assert_allclose(b2, b - 0.5 * db, rtol=1e-14, atol=1e-300)


def bad_optimizer_arguments_raise_every_time(call):
    """``call(**options)`` raises for an unknown option, a bad lr and a bad
    momentum, twice over: a cached resolution never hides an error."""
    for _ in range(2):
        with pytest.raises(TypeError, match="unexpected option"):
            call(lr=0.1, betas=0.9)
        with pytest.raises(ValueError, match="lr"):
            call(lr=-1.0)
        with pytest.raises(ValueError, match="momentum"):
            call(lr=0.1, momentum=2.0)


def test_train_step_fast_path_is_the_checked_path(xor):
    """Ready float arrays skip the Python checks and named optimizers are
    resolved once per distinct arguments: the steps, their errors and the
    settings used are those of the checked path."""
    X, y = xor
    ready = sp.Network([2, 2, 1], seed=0)
    listed = sp.Network([2, 2, 1], seed=0)
    for lr, options in [(0.5, {}), (0.2, {}), (0.5, {}), (0.3, {"momentum": 0.9}),
                        (0.3, {"momentum": 0.5}), (np.float64(0.3), {})]:
        a = ready.train_step(X, y, lr=lr, **options)
        b = listed.train_step(X.tolist(), y.tolist(), lr=lr, **options)
        assert a == b
        for (W, c), (W2, c2) in zip(ready.weights, listed.weights):
            np.testing.assert_array_equal(W, W2)
            np.testing.assert_array_equal(c, c2)
    # Each lr of its own: 0.2 after 0.5 is a different step.
    net = sp.Network([2, 2, 1], seed=0)
    before, grads = net.weights, net.gradients(X, y)
    net.train_step(X, y, lr=0.2)
    np.testing.assert_allclose(net.weights[0][0],
                               before[0][0] - 0.2 * grads[0][0], rtol=1e-14)
    # Errors on ready arrays come from the engine and name the argument;
    # an unknown option or a bad lr raises every time (nothing cached).
    bad = X.copy()
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        net.train_step(bad, y, lr=0.1)
    with pytest.raises(ValueError, match="y contains NaN or infinity"):
        net.train_step(X, np.full_like(y, np.inf), lr=0.1)
    bad_optimizer_arguments_raise_every_time(
        lambda **options: net.train_step(X, y, **options))
    with pytest.raises(ValueError, match="L-BFGS"):
        net.train_step(X, y, optimizer="lbfgs")
    # A loss with a target range keeps the Python check and its message.
    bce = sp.Network([2, 2, 1], loss="binary_cross_entropy", seed=0)
    with pytest.raises(ValueError, match="must hold targets .0, 1. for "
                       "binary_cross_entropy .the loss is unbounded"):
        bce.train_step(X, y + 2, lr=0.1)


def test_fit_named_optimizer_cache_matches_objects(xor):
    """fit resolves a named optimizer once per distinct arguments: each
    fit trains as with the optimizer object (resolved afresh), and bad
    arguments raise every time."""
    X, y = xor
    cases = [("sgd", {"lr": 0.5}), ("sgd", {"lr": 0.2}), ("sgd", {"lr": 0.5}),
             ("sgd", {"lr": 0.3, "momentum": 0.9}),
             ("adam", {"lr": 0.01}), ("adam", {"lr": 0.01, "beta1": 0.8}),
             ("sgd", {"lr": np.float64(0.3)})]
    for name, options in cases:
        named = sp.Network([2, 2, 1], seed=0)
        given = sp.Network([2, 2, 1], seed=0)
        a = named.fit(X, y, epochs=5, optimizer=name, **options)
        b = given.fit(X, y, epochs=5,
                      optimizer={"sgd": sp.SGD, "adam": sp.Adam}[name](**options))
        np.testing.assert_array_equal(a.loss, b.loss)
        for (W, c), (W2, c2) in zip(named.weights, given.weights):
            np.testing.assert_array_equal(W, W2)
            np.testing.assert_array_equal(c, c2)
    net = sp.Network([2, 2, 1], seed=0)
    bad_optimizer_arguments_raise_every_time(
        lambda **options: net.fit(X, y, **options))


def test_dense_layers_and_sizes_build_the_same_network(xor):
    X, _ = xor
    a = sp.Network([2, 3, 1], activation="relu", output_activation="identity",
                   seed=4)
    b = sp.Network([sp.Dense(2, 3, "relu"), sp.Dense(3, 1)], seed=4)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert "2-3-1" in repr(a)


def test_default_output_activation_follows_the_loss():
    assert sp.Network([2, 3, 2], loss="cross_entropy").layers[-1].activation \
        == "softmax"
    assert sp.Network([2, 3, 1], loss="binary_cross_entropy").layers[-1] \
        .activation == "sigmoid"
    assert sp.Network([2, 3, 1], activation="tanh").layers[-1].activation \
        == "tanh"


def test_fit_returns_history_and_verbose_prints(xor, capsys):
    X, y = xor
    net = sp.Network([2, 4, 1], seed=0)
    history = net.fit(X, y, epochs=300, lr=0.5, verbose=100)
    assert isinstance(history, sp.History)
    assert len(history.loss) == 300 and history.stop_reason == "completed"
    assert history.loss[-1] < history.loss[0]
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[1] for line in lines] == ["1/300", "100/300",
                                                   "200/300", "300/300"]


def test_full_batch_history_is_the_loss_before_each_step(xor):
    X, y = xor
    a = sp.Network([2, 3, 1], seed=9)
    b = sp.Network([2, 3, 1], seed=9)
    history = a.fit(X, y, epochs=5, lr=0.3)
    losses = [b.train_step(X, y, lr=0.3) for _ in range(5)]
    assert history.loss == losses
    for (W, _), (W2, _) in zip(a.weights, b.weights):
        np.testing.assert_array_equal(W, W2)


def test_callback_every_epoch_and_false_stops(xor):
    X, y = xor
    seen = []

    def callback(epoch, loss):
        seen.append((epoch, loss))
        return epoch < 6

    history = sp.Network([2, 2, 1], seed=0).fit(X, y, epochs=100,
                                                 callback=callback)
    assert [epoch for epoch, _ in seen] == list(range(7))
    assert history.stop_reason == "callback" and history.epochs == 7
    assert [loss for _, loss in seen] == history.loss


def test_validation_data_and_tolerance(xor):
    X, y = xor
    net = sp.Network([2, 8, 1], activation="tanh",
                     output_activation="sigmoid", seed=1)
    history = net.fit(X, y, epochs=5000, optimizer="adam", lr=0.05,
                      validation_data=(X, y), tol=1e-4, patience=5)
    assert history.stop_reason == "converged"
    assert len(history.val_loss) == history.epochs < 5000
    assert history.val_loss[-1] == pytest.approx(net.loss(X, y), rel=1e-12)


def test_optimizer_objects_and_names_are_equivalent(xor):
    X, y = xor
    a = sp.Network([2, 3, 1], seed=3)
    b = sp.Network([2, 3, 1], seed=3)
    a.fit(X, y, epochs=20, optimizer=sp.SGD(lr=0.2, momentum=0.9,
                                             nesterov=True))
    b.fit(X, y, epochs=20, optimizer="sgd", lr=0.2, momentum=0.9,
          nesterov=True)
    for (W, _), (W2, _) in zip(a.weights, b.weights):
        np.testing.assert_array_equal(W, W2)


def test_l2_decays_weights_not_biases(xor):
    X, y = xor
    net = sp.Network([2, 2, 1], seed=0)
    (W, b), _ = net.weights
    (dW, db), _ = net.gradients(X, y)
    net.train_step(X, y, lr=0.1, l2=0.5)
    (W2, b2), _ = net.weights
    np.testing.assert_allclose(W2, W - 0.1 * (dW + 0.5 * W), rtol=1e-14)
    np.testing.assert_allclose(b2, b - 0.1 * db, rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_minibatch_training_is_reproducible_bit_for_bit(dtype):
    X, y = random_data("cross_entropy", 50, 4, 3, seed=0)

    def train():
        net = sp.Network([4, 8, 3], activation="relu", loss="cross_entropy",
                         dtype=dtype, seed=123)
        history = net.fit(X, y, epochs=10, batch_size=7, optimizer="adam",
                          lr=0.01)
        return net.weights, history.loss

    (w1, l1), (w2, l2) = train(), train()
    assert l1 == l2
    for (W, b), (W2, b2) in zip(w1, w2):
        assert W.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(W, W2)
        np.testing.assert_array_equal(b, b2)


def test_xor_sgd_sigmoid_2_4_1_learns_for_nine_of_ten_seeds(xor):
    X, y = xor
    solved = 0
    for seed in range(10):
        net = sp.Network([2, 4, 1], activation="sigmoid", seed=seed)
        history = net.fit(X, y, epochs=10000, lr=2.0, optimizer="sgd")
        solved += history.loss[-1] < 0.01
    assert solved >= 9


def test_xor_adam_tanh_2_8_1_learns_for_every_seed_within_1000_epochs(xor):
    X, y = xor
    for seed in range(10):
        net = sp.Network([2, 8, 1], activation="tanh",
                         output_activation="sigmoid", seed=seed)
        history = net.fit(X, y, epochs=1000, optimizer="adam", lr=0.05)
        assert min(history.loss) < 0.01, seed
        assert np.all(np.round(net.predict(X)) == y)


def test_same_seed_same_initial_weights_different_seed_different():
    a, b, c = (sp.Network([3, 4, 2], seed=s) for s in (7, 7, 8))
    np.testing.assert_array_equal(a.weights[0][0], b.weights[0][0])
    assert not np.array_equal(a.weights[0][0], c.weights[0][0])


def test_initialisers_have_their_scales():
    xavier = sp.Network([400, 300, 1], init="xavier", seed=0).weights[0][0]
    he = sp.Network([400, 300, 1], init="he", seed=0).weights[0][0]
    normal = sp.Network([400, 300, 1], init="normal", seed=0).weights[0][0]
    limit = np.sqrt(6 / 700)
    assert np.abs(xavier).max() <= limit
    assert xavier.std() == pytest.approx(limit / np.sqrt(3), rel=0.02)
    assert he.std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    assert normal.std() == pytest.approx(1.0, rel=0.02)


def test_divergence_warns_and_keeps_finite_weights():
    X = np.array([[1e150], [-1e150]])
    y = np.array([[1.0], [-1.0]])
    net = sp.Network([1, 1], activation="identity", seed=0)
    with pytest.warns(RuntimeWarning, match="diverged"):
        history = net.fit(X, y, epochs=50, lr=1e10)
    assert history.stop_reason == "diverged"
    assert all(np.isfinite(W).all() for W, _ in net.weights)
    with pytest.raises(FloatingPointError):
        net.train_step(X, y, lr=1e10)

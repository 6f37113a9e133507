"""scikit-learn's batch order: the engine continues a NumPy RandomState's
MT19937 stream and shuffles as ``RandomState.shuffle`` does
(``Network.fit``'s private ``_random_state``, used by the estimators)."""

import numpy as np
import pytest

import swiftprop as sp
from swiftprop import reference


def data(rows=37, inputs=3, outputs=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(rows, inputs)), rng.normal(size=(rows, outputs))


@pytest.mark.parametrize("batch_size", [5, 16, 37, None])
def test_the_engine_draws_what_randomstate_shuffle_draws(batch_size):
    X, Y = data()
    stream = np.random.RandomState(7)
    expected = np.random.RandomState(7)
    net = sp.Network([3, 4, 2], seed=1, dtype="float64")
    net.fit(X, Y, epochs=6, lr=0.05, batch_size=batch_size,
            _random_state=stream)
    order = np.arange(len(X))
    for _ in range(6):
        expected.shuffle(order)   # even a single batch is shuffled
    a, b = stream.get_state(), expected.get_state()
    assert np.array_equal(a[1], b[1]) and a[2] == b[2]


def test_no_shuffle_draws_nothing():
    X, Y = data()
    stream = np.random.RandomState(3)
    before = stream.get_state()
    sp.Network([3, 2], seed=0).fit(X, Y, epochs=3, batch_size=8,
                                   shuffle=False, _random_state=stream)
    after = stream.get_state()
    assert np.array_equal(before[1], after[1]) and before[2] == after[2]


@pytest.mark.parametrize("position", [0, 623, 624])
def test_every_position_of_the_stream(position):
    """A state just before, at and after the twist of its 624 words."""
    X, Y = data(rows=300)
    stream = np.random.RandomState(11)
    stream.random_sample(624 if position == 624 else position)
    if position == 624:
        assert stream.get_state()[2] in (0, 624)
    expected = np.random.RandomState()
    expected.set_state(stream.get_state())
    sp.Network([3, 2], seed=0, dtype="float64").fit(
        X, Y, epochs=4, batch_size=50, _random_state=stream)
    order = np.arange(300)
    for _ in range(4):
        expected.shuffle(order)
    assert np.array_equal(stream.get_state()[1], expected.get_state()[1])
    assert stream.get_state()[2] == expected.get_state()[2]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("batch_size", [6, None])
def test_engine_and_twin_train_the_same_in_numpys_order(weighted, batch_size):
    X, Y = data()
    weights = (np.random.default_rng(2).uniform(0, 2, len(X)) if weighted
               else None)
    fits = []
    for cls in (sp.Network, reference.Network):
        net = cls([3, 5, 2], activation="tanh", seed=4, dtype="float64")
        stream = np.random.RandomState(5)
        history = net.fit(X, Y, epochs=12, lr=0.05, batch_size=batch_size,
                          sample_weight=weights, optimizer="adam",
                          _random_state=stream)
        fits.append((net.weights, history.loss, stream.get_state()))
    (w1, l1, s1), (w2, l2, s2) = fits
    for (W1, b1), (W2, b2) in zip(w1, w2):
        np.testing.assert_allclose(W1, W2, rtol=0, atol=1e-10)
        np.testing.assert_allclose(b1, b2, rtol=0, atol=1e-10)
    np.testing.assert_allclose(l1, l2, rtol=1e-10)
    assert np.array_equal(s1[1], s2[1]) and s1[2] == s2[2]


def test_the_order_differs_from_the_engines_own():
    """The option changes the batches (a test that could not fail would
    pass without it)."""
    X, Y = data()
    a = sp.Network([3, 2], seed=0, dtype="float64")
    b = sp.Network([3, 2], seed=0, dtype="float64")
    a.fit(X, Y, epochs=2, batch_size=5, lr=0.1)
    b.fit(X, Y, epochs=2, batch_size=5, lr=0.1,
          _random_state=np.random.RandomState(0))
    assert not np.array_equal(a.weights[0][0], b.weights[0][0])


def test_bad_states_are_refused_before_training():
    X, Y = data()
    net = sp.Network([3, 2], seed=0)
    before = net.weights
    with pytest.raises(TypeError, match="_random_state"):
        net.fit(X, Y, _random_state=np.random.default_rng(0))
    with pytest.raises(TypeError, match="_random_state"):
        net.fit(X, Y, _random_state=3)
    from swiftprop import _engine
    from swiftprop.network import engine_settings
    stream = np.random.RandomState(0)
    state = np.empty(625, dtype=np.uint32)
    state[:624] = stream.get_state()[1]
    state[624] = 625
    extras = (None, None, (0, (), 0, 0.0), -1, 0, 0, 0, 1.0, 0.0,
              None, None, None, None, None, None, state)
    history, norms = np.zeros(2), np.zeros((2, 1))
    X32, Y32 = (np.ascontiguousarray(a, dtype=net.dtype) for a in (X, Y))
    options = (2, 5, True, 0, -1.0, 1, 10**7)
    with pytest.raises(ValueError, match="0...624"):
        _engine.fit(net._handle, X32, Y32, None, None,
                    engine_settings(sp.SGD(lr=0.1)), options, None, history,
                    None, norms, None, extras)
    for bad in (state[:624].copy(), state.astype(np.int64),
                np.zeros((25, 25), np.uint32)):
        with pytest.raises(ValueError, match="625 uint32"):
            _engine.fit(net._handle, X32, Y32, None, None,
                        engine_settings(sp.SGD(lr=0.1)), options, None,
                        history, None, norms, None, extras[:-1] + (bad,))
    readonly = state.copy()
    readonly[624] = 0
    readonly.flags.writeable = False
    with pytest.raises(TypeError, match="writable"):
        _engine.fit(net._handle, X32, Y32, None, None,
                    engine_settings(sp.SGD(lr=0.1)), options, None, history,
                    None, norms, None, extras[:-1] + (readonly,))
    for (W, b), (W0, b0) in zip(net.weights, before):
        assert np.array_equal(W, W0) and np.array_equal(b, b0)


# The update rules of Keras and scikit-learn


@pytest.mark.parametrize("optimizer", [
    sp.Adam(lr=0.01, eps_hat=True),
    sp.Adam(lr=0.01, eps_hat=True, eps=1e-3, l2=0.01),
    sp.SGD(lr=0.05, momentum=0.9, lr_in_velocity=True),
    sp.SGD(lr=0.05, momentum=0.9, nesterov=True, lr_in_velocity=True),
    sp.SGD(lr=0.05, momentum=1.0, lr_in_velocity=True),
])
def test_engine_and_twin_agree_on_keras_rules(optimizer):
    """With a schedule, so that the rate changes from epoch to epoch (the
    velocity's units matter then)."""
    X, Y = data(rows=40)
    results = []
    for cls in (sp.Network, reference.Network):
        net = cls([3, 6, 2], activation="tanh", seed=2, dtype="float64")
        history = net.fit(X, Y, epochs=15, batch_size=8, optimizer=optimizer,
                          lr=sp.schedules.Exponential(optimizer.lr, 0.8))
        results.append((net.weights, history.loss))
    (w1, l1), (w2, l2) = results
    for (W1, b1), (W2, b2) in zip(w1, w2):
        np.testing.assert_allclose(W1, W2, rtol=0, atol=1e-10)
        np.testing.assert_allclose(b1, b2, rtol=0, atol=1e-10)
    np.testing.assert_allclose(l1, l2, rtol=1e-10)


@pytest.mark.parametrize("pair", [
    (sp.Adam(lr=0.01), sp.Adam(lr=0.01, eps_hat=True)),
    (sp.SGD(lr=0.05, momentum=0.9), sp.SGD(lr=0.05, momentum=0.9,
                                           lr_in_velocity=True)),
])
def test_the_rules_differ_where_they_should(pair):
    """eps_hat differs where sqrt(v) is near eps (here: a large eps); the
    velocity's units once the rate changes. Equal rules would pass the
    twin test above without the option doing anything."""
    X, Y = data(rows=40)
    weights = []
    for optimizer in pair:
        if isinstance(optimizer, sp.Adam):
            optimizer = sp.Adam(lr=0.01, eps=0.1, eps_hat=optimizer.eps_hat)
        net = sp.Network([3, 6, 2], seed=2, dtype="float64")
        net.fit(X, Y, epochs=5, batch_size=8, optimizer=optimizer,
                lr=sp.schedules.Exponential(optimizer.lr, 0.5))
        weights.append(net.weights[0][0])
    assert np.max(np.abs(weights[0] - weights[1])) > 1e-6


def test_the_rules_agree_at_a_constant_rate():
    """lr_in_velocity changes only the velocity's units: at a constant rate
    the steps are the same, to rounding."""
    X, Y = data(rows=40)
    weights = []
    for flag in (False, True):
        net = sp.Network([3, 6, 2], seed=2, dtype="float64")
        net.fit(X, Y, epochs=10, batch_size=8, optimizer=sp.SGD(
            lr=0.05, momentum=0.9, nesterov=True, lr_in_velocity=flag))
        weights.append(net.weights[0][0])
    np.testing.assert_allclose(weights[0], weights[1], rtol=0, atol=1e-12)


@pytest.mark.parametrize("bad", [dict(eps_hat=2), dict(eps_hat="yes")])
def test_bad_adam_flags(bad):
    with pytest.raises((TypeError, ValueError), match="eps_hat"):
        sp.Adam(**bad)


def test_bad_sgd_flags():
    with pytest.raises((TypeError, ValueError), match="lr_in_velocity"):
        sp.SGD(momentum=0.5, lr_in_velocity=0.5)


# The estimators against scikit-learn's, same random_state


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
@pytest.mark.parametrize("batch_size", [32, "auto"])
def test_sgd_estimators_follow_scikit_learn_with_shuffling(kind, batch_size):
    """Plain SGD (no momentum, so no rule differs) with shuffle=True: same
    initial weights, same batches, same weights to rounding after 20
    epochs, and the caller's RandomState left where scikit-learn leaves
    it."""
    sklearn_nn = pytest.importorskip("sklearn.neural_network")
    from sklearn.datasets import load_digits
    from swiftprop import sklearn as ours
    X, y = load_digits(return_X_y=True)
    X, y = X[:250] / 16.0, y[:250]
    name = "MLPRegressor" if kind == "regressor" else "MLPClassifier"
    settings = dict(hidden_layer_sizes=(7,), solver="sgd", momentum=0.0,
                    learning_rate_init=0.01, max_iter=20, alpha=1e-4,
                    batch_size=batch_size, tol=0.0, n_iter_no_change=1000)
    streams = np.random.RandomState(3), np.random.RandomState(3)
    theirs = getattr(sklearn_nn, name)(random_state=streams[0], **settings)
    mine = getattr(ours, name)(random_state=streams[1], **settings)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.fit(X, y)
        mine.fit(X, y)
    for a, b in zip(theirs.coefs_ + theirs.intercepts_,
                    mine.coefs_ + mine.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    np.testing.assert_allclose(theirs.loss_curve_, mine.loss_curve_,
                               rtol=1e-10)
    a, b = streams[0].get_state(), streams[1].get_state()
    assert np.array_equal(a[1], b[1]) and a[2] == b[2]


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
@pytest.mark.parametrize("settings", [
    dict(),                                          # adam, shuffled
    dict(early_stopping=True, max_iter=40),
    dict(solver="sgd"),                              # Nesterov momentum 0.9
    dict(solver="sgd", learning_rate="invscaling"),
    dict(solver="sgd", learning_rate="adaptive", tol=1e-2, max_iter=40),
    dict(solver="sgd", nesterovs_momentum=False, learning_rate="invscaling"),
], ids=["adam", "early_stopping", "sgd", "invscaling", "adaptive",
        "momentum_invscaling"])
def test_estimators_are_scikit_learns_number_for_number(kind, settings):
    """Every stochastic setting, shuffled mini-batches: the same weights to
    rounding, the same epochs, the same loss curve."""
    sklearn_nn = pytest.importorskip("sklearn.neural_network")
    from sklearn.datasets import load_digits
    from swiftprop import sklearn as ours
    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16.0, y[:300]
    name = "MLPRegressor" if kind == "regressor" else "MLPClassifier"
    common = dict(hidden_layer_sizes=(5, 3), random_state=1, max_iter=25,
                  alpha=1e-5, learning_rate_init=0.01)
    common.update(settings)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = getattr(sklearn_nn, name)(**common).fit(X, y)
        mine = getattr(ours, name)(**common).fit(X, y)
    assert mine.n_iter_ == theirs.n_iter_
    for a, b in zip(theirs.coefs_ + theirs.intercepts_,
                    mine.coefs_ + mine.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    np.testing.assert_allclose(theirs.loss_curve_, mine.loss_curve_,
                               rtol=1e-9)



@pytest.mark.parametrize("seeded", ["int", "RandomState"])
def test_partial_fit_follows_scikit_learn(seeded):
    """partial_fit restarts an int random_state every call and continues a
    RandomState instance, as scikit-learn does: four calls give its
    weights."""
    sklearn_nn = pytest.importorskip("sklearn.neural_network")
    from sklearn.datasets import load_digits
    from swiftprop import sklearn as ours
    X, y = load_digits(return_X_y=True)
    X, y = X[:400] / 16.0, y[:400]
    models = []
    for module in (sklearn_nn, ours):
        state = 0 if seeded == "int" else np.random.RandomState(4)
        model = module.MLPClassifier(hidden_layer_sizes=(9,), batch_size=50,
                                     random_state=state)
        for _ in range(4):
            model.partial_fit(X, y, classes=np.arange(10))
        models.append(model)
    theirs, mine = models
    for a, b in zip(theirs.coefs_ + theirs.intercepts_,
                    mine.coefs_ + mine.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)

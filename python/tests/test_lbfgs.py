"""``fit(optimizer="lbfgs")``: full-batch L-BFGS in the engine against its
NumPy twin in ``swiftprop.reference``, its objective, its stopping rules
(SciPy's L-BFGS-B as scikit-learn calls it), its arguments and Ctrl-C."""

import json
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import swiftprop as sp
from swiftprop import _engine, reference

from conftest import (HIDDEN_ACTIVATIONS, default_sigint, OUTPUT_LOSS_PAIRS, XOR_X, XOR_Y,
                      random_data, relative_error)

SIZES = [4, 6, 5, 3]
# Rounding differences between the engine and NumPy (matrix products, dot
# products summed in another order) are about 1e-16; L-BFGS amplifies them
# from iteration to iteration, the more the flatter the problem: where F
# changes by 1e-7 of itself along a line, the cubic steps interpolate
# values whose differences carry 1e-9 of rounding. On random targets with
# an l2 term (which bounds the curvature from below) the twins stay within
# 4e-13 of each other over 12 iterations on every network below; without
# one, within 2e-11 over 8.
ITERATIONS = {"with l2": 12, "without l2": 8}
# ReLU and leaky ReLU have kinks where F is not differentiable: near one, a
# rounding difference can flip a line-search comparison and the two paths
# part (seen with a ReLU output under huber at iteration 3). With a kinked
# activation the comparison covers the first iterations only.
KINKED = {"relu", "leaky_relu"}
KINKED_ITERATIONS = 2


def twins(hidden, output, loss, seed, sizes=SIZES, dtype="float64"):
    kwargs = dict(activation=hidden, output_activation=output, loss=loss,
                  seed=seed, dtype=dtype)
    return sp.Network(sizes, **kwargs), reference.Network(sizes, **kwargs)


def objective(net, X, y, l2=0.0, scale=1.0):
    """F = scale * loss + (l2 / 2) * sum ||W||^2, written out."""
    squares = sum(float(np.sum(W.astype(np.float64) ** 2))
                  for W, _ in net.weights)
    return scale * net.loss(X, y) + 0.5 * l2 * squares


def objective_gradient(net, X, y, l2=0.0, scale=1.0):
    """dF/dp, flat: scale * dL/dp + l2 * W (biases: scale * dL/db)."""
    parts = []
    for (W, _), (dW, db) in zip(net.weights, net.gradients(X, y)):
        parts += [scale * dW + l2 * W, scale * db]
    return np.concatenate([part.ravel() for part in parts])


def largest_difference(a, b):
    """max |a - b| over two weight lists, relative to each array's size."""
    worst = 0.0
    for pair_a, pair_b in zip(a, b):
        for x, z in zip(pair_a, pair_b):
            scale = max(np.abs(z).max(), 1.0)
            worst = max(worst, np.abs(x - z).max() / scale)
    return worst


def regression_data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 3))
    return X, np.sin(2 * X[:, :1] + X[:, 1:2] - X[:, 2:])


# Engine and twin, iteration by iteration


@pytest.mark.parametrize("regularized", ITERATIONS)
@pytest.mark.parametrize("output,loss", OUTPUT_LOSS_PAIRS)
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
def test_engine_and_twin_agree_iteration_by_iteration(hidden, output, loss,
                                                      regularized):
    case = HIDDEN_ACTIVATIONS.index(hidden) + OUTPUT_LOSS_PAIRS.index(
        (output, loss))
    l2 = [1e-2, 1e-3, 0.05][case % 3] if regularized == "with l2" else 0.0
    scale = [1.0, 0.5, 3.0][case % 3 - 1]
    X, y = random_data(loss, 40, SIZES[0], SIZES[-1], seed=case)
    engine, twin = twins(hidden, output, loss, seed=case)
    # tol=0: no stop on a small gradient (a ReLU output may still stop at
    # once with an exactly zero gradient, on both sides).
    iterations = (KINKED_ITERATIONS if KINKED & {hidden, output}
                  else ITERATIONS[regularized])
    options = dict(optimizer="lbfgs", epochs=iterations, l2=l2,
                   scale=scale, memory=[10, 3][case % 2], tol=0)
    ours, theirs = engine.fit(X, y, **options), twin.fit(X, y, **options)
    assert (ours.stop_reason, ours.iterations, ours.evaluations) == (
        theirs.stop_reason, theirs.iterations, theirs.evaluations)
    losses, expected = np.array(ours.loss), np.array(theirs.loss)
    error = np.abs(losses - expected) / np.maximum(np.abs(expected), 1.0)
    assert error.max(initial=0.0) <= 1e-10, f"iteration {error.argmax() + 1}"
    assert largest_difference(engine.weights, twin.weights) <= 1e-10
    # F decreases at every iteration (sufficient decrease).
    assert (np.diff(losses) < 0).all()


def test_history_is_the_objective_after_each_iteration():
    X, y = random_data("mse", 30, 4, 3, seed=1)
    for Network in (sp.Network, reference.Network):
        l2, scale = 0.02, 2.5
        net = Network(SIZES, activation="tanh", output_activation="identity",
                      seed=1)
        start = objective(net, X, y, l2, scale)
        history = net.fit(X, y, optimizer="lbfgs", epochs=8, l2=l2,
                          scale=scale)
        assert history.stop_reason == "max_iter"
        assert history.loss[-1] == pytest.approx(
            objective(net, X, y, l2, scale), rel=1e-12)
        assert history.objective == history.loss[-1]
        assert history.loss[0] < start
        # Every iteration evaluates F at least once, plus the start.
        assert history.evaluations >= history.iterations + 1


def test_gradient_check_still_holds_after_lbfgs():
    X, y = random_data("cross_entropy", 20, 4, 3, seed=2)
    net = sp.Network(SIZES, activation="tanh", loss="cross_entropy", seed=2)
    net.fit(X, y, optimizer="lbfgs", epochs=30, l2=1e-3)
    assert relative_error(net.gradients(X, y),
                          net.numerical_gradients(X, y)) < 1e-6


# Problems it should solve


@pytest.mark.parametrize("seed", range(6))
def test_xor_is_learned(seed):
    net = sp.Network([2, 8, 1], activation="tanh",
                     output_activation="sigmoid",
                     loss="binary_cross_entropy", seed=seed)
    history = net.fit(XOR_X, XOR_Y, optimizer="lbfgs", epochs=500)
    assert history.stop_reason in ("converged_gtol", "converged_ftol")
    assert net.loss(XOR_X, XOR_Y) < 1e-3
    assert (net.predict(XOR_X).round() == XOR_Y).all()


def test_small_regression_is_fitted():
    X, y = regression_data()
    net = sp.Network([3, 16, 1], activation="tanh",
                     output_activation="identity", seed=1)
    before = net.loss(X, y)
    net.fit(X, y, optimizer="lbfgs", epochs=500)
    assert net.loss(X, y) < 1e-3 * before


def test_float32_trains():
    X, y = regression_data()
    net = sp.Network([3, 16, 1], activation="tanh",
                     output_activation="identity", dtype="float32", seed=1)
    before = net.loss(X, y)
    history = net.fit(X, y, optimizer="lbfgs", epochs=300)
    assert net.loss(X, y) < 1e-2 * before
    assert all(W.dtype == np.float32 for W, _ in net.weights)
    assert np.isfinite(history.loss).all()


# Stopping rules


def regression_net(Network=sp.Network, seed=0):
    return Network([3, 5, 1], activation="tanh", output_activation="identity",
                   seed=seed)


def test_max_iter():
    X, y = regression_data()
    history = regression_net().fit(X, y, optimizer="lbfgs", epochs=7)
    assert (history.stop_reason, history.iterations) == ("max_iter", 7)
    assert len(history.loss) == 7


def test_max_fun_is_checked_between_iterations():
    X, y = regression_data()
    limit = 10
    history = regression_net().fit(X, y, optimizer="lbfgs", epochs=1000,
                                   max_fun=limit)
    assert history.stop_reason == "max_fun"
    assert history.evaluations > limit
    # One iteration earlier the limit had not been passed.
    shorter = regression_net().fit(X, y, optimizer="lbfgs",
                                   epochs=history.iterations - 1,
                                   max_fun=limit)
    assert shorter.stop_reason == "max_iter"
    assert shorter.evaluations <= limit


def test_gtol_is_fit_tol():
    X, y = regression_data()
    tol = 1e-3
    net = regression_net()
    history = net.fit(X, y, optimizer="lbfgs", epochs=1000, tol=tol)
    assert history.stop_reason == "converged_gtol"
    assert np.abs(objective_gradient(net, X, y)).max() <= tol
    # The iteration before did not meet it.
    earlier = regression_net()
    earlier.fit(X, y, optimizer="lbfgs", epochs=history.iterations - 1,
                tol=tol)
    assert np.abs(objective_gradient(earlier, X, y)).max() > tol


def test_gtol_met_at_the_start_takes_no_iteration():
    X, y = regression_data()
    net = regression_net()
    weights = net.weights
    history = net.fit(X, y, optimizer="lbfgs", epochs=10, tol=1e6)
    assert (history.stop_reason, history.iterations,
            history.evaluations) == ("converged_gtol", 0, 1)
    assert largest_difference(net.weights, weights) == 0
    assert history.objective == pytest.approx(objective(net, X, y),
                                              rel=1e-12)


def test_ftol_relative_reduction():
    X, y = regression_data()
    ftol = 1e-3
    history = regression_net().fit(X, y, optimizer="lbfgs", epochs=1000,
                                   tol=0, ftol=ftol)
    assert history.stop_reason == "converged_ftol"
    losses = history.loss
    reductions = [(a - b) / max(abs(a), abs(b), 1)
                  for a, b in zip(losses, losses[1:])]
    assert reductions[-1] <= ftol
    assert all(reduction > ftol for reduction in reductions[:-1])


@pytest.mark.parametrize("Network", [sp.Network, reference.Network])
def test_line_search_failure_keeps_the_weights(Network):
    # Near the optimum of a linear regression the first trial step (length
    # 1/||g|| * ||g|| = 1) overshoots; with one evaluation allowed per line
    # search nothing qualifies and the network keeps its weights.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    w = np.array([[1.0], [-2.0], [0.5]])
    y = X @ w + 0.3
    net = Network([3, 1], activation="identity", seed=0)
    start = [(w + 0.01, np.array([0.29]))]
    net.set_weights(start)
    history = net.fit(X, y, optimizer="lbfgs", epochs=100, max_ls=1)
    assert (history.stop_reason, history.iterations,
            history.evaluations) == ("line_search_failed", 0, 2)
    assert largest_difference(net.weights, start) == 0
    # With the default max_ls the same start converges.
    net.fit(X, y, optimizer="lbfgs", epochs=100)
    assert net.loss(X, y) < 1e-8


def test_line_search_restart_agrees_with_the_twin():
    # One evaluation per line search: iterations whose step 1 fails drop
    # the memory and retry along -g, as the twin does, count for count.
    X, y = regression_data()
    runs = []
    for Network in (sp.Network, reference.Network):
        net = regression_net(Network, seed=3)
        history = net.fit(X, y, optimizer="lbfgs", epochs=200, max_ls=1)
        runs.append((history.stop_reason, history.iterations,
                     history.evaluations, history.loss, net.weights))
    (reason, iterations, evaluations, losses, weights), twin = runs
    assert (reason, iterations, evaluations) == twin[:3]
    np.testing.assert_allclose(losses, twin[3], rtol=1e-10)
    assert largest_difference(weights, twin[4]) <= 1e-10


def test_non_finite_start_warns_and_keeps_the_weights():
    X, y = regression_data()
    net = sp.Network([3, 1], activation="identity", seed=0)
    start = [(np.full((3, 1), 1e300), np.zeros(1))]
    net.set_weights(start)
    with pytest.warns(RuntimeWarning, match="cannot start"):
        history = net.fit(10 * X, y, optimizer="lbfgs", epochs=10)
    assert (history.stop_reason, history.iterations) == ("diverged", 0)
    assert largest_difference(net.weights, start) == 0


@pytest.mark.parametrize("Network", [sp.Network, reference.Network])
def test_callback_and_verbose(Network, capsys):
    X, y = regression_data()
    seen = []

    def callback(iteration, loss):
        seen.append((iteration, loss))
        return iteration < 2

    history = regression_net(Network).fit(X, y, optimizer="lbfgs",
                                          epochs=50, callback=callback,
                                          verbose=1)
    assert history.stop_reason == "callback"
    assert [iteration for iteration, _ in seen] == [0, 1, 2]
    assert [loss for _, loss in seen] == history.loss
    assert capsys.readouterr().out.count("epoch ") == 3


def test_request_stop_from_the_callback():
    X, y = regression_data()
    net = regression_net()

    def callback(iteration, loss):
        if iteration == 1:
            net.request_stop()

    history = net.fit(X, y, optimizer="lbfgs", epochs=50, callback=callback)
    assert history.stop_reason == "requested"
    # Seen at the next poll between evaluations or report, whichever
    # comes first.
    assert history.iterations in (2, 3)


def test_request_stop_from_another_thread():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 10))
    y = rng.normal(size=(500, 4))
    net = sp.Network([10, 32, 4], activation="tanh",
                     output_activation="identity", seed=0)
    started = threading.Event()
    result = {}

    def train():
        result["history"] = net.fit(
            X, y, optimizer="lbfgs", epochs=10**6, tol=0, ftol=0,
            callback=lambda iteration, loss: started.set())

    thread = threading.Thread(target=train)
    thread.start()
    assert started.wait(60)
    net.request_stop()
    thread.join(60)
    assert not thread.is_alive()
    assert result["history"].stop_reason == "requested"


# Sample weights


@pytest.mark.parametrize("output,loss", [("identity", "mse"),
                                         ("softmax", "cross_entropy"),
                                         ("sigmoid", "binary_cross_entropy")])
def test_weighted_fits_agree_with_the_twin(output, loss):
    X, y = random_data(loss, 40, SIZES[0], SIZES[-1], seed=5)
    weights = np.random.default_rng(5).uniform(0, 3, 40)
    weights[::7] = 0.0
    engine, twin = twins("tanh", output, loss, seed=5)
    options = dict(optimizer="lbfgs", epochs=12, l2=1e-2, tol=0,
                   sample_weight=weights)
    ours, theirs = engine.fit(X, y, **options), twin.fit(X, y, **options)
    assert (ours.stop_reason, ours.iterations, ours.evaluations) == (
        theirs.stop_reason, theirs.iterations, theirs.evaluations)
    np.testing.assert_allclose(ours.loss, theirs.loss, rtol=1e-10)
    assert largest_difference(engine.weights, twin.weights) <= 1e-10
    # F is the weighted mean loss (plus the l2 term).
    squares = sum(float(np.sum(W ** 2)) for W, _ in engine.weights)
    assert ours.loss[-1] == pytest.approx(
        engine.loss(X, y, sample_weight=weights) + 0.5e-2 * squares,
        rel=1e-12)


@pytest.mark.parametrize("Network", [sp.Network, reference.Network])
def test_integer_weights_equal_repeated_rows(Network):
    X, y = random_data("cross_entropy", 30, 4, 3, seed=6)
    counts = np.random.default_rng(6).integers(0, 4, 30)
    counts[0] = 2
    repeated_X, repeated_y = np.repeat(X, counts, axis=0), np.repeat(y, counts)
    options = dict(optimizer="lbfgs", epochs=12, l2=1e-2, tol=0)
    weighted = Network(SIZES, activation="tanh", loss="cross_entropy",
                       seed=6)
    by_weight = weighted.fit(X, y, sample_weight=counts, **options)
    repeated = Network(SIZES, activation="tanh", loss="cross_entropy",
                       seed=6)
    by_rows = repeated.fit(repeated_X, repeated_y, **options)
    assert (by_weight.iterations, by_weight.evaluations) == (
        by_rows.iterations, by_rows.evaluations)
    np.testing.assert_allclose(by_weight.loss, by_rows.loss, rtol=1e-10)
    assert largest_difference(weighted.weights, repeated.weights) <= 1e-10


def test_class_weight_changes_the_objective():
    X, y = random_data("cross_entropy", 30, 4, 3, seed=7)
    balanced = sp.Network(SIZES, activation="tanh", loss="cross_entropy",
                          seed=7)
    history = balanced.fit(X, y, optimizer="lbfgs", epochs=10,
                           class_weight="balanced")
    labels = np.asarray(y)
    counts = np.bincount(labels, minlength=3)
    weights = (len(labels) / (3 * counts))[labels]
    assert history.loss[-1] == pytest.approx(
        balanced.loss(X, y, sample_weight=weights), rel=1e-12)
    plain = sp.Network(SIZES, activation="tanh", loss="cross_entropy",
                       seed=7)
    assert plain.fit(X, y, optimizer="lbfgs", epochs=10).loss != history.loss


# The vocabulary, arguments and memory


def test_lbfgs_object_and_options():
    X, y = regression_data()
    by_name = regression_net().fit(X, y, optimizer="lbfgs", epochs=15,
                                   memory=3)
    by_object = regression_net().fit(X, y, optimizer=sp.LBFGS(memory=3),
                                     epochs=15)
    assert by_name.loss == by_object.loss
    longer_memory = regression_net().fit(X, y, optimizer="lbfgs", epochs=15)
    assert longer_memory.loss != by_name.loss
    assert "LBFGS" in sp.__all__
    assert "lbfgs" not in sp.optimizers.OPTIMIZERS  # not a per-step rule


@pytest.mark.parametrize("options,error,match", [
    (dict(lr=0.1), TypeError, "unexpected option.*lr"),
    (dict(batch_size=2), ValueError, "full-batch"),
    (dict(validation_data=(XOR_X, XOR_Y)), ValueError, "validation_data"),
    (dict(memory=0), ValueError, "memory"),
    (dict(max_fun=0), ValueError, "max_fun"),
    (dict(max_ls=0), ValueError, "max_ls"),
    (dict(tol=-1.0), ValueError, "gtol"),
    (dict(ftol=float("nan")), ValueError, "ftol"),
    (dict(l2=-1.0), ValueError, "l2"),
    (dict(scale=0.0), ValueError, "scale"),
    (dict(epochs=0), ValueError, "epochs"),
    (dict(memory=2.5), TypeError, "memory"),
    (dict(momentum=0.9), TypeError, "unexpected option.*momentum"),
    (dict(metrics=["r2"]), ValueError, "no metrics"),
    (dict(restore_best_weights=True), ValueError, "restore_best_weights"),
    (dict(sample_weight=[1.0, -1.0, 1.0, 1.0]), ValueError, "sample_weight"),
    (dict(sample_weight=[1.0, 1.0]), ValueError, "sample_weight"),
])
@pytest.mark.parametrize("Network", [sp.Network, reference.Network])
def test_bad_arguments(Network, options, error, match):
    net = Network([2, 3, 1], seed=0)
    weights = net.weights
    with pytest.raises(error, match=match):
        net.fit(XOR_X, XOR_Y, optimizer="lbfgs", **options)
    assert largest_difference(net.weights, weights) == 0


@pytest.mark.parametrize("Network", [sp.Network, reference.Network])
def test_train_step_refuses_lbfgs(Network):
    with pytest.raises(ValueError, match="full batch"):
        Network([2, 3, 1], seed=0).train_step(XOR_X, XOR_Y,
                                              optimizer="lbfgs")


def test_the_engine_checks_its_settings():
    net = sp.Network([2, 3, 1], seed=0)
    X, Y = np.ascontiguousarray(XOR_X), np.ascontiguousarray(XOR_Y)
    good = (5, 100, 10, 20, 0, 20_000_000, 1e-5, 1e-9, 0.0, 1.0)
    for index, bad, match in [(0, 0, "max_iter"), (2, 0, "memory"),
                              (3, 0, "max_ls"), (6, -1.0, "gtol"),
                              (9, 0.0, "scale"), (5, -1, "poll_interval")]:
        settings = good[:index] + (bad,) + good[index + 1:]
        with pytest.raises(ValueError, match=match):
            _engine.fit_lbfgs(net._handle, X, Y, settings, None,
                              np.zeros(5))
    with pytest.raises(ValueError, match="loss_history"):
        _engine.fit_lbfgs(net._handle, X, Y, good, None, np.zeros(4))
    with pytest.raises(TypeError, match="settings"):
        _engine.fit_lbfgs(net._handle, X, Y, good[:-1], None, np.zeros(5))


def test_memory_too_large_is_a_memory_error():
    X, y = regression_data()
    net = regression_net()
    weights = net.weights
    with pytest.raises(MemoryError, match="L-BFGS with memory=1099511627776"):
        net.fit(X, y, optimizer="lbfgs", epochs=5, memory=2**40)
    assert largest_difference(net.weights, weights) == 0
    net.fit(X, y, optimizer="lbfgs", epochs=5)  # not left busy


# Ctrl-C

INTERRUPT_SCRIPT = textwrap.dedent(r"""
    import json, sys
    import numpy as np
    import swiftprop as sp

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 20))
    y = rng.normal(size=(2000, 5))
    net = sp.Network([20, 64, 64, 5], activation="tanh",
                     output_activation="identity", seed=0)
    start = net.loss(X, y)
    outcome = "finished"
    try:
        # verbose=10**6 prints the first iteration (the marker the parent
        # waits for) and then nothing: the interrupt lands in the engine's
        # polls between evaluations. tol = ftol = 0: it would run long.
        net.fit(X, y, optimizer="lbfgs", epochs=10**6, tol=0, ftol=0,
                verbose=10**6)
    except KeyboardInterrupt:
        outcome = "KeyboardInterrupt"
    weights = net.weights
    finite = all(np.isfinite(W).all() and np.isfinite(b).all()
                 for W, b in weights)
    after = net.loss(X, y)
    resumed = net.fit(X, y, optimizer="lbfgs", epochs=2)
    print(json.dumps({"outcome": outcome, "finite": bool(finite),
                      "start": start, "after": after,
                      "resumed": resumed.stop_reason}), flush=True)
""")


def test_ctrl_c_raises_keyboard_interrupt_and_keeps_a_valid_network(
        tmp_path):
    script = tmp_path / "interrupt_lbfgs.py"
    script.write_text(INTERRUPT_SCRIPT)
    child = subprocess.Popen([sys.executable, str(script)],
                             preexec_fn=default_sigint,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        marker = child.stdout.readline()
        assert marker.startswith("epoch 1/"), (marker, child.stderr.read())
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["outcome"] == "KeyboardInterrupt"
    assert report["finite"]
    # The last accepted iterate: every accepted step lowered the objective.
    assert report["after"] < report["start"]
    assert report["resumed"] == "max_iter"

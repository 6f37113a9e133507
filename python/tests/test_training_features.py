"""Sample and class weights, learning-rate schedules, metrics, the monitor,
best-weights restoring and callbacks: the engine against its NumPy twin
(``sp.reference``) to 1e-10 in float64, and each feature against what it
promises."""

import csv
import json
import math

import numpy as np
import pytest

import swiftprop as sp
from swiftprop import callbacks, reference, schedules

TOL = 1e-10


def data(n=24, inputs=3, outputs=2, seed=0, labels=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, inputs))
    if labels:
        return X, rng.integers(0, outputs, size=n)
    return X, rng.uniform(size=(n, outputs))


def pair(layers, **kwargs):
    kwargs.setdefault("seed", 3)
    kwargs.setdefault("dtype", "float64")
    return sp.Network(layers, **kwargs), reference.Network(layers, **kwargs)


def assert_same_weights(a, b, tol=TOL):
    for (W1, b1), (W2, b2) in zip(a.weights, b.weights):
        np.testing.assert_allclose(W1, W2, rtol=0, atol=tol)
        np.testing.assert_allclose(b1, b2, rtol=0, atol=tol)


def assert_same_history(h1, h2, tol=TOL):
    assert h1.stop_reason == h2.stop_reason
    assert h1.epochs == h2.epochs
    np.testing.assert_allclose(h1.loss, h2.loss, rtol=tol, atol=tol)
    np.testing.assert_allclose(h1.val_loss, h2.val_loss, rtol=tol, atol=tol)
    np.testing.assert_allclose(h1.lr, h2.lr, rtol=1e-14)
    for name in ("accuracy", "val_accuracy", "r2", "val_r2"):
        np.testing.assert_allclose(getattr(h1, name), getattr(h2, name),
                                   rtol=tol, atol=tol)
    assert h1.best_epoch == h2.best_epoch


# Sample weights


LOSS_SETUPS = [
    dict(loss="mse", activation="tanh"),
    dict(loss="huber", activation="relu"),
    dict(loss="binary_cross_entropy", activation="sigmoid"),
    dict(loss="cross_entropy", activation="elu"),
]


@pytest.mark.parametrize("setup", LOSS_SETUPS, ids=lambda s: s["loss"])
def test_weighted_loss_and_gradients_agree_with_the_twin(setup):
    engine, twin = pair([3, 5, 2], **setup)
    X, Y = data(labels=setup["loss"] == "cross_entropy")
    w = np.random.default_rng(1).uniform(0, 3, size=len(X))
    w[2] = 0.0
    assert engine.loss(X, Y, sample_weight=w) == pytest.approx(
        twin.loss(X, Y, sample_weight=w), rel=TOL)
    for (dW, db), (tW, tb) in zip(engine.gradients(X, Y, sample_weight=w),
                                  twin.gradients(X, Y, sample_weight=w)):
        np.testing.assert_allclose(dW, tW, rtol=0, atol=TOL)
        np.testing.assert_allclose(db, tb, rtol=0, atol=TOL)
    engine.train_step(X, Y, lr=0.1, sample_weight=w)
    twin.train_step(X, Y, lr=0.1, sample_weight=w)
    assert_same_weights(engine, twin)


def test_integer_weights_equal_repeated_rows():
    X, Y = data(n=12)
    w = np.array([0, 1, 2, 3, 1, 1, 4, 0, 2, 1, 1, 5])
    repeated = np.repeat(np.arange(len(X)), w)
    weighted = sp.Network([3, 6, 2], dtype="float64", seed=1)
    copied = sp.Network([3, 6, 2], dtype="float64", seed=1)
    weighted.fit(X, Y, epochs=40, lr=0.5, sample_weight=w, l2=1e-3,
                 optimizer="adam")
    copied.fit(X[repeated], Y[repeated], epochs=40, lr=0.5, l2=1e-3,
               optimizer="adam")
    assert_same_weights(weighted, copied, tol=1e-10)
    assert weighted.loss(X, Y, sample_weight=w) == pytest.approx(
        copied.loss(X[repeated], Y[repeated]), rel=1e-12)


@pytest.mark.parametrize("batch_size", [None, 5])
def test_weighted_fit_agrees_with_the_twin(batch_size):
    engine, twin = pair([3, 4, 2], activation="tanh")
    X, Y = data()
    w = np.random.default_rng(2).integers(0, 3, size=len(X)).astype(float)
    kwargs = dict(epochs=15, lr=0.2, batch_size=batch_size, sample_weight=w,
                  momentum=0.9)
    assert_same_history(engine.fit(X, Y, **kwargs), twin.fit(X, Y, **kwargs))
    assert_same_weights(engine, twin)


def test_class_weight_is_a_sample_weight_per_class():
    X, labels = data(n=30, outputs=3, labels=True)
    balanced = len(labels) / (3 * np.bincount(labels, minlength=3))
    by_hand, automatic, table = (
        sp.Network([3, 4, 3], loss="cross_entropy", dtype="float64", seed=2)
        for _ in range(3))
    by_hand.fit(X, labels, epochs=5, lr=0.3, sample_weight=balanced[labels])
    automatic.fit(X, labels, epochs=5, lr=0.3, class_weight="balanced")
    assert_same_weights(by_hand, automatic, tol=0)
    table.fit(X, labels, epochs=5, lr=0.3, class_weight={
        0: balanced[0], 1: balanced[1], 2: balanced[2]})
    assert_same_weights(by_hand, table, tol=0)


@pytest.mark.parametrize("weight, message", [
    ([1.0] * 5, r"shape \(6,\)"),
    ([1, 1, -1, 1, 1, 1], ">= 0"),
    ([1, 1, np.nan, 1, 1, 1], "NaN"),
    ([0] * 6, "all zero"),
    (["a"] * 6, "numbers"),
])
def test_bad_sample_weights_are_refused_by_name(weight, message):
    net = sp.Network([2, 1], seed=0)
    X, Y = np.zeros((6, 2)), np.zeros((6, 1))
    before = net.weights
    for call in (lambda: net.fit(X, Y, sample_weight=weight),
                 lambda: net.loss(X, Y, sample_weight=weight),
                 lambda: net.train_step(X, Y, sample_weight=weight)):
        with pytest.raises((ValueError, TypeError), match=message) as info:
            call()
        assert "sample_weight" in str(info.value)
    assert_same_weights(net, sp.Network([2, 1], seed=0), tol=0)
    del before


def test_the_engine_refuses_bad_weights_given_directly():
    from swiftprop import _engine
    net = sp.Network([2, 1], seed=0, dtype="float64")
    X, Y = np.zeros((3, 2)), np.zeros((3, 1))
    with pytest.raises(ValueError, match="sample_weight"):
        _engine.loss(net._handle, X, Y, np.array([1.0, -2.0, 1.0]))
    with pytest.raises(ValueError, match="sample_weight"):
        _engine.loss(net._handle, X, Y, np.array([0.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match="samples"):
        _engine.loss(net._handle, X, Y, np.array([1.0, 1.0]))


# Schedules


SCHEDULES = [
    schedules.Constant(0.3),
    schedules.InvScaling(0.5, power_t=0.5),
    schedules.Step(0.5, step_size=3, gamma=0.5),
    schedules.Exponential(0.5, gamma=0.9),
    schedules.Cosine(0.5, epochs=10, min_lr=0.01),
    schedules.Warmup(schedules.Cosine(0.5, epochs=8), epochs=4,
                     start_factor=0.25),
    schedules.ReduceOnPlateau(0.5, factor=0.5, patience=1, min_delta=1e-3),
    schedules.Warmup(schedules.ReduceOnPlateau(0.5, factor=0.5, patience=0),
                     epochs=2),
]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=repr)
def test_schedules_agree_with_the_twin(schedule):
    engine, twin = pair([3, 4, 2], activation="sigmoid")
    X, Y = data()
    kwargs = dict(epochs=14, lr=schedule, batch_size=7, optimizer="adam")
    assert_same_history(engine.fit(X, Y, **kwargs), twin.fit(X, Y, **kwargs))
    assert_same_weights(engine, twin)


@pytest.mark.parametrize("schedule", [s for s in SCHEDULES if not s.stateful],
                         ids=repr)
def test_each_schedule_rate_is_its_formula(schedule):
    X, Y = data(n=10)
    history = sp.Network([3, 2], seed=0).fit(X, Y, epochs=20, lr=schedule,
                                             batch_size=3)
    expected = [schedule.rate(epoch, len(X)) for epoch in range(20)]
    np.testing.assert_allclose(history.lr, expected, rtol=1e-15)


def test_a_schedule_in_the_engine_equals_train_steps_driven_from_python():
    X, Y = data()
    schedule = schedules.Cosine(0.8, epochs=12, min_lr=0.05)
    fitted = sp.Network([3, 5, 2], dtype="float64", seed=4)
    stepped = sp.Network([3, 5, 2], dtype="float64", seed=4)
    fitted.fit(X, Y, epochs=12, lr=schedule, momentum=0.5)
    for epoch in range(12):
        stepped.train_step(X, Y, lr=schedule.rate(epoch), momentum=0.5)
    assert_same_weights(fitted, stepped, tol=0)


def test_a_callable_rate_sets_each_epoch():
    X, Y = data()
    history = sp.Network([3, 2], seed=0).fit(X, Y, epochs=6,
                                             lr=lambda e: 0.1 / (e + 1))
    np.testing.assert_allclose(history.lr, [0.1 / (e + 1) for e in range(6)])


def test_adaptive_divides_the_rate_instead_of_stopping():
    X, Y = data()
    kwargs = dict(epochs=200, lr=schedules.Adaptive(0.5, factor=0.2,
                                                    min_lr=1e-3),
                  tol=1e-3, patience=3)
    engine, twin = pair([3, 4, 2], activation="tanh")
    history = engine.fit(X, Y, **kwargs)
    assert_same_history(history, twin.fit(X, Y, **kwargs))
    rates = sorted(set(history.lr), reverse=True)
    assert rates[0] == 0.5 and len(rates) > 1
    np.testing.assert_allclose(rates[1] / rates[0], 0.2)
    if history.stop_reason == "converged":
        assert history.lr[-1] <= 1e-3


def test_schedules_match_pytorch_where_it_has_them():
    torch = pytest.importorskip("torch")
    parameter = torch.nn.Parameter(torch.zeros(1))

    def torch_rates(make, epochs, losses=None):
        optimizer = torch.optim.SGD([parameter], lr=0.5)
        scheduler = make(optimizer)
        rates = []
        for epoch in range(epochs):
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            if losses is None:
                scheduler.step()
            else:
                scheduler.step(losses[epoch])
        return rates

    X, Y = data(n=10)
    cases = [
        (schedules.Step(0.5, step_size=3, gamma=0.5),
         lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5)),
        (schedules.Exponential(0.5, gamma=0.9),
         lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.9)),
        (schedules.Cosine(0.5, epochs=10, min_lr=0.01),
         lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 10, 0.01)),
        (schedules.Warmup(schedules.Exponential(0.5, gamma=0.8), epochs=3,
                          start_factor=0.2),
         lambda o: torch.optim.lr_scheduler.SequentialLR(o, [
             torch.optim.lr_scheduler.LinearLR(o, 0.2, 1.0, total_iters=3),
             torch.optim.lr_scheduler.ExponentialLR(o, 0.8)], [3])),
    ]
    for schedule, make in cases:
        history = sp.Network([3, 2], seed=0).fit(X, Y, epochs=14, lr=schedule)
        np.testing.assert_allclose(history.lr, torch_rates(make, 14),
                                   rtol=1e-12)
    plateau = schedules.ReduceOnPlateau(0.5, factor=0.5, patience=2,
                                        min_delta=1e-3)
    history = sp.Network([3, 2], seed=0).fit(X, Y, epochs=30, lr=plateau)
    expected = torch_rates(
        lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(
            o, factor=0.5, patience=2, threshold=1e-3, threshold_mode="abs"),
        30, history.loss)
    np.testing.assert_allclose(history.lr, expected, rtol=1e-12)


@pytest.mark.parametrize("make, message", [
    (lambda: schedules.Step(0.1, step_size=0), "step_size"),
    (lambda: schedules.Exponential(0.1, gamma=0), "gamma"),
    (lambda: schedules.Cosine(0.1, epochs=0), "epochs"),
    (lambda: schedules.ReduceOnPlateau(0.1, factor=1.5), "factor"),
    (lambda: schedules.Constant(-1), "lr"),
    (lambda: schedules.Warmup("fast", epochs=2), "schedule"),
])
def test_bad_schedules_are_refused(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_the_engine_refuses_a_bad_schedule_given_directly():
    from swiftprop import _codes, _engine
    net = sp.Network([2, 1], seed=0, dtype="float64")
    X, Y = np.zeros((3, 2)), np.zeros((3, 1))
    history, norms = np.zeros(2), np.zeros((2, 1))
    bad = (None, None, (_codes.SCHEDULES["step"], (0.0, 0.5), 0, 0.0), -1, 0,
           0, 0, 1.0, 0.0, None, None, None, None, None, None, None)
    with pytest.raises(ValueError, match="step_size"):
        _engine.fit(net._handle, X, Y, None, None, (0, (0.1, 0.0, 0.0, 0.0, 0.0)),
                    (2, 3, True, 0, -1.0, 1, 10**7), None, history, None,
                    norms, None, bad)
    unknown = bad[:2] + ((_engine.SP_SCHEDULE_COUNT, (), 0, 0.0),) + bad[3:]
    with pytest.raises(ValueError, match="unknown schedule"):
        _engine.fit(net._handle, X, Y, None, None, (0, (0.1, 0.0, 0.0, 0.0, 0.0)),
                    (2, 3, True, 0, -1.0, 1, 10**7), None, history, None,
                    norms, None, unknown)


# Metrics, the monitor and the best weights


def test_metrics_agree_with_the_twin_and_with_predict():
    X, labels = data(n=40, outputs=3, labels=True)
    VX, vlabels = data(n=15, outputs=3, seed=5, labels=True)
    engine, twin = pair([3, 6, 3], loss="cross_entropy", activation="tanh")
    kwargs = dict(epochs=12, lr=0.5, batch_size=8, metrics=["accuracy"],
                  validation_data=(VX, vlabels))
    history = engine.fit(X, labels, **kwargs)
    assert_same_history(history, twin.fit(X, labels, **kwargs))
    assert len(history.accuracy) == len(history.val_accuracy) == 12
    # The validation accuracy is predict's after the epoch.
    assert history.val_accuracy[-1] == pytest.approx(
        np.mean(engine.predict_classes(VX) == vlabels), abs=1e-15)
    assert "accuracy" in history.history and "lr" in history.history


def test_binary_and_regression_metrics():
    X, Y = data(n=30, outputs=1)
    labels = (Y[:, 0] > 0.5).astype(float)
    VX, VY = data(n=10, outputs=1, seed=9)
    engine, twin = pair([3, 4, 1], loss="binary_cross_entropy")
    kwargs = dict(epochs=8, lr=0.5, metrics="accuracy",
                  validation_data=(VX, (VY[:, 0] > 0.5).astype(float),
                                   np.arange(1.0, 11.0)))
    assert_same_history(engine.fit(X, labels, **kwargs),
                        twin.fit(X, labels, **kwargs))
    engine, twin = pair([3, 4, 1], activation="tanh", output_activation="identity")
    kwargs = dict(epochs=8, lr=0.1, metrics=["r2"], validation_data=(VX, VY),
                  sample_weight=np.linspace(0.5, 2, 30))
    history = engine.fit(X, Y, **kwargs)
    assert_same_history(history, twin.fit(X, Y, **kwargs))
    residual = ((VY - engine.predict(VX)) ** 2).sum()
    spread = ((VY - VY.mean()) ** 2).sum()
    assert history.val_r2[-1] == pytest.approx(1 - residual / spread,
                                               abs=1e-12)


def test_restore_best_weights_gives_back_the_best_epoch_exactly():
    X, Y = data()
    VX, VY = data(n=10, seed=8)
    kwargs = dict(lr=3.0, validation_data=(VX, VY))
    net = sp.Network([3, 8, 2], dtype="float64", seed=6)
    history = net.fit(X, Y, epochs=60, restore_best_weights=True, **kwargs)
    best = history.best_epoch
    assert best == int(np.argmin(history.val_loss))
    again = sp.Network([3, 8, 2], dtype="float64", seed=6)
    again.fit(X, Y, epochs=best + 1, **kwargs)
    assert_same_weights(net, again, tol=0)
    twin = reference.Network([3, 8, 2], dtype="float64", seed=6)
    assert_same_history(history, twin.fit(X, Y, epochs=60,
                                          restore_best_weights=True, **kwargs))
    assert_same_weights(net, twin)


def test_monitor_accuracy_with_early_stopping_agrees_with_the_twin():
    X, labels = data(n=40, outputs=3, labels=True)
    VX, vlabels = data(n=20, outputs=3, seed=5, labels=True)
    engine, twin = pair([3, 6, 3], loss="cross_entropy", activation="relu")
    kwargs = dict(epochs=80, lr=0.5, validation_data=(VX, vlabels),
                  monitor="val_accuracy", tol=0.0, patience=5,
                  restore_best_weights=True)
    history = engine.fit(X, labels, **kwargs)
    assert_same_history(history, twin.fit(X, labels, **kwargs))
    assert history.val_accuracy  # asked for by the monitor
    assert_same_weights(engine, twin)


def test_include_l2_and_the_private_scales_agree_with_the_twin():
    X, Y = data()
    engine, twin = pair([3, 4, 2])
    kwargs = dict(epochs=6, lr=0.4, l2=0.01, batch_size=5,
                  include_l2=True)
    history = engine.fit(X, Y, **kwargs)
    assert_same_history(history, twin.fit(X, Y, **kwargs))
    engine, twin = pair([3, 4, 2])
    kwargs = dict(epochs=6, lr=0.4, l2=0.05, batch_size=5, _loss_scale=0.5,
                  _penalty_scale=2.0, _l2_per_sample=True)
    assert_same_history(engine.fit(X, Y, **kwargs), twin.fit(X, Y, **kwargs))
    assert_same_weights(engine, twin)
    # The l2 term, by hand, for a full-batch single epoch.
    net = sp.Network([3, 4, 2], dtype="float64", seed=1)
    squares = sum(float((W ** 2).sum()) for W, _ in net.weights)
    data_loss = net.loss(X, Y)
    history = net.fit(X, Y, epochs=1, lr=0.1, l2=0.2, include_l2=True)
    assert history.loss[0] == pytest.approx(data_loss + 0.1 * squares,
                                            rel=1e-13)


def test_count_from_zero_prints_as_the_tutorials(capsys):
    X, Y = data()
    sp.Network([3, 2], seed=0).fit(X, Y, epochs=21, lr=0.1, verbose=10,
                                   count_from=0)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == ["0/20", "10/20", "20/20"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(metrics=["f1"]), "unknown metric"),
    (dict(monitor="val_loss"), "validation_data"),
    (dict(monitor="precision"), "unknown monitor"),
    (dict(count_from=2), "count_from"),
])
def test_bad_extras_are_refused(kwargs, message):
    X, Y = data()
    with pytest.raises(ValueError, match=message):
        sp.Network([3, 2], seed=0).fit(X, Y, **kwargs)


def test_accuracy_needs_classes():
    X, Y = data(outputs=1)
    net = sp.Network([3, 1], activation="identity", seed=0)
    with pytest.raises(ValueError, match="regression"):
        net.fit(X, Y, metrics=["accuracy"])


# Callbacks


def test_early_stopping_callback_restores_the_best_weights():
    X, Y = data()
    VX, VY = data(n=10, seed=8)
    stop = callbacks.EarlyStopping(monitor="val_loss", patience=3,
                                   restore_best_weights=True)
    net = sp.Network([3, 8, 2], dtype="float64", seed=6)
    history = net.fit(X, Y, epochs=500, lr=3.0, validation_data=(VX, VY),
                      callbacks=[stop])
    assert history.stop_reason == "converged"
    assert stop.stopped_epoch == history.epochs - 1
    assert history.best_epoch == int(np.argmin(history.val_loss))
    again = sp.Network([3, 8, 2], dtype="float64", seed=6)
    again.fit(X, Y, epochs=history.best_epoch + 1, lr=3.0,
              validation_data=(VX, VY))
    assert_same_weights(net, again, tol=0)


def test_a_checkpoint_written_mid_fit_loads_to_the_same_network(tmp_path):
    X, Y = data()
    path = tmp_path / "ckpt-{epoch}.npz"
    checkpoint = callbacks.ModelCheckpoint(path)
    net = sp.Network([3, 4, 2], dtype="float64", seed=1)
    net.fit(X, Y, epochs=5, lr=0.3, optimizer="adam", callbacks=[checkpoint])
    assert len(checkpoint.saved) == 5
    third = sp.Network.load(checkpoint.saved[2])
    replay = sp.Network([3, 4, 2], dtype="float64", seed=1)
    replay.fit(X, Y, epochs=3, lr=0.3, optimizer="adam")
    assert_same_weights(third, replay, tol=0)
    # And it trains on as the original did.
    third.fit(X, Y, epochs=2, lr=0.3, optimizer="adam")
    assert_same_weights(third, net, tol=0)


def test_loggers_scheduler_and_lambda(tmp_path):
    X, Y = data()
    seen = []
    history = sp.Network([3, 2], seed=0).fit(
        X, Y, epochs=4, lr=0.2, callbacks=[
            callbacks.CSVLogger(tmp_path / "log.csv"),
            callbacks.JSONLogger(tmp_path / "log.json"),
            callbacks.LearningRateScheduler(lambda epoch, lr: lr / 2),
            callbacks.LambdaCallback(
                on_epoch_end=lambda epoch, logs: seen.append(epoch)),
        ])
    assert history.lr == [0.2, 0.1, 0.05, 0.025]
    assert seen == [0, 1, 2, 3]
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert [float(row["loss"]) for row in rows] == pytest.approx(history.loss)
    lines = [json.loads(line) for line in open(tmp_path / "log.json")]
    assert [line["lr"] for line in lines] == history.lr


def test_a_callback_stops_with_false_or_numpy_false():
    X, Y = data()
    for verdict in (False, np.False_):
        history = sp.Network([3, 2], seed=0).fit(
            X, Y, epochs=10, callback=lambda epoch, loss: verdict)
        assert history.epochs == 1 and history.stop_reason == "callback"
        history = sp.Network([3, 2], seed=0).fit(
            X, Y, epochs=10, callbacks=[callbacks.LambdaCallback(
                on_epoch_end=lambda epoch, logs: verdict)])
        assert history.epochs == 1


def test_no_python_call_per_epoch_without_callbacks(monkeypatch):
    from swiftprop import _training
    calls = []
    real = _training.EpochReporter.__call__
    monkeypatch.setattr(_training.EpochReporter, "__call__",
                        lambda self, *args: calls.append(args) or real(
                            self, *args))
    X, Y = data()
    sp.Network([3, 2], seed=0).fit(X, Y, epochs=50, lr=schedules.Cosine(
        0.1, epochs=50), metrics=None)
    assert calls == []


def test_bad_callbacks_are_refused():
    X, Y = data()
    net = sp.Network([3, 2], seed=0)
    with pytest.raises(TypeError, match="list"):
        net.fit(X, Y, callbacks=callbacks.CSVLogger("x.csv"))
    with pytest.raises(TypeError, match="on_epoch_end"):
        net.fit(X, Y, callbacks=[object()])
    with pytest.raises(ValueError, match="not both"):
        net.fit(X, Y, tol=0.1, callbacks=[callbacks.EarlyStopping("loss")])
    with pytest.raises(ValueError, match="finite"):
        net.fit(X, Y, epochs=3, callbacks=[callbacks.LearningRateScheduler(
            lambda epoch, lr: math.nan)])


# The l2 term and the pictures of the metrics


def test_l2_term_is_recorded_and_agrees_with_the_twin():
    X, Y = data()
    engine, twin = pair([3, 4, 2])
    kwargs = dict(epochs=5, lr=0.3, l2=0.02, batch_size=7, include_l2=True)
    history, expected = engine.fit(X, Y, **kwargs), twin.fit(X, Y, **kwargs)
    np.testing.assert_allclose(history.l2_term, expected.l2_term, rtol=TOL)
    assert all(term > 0 for term in history.l2_term)
    plain = sp.Network([3, 4, 2], dtype="float64", seed=3).fit(
        X, Y, epochs=5, lr=0.3, l2=0.02, batch_size=7)
    assert plain.l2_term == []
    # The data loss is the loss without the l2 term: the same fit without
    # include_l2 records it.
    np.testing.assert_allclose(np.subtract(history.loss, history.l2_term),
                               plain.loss, rtol=1e-12)


def test_metric_and_l2_plots_draw_the_recorded_numbers():
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    from swiftprop import plot
    X, labels = data(n=30, outputs=3, labels=True)
    net = sp.Network([3, 5, 3], loss="cross_entropy", seed=1)
    history = net.fit(X, labels, epochs=6, lr=0.5, l2=0.01, include_l2=True,
                      metrics=["accuracy"], validation_data=(X, labels))
    ax = plot.metrics(history)
    assert [line.get_label() for line in ax.lines] == ["accuracy",
                                                       "val_accuracy"]
    np.testing.assert_allclose(ax.lines[1].get_ydata(), history.val_accuracy)
    ax = plot.loss_and_l2(history)
    np.testing.assert_allclose(ax.lines[1].get_ydata(),
                               np.subtract(history.loss, history.l2_term))
    with pytest.raises(ValueError, match="include_l2"):
        plot.loss_and_l2(net.fit(X, labels, epochs=2))
    with pytest.raises(ValueError, match="metrics"):
        plot.metrics(net.fit(X, labels, epochs=2))


def test_ctrl_c_during_a_checkpoint_write_keeps_the_previous_one(
        tmp_path, monkeypatch):
    """A KeyboardInterrupt arriving while the checkpoint's file is being
    written (here: raised from inside np.savez, after part of the file is
    out) ends the fit with KeyboardInterrupt and leaves the checkpoint of
    the epoch before intact, loadable, and no temporary file behind."""
    from swiftprop import persistence
    X, Y = data()
    path = tmp_path / "ckpt.npz"
    checkpoint = callbacks.ModelCheckpoint(path)
    real_savez = np.savez
    writes = []

    def interrupted_savez(file, **arrays):
        writes.append(1)
        if len(writes) == 3:
            file.write(b"PK\x03\x04 half a file")
            raise KeyboardInterrupt
        return real_savez(file, **arrays)

    monkeypatch.setattr(persistence.np, "savez", interrupted_savez)
    net = sp.Network([3, 4, 2], dtype="float64", seed=1)
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, Y, epochs=5, lr=0.3, callbacks=[checkpoint])
    monkeypatch.setattr(persistence.np, "savez", real_savez)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]
    second = sp.Network.load(path)
    replay = sp.Network([3, 4, 2], dtype="float64", seed=1)
    replay.fit(X, Y, epochs=2, lr=0.3)
    assert_same_weights(second, replay, tol=0)

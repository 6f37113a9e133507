"""Ctrl-C at random moments of fit, and exceptions from user callbacks.

The interrupts are sent to a subprocess (a failure there cannot take
pytest down): it runs many fits of many kinds and a timer sends SIGINT at
a random delay into each. Every interrupt must raise KeyboardInterrupt
quickly and leave the network at the end of a completed step: finite
weights, a working predict, an optimizer state that matches its weights,
and a fit that resumes.
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import swiftprop as sp

from conftest import default_sigint

INTERRUPT_SCRIPT = textwrap.dedent(r"""
    import json, os, signal, sys, threading, time
    import numpy as np
    import swiftprop as sp

    rng = np.random.default_rng(int(sys.argv[1]))
    count = int(sys.argv[2])
    X = rng.uniform(-1, 1, (256, 16))
    Y = np.tanh(X[:, :2] * 2 + X[:, 2:4])
    labels = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0).astype(int)

    def same(a, b):
        return all(np.array_equal(W1, W2) and np.array_equal(b1, b2)
                   for (W1, b1), (W2, b2) in zip(a, b))

    KINDS = ["sgd full batch", "adam full batch", "momentum mini-batch",
             "adam mini-batch float32", "cross entropy validation",
             "callback", "verbose"]

    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        delay = float(rng.choice([0.0, 0.001, 0.01, rng.uniform(0, 0.4),
                                  rng.uniform(0.02, 0.4)]))
        seed = int(rng.integers(0, 2**32))
        options = dict(epochs=10**5)
        dtype = "float32" if "float32" in kind else "float64"
        if kind == "cross entropy validation":
            net = sp.Network([16, 24, 3], activation="relu",
                             loss="cross_entropy", seed=seed)
            y = labels
            options.update(batch_size=32, optimizer="adam", lr=0.01,
                           validation_data=(X[:64], labels[:64]))
        else:
            net = sp.Network([16, 24, 2], activation="tanh", dtype=dtype,
                             seed=seed)
            y = Y
        if kind == "sgd full batch":
            options.update(lr=0.05)
        elif kind == "adam full batch":
            options.update(optimizer="adam", lr=0.01)
        elif kind == "momentum mini-batch":
            options.update(lr=0.02, momentum=0.9, nesterov=True,
                           batch_size=16)
        elif kind == "adam mini-batch float32":
            options.update(optimizer="adam", lr=0.001, batch_size=50)
        elif kind == "callback":
            options.update(lr=0.05, callback=lambda epoch, loss: None)
        elif kind == "verbose":
            options.update(lr=0.05, batch_size=64, verbose=200)
        start_weights = net.weights
        sent = []

        def interrupt():
            sent.append(time.perf_counter())
            os.kill(os.getpid(), signal.SIGINT)

        timer = threading.Timer(delay, interrupt)
        outcome = "no interrupt"
        where = None
        try:
            # With a delay of 0, SIGINT may land in timer.start(), just
            # before fit: a legitimate moment too.
            timer.start()
            net.fit(X, y, **options)
        except KeyboardInterrupt as error:
            outcome = "KeyboardInterrupt"
            tb = error.__traceback__
            while tb.tb_next is not None:
                tb = tb.tb_next
            where = tb.tb_frame.f_code.co_name
        finally:
            timer.join()
        latency = time.perf_counter() - sent[0]
        report = {"i": i, "kind": kind, "delay": delay,
                  "outcome": outcome, "latency": latency, "where": where}
        weights = net.weights
        report["finite"] = all(np.isfinite(W).all() and np.isfinite(b).all()
                               for W, b in weights)
        report["predict"] = bool(np.isfinite(net.predict(X)).all())
        state = net.get_optimizer_state()
        steps = 0 if state is None else state["step"]
        report["steps"] = steps
        if kind in ("sgd full batch", "adam full batch"):
            # Full batch: the interrupted fit made `steps` whole steps
            # (Adam counts them; SGD's are counted by a replay below);
            # replaying them with train_step gives the same weights, bit
            # for bit, so the interrupt fell on a step boundary.
            twin = sp.Network([16, 24, 2], activation="tanh", seed=seed)
            step_options = {k: v for k, v in options.items()
                            if k not in ("epochs",)}
            if kind == "adam full batch":
                for _ in range(steps):
                    twin.train_step(X, y, **step_options)
                report["replay"] = same(twin.weights, weights)
                twin_state = twin.get_optimizer_state()
                report["state"] = (steps == 0 and state is None) or (
                    np.array_equal(twin_state["first"], state["first"])
                    and np.array_equal(twin_state["second"],
                                       state["second"]))
            else:
                found = same(twin.weights, weights)
                for _ in range(200000):
                    if found:
                        break
                    twin.train_step(X, y, **step_options)
                    found = same(twin.weights, weights)
                report["replay"] = found
        else:
            report["unchanged_or_moved"] = True
        # fit resumes, and completes.
        history = net.fit(X[:64], y[:64], epochs=3,
                          **{k: v for k, v in options.items()
                             if k in ("lr", "optimizer", "batch_size")})
        report["resumed"] = history.epochs == 3 and history.stop_reason == \
            "completed"
        report["finite_after"] = all(np.isfinite(W).all()
                                     for W, _ in net.weights)
        # Reports go to a file of their own: a verbose line cut short by the
        # interrupt must not run into them on stdout.
        with open(sys.argv[3], "a") as out:
            out.write(json.dumps(report) + "\n")
    with open(sys.argv[3], "a") as out:
        out.write("done\n")
""")


def run_interrupts(seed, count, tmp_path):
    path = tmp_path / "reports.jsonl"
    result = subprocess.run(
        [sys.executable, "-c", INTERRUPT_SCRIPT, str(seed), str(count),
         str(path)], capture_output=True, text=True, timeout=600,
        preexec_fn=default_sigint)
    assert result.returncode == 0, (result.returncode,
                                    result.stderr[-3000:])
    lines = path.read_text().strip().split("\n")
    assert lines[-1] == "done", lines[-3:]
    return [json.loads(line) for line in lines[:-1]]


def test_ctrl_c_at_random_moments_of_fit(tmp_path):
    reports = run_interrupts(seed=12345, count=35, tmp_path=tmp_path)
    assert len(reports) == 35
    for report in reports:
        assert report["outcome"] == "KeyboardInterrupt", report
        # Each fit would run for many seconds; the engine polls every
        # 20 ms, and the bound leaves room for a busy machine.
        assert report["latency"] < 5, report
        assert report["finite"] and report["predict"], report
        assert report["resumed"] and report["finite_after"], report
        if "replay" in report:
            assert report["replay"], report
        if "state" in report:
            assert report["state"], report
    # The delays fell at different moments, many while Swift was training
    # (the signal is then raised from the engine's poll, in the stop
    # flag's __bool__ or in a callback), some in the Python around it. How
    # many land where depends on the machine's load (a busy machine spends
    # longer in the Python before fit): about 21 of 35 on an idle one,
    # the bound leaves room for a busy one.
    inside = [r for r in reports if r["where"] not in (
        "wait", "start", "full", "zeros", "_samples", "plan_fit")]
    assert len(inside) >= 5, [r["where"] for r in reports]
    assert sum(report["steps"] > 0 for report in reports
               if "adam" in report["kind"]) >= 3


# ------------------------------------------------------ user callbacks

class CustomError(Exception):
    pass


class CustomBaseError(BaseException):
    pass


X = np.random.default_rng(1).uniform(-1, 1, (40, 3))
Y = np.sin(X @ np.array([[1.0], [2.0], [-1.0]]))


@pytest.mark.parametrize("error", [
    CustomError("boom"), ValueError("bad value"), ZeroDivisionError(),
    KeyboardInterrupt(), CustomBaseError("base"), StopIteration(),
    MemoryError("callback ran out"), RecursionError()],
    ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("stop_epoch", [0, 3])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_exception_in_callback_leaves_a_usable_network(error, stop_epoch,
                                                       optimizer):
    """The very exception raised by the callback propagates; the network
    keeps the weights (and optimizer state) of the epochs completed, the
    same as a callback returning False at that epoch, and trains on."""
    net = sp.Network([3, 5, 1], activation="tanh", seed=7)
    twin = sp.Network([3, 5, 1], activation="tanh", seed=7)
    options = dict(epochs=50, batch_size=8, optimizer=optimizer, lr=0.01)

    def raising(epoch, loss):
        if epoch == stop_epoch:
            raise error

    with pytest.raises(type(error)) as info:
        net.fit(X, Y, callback=raising, **options)
    assert info.value is error
    history = twin.fit(X, Y, callback=lambda epoch, loss:
                       epoch != stop_epoch, **options)
    assert history.epochs == stop_epoch + 1
    for (W1, b1), (W2, b2) in zip(net.weights, twin.weights):
        np.testing.assert_array_equal(W1, W2)
        np.testing.assert_array_equal(b1, b2)
    s1, s2 = net.get_optimizer_state(), twin.get_optimizer_state()
    assert s1["step"] == s2["step"]
    np.testing.assert_array_equal(s1["first"], s2["first"])
    assert np.isfinite(net.predict(X)).all()
    # Resumes, identically to the twin.
    net.fit(X, Y, epochs=5, batch_size=8, optimizer=optimizer, lr=0.01)
    twin.fit(X, Y, epochs=5, batch_size=8, optimizer=optimizer, lr=0.01)
    for (W1, _), (W2, _) in zip(net.weights, twin.weights):
        np.testing.assert_array_equal(W1, W2)


def test_callback_raising_while_validation_and_verbose(capsys):
    net = sp.Network([3, 4, 1], seed=0)

    def raising(epoch, loss):
        if epoch == 2:
            raise CustomError("stop here")

    with pytest.raises(CustomError):
        net.fit(X, Y, epochs=20, verbose=1, callback=raising,
                validation_data=(X[:10], Y[:10]))
    assert "epoch 1/20" in capsys.readouterr().out
    assert net.fit(X, Y, epochs=2).epochs == 2


def test_callback_that_raises_on_every_call_many_times():
    net = sp.Network([3, 4, 1], seed=0)

    def always(epoch, loss):
        raise CustomError(epoch)

    for _ in range(500):
        with pytest.raises(CustomError):
            net.fit(X, Y, epochs=3, callback=always)
    assert all(np.isfinite(W).all() for W, _ in net.weights)
    assert net.get_optimizer_state()["step"] == 500


def test_callback_with_wrong_signature_raises_type_error():
    net = sp.Network([3, 4, 1], seed=0)
    start = net.weights
    with pytest.raises(TypeError):
        net.fit(X, Y, epochs=3, callback=lambda: None)
    # Its first call came after epoch 0: that epoch is kept.
    assert net.get_optimizer_state()["step"] == 1
    assert not np.array_equal(start[0][0], net.weights[0][0])
    assert net.fit(X, Y, epochs=2).epochs == 2

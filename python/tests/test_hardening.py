"""Hardening, engine side: out of memory raises MemoryError instead of
killing the interpreter, a product completes when no thread can be
created, large workspaces do not stay resident after the call that needed
them, and the engine refuses optimizer states no optimizer could produce.

Each resource limit is set in a subprocess of its own, after the data are
made, at the address space in use plus a margin: the calls that fit in
the margin must work, the one whose copy does not must raise."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import swiftprop as sp

MiB = 1 << 20

# Helpers every script gets.
PRELUDE = textwrap.dedent("""
    import os, resource, sys
    import numpy as np
    import swiftprop as sp

    def address_space():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")

    def resident():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def limit_address_space(margin):
        limit = address_space() + margin
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def outcome(name, call):
        try:
            call()
        except MemoryError as error:
            print(name, "MemoryError", error, flush=True)
        else:
            print(name, "ok", flush=True)
""")


def run(script, timeout=300, **options):
    """Runs PRELUDE + ``script`` in a fresh interpreter; returns its lines
    (asserting that it exited normally, not killed by a signal)."""
    result = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(script)],
        capture_output=True, text=True, timeout=timeout, **options)
    assert result.returncode == 0, (
        f"exit status {result.returncode}", result.stdout[-2000:],
        result.stderr[-3000:])
    return result.stdout.splitlines()


def starts(lines, prefix):
    """The one line that starts with ``prefix``."""
    found = [line for line in lines if line.startswith(prefix)]
    assert len(found) == 1, (prefix, lines)
    return found[0]


# MARK: - Out of memory


def test_shuffled_fit_whose_row_order_cannot_be_allocated_raises():
    """A shuffled mini-batch fit keeps one row number (8 bytes) per row:
    256 MiB for 32 Mi rows, which the limit leaves no room for, while the
    unshuffled fit and predict need only a batch. The order used to be a
    Swift array, whose failed allocation aborted the interpreter."""
    lines = run("""
        n = 1 << 25
        X = np.linspace(-1, 1, n, dtype=np.float32).reshape(n, 1)
        y = 2 * X + 1
        net = sp.Network([1, 1], activation="identity", loss="mse",
                         dtype="float32", seed=0)
        limit_address_space(160 << 20)
        net.fit(X, y, epochs=1, batch_size=4096, shuffle=False, lr=0.1)
        print("predict", net.predict(X[:2]).shape, flush=True)
        before = net.weights
        outcome("shuffled fit", lambda: net.fit(X, y, epochs=1,
                                                batch_size=4096, lr=0.1))
        after = net.weights
        print("unchanged", all((a == b).all() for pa, pb in zip(before, after)
                               for a, b in zip(pa, pb)))
        net.fit(X[:4096], y[:4096], epochs=2, batch_size=256, lr=0.1)
        print("small shuffled fit", net.predict(X[:2]).shape)
    """)
    assert "predict (2, 1)" in lines
    assert starts(lines, "shuffled fit").startswith(
        "shuffled fit MemoryError cannot allocate 268435456 bytes"), lines
    assert "unchanged True" in lines
    assert "small shuffled fit (2, 1)" in lines


def test_numerical_gradients_whose_float64_copy_cannot_be_allocated_raise():
    """float32 samples are widened to float64 once (128 MiB for X and for y
    at 16 Mi rows), past the margin: MemoryError. float64 samples are read
    in place, so the same call on a float64 network computes; its analytic
    gradients need a 384 MiB workspace and raise."""
    lines = run("""
        n = 1 << 24
        X = np.linspace(-1, 1, n).reshape(n, 1)
        y = 2 * X + 1
        net32 = sp.Network([1, 1], activation="identity", loss="mse",
                           dtype="float32", seed=0)
        net64 = sp.Network([1, 1], activation="identity", loss="mse", seed=0)
        X32, y32 = X.astype(np.float32), y.astype(np.float32)
        limit_address_space(96 << 20)
        print("predict", net32.predict(X32[:2]).shape, flush=True)
        outcome("numerical float32",
                lambda: net32.numerical_gradients(X32, y32))
        outcome("gradients float64", lambda: net64.gradients(X, y))
        outcome("numerical float64", lambda: net64.numerical_gradients(X, y))
        numerical = net64.numerical_gradients(X, y)
        analytic = net64.gradients(X[:1 << 16], y[:1 << 16])
        print("finite", all(np.isfinite(a).all() for pair in numerical
                            for a in pair))
    """)
    assert "predict (2, 1)" in lines
    assert starts(lines, "numerical float32").startswith(
        "numerical float32 MemoryError"), lines
    assert starts(lines, "gradients float64").startswith(
        "gradients float64 MemoryError"), lines
    assert "numerical float64 ok" in lines
    assert "finite True" in lines


def test_deep_network_whose_lane_vectors_cannot_be_allocated_raises():
    """The lane pass (up to 8 rows, layers up to 32 wide) keeps 3 vectors
    of 8 lanes per unit of the widest layer per layer: 6 KiB a layer in
    float64, 293 MiB for 50,000 layers, past the margin. They used to be
    allocated by Swift's allocator, whose failure aborted the interpreter;
    inference never needs them."""
    lines = run("""
        net = sp.Network([32] + [1] * 50_000, activation="identity",
                         loss="mse", seed=0)
        X = np.ones((1, 32))
        limit_address_space(160 << 20)
        print("predict", net.predict(X).shape, flush=True)
        outcome("train_step", lambda: net.train_step(X, [[0.0]], lr=0.1))
        outcome("gradients", lambda: net.gradients(X, [[0.0]]))
        print("predict again", net.predict(X).shape)
    """)
    assert "predict (1, 1)" in lines
    assert starts(lines, "train_step").startswith("train_step MemoryError")
    assert starts(lines, "gradients").startswith("gradients MemoryError")
    assert "predict again (1, 1)" in lines


# MARK: - No thread can be created


NO_THREADS = """
    import threading
    X = np.random.default_rng(0).uniform(-1, 1, (2048, 256))
    y = np.random.default_rng(1).uniform(0, 1, (2048, 10))
    net = sp.Network([256, 256, 256, 10], activation="relu", seed=0)
    if limited:
        # Root is exempt from RLIMIT_NPROC: become nobody first (everything
        # is imported by now, so no file under a private home is read).
        if os.geteuid() == 0:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
        try:
            threading.Thread(target=lambda: None).start()
            print("a thread could still be created")
        except RuntimeError:
            print("no thread can be created")
    # Batches of 1024 rows: products of 1024 x 256 x 256, split in two.
    history = net.fit(X, y, epochs=3, batch_size=1024, shuffle=False, lr=0.01)
    out = net.predict(X)
    print("loss", history.loss[-1].hex(), "sum", out.sum().hex())
"""


def test_large_products_complete_when_no_thread_can_be_created():
    """Under RLIMIT_NPROC = 0 (as ``nobody`` when root) no thread can be
    created; libdispatch's pool, which split large products before, retried
    forever there. The product now runs both halves on the calling thread,
    and the results are those of the two-thread run to the bit."""
    limited = run("limited = True\n" + textwrap.dedent(NO_THREADS),
                  timeout=120, cwd="/tmp")
    assert "no thread can be created" in limited
    free = run("limited = False\n" + textwrap.dedent(NO_THREADS), timeout=120)
    assert starts(limited, "loss") == starts(free, "loss")


# MARK: - What stays resident


RESIDENT = """
    rows = 200_000
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (rows, 100))
    y = rng.uniform(0, 1, (rows, 1))
    net = sp.Network([100, 64, 1], seed=0)
    net.predict(X[:10])
    before = resident()
    {call}
    print("held", (resident() - before) >> 20)
"""


@pytest.mark.parametrize("call", [
    "net.fit(X, y, epochs=2, lr=0.1)",
    "net.gradients(X, y)",
    "net.backward(X, y)",
    "net.train_step(X, y, lr=0.1)",
])
def test_a_call_on_a_large_batch_leaves_no_large_workspace(call):
    """A full batch of 200,000 rows takes a workspace of about 300 MiB
    (z, a and delta of 65 units per row, in float64) that used to stay
    until the network was dropped. Only up to 64 MiB of per-row buffers
    are kept after a call."""
    lines = run(RESIDENT.format(call=call))
    held = int(starts(lines, "held").split()[1])
    # backward also returns its deltas (rows x 65 values, 100 MiB), which
    # the script drops before measuring.
    assert held < 80, lines


# MARK: - Optimizer state


def adam_network():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([[0], [1], [1], [0]], dtype=float)
    net = sp.Network([2, 3, 1], seed=0)
    net.fit(X, y, epochs=3, lr=0.05, optimizer="adam")
    return net, X, y


def test_negative_second_moment_is_refused():
    net, X, y = adam_network()
    saved = net.get_optimizer_state()
    state = dict(saved, second=saved["second"].copy())
    state["second"][2] = -0.5
    with pytest.raises(ValueError, match=r"Adam's second moment has "
                       r"negative values \(-0\.5 at index 2\)"):
        net.set_optimizer_state(state)
    kept = net.get_optimizer_state()
    assert kept["step"] == saved["step"]
    assert (kept["second"] == saved["second"]).all()
    net.fit(X, y, epochs=5, lr=0.05, optimizer="adam")
    assert net.get_optimizer_state()["step"] == saved["step"] + 5


@pytest.mark.parametrize("step", [2**63 - 1, 2**53 + 1])
def test_step_counts_past_two_to_the_53_are_refused(step):
    net, X, y = adam_network()
    state = dict(net.get_optimizer_state(), step=step)
    with pytest.raises(ValueError, match=r"step must be <= 9007199254740992"):
        net.set_optimizer_state(state)
    state["step"] = 2**53
    net.set_optimizer_state(state)
    history = net.fit(X, y, epochs=2, lr=0.05, optimizer="adam")
    assert history.stop_reason != "diverged"
    assert all(np.isfinite(W).all() for W, _ in net.weights)


def test_load_refuses_a_file_with_an_impossible_adam_state(tmp_path):
    net, _, _ = adam_network()
    path = tmp_path / "net.npz"
    net.save(path)
    with np.load(path, allow_pickle=False) as archive:
        arrays = dict(archive)
    second = arrays["optimizer_second"].copy()
    second[0] = -1.0
    np.savez(path, **dict(arrays, optimizer_second=second))
    with pytest.raises(ValueError, match="second moment has negative values"):
        sp.Network.load(path)
    np.savez(path, **dict(arrays, optimizer_step=np.array(2**63 - 1)))
    with pytest.raises(ValueError, match="step must be <="):
        sp.Network.load(path)

"""Memory: long runs of calls, networks created and dropped by the
thousand, and error paths repeated by the ten thousand do not grow the
resident memory; every buffer the C shim acquires is released on every
path (checked exactly with memoryviews, which refuse to be released while
a buffer taken from them is still held); absurd requests raise MemoryError
instead of crashing."""

import gc
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import swiftprop as sp
from swiftprop import _codes, _engine
from swiftprop.optimizers import engine_settings

MB = 1024


def rss_kb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def growth_kb(run, warmup, rounds):
    """Resident memory added by ``rounds`` calls of ``run`` after
    ``warmup`` calls (the allocators' pools are filled by then)."""
    for _ in range(warmup):
        run()
    gc.collect()
    before = rss_kb()
    for _ in range(rounds):
        run()
    gc.collect()
    return rss_kb() - before


# ------------------------------------------------------------ long runs

def test_hundred_thousand_calls_do_not_grow_memory():
    rng = np.random.default_rng(0)
    nets = [sp.Network([3, 4, 2], seed=0),
            sp.Network([3, 5, 2], activation="relu", loss="cross_entropy",
                       seed=1),
            sp.Network([3, 2], dtype="float32", seed=2)]
    X = rng.uniform(-1, 1, (6, 3))
    targets = [rng.uniform(0, 1, (6, 2)), np.array([0, 1, 1, 0, 1, 0]),
               rng.uniform(0, 1, (6, 2))]
    counter = [0]

    def one_round():
        # fit, predict, gradients in turn on each network: 9 calls.
        for net, y in zip(nets, targets):
            net.fit(X, y, epochs=1, lr=0.01)
            net.predict(X)
            net.gradients(X, y)
        counter[0] += 9

    # No bound on the time: it moves with the machine's load (the suite's
    # timeout catches a hang).
    grown = growth_kb(one_round, warmup=1000, rounds=100_000 // 9 + 1)
    assert counter[0] >= 100_000
    assert grown < 10 * MB, f"RSS grew by {grown} kB over {counter[0]} calls"
    for net in nets:
        assert all(np.isfinite(W).all() for W, _ in net.weights)


def test_ten_thousand_networks_are_freed():
    X = np.ones((2, 16))

    def create_and_drop():
        net = sp.Network([16, 32, 8], seed=0)  # ~1 kB of parameters
        net.predict(X)

    grown = growth_kb(create_and_drop, warmup=1000, rounds=10_000)
    assert grown < 10 * MB, f"RSS grew by {grown} kB over 10,000 networks"


def test_dropped_networks_release_their_handles():
    nets = [sp.Network([2, 3, 1], seed=i) for i in range(100)]
    handles = [net._handle for net in nets]
    for handle in handles:
        assert _engine.info(handle)[2] == 2
    # Some in reference cycles, freed only by the cycle collector.
    for net in nets[::2]:
        net.myself = net
    del nets, net
    gc.collect()
    for handle in handles:
        with pytest.raises(ValueError, match="handle"):
            _engine.info(handle)
    # A destroyed handle is never reused for a new network.
    fresh = sp.Network([2, 3, 1], seed=0)
    assert fresh._handle not in handles


def test_destroy_twice_and_unknown_handles_are_harmless():
    net = sp.Network([2, 1], seed=0)
    handle = net._handle
    assert _engine.destroy(handle) is True
    assert _engine.destroy(handle) is False
    assert _engine.destroy(-1) is False
    assert _engine.destroy(0) is False
    with pytest.raises(ValueError, match="handle"):
        net.predict(np.zeros((1, 2)))
    del net
    gc.collect()  # its finalizer destroys the handle again: harmless


# --------------------------------------------------- buffers on error paths

def view(shape, fill=0.0, fmt="d", readonly=False):
    """A memoryview of ``shape`` over its own bytearray (or bytes)."""
    data = np.full(shape, fill, dtype="f8" if fmt == "d" else "f4").tobytes()
    base = bytes(data) if readonly else bytearray(data)
    return memoryview(base).cast("B").cast(fmt, shape)


def assert_released(*views):
    """Each memoryview can be released: nothing still holds its buffer."""
    for v in views:
        try:
            v.release()
        except BufferError as error:
            raise AssertionError(f"a buffer was not released: {error}")


def error_cases(net):
    """(description, call, views) for every error path of the shim after a
    first buffer has been acquired."""
    h, n_in, n_out, n_params = (net._handle, net.n_inputs, net.n_outputs,
                                net.n_parameters)
    width = sum(layer.n_out for layer in net.layers)
    sgd = engine_settings(sp.SGD(lr=0.1))
    kind, values = sgd
    bad_lr = (kind, (-1.0,) + values[1:])  # lr comes first
    cases = []

    def add(description, make):
        cases.append((description, make))

    def predict_case(x, out):
        return lambda: _engine.predict(h, x, out), [x, out]

    add("predict X bytes format", lambda: predict_case(
        memoryview(bytearray(32)), view((4, n_out))))
    add("predict X columns", lambda: predict_case(view((4, n_in + 1)),
                                                  view((4, n_out))))
    add("predict out read-only", lambda: predict_case(
        view((4, n_in)), view((4, n_out), readonly=True)))
    add("predict out columns", lambda: predict_case(
        view((4, n_in)), view((4, n_out + 1))))
    add("predict out float32", lambda: predict_case(
        view((4, n_in)), view((4, n_out), fmt="f")))
    add("predict NaN in X (engine)", lambda: predict_case(
        view((4, n_in), np.nan), view((4, n_out))))
    add("predict out rows (engine)", lambda: predict_case(
        view((4, n_in)), view((3, n_out))))

    def loss_case(x, y):
        return lambda: _engine.loss(h, x, y), [x, y]

    add("loss y columns", lambda: loss_case(view((4, n_in)),
                                            view((4, n_out + 2))))
    add("loss rows", lambda: loss_case(view((4, n_in)), view((5, n_out))))
    add("loss NaN in y (engine)", lambda: loss_case(
        view((4, n_in)), view((4, n_out), np.inf)))

    def gradients_case(x, y, out):
        return lambda: _engine.gradients(h, x, y, out), [x, y, out]

    add("gradients out read-only", lambda: gradients_case(
        view((4, n_in)), view((4, n_out)), view((n_params,), readonly=True)))
    add("gradients out size (engine)", lambda: gradients_case(
        view((4, n_in)), view((4, n_out)), view((n_params - 1,))))
    add("gradients y format", lambda: gradients_case(
        view((4, n_in)), view((4, n_out), fmt="f"), view((n_params,))))

    def numerical_case(x, y, out):
        return (lambda: _engine.numerical_gradients(h, x, y, 1e-6, out),
                [x, y, out])

    add("numerical out float32", lambda: numerical_case(
        view((4, n_in)), view((4, n_out)), view((n_params,), fmt="f")))
    add("numerical NaN (engine)", lambda: numerical_case(
        view((4, n_in), np.nan), view((4, n_out)), view((n_params,))))

    def step_case(x, y, optimizer):
        return lambda: _engine.train_step(h, x, y, optimizer), [x, y]

    add("train_step lr (engine)", lambda: step_case(
        view((4, n_in)), view((4, n_out)), bad_lr))
    add("train_step NaN (engine)", lambda: step_case(
        view((4, n_in), np.nan), view((4, n_out)), sgd))

    def forward_case(x, z, a):
        return lambda: _engine.forward(h, x, z, a), [x, z, a]

    add("forward z/a sizes", lambda: forward_case(
        view((4, n_in)), view((4 * width,)), view((4 * width + 1,))))
    add("forward a read-only", lambda: forward_case(
        view((4, n_in)), view((4 * width,)), view((4 * width,),
                                                  readonly=True)))
    add("forward size (engine)", lambda: forward_case(
        view((4, n_in)), view((3 * width,)), view((3 * width,))))

    def backward_case(x, y, d, g, dx):
        return lambda: _engine.backward(h, x, y, d, g, dx), [x, y, d, g, dx]

    add("backward dX columns", lambda: backward_case(
        view((4, n_in)), view((4, n_out)), view((4 * width,)),
        view((n_params,)), view((4, n_in + 1))))
    add("backward deltas size (engine)", lambda: backward_case(
        view((4, n_in)), view((4, n_out)), view((width,)),
        view((n_params,)), view((4, n_in))))

    def fit_case(x, y, vx, vy, losses, vals, norms, optimizer=sgd,
                 reporter=None, epochs=3):
        settings = (epochs, 4, False, 1 if reporter else 0, -1.0, 10,
                    20_000_000)
        return (lambda: _engine.fit(h, x, y, vx, vy, optimizer, settings,
                                    reporter, losses, vals, norms),
                [v for v in (x, y, vx, vy, losses, vals, norms)
                 if isinstance(v, memoryview)])

    layers = len(net.layers)
    add("fit validation y columns", lambda: fit_case(
        view((4, n_in)), view((4, n_out)), view((2, n_in)),
        view((2, n_out + 1)), view((3,)), view((3,)), view((3, layers))))
    add("fit history read-only", lambda: fit_case(
        view((4, n_in)), view((4, n_out)), None, None,
        view((3,), readonly=True), None, view((3, layers))))
    add("fit norms columns", lambda: fit_case(
        view((4, n_in)), view((4, n_out)), view((2, n_in)),
        view((2, n_out)), view((3,)), view((3,)), view((3, layers + 1))))
    add("fit history too short", lambda: fit_case(
        view((4, n_in)), view((4, n_out)), view((2, n_in)),
        view((2, n_out)), view((3,)), view((2,)), view((3, layers))))
    add("fit lr (engine)", lambda: fit_case(
        view((4, n_in)), view((4, n_out)), None, None, view((3,)), None,
        view((3, layers)), optimizer=bad_lr))

    def failing_reporter(epoch, loss, val_loss):
        raise KeyError("from the reporter")

    add("fit reporter raises", lambda: fit_case(
        view((4, n_in)), view((4, n_out)), view((2, n_in)),
        view((2, n_out)), view((3,)), view((3,)), view((3, layers)),
        reporter=failing_reporter))

    def parameters_case(values):
        return lambda: _engine.set_parameters(h, values), [values]

    add("set_parameters size (engine)", lambda: parameters_case(
        view((n_params + 1,))))
    add("get_parameters read-only", lambda: (
        (lambda v: (lambda: _engine.get_parameters(h, v), [v]))(
            view((n_params,), readonly=True))))

    def optimizer_case(call, first, second):
        return lambda: call(first, second), [first, second]

    add("get_optimizer sizes", lambda: optimizer_case(
        lambda a, b: _engine.get_optimizer(h, a, b), view((n_params,)),
        view((n_params - 1,))))
    add("set_optimizer sizes (engine)", lambda: optimizer_case(
        lambda a, b: _engine.set_optimizer(h, _codes.OPTIMIZER_KINDS["sgd"], 1, a, b),
        view((n_params + 1,)), view((n_params + 1,))))
    return cases


NETWORK = dict(layers=[3, 4, 2], seed=0)


@pytest.mark.parametrize("case", range(len(error_cases(sp.Network(
    **NETWORK)))), ids=[c[0] for c in error_cases(sp.Network(**NETWORK))])
def test_every_error_path_releases_every_buffer(case):
    net = sp.Network(**NETWORK)
    weights = net.weights
    description, make = error_cases(net)[case]
    call, views = make()
    with pytest.raises((ValueError, TypeError, FloatingPointError,
                        KeyError, RuntimeError)):
        call()
    assert_released(*views)
    if "reporter" in description:
        return  # the reporter runs after epoch 0 completed its step
    for (W, b), (W2, b2) in zip(weights, net.weights):
        np.testing.assert_array_equal(W, W2)
        np.testing.assert_array_equal(b, b2)


def test_success_paths_release_every_buffer_too():
    net = sp.Network(**NETWORK)
    h, width = net._handle, 4 + 2
    x, y, out = view((4, 3), 0.5), view((4, 2), 0.25), view((4, 2))
    _engine.predict(h, x, out)
    _engine.loss(h, x, y)
    g = view((net.n_parameters,))
    _engine.gradients(h, x, y, g)
    _engine.set_parameters(h, g)
    z, a = view((4 * width,)), view((4 * width,))
    _engine.forward(h, x, z, a)
    losses, norms = view((2,)), view((2, 2))
    _engine.fit(h, x, y, None, None, engine_settings(sp.SGD(lr=0.1)),
                (2, 4, False, 0, -1.0, 10, 20_000_000), None, losses, None,
                norms)
    assert_released(x, y, out, g, z, a, losses, norms)


def test_error_paths_repeated_fifty_thousand_times_do_not_leak():
    net = sp.Network(**NETWORK)
    h = net._handle
    cases = error_cases(net)
    wrong = np.ones((64, 3), dtype=np.float32)  # 64 rows: leaks would show
    out = np.empty((64, 2))

    def run():
        with pytest.raises(TypeError):
            _engine.predict(h, wrong.copy(), out)
        with pytest.raises(ValueError):
            _engine.predict(h, np.full((64, 3), np.nan), out)

    refs = sys.getrefcount(wrong), sys.getrefcount(out)
    grown = growth_kb(run, warmup=2000, rounds=25_000)  # 50,000 errors
    assert (sys.getrefcount(wrong), sys.getrefcount(out)) == refs
    assert grown < 10 * MB, f"RSS grew by {grown} kB over 50,000 errors"

    def run_all():
        for _, make in cases:
            call, views = make()
            try:
                call()
            except (ValueError, TypeError, FloatingPointError, KeyError,
                    RuntimeError):
                pass
            for v in views:
                v.release()

    grown = growth_kb(run_all, warmup=100, rounds=50_000 // len(cases))
    assert grown < 10 * MB, f"RSS grew by {grown} kB over 50,000 errors"


# ------------------------------------------------------- absurd requests

def test_absurd_network_raises_memory_error():
    with pytest.raises(MemoryError):
        sp.Network([1 << 30, 1 << 30, 1])
    with pytest.raises(MemoryError):
        sp.Network([1 << 30, 1 << 30, 1 << 30, 1], dtype="float32")
    sp.Network([2, 2, 1]).predict(np.zeros((1, 2)))  # still fine


def test_predict_whose_output_cannot_be_allocated_raises_memory_error():
    # 4 Mi outputs x 1 Mi rows of float64: a 32 TiB output.
    net = sp.Network([1, 1 << 22], activation="identity", seed=0)
    with pytest.raises(MemoryError):
        net.predict(np.zeros((1 << 20, 1)))
    # An input that cannot be made contiguous: an 8 TiB broadcast view.
    small = sp.Network([1, 2], seed=0)
    huge = np.broadcast_to(np.zeros((1, 1)), (1 << 40, 1))
    with pytest.raises(MemoryError):
        small.predict(huge)
    assert small.predict(np.zeros((1, 1))).shape == (1, 2)


def test_engine_workspace_that_cannot_be_allocated_raises_memory_error():
    """A batch whose hidden activations (4 Mi rows x 1 Mi units) cannot be
    allocated: the engine reports it as MemoryError, in a subprocess with
    a 3 GB address-space limit (so that nothing tries to use 32 TiB)."""
    script = textwrap.dedent("""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
        import numpy as np
        import swiftprop as sp
        net = sp.Network([1, 1 << 20, 1], activation="relu", seed=0)
        before = net.weights
        X = np.ones((1 << 22, 1))
        y = np.zeros((1 << 22, 1))
        for name, call in [("predict", lambda: net.predict(X)),
                           ("gradients", lambda: net.gradients(X, y)),
                           ("loss", lambda: net.loss(X, y)),
                           ("fit", lambda: net.fit(X, y, epochs=1))]:
            try:
                call()
            except MemoryError:
                print(name, "MemoryError")
            else:
                print(name, "no error")
        after = net.weights
        assert all((a == b).all() for pa, pb in zip(before, after)
                   for a, b in zip(pa, pb))
        print(net.predict(np.ones((2, 1))).shape)
    """)
    result = subprocess.run([sys.executable, "-c", script],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    lines = result.stdout.split("\n")
    for name in ("predict", "gradients", "loss", "fit"):
        assert f"{name} MemoryError" in lines, result.stdout
    assert "(2, 1)" in lines

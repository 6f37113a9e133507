"""Thread control (``swiftprop.threads``): ``set_num_threads`` /
``get_num_threads``, ``SWIFTPROP_NUM_THREADS``, the default from CPU
affinity and the cgroup quota, and the threadpoolctl controller. What the
engine does is observed through its own counts (products split over two
threads), not through timings; results never depend on the thread count."""

import os
import subprocess
import sys

import numpy as np
import pytest

import swiftprop as sp
from swiftprop import _dispatch, threads

RNG = np.random.default_rng(0)
# 256 × 256 × 96 multiply-adds: past the engine's two-thread limit (2^22).
X = RNG.uniform(-1, 1, (256, 96))
Y = RNG.uniform(-1, 1, (256, 4))
SIZES = [96, 256, 192, 4]


@pytest.fixture(autouse=True)
def restore_limit():
    before = threads.get_num_threads()
    yield
    sp.set_num_threads(before)


def split_products():
    return threads.thread_counts()["split_products"]


def large_fit(dtype="float64"):
    net = sp.Network(SIZES, activation="tanh", dtype=dtype, seed=0)
    net.fit(X, Y, epochs=2, batch_size=256, lr=0.01)
    return net


def test_set_and_get():
    sp.set_num_threads(1)
    assert sp.get_num_threads() == 1
    sp.set_num_threads(2)
    assert sp.get_num_threads() == 2
    # The engine splits a product over at most two threads.
    assert threads.MAXIMUM == 2
    sp.set_num_threads(64)
    assert sp.get_num_threads() == 2
    sp.set_num_threads(np.int64(1))
    assert sp.get_num_threads() == 1


@pytest.mark.parametrize("bad,error", [(0, ValueError), (-3, ValueError),
                                       (1.5, TypeError), (True, TypeError),
                                       ("2", TypeError), (None, TypeError)])
def test_bad_counts_are_refused_naming_the_argument(bad, error):
    sp.set_num_threads(1)
    with pytest.raises(error, match="n must be"):
        sp.set_num_threads(bad)
    assert sp.get_num_threads() == 1


def test_one_thread_keeps_every_product_on_the_calling_thread():
    sp.set_num_threads(1)
    before = split_products()
    large_fit()
    assert split_products() == before


def test_two_threads_split_large_products():
    sp.set_num_threads(2)
    before = split_products()
    large_fit()
    # Forward and backward products of two epochs: several, each counted
    # once (the helper may or may not get to run its part in time).
    assert split_products() - before >= 2


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_thread_count_does_not_change_a_bit(dtype):
    """Each thread computes whole column panels of a product, each element
    summed in the same order whichever thread runs it."""
    sp.set_num_threads(1)
    one = large_fit(dtype)
    sp.set_num_threads(2)
    two = large_fit(dtype)
    for (W1, b1), (W2, b2) in zip(one.weights, two.weights):
        np.testing.assert_array_equal(W1, W2)
        np.testing.assert_array_equal(b1, b2)
    np.testing.assert_array_equal(one.predict(X), two.predict(X))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("l2", [0.0, 1e-3])
def test_shared_updates_and_passes_do_not_change_a_bit(dtype, l2):
    """A network wide enough that the parameter update and the element-wise
    passes are cut into pieces the two threads share (at fixed places), and
    the gradient norms summed piece by piece."""
    sizes = [64, 640, 512, 4]
    rng = np.random.default_rng(4)
    X_wide = rng.standard_normal((512, sizes[0]))
    Y_wide = rng.uniform(-1, 1, (512, sizes[-1]))
    results = []
    for count in (1, 2):
        sp.set_num_threads(count)
        net = sp.Network(sizes, activation="relu", dtype=dtype, seed=1)
        history = net.fit(X_wide, Y_wide, epochs=2, batch_size=256, lr=0.01,
                          l2=l2, momentum=0.9)
        results.append((net, history))
    (one, h1), (two, h2) = results
    for (W1, b1), (W2, b2) in zip(one.weights, two.weights):
        np.testing.assert_array_equal(W1, W2)
        np.testing.assert_array_equal(b1, b2)
    np.testing.assert_array_equal(h1.loss, h2.loss)
    np.testing.assert_array_equal(h1.grad_norms, h2.grad_norms)


# ------------------------------------------------------------- the default

def run_python(code, env=None, preexec_fn=None):
    environment = {k: v for k, v in os.environ.items()
                   if k != threads.ENVIRONMENT}
    environment.update(env or {})
    result = subprocess.run([sys.executable, "-c", code], env=environment,
                            capture_output=True, text=True, timeout=120,
                            preexec_fn=preexec_fn)
    assert result.returncode == 0, result.stderr
    return result


def test_the_environment_variable_sets_the_limit():
    code = "import swiftprop as sp; print(sp.get_num_threads())"
    assert run_python(code, {threads.ENVIRONMENT: "1"}).stdout.strip() == "1"
    result = run_python(code, {threads.ENVIRONMENT: "lots"})
    assert "SWIFTPROP_NUM_THREADS must be an integer >= 1, got 'lots'" \
        in result.stderr
    assert result.stdout.strip() == str(min(threads.available_cpus(),
                                            threads.MAXIMUM))


def test_the_default_respects_cpu_affinity():
    first = min(os.sched_getaffinity(0))
    result = run_python(
        "import swiftprop as sp, swiftprop.threads as t; "
        "print(sp.get_num_threads(), t.available_cpus())",
        preexec_fn=lambda: os.sched_setaffinity(0, {first}))
    assert result.stdout.split() == ["1", "1"]


def cgroup(tmp_path, membership, files):
    (tmp_path / "self-cgroup").write_text(membership)
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    return threads.cgroup_cpu_limit(root=tmp_path / "fs",
                                    membership=tmp_path / "self-cgroup")


def test_the_cgroup_quota_caps_the_default(tmp_path):
    # cgroup v2: quota / period, rounded up; "max" is no limit.
    assert cgroup(tmp_path, "0::/\n", {"fs/cpu.max": "150000 100000\n"}) == 2
    assert cgroup(tmp_path, "0::/\n", {"fs/cpu.max": "max 100000\n"}) is None
    # The smallest quota along the process's cgroup and its parents.
    assert cgroup(tmp_path, "0::/jobs/job7\n", {
        "fs/cpu.max": "max 100000\n", "fs/jobs/cpu.max": "50000 100000\n",
        "fs/jobs/job7/cpu.max": "400000 100000\n"}) == 1
    # cgroup v1.
    assert cgroup(tmp_path, "12:cpu,cpuacct:/\n", {
        "fs/cpu/cpu.cfs_quota_us": "300000\n",
        "fs/cpu/cpu.cfs_period_us": "100000\n"}) == 3


def test_no_cgroup_files_means_no_limit(tmp_path):
    assert cgroup(tmp_path, "", {}) is None


# ----------------------------------------------------------- threadpoolctl

threadpoolctl = pytest.importorskip("threadpoolctl")


def our_pools():
    return [info for info in threadpoolctl.threadpool_info()
            if info["user_api"] == "swiftprop"]


def test_threadpoolctl_lists_the_engine():
    sp.set_num_threads(2)
    (info,) = our_pools()
    assert info["internal_api"] == "swiftprop"
    assert info["num_threads"] == 2
    assert info["version"] == sp.__version__
    assert info["cpu_level"] == _dispatch.LEVEL
    assert os.path.dirname(info["filepath"]) == str(
        _dispatch.INSTALLED[_dispatch.LEVEL].parent)


def test_threadpool_limits_limits_the_engine():
    sp.set_num_threads(2)
    with threadpoolctl.threadpool_limits(limits=1):
        assert sp.get_num_threads() == 1
        assert our_pools()[0]["num_threads"] == 1
        before = split_products()
        large_fit()
        assert split_products() == before
    assert sp.get_num_threads() == 2
    with threadpoolctl.threadpool_limits(limits=1, user_api="swiftprop"):
        assert sp.get_num_threads() == 1
    assert sp.get_num_threads() == 2

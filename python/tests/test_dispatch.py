"""Run-time CPU dispatch (``swiftprop._dispatch``): which level is chosen
for which CPU, what a forced level does, every level this machine runs
against the NumPy reference, bit-identity where the arithmetic is the same,
and an emulated older CPU (qemu-user) that must get the baseline kernels or
a clear ImportError, never SIGILL (exit 132)."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import swiftprop as sp
from swiftprop import _dispatch, _engine, reference

from conftest import HIDDEN_ACTIVATIONS, OUTPUT_LOSS_PAIRS, random_data

# ---------------------------------------------------------------- choosing

ALL = {name: True for level in _dispatch.NAMES
       for name in _dispatch.required_features(level)}
INSTALLED = {name: f"/x/{name}" for name in _dispatch.NAMES}


def without(*names):
    return {**ALL, **{name: False for name in names}}


def test_the_highest_level_the_cpu_runs_is_chosen():
    assert _dispatch.choose(ALL, INSTALLED)[0] == "avx512"
    assert _dispatch.choose(without("avx512bw"), INSTALLED)[0] == "avx2"
    assert _dispatch.choose(without("fma", "avx512f"), INSTALLED)[0] == "baseline"
    # AVX-512 reported by the CPU but its state not enabled by the OS.
    assert _dispatch.choose(without("os_avx512"), INSTALLED)[0] == "avx2"
    assert _dispatch.choose(without("os_avx"), INSTALLED)[0] == "baseline"


def test_only_installed_levels_are_chosen():
    installed = {"baseline": "b", "avx2": "a"}
    assert _dispatch.choose(ALL, installed)[0] == "avx2"
    with pytest.raises(ImportError, match="built without it.*baseline, avx2"):
        _dispatch.choose(ALL, installed, forced="avx512")


def test_a_forced_level_may_only_lower_it():
    assert _dispatch.choose(ALL, INSTALLED, forced="baseline") == (
        "baseline", "forced by SWIFTPROP_CPU_LEVEL")
    with pytest.raises(ImportError, match=r"'avx512'.*lacks avx512dq, "
                       r"avx512vl; it runs: baseline, avx2"):
        _dispatch.choose(without("avx512dq", "avx512vl"), INSTALLED,
                         forced="avx512")
    with pytest.raises(ImportError, match="'avx3' is not a CPU level; "
                       "expected one of: baseline, avx2, avx512"):
        _dispatch.choose(ALL, INSTALLED, forced="avx3")


def test_a_cpu_below_the_baseline_gets_an_import_error_naming_the_features():
    with pytest.raises(ImportError, match=r"x86-64-v2\); this CPU lacks "
                       r"sse4_2, popcnt$"):
        _dispatch.choose(without("sse4_2", "popcnt", "avx"), INSTALLED)


def test_the_loaded_engine_is_the_chosen_level():
    assert sp.show_config(mode="dicts")["engine"]["cpu_level"] == _dispatch.LEVEL
    assert _engine.__file__ == str(_dispatch.INSTALLED[_dispatch.LEVEL])
    tile_rows, fused = _engine.build_info()
    assert (tile_rows, fused) == EXPECTED_BUILD[_dispatch.LEVEL]


def test_show_config_prints_level_cpu_threads_and_versions(capsys):
    assert sp.show_config() is None
    text = capsys.readouterr().out
    for needle in (f"cpu_level: {_dispatch.LEVEL}", "levels_supported:",
                   f"num_threads: {sp.get_num_threads()}",
                   f"numpy: {np.__version__}", f"swiftprop: {sp.__version__}"):
        assert needle in text
    with pytest.raises(ValueError, match="mode must be"):
        sp.show_config(mode="json")


# ----------------------------------------------- each level against NumPy

# What each level's engine reports it was compiled for (sp_build_info):
# the matrix tile's rows and whether products fuse multiply-adds.
EXPECTED_BUILD = {"baseline": (6, False), "avx2": (6, True),
                  "avx512": (8, True), "native": None}
EXPECTED_BUILD["native"] = _engine.build_info()  # other architectures
RUNNABLE = [level for level in _dispatch.supported_levels(_dispatch.FEATURES)
            if level in _dispatch.INSTALLED]

# Every hidden activation and every (output, loss) pair, each optimizer, in
# float64 and float32; mini-batches of 64 rows run the register-tiled
# kernel, and the last case's full batch of 256 rows (256·256·96 products)
# is split over two threads.
CASES = (
    [dict(sizes=[24, 40, 32, 3], hidden=hidden, output="identity", loss="mse",
          fit=dict(optimizer="sgd", lr=0.05, momentum=0.9))
     for hidden in HIDDEN_ACTIVATIONS]
    + [dict(sizes=[24, 40, 32, 4], hidden="tanh", output=output, loss=loss,
            fit=dict(optimizer="adam", lr=0.01))
       for output, loss in OUTPUT_LOSS_PAIRS]
    + [dict(sizes=[24, 48, 3], hidden="relu", output="identity", loss="mse",
            fit=dict(optimizer=name, lr=0.005))
       for name in sp.OPTIMIZERS]
    + [dict(sizes=[96, 256, 192, 4], hidden="tanh", output="identity",
            loss="mse", n_samples=256, batch_size=256,
            fit=dict(optimizer="sgd", lr=0.01))])
DTYPES = ["float64", "float32"]
TOLERANCE = {"float64": 1e-10, "float32": 1e-4}

# Runs in a fresh process per level: builds each case's network, takes its
# gradients, fits it for 3 epochs, and saves gradients, weights and
# predictions.
ENGINE_RUN = """
import json, sys, numpy as np, swiftprop as sp
from swiftprop import _dispatch, _engine
cases, data, out = json.loads(sys.argv[1]), np.load(sys.argv[2]), sys.argv[3]
results = {"level": _dispatch.LEVEL, "build": list(_engine.build_info())}
arrays = {}
for i, case in enumerate(cases):
    for dtype in %r:
        key = f"{i}-{dtype}"
        X, y = data[f"{i}-X"], data[f"{i}-y"]
        net = sp.Network(case["sizes"], activation=case["hidden"],
                         output_activation=case["output"], loss=case["loss"],
                         dtype=dtype, seed=i)
        for l, (dW, db) in enumerate(net.gradients(X, y)):
            arrays[f"{key}-grad-W{l}"], arrays[f"{key}-grad-b{l}"] = dW, db
        net.fit(X, y, epochs=3, batch_size=case.get("batch_size", 64),
                shuffle=False, **case["fit"])
        for l, (W, b) in enumerate(net.weights):
            arrays[f"{key}-W{l}"], arrays[f"{key}-b{l}"] = W, b
        arrays[f"{key}-predict"] = net.predict(X)
np.savez(out, **arrays)
print(json.dumps(results))
""" % (DTYPES,)


def case_data(i, case):
    return random_data(case["loss"], case.get("n_samples", 200),
                       case["sizes"][0], case["sizes"][-1], seed=i)


@pytest.fixture(scope="module")
def level_results(tmp_path_factory):
    """{level: (report, arrays)} for every level this machine runs."""
    folder = tmp_path_factory.mktemp("levels")
    data = {}
    for i, case in enumerate(CASES):
        data[f"{i}-X"], data[f"{i}-y"] = case_data(i, case)
    np.savez(folder / "data.npz", **data)
    results = {}
    for level in RUNNABLE:
        out = folder / f"{level}.npz"
        run = subprocess.run(
            [sys.executable, "-c", ENGINE_RUN, json.dumps(CASES),
             str(folder / "data.npz"), str(out)],
            env={**os.environ, "SWIFTPROP_CPU_LEVEL": level},
            capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr
        report = json.loads(run.stdout.splitlines()[-1])
        results[level] = report, dict(np.load(out))
    return results


@pytest.fixture(scope="module")
def reference_results():
    arrays = {}
    for i, case in enumerate(CASES):
        X, y = case_data(i, case)
        for dtype in DTYPES:
            key = f"{i}-{dtype}"
            net = reference.Network(
                case["sizes"], activation=case["hidden"],
                output_activation=case["output"], loss=case["loss"],
                dtype=dtype, seed=i)
            for l, (dW, db) in enumerate(net.gradients(X, y)):
                arrays[f"{key}-grad-W{l}"], arrays[f"{key}-grad-b{l}"] = dW, db
            net.fit(X, y, epochs=3, batch_size=case.get("batch_size", 64),
                    shuffle=False, **case["fit"])
            for l, (W, b) in enumerate(net.weights):
                arrays[f"{key}-W{l}"], arrays[f"{key}-b{l}"] = W, b
            arrays[f"{key}-predict"] = net.predict(X)
    return arrays


def relative_difference(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)


@pytest.mark.parametrize("level", RUNNABLE)
def test_each_level_agrees_with_the_numpy_reference(level, level_results,
                                                    reference_results):
    report, arrays = level_results[level]
    assert report["level"] == level
    assert tuple(report["build"]) == EXPECTED_BUILD[level]
    assert arrays.keys() == reference_results.keys()
    for key, expected in reference_results.items():
        tolerance = TOLERANCE[key.split("-")[1]]
        difference = relative_difference(arrays[key], expected)
        assert difference <= tolerance, (
            f"{level} {key} ({CASES[int(key.split('-')[0])]}): "
            f"relative difference {difference:.3g}")


@pytest.mark.skipif(
    not {"avx2", "avx512"} <= set(RUNNABLE),
    reason=f"this machine runs {RUNNABLE}, not both avx2 and avx512")
def test_the_fma_levels_give_the_same_bits(level_results):
    """avx2 and avx512 run the same arithmetic: the same fused
    multiply-adds in the same order for every element of a product (the
    8-row tile changes which rows share a pass, not any element's sum),
    the same lane-by-lane formulas on 256- or 512-bit vectors, and the same
    C library functions. Their results are equal to the bit. (The baseline
    rounds each product term and sum separately, without FMA: close, not
    equal; test_each_level_agrees_with_the_numpy_reference holds it to
    1e-10.)"""
    (_, first), (_, second) = level_results["avx2"], level_results["avx512"]
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)



# ----------------------------------------------------- an emulated old CPU

QEMU = shutil.which("qemu-x86_64")
needs_qemu = pytest.mark.skipif(
    QEMU is None, reason="qemu-x86_64 is not installed (Debian: apt-get "
    "install qemu-user; .ci/run installs it)")

# NumPy's bundled OpenBLAS picks its kernels from the CPU model and dies
# with SIGILL under qemu-user's Nehalem unless told the core type; that is
# NumPy's, not ours, so the emulated runs name it.
QEMU_ENV = {"OPENBLAS_CORETYPE": "Nehalem"}

TRAIN_AND_COMPARE = """
import numpy as np, swiftprop as sp
from swiftprop import _dispatch, _engine, reference
rng = np.random.default_rng(0)
X = rng.standard_normal((64, 12)); y = rng.standard_normal((64, 2))
kw = dict(activation="tanh", seed=0)
a, b = sp.Network([12, 16, 2], **kw), reference.Network([12, 16, 2], **kw)
fit = dict(epochs=5, batch_size=16, optimizer="adam", lr=1e-2)
a.fit(X, y, **fit); b.fit(X, y, **fit)
print(_dispatch.LEVEL, _engine.build_info()[1], max(
    float(np.abs(p - q).max() / np.abs(q).max())
    for (p, _), (q, _) in zip(a.weights, b.weights)))
"""


def emulated(cpu, code):
    arguments = [QEMU, "-cpu", cpu]
    for name, value in QEMU_ENV.items():
        arguments += ["-E", f"{name}={value}"]
    env = {k: v for k, v in os.environ.items()
           if k not in ("SWIFTPROP_CPU_LEVEL",)}
    return subprocess.run([*arguments, sys.executable, "-c", code], env=env,
                          capture_output=True, text=True, timeout=600)


@needs_qemu
def test_a_cpu_without_avx_trains_on_the_baseline_kernels():
    run = emulated("Nehalem", TRAIN_AND_COMPARE)
    assert run.returncode != 132 and run.returncode != -4, "SIGILL"
    assert run.returncode == 0, run.stderr
    level, fused, difference = run.stdout.split()
    assert (level, fused) == ("baseline", "False")
    assert float(difference) < 1e-10


@needs_qemu
def test_a_cpu_below_the_baseline_gets_a_clear_import_error():
    # Core 2: SSSE3, but no SSE4.1, SSE4.2 or POPCNT (x86-64-v2).
    run = emulated("core2duo", "import swiftprop")
    assert run.returncode != 132 and run.returncode != -4, "SIGILL"
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: swiftprop needs an x86-64 CPU with")
    assert last.endswith("this CPU lacks sse4_1, sse4_2, popcnt")

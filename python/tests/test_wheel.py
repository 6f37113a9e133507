"""``pip wheel .`` gives a self-contained wheel: its shared libraries need
only the C/C++ runtimes (no Swift toolchain), and it imports and trains from
an unpacked copy with the toolchain hidden from PATH and the loader. The
wheel is built portable (``SWIFTPROP_PORTABLE=1``, as wheels to share are),
so this also runs that build's engine against the NumPy reference.

Needs the source tree: scripts/test.sh sets SWIFTPROP_SOURCE to it.
"""

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

SOURCE = os.environ.get("SWIFTPROP_SOURCE")

pytestmark = pytest.mark.skipif(
    not SOURCE, reason="SWIFTPROP_SOURCE (the source tree) is not set; "
    "scripts/test.sh sets it")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(out), SOURCE],
                   check=True, timeout=900,
                   env={**os.environ, "SWIFTPROP_PORTABLE": "1"})
    wheels = list(out.glob("swiftprop-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def test_wheel_holds_the_engine_and_the_extension(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "swiftprop/libSwiftpropEngine.so" in names
    assert any(re.match(r"swiftprop/_engine\..*\.so$", n) for n in names)
    assert "swiftprop/reference.py" in names


def test_wheel_imports_without_the_swift_toolchain(wheel, tmp_path):
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    for library in (tmp_path / "site" / "swiftprop").glob("*.so"):
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
            "print(max(float(np.abs(p - q).max() / np.abs(q).max()) "
            "for (p, _), (q, _) in zip(a.weights, b.weights)))")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path,
                            env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    location, difference = result.stdout.split()
    assert location.startswith(str(tmp_path / "site"))
    assert float(difference) < 1e-10

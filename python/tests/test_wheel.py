"""``pip wheel .`` gives a self-contained wheel: its shared libraries need
only the C/C++ runtimes (no Swift toolchain), and it imports and trains from
an unpacked copy with the toolchain hidden from PATH and the loader.

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
                   check=True, timeout=900)
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
    code = ("import numpy as np, swiftprop as sp; "
            "net = sp.Network([2, 4, 1], seed=0); "
            "h = net.fit(np.eye(2), np.ones((2, 1)), epochs=5); "
            "print(sp.__file__)")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path,
                            env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(str(tmp_path / "site"))

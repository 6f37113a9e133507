"""The installed package stands on its own: the Swift runtime is linked
statically, each CPU level's extension finds its engine beside it (rpath
$ORIGIN), and nothing depends on the build tree, the Swift toolchain or the
loader path."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import swiftprop

PACKAGE = Path(swiftprop.__file__).resolve().parent


def shared_libraries():
    return sorted(PACKAGE.rglob("*.so"))


def test_engine_library_and_extension_are_installed_for_each_level():
    assert any(path.name.startswith("_cpu.") for path in PACKAGE.glob("*.so"))
    levels = sorted(path.name for path in (PACKAGE / "_kernels").iterdir())
    assert levels, "no engine build in swiftprop/_kernels"
    for level in levels:
        names = [path.name for path in (PACKAGE / "_kernels" / level).glob("*.so")]
        assert "libSwiftpropEngine.so" in names, level
        assert any(name.startswith("_engine.") for name in names), level


@pytest.mark.skipif(shutil.which("ldd") is None, reason="ldd is not available")
def test_no_swift_runtime_or_libpython_is_needed_at_run_time():
    for library in shared_libraries():
        output = subprocess.run(["ldd", "-r", str(library)], capture_output=True,
                                text=True, check=True).stdout
        assert "not found" not in output, output
        assert "undefined symbol" not in output or library.name.startswith(
            ("_engine.", "_cpu.")), output  # Python's symbols come from the host
        # Only the C and C++ runtimes: no Swift runtime, Dispatch or
        # Foundation library, and no libpython (the host provides Python).
        assert not re.search(r"libswift(?!prop)|libdispatch|libBlocksRuntime|"
                             r"libFoundation|libpython", output,
                             re.IGNORECASE), output


def test_imports_and_trains_with_the_toolchain_hidden(tmp_path):
    env = {key: value for key, value in os.environ.items()
           if key not in ("LD_LIBRARY_PATH", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(
        part for part in env.get("PATH", "").split(os.pathsep)
        if "swift" not in part.lower())
    code = ("import numpy as np, swiftprop as sp; "
            "net = sp.Network([2, 3, 1], seed=0); "
            "h = net.fit(np.eye(2), np.ones((2, 1)), epochs=3); "
            "print(len(h.loss), sp.__file__)")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "3"
    assert str(Path(result.stdout.split()[1]).parent) == str(PACKAGE)

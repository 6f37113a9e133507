"""Builds the Swift engine, then the CPython extension that loads it.

``pip install .`` runs ``swift build -c release`` on the SwiftPM package at
the root (Swift's standard library linked statically, so the resulting
``libSwiftpropEngine.so`` needs only libc, libm, libstdc++ and libgcc_s),
copies that library into the package, and links ``swiftprop._engine``
against it with rpath ``$ORIGIN``: the installed package imports from any
directory with no Swift toolchain on the loader path.

Environment:
``SWIFTPROP_PORTABLE=1``  build for the x86-64-v3 baseline (AVX2) instead
                          of this machine's CPU (``-march=native``; on a
                          CPU with AVX-512's 32 vector registers the
                          matrix kernel then computes 8 rows at a time
                          instead of 6).
``SWIFT``                 the swift driver to call (default: ``swift`` on
                          PATH, else /opt/swift/usr/bin/swift, by name).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
LIBRARY = "libSwiftpropEngine.so"


def swift_driver():
    """The swift driver, called by its own name (it picks its mode from it)."""
    if os.environ.get("SWIFT"):
        return os.environ["SWIFT"]
    if shutil.which("swift"):
        return "swift"
    fallback = Path("/opt/swift/usr/bin/swift")
    if fallback.exists():
        return str(fallback)
    sys.exit("swiftprop needs Swift >= 6 (the `swift` command was not found)")


def has_wide_registers():
    """True when this machine's CPU has AVX-512 (32 vector registers)."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return {"avx512f", "avx512vl"} <= flags
    return False


def portable():
    return os.environ.get("SWIFTPROP_PORTABLE", "") not in ("", "0")


def cpu_flags():
    if portable():
        return ["-Xcc", "-march=x86-64-v3"]
    flags = ["-Xcc", "-march=native"]
    if has_wide_registers():
        flags += ["-Xswiftc", "-DSWIFTPROP_WIDE_TILE"]
    return flags


class BuildSwiftThenExtension(build_ext):
    """Builds the Swift package first, then the extension beside it."""

    def run(self):
        command = [swift_driver(), "build", "-c", "release",
                   "--package-path", str(ROOT),
                   "-Xswiftc", "-static-stdlib", *cpu_flags()]
        if portable():
            # A build folder of its own, so that a portable build (a wheel)
            # and a native one (an install) do not rebuild each other.
            command += ["--scratch-path", str(ROOT / ".build-portable")]
        print("building the Swift engine:", " ".join(command), flush=True)
        subprocess.run(command, check=True)
        products = subprocess.run(command + ["--show-bin-path"], check=True,
                                  capture_output=True, text=True)
        library = Path(products.stdout.strip()) / LIBRARY
        package_dir = Path(self.build_lib) / "swiftprop"
        package_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(library, package_dir / LIBRARY)
        if self.inplace:
            shutil.copy2(library, ROOT / "python" / "swiftprop" / LIBRARY)
        for extension in self.extensions:
            extension.library_dirs.append(str(library.parent))
        super().run()


engine = Extension(
    "swiftprop._engine",
    sources=["python/swiftprop/_engine.c"],
    include_dirs=["Sources/CSwiftprop/include"],
    libraries=["SwiftpropEngine"],
    extra_compile_args=["-O2", "-std=c11"],
    extra_link_args=["-Wl,-rpath,$ORIGIN"],
    depends=["Sources/CSwiftprop/include/swiftprop.h"],
)

setup(ext_modules=[engine], cmdclass={"build_ext": BuildSwiftThenExtension})

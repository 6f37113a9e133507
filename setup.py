"""Builds the Swift engine once per CPU level, then the CPython extensions
that load it.

``pip install .`` runs ``swift build -c release`` on the SwiftPM package at
the root once per CPU level (Swift's standard library linked statically, so
each ``libSwiftpropEngine.so`` needs only libc, libm, libstdc++ and
libgcc_s), each in a build folder of its own and side by side (a release
build runs on about one core), and links one copy of the extension
``_engine`` against each, with rpath ``$ORIGIN``::

    swiftprop/_kernels/baseline/  x86-64-v2 (SSE4.2, POPCNT; no FMA)
    swiftprop/_kernels/avx2/      x86-64-v3 (AVX2, FMA)
    swiftprop/_kernels/avx512/    x86-64-v4 (AVX-512), 8-row matrix tile

plus ``swiftprop._cpu``, a small module compiled for plain x86-64 that asks
the CPU (cpuid, xgetbv) which levels it and the OS support. At import,
``swiftprop._dispatch`` loads exactly one level's extension as
``swiftprop._engine`` (one Swift runtime per process). Every extension uses
CPython's limited API (3.11) on CPython >= 3.11, so a wheel is
``cp311-abi3``; on 3.10 they are built for that version.

Environment:
``SWIFTPROP_CPU_LEVELS``  comma-separated levels to build (default: all
                          three). ``native`` builds only the highest level
                          this machine runs: a developer's shortcut (one
                          Swift build instead of three); an install or a
                          wheel to share keeps the default.
``SWIFT``                 the swift driver to call (default: ``swift`` on
                          PATH, else /opt/swift/usr/bin/swift, by name).
On a CPU other than x86-64 one level, ``native``, is built for the build
machine's CPU.
"""

import os
import platform
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
LIBRARY = "libSwiftpropEngine.so"
X86_64 = platform.machine().lower() in ("x86_64", "amd64")

# Each level: the -march it is compiled for and its Swift conditions. The
# names and their order are those of swiftprop/_dispatch.py.
LEVELS = {
    "baseline": (["-Xcc", "-march=x86-64-v2"], ["-DSWIFTPROP_NO_FMA"]),
    "avx2": (["-Xcc", "-march=x86-64-v3"], []),
    "avx512": (["-Xcc", "-march=x86-64-v4"], ["-DSWIFTPROP_WIDE_TILE"]),
}
# The limited API of CPython 3.11 (the buffer protocol joined it in 3.11).
LIMITED_API = sys.version_info >= (3, 11)


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


def cpu_flags_of_this_machine():
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def native_level():
    """The highest level this machine runs (as the kernel reports it)."""
    flags = cpu_flags_of_this_machine()
    if {"avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"} <= flags:
        return "avx512"
    if {"avx2", "fma", "bmi1", "bmi2", "f16c", "movbe", "abm"} <= flags:
        return "avx2"
    return "baseline"


def levels_to_build():
    """[(name, swift build flags)], from SWIFTPROP_CPU_LEVELS."""
    if os.environ.get("SWIFTPROP_PORTABLE"):
        print("setup.py: SWIFTPROP_PORTABLE is no longer needed (every build "
              "carries all CPU levels; SWIFTPROP_CPU_LEVELS picks others)",
              flush=True)
    if not X86_64:
        return [("native", ["-Xcc", "-march=native"])]
    wanted = os.environ.get("SWIFTPROP_CPU_LEVELS", "").strip() or ",".join(LEVELS)
    names = [name.strip() for name in wanted.split(",") if name.strip()]
    names = [native_level() if name == "native" else name for name in names]
    unknown = [name for name in names if name not in LEVELS]
    if unknown:
        sys.exit(f"SWIFTPROP_CPU_LEVELS: unknown level {unknown[0]!r}; "
                 f"expected a comma-separated list of: native, {', '.join(LEVELS)}")
    builds = []
    for name in dict.fromkeys(names):
        cc_flags, conditions = LEVELS[name]
        flags = list(cc_flags)
        for condition in conditions:
            flags += ["-Xswiftc", condition]
        builds.append((name, flags))
    return builds


def limited(extension):
    """Marks an extension as using the 3.11 limited API (abi3), on 3.11+."""
    if LIMITED_API:
        extension.py_limited_api = True
        extension.define_macros.append(("Py_LIMITED_API", "0x030B0000"))
    return extension


def usable_cpus():
    """CPUs this process may run on (its affinity mask), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def build_levels(levels):
    """Runs ``swift build -c release`` for every level, up to one more at
    once than there are usable CPUs; returns each level's library path, in order.

    A release build compiles each module as a whole (whole-module
    optimisation), on about one core: 159 s of wall time and 174 s of CPU
    for one level here. So the levels build side by side, each in its own
    folder; each build's output is printed when it ends, in level order.
    """
    def command(name, flags):
        # A build folder per level: a level's build never rebuilds
        # another's, and a second `pip install` reuses all of them.
        return [swift_driver(), "build", "-c", "release",
                "--package-path", str(ROOT),
                "--scratch-path", str(ROOT / f".build-{name}"),
                "-Xswiftc", "-static-stdlib", *flags]

    def build(level):
        return subprocess.run(command(*level), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)

    # One more than the CPUs: with three levels on two CPUs, no core waits
    # out the last build alone (233 s here, against 308 s two at a time).
    # At least one worker, so an empty list of levels builds nothing.
    jobs = max(1, min(len(levels), usable_cpus() + 1))
    print(f"building the Swift engine for {len(levels)} CPU level(s), "
          f"{jobs} at a time:", flush=True)
    for level in levels:
        print("  " + " ".join(command(*level)), flush=True)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(build, levels))
    for (name, _), result in zip(levels, results):
        print(f"--- swift build ({name}), exit status {result.returncode}:\n"
              + result.stdout, flush=True)
    failed = [name for (name, _), result in zip(levels, results)
              if result.returncode != 0]
    if failed:
        sys.exit(f"swift build failed for level(s) {', '.join(failed)} "
                 "(the output is above)")
    libraries = []
    for level in levels:
        shown = subprocess.run(command(*level) + ["--show-bin-path"],
                               check=True, capture_output=True, text=True)
        libraries.append(Path(shown.stdout.strip()) / LIBRARY)
    return libraries


class BuildSwiftThenExtension(build_ext):
    """Builds the Swift package once per level, then the extensions."""

    def run(self):
        extensions = [extension for extension in self.extensions
                      if getattr(extension, "swift_level", None) is not None]
        libraries = build_levels([extension.swift_level
                                  for extension in extensions])
        for extension, library in zip(extensions, libraries):
            name, _ = extension.swift_level
            relative = Path("swiftprop") / "_kernels" / name
            for target in [Path(self.build_lib) / relative] + (
                    [ROOT / "python" / relative] if self.inplace else []):
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(library, target / LIBRARY)
            extension.library_dirs.append(str(library.parent))
        super().run()


def engine_extension(name, flags):
    """The extension of one level, linked against that level's library."""
    extension = limited(Extension(
        f"swiftprop._kernels.{name}._engine",
        sources=["python/swiftprop/_engine.c"],
        include_dirs=["Sources/CSwiftprop/include"],
        libraries=["SwiftpropEngine"],
        # The C shim is not where the time goes: compiled for the baseline
        # at every level. A macro outside the limited API is then an
        # undeclared function: an error here, not an undefined symbol at
        # import.
        extra_compile_args=["-O2", "-std=c11",
                            "-Werror=implicit-function-declaration"],
        extra_link_args=["-Wl,-rpath,$ORIGIN"],
        depends=["Sources/CSwiftprop/include/swiftprop.h"],
    ))
    extension.swift_level = (name, flags)
    return extension


# Compiled for plain x86-64 (whatever the compiler's default), so that it
# runs on any x86-64 CPU and can say which features are missing.
cpu = limited(Extension(
    "swiftprop._cpu",
    sources=["python/swiftprop/_cpu.c"],
    extra_compile_args=["-O2", "-std=c11"] + (["-march=x86-64", "-mtune=generic"]
                                               if X86_64 else []),
    # It calls nothing in libc, but a module that names no libc is one
    # auditwheel cannot place (it reads the libc version from there).
    extra_link_args=["-Wl,--no-as-needed", "-lc"],
))

options = {"bdist_wheel": {"py_limited_api": "cp311"}} if LIMITED_API else {}
setup(ext_modules=[cpu, *(engine_extension(name, flags)
                         for name, flags in levels_to_build())],
      cmdclass={"build_ext": BuildSwiftThenExtension},
      options=options)

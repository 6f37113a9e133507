"""Run-time CPU dispatch: loads the one build of the engine this CPU runs.

The package carries the Swift engine and its extension once per CPU level,
in ``swiftprop/_kernels/<level>/`` (``setup.py``):

========  =========  ==================================================
level     -march     what it adds
========  =========  ==================================================
baseline  x86-64-v2  SSE4.2, POPCNT (every x86-64 CPU since 2009); no
                     FMA: a product's multiply-adds round twice
avx2      x86-64-v3  AVX2, FMA, BMI: 256-bit vectors, fused multiply-adds
avx512    x86-64-v4  AVX-512: 512-bit vectors, 32 registers, the 8-row
                     matrix tile
========  =========  ==================================================

At ``import swiftprop`` this module asks the CPU and the OS
(``swiftprop._cpu``, compiled for plain x86-64) what they support, picks
the highest installed level they run (or the level named by
``SWIFTPROP_CPU_LEVEL``, which may only lower it), and loads that level's
extension as ``swiftprop._engine``: one engine, one Swift runtime, per
process. A CPU below the lowest installed level gets an ``ImportError``
naming the missing features, before any kernel could run an instruction it
lacks (never SIGILL).

Nothing here imports NumPy: the check runs first.
"""

import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path

from . import _cpu

ENVIRONMENT = "SWIFTPROP_CPU_LEVEL"

#: (level, -march name, features it needs beyond the level before), lowest
#: first; feature names as Linux's /proc/cpuinfo spells them. ``os_avx`` and
#: ``os_avx512``: the OS saves the vector state (XCR0), without which AVX
#: and AVX-512 instructions fault however the CPU reports them.
LEVELS = (
    ("baseline", "x86-64-v2",
     ("sse2", "sse3", "ssse3", "sse4_1", "sse4_2", "popcnt", "cx16", "lahf_lm")),
    ("avx2", "x86-64-v3",
     ("avx", "avx2", "fma", "bmi1", "bmi2", "f16c", "abm", "movbe", "osxsave",
      "os_avx")),
    ("avx512", "x86-64-v4",
     ("avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl", "os_avx512")),
)
NAMES = tuple(name for name, _, _ in LEVELS)
KERNELS = Path(__file__).resolve().parent / "_kernels"


def cpu_features():
    """{feature: bool} from cpuid and xgetbv; {} off x86-64."""
    return _cpu.features()


def required_features(level):
    """Every feature ``level`` needs (its own and the levels' below)."""
    needed = []
    for name, _, features in LEVELS:
        needed += features
        if name == level:
            return tuple(needed)
    raise ValueError(f"unknown CPU level {level!r}; expected one of: "
                     f"{', '.join(NAMES)}")


def missing_features(level, features):
    """The features ``level`` needs that ``features`` lacks."""
    return [name for name in required_features(level) if not features.get(name)]


def supported_levels(features):
    """The levels this CPU and OS run, lowest first."""
    return [name for name in NAMES if not missing_features(name, features)]


def extension_path(directory):
    """The extension in ``directory`` this interpreter can load, or None."""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = directory / f"_engine{suffix}"
        if candidate.exists():
            return candidate
    return None


def installed_levels(kernels=KERNELS):
    """{level: extension path} of the builds in this installation, in the
    order of ``LEVELS`` (``native``, on other architectures, alone)."""
    found = {}
    for name in (*NAMES, "native"):
        path = extension_path(kernels / name)
        if path is not None:
            found[name] = path
    return found


def choose(features, installed, forced=None):
    """The level to load and why, or ImportError.

    features : {feature: bool} (``cpu_features()``)
    installed : levels built into this installation, in ``LEVELS`` order
    forced : a level name from ``SWIFTPROP_CPU_LEVEL``, or None / ""
    """
    if not installed:
        raise ImportError(
            "swiftprop has no engine build in "
            f"{KERNELS}: reinstall it (pip install swiftprop)")
    if list(installed) == ["native"]:
        if forced and forced != "native":
            raise ImportError(f"{ENVIRONMENT}={forced!r}: this installation "
                              "has only one build, 'native', for its own CPU")
        return "native", "the only build"
    if forced:
        if forced not in NAMES:
            raise ImportError(f"{ENVIRONMENT}={forced!r} is not a CPU level; "
                              f"expected one of: {', '.join(NAMES)}")
        lacking = missing_features(forced, features)
        if lacking:
            raise ImportError(
                f"{ENVIRONMENT}={forced!r}, but this CPU (or its OS) lacks "
                f"{', '.join(lacking)}; it runs: "
                f"{', '.join(supported_levels(features)) or 'none of them'}")
        if forced not in installed:
            raise ImportError(
                f"{ENVIRONMENT}={forced!r}, but this installation was built "
                f"without it (SWIFTPROP_CPU_LEVELS); it has: "
                f"{', '.join(installed)}")
        return forced, f"forced by {ENVIRONMENT}"
    runnable = [name for name in installed
                if name in NAMES and not missing_features(name, features)]
    if not runnable:
        lowest = next(iter(installed))
        march = dict((name, march) for name, march, _ in LEVELS)[lowest]
        raise ImportError(
            f"swiftprop needs an x86-64 CPU with "
            f"{', '.join(required_features(lowest))} (its lowest build, "
            f"{lowest!r}, is compiled for {march}); this CPU lacks "
            f"{', '.join(missing_features(lowest, features))}")
    return runnable[-1], "the highest level this CPU runs"


def load():
    """Loads the chosen build as ``swiftprop._engine``; returns
    ``(level, reason, features, installed)``."""
    installed = installed_levels()
    features = cpu_features() if list(installed) != ["native"] else {}
    level, reason = choose(features, installed,
                           os.environ.get(ENVIRONMENT, "").strip() or None)
    name = f"{__package__}._engine"
    # An extension's init function is looked up by the module's name
    # (PyInit__engine), whatever the folder it comes from.
    loader = importlib.machinery.ExtensionFileLoader(name, str(installed[level]))
    spec = importlib.util.spec_from_file_location(name, installed[level],
                                                  loader=loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return level, reason, features, installed


LEVEL, REASON, FEATURES, INSTALLED = load()

"""``sp.show_config()``: the engine build in use, the CPU, threads and
versions, for bug reports."""

import os
import platform
import sys

import numpy

from . import _dispatch, _engine, threads
from ._version import __version__


def config():
    """The configuration as nested dicts (what ``show_config`` prints)."""
    tile_rows, fused = _engine.build_info()
    features = _dispatch.FEATURES
    names = _dispatch.NAMES
    higher = (names[names.index(_dispatch.LEVEL) + 1:]
              if _dispatch.LEVEL in names else ())
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    return {
        "engine": {
            "cpu_level": _dispatch.LEVEL,
            "chosen_because": _dispatch.REASON,
            "installed_levels": list(_dispatch.INSTALLED),
            "matrix_tile_rows": tile_rows,
            "fused_multiply_add": fused,
            "library": str(_dispatch.INSTALLED[_dispatch.LEVEL].parent),
        },
        "cpu": {
            "machine": platform.machine(),
            "levels_supported": _dispatch.supported_levels(features),
            "missing_for_higher_levels": {
                name: _dispatch.missing_features(name, features) for name in higher},
            "features": sorted(name for name, present in features.items() if present),
        },
        "threads": {
            "num_threads": threads.get_num_threads(),
            "engine_maximum": threads.MAXIMUM,
            "available_cpus": threads.available_cpus(),
            "affinity": affinity,
            "cgroup_cpu_limit": threads.cgroup_cpu_limit(),
            threads.ENVIRONMENT: os.environ.get(threads.ENVIRONMENT),
            _dispatch.ENVIRONMENT: os.environ.get(_dispatch.ENVIRONMENT),
        },
        "versions": {
            "swiftprop": __version__,
            "python": sys.version.split()[0],
            "implementation": platform.python_implementation(),
            "numpy": numpy.__version__,
            "platform": platform.platform(),
        },
    }


def show_config(mode="stdout"):
    """Print the engine's CPU level, what the CPU supports, the thread
    count and the versions (``mode="stdout"``), or return them as a dict
    (``mode="dicts"``)."""
    info = config()
    if mode == "dicts":
        return info
    if mode != "stdout":
        raise ValueError(f"mode must be 'stdout' or 'dicts', got {mode!r}")
    for section, values in info.items():
        print(f"{section}:")
        for key, value in values.items():
            if isinstance(value, list):
                value = ", ".join(map(str, value)) or "-"
            elif isinstance(value, dict):
                value = "; ".join(f"{name}: {', '.join(lacking)}"
                                  for name, lacking in value.items()) or "-"
            print(f"  {key}: {value}")
    return None

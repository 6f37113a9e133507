"""How many threads the engine's matrix products may use.

The engine shares a large matrix product (about 4 million multiply-adds or
more), and large parameter updates and element-wise passes, between the
calling thread and one helper thread, in units that each claims as it
becomes free, so it uses at most ``MAXIMUM`` = 2 threads; every value is
computed in the same order as one thread would, so the setting never
changes a result's bits. Fits of different networks in different Python threads run
side by side whatever the setting (the GIL is released).

The limit, in order of precedence:

1. ``set_num_threads(n)``, or ``threadpoolctl.threadpool_limits(n)`` (the
   engine registers a ``threadpoolctl`` controller, ``user_api``
   ``"swiftprop"``, when a ``threadpoolctl`` with ``register`` is installed);
2. the environment variable ``SWIFTPROP_NUM_THREADS`` (an integer >= 1),
   read at import;
3. the CPUs this process may use: its CPU affinity
   (``os.sched_getaffinity``) and its cgroup's CPU quota
   (``cpu.max``, rounded up, as joblib and loky do).
"""

import math
import operator
import os
import warnings
from pathlib import Path

from . import _dispatch, _engine
from ._version import __version__

ENVIRONMENT = "SWIFTPROP_NUM_THREADS"

_, MAXIMUM, _, _ = _engine.threads_info()


def set_num_threads(n):
    """Limit the threads a matrix product may use to ``n`` (>= 1).

    ``n = 1`` keeps every product on the calling thread; any ``n >= 2``
    allows the engine's two. Process-wide; results do not depend on it.
    """
    try:
        if isinstance(n, bool):
            raise TypeError
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"n must be an integer >= 1, got {n!r}") from None
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    _engine.threads_set(n)


def get_num_threads():
    """The threads a large matrix product uses: min(limit, ``MAXIMUM``)."""
    limit, maximum, _, _ = _engine.threads_info()
    return min(limit, maximum)


def thread_counts():
    """``{"split_products": ..., "helper_parts": ...}``: pieces of work
    (large products, updates, element-wise passes) offered to the helper
    thread, and units of them the helper ran, since the process started
    (the engine's own count, for tests and reports)."""
    _, _, split, helper = _engine.threads_info()
    return {"split_products": split, "helper_parts": helper}


def cgroup_cpu_limit(root="/sys/fs/cgroup", membership="/proc/self/cgroup"):
    """CPUs allowed by the cgroup's quota (``quota / period`` rounded up,
    the smallest over the process's cgroup and its parents, cgroup v2
    ``cpu.max`` or v1 ``cpu.cfs_quota_us``), or None when unlimited or
    unknown."""
    root = Path(root)
    folders = []
    try:
        for line in Path(membership).read_text().splitlines():
            parts = line.split(":", 2)
            if len(parts) == 3 and parts[0] == "0" and parts[1] == "":
                path = Path(parts[2])
                folders = [root / p.relative_to("/")
                           for p in (path, *path.parents)]
    except (OSError, ValueError):
        pass
    limits = []
    for folder in folders or [root]:
        try:
            quota, period = (folder / "cpu.max").read_text().split()[:2]
        except (OSError, ValueError):
            continue
        if quota != "max" and int(period) > 0:
            limits.append(math.ceil(int(quota) / int(period)))
    try:  # cgroup v1
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        if quota > 0 and period > 0:
            limits.append(math.ceil(quota / period))
    except (OSError, ValueError):
        pass
    return max(1, min(limits)) if limits else None


def available_cpus():
    """The CPUs this process may run on: its affinity, capped by the
    cgroup's quota."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    quota = cgroup_cpu_limit()
    return max(1, min(count, quota) if quota is not None else count)


def default_num_threads(environ=os.environ):
    """The limit at import: ``SWIFTPROP_NUM_THREADS`` if set (a bad value
    warns and is ignored), else ``available_cpus()``."""
    text = environ.get(ENVIRONMENT, "").strip()
    if text:
        try:
            value = int(text)
            if value >= 1:
                return value
        except ValueError:
            pass
        warnings.warn(f"{ENVIRONMENT} must be an integer >= 1, got {text!r}; "
                      "ignored", RuntimeWarning, stacklevel=2)
    return available_cpus()


_engine.threads_set(default_num_threads())


def _register_threadpoolctl():
    """Lets threadpoolctl list and limit the engine (when it is installed
    and new enough to register controllers)."""
    try:
        import threadpoolctl
    except ImportError:
        return
    if not hasattr(threadpoolctl, "register"):
        return

    class SwiftpropController(threadpoolctl.LibController):
        """threadpoolctl's view of the engine's thread limit."""

        user_api = "swiftprop"
        internal_api = "swiftprop"
        # threadpoolctl matches lower-cased file names.
        filename_prefixes = ("libswiftpropengine",)

        def get_num_threads(self):
            return get_num_threads()

        def set_num_threads(self, num_threads):
            set_num_threads(num_threads)

        def get_version(self):
            return __version__

        def set_additional_attributes(self):
            self.cpu_level = _dispatch.LEVEL

    threadpoolctl.register(SwiftpropController)


_register_threadpoolctl()

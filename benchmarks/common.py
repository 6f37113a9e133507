"""Shared helpers of the benchmark scripts: threads, timing, tables.

Every workload script imports this module first and calls
``pin_threads(n)`` *before* it imports NumPy, because OpenBLAS, MKL and
OpenMP read their thread counts from the environment when they load::

    import common
    common.pin_threads(1)
    import numpy as np  # noqa: E402  (after the thread pinning)

This module itself imports neither NumPy nor any rival library at import
time. scikit-learn, PyTorch and JAX are optional: ``optional_import``
(``import_jax`` for JAX) returns ``None`` for a missing one, and the tables
show it as ``skipped (not installed)``.

One thread means one core: ``pin_threads(1)`` also binds the process to
one CPU (``os.sched_setaffinity``), because XLA sizes its thread pool by
the CPUs a process may use and ignores the older ``XLA_FLAGS`` thread
options (measured with jax 0.10: ``--xla_cpu_multi_thread_eigen=false
intra_op_parallelism_threads=1`` still ran a product on several threads;
bound to one CPU it ran on one). ``describe_threads`` measures how many
threads XLA keeps busy, so every table says it.

Timing protocol (``run_rounds``): one untimed warm-up call per library, then
``repeats`` rounds; each round times every library once, in the order they
were added, so that a slow spell of a shared machine hits all of them
alike. The garbage collector is off during each timed call (as in
``timeit``). Tables give min/median/max and the ratio of the medians
rival/swiftprop: above 1, swiftprop is faster.
"""

import argparse
import collections
import datetime
import gc
import importlib
import os
import platform
import statistics
import sys
import time
import timeit
from dataclasses import dataclass, field

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "MKL_NUM_THREADS", "SWIFTPROP_NUM_THREADS")
REFERENCE = "swiftprop"
MIN_REPEATS = 3


# MARK: - Threads and optional libraries

def pin_threads(threads):
    """Pin this process to ``threads`` threads and, for 1, to one CPU.

    Sets the BLAS/OpenMP/swiftprop thread variables; with fewer threads
    than usable CPUs, also binds the process to the first ``threads`` of
    them (XLA's thread pool follows the affinity, not a variable). Must
    run before NumPy, PyTorch or JAX is imported; raises ``RuntimeError``
    otherwise, since the libraries would already have read the settings.
    PyTorch's intra-op pool is set by ``configure_torch``.
    """
    if any(name in sys.modules for name in ("numpy", "torch", "jax")):
        raise RuntimeError("pin_threads must run before NumPy, PyTorch or "
                           "JAX is imported")
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    if hasattr(os, "sched_getaffinity"):
        usable = sorted(os.sched_getaffinity(0))
        if threads < len(usable):
            os.sched_setaffinity(0, usable[:threads])


def thread_environment(threads, base=None):
    """A copy of ``base`` (default ``os.environ``) with the thread variables
    set to ``threads``: the environment of a pinned child process."""
    env = dict(os.environ if base is None else base)
    env.update({name: str(threads) for name in THREAD_VARIABLES})
    return env


def optional_import(name):
    """The module ``name``, or ``None`` when it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def configure_torch(torch, threads):
    """Pin PyTorch's intra-op thread pool (no-op when torch is ``None``)."""
    if torch is not None:
        torch.set_num_threads(threads)


def import_jax():
    """``jax`` with 64-bit types enabled, or ``None`` when not installed.

    ``jax_enable_x64`` keeps float64 arrays float64 (without it JAX
    silently computes in float32); float32 arrays stay float32.
    """
    jax = optional_import("jax")
    if jax is not None:
        jax.config.update("jax_enable_x64", True)
    return jax


def busy_threads(function, share=0.25):
    """Threads of this process that ran for at least ``share`` of the
    busiest one's CPU time while ``function()`` ran (Linux; else ``None``).

    Counting per-thread CPU time (``/proc/self/task/*/stat``) is not
    disturbed by other processes on the machine, as wall time is.
    """
    def cpu_ticks():
        ticks = {}
        for task in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{task}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks[task] = int(fields[11]) + int(fields[12])
        return ticks
    if not os.path.isdir("/proc/self/task"):
        return None
    before = cpu_ticks()
    function()
    after = cpu_ticks()
    used = [after[task] - before.get(task, 0) for task in after]
    busiest = max(used)
    return sum(1 for ticks in used if busiest and ticks >= share * busiest)


def jax_threads(jax):
    """Threads XLA keeps busy in float32 1024 x 1024 products."""
    jnp = jax.numpy
    a = jnp.ones((1024, 1024), jnp.float32)
    product = jax.jit(lambda a: a @ a @ a @ a)
    product(a).block_until_ready()
    return busy_threads(
        lambda: [product(a).block_until_ready() for _ in range(8)])


def describe_threads(torch=None, jax=None):
    """One line: the thread variables, the thread pools as loaded, PyTorch's,
    the CPUs the process may use and the threads XLA was measured to use.

    The pools are those ``threadpoolctl`` finds (NumPy's and SciPy's
    OpenBLAS, PyTorch's and scikit-learn's OpenMP), as ``api x count:
    threads``.
    """
    parts = [f"{name}={os.environ.get(name, 'unset')}"
             for name in THREAD_VARIABLES]
    threadpoolctl = optional_import("threadpoolctl")
    if threadpoolctl is not None:
        pools = collections.Counter(
            (pool["internal_api"], pool["num_threads"])
            for pool in threadpoolctl.threadpool_info())
        parts += [f"{api} x{count}: {threads}"
                  for (api, threads), count in sorted(pools.items())]
    if torch is not None:
        parts.append(f"torch intra-op: {torch.get_num_threads()}")
    if hasattr(os, "sched_getaffinity"):
        parts.append(f"CPUs bound: {len(os.sched_getaffinity(0))}")
    if jax is not None:
        parts.append(f"jax busy threads (measured): {jax_threads(jax)}")
    return "threads: " + "; ".join(parts)


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (or ``platform``)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def describe_machine():
    """Lines naming the date, CPU, cores and every library's version."""
    import numpy as np
    import swiftprop as sp
    sklearn = optional_import("sklearn")
    torch = optional_import("torch")
    jax = optional_import("jax")
    usable = len(os.sched_getaffinity(0)) if hasattr(
        os, "sched_getaffinity") else os.cpu_count()
    now = datetime.datetime.now().astimezone()
    versions = [f"Python {platform.python_version()}",
                f"NumPy {np.__version__}", f"swiftprop {sp.__version__}",
                f"scikit-learn {sklearn.__version__}" if sklearn
                else "scikit-learn: not installed",
                f"PyTorch {torch.__version__}" if torch
                else "PyTorch: not installed",
                f"JAX {jax.__version__}" if jax else "JAX: not installed"]
    return [f"date: {now:%Y-%m-%d %H:%M %Z}",
            f"machine: {cpu_model()}, {os.cpu_count()} logical cores "
            f"({usable} usable), {platform.system()} {platform.machine()}",
            "versions: " + ", ".join(versions)]


# MARK: - Timing

@dataclass
class Entry:
    """One library in a comparison.

    ``make(repetition)`` is called untimed and returns the zero-argument
    callable that is timed; what that callable returns is kept in
    ``results`` (a fitted model, say) for checks after the timing.
    ``repetition`` is -1 for the warm-up, else 0, 1, ... (W2 uses it as
    the seed). ``skipped`` holds the reason when the library is missing.
    """

    name: str
    make: object = None
    note: str = ""
    skipped: str = None
    times: list = field(default_factory=list)
    results: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @property
    def median(self):
        return statistics.median(self.times)


def skipped(name, library):
    """An entry that reports ``library`` as not installed."""
    return Entry(name, skipped=f"{library} not installed")


def timed(function):
    """``(seconds, result)`` of one call, with the garbage collector off."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        result = function()
        seconds = time.perf_counter() - start
    finally:
        if enabled:
            gc.enable()
    return seconds, result


def run_rounds(entries, repeats, warmup=True, settle=0.0, rewarm=False):
    """Time every runnable entry ``repeats`` times, round by round.

    Parameters
    ----------
    entries : list of Entry
    repeats : int
        Timed calls per entry (at least ``MIN_REPEATS``).
    warmup : bool, default=True
        One untimed call per entry first (``make(-1)``).
    settle : float, default=0.0
        Seconds to sleep before every call, so that the idle worker threads
        of the library timed before (OpenBLAS and OpenMP spin for a while
        after their work) do not compete with the next one.
    rewarm : bool, default=False
        After the pause, run the job once untimed before timing it (the
        job must give the same result when run twice). A pause leaves the
        library's own idle threads asleep and, on a virtual machine, their
        CPUs idle; the first tens of milliseconds after it are slower for
        a library that works on two threads (swiftprop's two-thread predict
        of 64 rows through 784-512-512-10 float32 took 1.7-3.1 ms per call
        in blocks of 16 calls after a 0.15 s pause, 1.6-1.8 ms without a
        pause or in blocks of 100 calls). A short timed block would measure
        that wake-up rather than the work.
    """
    if repeats < MIN_REPEATS:
        raise ValueError(f"repeats must be >= {MIN_REPEATS}, got {repeats}")
    runnable = [entry for entry in entries if not entry.skipped]
    if warmup:
        for entry in runnable:
            time.sleep(settle)
            entry.make(-1)()
    for repetition in range(repeats):
        for entry in runnable:
            job = entry.make(repetition)
            time.sleep(settle)
            if rewarm:
                job()
            seconds, result = timed(job)
            entry.times.append(seconds)
            entry.results.append(result)


def calls_per_repetition(function, target=0.1):
    """Calls of ``function`` that take about ``target`` seconds (>= 10)."""
    timer = timeit.Timer(function)
    calls = 10
    while True:
        if timer.timeit(calls) >= target / 4 or calls >= 10**7:
            break
        calls *= 4
    seconds = timer.timeit(calls)
    return max(10, int(calls * target / max(seconds, 1e-9)))


def call_loop(function, calls):
    """A callable that calls ``function`` ``calls`` times (for ``make``)."""
    def loop():
        for _ in range(calls):
            function()
    return loop


# MARK: - Tables

def ratio(entry, reference):
    """Median time of ``entry`` over that of ``reference``."""
    return entry.median / reference.median


def print_table(title, entries, unit, scale=1.0, columns=(), digits=3):
    """Print one comparison table.

    Parameters
    ----------
    title : str
    entries : list of Entry
        The one named ``REFERENCE`` is the denominator of the ratios.
    unit : str
        Unit of min/median/max after multiplying seconds by ``scale``.
    columns : sequence of (header, width, function)
        Extra columns; ``function(entry)`` returns the cell text.
    """
    reference = next((entry for entry in entries
                      if entry.name == REFERENCE and entry.times), None)
    headers = [("library", 30, "<"), ("min", 10, ">"), ("median", 10, ">"),
               ("max", 10, ">"), ("rival/swiftprop", 15, ">")]
    headers += [(header, width, ">") for header, width, _ in columns]
    print(f"\n{title}  [{unit}; rival/swiftprop = ratio of medians, "
          "> 1: swiftprop faster]")
    print("  " + " ".join(f"{h:{align}{w}}" for h, w, align in headers)
          + "  note")
    for entry in entries:
        if entry.skipped:
            print(f"  {entry.name:<30} skipped ({entry.skipped})")
            continue
        values = [t * scale for t in entry.times]
        cells = [f"{entry.name:<30}"]
        cells += [f"{v:>10.{digits}f}" for v in
                  (min(values), statistics.median(values), max(values))]
        cells.append(f"{ratio(entry, reference):>14.2f}x" if reference
                     else f"{'n/a':>15}")
        cells += [f"{function(entry):>{width}}"
                  for _, width, function in columns]
        print("  " + " ".join(cells) + (f"  {entry.note}" if entry.note
                                        else ""))
    sys.stdout.flush()


# MARK: - Command line

def argument_parser(description, default_repeats=5):
    """The options every workload script takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and 3 repetitions: a smoke run")
    parser.add_argument("--repeats", type=int, default=None,
                        help=f"timed repetitions (default {default_repeats},"
                        f" 3 with --quick; at least {MIN_REPEATS})")
    parser.add_argument("--no-machine", action="store_true",
                        help="do not print the machine description "
                        "(run_all.py prints it once)")
    parser.set_defaults(default_repeats=default_repeats)
    return parser


def parse_arguments(parser, argv=None):
    """Parse, fill in ``repeats`` and check it."""
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = MIN_REPEATS if args.quick else args.default_repeats
    if args.repeats < MIN_REPEATS:
        parser.error(f"--repeats must be >= {MIN_REPEATS}, got "
                     f"{args.repeats}")
    return args


def print_header(args, torch=None, jax=None):
    """The machine (unless ``--no-machine``) and the thread counts."""
    if not args.no_machine:
        for line in describe_machine():
            print(line)
    print(describe_threads(torch, jax))
    sys.stdout.flush()

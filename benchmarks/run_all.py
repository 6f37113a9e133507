"""Run the five benchmark workloads, each in its own pinned process.

    python benchmarks/run_all.py            # W1-W5, the README's table
    python benchmarks/run_all.py --quick    # smoke run, about a minute
    python benchmarks/run_all.py W2 W4      # some of them

Each workload runs in a fresh Python process whose environment sets
OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS to its thread
count before anything imports NumPy; inside, all libraries of a workload
are measured in that one process. The machine is described once at the
top; every workload prints its thread pools as they were loaded.
"""

import argparse
import os
import subprocess
import sys
import time

import common

HERE = os.path.dirname(os.path.abspath(__file__))

# name: (script, threads); the scripts pin the same counts when run alone.
WORKLOADS = {
    "W1": ("w1_xor.py", 1),
    "W2": ("w2_digits.py", 1),
    "W3": ("w3_wide.py", 2),
    "W4": ("w4_predict.py", 1),
    "W5": ("w5_lbfgs.py", 1),
}


def run_workload(name, args):
    """Run one workload script; returns its exit status."""
    script, threads = WORKLOADS[name]
    command = [sys.executable, os.path.join(HERE, script), "--no-machine"]
    if args.quick:
        command.append("--quick")
    if args.repeats is not None:
        command += ["--repeats", str(args.repeats)]
    if name == "W3" and args.samples is not None:
        command += ["--samples", str(args.samples)]
    print(f"\n=== {name}: {script} ({threads} thread"
          f"{'s' if threads > 1 else ''}) ===")
    sys.stdout.flush()
    start = time.perf_counter()
    status = subprocess.call(command, env=common.thread_environment(threads))
    print(f"({name} took {time.perf_counter() - start:.0f} s"
          + (f", exit status {status})" if status else ")"))
    return status


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", metavar="W1..W5",
                        help="workloads to run (default: all)")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and 3 repetitions: a smoke run")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed repetitions per library (default: 5; "
                        f"at least {common.MIN_REPEATS})")
    parser.add_argument("--samples", type=int, default=None,
                        help="W3's sample count (default 16384)")
    args = parser.parse_args(argv)
    chosen = [name.upper() for name in args.workloads] or list(WORKLOADS)
    unknown = [name for name in chosen if name not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; expected "
                     f"some of {', '.join(WORKLOADS)}")
    if args.repeats is not None and args.repeats < common.MIN_REPEATS:
        parser.error(f"--repeats must be >= {common.MIN_REPEATS}")
    # The description imports NumPy here, in this process only: each
    # workload starts a fresh interpreter with its own thread settings.
    for line in common.describe_machine():
        print(line)
    failed = [name for name in chosen if run_workload(name, args)]
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Scaling sweep: training throughput and predict latency over width, batch
size and depth, against NumPy, PyTorch and JAX.

The network is 784 inputs, ``depth`` hidden ReLU layers of ``width`` units
and 10 softmax outputs (mean cross-entropy, plain SGD lr 0.01, He
initial weights drawn by swiftprop and copied into every rival); the data
is standard-normal features with random labels 0-9 (the speed of a step
does not depend on what it learns). Three sweeps through one base point
(width 512, batch 64, depth 2):

- width 32 ... 4096 at batch 64, depth 2;
- batch 1 ... 1024 at width 512, depth 2;
- depth 1 ... 4 at width 512, batch 64;

each in float32 and float64, with 1 thread and with 2 threads. Each thread
setting runs in its own process, pinned before NumPy loads (``common.
pin_threads``: the BLAS and swiftprop thread variables, PyTorch's intra-op
pool, and for one thread the process bound to one CPU, which is what XLA
follows); inside it, every library is timed in the same rounds (a warm-up
each, then ``--repeats`` rounds timing each library once).

Figures per point:
- training: one epoch over ``steps * batch`` samples (``steps`` chosen so
  that a call is about 1 GFLOP, between 2 and 200 steps), reported as
  samples/s from the median time; JAX's loop is compiled ahead of time and
  its compile time kept apart;
- predict: the class probabilities of ``batch`` rows, µs per call (a
  repetition makes enough calls for about 30 ms);
- **ratio**: the best rival's median time over swiftprop's (above 1:
  swiftprop faster), for training and for predict.

``--quick`` is a smoke run (a few points, float32, 3 repetitions; its
files go to the temporary directory). The results are written to
``--json`` (default ``benchmarks/scaling.json``) and drawn into
``--picture`` (default ``benchmarks/scaling.png``, needs matplotlib);
``--from-json`` prints and draws a saved run again.

    python benchmarks/scaling.py [--quick] [--threads 1 2]
                                 [--dtypes float32 float64] [--repeats 5]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import common

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER_FLAG = "--worker-threads"

if __name__ == "__main__" and WORKER_FLAG in sys.argv:
    common.pin_threads(int(sys.argv[sys.argv.index(WORKER_FLAG) + 1]))

N_IN, N_OUT = 784, 10
LR = 0.01
BASE = {"width": 512, "batch": 64, "depth": 2}
FULL_SWEEPS = {"width": (32, 128, 512, 2048, 4096),
               "batch": (1, 8, 64, 256, 1024),
               "depth": (1, 2, 3, 4)}
QUICK_SWEEPS = {"width": (32, 512), "batch": (1, 64), "depth": (1, 2)}
TRAIN_FLOPS_PER_CALL = 1e9
STEPS_RANGE = (2, 200)
PREDICT_SECONDS = 0.03
LIBRARIES = ("swiftprop", "NumPy", "PyTorch", "JAX")
# Pause before each call with 2 threads: OpenBLAS's idle threads spin for
# 2^28 time-stamp ticks (about 0.1 s here) after a product, and took a core
# from the library timed next (PyTorch's 2-thread predict of 64 rows took
# 44 ms instead of 0.07 with 0.05 s).
SETTLE_SECONDS = 0.15


# MARK: - The grid

def layers_of(point):
    return [N_IN] + [point["width"]] * point["depth"] + [N_OUT]


def step_flops(point):
    """Floating-point operations of one training step (as in W3: 4 n_in
    n_out per sample for the first layer, 6 for the others)."""
    sizes = layers_of(point)
    return point["batch"] * sum(
        (4 if index == 0 else 6) * n_in * n_out
        for index, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])))


def grid(sweeps):
    """The points of every sweep, each once, as dicts with the sweeps that
    pass through them (the base point is in all three)."""
    points = {}
    for sweep, values in sweeps.items():
        for value in values:
            point = dict(BASE, **{sweep: value})
            key = (point["width"], point["batch"], point["depth"])
            points.setdefault(key, dict(point, sweeps=[]))["sweeps"].append(
                sweep)
    return list(points.values())


# MARK: - One thread setting (the worker process)

def measure(threads, dtypes, sweeps, repeats):
    """Time every point of ``sweeps`` in this (pinned) process."""
    import numpy as np

    import swiftprop as sp
    from common import Entry, skipped
    from rivals import JaxMLP, NumpyMLP, torch_fit, torch_mlp

    torch = common.optional_import("torch")
    jax = common.import_jax()
    common.configure_torch(torch, threads)
    print(common.describe_threads(torch, jax), flush=True)
    settle = SETTLE_SECONDS if threads > 1 else 0.0
    results = []
    for dtype in dtypes:
        for point in grid(sweeps):
            started = time.perf_counter()
            steps = int(min(max(round(TRAIN_FLOPS_PER_CALL
                                      / step_flops(point)), STEPS_RANGE[0]),
                            STEPS_RANGE[1]))
            samples = steps * point["batch"]
            rng = np.random.default_rng(0)
            X = rng.standard_normal((samples, N_IN)).astype(dtype)
            labels = rng.integers(0, N_OUT, samples)
            X_predict = np.ascontiguousarray(X[:point["batch"]])
            net = sp.Network(layers_of(point), activation="relu",
                             loss="cross_entropy", dtype=dtype, init="he",
                             seed=0)
            initial = net.weights
            batch = point["batch"]
            train, predict, compiled = [], {}, {}

            def swiftprop_job(repetition):
                net.set_weights(initial)
                return lambda: net.fit(X, labels, epochs=1, batch_size=batch,
                                       lr=LR)
            train.append(Entry("swiftprop", swiftprop_job))
            predict["swiftprop"] = net.predict

            def numpy_job(repetition):
                model = NumpyMLP(initial, dtype)
                return lambda: model.fit(X, labels, 1, batch, "sgd", LR)
            train.append(Entry("NumPy", numpy_job))
            predict["NumPy"] = NumpyMLP(initial, dtype).predict

            if torch is not None:
                torch_dtype = getattr(torch, dtype)
                X_t, y_t = torch.from_numpy(X), torch.from_numpy(labels)

                def torch_job(repetition):
                    model = torch_mlp(torch, initial, torch_dtype)
                    return lambda: torch_fit(torch, model, X_t, y_t, 1, batch,
                                             "sgd", LR)
                train.append(Entry("PyTorch", torch_job))
                torch_model = torch_mlp(torch, initial, torch_dtype).eval()

                def torch_predict(X, model=torch_model):
                    with torch.no_grad():
                        return torch.softmax(model(torch.from_numpy(X)),
                                             dim=1).numpy()
                predict["PyTorch"] = torch_predict
            else:
                train.append(skipped("PyTorch", "torch"))

            if jax is not None:
                jax_model = JaxMLP(jax, initial, dtype, optimizer="sgd",
                                   lr=LR)
                compiled["train"] = jax_model.compile_fit(X, labels, 1, batch)

                def jax_job(repetition):
                    jax_model.reset(initial)
                    return lambda: jax_model.fit(X, labels, 1, batch)
                train.append(Entry("JAX", jax_job))
                jax_predictor = JaxMLP(jax, initial, dtype)
                compiled["predict"] = jax_predictor.compile_predict(X_predict)
                predict["JAX"] = jax_predictor.predict
            else:
                train.append(skipped("JAX", "jax"))

            common.run_rounds(train, repeats, settle=settle)
            predict_entries = predict_rounds(predict, X_predict, repeats,
                                             settle)
            record = dict(point, threads=threads, dtype=dtype, steps=steps,
                          samples=samples, compile=compiled,
                          train={entry.name: entry.times for entry in train
                                 if not entry.skipped},
                          predict={entry.name: entry.times
                                   for entry in predict_entries})
            results.append(record)
            print(f"  {dtype} width {point['width']:>4} batch "
                  f"{point['batch']:>4} depth {point['depth']}: train "
                  f"{ratio_text(record, 'train')}, predict "
                  f"{ratio_text(record, 'predict')} "
                  f"({time.perf_counter() - started:.1f} s)", flush=True)
    return results


def predict_rounds(functions, X, repeats, settle):
    """Time ``predict`` on ``X``: per library, calls for about
    ``PREDICT_SECONDS`` per repetition (at least one); times per call."""
    from common import Entry
    entries = []
    for name, function in functions.items():
        function(X)
        seconds, _ = common.timed(lambda: function(X))
        calls = max(1, round(PREDICT_SECONDS / max(seconds, 1e-7)))

        def make(repetition, function=function, calls=calls):
            return common.call_loop(lambda: function(X), calls)
        entry = Entry(name, make)
        entry.extra["calls"] = calls
        entries.append(entry)
    common.run_rounds(entries, repeats, warmup=False, settle=settle,
                      rewarm=settle > 0)
    for entry in entries:
        entry.times = [t / entry.extra["calls"] for t in entry.times]
    return entries


# MARK: - Ratios, table and picture

def best_rival(record, kind):
    """``(name, median seconds)`` of the fastest rival at a point."""
    medians = {name: statistics.median(times)
               for name, times in record[kind].items() if name != "swiftprop"}
    name = min(medians, key=medians.get)
    return name, medians[name]


def ratio(record, kind):
    """Best rival's median over swiftprop's (> 1: swiftprop faster)."""
    return (best_rival(record, kind)[1]
            / statistics.median(record[kind]["swiftprop"]))


def ratio_text(record, kind):
    name, _ = best_rival(record, kind)
    return f"{ratio(record, kind):.2f}x {name}"


def print_table(results):
    """One table per thread setting and dtype, and the points behind."""
    settings = sorted({(r["threads"], r["dtype"]) for r in results})
    for threads, dtype in settings:
        rows = [r for r in results
                if (r["threads"], r["dtype"]) == (threads, dtype)]
        print(f"\n{dtype}, {threads} thread{'s' if threads > 1 else ''}: "
              "training samples/s (median) and predict µs per call of "
              "`batch` rows; ratio = best rival's median time / "
              "swiftprop's (> 1: swiftprop faster)")
        names = [name for name in LIBRARIES if name in rows[0]["train"]]
        header = (f"  {'width':>5} {'batch':>5} {'depth':>5} {'steps':>5} | "
                  + " ".join(f"{name:>9}" for name in names)
                  + f" | {'ratio':>6} {'best rival':<10} | "
                  + " ".join(f"{name:>9}" for name in names)
                  + f" | {'ratio':>6} {'best rival':<10}")
        print(f"  {'':23} | {'training samples/s':^{10 * len(names) - 1}} |"
              f" {'':17} | {'predict µs per call':^{10 * len(names) - 1}} |")
        print(header)
        for r in sorted(rows, key=lambda r: (r["width"], r["batch"],
                                             r["depth"])):
            throughput = " ".join(
                f"{r['samples'] / statistics.median(r['train'][n]):>9.0f}"
                for n in names)
            latency = " ".join(
                f"{statistics.median(r['predict'][n]) * 1e6:>9.1f}"
                for n in names)
            print(f"  {r['width']:>5} {r['batch']:>5} {r['depth']:>5} "
                  f"{r['steps']:>5} | {throughput} | "
                  f"{ratio(r, 'train'):>5.2f}x "
                  f"{best_rival(r, 'train')[0]:<10} | {latency} | "
                  f"{ratio(r, 'predict'):>5.2f}x "
                  f"{best_rival(r, 'predict')[0]:<10}")
    compiles = [r["compile"] for r in results if r["compile"]]
    if compiles:
        print("\n  JAX compile time, not timed above: training loop "
              f"{min(c['train'] for c in compiles):.2f}-"
              f"{max(c['train'] for c in compiles):.2f} s, predict "
              f"{min(c['predict'] for c in compiles):.2f}-"
              f"{max(c['predict'] for c in compiles):.2f} s per shape")
    behind = [(r, kind) for r in results for kind in ("train", "predict")
              if ratio(r, kind) < 0.95]
    print(f"\n  points where swiftprop is behind the best rival (ratio < "
          f"0.95): {len(behind)} of {2 * len(results)}")
    for r, kind in behind:
        print(f"    {kind:<7} {r['dtype']}, {r['threads']} thread(s), width "
              f"{r['width']}, batch {r['batch']}, depth {r['depth']}: "
              f"{ratio_text(r, kind)}")


def draw(results, path):
    """Ratios over each sweep, log axes, one line per thread setting and
    dtype: training on the top row, predict on the bottom."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        print(f"(matplotlib not installed: {path} not drawn)")
        return
    sweeps = [s for s in ("width", "batch", "depth")
              if any(s in r["sweeps"] for r in results)]
    figure, axes = plt.subplots(2, len(sweeps), figsize=(4.2 * len(sweeps),
                                                         7), squeeze=False)
    settings = sorted({(r["threads"], r["dtype"]) for r in results})
    styles = {1: "--", 2: "-"}
    markers = {"float32": "o", "float64": "s"}
    for row, kind in enumerate(("train", "predict")):
        for column, sweep in enumerate(sweeps):
            axis = axes[row][column]
            for threads, dtype in settings:
                points = sorted((r[sweep], ratio(r, kind)) for r in results
                                if sweep in r["sweeps"]
                                and (r["threads"], r["dtype"])
                                == (threads, dtype))
                axis.plot([p[0] for p in points], [p[1] for p in points],
                          styles.get(threads, ":"), marker=markers[dtype],
                          label=f"{dtype}, {threads} thread"
                          f"{'s' if threads > 1 else ''}")
            axis.axhline(1.0, color="black", linewidth=0.8)
            axis.axhline(0.95, color="red", linewidth=0.8, linestyle=":")
            axis.set_yscale("log", base=2)
            axis.set_yticks([0.125, 0.25, 0.5, 1, 2, 4, 8])
            axis.yaxis.set_major_formatter(
                matplotlib.ticker.FormatStrFormatter("%g"))
            axis.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            if sweep != "depth":
                axis.set_xscale("log", base=2)
            else:
                axis.set_xticks(sorted({r["depth"] for r in results}))
            others = {key: value for key, value in BASE.items()
                      if key != sweep}
            axis.set_title(f"{'training' if kind == 'train' else 'predict'}"
                           f" over {sweep} ("
                           + ", ".join(f"{k} {v}" for k, v in others.items())
                           + ")", fontsize=9)
            axis.set_xlabel(sweep)
            axis.set_ylabel("best rival time / swiftprop time")
            axis.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    figure.suptitle("swiftprop against the best of NumPy, PyTorch and JAX "
                    "(> 1: swiftprop faster; red: 0.95)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    print(f"picture: {path}")


# MARK: - Command line

def save(run, path):
    """Write a run as JSON, one line per point."""
    points = ",\n  ".join(json.dumps(record) for record in run["results"])
    header = {key: value for key, value in run.items() if key != "results"}
    with open(path, "w", encoding="utf-8") as saved:
        saved.write(json.dumps(header)[:-1] + ',\n "results": [\n  '
                    + points + "\n]}\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a few points, float32, 3 repetitions")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--dtypes", nargs="+", default=None,
                        choices=("float32", "float64"),
                        help="default: both (float32 with --quick)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed rounds (default 5, 3 with --quick)")
    parser.add_argument("--json", default=None,
                        help="results file (default benchmarks/scaling.json;"
                        " with --quick, scaling-quick.json in the temporary"
                        " directory)")
    parser.add_argument("--picture", default=None,
                        help="picture (default benchmarks/scaling.png; with "
                        "--quick, scaling-quick.png in the temporary "
                        "directory)")
    parser.add_argument("--from-json", action="store_true",
                        help="print and draw the saved results; no timing")
    parser.add_argument(WORKER_FLAG, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-output", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    repeats = args.repeats or (common.MIN_REPEATS if args.quick else 5)
    if repeats < common.MIN_REPEATS:
        parser.error(f"--repeats must be >= {common.MIN_REPEATS}")
    dtypes = args.dtypes or (["float32"] if args.quick
                             else ["float32", "float64"])
    sweeps = QUICK_SWEEPS if args.quick else FULL_SWEEPS
    folder, stem = ((tempfile.gettempdir(), "scaling-quick") if args.quick
                    else (HERE, "scaling"))
    args.json = args.json or os.path.join(folder, stem + ".json")
    args.picture = args.picture or os.path.join(folder, stem + ".png")

    if args.worker_threads is not None:
        results = measure(args.worker_threads, dtypes, sweeps, repeats)
        with open(args.worker_output, "w", encoding="utf-8") as output:
            json.dump(results, output)
        return 0

    if args.from_json:
        with open(args.json, encoding="utf-8") as saved:
            run = json.load(saved)
    else:
        started = time.perf_counter()
        run = {"machine": common.describe_machine(), "results": []}
        for line in run["machine"]:
            print(line)
        for threads in args.threads:
            print(f"\n=== {threads} thread{'s' if threads > 1 else ''} ===",
                  flush=True)
            with tempfile.NamedTemporaryFile(suffix=".json") as output:
                command = [sys.executable, os.path.abspath(__file__),
                           WORKER_FLAG, str(threads), "--worker-output",
                           output.name, "--repeats", str(repeats),
                           "--dtypes", *dtypes]
                if args.quick:
                    command.append("--quick")
                status = subprocess.call(
                    command, env=common.thread_environment(threads))
                if status:
                    print(f"the {threads}-thread run failed (exit status "
                          f"{status})")
                    return 1
                with open(output.name, encoding="utf-8") as results:
                    run["results"] += json.load(results)
        run["seconds"] = time.perf_counter() - started
        save(run, args.json)
        print(f"\nresults: {args.json} (sweep took {run['seconds']:.0f} s)")
    if args.from_json:
        for line in run["machine"]:
            print(line)
    print_table(run["results"])
    draw(run["results"], args.picture)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

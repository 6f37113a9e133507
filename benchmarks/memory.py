"""Peak resident memory of each library for the W3 fit, one process each.

W3's data (16384 x 784 float32, ``rivals.wide_data``) and network
(784-1024-1024-10 ReLU + softmax, plain SGD lr 0.01, batch 256, one
epoch, 2 threads), fitted by swiftprop, the vectorised NumPy network,
PyTorch, JAX (the compiled loop; its first fit compiles, as a user's
does) and scikit-learn's ``MLPClassifier``. Each library runs in a fresh
process that imports only NumPy and that library, makes the data and the
network, then:

- reads ``VmRSS`` (``/proc/self/status``): the process before the fit;
- resets the high-water mark (``5`` into ``/proc/self/clear_refs``), fits,
  and reads ``VmHWM``: the peak during the fit.

The table gives both, and the fit's own increase (peak - before). The
rivals start from He initial weights drawn with NumPy (memory does not
depend on the values), so that no process but swiftprop's loads the
engine. Linux only.

    python benchmarks/memory.py [--samples N] [--libraries swiftprop NumPy]
"""

import argparse
import json
import os
import subprocess
import sys

import common

THREADS = 2
WORKER_FLAG = "--worker"
LAYERS = [784, 1024, 1024, 10]
BATCH = 256
LR = 0.01
LIBRARIES = ("swiftprop", "NumPy", "PyTorch", "JAX", "scikit-learn")

if __name__ == "__main__" and WORKER_FLAG in sys.argv:
    common.pin_threads(THREADS)


def status_kib(field):
    """A ``Vm*`` field of ``/proc/self/status`` in KiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def he_weights(np, dtype):
    rng = np.random.default_rng(0)
    return [(rng.standard_normal((n_in, n_out)).astype(dtype)
             * np.sqrt(2.0 / n_in).astype(dtype),
             np.zeros(n_out, dtype=dtype))
            for n_in, n_out in zip(LAYERS, LAYERS[1:])]


def fit_job(library, X, labels):
    """The W3 fit of ``library`` as a zero-argument callable, with its
    network already built; ``None`` when the library is missing."""
    import numpy as np
    if library == "swiftprop":
        import swiftprop as sp
        net = sp.Network(LAYERS, activation="relu", loss="cross_entropy",
                         dtype="float32", init="he", seed=0)
        return lambda: net.fit(X, labels, epochs=1, batch_size=BATCH, lr=LR)
    from rivals import JaxMLP, NumpyMLP, torch_fit, torch_mlp
    if library == "NumPy":
        model = NumpyMLP(he_weights(np, np.float32), np.float32)
        return lambda: model.fit(X, labels, 1, BATCH, "sgd", LR)
    if library == "PyTorch":
        torch = common.optional_import("torch")
        if torch is None:
            return None
        common.configure_torch(torch, THREADS)
        model = torch_mlp(torch, he_weights(np, np.float32), torch.float32)
        X_t, y_t = torch.from_numpy(X), torch.from_numpy(labels)
        return lambda: torch_fit(torch, model, X_t, y_t, 1, BATCH, "sgd", LR)
    if library == "JAX":
        jax = common.import_jax()
        if jax is None:
            return None
        model = JaxMLP(jax, he_weights(np, np.float32), np.float32,
                       optimizer="sgd", lr=LR)
        return lambda: model.fit(X, labels, 1, BATCH)
    if library == "scikit-learn":
        if common.optional_import("sklearn") is None:
            return None
        from sklearn.neural_network import MLPClassifier

        from rivals import fit_quietly
        model = MLPClassifier(
            hidden_layer_sizes=tuple(LAYERS[1:-1]), solver="sgd",
            batch_size=BATCH, max_iter=1, learning_rate_init=LR, momentum=0,
            alpha=0, shuffle=True, random_state=0)
        return lambda: fit_quietly(model, X, labels)
    raise ValueError(f"unknown library {library!r}; expected one of: "
                     f"{', '.join(LIBRARIES)}")


def worker(library, samples):
    """Measure one library in this process; prints one JSON line."""
    import numpy as np  # noqa: F401  (loaded before the data, as in W3)

    from rivals import wide_data
    X, labels = wide_data(samples, LAYERS[0], LAYERS[-1])
    job = fit_job(library, X, labels)
    if job is None:
        print(json.dumps({"library": library, "skipped": True}))
        return
    before = status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
        refs.write("5")
    job()
    print(json.dumps({"library": library, "before": before,
                      "peak": status_kib("VmHWM")}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=16384)
    parser.add_argument("--libraries", nargs="+", default=list(LIBRARIES),
                        choices=LIBRARIES)
    parser.add_argument(WORKER_FLAG, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.samples)
        return 0
    if not os.path.exists("/proc/self/clear_refs"):
        print("memory.py needs Linux's /proc/self/status and clear_refs")
        return 1
    for line in common.describe_machine():
        print(line)
    data_mib = args.samples * LAYERS[0] * 4 / 2**20
    print(f"\nW3 fit: {args.samples} x {LAYERS[0]} float32 ({data_mib:.0f} "
          f"MiB of X), {'-'.join(map(str, LAYERS))}, batch {BATCH}, one "
          f"epoch, {THREADS} threads; each library in its own process "
          "[MiB]")
    print(f"  {'library':<14} {'before fit':>10} {'peak in fit':>11} "
          f"{'fit adds':>9}")
    for library in args.libraries:
        output = subprocess.run(
            [sys.executable, os.path.abspath(__file__), WORKER_FLAG, library,
             "--samples", str(args.samples)],
            env=common.thread_environment(THREADS), capture_output=True,
            text=True)
        lines = output.stdout.strip().splitlines()
        if output.returncode or not lines:
            print(f"  {library:<14} failed (exit status {output.returncode})"
                  f"\n{output.stderr}")
            return 1
        result = json.loads(lines[-1])
        if result.get("skipped"):
            print(f"  {library:<14} skipped (not installed)")
            continue
        before, peak = result["before"] / 1024, result["peak"] / 1024
        print(f"  {library:<14} {before:>10.0f} {peak:>11.0f} "
              f"{peak - before:>9.0f}", flush=True)
    print("  (before fit: resident after importing NumPy and the library "
          "and making the data and the network; peak in fit: VmHWM over "
          "the fit, reset just before it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

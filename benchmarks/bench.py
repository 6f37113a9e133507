"""swiftprop against NumPy, scikit-learn and PyTorch on four workloads.

Each workload trains (or runs) the same network on the same data in every
library, in this one process, with BLAS/OpenMP thread counts pinned and
printed; after a warm-up it times ``--repeats`` runs and prints
min/median/max and the ratio rival/swiftprop of the medians (> 1: swiftprop
is faster). scikit-learn and PyTorch are optional: a missing one is
reported as skipped.

    python benchmarks/bench.py            # all four workloads
    python benchmarks/bench.py --quick    # small sizes, for a smoke run
    python benchmarks/bench.py W2 W4      # some of them
"""

import argparse
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np

import swiftprop as sp

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - scikit-learn brings it
    threadpool_limits = None
try:
    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor
except ImportError:
    sklearn = None
try:
    import torch
except ImportError:
    torch = None


# MARK: - Timing and reporting

def measure(function, repeats, warmup=1):
    """Seconds of ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


class Table:
    """Rows of (library, times) printed with min/median/max and ratios."""

    def __init__(self, title, unit, scale, reference="swiftprop"):
        self.title, self.unit, self.scale = title, unit, scale
        self.reference = reference
        self.rows = []

    def add(self, name, times=None, note="", skipped=None):
        self.rows.append((name, times, note, skipped))

    def print(self):
        print(f"\n{self.title}")
        base = next(statistics.median(t) for n, t, _, s in self.rows
                    if n.startswith(self.reference) and t)
        print(f"  {'library':34} {'min':>10} {'median':>10} {'max':>10}"
              f"  {'rival/swiftprop':>15}  ({self.unit})")
        for name, times, note, skipped in self.rows:
            if skipped:
                print(f"  {name:34} skipped ({skipped})")
                continue
            values = [t * self.scale for t in times]
            ratio = statistics.median(times) / base
            print(f"  {name:34} {min(values):10.3f} "
                  f"{statistics.median(values):10.3f} {max(values):10.3f}"
                  f"  {ratio:14.2f}x  {note}")


def limits(threads):
    """Pin BLAS/OpenMP pools (NumPy's OpenBLAS, PyTorch) to ``threads``."""
    if torch is not None:
        torch.set_num_threads(threads)
    if threadpool_limits is None:
        return _Nothing()
    return threadpool_limits(limits=threads)


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *args):
        return False


def skip_reason(module, name):
    return None if module is not None else f"{name} not installed"


# MARK: - NumPy rivals

def sigmoid(z):
    return 1 / (1 + np.exp(-z))


class TutorialXor:
    """The tutorials' NumPy class: 2-2-1 sigmoid, mse, full-batch steps."""

    def __init__(self, weights):
        (self.W1, b1), (self.W2, b2) = [(W.copy(), b.copy()) for W, b in
                                        weights]
        self.b1, self.b2 = b1.reshape(1, -1), b2.reshape(1, -1)

    def epoch(self, X, y, lr):
        z1 = X @ self.W1 + self.b1
        a1 = sigmoid(z1)
        z2 = a1 @ self.W2 + self.b2
        a2 = sigmoid(z2)
        delta2 = 2 * (a2 - y) / y.size * a2 * (1 - a2)
        delta1 = delta2 @ self.W2.T * a1 * (1 - a1)
        self.W2 -= lr * (a1.T @ delta2)
        self.b2 -= lr * delta2.sum(axis=0, keepdims=True)
        self.W1 -= lr * (X.T @ delta1)
        self.b1 -= lr * delta1.sum(axis=0, keepdims=True)


def numpy_mlp_fit(weights, X, labels, epochs, batch_size, optimizer, lr,
                  dtype, seed):
    """A vectorised NumPy ReLU + softmax network trained by mini-batches."""
    rng = np.random.default_rng(seed)
    params = [p.astype(dtype).copy() for pair in weights for p in pair]
    Y = np.eye(params[-1].shape[0], dtype=dtype)[labels]
    X = X.astype(dtype)
    moments = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
    step = 0
    layers = len(params) // 2
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            index = order[start:start + batch_size]
            activations, zs = [X[index]], []
            for layer in range(layers):
                z = activations[-1] @ params[2 * layer] + params[2 * layer + 1]
                zs.append(z)
                if layer < layers - 1:
                    activations.append(np.maximum(z, 0))
            z = zs[-1] - zs[-1].max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            delta = (p - Y[index]) / len(index)
            grads = [None] * len(params)
            for layer in reversed(range(layers)):
                grads[2 * layer] = activations[layer].T @ delta
                grads[2 * layer + 1] = delta.sum(axis=0)
                if layer:
                    delta = (delta @ params[2 * layer].T) * (zs[layer - 1] > 0)
            step += 1
            for param, grad, (m, v) in zip(params, grads, moments):
                if optimizer == "adam":
                    m *= 0.9
                    m += 0.1 * grad
                    v *= 0.999
                    v += 0.001 * grad * grad
                    param -= lr * (m / (1 - 0.9 ** step)) / (
                        np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
                else:
                    param -= lr * grad
    return params


def numpy_forward(params, X):
    layers = len(params) // 2
    a = X
    for layer in range(layers):
        z = a @ params[2 * layer] + params[2 * layer + 1]
        a = np.maximum(z, 0) if layer < layers - 1 else z
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# MARK: - PyTorch rivals

def torch_model(weights, activation, dtype):
    layers = []
    for index, (W, b) in enumerate(weights):
        linear = torch.nn.Linear(*W.shape).to(dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            linear.bias.copy_(torch.from_numpy(b.copy()))
        layers.append(linear)
        if index < len(weights) - 1 or activation == "sigmoid":
            layers.append(torch.nn.Sigmoid() if activation == "sigmoid"
                          else torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def torch_fit(model, X, target, epochs, batch_size, optimizer, lr, loss,
              seed):
    generator = torch.Generator().manual_seed(seed)
    opt = (torch.optim.Adam(model.parameters(), lr=lr) if optimizer == "adam"
           else torch.optim.SGD(model.parameters(), lr=lr))
    criterion = (torch.nn.MSELoss() if loss == "mse"
                 else torch.nn.CrossEntropyLoss())
    n = len(X)
    for _ in range(epochs):
        order = (torch.randperm(n, generator=generator) if batch_size < n
                 else torch.arange(n))
        for start in range(0, n, batch_size):
            index = order[start:start + batch_size]
            opt.zero_grad()
            criterion(model(X[index]), target[index]).backward()
            opt.step()


# MARK: - Workloads

def w1_xor(args):
    """W1: the tutorial's XOR, 2-2-1 sigmoid, mse, full batch, sgd lr 0.1."""
    epochs = 1000 if args.quick else 10000
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    y = np.array([[0], [1], [1], [0]], dtype=np.float64)
    net = sp.Network([2, 2, 1], activation="sigmoid", loss="mse", seed=0)
    weights = net.weights
    table = Table(f"W1 tutorial XOR: {epochs} epochs, float64, 1 thread",
                  "µs per epoch", 1e6 / epochs)
    with limits(1):
        def ours():
            net.set_weights(weights)
            net.fit(X, y, epochs=epochs, lr=0.1)
        table.add("swiftprop", measure(ours, args.repeats))

        def tutorial():
            model = TutorialXor(weights)
            for _ in range(epochs):
                model.epoch(X, y, 0.1)
        table.add("NumPy tutorial class", measure(tutorial, args.repeats))
        if sklearn is not None:
            def scikit():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    MLPRegressor(hidden_layer_sizes=(2,), activation="logistic",
                                 solver="sgd", learning_rate_init=0.1,
                                 momentum=0, alpha=0, batch_size=4,
                                 max_iter=epochs, tol=0, shuffle=False,
                                 n_iter_no_change=epochs + 1,
                                 random_state=0).fit(X, y.ravel())
            table.add("scikit-learn MLPRegressor(sgd)",
                      measure(scikit, args.repeats),
                      note="identity output: a cheaper network")
        else:
            table.add("scikit-learn", skipped=skip_reason(sklearn,
                                                          "scikit-learn"))
        if torch is not None:
            Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

            def pytorch():
                torch_fit(torch_model(weights, "sigmoid", torch.float64), Xt,
                          yt, epochs, 4, "sgd", 0.1, "mse", 0)
            table.add("PyTorch", measure(pytorch, args.repeats))
        else:
            table.add("PyTorch", skipped="torch not installed")
    table.print()


def digits(dtype):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return (scaler.transform(X_train).astype(dtype),
            scaler.transform(X_test).astype(dtype), y_train, y_test)


def w2_digits(args):
    """W2: digits, 64-128-10 ReLU + softmax, Adam 1e-3, batch 32, 30 epochs."""
    if sklearn is None:
        print("\nW2 digits: skipped (scikit-learn not installed: it holds the"
              " data set)")
        return
    epochs = 5 if args.quick else 30
    seeds = range(args.repeats)
    for dtype in (np.float32, np.float64):
        X_train, X_test, y_train, y_test = digits(dtype)
        name = np.dtype(dtype).name
        table = Table(f"W2 digits {name}: {epochs} epochs, batch 32, Adam, "
                      "1 thread", "s per fit", 1)
        accuracy = {}

        def run(label, fit_and_score):
            times, scores = [], []
            fit_and_score(0)  # warm-up
            for seed in seeds:
                start = time.perf_counter()
                score = fit_and_score(seed)
                times.append(time.perf_counter() - start)
                scores.append(score)
            accuracy[label] = statistics.median(scores)
            table.add(label, times,
                      note=f"accuracy {accuracy[label]:.4f} (median)")

        with limits(1):
            def ours(seed):
                net = sp.Network([64, 128, 10], activation="relu",
                                 loss="cross_entropy", dtype=name, init="he",
                                 seed=seed)
                net.fit(X_train, y_train, epochs=epochs, batch_size=32,
                        optimizer="adam", lr=1e-3)
                return (net.predict(X_test).argmax(axis=1) == y_test).mean()
            run("swiftprop", ours)

            def numpy_version(seed):
                weights = sp.Network([64, 128, 10], activation="relu",
                                     loss="cross_entropy", init="he",
                                     seed=seed).weights
                params = numpy_mlp_fit(weights, X_train, y_train, epochs, 32,
                                       "adam", 1e-3, dtype, seed)
                return (numpy_forward(params, X_test).argmax(axis=1)
                        == y_test).mean()
            run("NumPy (vectorised)", numpy_version)

            def scikit(seed):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    model = MLPClassifier(
                        hidden_layer_sizes=(128,), solver="adam",
                        batch_size=32, max_iter=epochs, learning_rate_init=1e-3,
                        alpha=0, tol=0, n_iter_no_change=10**6,
                        random_state=seed).fit(X_train, y_train)
                return model.score(X_test, y_test)
            run("scikit-learn MLPClassifier", scikit)

            if torch is not None:
                torch_dtype = (torch.float32 if dtype == np.float32
                               else torch.float64)
                Xt = torch.from_numpy(X_train)
                yt = torch.from_numpy(y_train.astype(np.int64))

                def pytorch(seed):
                    weights = sp.Network([64, 128, 10], activation="relu",
                                         loss="cross_entropy", init="he",
                                         dtype=name, seed=seed).weights
                    model = torch_model(weights, "relu", torch_dtype)
                    torch_fit(model, Xt, yt, epochs, 32, "adam", 1e-3,
                              "cross_entropy", seed)
                    with torch.no_grad():
                        out = model(torch.from_numpy(X_test)).argmax(dim=1)
                    return (out.numpy() == y_test).mean()
                run("PyTorch", pytorch)
            else:
                table.add("PyTorch", skipped="torch not installed")
        table.print()


def w3_wide(args):
    """W3: 784-1024-1024-10 ReLU + softmax, sgd 0.01, batch 256, one epoch."""
    samples = args.samples or (2048 if args.quick else 16384)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((samples, 784)).astype(np.float32)
    labels = rng.integers(0, 10, samples)
    sizes = [784, 1024, 1024, 10]
    flops = samples * sum((4 if i == 0 else 6) * a * b
                          for i, (a, b) in enumerate(zip(sizes, sizes[1:])))
    net = sp.Network(sizes, activation="relu", loss="cross_entropy",
                     dtype="float32", init="he", seed=0)
    weights = net.weights
    repeats = max(3, args.repeats // 2)
    table = Table(f"W3 wide: {samples} x 784 float32, one epoch, batch 256, "
                  "2 threads", "s per epoch", 1)
    with limits(2):
        def ours():
            net.set_weights(weights)
            net.fit(X, labels, epochs=1, batch_size=256, lr=0.01)
        table.add("swiftprop", measure(ours, repeats))

        def numpy_version():
            numpy_mlp_fit(weights, X, labels, 1, 256, "sgd", 0.01, np.float32,
                          0)
        table.add("NumPy (vectorised)", measure(numpy_version, repeats))
        if sklearn is not None:
            def scikit():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    MLPClassifier(hidden_layer_sizes=(1024, 1024),
                                  solver="sgd", batch_size=256, max_iter=1,
                                  learning_rate_init=0.01, momentum=0,
                                  alpha=0, random_state=0).fit(X, labels)
            table.add("scikit-learn MLPClassifier", measure(scikit, repeats,
                                                            warmup=0),
                      note="float64 inside")
        if torch is not None:
            Xt = torch.from_numpy(X)
            yt = torch.from_numpy(labels.astype(np.int64))

            def pytorch():
                torch_fit(torch_model(weights, "relu", torch.float32), Xt, yt,
                          1, 256, "sgd", 0.01, "cross_entropy", 0)
            table.add("PyTorch (2 threads)", measure(pytorch, repeats))
        else:
            table.add("PyTorch", skipped="torch not installed")
    table.print()
    print("  samples/s and GFLOP/s (median):")
    for name, times, _, skipped in table.rows:
        if not skipped:
            median = statistics.median(times)
            print(f"    {name:32} {samples / median:10.0f} samples/s "
                  f"{flops / median / 1e9:8.1f} GFLOP/s")


def w4_predict(args):
    """W4: predict on 1 and on 360 samples with a trained digits model."""
    if sklearn is None:
        print("\nW4 predict: skipped (scikit-learn not installed)")
        return
    X_train, X_test, y_train, _ = digits(np.float64)
    net = sp.Network([64, 128, 10], activation="relu", loss="cross_entropy",
                     init="he", seed=0)
    net.fit(X_train, y_train, epochs=5, batch_size=32, optimizer="adam",
            lr=1e-3)
    weights = net.weights
    params = [p for pair in weights for p in pair]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scikit = MLPClassifier(hidden_layer_sizes=(128,), max_iter=1,
                               random_state=0).fit(X_train, y_train)
    scikit.coefs_ = [W.copy() for W, _ in weights]
    scikit.intercepts_ = [b.copy() for _, b in weights]
    model = torch_model(weights, "relu", torch.float64) if torch else None
    for rows in (1, 360):
        X = np.ascontiguousarray(X_test[:rows])
        calls = 2000 if rows == 1 else 200
        if args.quick:
            calls //= 10
        table = Table(f"W4 predict on {rows} sample(s), float64, 1 thread",
                      "µs per call", 1e6 / calls)

        def loop(function):
            def run():
                for _ in range(calls):
                    function()
            return run
        with limits(1):
            table.add("swiftprop", measure(loop(lambda: net.predict(X)),
                                           args.repeats))
            table.add("NumPy forward pass",
                      measure(loop(lambda: numpy_forward(params, X)),
                              args.repeats))
            table.add("scikit-learn predict_proba",
                      measure(loop(lambda: scikit.predict_proba(X)),
                              args.repeats))
            if torch is not None:
                Xt = torch.from_numpy(X)

                def pytorch():
                    with torch.no_grad():
                        return torch.softmax(model(Xt), dim=1)
                table.add("PyTorch (no_grad)",
                          measure(loop(pytorch), args.repeats))
            else:
                table.add("PyTorch", skipped="torch not installed")
        table.print()


WORKLOADS = {"W1": w1_xor, "W2": w2_digits, "W3": w3_wide, "W4": w4_predict}


def describe_machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = [f"Python {platform.python_version()}",
                f"NumPy {np.__version__}", f"swiftprop {sp.__version__}"]
    versions.append(f"scikit-learn {sklearn.__version__}" if sklearn
                    else "scikit-learn: not installed")
    versions.append(f"PyTorch {torch.__version__}" if torch
                    else "PyTorch: not installed")
    print(f"{cpu}, {os.cpu_count()} cores; " + ", ".join(versions))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workloads", nargs="*", metavar="W1..W4",
                        help="workloads to run (default: all)")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes, for a smoke run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--samples", type=int, default=0,
                        help="W3 sample count (default 16384)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.workloads) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; expected "
                     f"some of {', '.join(WORKLOADS)}")
    describe_machine()
    for name in args.workloads or WORKLOADS:
        WORKLOADS[name](args)


if __name__ == "__main__":
    sys.exit(main())

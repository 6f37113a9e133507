"""W3: one epoch of a wide network on 16384 synthetic samples, 2 threads.

16384 x 784 float32 samples drawn from a standard normal (fixed seed),
labelled 0-9 by a fixed random linear map; 784-1024-1024-10 with ReLU and
a softmax cross-entropy output, He initialisation, plain SGD lr 0.01,
mini-batches of 256 (shuffled), ONE epoch, two threads.
Figures: seconds per epoch, samples per second and GFLOP/s, counting per
sample 4 * n_in * n_out for the first layer (forward product and weight
gradient) and 6 * n_in * n_out for the others (those and the gradient
handed down).

Rivals: the vectorised ``NumpyMLP`` of ``rivals.py`` (OpenBLAS on 2
threads), ``MLPClassifier`` (sgd, batch 256, ``max_iter=1``, no momentum;
its own initialisation), PyTorch on 2 intra-op threads and ``JaxMLP``
(the epoch's 64 steps compiled as one ``lax.scan``; compile time in the
note, not timed); NumPy, PyTorch and JAX start from swiftprop's initial
weights.

Every timed call is preceded by a short pause so that the worker threads
of the library timed before (OpenBLAS and OpenMP spin-wait after their
work) are idle and do not take a core from the next one.

``--dtype float64`` runs every library in float64 (the same samples,
widened; scikit-learn follows its input's dtype).

    python benchmarks/w3_wide.py [--quick] [--samples N] [--repeats N]
                                 [--dtype float32|float64]
"""

import common

THREADS = 2
common.pin_threads(THREADS)


import numpy as np  # noqa: E402

import swiftprop as sp  # noqa: E402
from common import Entry, skipped  # noqa: E402
from rivals import (JaxMLP, NumpyMLP, fit_quietly, torch_fit,  # noqa: E402
                    torch_mlp, wide_data)

sklearn = common.optional_import("sklearn")
torch = common.optional_import("torch")
jax = common.import_jax()

LAYERS = [784, 1024, 1024, 10]
BATCH = 256
LR = 0.01
SETTLE_SECONDS = 0.5


def synthetic_data(samples, seed=0):
    """``(X, labels)``: float32 features and int64 labels 0-9."""
    return wide_data(samples, LAYERS[0], LAYERS[-1], seed)


def flops_per_sample(layers=LAYERS):
    """Floating-point operations of one training step per sample."""
    return sum((4 if index == 0 else 6) * n_in * n_out for index, (n_in, n_out)
               in enumerate(zip(layers, layers[1:])))


def entries(X, labels):
    dtype = X.dtype
    net = sp.Network(LAYERS, activation="relu", loss="cross_entropy",
                     dtype=dtype.name, init="he", seed=0)
    initial = net.weights

    def swiftprop_job(repetition):
        net.set_weights(initial)
        return lambda: net.fit(X, labels, epochs=1, batch_size=BATCH, lr=LR)

    def numpy_job(repetition):
        model = NumpyMLP(initial, dtype)
        return lambda: model.fit(X, labels, 1, BATCH, "sgd", LR, seed=0)

    result = [Entry("swiftprop", swiftprop_job),
              Entry("NumPy (vectorised)", numpy_job)]

    if sklearn is not None:
        from sklearn.neural_network import MLPClassifier

        def sklearn_job(repetition):
            model = MLPClassifier(
                hidden_layer_sizes=tuple(LAYERS[1:-1]), solver="sgd",
                batch_size=BATCH, max_iter=1, learning_rate_init=LR,
                momentum=0, alpha=0, shuffle=True, random_state=0)

            def job():
                fit_quietly(model, X, labels)
            return job
        result.append(Entry("scikit-learn MLPClassifier", sklearn_job,
                            note="own initial weights"))
    else:
        result.append(skipped("scikit-learn MLPClassifier", "scikit-learn"))

    if torch is not None:
        X_t, y_t = torch.from_numpy(X), torch.from_numpy(labels)

        def torch_job(repetition):
            model = torch_mlp(torch, initial, getattr(torch, dtype.name))
            return lambda: torch_fit(torch, model, X_t, y_t, 1, BATCH, "sgd",
                                     LR, seed=0)
        result.append(Entry(f"PyTorch ({THREADS} threads)", torch_job))
    else:
        result.append(skipped("PyTorch", "torch"))

    if jax is not None:
        model = JaxMLP(jax, initial, dtype, optimizer="sgd", lr=LR)
        seconds = model.compile_fit(X, labels, 1, BATCH)

        def jax_job(repetition):
            model.reset(initial)
            return lambda: model.fit(X, labels, 1, BATCH, seed=0)
        result.append(Entry(f"JAX, compiled ({THREADS} threads)", jax_job,
                            note=f"compile {seconds:.2f} s, not timed"))
    else:
        result.append(skipped("JAX, compiled", "jax"))
    return result


def main(argv=None):
    parser = common.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=None,
                        help="training samples (default 16384, 2048 with "
                        "--quick)")
    parser.add_argument("--dtype", choices=("float32", "float64"),
                        default="float32", help="element type of every "
                        "library (default float32)")
    args = common.parse_arguments(parser, argv)
    samples = args.samples or (2048 if args.quick else 16384)
    common.print_header(args, torch, jax)
    common.configure_torch(torch, THREADS)
    X, labels = synthetic_data(samples)
    X = X.astype(args.dtype)
    table = entries(X, labels)
    common.run_rounds(table, args.repeats, settle=SETTLE_SECONDS)
    flops = flops_per_sample() * samples
    common.print_table(
        f"W3 wide: {samples} x {LAYERS[0]} {args.dtype}, "
        f"{'-'.join(map(str, LAYERS))} ReLU + softmax, sgd lr {LR}, batch "
        f"{BATCH}, one epoch, {THREADS} threads, {args.repeats} repetitions",
        table, "s per epoch",
        columns=[("samples/s", 10,
                  lambda entry: f"{samples / entry.median:.0f}"),
                 ("GFLOP/s", 8,
                  lambda entry: f"{flops / entry.median / 1e9:.1f}")])
    print(f"  ({flops_per_sample() / 1e6:.2f} MFLOP per sample; samples/s "
          "and GFLOP/s from the median time)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""W2: scikit-learn's digits, 64-128-10, Adam, 30 epochs, float32 and float64.

The digits (1797 8x8 images) standardised, split 80/20 stratified
(``random_state=0``); 64-128-10 with ReLU and a softmax cross-entropy
output, He initialisation, Adam lr 1e-3, mini-batches of 32 reshuffled
every epoch, 30 epochs, one thread. Repetition ``i`` trains with seed
``i`` in every library, so the five timed fits are also five seeds.
Figures: seconds per fit (min/median/max over the seeds) and test accuracy
(median over the seeds).

Rivals: ``MLPClassifier`` (its own initialisation and batching), the
vectorised ``NumpyMLP`` of ``rivals.py``, PyTorch and ``JaxMLP`` (the 30
epochs compiled as one ``lax.scan`` over epochs of ``lax.scan`` over
batches, in NumPy's batch order; compile time in the note, not timed), the
last three starting from swiftprop's initial weights for the same seed.

    python benchmarks/w2_digits.py [--quick] [--repeats N] [--dtype D]
"""

import common

THREADS = 1
common.pin_threads(THREADS)

import statistics  # noqa: E402

import numpy as np  # noqa: E402

import swiftprop as sp  # noqa: E402
from common import Entry, skipped  # noqa: E402
from rivals import (JaxMLP, NumpyMLP, digits, fit_quietly,  # noqa: E402
                    torch_fit, torch_mlp)

sklearn = common.optional_import("sklearn")
torch = common.optional_import("torch")
jax = common.import_jax()

LAYERS = [64, 128, 10]
BATCH = 32
LR = 1e-3


def accuracy(probabilities, labels):
    return float((np.argmax(probabilities, axis=1) == labels).mean())


def swiftprop_network(dtype, seed):
    return sp.Network(LAYERS, activation="relu", loss="cross_entropy",
                      dtype=dtype, init="he", seed=seed)


def entries(dtype, epochs, data):
    """Timed jobs; each returns a function of ``X_test`` giving
    probabilities (or, for scikit-learn, the fitted estimator's)."""
    X_train, X_test, y_train, y_test = data
    name = np.dtype(dtype).name

    def seed_of(repetition):
        return max(repetition, 0)  # the warm-up reuses seed 0

    def swiftprop_job(repetition):
        net = swiftprop_network(name, seed_of(repetition))

        def job():
            net.fit(X_train, y_train, epochs=epochs, batch_size=BATCH,
                    optimizer="adam", lr=LR)
            return net.predict
        return job

    def numpy_job(repetition):
        seed = seed_of(repetition)
        model = NumpyMLP(swiftprop_network(name, seed).weights, dtype)

        def job():
            model.fit(X_train, y_train, epochs, BATCH, "adam", LR, seed)
            return model.predict
        return job

    result = [Entry("swiftprop", swiftprop_job),
              Entry(f"NumPy (vectorised, {name})", numpy_job)]

    if sklearn is not None:
        from sklearn.neural_network import MLPClassifier

        def sklearn_job(repetition):
            model = MLPClassifier(
                hidden_layer_sizes=(LAYERS[1],), solver="adam",
                batch_size=BATCH, max_iter=epochs, learning_rate_init=LR,
                alpha=0, tol=0, n_iter_no_change=1000, shuffle=True,
                random_state=seed_of(repetition))

            def job():
                fit_quietly(model, X_train, y_train)
                return model.predict_proba
            return job
        result.append(Entry("scikit-learn MLPClassifier", sklearn_job,
                            note="own initial weights"))
    else:
        result.append(skipped("scikit-learn MLPClassifier", "scikit-learn"))

    if torch is not None:
        torch_dtype = {"float32": torch.float32,
                       "float64": torch.float64}[name]
        X_t = torch.from_numpy(X_train)
        y_t = torch.from_numpy(y_train)

        def torch_job(repetition):
            seed = seed_of(repetition)
            model = torch_mlp(torch, swiftprop_network(name, seed).weights,
                              torch_dtype)

            def job():
                torch_fit(torch, model, X_t, y_t, epochs, BATCH, "adam", LR,
                          seed)

                def predict(X):
                    with torch.no_grad():
                        return model(torch.from_numpy(X)).numpy()
                return predict
            return job
        result.append(Entry("PyTorch", torch_job))
    else:
        result.append(skipped("PyTorch", "torch"))

    if jax is not None:
        model = JaxMLP(jax, swiftprop_network(name, 0).weights, dtype,
                       optimizer="adam", lr=LR)
        seconds = model.compile_fit(X_train, y_train, epochs, BATCH)

        def jax_job(repetition):
            seed = seed_of(repetition)
            model.reset(swiftprop_network(name, seed).weights)

            def job():
                model.fit(X_train, y_train, epochs, BATCH, seed)
                return model.predict
            return job
        result.append(Entry("JAX (compiled loop)", jax_job,
                            note=f"compile {seconds:.2f} s, not timed"))
    else:
        result.append(skipped("JAX (compiled loop)", "jax"))

    for entry in result:
        entry.extra["X_test"], entry.extra["y_test"] = X_test, y_test
    return result


def median_accuracy(entry):
    scores = [accuracy(predict(entry.extra["X_test"]), entry.extra["y_test"])
              for predict in entry.results]
    return statistics.median(scores)


def main(argv=None):
    parser = common.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per fit (default 30, 3 with --quick)")
    parser.add_argument("--dtype", choices=("float32", "float64", "both"),
                        default="both")
    args = common.parse_arguments(parser, argv)
    epochs = args.epochs or (3 if args.quick else 30)
    common.print_header(args, torch, jax)
    if sklearn is None:
        print("\nW2 digits: skipped (scikit-learn not installed; it ships "
              "the data set)")
        return 0
    common.configure_torch(torch, THREADS)
    dtypes = (("float32", "float64") if args.dtype == "both"
              else (args.dtype,))
    for name in dtypes:
        data = digits(np.dtype(name))
        table = entries(np.dtype(name), epochs, data)
        common.run_rounds(table, args.repeats)
        common.print_table(
            f"W2 digits {name}: {len(data[0])} train / {len(data[1])} test, "
            f"64-128-10 ReLU + softmax, Adam lr {LR:g}, batch {BATCH}, "
            f"{epochs} epochs, {THREADS} thread, {args.repeats} seeds",
            table, "s per fit", digits=4,
            columns=[("accuracy", 10,
                      lambda entry: f"{median_accuracy(entry):.4f}")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""W4: ``predict`` of a trained digits model on 1 and on 360 samples.

swiftprop trains 64-128-10 (ReLU, softmax) briefly on the digits (Adam,
batch 32); its weights are then copied into every rival, so all compute
the same function, checked before timing (largest difference of the
probabilities). One thread; each repetition calls ``predict`` many times
(enough for about 0.1 s, calibrated per library, as ``timeit`` does) and
the figure is microseconds per call. Both float32 and float64 by default.

Rivals: a NumPy forward pass (``NumpyMLP.predict``: two products, in-place
ReLU and softmax), scikit-learn's ``MLPClassifier`` fitted briefly and then
given the weights through ``coefs_``/``intercepts_`` (``predict_proba``,
the same output as swiftprop's ``predict``, and ``predict``, which adds the
argmax), PyTorch under ``no_grad`` (NumPy in, softmax, NumPy out) and
JAX (``JaxMLP.predict``: the forward pass and softmax compiled by
``jax.jit`` for each input shape, NumPy in and out; the compile time is in
the note, not timed).

    python benchmarks/w4_predict.py [--quick] [--repeats N] [--dtype D]
"""

import common

THREADS = 1
common.pin_threads(THREADS)


import numpy as np  # noqa: E402

import swiftprop as sp  # noqa: E402
from common import Entry, skipped  # noqa: E402
from rivals import JaxMLP, NumpyMLP, digits, fit_quietly, torch_mlp  # noqa: E402

sklearn = common.optional_import("sklearn")
torch = common.optional_import("torch")
jax = common.import_jax()

LAYERS = [64, 128, 10]
TRAINING_EPOCHS = 5
ROWS = (1, 360)
SECONDS_PER_REPETITION = 0.1


def trained_network(dtype, data):
    X_train, _, y_train, _ = data
    net = sp.Network(LAYERS, activation="relu", loss="cross_entropy",
                     dtype=dtype, init="he", seed=0)
    net.fit(X_train, y_train, epochs=TRAINING_EPOCHS, batch_size=32,
            optimizer="adam", lr=1e-3)
    return net


def predictors(net, data):
    """``{name: predict(X)}`` for every installed library, all holding
    ``net``'s weights, and ``{name: reason}`` for the missing ones."""
    X_train, _, y_train, _ = data
    weights = net.weights
    functions = {"swiftprop": net.predict}
    missing = {}
    functions["NumPy forward pass"] = NumpyMLP(weights, net.dtype).predict
    if sklearn is not None:
        from sklearn.neural_network import MLPClassifier
        model = MLPClassifier(hidden_layer_sizes=(LAYERS[1],), max_iter=1,
                              random_state=0)
        fit_quietly(model, X_train, y_train)
        model.coefs_ = [W.copy() for W, _ in weights]
        model.intercepts_ = [b.copy() for _, b in weights]
        functions["scikit-learn predict_proba"] = model.predict_proba
        functions["scikit-learn predict"] = model.predict
    else:
        missing["scikit-learn"] = "scikit-learn"
    if torch is not None:
        dtype = {"float32": torch.float32, "float64": torch.float64}[
            net.dtype.name]
        model = torch_mlp(torch, weights, dtype).eval()

        def torch_predict(X):
            with torch.no_grad():
                return torch.softmax(model(torch.from_numpy(X)), dim=1).numpy()
        functions["PyTorch (no_grad)"] = torch_predict
    else:
        missing["PyTorch"] = "torch"
    if jax is not None:
        functions["JAX (jit)"] = JaxMLP(jax, weights, net.dtype).predict
    else:
        missing["JAX (jit)"] = "jax"
    return functions, missing


def compile_seconds(functions, X):
    """``{name: note}`` with JAX's compile time for ``X``'s shape."""
    if "JAX (jit)" not in functions:
        return {}
    model = functions["JAX (jit)"].__self__
    return {"JAX (jit)": f"compile {model.compile_predict(X):.2f} s, "
                         "not timed"}


def check_agreement(functions, X, y_test):
    """Largest |difference| from swiftprop's output, per library.

    For ``predict`` (labels) the figure is the fraction of labels that
    differ from the argmax of swiftprop's probabilities.
    """
    reference = functions["swiftprop"](X)
    differences = {}
    for name, function in functions.items():
        output = np.asarray(function(X))
        if output.ndim == 1:
            differences[name] = float(np.mean(output
                                              != reference.argmax(axis=1)))
        else:
            differences[name] = float(np.max(np.abs(output - reference)))
    return differences


def entries(functions, missing, X, notes):
    result = []
    for name, function in functions.items():
        calls = common.calls_per_repetition(lambda: function(X),
                                            SECONDS_PER_REPETITION)

        def make(repetition, function=function, calls=calls):
            return common.call_loop(lambda: function(X), calls)
        entry = Entry(name, make, note=notes.get(name, ""))
        entry.extra["calls"] = calls
        result.append(entry)
    for name, library in missing.items():
        result.append(skipped(name, library))
    return result


def main(argv=None):
    parser = common.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=("float32", "float64", "both"),
                        default="both")
    args = common.parse_arguments(parser, argv)
    common.print_header(args, torch, jax)
    if sklearn is None:
        print("\nW4 predict: skipped (scikit-learn not installed; it ships "
              "the data set)")
        return 0
    common.configure_torch(torch, THREADS)
    global SECONDS_PER_REPETITION
    if args.quick:
        SECONDS_PER_REPETITION = 0.02
    dtypes = (("float32", "float64") if args.dtype == "both"
              else (args.dtype,))
    for name in dtypes:
        data = digits(np.dtype(name))
        net = trained_network(name, data)
        functions, missing = predictors(net, data)
        for rows in ROWS:
            X = np.ascontiguousarray(data[1][:rows])
            notes = compile_seconds(functions, X)
            differences = check_agreement(functions, X, data[3][:rows])
            table = entries(functions, missing, X, notes)
            common.run_rounds(table, args.repeats)
            for entry in table:
                if not entry.skipped:
                    entry.times = [t / entry.extra["calls"]
                                   for t in entry.times]
            common.print_table(
                f"W4 predict, {rows} sample{'s' if rows > 1 else ''}, {name}"
                f", 64-128-10 trained {TRAINING_EPOCHS} epochs, {THREADS} "
                f"thread, {args.repeats} repetitions", table, "µs per call",
                scale=1e6, digits=2,
                columns=[("calls/rep", 9,
                          lambda entry: str(entry.extra["calls"])),
                         ("max |diff|", 10,
                          lambda entry: f"{differences[entry.name]:.1e}")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""W1: the tutorials' XOR network, trained for 10000 full-batch epochs.

2-2-1, sigmoid in both layers, mean squared error, full batch of the four
XOR rows, plain gradient descent with lr 0.1, float64, one thread.
Figure: microseconds per epoch (the whole fit divided by the epochs).

Rivals, all starting from swiftprop's initial weights except
scikit-learn:
- ``NumPy tutorial-style class``: the tutorials' way of writing it (module
  functions ``sigmoid``/``sigmoid_derivative(z)``/``mse_derivative``, a
  class keeping ``z`` and ``a`` of each layer, the derivative recomputing
  the sigmoid from ``z``, gradients divided by the batch size). Its step is
  the true MSE gradient step (the original divides by the batch twice), so
  it computes exactly what swiftprop computes. The issue's target is set
  against this class.
- ``NumPy, lean``: the same mathematics with the derivative taken from the
  stored outputs and no helper functions: what NumPy can do at best here.
- ``scikit-learn MLPRegressor``: sgd, batch 4, no momentum, no shuffling,
  no early stop. Its output layer is the identity (MLPRegressor has no
  sigmoid output) and it draws its own initial weights: a slightly cheaper,
  different network.
- ``PyTorch``: ``nn.Linear``/``nn.Sigmoid``/``nn.MSELoss``/``optim.SGD``,
  the tutorial's loop.
- ``JAX``: ``JaxMLP`` of ``rivals.py``, the 10000 steps compiled as one
  ``lax.fori_loop`` (``jax.grad`` of the same loss); its compile time,
  paid once per shape, is in the note and not in the timing.

    python benchmarks/w1_xor.py [--quick] [--repeats N]
"""

import common

THREADS = 1
common.pin_threads(THREADS)


import numpy as np  # noqa: E402

import swiftprop as sp  # noqa: E402
from common import Entry, skipped  # noqa: E402
from rivals import JaxMLP, fit_quietly, torch_mlp  # noqa: E402

sklearn = common.optional_import("sklearn")
torch = common.optional_import("torch")
jax = common.import_jax()

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
Y = np.array([[0], [1], [1], [0]], dtype=np.float64)
LR = 0.1


# MARK: - The tutorial-style NumPy class

def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_derivative(z):
    s = sigmoid(z)
    return s * (1.0 - s)


def mse(y_true, y_pred):
    return np.mean((y_pred - y_true) ** 2)


def mse_derivative(y_true, y_pred):
    """dL/dŷ per sample row; divided by the batch size in ``backward``."""
    return 2.0 * (y_pred - y_true) / y_true.shape[1]


class TutorialNetwork:
    """A two-layer sigmoid network written as the tutorials write it."""

    def __init__(self, weights):
        (W1, b1), (W2, b2) = weights
        self.W1, self.b1 = W1.copy(), b1.reshape(1, -1).copy()
        self.W2, self.b2 = W2.copy(), b2.reshape(1, -1).copy()

    def forward(self, x):
        self.z1 = np.dot(x, self.W1) + self.b1
        self.a1 = sigmoid(self.z1)
        self.z2 = np.dot(self.a1, self.W2) + self.b2
        self.a2 = sigmoid(self.z2)
        return self.a2

    def backward(self, x, y, learning_rate):
        m = x.shape[0]
        delta2 = mse_derivative(y, self.a2) * sigmoid_derivative(self.z2)
        dW2 = np.dot(self.a1.T, delta2) / m
        db2 = np.sum(delta2, axis=0, keepdims=True) / m
        delta1 = np.dot(delta2, self.W2.T) * sigmoid_derivative(self.z1)
        dW1 = np.dot(x.T, delta1) / m
        db1 = np.sum(delta1, axis=0, keepdims=True) / m
        self.W2 -= learning_rate * dW2
        self.b2 -= learning_rate * db2
        self.W1 -= learning_rate * dW1
        self.b1 -= learning_rate * db1

    def train(self, x, y, epochs, learning_rate):
        for _ in range(epochs):
            self.forward(x)
            self.backward(x, y, learning_rate)
        return self


def train_lean(weights, x, y, epochs, lr):
    """The same steps in as few NumPy calls as the mathematics allows."""
    (W1, b1), (W2, b2) = [(W.copy(), b.copy()) for W, b in weights]
    scale = 2.0 / y.size
    for _ in range(epochs):
        a1 = 1.0 / (1.0 + np.exp(-(x @ W1 + b1)))
        a2 = 1.0 / (1.0 + np.exp(-(a1 @ W2 + b2)))
        delta2 = (a2 - y) * scale * a2 * (1.0 - a2)
        delta1 = (delta2 @ W2.T) * a1 * (1.0 - a1)
        W2 -= lr * (a1.T @ delta2)
        b2 -= lr * delta2.sum(axis=0)
        W1 -= lr * (x.T @ delta1)
        b1 -= lr * delta1.sum(axis=0)
    return [(W1, b1), (W2, b2)]


def forward_loss(weights, x, y):
    """MSE of a 2-2-1 sigmoid network with ``weights``."""
    (W1, b1), (W2, b2) = weights
    return mse(y, sigmoid(sigmoid(x @ W1 + b1) @ W2 + b2))


# MARK: - Workload

def entries(epochs):
    """The libraries' timed jobs; each job returns the final MSE."""
    net = sp.Network([2, 2, 1], activation="sigmoid", loss="mse", seed=0)
    initial = net.weights

    def swiftprop_job(repetition):
        net.set_weights(initial)

        def job():
            net.fit(X, Y, epochs=epochs, lr=LR)
            return net.loss(X, Y)
        return job

    def tutorial_job(repetition):
        model = TutorialNetwork(initial)

        def job():
            model.train(X, Y, epochs, LR)
            return mse(Y, model.forward(X))
        return job

    def lean_job(repetition):
        return lambda: forward_loss(train_lean(initial, X, Y, epochs, LR),
                                    X, Y)

    result = [Entry("swiftprop", swiftprop_job),
              Entry("NumPy tutorial-style class", tutorial_job,
                    note="the target's reference"),
              Entry("NumPy, lean", lean_job)]

    if sklearn is not None:
        from sklearn.neural_network import MLPRegressor

        def sklearn_job(repetition):
            model = MLPRegressor(
                solver="sgd", hidden_layer_sizes=(2,), activation="logistic",
                batch_size=4, learning_rate_init=LR, momentum=0,
                max_iter=epochs, tol=0, n_iter_no_change=epochs + 1, alpha=0,
                shuffle=False, random_state=0)

            def job():
                fit_quietly(model, X, Y.ravel())
                return mse(Y.ravel(), model.predict(X))
            return job
        result.append(Entry("scikit-learn MLPRegressor", sklearn_job,
                            note="identity output, own initial weights"))
    else:
        result.append(skipped("scikit-learn MLPRegressor", "scikit-learn"))

    if torch is not None:
        x_t, y_t = torch.from_numpy(X), torch.from_numpy(Y)

        def torch_job(repetition):
            model = torch_mlp(torch, initial, torch.float64, hidden="sigmoid",
                              output="sigmoid")
            criterion = torch.nn.MSELoss()
            optimizer = torch.optim.SGD(model.parameters(), lr=LR)

            def job():
                for _ in range(epochs):
                    loss = criterion(model(x_t), y_t)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                with torch.no_grad():
                    return criterion(model(x_t), y_t).item()
            return job
        result.append(Entry("PyTorch", torch_job))
    else:
        result.append(skipped("PyTorch", "torch"))

    if jax is not None:
        model = JaxMLP(jax, initial, np.float64, hidden="sigmoid",
                       loss="mse", optimizer="sgd", lr=LR)
        seconds = model.compile_fit(X, Y, epochs)

        def jax_job(repetition):
            model.reset(initial)

            def job():
                model.fit(X, Y, epochs)
                return forward_loss(model.weights, X, Y)
            return job
        result.append(Entry("JAX (compiled loop)", jax_job,
                            note=f"compile {seconds:.2f} s, not timed"))
    else:
        result.append(skipped("JAX (compiled loop)", "jax"))
    return result


def main(argv=None):
    parser = common.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per fit (default 10000, 1000 with "
                        "--quick)")
    args = common.parse_arguments(parser, argv)
    epochs = args.epochs or (1000 if args.quick else 10000)
    common.print_header(args, torch, jax)
    common.configure_torch(torch, THREADS)
    table = entries(epochs)
    common.run_rounds(table, args.repeats)
    common.print_table(
        f"W1 tutorial XOR: 2-2-1 sigmoid, mse, full batch, sgd lr {LR}, "
        f"{epochs} epochs, float64, {THREADS} thread, {args.repeats} "
        "repetitions", table, "µs per epoch", scale=1e6 / epochs,
        columns=[("final mse", 12,
                  lambda entry: f"{entry.results[-1]:.6f}")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

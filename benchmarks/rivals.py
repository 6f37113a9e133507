"""The rivals' networks shared by W2-W4, and the digits data.

- ``NumpyMLP``: a vectorised NumPy network (ReLU hidden layers, softmax
  output, mean cross-entropy), trained by mini-batch SGD or Adam with
  PyTorch's update rules; written the way a careful NumPy user would
  (whole-batch matrix products, in-place element-wise work), not a
  tutorial's loop.
- ``torch_mlp`` / ``torch_fit``: the same network and loop in PyTorch.
- ``JaxMLP``: the same network in JAX, the way a careful JAX user writes
  it: the gradient from ``jax.grad``, and the whole training loop (epochs
  by ``lax.scan`` over the batch orders, mini-batches by ``lax.scan``)
  compiled once by ``jax.jit``; compiled ahead of time so that the
  compile time is measured apart from the training.
- ``digits``: scikit-learn's bundled digits, standardised, split 80/20;
  ``wide_data``: W3's synthetic samples.

Every rival starts from swiftprop's initial weights (``Network.weights``,
``W`` of shape ``(n_in, n_out)``), so all of them train the same function
from the same point. Import this module only after ``common.pin_threads``.
"""

import time
import warnings

import numpy as np

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


# MARK: - NumPy

def inplace_softmax(z):
    """Row-wise softmax of ``z``, overwriting it; returns ``z``."""
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


class NumpyMLP:
    """ReLU hidden layers and a softmax output in plain, vectorised NumPy.

    Parameters
    ----------
    weights : list of (W, b)
        ``W`` of shape ``(n_in, n_out)``, ``b`` of shape ``(n_out,)``;
        copied and converted to ``dtype``.
    dtype : numpy dtype
    """

    def __init__(self, weights, dtype):
        self.dtype = np.dtype(dtype)
        self.W = [np.array(W, dtype=self.dtype) for W, _ in weights]
        self.b = [np.array(b, dtype=self.dtype) for _, b in weights]
        self.step = 0
        self.moments = None

    def predict(self, X):
        """Class probabilities, shape ``(n_samples, n_classes)``."""
        a = X
        for W, b in zip(self.W[:-1], self.b[:-1]):
            a = a @ W
            a += b
            np.maximum(a, 0, out=a)
        z = a @ self.W[-1]
        z += self.b[-1]
        return inplace_softmax(z)

    def fit(self, X, labels, epochs, batch_size, optimizer="sgd", lr=0.01,
            seed=0):
        """Mini-batch training on mean cross-entropy; returns ``self``.

        The rows are reshuffled every epoch (``numpy.random.default_rng``
        seeded by ``seed``); the last batch may be smaller.
        """
        X = np.asarray(X, dtype=self.dtype)
        targets = np.eye(self.W[-1].shape[1], dtype=self.dtype)[labels]
        rng = np.random.default_rng(seed)
        update = self._adam if optimizer == "adam" else self._sgd
        for _ in range(epochs):
            order = rng.permutation(len(X))
            X_epoch, T_epoch = X[order], targets[order]
            for start in range(0, len(X), batch_size):
                stop = start + batch_size
                gradients = self._gradients(X_epoch[start:stop],
                                            T_epoch[start:stop])
                update(gradients, lr)
        return self

    def _gradients(self, X, T):
        """``[(dW, db), ...]`` of the mean cross-entropy on one batch."""
        activations = [X]
        for W, b in zip(self.W[:-1], self.b[:-1]):
            a = activations[-1] @ W
            a += b
            np.maximum(a, 0, out=a)
            activations.append(a)
        delta = activations[-1] @ self.W[-1]
        delta += self.b[-1]
        inplace_softmax(delta)
        delta -= T
        delta /= len(X)
        gradients = [None] * len(self.W)
        for layer in reversed(range(len(self.W))):
            a = activations[layer]
            gradients[layer] = (a.T @ delta, delta.sum(axis=0))
            if layer:
                delta = delta @ self.W[layer].T
                delta *= a > 0  # ReLU'(z) from the stored output a
        return gradients

    def _sgd(self, gradients, lr):
        for W, b, (dW, db) in zip(self.W, self.b, gradients):
            dW *= lr
            W -= dW
            db *= lr
            b -= db

    def _adam(self, gradients, lr):
        beta1, beta2 = ADAM_BETAS
        if self.moments is None:
            self.moments = [(np.zeros_like(p), np.zeros_like(p))
                            for p in self._parameters()]
        self.step += 1
        step_size = lr / (1 - beta1 ** self.step)
        root_correction = np.sqrt(1 - beta2 ** self.step)
        flat = [g for pair in gradients for g in pair]
        for p, g, (m, v) in zip(self._parameters(), flat, self.moments):
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            g *= g
            g *= 1 - beta2
            v += g
            denominator = np.sqrt(v)
            denominator /= root_correction
            denominator += ADAM_EPS
            p -= step_size * m / denominator

    def _parameters(self):
        return [p for pair in zip(self.W, self.b) for p in pair]


# MARK: - PyTorch

def fit_quietly(model, X, y):
    """``model.fit(X, y)`` for a scikit-learn estimator, without the
    ``ConvergenceWarning`` that a fixed, short training budget raises."""
    from sklearn.exceptions import ConvergenceWarning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return model


def torch_mlp(torch, weights, dtype, hidden="relu", output=None):
    """``nn.Sequential`` of ``Linear`` layers holding ``weights``.

    ``hidden`` is the activation after every hidden layer, ``output`` the
    one after the last layer (``None``: logits, as ``CrossEntropyLoss``
    expects).
    """
    activations = {"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid}
    layers = []
    for index, (W, b) in enumerate(weights):
        linear = torch.nn.Linear(*W.shape, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            linear.bias.copy_(torch.from_numpy(np.array(b)))
        layers.append(linear)
        last = index == len(weights) - 1
        if not last or output is not None:
            layers.append(activations[output if last else hidden]())
    return torch.nn.Sequential(*layers)


def torch_fit(torch, model, X, labels, epochs, batch_size, optimizer="sgd",
              lr=0.01, seed=0):
    """The usual PyTorch loop on ``CrossEntropyLoss``; returns ``model``.

    ``X`` and ``labels`` are tensors; rows are reshuffled every epoch with
    ``torch.randperm`` from a generator seeded by ``seed``.
    """
    generator = torch.Generator().manual_seed(seed)
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr, betas=ADAM_BETAS,
                               eps=ADAM_EPS)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr)
    criterion = torch.nn.CrossEntropyLoss()
    n = len(X)
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        X_epoch, y_epoch = X[order], labels[order]
        for start in range(0, n, batch_size):
            opt.zero_grad(set_to_none=True)
            loss = criterion(model(X_epoch[start:start + batch_size]),
                             y_epoch[start:start + batch_size])
            loss.backward()
            opt.step()
    return model


def torch_weights(model):
    """``[(W, b), ...]`` of a ``torch_mlp`` model, ``W`` as ``(n_in, n_out)``."""
    linears = [layer for layer in model if hasattr(layer, "weight")]
    return [(layer.weight.detach().numpy().T.copy(),
             layer.bias.detach().numpy().copy()) for layer in linears]


# MARK: - JAX

class JaxMLP:
    """A fully-connected network trained by a loop compiled with XLA.

    Parameters
    ----------
    jax : module
        ``jax``, imported by ``common.import_jax`` (threads pinned, 64-bit
        types enabled so that float64 stays float64).
    weights : list of (W, b)
        Initial weights, ``W`` of shape ``(n_in, n_out)``; converted to
        ``dtype``.
    dtype : numpy dtype
    hidden : {"relu", "sigmoid"}
        Activation after every hidden layer.
    loss : {"cross_entropy", "mse"}
        ``cross_entropy``: softmax output, mean over rows of
        -sum(t * log softmax(z)), targets given as labels;
        ``mse``: sigmoid output, mean over every element of (a - y)^2.
    optimizer : {"sgd", "adam"}
        Plain SGD, or Adam with PyTorch's update (as ``NumpyMLP``).
    lr : float
    """

    def __init__(self, jax, weights, dtype, hidden="relu",
                 loss="cross_entropy", optimizer="sgd", lr=0.01):
        self.jax = jax
        self.dtype = np.dtype(dtype)
        self.reset(weights)
        self.hidden, self.loss, self.optimizer = hidden, loss, optimizer
        self.lr = lr
        self.compile_seconds = 0.0
        self._trainers = {}
        self._predictors = {}

    def reset(self, weights):
        """Start again from ``weights`` (the compiled functions are kept)."""
        jnp = self.jax.numpy
        self.params = [(jnp.asarray(np.asarray(W, dtype=self.dtype)),
                        jnp.asarray(np.asarray(b, dtype=self.dtype)))
                       for W, b in weights]

    # The mathematics, traced once by jax.jit.

    def _forward(self, params, X):
        """The output layer's pre-activation ``z``."""
        nn = self.jax.nn
        hidden = nn.relu if self.hidden == "relu" else nn.sigmoid
        a = X
        for W, b in params[:-1]:
            a = hidden(a @ W + b)
        W, b = params[-1]
        return a @ W + b

    def _output(self, params, X):
        z = self._forward(params, X)
        if self.loss == "cross_entropy":
            return self.jax.nn.softmax(z, axis=1)
        return self.jax.nn.sigmoid(z)

    def _objective(self, params, X, T):
        jnp = self.jax.numpy
        z = self._forward(params, X)
        if self.loss == "cross_entropy":
            log_p = self.jax.nn.log_softmax(z, axis=1)
            return -jnp.mean(jnp.sum(T * log_p, axis=1))
        return jnp.mean((self.jax.nn.sigmoid(z) - T) ** 2)

    def _step(self, state, X, T):
        """One update on the batch ``(X, T)``; ``state`` is
        ``(params, step, moments)``."""
        jax, jnp = self.jax, self.jax.numpy
        params, step, moments = state
        grads = jax.grad(self._objective)(params, X, T)
        if self.optimizer == "sgd":
            params = jax.tree_util.tree_map(lambda p, g: p - self.lr * g,
                                            params, grads)
            return params, step, moments
        beta1, beta2 = ADAM_BETAS
        step = step + 1
        first, second = moments
        first = jax.tree_util.tree_map(
            lambda m, g: beta1 * m + (1 - beta1) * g, first, grads)
        second = jax.tree_util.tree_map(
            lambda v, g: beta2 * v + (1 - beta2) * g * g, second, grads)
        step_size = self.lr / (1 - beta1 ** step)
        root_correction = jnp.sqrt(1 - beta2 ** step)
        params = jax.tree_util.tree_map(
            lambda p, m, v: p - step_size * m
            / (jnp.sqrt(v) / root_correction + ADAM_EPS),
            params, first, second)
        return params, step, (first, second)

    def _train(self, params, X, T, orders, batch_size):
        """Every epoch of a fit: ``orders`` has one row order per epoch.

        Full batches run under ``lax.scan``; a last, smaller batch (as
        the other rivals take it) is one more step with its own shape.
        """
        jax, jnp = self.jax, self.jax.numpy
        n = X.shape[0]
        full, rest = divmod(n, batch_size)
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        moments = (zeros, zeros) if self.optimizer == "adam" else ()
        step = jnp.zeros((), self.dtype)

        def batch(state, pair):
            return self._step(state, *pair), None

        def epoch(state, order):
            X_epoch, T_epoch = X[order], T[order]
            if full:
                stacked = (X_epoch[:full * batch_size].reshape(
                    full, batch_size, X.shape[1]),
                    T_epoch[:full * batch_size].reshape(
                        full, batch_size, T.shape[1]))
                state, _ = jax.lax.scan(batch, state, stacked)
            if rest:
                state = self._step(state, X_epoch[full * batch_size:],
                                   T_epoch[full * batch_size:])
            return state, None

        state, _ = jax.lax.scan(epoch, (params, step, moments), orders)
        return state[0]

    def _train_in_order(self, params, X, T, epochs):
        """Full-batch gradient descent, ``epochs`` steps by
        ``lax.fori_loop`` (no shuffling: W1)."""
        jax, jnp = self.jax, self.jax.numpy
        state = (params, jnp.zeros((), self.dtype), ())
        state = jax.lax.fori_loop(
            0, epochs, lambda _, state: self._step(state, X, T), state)
        return state[0]

    # Compiled once per shape, ahead of time.

    def compile_fit(self, X, targets, epochs, batch_size=None):
        """Compile the fit for these shapes; returns the seconds it took.

        ``batch_size=None``: full-batch steps in order, else mini-batches
        reshuffled every epoch.
        """
        key = (X.shape, targets.shape, epochs, batch_size)
        if key not in self._trainers:
            jax, jnp = self.jax, self.jax.numpy
            T = self._targets(targets)
            start = time.perf_counter()
            if batch_size is None:
                compiled = jax.jit(self._train_in_order,
                                   static_argnums=3).lower(
                    self.params, jnp.asarray(X), T, epochs).compile()
            else:
                orders = jnp.zeros((epochs, len(X)), jnp.int32)
                compiled = jax.jit(self._train, static_argnums=4).lower(
                    self.params, jnp.asarray(X), T, orders,
                    batch_size).compile()
            self.compile_seconds = time.perf_counter() - start
            self._trainers[key] = compiled
        return self.compile_seconds

    def fit(self, X, targets, epochs, batch_size=None, seed=0):
        """Train in place; returns ``self``. ``targets`` are labels (cross
        entropy) or a target matrix (mse). Rows are reshuffled every epoch
        with ``numpy.random.default_rng(seed)``, as ``NumpyMLP`` does."""
        jnp = self.jax.numpy
        self.compile_fit(X, targets, epochs, batch_size)
        compiled = self._trainers[(X.shape, targets.shape, epochs,
                                   batch_size)]
        T = self._targets(targets)
        if batch_size is None:
            params = compiled(self.params, jnp.asarray(X), T)
        else:
            rng = np.random.default_rng(seed)
            orders = np.stack([rng.permutation(len(X))
                               for _ in range(epochs)]).astype(np.int32)
            params = compiled(self.params, jnp.asarray(X), T,
                              jnp.asarray(orders))
        self.params = self.jax.block_until_ready(params)
        return self

    def _targets(self, targets):
        jnp = self.jax.numpy
        if self.loss == "cross_entropy":
            n_out = self.params[-1][0].shape[1]
            return jnp.asarray(np.eye(n_out, dtype=self.dtype)[targets])
        return jnp.asarray(np.asarray(targets, dtype=self.dtype))

    def compile_predict(self, X):
        """Compile ``predict`` for ``X``'s shape; returns the seconds."""
        start = time.perf_counter()
        self._predictors[X.shape] = self.jax.jit(self._output).lower(
            self.params, self.jax.numpy.asarray(X)).compile()
        return time.perf_counter() - start

    def predict(self, X):
        """The network's output (softmax or sigmoid) as a NumPy array."""
        if X.shape not in self._predictors:
            self.compile_predict(X)
        return np.asarray(self._predictors[X.shape](self.params, X))

    @property
    def weights(self):
        """``[(W, b), ...]`` as NumPy arrays."""
        return [(np.asarray(W), np.asarray(b)) for W, b in self.params]


# MARK: - Data

def digits(dtype, random_state=0):
    """scikit-learn's digits: standardised, 80/20 stratified split.

    Returns
    -------
    X_train : ndarray of shape (1437, 64)
    X_test : ndarray of shape (360, 64)
    y_train, y_test : int64 ndarrays of labels 0-9
        The scaler is fitted on the training rows only.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=random_state)
    scaler = StandardScaler().fit(X_train)
    return (np.ascontiguousarray(scaler.transform(X_train), dtype=dtype),
            np.ascontiguousarray(scaler.transform(X_test), dtype=dtype),
            y_train.astype(np.int64), y_test.astype(np.int64))


def wide_data(samples, n_in, n_out, seed=0):
    """W3's samples: standard-normal float32 features, labelled by a fixed
    random linear map (the argmax of ``X @ teacher``).

    Returns
    -------
    X : float32 ndarray of shape (samples, n_in)
    labels : int64 ndarray of shape (samples,), values 0 ... n_out - 1
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((samples, n_in), dtype=np.float32)
    teacher = rng.standard_normal((n_in, n_out), dtype=np.float32)
    return X, np.argmax(X @ teacher, axis=1).astype(np.int64)

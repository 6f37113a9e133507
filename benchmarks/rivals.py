"""The rivals' networks shared by W2-W4, and the digits data.

- ``NumpyMLP``: a vectorised NumPy network (ReLU hidden layers, softmax
  output, mean cross-entropy), trained by mini-batch SGD or Adam with
  PyTorch's update rules; written the way a careful NumPy user would
  (whole-batch matrix products, in-place element-wise work), not a
  tutorial's loop.
- ``torch_mlp`` / ``torch_fit``: the same network and loop in PyTorch.
- ``digits``: scikit-learn's bundled digits, standardised, split 80/20.

Every rival starts from swiftprop's initial weights (``Network.weights``,
``W`` of shape ``(n_in, n_out)``), so all of them train the same function
from the same point. Import this module only after ``common.pin_threads``.
"""

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

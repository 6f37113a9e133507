"""The documents' examples against the tutorials they come from.

``examples/tutorial_*.py`` run the tutorials' networks on the Swift engine;
here each is checked against the tutorial's own mathematics, written out in
plain NumPy (or run in PyTorch where it is installed), number for number.
Then every script in ``examples/`` runs as a subprocess with
``SWIFTPROP_FAST=1`` and must exit 0.
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import XOR_X, XOR_Y

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TUTORIAL_EPOCHS = 10000
TUTORIAL_PRINT_EVERY = 1000


def load_example(name):
    """Import ``examples/<name>.py`` as a module (its ``__main__`` part does
    not run)."""
    path = EXAMPLES / f"{name}.py"
    if not path.exists():
        pytest.skip(f"{path} is not in this tree")
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_weights_close(actual, expected, atol):
    """Compare ``[(W, b), ...]`` lists element by element."""
    for layer, (pair_a, pair_e) in enumerate(zip(actual, expected)):
        for name, a, e in zip("Wb", pair_a, pair_e):
            np.testing.assert_allclose(a, np.reshape(e, np.shape(a)), rtol=0,
                                       atol=atol, err_msg=f"{name}{layer}")


# MARK: - The NumPy tutorial's XOR network


class TutorialXOR:
    """The NumPy tutorial's 2-2-1 network, its conventions kept: biases of
    shape (1, n), the MSE derivative divided by the number of elements and
    the weight gradients divided by the batch size once more."""

    def __init__(self, W1, W2):
        self.W1, self.W2 = W1.copy(), W2.copy()
        self.b1 = np.zeros((1, W1.shape[1]))
        self.b2 = np.zeros((1, W2.shape[1]))

    @staticmethod
    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    def forward(self, X):
        self.z1 = X @ self.W1 + self.b1
        self.a1 = self.sigmoid(self.z1)
        self.z2 = self.a1 @ self.W2 + self.b2
        self.a2 = self.sigmoid(self.z2)
        return self.a2

    def backward(self, X, Y, learning_rate):
        m = X.shape[0]
        s1, s2 = self.sigmoid(self.z1), self.sigmoid(self.z2)
        delta2 = 2 * (self.a2 - Y) / Y.size * s2 * (1 - s2)
        dW2 = self.a1.T @ delta2 / m
        db2 = delta2.sum(axis=0, keepdims=True) / m
        delta1 = delta2 @ self.W2.T * s1 * (1 - s1)
        dW1 = X.T @ delta1 / m
        db1 = delta1.sum(axis=0, keepdims=True) / m
        self.W2 -= learning_rate * dW2
        self.b2 -= learning_rate * db2
        self.W1 -= learning_rate * dW1
        self.b1 -= learning_rate * db1

    @property
    def weights(self):
        return [(self.W1, self.b1), (self.W2, self.b2)]


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_xor_numpy_example_follows_the_tutorial_class(seed):
    example = load_example("tutorial_xor_numpy")
    rng = np.random.default_rng(seed)
    W1, W2 = rng.standard_normal((2, 2)), rng.standard_normal((2, 1))

    tutorial = TutorialXOR(W1, W2)
    printed = {}
    for epoch in range(TUTORIAL_EPOCHS):
        output = tutorial.forward(XOR_X)
        tutorial.backward(XOR_X, XOR_Y, learning_rate=0.1)
        if epoch % TUTORIAL_PRINT_EVERY == 0:
            printed[epoch] = np.mean((XOR_Y - output) ** 2)

    assert example.LEARNING_RATE == 0.025
    net, history = example.train([(W1, np.zeros(2)), (W2, np.zeros(1))],
                                 epochs=TUTORIAL_EPOCHS)
    assert_weights_close(net.weights, tutorial.weights, atol=1e-10)
    for epoch, loss in printed.items():
        assert f"{history.loss[epoch]:.4f}" == f"{loss:.4f}", epoch
        assert history.loss[epoch] == pytest.approx(loss, rel=1e-10)


# MARK: - The PyTorch tutorial's XOR network


def test_xor_torch_example_follows_pytorch():
    torch = pytest.importorskip(
        "torch", reason="PyTorch is not installed: the PyTorch tutorial's "
        "network cannot be run to compare with (pip install torch)")
    from torch import nn

    example = load_example("tutorial_xor_torch")
    start = example.initial_weights(seed=3)

    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1),
                          nn.Sigmoid()).double()
    linears = (model[0], model[2])
    with torch.no_grad():
        for linear, (W, b) in zip(linears, start):
            linear.weight.copy_(torch.tensor(W.T))  # (out, in) in PyTorch
            linear.bias.copy_(torch.tensor(b))
    criterion = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    inputs = torch.tensor(XOR_X, dtype=torch.float64)
    targets = torch.tensor(XOR_Y, dtype=torch.float64)
    printed = {}
    for epoch in range(TUTORIAL_EPOCHS):
        loss = criterion(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if (epoch + 1) % TUTORIAL_PRINT_EVERY == 0:
            printed[epoch] = loss.item()
    trained = [(linear.weight.detach().numpy().T, linear.bias.detach().numpy())
               for linear in linears]

    assert example.LEARNING_RATE == 0.1
    net, history = example.train(start, epochs=TUTORIAL_EPOCHS)
    assert_weights_close(net.weights, trained, atol=1e-9)
    for epoch, loss in printed.items():
        assert history.loss[epoch] == pytest.approx(loss, rel=1e-9), epoch


# MARK: - The single steps


def test_forward_example_gives_the_tutorials_outputs():
    example = load_example("tutorial_forward_backward")
    outputs = example.forward_example()
    np.testing.assert_array_equal(np.round(outputs, 4), [0.8909, 0.9926])
    # The tutorial's computation: weights of shape (outputs, inputs).
    weights = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    z = weights @ np.array([2, 3, 4]) + np.array([0.1, 0.2])
    np.testing.assert_allclose(outputs, 1 / (1 + np.exp(-z)), rtol=0,
                               atol=1e-12)


def test_backward_example_gives_the_tutorials_updated_weights():
    # The tutorial's hand-written step: no biases, the output error is
    # dL/da, every gradient is an outer product of one sample.
    x = np.array([0.5, -0.3])
    W1 = np.array([[0.1, 0.3], [0.2, 0.5]])
    W2 = np.array([[0.2, 0.4], [0.3, 0.6]])
    hidden = 1 / (1 + np.exp(-(x @ W1)))
    output = 1 / (1 + np.exp(-(hidden @ W2)))
    output_grad = np.array([0.8, 0.2]) * output * (1 - output)
    hidden_grad = (output_grad @ W2.T) * hidden * (1 - hidden)
    expected_W1 = W1 - 0.1 * np.outer(x, hidden_grad)
    expected_W2 = W2 - 0.1 * np.outer(hidden, output_grad)

    example = load_example("tutorial_forward_backward")
    W1_new, W2_new = example.backward_example()
    np.testing.assert_allclose(W1_new, expected_W1, rtol=0, atol=1e-12)
    np.testing.assert_allclose(W2_new, expected_W2, rtol=0, atol=1e-12)


def test_linear_regression_example_gives_the_tutorials_step():
    w, b, lr, x, y_true = 0.5, 0.2, 0.1, 2.0, 0.8
    y_pred = w * x + b
    expected = (w - lr * (y_pred - y_true) * x, b - lr * (y_pred - y_true))

    example = load_example("tutorial_linear_regression")
    updated = example.regression_step(w, b, x, y_true)
    np.testing.assert_allclose(updated, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(updated, (0.42, 0.16), rtol=0, atol=1e-12)


# MARK: - Every script runs


# Lines a script's output must contain, where it prints known numbers.
EXPECTED_OUTPUT = {
    "tutorial_forward_backward.py": ["[0.89090318 0.99260846]"],
    "tutorial_linear_regression.py": ["Updated w: 0.42", "Updated b: 0.16"],
    "tutorial_xor_numpy.py": ["Epoch 0, Loss: ", "Epoch 1000, Loss: "],
    "tutorial_xor_torch.py": ["Epoch [1000/2000], Loss: "],
}
# Modules every example may rely on; any other missing one is optional.
REQUIRED_MODULES = {"numpy", "swiftprop"}


@pytest.mark.parametrize("script", sorted(EXAMPLES.glob("*.py")),
                         ids=lambda path: path.name)
def test_example_script_runs(script):
    env = dict(os.environ, SWIFTPROP_FAST="1")
    result = subprocess.run([sys.executable, str(script)], env=env,
                            capture_output=True, text=True, timeout=300)
    missing = re.search(r"ModuleNotFoundError: No module named '([\w.]+)'",
                        result.stderr)
    if result.returncode != 0 and missing and (
            missing.group(1).split(".")[0] not in REQUIRED_MODULES):
        pytest.skip(f"{script.name} needs {missing.group(1)}, which is not "
                    "installed")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip(), f"{script.name} printed nothing"
    for expected in EXPECTED_OUTPUT.get(script.name, []):
        assert expected in result.stdout, result.stdout

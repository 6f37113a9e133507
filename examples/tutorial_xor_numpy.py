"""The NumPy tutorial's XOR network, trained on the Swift engine.

A 2-2-1 sigmoid network is trained on XOR by full-batch gradient descent
on the mean squared error for 10000 epochs, from standard-normal weights and
zero biases; the loss is printed every 1000 epochs, as the tutorial prints
it. ``python/tests/test_examples.py`` checks the numbers against the
tutorial's own NumPy class started from the same weights. (With two hidden
units and this small step the loss is still near 0.25 after 10000 epochs:
the tutorial's network learns slowly, and ours follows it exactly.)
Set SWIFTPROP_FAST=1 for 2000 epochs instead (the test suite does).
"""

import os

import numpy as np

import swiftprop as sp

EPOCHS = 2000 if os.environ.get("SWIFTPROP_FAST") else 10000
PRINT_EVERY = 1000
SEED = 0
# The tutorial's backward pass divides by the batch size twice (in the MSE
# derivative and again in dW = a.T @ delta / m), so its step with lr 0.1 is
# true-MSE gradient descent with lr 0.1 / 4: our mse, whose gradient is
# 2 (y_hat - y) / (n k), takes that step with lr = 0.025.
LEARNING_RATE = 0.1 / 4

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
y = np.array([[0], [1], [1], [0]], dtype=float)


def initial_weights(seed=SEED):
    """Standard-normal W1 (2, 2) then W2 (2, 1), zero biases, as the
    tutorial draws them (with NumPy's Generator instead of np.random)."""
    rng = np.random.default_rng(seed)
    W1 = rng.standard_normal((2, 2))
    W2 = rng.standard_normal((2, 1))
    return [(W1, np.zeros(2)), (W2, np.zeros(1))]


def train(weights, epochs=EPOCHS):
    """Train a 2-2-1 sigmoid network from ``weights``; returns it and its
    ``History`` (``loss[e]`` is the loss before epoch e's step)."""
    net = sp.Network([2, 2, 1], activation="sigmoid", loss="mse")
    net.set_weights(weights)
    history = net.fit(X, y, epochs=epochs, lr=LEARNING_RATE)
    return net, history


if __name__ == "__main__":
    net, history = train(initial_weights())
    for epoch in range(0, EPOCHS, PRINT_EVERY):
        print(f"Epoch {epoch}, Loss: {history.loss[epoch]:.4f}")

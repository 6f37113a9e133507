"""XOR on the Swift engine: the tutorials' first network.

A 2-4-1 sigmoid network trained by full-batch gradient descent on the mean
squared error; the loss is printed as it falls, then the predictions.
Set SWIFTPROP_FAST=1 for a shorter run (the test suite does).
"""

import os

import numpy as np

import swiftprop as sp

EPOCHS = 1000 if os.environ.get("SWIFTPROP_FAST") else 10000

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
y = np.array([[0], [1], [1], [0]])

net = sp.Network([2, 4, 1], activation="sigmoid", loss="mse", seed=0)
print(net)
history = net.fit(X, y, epochs=EPOCHS, lr=2.0, optimizer="sgd",
                  verbose=EPOCHS // 10)
print(f"final loss {history.loss[-1]:.6f} after {history.epochs} epochs")
for inputs, output in zip(X, net.predict(X)):
    print(f"{inputs[0]} XOR {inputs[1]} -> {output[0]:.4f}")

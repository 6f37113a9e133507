"""The PyTorch tutorial's XOR network, trained on the Swift engine.

The tutorial builds ``nn.Linear(2, 2)``, a sigmoid, ``nn.Linear(2, 1)`` and
a sigmoid, and trains them with ``nn.MSELoss`` and ``optim.SGD(lr=0.1)`` for
10000 epochs, printing the loss every 1000 epochs. Here the same network
starts from weights drawn as ``nn.Linear`` draws its own, and is trained on
the Swift engine. Where PyTorch is installed, its model is trained from the
same weights too and the two are compared.
Set SWIFTPROP_FAST=1 for 2000 epochs instead (the test suite does).
"""

import os

import numpy as np

import swiftprop as sp

EPOCHS = 2000 if os.environ.get("SWIFTPROP_FAST") else 10000
PRINT_EVERY = 1000
SEED = 0
# nn.MSELoss is the mean over all elements, as our mse, so PyTorch's lr 0.1
# is ours; nn.Linear keeps its weight as (out, in) and ours is W of shape
# (in, out): weight = W.T. We train in float64 (the tutorial uses float32).
LEARNING_RATE = 0.1

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
y = np.array([[0], [1], [1], [0]], dtype=float)


def initial_weights(seed=SEED):
    """W and b of each layer uniform in ±1/sqrt(n_in), as ``nn.Linear``
    initialises itself; W of shape (n_in, n_out)."""
    rng = np.random.default_rng(seed)
    weights = []
    for n_in, n_out in [(2, 2), (2, 1)]:
        bound = 1 / np.sqrt(n_in)
        weights.append((rng.uniform(-bound, bound, (n_in, n_out)),
                        rng.uniform(-bound, bound, n_out)))
    return weights


def train(weights, epochs=EPOCHS):
    """Train a 2-2-1 sigmoid network from ``weights``; returns it and its
    ``History`` (``loss[e]`` is the loss computed in epoch e, before its
    step, as the tutorial's ``loss.item()``)."""
    net = sp.Network([2, 2, 1], activation="sigmoid", loss="mse")
    net.set_weights(weights)
    history = net.fit(X, y, epochs=epochs, lr=LEARNING_RATE)
    return net, history


def train_torch(weights, epochs=EPOCHS):
    """The tutorial's model and loop, in float64, from ``weights``;
    returns the trained ``[(W, b), ...]`` in our layout."""
    import torch
    from torch import nn

    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1),
                          nn.Sigmoid()).double()
    with torch.no_grad():
        for linear, (W, b) in zip((model[0], model[2]), weights):
            linear.weight.copy_(torch.from_numpy(W.T))
            linear.bias.copy_(torch.from_numpy(b))
    criterion = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    inputs, targets = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(epochs):
        loss = criterion(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return [(linear.weight.detach().numpy().T.copy(),
             linear.bias.detach().numpy().copy())
            for linear in (model[0], model[2])]


if __name__ == "__main__":
    start = initial_weights()
    net, history = train(start)
    for epoch in range(PRINT_EVERY, EPOCHS + 1, PRINT_EVERY):
        print(f"Epoch [{epoch}/{EPOCHS}], Loss: {history.loss[epoch - 1]:.4f}")
    try:
        trained = train_torch(start)
    except ImportError:
        print("PyTorch is not installed: skipping the comparison with it")
    else:
        gap = max(np.abs(ours - theirs).max()
                  for pair, torch_pair in zip(net.weights, trained)
                  for ours, theirs in zip(pair, torch_pair))
        print(f"largest weight difference from PyTorch: {gap:.2e}")

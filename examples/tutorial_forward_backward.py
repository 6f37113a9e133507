"""The tutorial's forward pass and hand-written backward step, on the engine.

Forward: one dense layer, 3 inputs to 2 outputs with a sigmoid, fixed
weights and biases, applied to the input [2, 3, 4]; the tutorial gets about
[0.8909, 0.9926]. Backward: a 2-2-2 sigmoid network without biases, given
an "output error" for the input [0.5, -0.3], takes one gradient-descent step
with learning rate 0.1; the updated weight matrices are printed.
Both run in an instant, so SWIFTPROP_FAST changes nothing here.
"""

import numpy as np

import swiftprop as sp

LEARNING_RATE = 0.1


def forward_example():
    """The tutorial's single layer on the input [2, 3, 4]; returns the two
    outputs."""
    weights = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    biases = np.array([0.1, 0.2])
    # The tutorial stores the weights as (outputs, inputs) and computes
    # weights @ x; our layer computes x @ W with W of shape (n_in, n_out),
    # so W is the transpose.
    layer = sp.Network([3, 2], activation="sigmoid")
    layer.set_weights([(weights.T, biases)])
    _, activations = layer.forward([[2, 3, 4]])
    return activations[-1][0]


def backward_example():
    """The tutorial's 2-2-2 step; returns the updated (W1, W2)."""
    x = np.array([[0.5, -0.3]])
    W1 = np.array([[0.1, 0.3], [0.2, 0.5]])
    W2 = np.array([[0.2, 0.4], [0.3, 0.6]])
    output_error = np.array([[0.8, 0.2]])
    net = sp.Network([2, 2, 2], activation="sigmoid", loss="mse")
    net.set_weights([(W1, np.zeros(2)), (W2, np.zeros(2))])
    # The tutorial hands the backward pass dL/da (its "output error") and
    # has no biases. Our mse on one sample with k = 2 outputs has
    # dL/da = 2 (a - y) / 2 = a - y, so the target y = a - error gives that
    # dL/da; our biases start at zero, and only the weights are compared.
    a = net.predict(x)
    net.train_step(x, a - output_error, lr=LEARNING_RATE)
    (W1, _), (W2, _) = net.weights
    return W1, W2


if __name__ == "__main__":
    print(forward_example())  # about [0.8909 0.9926]
    W1, W2 = backward_example()
    print(W1)
    print(W2)

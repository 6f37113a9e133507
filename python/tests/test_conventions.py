"""README "Conventions": every row of the table, checked with numbers.

Each convention is written here as its own loss, in plain NumPy, as a
function of the parameters; its gradient-descent step is taken with central
finite differences of that loss. The same step must come out of
``train_step`` with the ``lr`` and ``l2`` the table gives. Then the seed
tutorials' own steps, written as they write them.
"""

import numpy as np
import pytest

import swiftprop as sp

N, K = 5, 3                # samples and outputs: distinct, and not 2,
ETA, LAMBDA = 0.1, 0.03    # so that no factor n, k or 1/2 hides


def data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (N, 2))
    Y = rng.uniform(-1, 1, (N, K))
    labels = rng.integers(0, K, N)
    return X, Y, labels


OUTPUT_FOR_LOSS = {"mse": "identity", "cross_entropy": "softmax",
                   "binary_cross_entropy": "sigmoid"}


def regression_net(loss="mse"):
    output = OUTPUT_FOR_LOSS[loss]
    return sp.Network([2, 4, K], activation="sigmoid",
                      output_activation=output, loss=loss, seed=11)


def outputs(params, X, output):
    """The forward pass, written out: sigmoid hidden layer, then an
    identity, sigmoid or softmax output."""
    (W1, b1), (W2, b2) = params
    hidden = 1 / (1 + np.exp(-(X @ W1 + b1)))
    z = hidden @ W2 + b2
    if output == "identity":
        return z
    if output == "sigmoid":
        return 1 / (1 + np.exp(-z))
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def squared_weights(params):
    return sum(np.sum(W * W) for W, _ in params)


# Their loss as a function of (outputs a, targets, params); ours maps to
# (lr, l2). n = N samples, k = K outputs.
CONVENTIONS = {
    "PyTorch MSELoss() (mean over all elements)":
        (lambda a, Y, p: np.mean((a - Y) ** 2), ETA, 0.0),
    "PyTorch MSELoss(reduction='sum')":
        (lambda a, Y, p: np.sum((a - Y) ** 2), ETA * N * K, 0.0),
    "0.5 * MSE (mean over all elements)":
        (lambda a, Y, p: 0.5 * np.mean((a - Y) ** 2), ETA / 2, 0.0),
    "1/(2n) sum over samples of ||y - a||^2 (Nielsen, scikit-learn)":
        (lambda a, Y, p: np.sum((a - Y) ** 2) / (2 * N), ETA * K / 2, 0.0),
    "sum over samples of 1/2 ||y - a||^2 (gradient summed)":
        (lambda a, Y, p: 0.5 * np.sum((a - Y) ** 2), ETA * N * K / 2, 0.0),
    "MSE as xor_numpy.py: dW divided by m once more":
        (lambda a, Y, p: np.mean((a - Y) ** 2) / N, ETA / N, 0.0),
    "MSE + lambda/2 ||W||^2 (PyTorch SGD weight_decay=lambda)":
        (lambda a, Y, p: np.mean((a - Y) ** 2) + LAMBDA / 2
         * squared_weights(p), ETA, LAMBDA),
    "MSE + lambda ||W||^2":
        (lambda a, Y, p: np.mean((a - Y) ** 2) + LAMBDA
         * squared_weights(p), ETA, 2 * LAMBDA),
    "1/(2n) sum ||y - a||^2 + lambda/(2n) ||W||^2 (Nielsen L2, "
    "scikit-learn alpha)":
        (lambda a, Y, p: np.sum((a - Y) ** 2) / (2 * N) + LAMBDA / (2 * N)
         * squared_weights(p), ETA * K / 2, (2 / K) * LAMBDA / N),
}

CROSS_ENTROPY_CONVENTIONS = {
    "PyTorch CrossEntropyLoss() (mean over samples)":
        (lambda a, Y, p: -np.sum(Y * np.log(a)) / N, ETA, 0.0),
    "cross-entropy summed over samples":
        (lambda a, Y, p: -np.sum(Y * np.log(a)), ETA * N, 0.0),
}

BINARY_CROSS_ENTROPY_CONVENTIONS = {
    "PyTorch BCEWithLogitsLoss() (mean over all elements)":
        (lambda a, Y, p: -np.mean(Y * np.log(a) + (1 - Y) * np.log(1 - a)),
         ETA, 0.0),
}


def finite_difference_step(loss, params, X, Y, output, eta, eps=1e-6):
    """Their step ``p - eta * dLoss/dp``, the gradient by central
    differences of ``loss`` over every weight and bias."""
    stepped = []
    for l, pair in enumerate(params):
        new_pair = []
        for m, array in enumerate(pair):
            gradient = np.zeros_like(array)
            for index in np.ndindex(array.shape):
                values = []
                for sign in (1, -1):
                    shifted = [[q.copy() for q in pq] for pq in params]
                    shifted[l][m][index] += sign * eps
                    a = outputs(shifted, X, output)
                    values.append(loss(a, Y, shifted))
                gradient[index] = (values[0] - values[1]) / (2 * eps)
            new_pair.append(array - eta * gradient)
        stepped.append(tuple(new_pair))
    return stepped


def assert_same_step(net, theirs, lr, l2, X, y):
    net.train_step(X, y, lr=lr, l2=l2)
    for (W, b), (W_t, b_t) in zip(net.weights, theirs):
        np.testing.assert_allclose(W, W_t, rtol=0, atol=1e-8)
        np.testing.assert_allclose(b, b_t, rtol=0, atol=1e-8)


@pytest.mark.parametrize("name", list(CONVENTIONS))
def test_squared_error_conventions(name):
    loss, lr, l2 = CONVENTIONS[name]
    X, Y, _ = data()
    net = regression_net()
    theirs = finite_difference_step(loss, net.weights, X, Y, "identity",
                                    ETA)
    assert_same_step(net, theirs, lr, l2, X, Y)


@pytest.mark.parametrize("name", list(CROSS_ENTROPY_CONVENTIONS))
def test_cross_entropy_conventions(name):
    loss, lr, l2 = CROSS_ENTROPY_CONVENTIONS[name]
    X, _, labels = data()
    net = regression_net("cross_entropy")
    theirs = finite_difference_step(loss, net.weights, X, np.eye(K)[labels],
                                    "softmax", ETA)
    assert_same_step(net, theirs, lr, l2, X, labels)


@pytest.mark.parametrize("name", list(BINARY_CROSS_ENTROPY_CONVENTIONS))
def test_binary_cross_entropy_conventions(name):
    loss, lr, l2 = BINARY_CROSS_ENTROPY_CONVENTIONS[name]
    X, Y, _ = data()
    Y = (Y + 1) / 2  # probabilities in [0, 1]
    net = regression_net("binary_cross_entropy")
    theirs = finite_difference_step(loss, net.weights, X, Y, "sigmoid", ETA)
    assert_same_step(net, theirs, lr, l2, X, Y)


def test_a_wrong_mapping_is_caught():
    # The check is sharp enough to tell eta from eta / 2.
    loss, _, _ = CONVENTIONS["0.5 * MSE (mean over all elements)"]
    X, Y, _ = data()
    net = regression_net()
    theirs = finite_difference_step(loss, net.weights, X, Y, "identity",
                                    ETA)
    with pytest.raises(AssertionError):
        assert_same_step(net, theirs, ETA, 0.0, X, Y)


# MARK: - The seed tutorials, written as they write them


def test_xor_numpy_double_division():
    # xor_numpy.py: delta2 = 2 (a2 - y) / y.size * a2 (1 - a2), then
    # dw2 = a1.T @ delta2 / m: a step of lr 0.1 is ours with lr 0.1 / 4.
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([[0], [1], [1], [0]], dtype=float)
    rng = np.random.default_rng(3)
    w1, w2 = rng.standard_normal((2, 2)), rng.standard_normal((2, 1))
    b1, b2 = np.zeros((1, 2)), np.zeros((1, 1))
    net = sp.Network([2, 2, 1], activation="sigmoid", loss="mse")
    net.set_weights([(w1, b1), (w2, b2)])

    m = X.shape[0]
    a1 = 1 / (1 + np.exp(-(X @ w1 + b1)))
    a2 = 1 / (1 + np.exp(-(a1 @ w2 + b2)))
    delta2 = 2 * (a2 - y) / y.size * a2 * (1 - a2)
    delta1 = delta2 @ w2.T * a1 * (1 - a1)
    expected = [(w1 - 0.1 * X.T @ delta1 / m,
                 b1 - 0.1 * delta1.sum(axis=0, keepdims=True) / m),
                (w2 - 0.1 * a1.T @ delta2 / m,
                 b2 - 0.1 * delta2.sum(axis=0, keepdims=True) / m)]
    net.train_step(X, y, lr=0.1 / 4)
    for (W, b), (W_e, b_e) in zip(net.weights, expected):
        np.testing.assert_allclose(W, W_e, rtol=0, atol=1e-15)
        np.testing.assert_allclose(b, b_e.ravel(), rtol=0, atol=1e-15)


def test_xor_torch_lr_is_unchanged():
    torch = pytest.importorskip("torch", reason="torch is not installed; "
                                "the MSELoss row above checks the same "
                                "mapping by finite differences")
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([[0], [1], [1], [0]], dtype=float)
    net = sp.Network([2, 2, 1], activation="sigmoid", loss="mse", seed=4)
    fc1, fc2 = torch.nn.Linear(2, 2).double(), torch.nn.Linear(2, 1).double()
    with torch.no_grad():
        for layer, (W, b) in zip((fc1, fc2), net.weights):
            layer.weight.copy_(torch.from_numpy(W.T))
            layer.bias.copy_(torch.from_numpy(b))
    optimizer = torch.optim.SGD(list(fc1.parameters()) +
                                list(fc2.parameters()), lr=0.1)
    out = torch.sigmoid(fc2(torch.sigmoid(fc1(torch.from_numpy(X)))))
    loss = torch.nn.MSELoss()(out, torch.from_numpy(y))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    net.train_step(X, y, lr=0.1)
    for (W, b), layer in zip(net.weights, (fc1, fc2)):
        np.testing.assert_allclose(W, layer.weight.detach().numpy().T,
                                   atol=1e-14)
        np.testing.assert_allclose(b, layer.bias.detach().numpy(), atol=1e-14)


def test_linear_regression_half_squared_error():
    # linear_regression_step.py: loss (y_pred - y)^2 / 2, lr 0.1: w 0.5 ->
    # 0.42, b 0.2 -> 0.16. Our mse has no 1/2, so lr = 0.1 / 2.
    net = sp.Network([1, 1], activation="identity", loss="mse")
    net.set_weights([([[0.5]], [0.2])])
    net.train_step([[2.0]], [[0.8]], lr=0.1 / 2)
    (W, b), = net.weights
    assert W[0, 0] == pytest.approx(0.42, abs=1e-15)
    assert b[0] == pytest.approx(0.16, abs=1e-15)


def test_forward_backward_given_output_error():
    # forward_backward_steps.py hands the backward pass dL/da = e (its
    # "output error") for one sample; ours, mse over k = 2 outputs, has
    # dL/da = 2 (a - y) / 2 = a - y, so the target y = a - e; lr unchanged.
    x = np.array([[0.5, -0.3]])
    W1 = np.array([[0.1, 0.3], [0.2, 0.5]])
    W2 = np.array([[0.2, 0.4], [0.3, 0.6]])
    e = np.array([[0.8, 0.2]])
    hidden = 1 / (1 + np.exp(-(x @ W1)))
    out = 1 / (1 + np.exp(-(hidden @ W2)))
    output_grad = e * out * (1 - out)
    hidden_grad = output_grad @ W2.T * hidden * (1 - hidden)
    W1_expected = W1 - 0.1 * x.T @ hidden_grad
    W2_expected = W2 - 0.1 * hidden.T @ output_grad

    net = sp.Network([2, 2, 2], activation="sigmoid", loss="mse")
    net.set_weights([(W1, np.zeros(2)), (W2, np.zeros(2))])
    trace = net.explain(x, net.predict(x) - e, lr=0.1)
    np.testing.assert_allclose(trace.layers[1].grad_a, e, atol=1e-15)
    np.testing.assert_allclose(trace.layers[0].W_new, W1_expected, atol=1e-15)
    np.testing.assert_allclose(trace.layers[1].W_new, W2_expected, atol=1e-15)

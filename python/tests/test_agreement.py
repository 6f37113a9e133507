"""The Swift engine against ``swiftprop.reference``, the plain NumPy
implementation of the same mathematics: same seed, same data, same calls,
and the numbers agree to 1e-10 (float64) or 1e-4 (float32), relative to the
size of each array."""

import numpy as np
import pytest

import swiftprop as sp
from swiftprop import reference

from conftest import HIDDEN_ACTIVATIONS, OUTPUT_LOSS_PAIRS, random_data

TOLERANCE = {"float64": 1e-10, "float32": 1e-4}
SHAPES = [[3, 4, 2], [5, 7, 6, 3], [2, 16, 1], [6, 3]]


def assert_close(actual, expected, tolerance, what):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, what
    scale = max(np.abs(expected).max(initial=0.0), 1e-12)
    error = np.abs(actual - expected).max(initial=0.0) / scale
    assert error <= tolerance, f"{what}: relative difference {error:.3g}"


def assert_pairs_close(actual, expected, tolerance, what):
    for layer, ((a, b), (c, d)) in enumerate(zip(actual, expected)):
        assert_close(a, c, tolerance, f"{what} W{layer}")
        assert_close(b, d, tolerance, f"{what} b{layer}")


def twins(sizes, hidden, output, loss, dtype, seed=3):
    kwargs = dict(activation=hidden, output_activation=output, loss=loss,
                  dtype=dtype, seed=seed)
    return sp.Network(sizes, **kwargs), reference.Network(sizes, **kwargs)


def data_for(sizes, loss, n_samples=23, seed=0):
    return random_data(loss, n_samples, sizes[0], sizes[-1], seed=seed)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("output,loss", OUTPUT_LOSS_PAIRS)
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
def test_predict_loss_gradients_agree(hidden, output, loss, dtype):
    tolerance = TOLERANCE[dtype]
    for sizes in SHAPES:
        if len(sizes) == 2 and hidden != "identity":
            continue  # no hidden layer: one case is enough
        engine, numpy_net = twins(sizes, hidden, output, loss, dtype)
        assert_pairs_close(engine.weights, numpy_net.weights, 0.0,
                           "initial weights")
        X, y = data_for(sizes, loss)
        assert_close(engine.predict(X), numpy_net.predict(X), tolerance,
                     "predict")
        assert engine.loss(X, y) == pytest.approx(numpy_net.loss(X, y),
                                                  rel=tolerance)
        assert_pairs_close(engine.gradients(X, y), numpy_net.gradients(X, y),
                           tolerance, "gradients")


OPTIMIZERS = [
    dict(optimizer="sgd", lr=0.1),
    dict(optimizer="sgd", lr=0.05, momentum=0.9),
    dict(optimizer="sgd", lr=0.05, momentum=0.8, nesterov=True, l2=0.01),
    dict(optimizer="adam", lr=0.01),
    dict(optimizer="adam", lr=0.005, beta1=0.8, beta2=0.99, eps=1e-7,
         l2=0.001),
    # RMSprop's first steps are lr / sqrt(1 - alpha) whatever the gradient:
    # at lr 0.01 in float32 the two sides' roundings grow to 6e-4 over 50
    # epochs (float64 agrees to 1e-10 at any rate).
    dict(optimizer="rmsprop", lr=0.001),
    dict(optimizer="rmsprop", lr=0.005, alpha=0.9, eps=1e-6, momentum=0.9,
         l2=0.001),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("settings", OPTIMIZERS,
                         ids=lambda s: "-".join(f"{k}={v}"
                                                for k, v in s.items()))
@pytest.mark.parametrize("output,loss", [("sigmoid", "mse"),
                                         ("identity", "mse"),
                                         ("sigmoid", "binary_cross_entropy"),
                                         ("softmax", "cross_entropy")])
def test_weights_after_50_epochs_agree(output, loss, settings, dtype):
    tolerance = TOLERANCE[dtype]
    sizes = [4, 8, 6, 3]
    for hidden, batch_size in [("tanh", None), ("relu", 7),
                               ("leaky_relu", 10), ("sigmoid", 4)]:
        engine, numpy_net = twins(sizes, hidden, output, loss, dtype)
        X, y = data_for(sizes, loss, n_samples=30, seed=1)
        h1 = engine.fit(X, y, epochs=50, batch_size=batch_size, **settings)
        h2 = numpy_net.fit(X, y, epochs=50, batch_size=batch_size,
                           **settings)
        assert_close(h1.loss, h2.loss, tolerance, f"{hidden} history")
        assert_pairs_close(engine.weights, numpy_net.weights, tolerance,
                           f"{hidden} weights after 50 epochs")
        state1 = engine.get_optimizer_state()
        state2 = numpy_net.get_optimizer_state()
        assert state1["kind"] == state2["kind"]
        assert state1["step"] == state2["step"]
        assert_close(state1["first"], state2["first"], tolerance * 10,
                     "optimizer state")


def test_validation_tolerance_and_callback_agree():
    engine, numpy_net = twins([3, 5, 2], "tanh", "softmax", "cross_entropy",
                              "float64")
    X, y = data_for([3, 5, 2], "cross_entropy", n_samples=40)
    Xv, yv = data_for([3, 5, 2], "cross_entropy", n_samples=10, seed=9)
    seen = ([], [])
    results = []
    for net, log in zip((engine, numpy_net), seen):
        results.append(net.fit(
            X, y, epochs=300, batch_size=8, optimizer="adam", lr=0.05,
            validation_data=(Xv, yv), tol=1e-3, patience=3,
            callback=lambda epoch, loss, log=log: log.append(loss)))
    assert results[0].stop_reason == results[1].stop_reason
    assert results[0].epochs == results[1].epochs
    assert_close(results[0].val_loss, results[1].val_loss, 1e-10, "val_loss")
    assert_close(seen[0], seen[1], 1e-10, "callback losses")


def test_forward_and_backward_traces_agree():
    engine, numpy_net = twins([4, 6, 5, 3], "relu", "softmax",
                              "cross_entropy", "float64")
    X, y = data_for([4, 6, 5, 3], "cross_entropy")
    zs1, as1 = engine.forward(X)
    zs2, as2 = numpy_net.forward(X)
    for layer in range(3):
        assert_close(zs1[layer], zs2[layer], 1e-10, f"z{layer}")
    for layer in range(4):
        assert_close(as1[layer], as2[layer], 1e-10, f"a{layer}")
    b1, b2 = engine.backward(X, y), numpy_net.backward(X, y)
    for layer in range(3):
        assert_close(b1["deltas"][layer], b2["deltas"][layer], 1e-10,
                     f"delta{layer}")
    assert_close(b1["dX"], b2["dX"], 1e-10, "dX")
    assert_pairs_close(b1["gradients"], b2["gradients"], 1e-10, "gradients")


@pytest.mark.parametrize("net_class", [sp.Network, reference.Network])
def test_both_pass_the_finite_difference_check(net_class):
    from conftest import relative_error
    for output, loss in OUTPUT_LOSS_PAIRS:
        net = net_class([3, 5, 2], activation="tanh",
                        output_activation=output, loss=loss, seed=2)
        X, y = data_for([3, 5, 2], loss, n_samples=6)
        assert relative_error(net.gradients(X, y),
                              net.numerical_gradients(X, y)) < 1e-6


def test_larger_network_uses_the_packed_kernel_and_still_agrees():
    """Wide enough for the blocked SIMD matrix product (and two threads)."""
    for dtype in ("float64", "float32"):
        engine, numpy_net = twins([150, 200, 130, 10], "relu", "softmax",
                                  "cross_entropy", dtype)
        X, y = data_for([150, 200, 130, 10], "cross_entropy", n_samples=257)
        assert_close(engine.predict(X), numpy_net.predict(X),
                     TOLERANCE[dtype], "predict")
        assert_pairs_close(engine.gradients(X, y), numpy_net.gradients(X, y),
                           TOLERANCE[dtype], "gradients")
        engine.fit(X, y, epochs=3, batch_size=64, optimizer="adam", lr=1e-3)
        numpy_net.fit(X, y, epochs=3, batch_size=64, optimizer="adam",
                      lr=1e-3)
        assert_pairs_close(engine.weights, numpy_net.weights,
                           TOLERANCE[dtype] * 10, "weights after fit")


@pytest.mark.parametrize("optimizer,settings", [
    ("sgd", dict(lr=0.01, momentum=0.9)), ("adam", dict(lr=1e-3, l2=1e-3))])
def test_wide_network_with_shared_updates_and_passes_agrees(optimizer,
                                                            settings):
    """Wide enough that the parameter update (more than 2**18 values) and
    the element-wise passes (more than 2**17 values a batch) are shared
    with the helper thread, and the products' A is packed ahead."""
    sizes = [64, 640, 512, 4]
    engine, numpy_net = twins(sizes, "tanh", "softmax", "cross_entropy",
                              "float64")
    X, y = data_for(sizes, "cross_entropy", n_samples=512, seed=2)
    engine.fit(X, y, epochs=1, batch_size=256, optimizer=optimizer,
               **settings)
    numpy_net.fit(X, y, epochs=1, batch_size=256, optimizer=optimizer,
                  **settings)
    assert_pairs_close(engine.weights, numpy_net.weights,
                       TOLERANCE["float64"], "weights after fit")
    assert_close(engine.get_optimizer_state()["first"],
                 numpy_net.get_optimizer_state()["first"],
                 TOLERANCE["float64"] * 10, "optimizer state")


@pytest.mark.parametrize("settings", [
    dict(optimizer="sgd", lr=0.01), dict(optimizer="sgd", lr=0.01, l2=1e-3),
    dict(optimizer="sgd", lr=0.01, momentum=0.9, nesterov=True),
    dict(optimizer="adam", lr=1e-3), dict(optimizer="rmsprop", lr=1e-3)],
    ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()))
def test_small_batches_on_wide_layers_agree(settings):
    """Batches of 1 to 8 rows on layers of 65 536 weights and more: the step
    updates those weights a block of rows at a time straight from the
    layer's input and delta, never writing dW whole. The weights, the
    optimizer state and each epoch's mean ||dW|| still agree."""
    sizes = [300, 256, 256, 3]
    engine, numpy_net = twins(sizes, "relu", "softmax", "cross_entropy",
                              "float64")
    X, y = data_for(sizes, "cross_entropy", n_samples=24, seed=4)
    for batch_size in (1, 5, 8):
        h1 = engine.fit(X, y, epochs=2, batch_size=batch_size, **settings)
        h2 = numpy_net.fit(X, y, epochs=2, batch_size=batch_size, **settings)
        what = f"batch {batch_size}"
        assert_close(h1.loss, h2.loss, TOLERANCE["float64"], what + " loss")
        assert_close(h1.grad_norms, h2.grad_norms, TOLERANCE["float64"],
                     what + " ||dW||")
        assert_pairs_close(engine.weights, numpy_net.weights,
                           TOLERANCE["float64"], what + " weights")
        assert_close(engine.get_optimizer_state()["first"],
                     numpy_net.get_optimizer_state()["first"],
                     TOLERANCE["float64"] * 10, what + " optimizer state")


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_rmsprop_elu_and_huber_train_as_pytorch(momentum):
    """Ten steps of RMSprop on a network with ELU hidden units and the
    Huber loss, on the engine and in PyTorch (torch.optim.RMSprop,
    nn.ELU, nn.HuberLoss), from the same weights: the same weights after
    every step, to 1e-12 in float64."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    X, y = rng.uniform(-2, 2, (16, 3)), rng.uniform(-3, 3, (16, 2))
    net = sp.Network([3, 5, 2], activation="elu", output_activation="identity",
                     loss="huber", seed=11)
    model = net.to_torch()
    optimizer = torch.optim.RMSprop(model.parameters(), lr=0.01, alpha=0.9,
                                    eps=1e-6, momentum=momentum)
    loss_fn = torch.nn.HuberLoss(delta=1.0)
    for _ in range(10):
        before = net.train_step(X, y, optimizer="rmsprop", lr=0.01,
                                alpha=0.9, eps=1e-6, momentum=momentum)
        optimizer.zero_grad()
        loss = loss_fn(model(torch.from_numpy(X)), torch.from_numpy(y))
        loss.backward()
        optimizer.step()
        assert before == pytest.approx(loss.item(), rel=1e-12)
        for (W, b), layer in zip(net.weights, [m for m in model
                                               if hasattr(m, "weight")]):
            np.testing.assert_allclose(W, layer.weight.detach().numpy().T,
                                       rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(b, layer.bias.detach().numpy(),
                                       rtol=1e-12, atol=1e-14)

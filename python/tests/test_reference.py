"""The NumPy reference on its own: gradients against finite differences,
steps worked by hand, PyTorch's optimizer conventions, seeds and errors."""

import math

import numpy as np
import pytest

from swiftprop import reference
from swiftprop._random import SplitMix64
from swiftprop.optimizers import SGD
from swiftprop.reference import Network

from conftest import (HIDDEN_ACTIVATIONS, OUTPUT_LOSS_PAIRS, random_data,
                      relative_error)


def with_weights(sizes, weights, **options):
    """A network of ``sizes`` holding the given ``[(W, b), ...]``."""
    net = Network(sizes, seed=0, **options)
    net.set_weights([(np.array(W, dtype=float), np.array(b, dtype=float))
                     for W, b in weights])
    return net


def assert_weights(net, expected):
    for (W, b), (W_expected, b_expected) in zip(net.weights, expected):
        np.testing.assert_allclose(W, W_expected, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(b, b_expected, rtol=1e-12, atol=1e-15)


# MARK: - Gradients against central differences


@pytest.mark.parametrize("output,loss", OUTPUT_LOSS_PAIRS)
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
def test_gradients_match_finite_differences(hidden, output, loss):
    X, y = random_data(loss, 7, 3, 4, seed=3)
    net = Network([3, 5, 4, 4], activation=hidden, output_activation=output,
                  loss=loss, seed=11)
    error = relative_error(net.gradients(X, y), net.numerical_gradients(X, y))
    assert error < 1e-6


@pytest.mark.parametrize("init", ["xavier", "he", "normal"])
def test_gradients_match_finite_differences_for_every_init(init):
    X, y = random_data("mse", 5, 2, 3, seed=4)
    net = Network([2, 6, 3], activation="tanh", init=init, seed=2)
    assert relative_error(net.gradients(X, y),
                          net.numerical_gradients(X, y)) < 1e-6


def test_float32_gradients_match_float64_finite_differences():
    X, y = random_data("cross_entropy", 8, 3, 4, seed=2)
    net = Network([3, 5, 4], activation="tanh", loss="cross_entropy",
                  dtype="float32", seed=0)
    analytic = net.gradients(X, y)
    numeric = net.numerical_gradients(X, y)
    assert analytic[0][0].dtype == np.float32
    assert numeric[0][0].dtype == np.float64
    assert relative_error(analytic, numeric) < 1e-5


def test_numerical_gradients_do_not_change_the_weights():
    X, y = random_data("mse", 4, 2, 1)
    net = Network([2, 3, 1], seed=0)
    before = net.weights
    net.numerical_gradients(X, y)
    assert_weights(net, before)


# MARK: - One step worked by hand


def test_one_sgd_step_of_a_linear_unit_by_hand():
    # x = [1, 2], y = 3, W = [0.5, -1]^T, b = 0.25, identity output, MSE.
    # z = 1*0.5 + 2*(-1) + 0.25 = -1.25
    # L = (z - y)^2 / (n k) = (-4.25)^2 / 1 = 18.0625
    # delta = dL/dz = 2 (z - y) / (n k) = -8.5
    # dW = x^T delta = [-8.5, -17]^T, db = -8.5, dX = delta W^T = [-4.25, 8.5]
    # lr = 0.1: W = [0.5 + 0.85, -1 + 1.7] = [1.35, 0.7], b = 0.25 + 0.85 = 1.1
    net = with_weights([2, 1], [([[0.5], [-1.0]], [0.25])],
                       activation="identity")
    X, y = [[1.0, 2.0]], [[3.0]]
    result = net.backward(X, y)
    assert result["loss"] == 18.0625
    np.testing.assert_array_equal(result["deltas"][0], [[-8.5]])
    (dW, db), = result["gradients"]
    np.testing.assert_array_equal(dW, [[-8.5], [-17.0]])
    np.testing.assert_array_equal(db, [-8.5])
    np.testing.assert_array_equal(result["dX"], [[-4.25, 8.5]])
    assert net.train_step(X, y, lr=0.1) == 18.0625
    assert_weights(net, [([[1.35], [0.7]], [1.1])])


def test_the_batch_mean_is_taken_once():
    # x = [1, 2] (two samples), y = [0, 0], W = 1, b = 0, identity, MSE.
    # a = [1, 2]; L = (1 + 4) / 2 = 2.5; delta = 2 (a - y) / 2 = [1, 2]
    # dW = 1*1 + 2*2 = 5, db = 1 + 2 = 3 (no second division by n).
    net = with_weights([1, 1], [([[1.0]], [0.0])], activation="identity")
    X, y = [[1.0], [2.0]], [0.0, 0.0]
    assert net.loss(X, y) == 2.5
    (dW, db), = net.gradients(X, y)
    np.testing.assert_array_equal(dW, [[5.0]])
    np.testing.assert_array_equal(db, [3.0])


def test_one_sgd_step_of_a_two_layer_sigmoid_network_by_hand():
    # 1-1-1 sigmoid network, x = 1, y = 1, W1 = 0, b1 = 0, W2 = 2, b2 = -1.
    # forward:  z1 = 0, a1 = sigmoid(0) = 0.5; z2 = 2*0.5 - 1 = 0, a2 = 0.5
    # loss:     L = (0.5 - 1)^2 = 0.25
    # output:   dL/da2 = 2 (a2 - y) = -1; f'(z2) = a2 (1 - a2) = 0.25
    #           delta2 = -1 * 0.25 = -0.25
    #           dW2 = a1 delta2 = -0.125, db2 = -0.25
    # hidden:   delta1 = delta2 W2 * a1 (1 - a1) = -0.25 * 2 * 0.25 = -0.125
    #           dW1 = x delta1 = -0.125, db1 = -0.125
    # step, lr = 1: W1 = 0.125, b1 = 0.125, W2 = 2.125, b2 = -0.75
    net = with_weights([1, 1, 1], [([[0.0]], [0.0]), ([[2.0]], [-1.0])])
    X, y = [[1.0]], [[1.0]]
    zs, activations = net.forward(X)
    np.testing.assert_array_equal(zs[0], [[0.0]])
    np.testing.assert_array_equal(activations[1], [[0.5]])
    np.testing.assert_array_equal(zs[1], [[0.0]])
    np.testing.assert_array_equal(activations[2], [[0.5]])
    result = net.backward(X, y)
    np.testing.assert_array_equal(result["deltas"][1], [[-0.25]])
    np.testing.assert_array_equal(result["deltas"][0], [[-0.125]])
    assert net.train_step(X, y, lr=1.0) == 0.25
    assert_weights(net, [([[0.125]], [0.125]), ([[2.125]], [-0.75])])


def test_binary_cross_entropy_by_hand():
    # z = 0, a = 0.5, y = 1: L = -log(0.5) = log 2; delta = (a - y) / 1 = -0.5
    net = with_weights([1, 1], [([[0.0]], [0.0])],
                       loss="binary_cross_entropy")
    assert net.loss([[1.0]], [[1.0]]) == pytest.approx(math.log(2), rel=1e-15)
    (dW, db), = net.gradients([[1.0]], [[1.0]])
    np.testing.assert_array_equal(dW, [[-0.5]])
    np.testing.assert_array_equal(db, [-0.5])


def test_binary_cross_entropy_stays_finite_when_the_sigmoid_saturates():
    # z = 800: sigmoid(z) is exactly 1.0 and log(1 - a) would be -inf, but
    # L = max(z, 0) - z y + log1p(exp(-|z|)) = 800 for y = 0.
    net = with_weights([1, 1], [([[800.0]], [0.0])],
                       loss="binary_cross_entropy")
    assert net.loss([[1.0]], [[0.0]]) == 800.0
    assert net.loss([[-1.0]], [[0.0]]) == 0.0


def test_cross_entropy_with_softmax_by_hand():
    # Two classes, z = [0, 0]: a = [0.5, 0.5]; label 0: L = -log 0.5 = log 2
    # delta = (a - y) / n = [-0.5, 0.5]; dW = x^T delta = 2 * [-0.5, 0.5]
    net = with_weights([1, 2], [([[0.0, 0.0]], [0.0, 0.0])],
                       loss="cross_entropy")
    assert net.loss([[2.0]], [0]) == pytest.approx(math.log(2), rel=1e-15)
    (dW, db), = net.gradients([[2.0]], [0])
    np.testing.assert_array_equal(dW, [[-1.0, 1.0]])
    np.testing.assert_array_equal(db, [-0.5, 0.5])


def test_softmax_with_mse_uses_the_softmax_jacobian_by_hand():
    # a = [0.5, 0.5], y = [1, 0]: g = dL/da = 2 (a - y) / (n k) = [-0.5, 0.5]
    # sum(g a) = 0, so delta = a (g - 0) = [-0.25, 0.25]
    net = with_weights([1, 2], [([[0.0, 0.0]], [0.0, 0.0])],
                       output_activation="softmax")
    result = net.backward([[1.0]], [[1.0, 0.0]])
    np.testing.assert_array_equal(result["deltas"][0], [[-0.25, 0.25]])


def test_cross_entropy_accepts_labels_and_one_hot_rows():
    X, labels = random_data("cross_entropy", 12, 3, 4, seed=1)
    net = Network([3, 5, 4], activation="relu", loss="cross_entropy", seed=0)
    one_hot = np.eye(4)[labels]
    assert net.loss(X, labels) == net.loss(X, one_hot)
    p = net.predict(X)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-14)
    assert net.loss(X, labels) == pytest.approx(
        -np.mean(np.log(p[np.arange(12), labels])), rel=1e-12)


def test_activations_and_their_derivatives():
    z = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]])
    a = reference.ACTIVATIONS["leaky_relu"](z)
    np.testing.assert_array_equal(a, [[-0.02, -0.005, 0.0, 0.5, 2.0]])
    np.testing.assert_array_equal(reference.DERIVATIVES["leaky_relu"](z, a),
                                  [[0.01, 0.01, 0.01, 1.0, 1.0]])
    a = reference.ACTIVATIONS["relu"](z)
    np.testing.assert_array_equal(a, [[0.0, 0.0, 0.0, 0.5, 2.0]])
    np.testing.assert_array_equal(reference.DERIVATIVES["relu"](z, a),
                                  [[0.0, 0.0, 0.0, 1.0, 1.0]])
    # The sigmoid of a very negative z is 0, without an overflow warning.
    with np.errstate(all="raise"):
        assert reference.sigmoid(np.array([-1000.0]))[0] == 0.0
    # Softmax of large logits: shifted by the row maximum, no overflow.
    np.testing.assert_allclose(reference.softmax(np.array([[1000.0, 1000.0]])),
                               [[0.5, 0.5]])


def test_forward_keeps_every_layer():
    X, _ = random_data("mse", 5, 3, 2)
    net = Network([3, 4, 2], activation="relu", output_activation="identity",
                  seed=3)
    zs, activations = net.forward(X)
    (W1, b1), (W2, b2) = net.weights
    np.testing.assert_array_equal(activations[0], X)
    np.testing.assert_allclose(zs[0], X @ W1 + b1, rtol=1e-15)
    np.testing.assert_allclose(activations[1], np.maximum(zs[0], 0))
    np.testing.assert_allclose(zs[1], activations[1] @ W2 + b2, rtol=1e-15)
    np.testing.assert_array_equal(activations[2], net.predict(X))
    assert [z.shape for z in zs] == [(5, 4), (5, 2)]


def test_backward_returns_what_gradients_returns_and_dX():
    X, y = random_data("mse", 6, 3, 2)
    net = Network([3, 4, 2], activation="tanh", seed=1)
    result = net.backward(X, y)
    assert result["loss"] == net.loss(X, y)
    assert relative_error(result["gradients"], net.gradients(X, y)) == 0
    assert [d.shape for d in result["deltas"]] == [(6, 4), (6, 2)]
    np.testing.assert_allclose(result["dX"],
                               result["deltas"][0] @ net.weights[0][0].T)
    # dX by central differences on the inputs: dL/dX[i, j].
    numeric = np.empty_like(X)
    for index in np.ndindex(X.shape):
        shifted = X.copy()
        shifted[index] += 1e-6
        above = net.loss(shifted, y)
        shifted[index] -= 2e-6
        numeric[index] = (above - net.loss(shifted, y)) / 2e-6
    np.testing.assert_allclose(result["dX"], numeric, rtol=1e-6, atol=1e-10)


# MARK: - Optimizers: PyTorch's update rules, by hand
#
# All on a 1-1 identity network with x = 1, y = 0, W = 1, b = 0, so
# z = W + b, L = z^2 and both gradients are 2 z.


def unit():
    return with_weights([1, 1], [([[1.0]], [0.0])], activation="identity")


X1, Y1 = [[1.0]], [[0.0]]


def test_sgd_without_momentum():
    # g = 2; W = 1 - 0.1*2 = 0.8, b = 0 - 0.2 = -0.2
    net = unit()
    assert net.train_step(X1, Y1, lr=0.1) == 1.0
    assert_weights(net, [([[0.8]], [-0.2])])


def test_sgd_with_momentum_as_pytorch():
    # step 1: g = 2, v = 0.9*0 + 2 = 2, W = 1 - 0.1*2 = 0.8, b = -0.2
    # step 2: z = 0.6, g = 1.2, v = 0.9*2 + 1.2 = 3.0,
    #         W = 0.8 - 0.3 = 0.5, b = -0.2 - 0.3 = -0.5
    net = unit()
    net.train_step(X1, Y1, lr=0.1, momentum=0.9)
    assert_weights(net, [([[0.8]], [-0.2])])
    net.train_step(X1, Y1, lr=0.1, momentum=0.9)
    assert_weights(net, [([[0.5]], [-0.5])])
    state = net.get_optimizer_state()
    assert state["kind"] == "sgd" and state["step"] == 2
    np.testing.assert_allclose(state["first"], [3.0, 3.0])


def test_sgd_with_nesterov_momentum_as_pytorch():
    # step 1: g = 2, v = 2, step = g + 0.9 v = 3.8, W = 1 - 0.38 = 0.62,
    #         b = -0.38
    # step 2: z = 0.24, g = 0.48, v = 0.9*2 + 0.48 = 2.28,
    #         step = 0.48 + 0.9*2.28 = 2.532, W = 0.62 - 0.2532 = 0.3668,
    #         b = -0.38 - 0.2532 = -0.6332
    net = unit()
    for _ in range(2):
        net.train_step(X1, Y1, lr=0.1, momentum=0.9, nesterov=True)
    assert_weights(net, [([[0.3668]], [-0.6332])])


def test_l2_decays_the_weights_but_not_the_biases():
    # g_W = 2 + 0.5*1 = 2.5, g_b = 2: W = 1 - 0.25 = 0.75, b = -0.2; the
    # loss returned is the data loss z^2 = 1, without the l2 term.
    net = unit()
    assert net.train_step(X1, Y1, lr=0.1, l2=0.5) == 1.0
    assert_weights(net, [([[0.75]], [-0.2])])


def test_adam_as_pytorch():
    # lr 0.1, beta1 0.9, beta2 0.999, eps 1e-8.
    # t = 1: g = 2, m = 0.1*2 = 0.2, v = 0.001*4 = 0.004,
    #        m_hat = 0.2/0.1 = 2, v_hat = 0.004/0.001 = 4,
    #        W = 1 - 0.1*2/(2 + 1e-8) = 0.9000000005, b = -0.0999999995
    # t = 2: z = 0.800000001, g = 1.600000002,
    #        m = 0.9*0.2 + 0.1*g = 0.3400000002,
    #        v = 0.999*0.004 + 0.001*g^2 = 0.0065560000064,
    #        m_hat = m/(1 - 0.81) = 1.78947368526..,
    #        v_hat = v/(1 - 0.998001) = 3.27963982311..,
    #        W = 0.9000000005 - 0.1*m_hat/(sqrt(v_hat) + 1e-8) = 0.80118742062..
    net = unit()
    net.train_step(X1, Y1, lr=0.1, optimizer="adam")
    first_step = 0.1 * 2 / (math.sqrt(4) + 1e-8)
    W, b = 1 - first_step, -first_step
    assert_weights(net, [([[W]], [b])])
    net.train_step(X1, Y1, lr=0.1, optimizer="adam")
    g = 2 * (W + b)
    m = 0.9 * 0.2 + 0.1 * g
    v = 0.999 * 0.004 + 0.001 * g * g
    step = 0.1 * (m / (1 - 0.9 ** 2)) / (math.sqrt(v / (1 - 0.999 ** 2))
                                          + 1e-8)
    assert_weights(net, [([[W - step]], [b - step])])
    assert net.weights[0][0][0, 0] == pytest.approx(0.80118742062343,
                                                   rel=1e-12)
    state = net.get_optimizer_state()
    assert state["kind"] == "adam" and state["step"] == 2


def test_optimizer_state_persists_resets_and_restarts_on_a_new_kind():
    X, y = random_data("mse", 8, 3, 2)
    start = Network([3, 4, 2], seed=5).weights

    def fresh():
        return with_weights([3, 4, 2], start)

    # reset_optimizer: the next momentum step is a first step again.
    net, reference_net = fresh(), fresh()
    net.train_step(X, y, lr=0.1, momentum=0.9)
    reference_net.set_weights(net.weights)
    net.reset_optimizer()
    assert net.get_optimizer_state() is None
    net.train_step(X, y, lr=0.1, momentum=0.9)
    reference_net.train_step(X, y, lr=0.1, momentum=0.9)
    assert_weights(net, reference_net.weights)
    # Switching kind starts Adam afresh: t = 1 and zero moments.
    before = net.weights
    net.train_step(X, y, lr=0.01, optimizer="adam")
    adam_only = with_weights([3, 4, 2], before)
    adam_only.train_step(X, y, lr=0.01, optimizer="adam")
    assert_weights(net, adam_only.weights)
    assert net.get_optimizer_state()["step"] == 1
    # ... and a saved state restores the same trajectory.
    saved = net.get_optimizer_state()
    other = with_weights([3, 4, 2], net.weights)
    other.set_optimizer_state(saved)
    net.train_step(X, y, lr=0.01, optimizer="adam")
    other.train_step(X, y, lr=0.01, optimizer="adam")
    assert_weights(other, net.weights)


def test_an_optimizer_object_and_a_name_step_alike():
    X, y = random_data("mse", 8, 3, 2)
    a, b = Network([3, 4, 2], seed=5), Network([3, 4, 2], seed=5)
    a.train_step(X, y, optimizer=SGD(lr=0.05, momentum=0.5))
    b.train_step(X, y, lr=0.05, momentum=0.5)
    assert_weights(a, b.weights)


# MARK: - Seeds, dtypes and the training loop


def test_splitmix64_reference_value():
    # The first output of SplitMix64 from seed 0 (Vigna's reference code).
    assert SplitMix64(0).next_uint64() == 0xE220A8397B1DCDAF


def test_initial_weights_come_from_the_seeded_generator():
    g = SplitMix64(42)
    limit = math.sqrt(6 / (2 + 3))
    expected = np.array([[(2 * g.uniform() - 1) * limit for _ in range(3)]
                         for _ in range(2)])
    (W, b), _ = Network([2, 3, 1], seed=42).weights
    np.testing.assert_array_equal(W, expected)
    np.testing.assert_array_equal(b, np.zeros(3))
    g = SplitMix64(42)
    (W, _), = Network([4, 2], init="he", seed=42).weights
    assert W[0, 0] == g.normal() * math.sqrt(2 / 4)
    assert W[0, 1] == g.normal() * math.sqrt(2 / 4)
    g = SplitMix64(7)
    (W, _), = Network([4, 2], init="normal", seed=7).weights
    assert W[0, 0] == g.normal()


def test_the_same_seed_gives_the_same_network_and_training():
    X, y = random_data("mse", 20, 3, 2)
    first, second = Network([3, 5, 2], seed=9), Network([3, 5, 2], seed=9)
    assert_weights(first, second.weights)
    h1 = first.fit(X, y, epochs=5, batch_size=6, lr=0.1)
    h2 = second.fit(X, y, epochs=5, batch_size=6, lr=0.1)
    assert h1.loss == h2.loss
    for (W1, b1), (W2, b2) in zip(first.weights, second.weights):
        np.testing.assert_array_equal(W1, W2)
        np.testing.assert_array_equal(b1, b2)
    assert not np.array_equal(Network([3, 5, 2], seed=10).weights[0][0],
                              Network([3, 5, 2], seed=9).weights[0][0])


def test_seed_is_reduced_modulo_two_to_the_64():
    assert_weights(Network([2, 2], seed=2**64 + 3),
                   Network([2, 2], seed=3).weights)
    assert Network([2, 2]).seed >= 0  # a fresh seed when none is given


def test_fit_is_train_step_over_batches_shuffled_by_the_generator():
    X, y = random_data("mse", 10, 3, 2, seed=6)
    net = Network([3, 4, 2], activation="tanh", seed=8)
    replay = Network([3, 4, 2], activation="tanh", seed=8)
    history = net.fit(X, y, epochs=3, batch_size=4, lr=0.1, momentum=0.9)
    # The generator drew 3*4 + 4*2 weights, then one permutation per epoch.
    g = SplitMix64(8)
    for _ in range(3 * 4 + 4 * 2):
        g.uniform()
    expected = []
    for _ in range(3):
        order = np.array(g.permutation(10))
        total = 0.0
        for start in range(0, 10, 4):
            rows = order[start:start + 4]
            total += replay.train_step(X[rows], y[rows], lr=0.1,
                                       momentum=0.9) * len(rows)
        expected.append(total / 10)
    assert history.loss == pytest.approx(expected, rel=1e-15)
    assert_weights(net, replay.weights)


def test_full_batch_and_unshuffled_fit_draw_nothing_from_the_generator():
    X, y = random_data("mse", 10, 3, 2)
    net = Network([3, 4, 2], seed=8)
    state = net._generator.state
    net.fit(X, y, epochs=3)
    net.fit(X, y, epochs=3, batch_size=3, shuffle=False)
    assert net._generator.state == state


def test_float32_networks_stay_float32():
    X, y = random_data("mse", 6, 3, 2)
    net = Network([3, 4, 2], dtype="float32", seed=1)
    assert net.dtype == np.float32
    loss = net.train_step(X, y, lr=0.1, optimizer="adam")
    assert type(loss) is float
    net.fit(X, y, epochs=2, batch_size=4, momentum=0.9)
    assert all(W.dtype == np.float32 and b.dtype == np.float32
               for W, b in net.weights)
    assert net.predict(X).dtype == np.float32
    assert all(d.dtype == np.float32 for d in net.backward(X, y)["deltas"])


def test_float32_weights_are_the_float64_draws_rounded():
    wide = Network([3, 4, 2], seed=1).weights
    narrow = Network([3, 4, 2], dtype="float32", seed=1).weights
    for (W64, _), (W32, _) in zip(wide, narrow):
        np.testing.assert_array_equal(W32, W64.astype(np.float32))


def test_xor_is_learned():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    y = np.array([0, 1, 1, 0])
    net = Network([2, 8, 1], activation="tanh", output_activation="sigmoid",
                  seed=0)
    history = net.fit(X, y, epochs=1000, optimizer="adam", lr=0.05)
    assert history.loss[-1] < history.loss[0] / 100
    np.testing.assert_array_equal(net.predict(X).round().ravel(), y)


def test_history_records_validation_and_gradient_norms():
    X, y = random_data("mse", 12, 3, 2)
    net = Network([3, 4, 2], seed=0)
    history = net.fit(X, y, epochs=4, batch_size=5, lr=0.1,
                      validation_data=(X[:4], y[:4]))
    assert history.epochs == 4 and history.stop_reason == "completed"
    assert history.val_loss[-1] == net.loss(X[:4], y[:4])
    assert history.grad_norms.shape == (4, 2)
    assert (history.grad_norms > 0).all()
    full = Network([3, 4, 2], seed=0)
    norms = [np.linalg.norm(dW) for dW, _ in full.gradients(X, y)]
    np.testing.assert_allclose(full.fit(X, y, lr=0.1).grad_norms[0], norms)
    assert Network([3, 4, 2], seed=0).fit(X, y).val_loss == []


def test_callback_stops_fit():
    X, y = random_data("mse", 8, 3, 1)
    seen = []

    def callback(epoch, loss):
        seen.append((epoch, loss))
        return epoch < 2

    history = Network([3, 2, 1], seed=0).fit(X, y, epochs=10,
                                              callback=callback)
    assert history.stop_reason == "callback" and history.epochs == 3
    assert [epoch for epoch, _ in seen] == [0, 1, 2]
    assert [loss for _, loss in seen] == history.loss


def test_tol_and_patience_stop_fit():
    X, y = random_data("mse", 8, 3, 1)
    net = Network([3, 2, 1], seed=0)
    # An enormous tol: after the first epoch (an improvement on the initial
    # best, infinity) no epoch counts as one, so 1 + patience epochs run.
    history = net.fit(X, y, epochs=100, tol=1e6, patience=3)
    assert history.stop_reason == "converged" and history.epochs == 4
    # With validation data, the validation loss is what must improve.
    history = net.fit(X, y, epochs=100, tol=1e6, patience=2,
                      validation_data=(X[:3], y[:3]))
    assert history.stop_reason == "converged" and history.epochs == 3
    assert len(history.val_loss) == 3


def test_verbose_prints_the_first_every_nth_and_last_epoch(capsys):
    X, y = random_data("mse", 8, 3, 1)
    Network([3, 2, 1], seed=0).fit(X, y, epochs=10, verbose=4)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == ["1/10", "4/10", "8/10"]


def test_a_diverging_step_is_not_applied():
    X = np.array([[1e3], [-1e3]])
    y = np.array([[1e3], [0.0]])
    net = Network([1, 4, 1], activation="identity", init="normal", seed=0)
    before = net.weights
    with pytest.raises(FloatingPointError, match="not applied"):
        for _ in range(100):
            before = net.weights
            net.train_step(X, y, lr=1e6)
    assert_weights(net, before)
    net = Network([1, 4, 1], activation="identity", init="normal", seed=0)
    with pytest.warns(RuntimeWarning, match="diverged"):
        history = net.fit(X, y, epochs=100, lr=1e6)
    assert history.stop_reason == "diverged"
    assert history.diverged_at == history.epochs
    assert all(np.isfinite(W).all() for W, _ in net.weights)


# MARK: - Bad input


def test_set_weights_checks_everything_before_changing_anything():
    net = Network([2, 2, 1], seed=0)
    before = net.weights
    good = [(np.ones((2, 2)), np.ones(2)), (np.ones((2, 1)), np.ones(1))]
    with pytest.raises(ValueError,
                       match=r"layer 0 W has shape \(3, 2\), expected \(2, 2\)"):
        net.set_weights([(np.ones((3, 2)), np.ones(2)), good[1]])
    with pytest.raises(ValueError, match=r"layer 1 b has shape \(2,\)"):
        net.set_weights([good[0], (np.ones((2, 1)), np.ones(2))])
    with pytest.raises(ValueError, match="layer 1 W contains NaN"):
        net.set_weights([good[0], (np.full((2, 1), np.nan), np.ones(1))])
    with pytest.raises(TypeError, match="layer 0 W must be a real numeric"):
        net.set_weights([(np.full((2, 2), "a"), np.ones(2)), good[1]])
    with pytest.raises(ValueError, match="weights has 1 .* 2 layers"):
        net.set_weights(good[:1])
    with pytest.raises(TypeError, match="weights must be a list"):
        net.set_weights(np.ones(3))
    assert_weights(net, before)
    # Given arrays are copied: changing them later changes nothing.
    W = np.ones((2, 2))
    net.set_weights([(W, np.zeros((1, 2))), good[1]])
    W[:] = 5
    np.testing.assert_array_equal(net.weights[0][0], np.ones((2, 2)))


@pytest.mark.parametrize("call,error,message", [
    (lambda: Network([2, 2], activation="sigmod"), ValueError,
     "unknown activation 'sigmod'; expected one of: identity"),
    (lambda: Network([2, 2], loss="mae"), ValueError, "unknown loss 'mae'"),
    (lambda: Network([2, 2], dtype="float16"), ValueError, "unknown dtype"),
    (lambda: Network([2, 2], init="zeros"), ValueError, "unknown init"),
    (lambda: Network([2, 2], seed=-1), ValueError, "seed must be >= 0"),
    (lambda: Network([2, 2], seed=1.5), TypeError, "seed must be an integer"),
    (lambda: Network([2, 3], loss="cross_entropy", output_activation="relu"),
     ValueError, "needs a softmax output layer"),
    (lambda: Network([2], seed=0), ValueError, "at least two sizes"),
])
def test_construction_errors_name_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("call,error,message", [
    (lambda net, X, y: net.predict(np.ones((4, 3))), ValueError,
     "X has 3 features, but the network expects 2"),
    (lambda net, X, y: net.loss(X, y[:3]), ValueError,
     "y has 3 samples, but X has 4"),
    (lambda net, X, y: net.gradients(X, np.ones((4, 2))), ValueError,
     "y has 2 columns"),
    (lambda net, X, y: net.train_step(X + 1j, y), TypeError,
     "X must be real-valued"),
    (lambda net, X, y: net.train_step(np.full((4, 2), np.nan), y),
     ValueError, "X contains NaN"),
    (lambda net, X, y: net.train_step(X, y, lr=-0.1), ValueError,
     "lr must be > 0"),
    (lambda net, X, y: net.train_step(X, y, optimizer="adagrad"), ValueError,
     "unknown optimizer 'adagrad'"),
    (lambda net, X, y: net.train_step(X, y, beta1=0.9), TypeError,
     "unexpected option"),
    (lambda net, X, y: net.numerical_gradients(X, y, eps=0), ValueError,
     "eps must be > 0"),
    (lambda net, X, y: net.fit(X, y, epochs=0), ValueError,
     "epochs must be >= 1"),
    (lambda net, X, y: net.fit(X, y, batch_size=0), ValueError,
     "batch_size must be >= 1"),
    (lambda net, X, y: net.fit(X, y, validation_data=X), TypeError,
     "validation_data must be a tuple"),
    (lambda net, X, y: net.fit(X, y, validation_data=(X, y[:2])), ValueError,
     "validation y has 2 samples"),
    (lambda net, X, y: net.fit(X, y, callback=3), TypeError,
     "callback must be callable"),
    (lambda net, X, y: net.set_optimizer_state({"kind": "sgd", "step": 0,
                                                "first": np.ones(3)}),
     ValueError, r"optimizer state first has shape \(3,\)"),
])
def test_call_errors_name_the_argument(call, error, message):
    net = Network([2, 3, 1], seed=0)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([[0], [1], [1], [0]], dtype=float)
    before = net.weights
    with pytest.raises(error, match=message):
        call(net, X, y)
    assert_weights(net, before)

"""The same network in plain NumPy, written to be read.

``swiftprop.reference.Network`` has the API of ``swiftprop.Network`` and
computes exactly the same mathematics as the Swift engine, one visible line
at a time: the forward pass keeps ``z`` and ``a`` of every layer, the
backward pass computes the error term ``delta`` of every layer by the chain
rule, and the optimizers follow PyTorch's update rules. Built with the same
``seed`` it starts from the same weights and shuffles its mini-batches in the
same order as the engine, so the two agree to rounding (about 1e-12 relative
in float64) step after step.

It is slow on purpose; use it to learn, to check, and to compare.

The mathematics, for a batch of ``n`` samples (rows) and ``L`` layers::

    forward     z[l] = a[l] @ W[l] + b[l]        a[0] = X
                a[l + 1] = f_l(z[l])             prediction = a[L]
    output      delta[L-1] = dLoss/dz[L-1]       (from the loss, below)
    backward    dW[l] = a[l].T @ delta[l]
                db[l] = delta[l].sum(axis=0)
                delta[l-1] = (delta[l] @ W[l].T) * f'_{l-1}(z[l-1])
                dX = delta[0] @ W[0].T

Every loss is a mean over the batch, so its derivative already carries the
``1 / n``: no further division happens in the backward pass.
"""

import math
import warnings
from types import SimpleNamespace

import numpy as np

from . import _codes
from ._lbfgs import lbfgs_history, plan_lbfgs
from ._random import SplitMix64, new_seed
from ._training import (EpochReporter, check_sample_weight, fit_weights,
                        numpy_shuffle_state, plan_fit, prepare_extras)
from .callbacks import CallbackList
from .schedules import Warmup
from ._validation import (as_float_matrix, as_targets, check_dtype, check_int,
                          check_number, choose)
from .history import History
from .layers import LayerStack, build_architecture
from .optimizers import LBFGS, resolve_optimizer

__all__ = ["Network", "ACTIVATIONS", "DERIVATIVES", "LOSS_FUNCTIONS",
           "OUTPUT_DELTAS", "UPDATE_RULES", "WEIGHT_DRAWS", "sgd_update",
           "adam_update"]

# Every table below maps the engine's names (swiftprop._codes) to this
# module's functions, one entry per name: test_codes.py checks that they
# have exactly the engine's names, so an operation added to the engine is
# written here too.


# Activations: a = f(z), and f' written from what the forward pass kept

# The slope of leaky_relu for z <= 0 (the engine's is the same).
LEAKY_RELU_SLOPE = 0.01


def identity(z):
    """a = z."""
    return z


def sigmoid(z):
    """a = 1 / (1 + exp(-z))."""
    # exp(-z) overflows to inf for z << 0, and 1 / (1 + inf) = 0 is right.
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-z))


def tanh(z):
    """a = tanh(z)."""
    return np.tanh(z)


def relu(z):
    """a = z where z > 0, else 0."""
    return np.where(z > 0, z, 0).astype(z.dtype, copy=False)


def leaky_relu(z):
    """a = z where z > 0, else 0.01 z."""
    return np.where(z > 0, z, LEAKY_RELU_SLOPE * z)


def elu(z):
    """a = z where z > 0, else exp(z) - 1 (ELU with alpha = 1)."""
    return np.where(z > 0, z, np.exp(np.minimum(z, 0)) - 1)


def exp(z):
    """a = exp(z) (the log link of Poisson regression)."""
    return np.exp(z)


def softmax(z):
    """a = exp(z) / sum(exp(z)) row by row, shifted by the row maximum so
    that exp never overflows. Output layer only."""
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    return e / e.sum(axis=1, keepdims=True)


def identity_derivative(z, a):
    """f'(z) = 1."""
    return np.ones_like(z)


def sigmoid_derivative(z, a):
    """f'(z) = a (1 - a), from the output a = sigmoid(z)."""
    return a * (1 - a)


def tanh_derivative(z, a):
    """f'(z) = 1 - a^2, from the output a = tanh(z)."""
    return 1 - a * a


def relu_derivative(z, a):
    """f'(z) = 1 where z > 0, else 0."""
    return (z > 0).astype(z.dtype)


def elu_derivative(z, a):
    """f'(z) = 1 where z > 0, else exp(z) = a + 1, from the output a."""
    return np.where(z > 0, 1, a + 1)


def exp_derivative(z, a):
    """f'(z) = exp(z) = a, from the output a."""
    return a


def leaky_relu_derivative(z, a):
    """f'(z) = 1 where z > 0, else 0.01."""
    return np.where(z > 0, 1.0, LEAKY_RELU_SLOPE).astype(z.dtype)


ACTIVATIONS = {"identity": identity, "sigmoid": sigmoid, "tanh": tanh,
               "relu": relu, "leaky_relu": leaky_relu, "softmax": softmax,
               "elu": elu, "exp": exp}

# Softmax has no entry: it mixes a row, so it has a Jacobian rather than an
# element-wise derivative, and its delta comes from the loss (OUTPUT_DELTAS).
DERIVATIVES = {"identity": identity_derivative,
               "sigmoid": sigmoid_derivative, "tanh": tanh_derivative,
               "relu": relu_derivative, "leaky_relu": leaky_relu_derivative,
               "elu": elu_derivative, "exp": exp_derivative}


# Losses: the value, and delta = dLoss/dz of the output layer
#
# z, a and Y all have shape (n_samples, n_outputs). Values are computed in
# float64 (from float64 copies in a float32 network), as the engine
# accumulates them in Double.


def mse_loss(z, a, Y):
    """L = sum((a - Y)^2) / (n k): the mean over all n k elements."""
    difference = a.astype(np.float64) - Y.astype(np.float64)
    return float(np.sum(difference * difference) / difference.size)


def binary_cross_entropy_loss(z, a, Y):
    """L = sum(max(z, 0) - z Y + log(1 + exp(-|z|))) / (n k).

    The same as ``-mean(Y log(a) + (1 - Y) log(1 - a))`` with
    ``a = sigmoid(z)``, written from ``z`` so that it stays finite when the
    sigmoid saturates to exactly 0 or 1.
    """
    z = z.astype(np.float64)
    Y = Y.astype(np.float64)
    terms = np.maximum(z, 0) - z * Y + np.log1p(np.exp(-np.abs(z)))
    return float(np.sum(terms) / terms.size)


def cross_entropy_loss(z, a, Y):
    """L = -sum(Y log softmax(z)) / n, a mean over the n samples.

    ``log softmax(z) = z - m - log(sum(exp(z - m)))`` with ``m`` the row
    maximum (the log-sum-exp trick).
    """
    z = z.astype(np.float64)
    Y = Y.astype(np.float64)
    m = z.max(axis=1, keepdims=True)
    log_p = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    return float(-np.sum(Y * log_p) / z.shape[0])


def huber_loss(z, a, Y):
    """L = sum(h(a - Y)) / (n k), with h(d) = d^2 / 2 where |d| <= 1 and
    |d| - 1/2 beyond (PyTorch's HuberLoss with delta = 1)."""
    d = np.abs(a.astype(np.float64) - Y.astype(np.float64))
    return float(np.sum(np.where(d <= 1, 0.5 * d * d, d - 0.5)) / d.size)


def poisson_loss(z, a, Y):
    """L = sum(y log(y / a) - y + a) / (n k), half the Poisson deviance
    (0 log 0 = 0), written from z = log a as sum(a - y z + y log y - y)."""
    z = z.astype(np.float64)
    a = a.astype(np.float64)
    Y = Y.astype(np.float64)
    y_log_y = np.where(Y > 0, Y * np.log(np.where(Y > 0, Y, 1)), 0.0)
    return float(np.sum(a - Y * z + y_log_y - Y) / z.size)


def _through_activation(dL_da, z, a, activation):
    """delta = dL/da * f'(z); for a softmax output the product with its
    Jacobian, row by row: ``a * (g - sum(g * a))`` with ``g = dL/da``."""
    if activation == "softmax":
        return a * (dL_da - np.sum(dL_da * a, axis=1, keepdims=True))
    return dL_da * DERIVATIVES[activation](z, a)


def mse_output_delta(z, a, Y, activation):
    """delta = dL/da * f'(z), with dL/da = 2 (a - Y) / (n k)."""
    return _through_activation((2 / a.size) * (a - Y), z, a, activation)


def huber_output_delta(z, a, Y, activation):
    """delta = dL/da * f'(z), with dL/da = clip(a - Y, -1, 1) / (n k)."""
    return _through_activation(np.clip(a - Y, -1, 1) / a.size, z, a,
                               activation)


def binary_cross_entropy_output_delta(z, a, Y, activation):
    """delta = (a - Y) / (n k): sigmoid and cross-entropy fused, the a (1 - a)
    of the sigmoid cancels against the loss's 1 / (a (1 - a))."""
    return (a - Y) / a.size


def poisson_output_delta(z, a, Y, activation):
    """delta = (a - Y) / (n k): the exp output and the Poisson loss fused
    (dL/da = (1 - y/a) / (n k) times f'(z) = a)."""
    return (a - Y) / a.size


def cross_entropy_output_delta(z, a, Y, activation):
    """delta = (a sum(Y) - Y) / n, row by row; (a - Y) / n for one-hot rows
    (softmax and cross-entropy fused)."""
    return (a * Y.sum(axis=1, keepdims=True) - Y) / a.shape[0]


LOSS_FUNCTIONS = {"mse": mse_loss,
                  "binary_cross_entropy": binary_cross_entropy_loss,
                  "cross_entropy": cross_entropy_loss,
                  "huber": huber_loss,
                  "poisson": poisson_loss}

OUTPUT_DELTAS = {"mse": mse_output_delta,
                 "binary_cross_entropy": binary_cross_entropy_output_delta,
                 "cross_entropy": cross_entropy_output_delta,
                 "huber": huber_output_delta,
                 "poisson": poisson_output_delta}


def weighted_loss(loss_name, z, a, Y, weights):
    """sum_r w_r L_r / sum_r w_r: the rows' losses (each row's own mean over
    its outputs, or its cross-entropy) averaged with the sample weights."""
    function = LOSS_FUNCTIONS[loss_name]
    rows = [function(z[r:r + 1], a[r:r + 1], Y[r:r + 1])
            for r in range(z.shape[0])]
    w = weights.astype(np.float64)
    return float(np.dot(w, rows) / w.sum())


def weighted_output_delta(loss_name, z, a, Y, activation, weights):
    """dL/dz of the weighted loss: each row's delta as a batch of one, times
    w_r / sum(w) (in place of the batch's 1/n)."""
    function = OUTPUT_DELTAS[loss_name]
    share = (weights.astype(np.float64) / weights.astype(np.float64).sum())
    rows = [function(z[r:r + 1], a[r:r + 1], Y[r:r + 1], activation)
            * a.dtype.type(share[r]) for r in range(z.shape[0])]
    return np.vstack(rows).astype(a.dtype)


# Metrics (fit's ``metrics=``), written as the engine defines them


def metric_sums(outputs, Y, weights, loss_name, target_mean):
    """(weight, correct weight, per-output sum w (y - a)^2, per-output sum
    w (y - ybar)^2) of a batch."""
    w = np.ones(len(Y)) if weights is None else weights.astype(np.float64)
    if outputs.shape[1] > 1 and loss_name != "binary_cross_entropy":
        right = np.argmax(outputs, axis=1) == np.argmax(Y, axis=1)
    else:
        right = ((outputs >= 0.5) == (Y >= 0.5)).all(axis=1)
    a = outputs.astype(np.float64)
    y = Y.astype(np.float64)
    residual = (w[:, None] * (y - a) ** 2).sum(axis=0)
    spread = (None if target_mean is None
              else (w[:, None] * (y - target_mean) ** 2).sum(axis=0))
    return w.sum(), float(w[right].sum()), residual, spread


def r2_from(residual, spread):
    """Mean over outputs of 1 - residual / spread (1 or 0 for constant
    targets, as scikit-learn's r2_score)."""
    scores = [1 - r / s if s > 0 else (1.0 if r == 0 else 0.0)
              for r, s in zip(residual, spread)]
    return float(np.mean(scores))


def target_means(Y, weights):
    w = np.ones(len(Y)) if weights is None else weights.astype(np.float64)
    return (w[:, None] * Y.astype(np.float64)).sum(axis=0) / w.sum()


# Optimizer updates (PyTorch's conventions), out of place


def sgd_update(p, g, velocity, lr, momentum, nesterov, lr_in_velocity=False):
    """One SGD step on one parameter array (``lr_in_velocity``: the
    velocity in parameter units, Keras's and scikit-learn's rule; see
    ``optimizers.SGD``).

    Parameters
    ----------
    p, g, velocity : ndarray of the parameter's shape
        The parameter, its gradient (l2 term included) and its velocity.
    lr, momentum : float
    nesterov, lr_in_velocity : bool

    Returns
    -------
    p, velocity : ndarray
        New arrays; the arguments are not modified.
    """
    if momentum == 0:
        return p - lr * g, velocity
    if lr_in_velocity:
        velocity = momentum * velocity - lr * g
        step = momentum * velocity - lr * g if nesterov else velocity
        return p + step, velocity
    velocity = momentum * velocity + g
    step = g + momentum * velocity if nesterov else velocity
    return p - lr * step, velocity


def adam_update(p, g, m, v, t, lr, beta1, beta2, eps, eps_hat=False):
    """One Adam step on one parameter array; ``t`` is the step number,
    counted from 1; ``eps_hat``: ``eps`` added before the bias correction
    (Keras's and scikit-learn's form, see ``optimizers.Adam``).

    Returns
    -------
    p, m, v : ndarray
        New arrays; the arguments are not modified.
    """
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    # lr * m_hat / (sqrt(v_hat) + eps), arranged as PyTorch arranges it;
    # with eps_hat, lr_t * m / (sqrt(v) + eps) in the same arrangement.
    correction2 = math.sqrt(1 - beta2 ** t)
    if eps_hat:
        step_size = lr * correction2 / (1 - beta1 ** t)
        root_scale = 1.0
    else:
        step_size = lr / (1 - beta1 ** t)
        root_scale = 1 / correction2
    dtype = p.dtype.type
    return (p - dtype(step_size) * (m / (np.sqrt(v) * dtype(root_scale)
                                         + dtype(eps)))), m, v


def rmsprop_update(p, g, square_average, buffer, lr, alpha, eps, momentum):
    """One RMSprop step on one parameter array (PyTorch's, not centered):
    ``v = alpha v + (1 - alpha) g^2``, ``step = g / (sqrt(v) + eps)``; with
    momentum ``b = momentum b + step`` and ``p -= lr b``, else
    ``p -= lr step``.

    Returns
    -------
    p, square_average, buffer : ndarray
        New arrays; the arguments are not modified.
    """
    square_average = alpha * square_average + (1 - alpha) * g * g
    step = g / (np.sqrt(square_average) + eps)
    if momentum > 0:
        buffer = momentum * buffer + step
        return p - lr * buffer, square_average, buffer
    return p - lr * step, square_average, buffer


def sgd_rule(p, g, velocity, unused, t, settings):
    """``sgd_update`` with an ``SGD``'s settings; SGD keeps one vector."""
    p, velocity = sgd_update(p, g, velocity, settings.lr, settings.momentum,
                             settings.nesterov, settings.lr_in_velocity)
    return p, velocity, unused


def adam_rule(p, g, m, v, t, settings):
    """``adam_update`` with an ``Adam``'s settings."""
    return adam_update(p, g, m, v, t, settings.lr, settings.beta1,
                       settings.beta2, settings.eps, settings.eps_hat)


def rmsprop_rule(p, g, square_average, buffer, t, settings):
    """``rmsprop_update`` with an ``RMSprop``'s settings."""
    return rmsprop_update(p, g, square_average, buffer, settings.lr,
                          settings.alpha, settings.eps, settings.momentum)


# Each optimizer's update of one parameter array, by name:
# rule(p, g, first, second, t, settings) -> (p, first, second), out of
# place, with the optimizer's state vectors and the step t counted from 1.
UPDATE_RULES = {"sgd": sgd_rule, "adam": adam_rule, "rmsprop": rmsprop_rule}


class _OptimizerState:
    """The optimizer's state vectors (SGD's velocity in ``first``, Adam's
    moments in ``first`` and ``second``), one array per parameter array in
    the order W0, b0, W1, b1, ...; ``step`` counts the steps taken."""

    def __init__(self, kind, parameters, step=0, first=None, second=None):
        self.kind = kind
        self.step = step
        self.first = first or [np.zeros_like(p) for p in parameters]
        self.second = second or [np.zeros_like(p) for p in parameters]


# Initial weights: one draw w[i, j] from the generator, in float64


def xavier_weight(generator, n_in, n_out):
    """Glorot uniform: U(-limit, limit) with limit = sqrt(6 / (n_in + n_out))."""
    limit = math.sqrt(6.0 / (n_in + n_out))
    return (2.0 * generator.uniform() - 1.0) * limit


def he_weight(generator, n_in, n_out):
    """He normal: N(0, 2 / n_in)."""
    return generator.normal() * math.sqrt(2.0 / n_in)


def normal_weight(generator, n_in, n_out):
    """Standard normal: N(0, 1)."""
    return generator.normal()


WEIGHT_DRAWS = {"xavier": xavier_weight, "he": he_weight,
                "normal": normal_weight}


def _implemented(kind, name, table):
    """``table[name]``, or ValueError when the engine knows ``name`` but
    this module does not (yet)."""
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"swiftprop.reference has no {kind} {name!r}; it "
                         "has: " + ", ".join(table)) from None


# L-BFGS: the engine's LBFGS.swift and LineSearch.swift, step for step
#
# Points of a line search along d from theta are tuples (step, value, slope):
# alpha, phi(alpha) = F(theta + alpha d) and phi'(alpha) = grad F . d. The
# scalars are Python floats (float64), as the engine's are Doubles.

# The strong Wolfe constants of L-BFGS-B's line search (c1, c2), the bracket
# width (relative to its larger end) at which the search settles for its
# best point, and the longest step tried.
SUFFICIENT_DECREASE = 1e-3
CURVATURE = 0.9
BRACKET_TOLERANCE = 0.1
MAXIMUM_STEP = 1e10


def cubic_minimizer(p, q):
    """The minimiser of the cubic through the values and slopes at points
    p and q (Nocedal and Wright, eq. 3.59)::

        d1 = phi'(p) + phi'(q) - 3 (phi(p) - phi(q)) / (p - q)
        d2 = sign(q - p) sqrt(d1^2 - phi'(p) phi'(q))
        a  = q - (q - p) (phi'(q) + d2 - d1) / (phi'(q) - phi'(p) + 2 d2)

    or None when it has none (a negative radicand) or is not finite.
    Computed in IEEE float64 (a division by zero gives inf, not an
    exception), as the engine computes it.
    """
    p_step, p_value, p_slope = (np.float64(v) for v in p)
    q_step, q_value, q_slope = (np.float64(v) for v in q)
    with np.errstate(all="ignore"):
        d1 = p_slope + q_slope - 3 * (p_value - q_value) / (p_step - q_step)
        radicand = d1 * d1 - p_slope * q_slope
        if not radicand >= 0:
            return None
        d2 = (1.0 if q_step > p_step else -1.0) * np.sqrt(radicand)
        step = float(q_step - (q_step - p_step) * (q_slope + d2 - d1)
                     / (q_slope - p_slope + 2 * d2))
    return step if math.isfinite(step) else None


def extrapolation(previous, current):
    """The next trial while phi still falls: the cubic's minimiser beyond
    ``current``, kept in [a + 1.1 D, a + 4 D] (D the last growth), else
    a + 4 D; at most MAXIMUM_STEP."""
    distance = current[0] - previous[0]
    lower = current[0] + 1.1 * distance
    upper = current[0] + 4 * distance
    following = upper
    cubic = cubic_minimizer(previous, current)
    if cubic is not None and cubic > current[0]:
        following = min(max(cubic, lower), upper)
    return min(following, MAXIMUM_STEP)


def _finite_point(point):
    return math.isfinite(point[1]) and math.isfinite(point[2])


def strong_wolfe_search(start, initial_step, max_evaluations, evaluate,
                        keep_as_low):
    """A step meeting the strong Wolfe conditions
    ``phi(a) <= phi(0) + c1 a phi'(0)`` and ``|phi'(a)| <= c2 |phi'(0)|``,
    by bracketing and zoom (Nocedal and Wright, algorithms 3.5 and 3.6).

    ``evaluate(a)`` returns the point at step a; ``keep_as_low()`` is called
    right after an evaluation whose point becomes the best one kept, so the
    caller keeps its gradient. Returns ``("trial", point)`` (the last point
    evaluated), ``("low", point)`` (the one last kept) or
    ``("failed", None)``.
    """
    value0, slope0 = start[1], start[2]
    evaluations = 0

    def decreases_enough(point):
        return point[1] <= value0 + SUFFICIENT_DECREASE * point[0] * slope0

    def flat_enough(point):
        return abs(point[2]) <= -CURVATURE * slope0

    def zoom(low, high):
        nonlocal evaluations
        while True:
            a, b = min(low[0], high[0]), max(low[0], high[0])
            width = b - a
            if (width <= BRACKET_TOLERANCE * b
                    or evaluations >= max_evaluations):
                return ("low", low) if low[0] > 0 else ("failed", None)
            step = a + 0.5 * width
            if _finite_point(low) and _finite_point(high):
                cubic = cubic_minimizer(low, high)
                if (cubic is not None and cubic >= a + 0.1 * width
                        and cubic <= b - 0.1 * width):
                    step = cubic
            current = evaluate(step)
            evaluations += 1
            if (not _finite_point(current) or not decreases_enough(current)
                    or current[1] >= low[1]):
                high = current
            else:
                if flat_enough(current):
                    return "trial", current
                keep_as_low()
                if current[2] * (high[0] - low[0]) >= 0:
                    high = low
                low = current

    previous, step = start, initial_step
    while True:
        if evaluations >= max_evaluations:
            return ("low", previous) if previous[0] > 0 else ("failed", None)
        current = evaluate(step)
        evaluations += 1
        if (not _finite_point(current) or not decreases_enough(current)
                or current[1] >= previous[1]):
            return zoom(previous, current)
        if flat_enough(current):
            return "trial", current
        keep_as_low()
        if current[2] >= 0:
            return zoom(current, previous)
        if current[0] >= MAXIMUM_STEP:
            return "low", current
        step = extrapolation(previous, current)
        previous = current


def _dot(a, b):
    """sum(a * b) in float64."""
    return float(np.dot(a.astype(np.float64, copy=False),
                        b.astype(np.float64, copy=False)))


class _CorrectionPairs:
    """The last m pairs s = theta_new - theta, y = g_new - g, with
    rho = 1 / (s . y)."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.pairs = []                  # (s, y, rho), oldest first

    def direction(self, g):
        """d = -H g by the two-loop recursion, from H0 = (s.y / y.y) I of
        the newest pair; -g with no pairs."""
        if not self.pairs:
            return -g
        dtype = g.dtype.type
        q = g.copy()
        alphas = [0.0] * len(self.pairs)
        for i in range(len(self.pairs) - 1, -1, -1):
            s, y, rho = self.pairs[i]
            alphas[i] = rho * _dot(s, q)
            q = q - dtype(alphas[i]) * y
        s, y, _ = self.pairs[-1]
        r = q * dtype(_dot(s, y) / _dot(y, y))
        for i, (s, y, rho) in enumerate(self.pairs):
            beta = rho * _dot(y, r)
            r = r + dtype(alphas[i] - beta) * s
        return -r

    def keep(self, s, y, curvature):
        if len(self.pairs) == self.capacity:
            self.pairs.pop(0)
        self.pairs.append((s, y, 1 / curvature))


def lbfgs_minimize(objective, theta, settings, max_iter, report):
    """Minimise ``objective`` from the flat vector ``theta`` by L-BFGS
    (see the engine's LBFGS.swift for the method and its stopping rules).

    Parameters
    ----------
    objective : callable
        ``objective(theta) -> (F, gradient)``, F a float, the gradient an
        array like theta.
    settings : LBFGS
    max_iter : int
    report : callable
        ``report(iteration, F)`` after each iteration (1-based), False to
        stop.

    Returns
    -------
    theta, value, losses, evaluations, stop_reason
        ``value`` is F at the final theta.
    """
    evaluations = 0
    dtype = theta.dtype.type
    epsilon = float(np.finfo(theta.dtype).eps)
    memory = _CorrectionPairs(settings.memory)

    def evaluate(parameters):
        nonlocal evaluations
        evaluations += 1
        return objective(parameters)

    losses = []
    value, gradient = evaluate(theta)
    if not (math.isfinite(value) and np.isfinite(gradient).all()):
        return theta, value, losses, evaluations, "diverged"
    if float(np.max(np.abs(gradient))) <= settings.gtol:
        return theta, value, losses, evaluations, "converged_gtol"
    iterations = 0
    while True:
        d = memory.direction(gradient)
        slope = _dot(gradient, d)
        initial_step = 1.0
        if iterations == 0:
            initial_step = min(1 / math.sqrt(_dot(d, d)), MAXIMUM_STEP)
        trial = {}                       # the last point's and the kept one's

        def at(step):
            parameters = theta + dtype(step) * d
            trial["value"], trial["gradient"] = evaluate(parameters)
            trial["parameters"] = parameters
            return step, trial["value"], _dot(trial["gradient"], d)

        def keep_as_low():
            trial["low"] = trial["parameters"], trial["gradient"]

        outcome, point = "failed", None
        if slope < 0:
            outcome, point = strong_wolfe_search(
                (0.0, value, slope), initial_step, settings.max_ls, at,
                keep_as_low)
        if outcome == "failed":
            if not memory.pairs:
                return theta, value, losses, evaluations, "line_search_failed"
            memory.pairs = []
            continue
        if outcome == "trial":
            parameters, new_gradient = trial["parameters"], trial["gradient"]
        else:
            parameters, new_gradient = trial["low"]
        s, y = parameters - theta, new_gradient - gradient
        curvature = _dot(s, y)
        theta, gradient = parameters, new_gradient
        previous, value = value, point[1]
        iterations += 1
        losses.append(value)
        if report(iterations, value) is False:
            return theta, value, losses, evaluations, "callback"
        if iterations >= max_iter:
            return theta, value, losses, evaluations, "max_iter"
        if evaluations > settings.max_fun:
            return theta, value, losses, evaluations, "max_fun"
        if float(np.max(np.abs(gradient))) <= settings.gtol:
            return theta, value, losses, evaluations, "converged_gtol"
        if previous - value <= settings.ftol * max(abs(previous), abs(value),
                                                   1):
            return theta, value, losses, evaluations, "converged_ftol"
        if curvature > epsilon * (-point[0] * slope):
            memory.keep(s, y, curvature)


# The network


class Network(LayerStack):
    """A fully-connected neural network in plain NumPy.

    Same parameters, attributes and methods as ``swiftprop.Network``; with
    the same ``seed`` it holds the same initial weights and trains the same
    way.

    Parameters
    ----------
    layers : list of int or list of Dense
        Layer sizes ``[n_inputs, n_hidden..., n_outputs]``, or the layers.
    activation : str, default="sigmoid"
        Activation of the hidden layers: ``identity``, ``sigmoid``, ``tanh``,
        ``relu`` or ``leaky_relu``.
    output_activation : str, optional
        Activation of the output layer; by default ``sigmoid`` for
        ``binary_cross_entropy``, ``softmax`` for ``cross_entropy`` and
        ``activation`` for ``mse``.
    loss : {"mse", "binary_cross_entropy", "cross_entropy"}, default="mse"
    dtype : {"float64", "float32"}, default="float64"
    init : {"xavier", "he", "normal"}, default="xavier"
        Glorot uniform, He normal or standard normal weights; zero biases.
    seed : int, optional
        Seed of the network's SplitMix64 generator, which draws the initial
        weights and the order of the mini-batches. By default a fresh one.
    dropout : float or list of float, optional
        As ``swiftprop.Network``: inverted dropout on hidden layers in
        training steps only, the masks drawn from the same generator in the
        engine's order (``_draw_mask``), so a fit agrees with the engine's.

    Attributes
    ----------
    layers : list of Dense
    loss_name : str
    dtype : numpy.dtype
    init : str
    seed : int
    """

    def __init__(self, layers, activation="sigmoid", output_activation=None,
                 loss="mse", dtype="float64", init="xavier", seed=None,
                 dropout=None):
        self.layers = build_architecture(layers, activation, output_activation,
                                         loss, dropout)
        self.loss_name = loss
        self.dtype = check_dtype(dtype)
        self.init = choose("init", init, _codes.INITIALIZERS)
        for layer in self.layers:
            _implemented("activation", layer.activation, ACTIVATIONS)
        _implemented("loss", loss, LOSS_FUNCTIONS)
        _implemented("init", init, WEIGHT_DRAWS)
        self.seed = new_seed() if seed is None else check_int("seed", seed,
                                                              low=0, high=None)
        self._generator = SplitMix64(self.seed)
        self._parameters = [(self._initial_weights(layer),
                             np.zeros(layer.n_out, dtype=self.dtype))
                            for layer in self.layers]
        self._optimizer = None

    def _initial_weights(self, layer):
        """Draw W of shape (n_in, n_out) row by row from the generator, in
        float64, then round it to the network's dtype."""
        n_in, n_out = layer.n_in, layer.n_out
        draw = WEIGHT_DRAWS[self.init]
        W = np.empty((n_in, n_out))
        for i in range(n_in):
            for j in range(n_out):
                W[i, j] = draw(self._generator, n_in, n_out)
        return W.astype(self.dtype)

    _display_name = "reference.Network"

    # Parameters

    @property
    def weights(self):
        """list of (W, b): copies; W has shape ``(n_in, n_out)``, b
        ``(n_out,)``."""
        return [(W.copy(), b.copy()) for W, b in self._parameters]

    def set_weights(self, weights):
        """Replace every weight and bias; nothing changes if any is invalid.

        Parameters
        ----------
        weights : list of (W, b)
            One pair per layer, W of shape ``(n_in, n_out)``, b of shape
            ``(n_out,)`` (or ``(1, n_out)``).
        """
        if not isinstance(weights, (list, tuple)):
            raise TypeError("weights must be a list of (W, b) pairs, got "
                            f"{type(weights).__name__}")
        if len(weights) != len(self.layers):
            raise ValueError(f"weights has {len(weights)} (W, b) pairs, but "
                             f"the network has {len(self.layers)} layers")
        checked = []
        for index, (pair, layer) in enumerate(zip(weights, self.layers)):
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise TypeError(f"weights[{index}] must be a pair (W, b)")
            W = self._checked_array(f"layer {index} W", pair[0],
                                    (layer.n_in, layer.n_out))
            b = self._checked_array(f"layer {index} b", pair[1],
                                    (layer.n_out,))
            checked.append((W, b))
        self._parameters = checked  # all checked: now replace them all

    def _checked_array(self, name, array, shape):
        array = np.asarray(array)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a real numeric array, got dtype "
                            f"{array.dtype}")
        if len(shape) == 1 and array.shape == (1,) + shape:
            array = array.reshape(shape)  # the tutorials' (1, n_out) biases
        if array.shape != shape:
            raise ValueError(f"{name} has shape {array.shape}, expected "
                             f"{shape}")
        array = np.array(array, dtype=self.dtype)  # always a private copy
        if not np.isfinite(array).all():
            raise ValueError(f"{name} contains NaN or infinity")
        return array

    def get_optimizer_state(self):
        """The optimizer's memory, or ``None`` before any training step.

        Returns
        -------
        dict or None
            ``{"kind": "sgd" or "adam", "step": int, "first": ndarray,
            "second": ndarray}``; ``first``/``second`` of shape
            ``(n_parameters,)`` in parameter order (W0, b0, W1, ...): SGD's
            velocity in ``first`` (``second`` is zeros), Adam's moments in
            ``first`` and ``second``.
        """
        state = self._optimizer
        if state is None:
            return None
        return {"kind": state.kind, "step": state.step,
                "first": np.concatenate([x.ravel() for x in state.first]),
                "second": np.concatenate([x.ravel() for x in state.second])}

    def set_optimizer_state(self, state):
        """Restore what ``get_optimizer_state`` returned (``None`` resets)."""
        if state is None:
            self.reset_optimizer()
            return
        if not isinstance(state, dict):
            raise TypeError("state must be a dict from get_optimizer_state "
                            f"or None, got {type(state).__name__}")
        kind = choose("optimizer state kind", state.get("kind"),
                      _codes.OPTIMIZER_KINDS)
        _implemented("optimizer", kind, UPDATE_RULES)
        step = check_int("step", state.get("step", 0), low=0)
        flat = self._flat_parameters()
        arrays = {}
        for name in ("first", "second"):
            vector = np.asarray(state.get(name, np.zeros(self.n_parameters)))
            if vector.shape != (self.n_parameters,):
                raise ValueError(f"optimizer state {name} has shape "
                                 f"{vector.shape}, expected "
                                 f"({self.n_parameters},)")
            vector = np.array(vector, dtype=self.dtype)
            if not np.isfinite(vector).all():
                raise ValueError("optimizer state contains NaN or infinity")
            arrays[name] = _unflatten(vector, flat)
        self._optimizer = _OptimizerState(kind, flat, step, arrays["first"],
                                          arrays["second"])

    def reset_optimizer(self):
        """Forget the optimizer's momentum or moments (and its step count)."""
        self._optimizer = None

    def _flat_parameters(self):
        """The parameter arrays in the order W0, b0, W1, b1, ..."""
        return [p for pair in self._parameters for p in pair]

    # Forward and backward

    def _samples(self, X, y):
        X = as_float_matrix("X", X, self.dtype, self.n_inputs)
        Y = as_targets("y", y, self.dtype, X.shape[0], self.n_outputs,
                       self.loss_name)
        return X, Y

    def _forward(self, X, parameters, masks=None):
        """zs[l] = a[l] @ W[l] + b[l] and a[l + 1] = f_l(zs[l]) for every
        layer, with a[0] = X.

        With ``masks`` (a list; training steps only), each layer with a
        dropout rate draws its mask m / (1 - p) (``_draw_mask``) and the
        next layer reads a * m / (1 - p); ``masks[l]`` is layer l's mask, or
        None. ``activations`` keeps the undropped a.
        """
        zs, activations = [], [X]
        inputs = X
        for layer, (W, b) in zip(self.layers, parameters):
            z = inputs @ W + b
            zs.append(z)
            inputs = ACTIVATIONS[layer.activation](z)
            activations.append(inputs)
            if masks is not None:
                mask = (self._draw_mask(layer.dropout, inputs.shape)
                        if layer.dropout else None)
                masks.append(mask)
                if mask is not None:
                    inputs = inputs * mask
        return zs, activations

    def _draw_mask(self, rate, shape):
        """Inverted dropout's mask m / (1 - p) of one layer, in the dtype:
        one uniform draw u per sample and unit, row by row, from the
        network's generator; a unit is kept (m = 1) when u >= p. The
        engine's order (``Network+Dropout.swift``)."""
        u = self._generator.uniforms(shape[0] * shape[1]).reshape(shape)
        kept = np.asarray(1.0 / (1.0 - rate)).astype(self.dtype)
        return np.where(u >= rate, kept, np.zeros((), self.dtype))

    def _loss_value(self, zs, activations, Y):
        return LOSS_FUNCTIONS[self.loss_name](zs[-1], activations[-1], Y)

    def _backward(self, X, Y, parameters, weights=None, dropping=False):
        """The forward pass, then the chain rule from the last layer down
        (with ``weights``, of the weighted mean loss). With ``dropping``
        (training steps), dropout as the engine does it: layer l + 1 reads
        a * m, and dL/da of layer l is multiplied by the same m before f'.

        Returns
        -------
        loss : float
        deltas : list of ndarray
            ``deltas[l]`` = dL/dz of layer l, of shape (n_samples, n_out).
        gradients : list of (dW, db)
        """
        masks = [] if dropping and any(self.dropout) else None
        zs, activations = self._forward(X, parameters, masks)
        self._last_outputs = activations[-1]
        last = len(self.layers) - 1
        deltas = [None] * len(self.layers)
        gradients = [None] * len(self.layers)
        if weights is None:
            loss = self._loss_value(zs, activations, Y)
            deltas[last] = OUTPUT_DELTAS[self.loss_name](
                zs[last], activations[last + 1], Y,
                self.layers[last].activation)
        else:
            loss = weighted_loss(self.loss_name, zs[last], activations[-1], Y,
                                 weights)
            deltas[last] = weighted_output_delta(
                self.loss_name, zs[last], activations[last + 1], Y,
                self.layers[last].activation, weights)
        for l in range(last, -1, -1):
            W, _ = parameters[l]
            delta = deltas[l]
            a_in = activations[l]            # the input of layer l
            mask = masks[l - 1] if masks and l > 0 else None
            if mask is not None:
                a_in = a_in * mask           # what layer l read
            dW = a_in.T @ delta              # dL/dW = dz/dW^T . dL/dz
            db = delta.sum(axis=0)           # dz/db = 1 for every row
            gradients[l] = (dW, db)
            if l > 0:
                # dL/da of the layer below, then through its activation.
                dL_da = delta @ W.T
                if mask is not None:
                    dL_da = dL_da * mask     # dropped units pass nothing
                f_prime = DERIVATIVES[self.layers[l - 1].activation](
                    zs[l - 1], activations[l])
                deltas[l - 1] = dL_da * f_prime
        return loss, deltas, gradients

    def forward(self, X):
        """The forward pass, layer by layer, as the tutorials keep it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)

        Returns
        -------
        zs : list of ndarray
            ``zs[l]`` of shape (n_samples, n_out of layer l): ``a @ W + b``.
        activations : list of ndarray
            ``activations[0]`` is ``X`` (converted); ``activations[l + 1]``
            is ``f(zs[l])``, so ``activations[-1]`` equals ``predict(X)``.
        """
        X = as_float_matrix("X", X, self.dtype, self.n_inputs)
        return self._forward(X, self._parameters)

    def backward(self, X, y):
        """One backward pass without an update, with everything it computes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)
        y : array-like of shape (n_samples, n_outputs), or (n_samples,)

        Returns
        -------
        dict
            ``"loss"``: float; ``"deltas"``: list of ndarray, ``deltas[l]``
            = dL/dz of layer l, shaped as ``zs[l]``; ``"gradients"``: list
            of (dW, db) as ``gradients``; ``"dX"``: ndarray of shape
            (n_samples, n_inputs), ``deltas[0] @ W0.T``, the gradient handed
            back to the input.
        """
        X, Y = self._samples(X, y)
        loss, deltas, gradients = self._backward(X, Y, self._parameters)
        W0, _ = self._parameters[0]
        return {"loss": loss, "deltas": deltas, "gradients": gradients,
                "dX": deltas[0] @ W0.T}

    def predict(self, X):
        """Output activations.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)

        Returns
        -------
        ndarray of shape (n_samples, n_outputs)
        """
        _, activations = self.forward(X)
        return activations[-1]

    def loss(self, X, y, sample_weight=None):
        """The data loss on ``(X, y)`` (without any l2 term), as a float;
        with ``sample_weight``, the weighted mean of the rows' losses."""
        X, Y = self._samples(X, y)
        W = check_sample_weight("sample_weight", sample_weight, X.shape[0],
                                self.dtype)
        zs, activations = self._forward(X, self._parameters)
        if W is not None:
            return weighted_loss(self.loss_name, zs[-1], activations[-1], Y, W)
        return self._loss_value(zs, activations, Y)

    def gradients(self, X, y, sample_weight=None):
        """Gradients of the data loss by one backward pass, without an
        update (with ``sample_weight``, of the weighted mean loss).

        Returns
        -------
        list of (dW, db)
            Same structure and shapes as ``weights``.
        """
        X, Y = self._samples(X, y)
        W = check_sample_weight("sample_weight", sample_weight, X.shape[0],
                                self.dtype)
        return self._backward(X, Y, self._parameters, W)[2]

    def numerical_gradients(self, X, y, eps=1e-6):
        """Central finite differences ``(L(p+eps) - L(p-eps)) / (2 eps)``.

        Computed in float64 whatever the network's dtype (from float64
        copies of the weights and of the converted ``X`` and ``y``), for
        checking ``gradients``; costs two forward passes per parameter.

        Returns
        -------
        list of (dW, db) in float64
        """
        eps = check_number("eps", eps, low=0, low_open=True)
        X, Y = self._samples(X, y)
        X, Y = X.astype(np.float64), Y.astype(np.float64)
        parameters = [(W.astype(np.float64), b.astype(np.float64))
                      for W, b in self._parameters]

        def loss_at_current_parameters():
            return self._loss_value(*self._forward(X, parameters), Y)

        result = []
        for pair in parameters:
            estimates = []
            for p in pair:                   # W (row by row), then b
                estimate = np.empty_like(p)
                for i in range(p.size):
                    saved = p.flat[i]
                    p.flat[i] = saved + eps
                    above = loss_at_current_parameters()
                    p.flat[i] = saved - eps
                    below = loss_at_current_parameters()
                    p.flat[i] = saved
                    estimate.flat[i] = (above - below) / (2 * eps)
                estimates.append(estimate)
            result.append(tuple(estimates))
        return result

    # Training

    def _state_for(self, settings):
        """The optimizer state, kept while the kind of optimizer stays the
        same and started afresh (zeros, step 0) when it changes."""
        _implemented("optimizer", settings.name, UPDATE_RULES)
        if self._optimizer is None or self._optimizer.kind != settings.name:
            self._optimizer = _OptimizerState(settings.name,
                                              self._flat_parameters())
        return self._optimizer

    def _step(self, X, Y, settings, state, weights=None):
        """One optimizer step on a batch.

        Returns the loss before the step and the gradients, or ``None`` when
        the loss or any updated value is NaN or infinite; then nothing
        changes: the new values are computed aside and committed only when
        all of them are finite.
        """
        # Overflow raises no warning here: a step checks its results itself.
        with np.errstate(over="ignore", invalid="ignore"):
            loss, _, gradients = self._backward(X, Y, self._parameters,
                                                weights, dropping=True)
            if not math.isfinite(loss):
                return None
            parameters, first, second = self._updated(gradients, settings,
                                                      state)
        if not all(np.isfinite(x).all() for x in parameters + first + second):
            return None
        self._parameters = list(zip(parameters[0::2], parameters[1::2]))
        state.first, state.second = first, second
        state.step += 1
        return loss, gradients

    def _updated(self, gradients, settings, state):
        """The parameters and optimizer state after one update, as new
        lists in the order W0, b0, W1, b1, ..."""
        rule = UPDATE_RULES[settings.name]  # checked by _state_for
        grads = [g for pair in gradients for g in pair]
        t = state.step + 1                   # the step, counted from 1
        parameters, first, second = [], [], []
        for index, (p, grad) in enumerate(zip(self._flat_parameters(),
                                              grads)):
            # l2 decay acts on the weight matrices (even places), not biases.
            g = grad + settings.l2 * p if index % 2 == 0 else grad
            p, m, v = rule(p, g, state.first[index], state.second[index], t,
                           settings)
            parameters.append(p)
            first.append(m)
            second.append(v)
        return parameters, first, second

    def train_step(self, X, y, lr=None, optimizer="sgd", sample_weight=None,
                   **optimizer_options):
        """One optimizer step on the batch ``(X, y)``.

        Optimizer state (momentum, Adam's moments) persists across calls
        while the kind of optimizer stays the same.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)
        y : array-like of shape (n_samples, n_outputs), or (n_samples,)
        lr : float, optional
            Learning rate (default: 0.01 for SGD, 0.001 for Adam).
        optimizer : {"sgd", "adam"} or SGD or Adam, default="sgd"
        **optimizer_options
            ``momentum``, ``nesterov``, ``beta1``, ``beta2``, ``eps``, ``l2``.

        Returns
        -------
        float
            The loss before the step.

        Raises
        ------
        FloatingPointError
            When the loss or an updated value is NaN or infinite; the step
            is then not applied.
        """
        settings = resolve_optimizer(optimizer, lr=lr, **optimizer_options)
        if isinstance(settings, LBFGS):
            raise ValueError("L-BFGS minimises over the full batch in one "
                             "call and has no single step: use "
                             "fit(X, y, optimizer='lbfgs')")
        X, Y = self._samples(X, y)
        W = check_sample_weight("sample_weight", sample_weight, X.shape[0],
                                self.dtype)
        outcome = self._step(X, Y, settings, self._state_for(settings), W)
        if outcome is None:
            raise FloatingPointError("the loss or its gradient is NaN or "
                                     "infinite; the step was not applied")
        return outcome[0]

    def fit(self, X, y, epochs=1, lr=None, optimizer="sgd", batch_size=None,
            shuffle=True, verbose=0, callback=None, validation_data=None,
            tol=None, patience=10, *, sample_weight=None, class_weight=None,
            metrics=None, monitor=None, restore_best_weights=False,
            callbacks=None, include_l2=False, count_from=1, _loss_scale=1.0,
            _penalty_scale=0.0, _l2_per_sample=False, _random_state=None,
            **optimizer_options):
        """Train by mini-batch gradient descent, with ``swiftprop.Network.fit``'s
        parameters (see there) and its loop written out in NumPy.

        Returns
        -------
        History
            The epoch loss is the mean of the batch losses before their
            steps, weighted by batch size (or weight sum). If a step's loss
            or update is NaN or infinite, it is not applied, training stops
            with a ``RuntimeWarning`` and ``stop_reason == "diverged"``.
        """
        chosen = resolve_optimizer(optimizer, **optimizer_options)
        if isinstance(chosen, LBFGS):
            return self._fit_lbfgs(
                X, y, chosen, epochs, lr, batch_size, verbose, callback,
                validation_data, tol, sample_weight, class_weight,
                metrics=metrics, monitor=monitor, callbacks=callbacks,
                restore_best_weights=restore_best_weights,
                include_l2=include_l2)
        optimizer_lr = chosen.lr
        X, Y = self._samples(X, y)
        n = X.shape[0]
        hooks = CallbackList(callbacks, self)
        tol, patience, monitor, restore_best_weights = hooks.stopping_rule(
            tol, patience, monitor, restore_best_weights)
        extras = prepare_extras(
            self, X, Y, lr=lr, optimizer_lr=optimizer_lr,
            sample_weight=sample_weight, class_weight=class_weight,
            validation_data=validation_data, metrics=metrics, monitor=monitor,
            restore_best_weights=restore_best_weights, include_l2=include_l2,
            count_from=count_from, loss_scale=_loss_scale,
            penalty_scale=_penalty_scale, l2_per_sample=_l2_per_sample,
            as_float_matrix=as_float_matrix, as_targets=as_targets)
        schedule = extras.schedule
        base_rate, _ = schedule.engine()
        settings = resolve_optimizer(optimizer, lr=base_rate,
                                     **optimizer_options)
        plan = plan_fit(n, epochs, batch_size, shuffle, verbose, callback,
                        tol, patience)
        validation = extras.validation
        weights = extras.weights
        monitor = extras.monitor or ("loss" if validation is None
                                     else "val_loss")
        maximize = monitor not in ("loss", "val_loss")
        wants = {name: name.removeprefix("val_") in extras.metrics
                 and (validation is not None or not name.startswith("val_"))
                 for name in ("accuracy", "val_accuracy", "r2", "val_r2")}
        records = {name: np.full(plan.epochs, np.nan)
                   for name in ("lr", "accuracy", "val_accuracy", "r2",
                                "val_r2")}
        hooks.begin(None, [] if validation is not None else None, records,
                    extras)
        reporter = EpochReporter(plan, validation is not None,
                                 extras.rate_function, extras.count_from,
                                 [hooks.epoch_end] if hooks else ())
        state = self._state_for(settings)
        batch_size = plan.batch_size
        numpy_shuffle_state(_random_state)     # checks its kind
        # scikit-learn's order: the row numbers shuffled in place every
        # epoch (even as one batch) by the RandomState's own shuffle.
        numpy_order = (np.arange(n) if _random_state is not None
                       and plan.shuffle else None)
        shuffling = plan.shuffle and (batch_size < n
                                      or numpy_order is not None)
        inner = schedule.schedule if isinstance(schedule, Warmup) else schedule
        warmup = schedule.epochs if isinstance(schedule, Warmup) else 0
        train_mean = (target_means(Y, weights) if "r2" in extras.metrics
                      else None)
        val_mean = (target_means(validation[1], validation[2])
                    if validation is not None and "r2" in extras.metrics
                    else None)

        losses, val_losses, norms, rates, l2_terms = [], [], [], [], []
        best, wait, stop = math.inf, 0, "completed"
        plateau_best, plateau_wait = math.inf, 0
        best_monitored, best_epoch, best_parameters = math.inf, None, None
        current = override = None
        current = base_rate
        epoch_weight = (float(n) if weights is None
                        else float(np.sum(weights.astype(np.float64))))
        for epoch in range(plan.epochs):
            if override is not None:
                rate = override
            elif epoch < warmup:
                rate = schedule.rate(epoch, n)
            elif inner.stateful:
                rate = current
            else:
                rate = schedule.rate(epoch, n)
            rates.append(rate)
            records["lr"][epoch] = rate
            # The epoch's settings, unchecked (a schedule may reach a rate
            # of 0, which an optimizer object refuses).
            step_settings = SimpleNamespace(**{**settings.__dict__,
                                               "name": settings.name,
                                               "lr": rate})
            if numpy_order is not None:
                _random_state.shuffle(numpy_order)
                order = numpy_order
            elif shuffling:
                order = np.array(self._generator.permutation(n))
            else:
                order = np.arange(n)         # no draw from the generator
            total = total_weight = penalty_total = 0.0
            sums = [0.0, 0.0, 0.0, 0.0]
            norm_sums = np.zeros(len(self.layers))
            steps = 0
            for start in range(0, n, batch_size):
                rows = order[start:start + batch_size]
                batch_weights = None if weights is None else weights[rows]
                batch_weight = (float(len(rows)) if batch_weights is None
                                else float(np.sum(batch_weights.astype(
                                    np.float64))))
                if batch_weight == 0:
                    continue
                l2 = settings.l2 / batch_weight if extras.l2_per_sample \
                    else settings.l2
                step_settings.l2 = l2
                penalty = (0.5 * l2 * sum(
                    float(np.sum(W.astype(np.float64) ** 2))
                    for W, _ in self._parameters)
                    if extras.penalty_scale else 0.0)
                outcome = self._step(X[rows], Y[rows], step_settings, state,
                                     batch_weights)
                if outcome is None:
                    return self._diverged(losses, val_losses, norms, epoch,
                                          rates, records, wants)
                steps += 1
                batch_loss, gradients = outcome
                if extras.metrics:
                    part = metric_sums(self._last_outputs, Y[rows],
                                       batch_weights, self.loss_name,
                                       train_mean)
                    sums[0] += part[0]
                    sums[1] += part[1]
                    sums[2] = sums[2] + part[2]
                    sums[3] = sums[3] + (0 if part[3] is None else part[3])
                total += (extras.loss_scale * batch_loss
                          + extras.penalty_scale * penalty) * (
                              batch_weight / epoch_weight)
                penalty_total += penalty * (batch_weight / epoch_weight)
                total_weight += batch_weight
                norm_sums += [_norm(dW) for dW, _ in gradients]
            epoch_loss = total
            losses.append(epoch_loss)
            l2_terms.append(penalty_total)
            norms.append(norm_sums / max(steps, 1))
            if wants["accuracy"]:
                records["accuracy"][epoch] = sums[1] / sums[0]
            if wants["r2"]:
                records["r2"][epoch] = r2_from(sums[2], sums[3])
            val_loss = math.nan
            if validation is not None:
                X_val, Y_val, W_val = validation
                zs, activations = self._forward(X_val, self._parameters)
                if W_val is None:
                    val_loss = self._loss_value(zs, activations, Y_val)
                else:
                    val_loss = weighted_loss(self.loss_name, zs[-1],
                                             activations[-1], Y_val, W_val)
                val_loss *= extras.loss_scale
                val_losses.append(val_loss)
                part = metric_sums(activations[-1], Y_val, W_val,
                                   self.loss_name, val_mean)
                if wants["val_accuracy"]:
                    records["val_accuracy"][epoch] = part[1] / part[0]
                if wants["val_r2"]:
                    records["val_r2"][epoch] = r2_from(part[2], part[3])
            monitored = {"loss": epoch_loss, "val_loss": val_loss}.get(
                monitor)
            if monitored is None:
                monitored = -records[monitor][epoch]
            if math.isnan(monitored):
                monitored = math.inf
            if extras.restore_best and monitored < best_monitored:
                best_monitored, best_epoch = monitored, epoch
                best_parameters = [(W.copy(), b.copy())
                                   for W, b in self._parameters]
            if (inner.kind == "plateau" and epoch >= warmup
                    and override is None):
                if monitored < plateau_best - inner.min_delta:
                    plateau_best, plateau_wait = monitored, 0
                else:
                    plateau_wait += 1
                    if plateau_wait > inner.patience:
                        current = max(rate * inner.factor, inner.min_lr)
                        plateau_wait = 0
            every = reporter.every
            if every > 0 and (epoch == 0 or (epoch + 1) % every == 0
                              or epoch == plan.epochs - 1):
                answer = reporter(epoch, epoch_loss, val_loss, rate)
                if answer is False:
                    stop = "callback"
                    break
                if isinstance(answer, float):
                    override = answer
            if plan.tol >= 0:
                wait = wait + 1 if monitored > best - plan.tol else 0
                best = min(best, monitored)
                if wait >= plan.patience:
                    if inner.kind == "adaptive" and override is None:
                        if rate <= inner.min_lr:
                            stop = "converged"
                            break
                        current = rate * inner.factor
                        wait = 0
                    else:
                        stop = "converged"
                        break
        if best_parameters is not None:
            self._parameters = best_parameters
        history = History(losses, val_losses, stop, _norm_rows(norms, self),
                          rates, _metric_records(records, wants, len(losses)),
                          best_epoch,
                          l2_terms if extras.penalty_scale else ())
        hooks.end(history)
        return history

    def _fit_lbfgs(self, X, y, settings, epochs, lr, batch_size, verbose,
                   callback, validation_data, tol, sample_weight,
                   class_weight, **unsupported):
        """``fit(optimizer="lbfgs")``: ``lbfgs_minimize`` on
        ``F = scale * loss + (l2 / 2) sum ||W||^2`` over the flat parameter
        vector W0, b0, W1, b1, ..., the loss weighted by the rows' weights
        when there are any."""
        if any(self.dropout):
            raise ValueError("L-BFGS needs a deterministic objective, but "
                             "dropout makes it random: set the dropout rates "
                             "to 0 or use sgd, adam or rmsprop")
        X, Y = self._samples(X, y)
        settings, plan, reporter = plan_lbfgs(
            X.shape[0], settings, epochs, lr, batch_size, verbose, callback,
            validation_data, tol, **unsupported)
        weights = fit_weights(self, Y, sample_weight, class_weight)
        like = self._flat_parameters()
        dtype = self.dtype.type
        scale, l2 = dtype(settings.scale), dtype(settings.l2)

        def objective(theta):
            arrays = _unflatten(theta, like)
            parameters = list(zip(arrays[0::2], arrays[1::2]))
            with np.errstate(all="ignore"):
                loss, _, gradients = self._backward(X, Y, parameters,
                                                    weights)
                parts, squares = [], 0.0
                for W, (dW, db) in zip(arrays[0::2], gradients):
                    if settings.l2 != 0:
                        squares += float(np.sum(W.astype(np.float64) ** 2))
                    parts += [scale * dW + l2 * W, scale * db]
            penalty = 0.0 if settings.l2 == 0 else 0.5 * settings.l2 * squares
            return (settings.scale * loss + penalty,
                    np.concatenate([part.ravel() for part in parts]))

        def report(iteration, value):
            every = reporter.every
            if every and (iteration == 1 or iteration % every == 0
                          or iteration == plan.epochs):
                return reporter(iteration - 1, value, math.nan)
            return True

        theta = np.concatenate([p.ravel() for p in like])
        theta, value, losses, evaluations, reason = lbfgs_minimize(
            objective, theta, settings, plan.epochs, report)
        arrays = _unflatten(theta, like)
        self._parameters = list(zip(arrays[0::2], arrays[1::2]))
        return lbfgs_history(np.array(losses, dtype=float), len(losses),
                             evaluations, value, reason, stacklevel=3)

    def _diverged(self, losses, val_losses, norms, epoch, rates=(),
                  records=None, wants=None):
        history = History(losses, val_losses, "diverged",
                          _norm_rows(norms, self), rates[:len(losses)],
                          _metric_records(records or {}, wants or {},
                                          len(losses)))
        history.diverged_at = epoch
        warnings.warn(f"training diverged in epoch {epoch}: the loss or a "
                      "gradient became NaN or infinite; the network keeps "
                      "the weights of its last finite step (try a smaller "
                      "lr)", RuntimeWarning, stacklevel=3)
        return history


def _metric_records(records, wants, epochs):
    return {name: records[name][:epochs] for name, wanted in wants.items()
            if wanted}


def _norm(array):
    """sqrt(sum(array^2)), summed in the array's dtype; inf on overflow."""
    with np.errstate(over="ignore"):
        return math.sqrt(np.sum(array * array))


def _norm_rows(norms, network):
    """Per-epoch gradient norms as an ``(epochs, n_layers)`` array."""
    return np.array(norms, dtype=float).reshape(len(norms),
                                                len(network.layers))


def _unflatten(vector, like):
    """Cut a flat vector into arrays shaped as the arrays of ``like``."""
    arrays, offset = [], 0
    for array in like:
        arrays.append(vector[offset:offset + array.size].reshape(array.shape))
        offset += array.size
    return arrays

import numpy as np
import pytest

from swiftprop._codes import (ACTIVATIONS, LOSSES,
                              OUTPUT_ACTIVATION_FOR_LOSS)
from swiftprop.layers import OUTPUT_ONLY_ACTIVATIONS

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=float)


@pytest.fixture
def xor():
    return XOR_X.copy(), XOR_Y.copy()


def random_data(loss, n_samples, n_inputs, n_outputs, seed=0):
    """Inputs in [-1, 1) and targets suited to ``loss``."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n_samples, n_inputs))
    if loss == "cross_entropy":
        y = rng.integers(0, n_outputs, n_samples)
    elif loss == "binary_cross_entropy":
        y = rng.uniform(0, 1, (n_samples, n_outputs))
    elif loss == "poisson":
        # Counts, with zeros (0 log 0).
        y = rng.integers(0, 4, (n_samples, n_outputs)).astype(float)
    else:
        y = rng.uniform(-1, 1, (n_samples, n_outputs))
    return X, y


def relative_error(a, b):
    """‖a − b‖ / (‖a‖ + ‖b‖) over all arrays of two gradient lists."""
    a = np.concatenate([np.ravel(part) for pair in a for part in pair])
    b = np.concatenate([np.ravel(part) for pair in b for part in pair])
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b),
                                       1e-300)


# Every output activation with every loss it can be used with, from the
# engine's tables: ("identity", "mse"), ..., ("softmax", "cross_entropy").
OUTPUT_LOSS_PAIRS = [
    (activation, loss) for loss in LOSSES for activation in ACTIVATIONS
    if OUTPUT_ACTIVATION_FOR_LOSS.get(loss, activation) == activation]
# Every activation a hidden layer may use.
HIDDEN_ACTIVATIONS = [activation for activation in ACTIVATIONS
                      if activation not in OUTPUT_ONLY_ACTIVATIONS]


def default_sigint():
    """``preexec_fn`` for a child that must hear SIGINT: a shell starts
    background jobs with SIGINT ignored (a CI runner may too), the child
    inherits that, and Python then installs no KeyboardInterrupt handler.
    Back to the default, the child's Python installs its own."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_DFL)

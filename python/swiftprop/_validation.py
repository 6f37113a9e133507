"""Argument checks shared by every backend.

Each check raises ``ValueError`` or ``TypeError`` with a message that names
the argument, what was expected and what was received, before anything
reaches the engine.
"""

import math
import numbers

import numpy as np

from ._codes import DTYPES, LABEL_LOSSES

__all__ = [
    "NUMPY_DTYPES", "choose", "check_number", "check_int", "check_bool",
    "check_dtype", "as_float_matrix", "as_targets",
]

# The NumPy dtype of each of the engine's dtypes, by name.
NUMPY_DTYPES = {name: np.dtype(name) for name in DTYPES}


def choose(kind, name, table):
    """Return ``name`` if it is a key of ``table``, else raise ValueError
    listing the valid names."""
    if not isinstance(name, str):
        raise TypeError(f"{kind} must be a string, got {type(name).__name__}")
    if name not in table:
        raise ValueError(f"unknown {kind} {name!r}; expected one of: "
                         + ", ".join(table))
    return name


def check_number(name, value, *, low=None, high=None, low_open=False,
                 high_open=False):
    """Return ``value`` as a finite float within the given bounds."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got "
                        f"{type(value).__name__}")
    try:
        value = float(value)
    except OverflowError:
        raise ValueError(f"{name} must be finite, got an integer beyond the "
                         "float range") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, "
                         f"got {value}")
    if high is not None and (value >= high if high_open else value > high):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} "
                         f"{high}, got {value}")
    return value


# The largest count any setting may take: what the engine's 64-bit sizes hold.
INT64_MAX = 2**63 - 1


def check_bool(name, value):
    """Return ``value`` as a bool (Python's or NumPy's)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return bool(value)


def check_int(name, value, *, low=None, high=INT64_MAX):
    """Return ``value`` as an int within ``[low, high]``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got "
                        f"{type(value).__name__}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {_shown(value)}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {_shown(value)}")
    return value


def _shown(value):
    """An integer for a message: in full up to 40 digits, else its size
    (Python refuses to print integers of more than 4300 digits)."""
    if value.bit_length() <= 132:
        return str(value)
    return f"an integer of {value.bit_length()} bits"


def check_dtype(dtype):
    """Return the NumPy dtype for ``"float32"`` or ``"float64"``."""
    try:
        key = np.dtype(dtype).name
    except TypeError:
        key = None
    if key not in NUMPY_DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; expected one of: "
                         + ", ".join(NUMPY_DTYPES))
    return NUMPY_DTYPES[key]


# The targets a loss is defined for, as the engine's Loss.targetRange
# states them (the engine checks them too, for callers of its C ABI): the
# sigmoid's cross-entropy -[y log a + (1 - y) log(1 - a)] is bounded below
# only for y in [0, 1], the softmax's -sum(y log a) for y >= 0 (rows that
# are not one-hot are weighted mixtures of labels); the Poisson deviance
# takes counts or rates.
TARGET_RANGES = {"binary_cross_entropy": (0.0, 1.0),
                 "cross_entropy": (0.0, None), "poisson": (0.0, None)}
TARGET_REASONS = {"binary_cross_entropy": "the loss is unbounded below "
                  "otherwise", "cross_entropy": "the loss is unbounded below "
                  "otherwise", "poisson": "counts or rates"}


def _is_sparse(array):
    """A SciPy sparse matrix or array, recognised without importing SciPy."""
    module = type(array).__module__ or ""
    return module.startswith("scipy.sparse") and hasattr(array, "toarray")


def _as_numeric(name, array):
    if _is_sparse(array):
        raise TypeError(f"{name} is a SciPy sparse {type(array).__name__}: "
                        "sparse input is not supported by Network; use "
                        f"{name}.toarray() (swiftprop.sklearn's estimators "
                        "accept sparse input)")
    try:
        array = np.asarray(array)
    except ValueError as error:
        # Ragged nested lists: NumPy's message does not say which argument.
        raise ValueError(f"{name} must be a rectangular array (every row of "
                         f"the same length): {error}") from None
    kind = array.dtype.kind
    if kind in "biuf":
        return array
    if kind == "c":
        raise TypeError(f"{name} must be real-valued, got complex dtype "
                        f"{array.dtype}")
    raise TypeError(f"{name} must be a numeric array, got dtype "
                    f"{array.dtype}")


def as_float_matrix(name, array, dtype, n_features=None, allow_empty=False):
    """Return ``array`` as a C-contiguous 2-D array of ``dtype``.

    A 1-D array is taken as one sample when ``n_features`` is given and
    matches its length. Booleans and integers are converted; complex, object
    and string arrays raise ``TypeError``. NaN and infinity raise
    ``ValueError``. The input is never modified (a copy is made whenever the
    dtype or layout differs).
    """
    array = _as_numeric(name, array)
    if array.ndim == 1 and n_features is not None and array.size == n_features:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (n_samples, "
                         f"n_features), got {array.ndim}-D shape {array.shape}")
    if array.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} is empty: it has 0 samples")
    if n_features is not None and array.shape[1] != n_features:
        raise ValueError(f"{name} has {array.shape[1]} features, but the "
                         f"network expects {n_features}")
    array = np.ascontiguousarray(array, dtype=dtype)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return array


def as_targets(name, y, dtype, n_samples, n_outputs, loss):
    """Return targets as a C-contiguous ``(n_samples, n_outputs)`` array.

    With a loss that takes class labels (``cross_entropy``: the engine says
    which), a 1-D integer array (or an ``(n, 1)`` integer array when
    ``n_outputs > 1``) holds class labels in ``[0, n_outputs)`` and is
    one-hot encoded. A 1-D array is taken as one column when the network has
    one output.
    """
    y = _as_numeric(name, y)
    as_labels = y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1
                                and n_outputs > 1)
    if loss in LABEL_LOSSES and as_labels and n_outputs > 1 \
            and y.dtype.kind == "f":
        raise TypeError(f"{name} looks like class labels (shape {y.shape}) "
                        f"but has dtype {y.dtype}: {loss} class labels must "
                        f"be integers in [0, {n_outputs - 1}] (use "
                        f"{name}.astype(int)), or pass one-hot rows of shape "
                        f"(n_samples, {n_outputs})")
    if loss in LABEL_LOSSES and y.dtype.kind in "biu" and as_labels:
        # Booleans are the labels 0 and 1 (never a mask).
        labels = y.reshape(-1).astype(np.intp)
        if labels.shape[0] != n_samples:
            raise ValueError(f"{name} has {labels.shape[0]} samples, but X "
                             f"has {n_samples}")
        if labels.size and (labels.min() < 0 or labels.max() >= n_outputs):
            raise ValueError(f"{name} holds class labels outside [0, "
                             f"{n_outputs - 1}] (the network has "
                             f"{n_outputs} outputs)")
        onehot = np.zeros((n_samples, n_outputs), dtype=dtype)
        onehot[np.arange(n_samples), labels] = 1
        return onehot
    if y.ndim == 1 and n_outputs == 1:
        y = y.reshape(-1, 1)
    if y.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (n_samples, "
                         f"n_outputs), got {y.ndim}-D shape {y.shape}")
    if y.shape[0] != n_samples:
        raise ValueError(f"{name} has {y.shape[0]} samples, but X has "
                         f"{n_samples}")
    if y.shape[1] != n_outputs:
        raise ValueError(f"{name} has {y.shape[1]} columns, but the network "
                         f"has {n_outputs} outputs")
    y = np.ascontiguousarray(y, dtype=dtype)
    if not np.isfinite(y).all():
        raise ValueError(f"{name} contains NaN or infinity")
    low, high = TARGET_RANGES.get(loss, (None, None))
    if (low is not None and y.min() < low) or (
            high is not None and y.max() > high):
        allowed = f"[{low:g}, {high:g}]" if high is not None else f">= {low:g}"
        raise ValueError(f"{name} must hold targets {allowed} for {loss} "
                         f"({TARGET_REASONS[loss]}), got values in "
                         f"[{y.min():g}, {y.max():g}]")
    return y

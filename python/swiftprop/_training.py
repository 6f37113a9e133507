"""What ``fit`` shares between backends: its arguments and its reporting."""

from dataclasses import dataclass

import numpy as np

from ._codes import METRICS, MONITORS
from ._validation import check_bool, check_int, check_number
from .predictions import check_has_classes
from .schedules import resolve_schedule

# fit keeps a few float64 values per epoch (losses and gradient norms),
# allocated up front: this bound keeps that under a gigabyte.
MAX_EPOCHS = 10_000_000

__all__ = ["FitPlan", "plan_fit", "EpochReporter"]


@dataclass
class FitPlan:
    """Validated ``fit`` settings (see ``Network.fit``)."""

    epochs: int
    batch_size: int        # already clipped to n_samples
    shuffle: bool
    verbose: int
    callback: object
    tol: float             # negative: no convergence test
    patience: int


def plan_fit(n_samples, epochs, batch_size, shuffle, verbose, callback, tol,
             patience):
    """Check the ``fit`` arguments and return a ``FitPlan``."""
    epochs = check_int("epochs", epochs, low=1, high=MAX_EPOCHS)
    if batch_size is None:
        batch_size = n_samples
    batch_size = min(check_int("batch_size", batch_size, low=1), n_samples)
    shuffle = check_bool("shuffle", shuffle)
    if isinstance(verbose, (bool, np.bool_)):
        verbose = int(verbose)
    verbose = check_int("verbose", verbose, low=0)
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable as callback(epoch, loss), "
                        f"got {type(callback).__name__}")
    tol = -1.0 if tol is None else check_number("tol", tol, low=0)
    patience = check_int("patience", patience, low=1)
    return FitPlan(epochs, batch_size, shuffle, verbose, callback, tol,
                   patience)


class EpochReporter:
    """Prints every ``verbose``-th epoch and calls the user's callback.

    Called as ``reporter(epoch, loss, val_loss, lr)`` with a 0-based epoch
    after each epoch it needs to see; returns ``False`` when training must
    stop, or a float: the learning rate of the next epoch (a callable
    ``lr``).
    """

    def __init__(self, plan, has_validation, rate_function=None,
                 count_from=1, epoch_hooks=()):
        self.plan = plan
        self.has_validation = has_validation
        self.rate_function = rate_function
        self.count_from = count_from
        #: Called as hook(epoch, loss, val_loss, lr) after the printout;
        #: a hook returning a float sets the next rate, False stops.
        self.epoch_hooks = list(epoch_hooks)

    @property
    def every(self):
        """Report interval in epochs: 1 with a callback, a callable rate or
        an epoch hook, else ``verbose`` (0 means the engine never needs to
        report)."""
        if (self.plan.callback is not None or self.rate_function is not None
                or self.epoch_hooks
                or (self.count_from == 0 and self.plan.verbose > 1)):
            return 1
        return self.plan.verbose

    def __call__(self, epoch, loss, val_loss, lr=None):
        verbose = self.plan.verbose
        # Printed epochs: every verbose-th counting from count_from (1: the
        # 10th, 20th, ...; 0: as "if epoch % 10 == 0" prints 0, 10, ...).
        if verbose and ((epoch + self.count_from) % verbose == 0
                        or epoch == 0):
            shown = epoch + self.count_from
            last = self.plan.epochs - 1 + self.count_from
            line = f"epoch {shown}/{last}  loss {loss:.6f}"
            if self.has_validation:
                line += f"  val_loss {val_loss:.6f}"
            print(line, flush=True)
        go_on = True
        if self.plan.callback is not None:
            # Training stops when the callback returns False (Python's or
            # NumPy's: np.False_ is a False too); None and anything else go on.
            verdict = self.plan.callback(epoch, loss)
            if verdict is False or (isinstance(verdict, np.bool_)
                                    and not verdict):
                go_on = False
        rate = None
        for hook in self.epoch_hooks:
            answer = hook(epoch, loss, val_loss, lr)
            if answer is False:
                go_on = False
            elif isinstance(answer, float):
                rate = answer
        if not go_on:
            return False
        if self.rate_function is not None and epoch + 1 < self.plan.epochs:
            rate = check_number("lr(epoch)", self.rate_function(epoch + 1),
                                low=0, low_open=True)
        return True if rate is None else float(rate)


# ------------------------------------------------------------------ extras
#
# What fit takes beyond the loop's shape: sample and class weights, a
# learning-rate schedule, metrics, what to monitor, the recorded loss's
# scale. Checked here once for the engine and for the NumPy twin.


@dataclass
class FitExtras:
    """Validated extras of one ``fit`` call."""

    schedule: object            # a schedules.Schedule
    rate_function: object       # callable epoch -> lr, or None
    weights: object             # ndarray (n,) of the network's dtype, or None
    validation: object          # (X_val, Y_val, weights or None), or None
    metrics: tuple              # names from _codes.METRICS
    monitor: object             # a name from _codes.MONITORS, or None
    restore_best: bool
    loss_scale: float
    penalty_scale: float
    l2_per_sample: bool
    count_from: int


def check_sample_weight(name, weight, n_samples, dtype):
    """``weight`` as a C-contiguous 1-D array of ``n_samples`` finite values
    >= 0 with a positive sum, of ``dtype``; None stays None."""
    if weight is None:
        return None
    if hasattr(weight, "tocsr") or hasattr(weight, "toarray"):
        raise TypeError(f"{name} must be a dense 1-D array, not a sparse matrix")
    try:
        array = np.asarray(weight)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{name} must be a 1-D array of numbers: {error}") \
            from None
    if array.ndim == 0:
        array = np.full(n_samples, array)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got dtype {array.dtype}")
    if array.ndim != 1 or array.shape[0] != n_samples:
        raise ValueError(f"{name} must have shape ({n_samples},), got "
                         f"{array.shape}")
    array = np.ascontiguousarray(array, dtype=np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinity")
    if (array < 0).any():
        raise ValueError(f"{name} must be >= 0")
    if not array.sum() > 0:
        raise ValueError(f"{name} must not be all zero")
    return np.ascontiguousarray(array, dtype=dtype)


def class_labels_of(Y):
    """The class of each row of converted targets: the index of the largest
    target with several outputs, else target >= 0.5 (0 or 1)."""
    if Y.shape[1] > 1:
        return np.argmax(Y, axis=1)
    return (Y[:, 0] >= 0.5).astype(np.intp)


def class_weights_for(class_weight, Y):
    """Per-row weights from ``class_weight``: a dict ``{class: weight}``
    (classes not named weigh 1) or ``"balanced"``, n / (k · count of the
    class) for the k classes present (scikit-learn's formula)."""
    labels = class_labels_of(Y)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError("class_weight must be a dict or 'balanced', got "
                             f"{class_weight!r}")
        present, counts = np.unique(labels, return_counts=True)
        table = dict(zip(present.tolist(),
                         (len(labels) / (len(present) * counts)).tolist()))
    elif isinstance(class_weight, dict):
        table = {}
        for key, value in class_weight.items():
            if isinstance(key, (bool, np.bool_)) or not isinstance(
                    key, (int, np.integer)):
                raise TypeError("class_weight keys must be integer classes, "
                                f"got {key!r}")
            table[int(key)] = check_number(f"class_weight[{key}]", value,
                                           low=0)
    else:
        raise TypeError("class_weight must be a dict or 'balanced', got "
                        f"{type(class_weight).__name__}")
    return np.array([table.get(label, 1.0) for label in labels.tolist()],
                    dtype=np.float64)


def fit_weights(net, Y, sample_weight, class_weight):
    """The per-row weights of ``fit``'s ``sample_weight`` and
    ``class_weight`` (multiplied), in the network's dtype, or None."""
    weights = check_sample_weight("sample_weight", sample_weight, Y.shape[0],
                                  np.float64)
    if class_weight is not None:
        per_class = class_weights_for(class_weight, Y)
        weights = per_class if weights is None else weights * per_class
        if not weights.sum() > 0:
            raise ValueError("class_weight and sample_weight leave every row "
                             "with weight 0")
    return None if weights is None else np.ascontiguousarray(
        weights, dtype=net.dtype)


def prepare_extras(net, X, Y, *, lr, optimizer_lr, sample_weight, class_weight,
                   validation_data, metrics, monitor, restore_best_weights,
                   include_l2, count_from, loss_scale=1.0, penalty_scale=0.0,
                   l2_per_sample=False, as_float_matrix, as_targets):
    """Check fit's extras for ``net`` (engine or reference) on converted
    samples ``X``, ``Y``; ``optimizer_lr`` is the optimizer's rate when
    ``lr`` is None."""
    schedule, rate_function = resolve_schedule(lr, optimizer_lr)
    weights = fit_weights(net, Y, sample_weight, class_weight)
    validation = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(
                validation_data) not in (2, 3):
            raise TypeError("validation_data must be a tuple (X_val, y_val) "
                            "or (X_val, y_val, sample_weight_val)")
        VX = as_float_matrix("validation X", validation_data[0], net.dtype,
                             net.n_inputs)
        VY = as_targets("validation y", validation_data[1], net.dtype,
                        VX.shape[0], net.n_outputs, net.loss_name)
        VW = None
        if len(validation_data) == 3:
            VW = check_sample_weight("validation sample_weight",
                                     validation_data[2], VX.shape[0],
                                     net.dtype)
        validation = (VX, VY, VW)
    if metrics is None:
        metrics = ()
    elif isinstance(metrics, str):
        metrics = (metrics,)
    metrics = tuple(metrics)
    for name in metrics:
        if name not in METRICS:
            raise ValueError(f"unknown metric {name!r}; expected one of: "
                             + ", ".join(METRICS))
    if monitor is not None:
        if monitor not in MONITORS:
            raise ValueError(f"unknown monitor {monitor!r}; expected one of: "
                             + ", ".join(MONITORS))
        if monitor.startswith("val_") and validation is None:
            raise ValueError(f"monitor={monitor!r} needs validation_data")
        metric = monitor.removeprefix("val_")
        if metric in METRICS and metric not in metrics:
            metrics = metrics + (metric,)
    if "accuracy" in metrics:
        check_has_classes(net)
    restore_best = check_bool("restore_best_weights", restore_best_weights)
    include_l2 = check_bool("include_l2", include_l2)
    count_from = check_int("count_from", count_from, low=0, high=1)
    loss_scale = check_number("loss_scale", loss_scale, low=0, low_open=True)
    penalty_scale = check_number("penalty_scale", penalty_scale, low=0)
    if include_l2:
        penalty_scale = penalty_scale or loss_scale
    return FitExtras(schedule, rate_function, weights, validation, metrics,
                     monitor, restore_best, loss_scale, penalty_scale,
                     bool(l2_per_sample), count_from)


def numpy_shuffle_state(random_state):
    """The engine's copy of a ``numpy.random.RandomState``'s MT19937 state
    (624 key words, then the position) for scikit-learn's batch order, or
    None for None."""
    if random_state is None:
        return None
    if not isinstance(random_state, np.random.RandomState):
        raise TypeError("_random_state must be a numpy.random.RandomState, "
                        f"got {type(random_state).__name__}")
    name, key, position = random_state.get_state()[:3]
    if name != "MT19937":
        raise ValueError(f"_random_state uses {name!r}; expected MT19937")
    state = np.empty(625, dtype=np.uint32)
    state[:624] = key
    state[624] = position
    return state


def advance_random_state(random_state, state):
    """Give ``random_state`` the MT19937 state the engine left in ``state``
    (its cached Gaussian, which shuffling never touches, is kept)."""
    if random_state is None:
        return
    name, _, _, has_gauss, gauss = random_state.get_state()
    random_state.set_state((name, state[:624].copy(), int(state[624]),
                            has_gauss, gauss))


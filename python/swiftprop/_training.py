"""What ``fit`` shares between backends: its arguments and its reporting."""

from dataclasses import dataclass

import numpy as np

from ._validation import check_bool, check_int, check_number

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

    Called as ``reporter(epoch, loss, val_loss)`` with a 0-based epoch after
    each epoch it needs to see; returns ``False`` when training must stop.
    """

    def __init__(self, plan, has_validation):
        self.plan = plan
        self.has_validation = has_validation

    @property
    def every(self):
        """Report interval in epochs: 1 with a callback, else ``verbose``
        (0 means the engine never needs to report)."""
        return 1 if self.plan.callback is not None else self.plan.verbose

    def __call__(self, epoch, loss, val_loss):
        verbose = self.plan.verbose
        if verbose and ((epoch + 1) % verbose == 0 or epoch == 0):
            line = f"epoch {epoch + 1}/{self.plan.epochs}  loss {loss:.6f}"
            if self.has_validation:
                line += f"  val_loss {val_loss:.6f}"
            print(line, flush=True)
        if self.plan.callback is not None:
            return not wants_stop(self.plan.callback(epoch, loss))
        return True


def wants_stop(verdict):
    """Whether a callback's return value asks training to stop: ``False``
    itself or NumPy's ``np.False_`` (a boolean that is false). ``None`` (no
    return value), ``True`` and anything that is not a boolean, even if
    falsy like ``0`` or ``[]``, let training go on, as in Keras, where
    stopping is an explicit request."""
    return isinstance(verdict, (bool, np.bool_)) and not verdict

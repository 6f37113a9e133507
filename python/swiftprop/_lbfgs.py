"""What ``fit(optimizer="lbfgs")`` shares between backends: its arguments
and its ``History``."""

import warnings
from dataclasses import replace

from ._training import EpochReporter, plan_fit
from ._validation import check_int
from .history import History

__all__ = ["plan_lbfgs", "lbfgs_history"]


def plan_lbfgs(n_samples, settings, epochs, batch_size, verbose, callback,
               validation_data, tol):
    """Check ``fit``'s arguments for an L-BFGS run.

    Returns
    -------
    settings : LBFGS
        With ``gtol = tol`` when ``tol`` is given.
    plan : FitPlan
        ``plan.epochs`` is the iteration limit (SciPy's ``maxiter``).
    reporter : EpochReporter
    """
    if validation_data is not None:
        raise ValueError("optimizer='lbfgs' minimises the loss on the whole "
                         "training set and takes no validation_data")
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, low=1)
        if batch_size < n_samples:
            raise ValueError("optimizer='lbfgs' is full-batch: batch_size "
                             f"must be None or >= n_samples ({n_samples}), "
                             f"got {batch_size}")
    if tol is not None:
        settings = replace(settings, gtol=tol)  # checked by LBFGS
    plan = plan_fit(n_samples, epochs, None, False, verbose, callback, None,
                    1)
    return settings, plan, EpochReporter(plan, False)


def lbfgs_history(losses, iterations, evaluations, reason, stacklevel):
    """The ``History`` of an L-BFGS run (warning as ``fit`` does when the
    objective is not finite at the start)."""
    history = History(losses[:iterations], (), reason)
    history.evaluations = evaluations
    if reason == "diverged":
        history.diverged_at = 0
        warnings.warn("L-BFGS cannot start: the loss or its gradient is NaN "
                      "or infinite at the initial weights; they are kept",
                      RuntimeWarning, stacklevel=stacklevel + 1)
    return history

"""What ``fit(optimizer="lbfgs")`` shares between backends: its arguments
and its ``History``."""

import warnings
from dataclasses import replace

import numpy as np

from ._training import EpochReporter, plan_fit
from ._validation import check_int
from .history import History

__all__ = ["plan_lbfgs", "lbfgs_history"]


def plan_lbfgs(n_samples, settings, epochs, lr, batch_size, verbose,
               callback, validation_data, tol, **unsupported):
    """Check ``fit``'s arguments for an L-BFGS run; ``unsupported`` are the
    epoch-loop features it has no use for, refused unless at their
    defaults (None or False).

    Returns
    -------
    settings : LBFGS
        With ``gtol = tol`` when ``tol`` is given.
    plan : FitPlan
        ``plan.epochs`` is the iteration limit (SciPy's ``maxiter``).
    reporter : EpochReporter
    """
    if lr is not None:
        raise TypeError("LBFGS got unexpected option(s) lr: L-BFGS chooses "
                        "its steps by line search")
    if validation_data is not None:
        raise ValueError("optimizer='lbfgs' minimises the loss on the whole "
                         "training set and takes no validation_data")
    for name, value in unsupported.items():
        if value is not None and value is not False:
            raise ValueError(f"optimizer='lbfgs' takes no {name} (it has "
                             "no epochs to monitor or call back between)")
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


def lbfgs_history(losses, iterations, evaluations, value, reason,
                  stacklevel):
    """The ``History`` of an L-BFGS run (warning as ``fit`` does when the
    objective is not finite at the start); ``value`` is F at the final
    weights."""
    history = History(losses[:iterations], (), reason)
    history.evaluations = evaluations
    history.objective = value
    if reason == "diverged":
        history.diverged_at = 0
        warnings.warn("L-BFGS cannot start: the loss or its gradient is NaN "
                      "or infinite at the initial weights; they are kept",
                      RuntimeWarning, stacklevel=stacklevel + 1)
    return history

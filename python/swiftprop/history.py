"""The record of one ``fit`` call."""

import numpy as np

from .display import plot_history

__all__ = ["History"]


class _Series:
    """A per-epoch record of ``History`` (``loss``, ``lr``, a metric, ...),
    read-only. It stays the array ``fit`` filled until first read, then is
    kept as a list of floats: a long fit does not pay for a million Python
    floats it may never use."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, history, owner=None):
        return self if history is None else history._list(self.name)

    def __set__(self, history, value):
        raise AttributeError(f"History.{self.name} is read-only")


class History:
    """Per-epoch losses of a ``fit`` call, as Keras' ``History``.

    Attributes
    ----------
    loss : list of float
        Mean training loss of each epoch: the loss of every mini-batch
        before its update step, weighted by the batch's size.
    val_loss : list of float
        Loss on ``validation_data`` after each epoch (empty without it).
    epochs : int
        Number of epochs completed.
    stop_reason : str
        ``"completed"``, ``"converged"`` (``tol``/``patience``),
        ``"callback"`` (the callback returned ``False``), ``"requested"``
        (``Network.request_stop`` from another thread) or ``"diverged"``
        (the loss or a gradient became NaN or infinite). With
        ``optimizer="lbfgs"`` also ``"converged_gtol"`` (max |gradient| <=
        gtol), ``"converged_ftol"`` (relative reduction <= ftol),
        ``"max_iter"`` (``epochs`` iterations), ``"max_fun"`` (more than
        ``max_fun`` evaluations) or ``"line_search_failed"``.
    diverged_at : int or None
        The epoch (0-based) whose step was refused as non-finite.
    grad_norms : ndarray of shape (epochs, n_layers)
        Per epoch, the mean over its steps of each layer's weight-gradient
        norm ``||dW||``: a layer whose norm collapses towards 0 has stopped
        learning (vanishing gradients); one that explodes, the opposite.
        Empty (no columns) for L-BFGS.
    iterations : int
        ``epochs`` under the name L-BFGS uses: with ``optimizer="lbfgs"``,
        ``loss[k]`` is the objective (scaled loss plus l2 term) after
        iteration ``k + 1``.
    evaluations : int or None
        L-BFGS only: objective evaluations (forward and backward passes)
        made, the initial one included.
    objective : float or None
        L-BFGS only: the objective at the final weights (``loss[-1]``, or
        its value at the start when no iteration ran), SciPy's ``fun``.
    lr : list of float
        The learning rate each epoch used (see ``swiftprop.schedules``).
    accuracy, val_accuracy, r2, val_r2 : list of float
        The metrics asked for with ``fit(metrics=[...])``, per epoch
        (empty otherwise): on the training batches as they were trained on
        (before each step, as Keras reports them) and on the validation
        data after the epoch.
    best_epoch : int or None
        With ``restore_best_weights``, the epoch (0-based) whose weights
        the network was given back at the end.
    l2_term : list of float
        With ``fit(include_l2=True)``, the l2 term ``(l2/2)·sum ||W||^2`` of
        each epoch (batch-weighted, as the loss), included in ``loss``:
        ``loss - l2_term`` is the data loss. Empty otherwise.
    """

    loss = _Series()
    val_loss = _Series()
    lr = _Series()
    l2_term = _Series()
    accuracy = _Series()
    val_accuracy = _Series()
    r2 = _Series()
    val_r2 = _Series()

    def __init__(self, loss=(), val_loss=(), stop_reason="completed",
                 grad_norms=None, lr=(), metrics=None, best_epoch=None,
                 l2_term=()):
        # Arrays (or, for lr, one number: the rate of every epoch) until
        # first read; see _Series.
        self._series = {"loss": np.asarray(loss, dtype=float),
                        "val_loss": np.asarray(val_loss, dtype=float),
                        "lr": np.asarray(lr, dtype=float),
                        "l2_term": np.asarray(l2_term, dtype=float)}
        self.stop_reason = stop_reason
        self.diverged_at = None
        self.evaluations = None
        self.objective = None
        self.grad_norms = (np.zeros((self.epochs, 0)) if grad_norms is None
                           else np.asarray(grad_norms, dtype=float))
        self._metric_names = []
        for name, values in (metrics or {}).items():
            self._series[name] = np.asarray(values, dtype=float)
            self._metric_names.append(name)
        self.best_epoch = best_epoch

    def _list(self, name):
        """The series ``name`` as a list of floats (empty if not recorded),
        converted once."""
        values = self._series.get(name)
        if values is None:
            return []
        if not isinstance(values, list):
            values = self._series[name] = (
                [float(values)] * self.epochs if values.ndim == 0
                else values.tolist())
        return values

    @property
    def epochs(self):
        return len(self._series["loss"])

    @property
    def iterations(self):
        return self.epochs

    @property
    def history(self):
        """Keras-style dictionary ``{"loss": [...], "val_loss": [...]}``."""
        result = {"loss": self.loss}
        if self.val_loss:
            result["val_loss"] = self.val_loss
        result.update({name: self._list(name) for name in self._metric_names})
        if self.lr:
            result["lr"] = self.lr
        return result

    def plot(self, ax=None, log=False, **kwargs):
        """Plot ``loss`` (and ``val_loss``) per epoch; needs matplotlib.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw; by default a new figure's axes.
        log : bool, default=False
            Use a logarithmic loss axis.
        **kwargs
            Passed to ``Axes.plot``.

        Returns
        -------
        matplotlib.axes.Axes
        """
        return plot_history(self, ax=ax, log=log, **kwargs)

    def __len__(self):
        return self.epochs

    def __repr__(self):
        last = f", final loss {self.loss[-1]:.6g}" if self.loss else ""
        return f"History({self.epochs} epochs{last}, {self.stop_reason})"

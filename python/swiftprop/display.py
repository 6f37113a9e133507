"""Display helpers: the progress bar of ``fit``, ``Network._repr_html_`` and
``History.plot``.

Nothing here imports tqdm or matplotlib until it is used, and both are
optional: without tqdm the bar is a line of text on stderr; without
matplotlib ``History.plot`` raises ``ImportError`` saying what to install.
"""

import html
import math
import sys
import time
import warnings
from contextlib import nullcontext

import numpy as np

from ._validation import check_bool

__all__ = ["progress_bar", "ProgressReporter", "TextBar", "network_html",
           "plot_history"]

# Updates of the progress bar per fit, at most (plus those verbose asks for).
_BAR_UPDATES = 100


# Progress bar


def progress_bar(reporter, history, progress):
    """The context ``fit`` runs in: a bar around ``reporter``, or nothing.

    Parameters
    ----------
    reporter : EpochReporter
        What the engine calls after an epoch (``every`` and ``__call__``).
    history : ndarray of shape (epochs,)
        The loss record the engine fills, NaN for epochs not yet done: its
        length is the epochs planned, and at the end it tells how many ran.
    progress : bool or None
        ``True`` shows a bar; ``None`` or ``False`` leaves ``reporter``
        alone.

    Returns
    -------
    context manager
        Entering it gives the reporter to hand to the engine.
    """
    if progress is None or not check_bool("progress", progress):
        return nullcontext(reporter)
    return ProgressReporter(reporter, history)


class ProgressReporter:
    """Moves a progress bar, then passes the epochs it wants to ``reporter``.

    The engine reports the first epoch, every ``every``-th and the last.
    ``every`` is ``max(1, epochs // 100)`` (about a hundred updates, so the
    bar costs little), or its greatest common divisor with the wrapped
    reporter's interval, so that ``verbose`` and ``callback`` see exactly
    the epochs they would see without the bar.

    On leaving, the bar moves to the last epoch recorded in ``history``
    (training may stop between two updates) and closes, also when ``fit``
    raises.

    Parameters
    ----------
    reporter : EpochReporter
    history : ndarray of shape (epochs,)
        The loss record the engine fills (NaN for epochs not done).
    """

    def __init__(self, reporter, history):
        self.reporter = reporter
        self.history = history
        epochs = self.epochs = len(history)
        step = max(1, epochs // _BAR_UPDATES)
        inner = reporter.every
        self.every = math.gcd(inner, step) if inner else step
        self._bar = None
        self._shown = 0

    def __enter__(self):
        self._bar = new_bar(self.epochs)
        return self

    def __exit__(self, *exc_info):
        try:
            done = int(np.count_nonzero(~np.isnan(self.history)))
            if done > self._shown:
                self._show(done - 1, self.history[done - 1], math.nan)
        finally:
            self._bar.close()
        return False

    def _show(self, epoch, loss, val_loss):
        self._bar.set_postfix_str(
            f"loss {loss:.4g}" if math.isnan(val_loss)
            else f"loss {loss:.4g}, val_loss {val_loss:.4g}", refresh=False)
        self._bar.update(epoch + 1 - self._shown)
        self._shown = epoch + 1

    def __call__(self, epoch, loss, val_loss, lr=None):
        self._show(epoch, loss, val_loss)
        inner = self.reporter.every
        if inner and (epoch == 0 or (epoch + 1) % inner == 0
                      or epoch == self.epochs - 1):
            return self.reporter(epoch, loss, val_loss, lr)
        return True


def new_bar(total):
    """A ``tqdm.auto`` bar of ``total`` epochs, or a ``TextBar`` without
    tqdm."""
    try:
        with warnings.catch_warnings():
            # In Jupyter without ipywidgets, tqdm.auto falls back to its
            # text bar, which serves as well: no need to warn about it.
            warnings.filterwarnings("ignore", message="IProgress not found")
            from tqdm.auto import tqdm
    except ImportError:
        return TextBar(total)
    return tqdm(total=total, unit="epoch", leave=True)


class TextBar:
    """A one-line progress bar on a text stream, redrawn with ``\\r``.

    Implements the part of tqdm's interface that ``ProgressReporter`` uses:
    ``update``, ``set_postfix_str`` and ``close``.

    Parameters
    ----------
    total : int
        Epochs planned.
    file : file-like, optional
        Where to draw (``sys.stderr`` by default).
    width : int, default=30
        Characters of the bar itself.
    min_interval : float, default=0.1
        Least seconds between two redraws (the last state is always drawn
        on ``close``).
    """

    def __init__(self, total, file=None, width=30, min_interval=0.1):
        self.total = total
        self.file = sys.stderr if file is None else file
        self.width = width
        self.min_interval = min_interval
        self.n = 0
        self.postfix = ""
        self._start = time.monotonic()
        self._drawn_at = -math.inf
        self._closed = False

    def update(self, n=1):
        self.n += n
        now = time.monotonic()
        if now - self._drawn_at >= self.min_interval:
            self._draw(now)

    def set_postfix_str(self, text, refresh=True):
        self.postfix = text
        if refresh:
            self._draw(time.monotonic())

    def line(self, now=None):
        """The bar as text, e.g. ``57/100 [#################.............]
        57% 0.4s loss 0.12``."""
        now = time.monotonic() if now is None else now
        fraction = min(1.0, self.n / self.total) if self.total else 1.0
        filled = int(round(fraction * self.width))
        text = (f"{self.n}/{self.total} [{'#' * filled}"
                f"{'.' * (self.width - filled)}] {fraction:4.0%} "
                f"{now - self._start:.1f}s")
        return f"{text} {self.postfix}" if self.postfix else text

    def _draw(self, now):
        self._drawn_at = now
        self.file.write("\r" + self.line(now))
        self.file.flush()

    def close(self):
        if not self._closed:
            self._closed = True
            self._draw(time.monotonic())
            self.file.write("\n")
            self.file.flush()


# Network as HTML


def network_html(network):
    """An HTML table of a network's layers, for Jupyter.

    One row per layer: its input and output widths, activation, the shapes
    of ``W`` and ``b`` and its parameter count; the caption gives the loss,
    dtype and total parameter count.

    Parameters
    ----------
    network : Network or reference.Network
        Anything with ``layers`` (``n_in``, ``n_out``, ``activation``),
        ``loss_name``, ``dtype`` and ``n_parameters``.

    Returns
    -------
    str
    """
    # A dropout column only for a network that drops somewhere.
    drops = any(getattr(layer, "dropout", 0) for layer in network.layers)

    def rate(layer):
        return (f"<td>{layer.dropout:g}</td>" if layer.dropout
                else "<td></td>") if drops else ""

    rows = "".join(
        f"<tr><td>{index}</td><td>Dense</td>"
        f"<td>{layer.n_in} &rarr; {layer.n_out}</td>"
        f"<td>{html.escape(layer.activation)}</td>{rate(layer)}"
        f"<td>({layer.n_in}, {layer.n_out})</td><td>({layer.n_out},)</td>"
        f"<td style='text-align:right'>{layer.n_parameters:,}</td></tr>"
        for index, layer in enumerate(network.layers))
    sizes = "-".join(str(size) for size in network.sizes)
    caption = (f"Network {sizes}: loss {html.escape(network.loss_name)}, "
               f"dtype {html.escape(np.dtype(network.dtype).name)}, "
               f"{network.n_parameters:,} parameters")
    return ("<table><caption>" + caption + "</caption>"
            "<thead><tr><th>layer</th><th>type</th><th>inputs &rarr; "
            "outputs</th><th>activation</th>"
            + ("<th>dropout</th>" if drops else "") +
            "<th>W</th><th>b</th>"
            "<th>parameters</th></tr></thead><tbody>" + rows +
            f"</tbody><tfoot><tr><td colspan='{7 if drops else 6}'>total</td>"
            f"<td style='text-align:right'>{network.n_parameters:,}</td>"
            "</tr></tfoot></table>")


# Loss curves


def plot_history(history, ax=None, log=False, **kwargs):
    """Plot the loss (and ``val_loss``) of each epoch with matplotlib.

    Parameters
    ----------
    history : History
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default a new figure's axes.
    log : bool, default=False
        Use a logarithmic loss axis.
    **kwargs
        Passed to ``Axes.plot`` for both curves.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("History.plot needs matplotlib: pip install "
                          "matplotlib") from error
    if ax is None:
        _, ax = plt.subplots()
    epochs = np.arange(1, history.epochs + 1)
    ax.plot(epochs, history.loss, label="loss", **kwargs)
    if history.val_loss:
        ax.plot(epochs, history.val_loss, label="val_loss", **kwargs)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if check_bool("log", log):
        ax.set_yscale("log")
    ax.set_title(f"{history.epochs} epochs, {history.stop_reason}")
    ax.legend()
    return ax

"""Pictures of a network and its training, drawn with matplotlib.

- ``decision_boundary(net, X, y)``: what a network with two inputs predicts
  over the plane (class, probability or output), with the samples on top;
- ``loss(history)``: the loss per epoch;
- ``gradient_norms(history)``: each layer's mean ``||dW||`` per epoch, on a
  log scale, to see gradients vanish or explode;
- ``network(net)``: neurons as circles, weights as lines (colour by sign,
  width by magnitude).

matplotlib is optional: it is imported inside these functions, never by
``import swiftprop``; without it they raise ``ImportError`` saying what to
install.
"""

import numpy as np

from ._validation import check_bool, check_int, choose
from .display import plot_history
from .predictions import check_has_classes, classes_from_outputs, is_classifier

__all__ = ["decision_boundary", "DecisionBoundary", "loss", "loss_and_l2",
           "metrics", "gradient_norms", "network"]

# Colours of positive and negative weights (and biases).
POSITIVE_COLOUR = "tab:blue"
NEGATIVE_COLOUR = "tab:red"


def _pyplot(what):
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(f"swiftprop.plot.{what} needs matplotlib: pip "
                          "install matplotlib") from error
    return plt


def _axes(ax, what):
    if ax is None:
        _, ax = _pyplot(what).subplots()
    elif not hasattr(ax, "plot"):
        raise TypeError(f"ax must be a matplotlib Axes, got "
                        f"{type(ax).__name__}")
    return ax


# Decision boundary


class DecisionBoundary:
    """What ``decision_boundary`` drew, as scikit-learn's
    ``DecisionBoundaryDisplay`` keeps it.

    Attributes
    ----------
    ax : matplotlib.axes.Axes
    figure_ : matplotlib.figure.Figure
    xx, yy : ndarray of shape (resolution, resolution)
        The grid's coordinates (``np.meshgrid``).
    Z : ndarray of shape (resolution, resolution)
        What the network gives at each grid point: the class (int), the
        probability or the output, per ``response``.
    response : str
        ``"class"``, ``"probability"`` or ``"output"``.
    surface_ : matplotlib.contour.QuadContourSet
    """

    def __init__(self, ax, xx, yy, Z, response, surface):
        self.ax = ax
        self.figure_ = ax.figure
        self.xx, self.yy, self.Z = xx, yy, Z
        self.response = response
        self.surface_ = surface

    @property
    def grid(self):
        """The grid points, ndarray of shape (resolution**2, 2), in the order
        of ``Z.ravel()``."""
        return np.column_stack([self.xx.ravel(), self.yy.ravel()])

    def __repr__(self):
        return (f"DecisionBoundary({self.response}, grid "
                f"{self.xx.shape[0]}x{self.xx.shape[1]})")


def _points(X, name):
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a numeric array, got dtype "
                        f"{X.dtype}")
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision_boundary draws two inputs: {name} must "
                         "have shape (n_samples, 2), got shape "
                         f"{X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return X.astype(float)


def _labels(y, n_samples):
    """Colours for the samples: class labels or values, shape (n,)."""
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise TypeError(f"y must be a numeric array, got dtype {y.dtype}")
    if y.ndim == 2 and y.shape[1] > 1:
        y = np.argmax(y, axis=1)  # one-hot rows
    elif y.ndim == 2:
        y = y[:, 0]
    if y.ndim != 1 or y.shape[0] != n_samples:
        raise ValueError(f"y must have {n_samples} rows (one per sample of "
                         f"X), got shape {np.shape(y)}")
    return y


def decision_boundary(net, X, y=None, ax=None, response="auto",
                      resolution=200, margin=0.5, cmap=None, alpha=0.5,
                      scatter=True):
    """Draw what a network with two inputs predicts over the plane.

    Parameters
    ----------
    net : Network or reference.Network
        With ``n_inputs == 2``.
    X : array-like of shape (n_samples, 2)
        The samples; the grid spans them plus ``margin`` on every side.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs), optional
        Labels or targets, to colour the samples (one-hot rows as their
        argmax). Without it the samples are drawn in one colour.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default a new figure's axes.
    response : {"auto", "class", "probability", "output"}, default="auto"
        ``"class"``: ``predict_classes`` on the grid; ``"probability"``: the
        sigmoid output, the probability of class 1 of two softmax
        outputs, or the largest of more (the confidence); ``"output"``:
        ``predict`` of a network with one output. ``"auto"`` is
        ``"class"`` for classifiers (softmax output, one sigmoid output,
        or a cross-entropy loss) and ``"output"`` otherwise.
    resolution : int, default=200
        Grid points per axis (at least 2).
    margin : float, default=0.5
    cmap : str or Colormap, optional
    alpha : float, default=0.5
        Opacity of the filled surface.
    scatter : bool, default=True
        Draw the samples on top.

    Returns
    -------
    DecisionBoundary
        With ``ax``, ``figure_``, the grid ``xx``, ``yy`` and ``Z``.

    Raises
    ------
    ValueError
        If ``X`` is not of shape (n_samples, 2), the network does not take
        two inputs, ``y`` has the wrong length, or ``response`` does not
        suit the network.
    """
    if net.n_inputs != 2:
        raise ValueError(f"decision_boundary draws networks with 2 inputs, "
                         f"but net has {net.n_inputs}")
    X = _points(X, "X")
    labels = None if y is None else _labels(y, X.shape[0])
    choose("response", response, ("auto", "class", "probability", "output"))
    resolution = check_int("resolution", resolution, low=2, high=4000)
    scatter = check_bool("scatter", scatter)
    if response == "auto":
        response = "class" if is_classifier(net) else "output"
    if response == "class":
        check_has_classes(net)
    elif response == "probability" and net.layers[-1].activation not in (
            "sigmoid", "softmax"):
        raise ValueError("response='probability' needs a sigmoid or softmax "
                         f"output, but net's is "
                         f"{net.layers[-1].activation!r}")
    elif response == "output" and net.n_outputs != 1:
        raise ValueError("response='output' needs a network with one output, "
                         f"but net has {net.n_outputs}; use 'class' or "
                         "'probability'")

    low, high = X.min(axis=0) - margin, X.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(low[0], high[0], resolution),
                         np.linspace(low[1], high[1], resolution))
    outputs = net.predict(np.column_stack([xx.ravel(), yy.ravel()]))
    if response == "class":
        Z = classes_from_outputs(net, outputs)
    elif response == "probability" and outputs.shape[1] == 2:
        Z = outputs[:, 1]
    elif response == "probability" and outputs.shape[1] > 2:
        Z = outputs.max(axis=1)
    else:
        Z = outputs[:, 0]
    Z = Z.reshape(xx.shape)

    ax = _axes(ax, "decision_boundary")
    if response == "class":
        n_classes = max(net.n_outputs, 2)
        levels = np.arange(n_classes + 1) - 0.5
        surface = ax.contourf(xx, yy, Z, levels=levels, alpha=alpha,
                              cmap=cmap or "coolwarm")
    else:
        surface = ax.contourf(xx, yy, Z, levels=20, alpha=alpha,
                              cmap=cmap or "coolwarm")
        if (response == "probability" and net.n_outputs <= 2
                and Z.min() < 0.5 < Z.max()):
            ax.contour(xx, yy, Z, levels=[0.5], colors="k", linewidths=1)
        ax.figure.colorbar(surface, ax=ax, label=response)
    if scatter:
        if labels is None:
            ax.scatter(X[:, 0], X[:, 1], c="k", s=20)
        else:
            ax.scatter(X[:, 0], X[:, 1], c=labels, cmap=cmap or "coolwarm",
                       edgecolors="k", s=30)
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(f"{response} over the inputs")
    return DecisionBoundary(ax, xx, yy, Z, response, surface)


# Curves of a fit


def loss(history, ax=None, log=False, **kwargs):
    """Plot ``history.loss`` (and ``val_loss``) per epoch.

    Parameters
    ----------
    history : History
    ax : matplotlib.axes.Axes, optional
    log : bool, default=False
        Use a logarithmic loss axis.
    **kwargs
        Passed to ``Axes.plot``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check_history(history, "loss")
    _pyplot("loss")
    return plot_history(history, ax=_axes(ax, "loss"), log=log, **kwargs)


def loss_and_l2(history, ax=None, log=False):
    """Plot the loss with and without its l2 term per epoch (a fit with
    ``include_l2=True``): ``loss`` (data loss plus l2 term), the data loss
    ``loss - l2_term``, and the l2 term itself.

    Returns
    -------
    matplotlib.axes.Axes
        With three lines (``ax.lines``): with l2, data loss, l2 term.
    """
    _check_history(history, "loss_and_l2")
    if not getattr(history, "l2_term", None):
        raise ValueError("history has no l2 term: fit with include_l2=True")
    ax = _axes(ax, "loss_and_l2")
    epochs = np.arange(1, history.epochs + 1)
    total = np.asarray(history.loss)
    term = np.asarray(history.l2_term)
    ax.plot(epochs, total, label="loss with l2 term")
    ax.plot(epochs, total - term, label="data loss")
    ax.plot(epochs, term, label="l2 term", linestyle="--")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("loss with and without the l2 term")
    ax.legend()
    return ax


def metrics(history, names=None, ax=None):
    """Plot the metrics a fit recorded (``fit(metrics=["accuracy"])``):
    ``accuracy``, ``val_accuracy``, ``r2``, ``val_r2`` per epoch.

    Parameters
    ----------
    history : History
    names : list of str, optional
        Which to draw; by default every one recorded.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        With one line per metric (``ax.lines``), in ``names`` order.
    """
    _check_history(history, "metrics")
    recorded = [name for name in ("accuracy", "val_accuracy", "r2", "val_r2")
                if getattr(history, name)]
    if names is None:
        names = recorded
    missing = [name for name in names if name not in recorded]
    if missing or not names:
        raise ValueError(f"history has no {', '.join(missing) or 'metrics'}: "
                         "fit with metrics=['accuracy'] (or 'r2'), and "
                         "validation_data for the val_ ones")
    ax = _axes(ax, "metrics")
    epochs = np.arange(1, history.epochs + 1)
    for name in names:
        ax.plot(epochs, getattr(history, name), label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("metric")
    ax.set_title("metrics per epoch")
    ax.legend()
    return ax


def _check_history(history, what):
    if not hasattr(history, "grad_norms") or not hasattr(history, "loss"):
        raise TypeError(f"swiftprop.plot.{what} needs the History that fit "
                        f"returned, got {type(history).__name__}")
    if history.epochs == 0:
        raise ValueError("history is empty: it records 0 epochs")


def gradient_norms(history, ax=None, labels=None):
    """Plot each layer's gradient norm per epoch, on a log scale.

    Parameters
    ----------
    history : History
        Its ``grad_norms``, of shape (epochs, n_layers): per epoch the mean
        over its steps of each layer's ``||dW||``.
    ax : matplotlib.axes.Axes, optional
    labels : list of str, optional
        One per layer; by default ``layer 1``, ``layer 2``, ...

    Returns
    -------
    matplotlib.axes.Axes
        With one line per layer (``ax.lines``), in layer order.
    """
    _check_history(history, "gradient_norms")
    norms = np.asarray(history.grad_norms, dtype=float)
    if norms.ndim != 2 or norms.shape[1] == 0:
        raise ValueError("history has no gradient norms (grad_norms has "
                         f"shape {norms.shape})")
    n_layers = norms.shape[1]
    if labels is None:
        labels = [f"layer {l + 1}" for l in range(n_layers)]
    elif len(labels) != n_layers:
        raise ValueError(f"labels has {len(labels)} names, but history has "
                         f"{n_layers} layers")
    ax = _axes(ax, "gradient_norms")
    epochs = np.arange(1, norms.shape[0] + 1)
    for column, label in zip(norms.T, labels):
        ax.plot(epochs, column, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean ||dW|| per step")
    ax.set_title("gradient norms per layer")
    ax.legend()
    return ax


# The network itself


def network(net, ax=None, max_neurons=32, max_width=4.0):
    """Draw a small network: neurons as circles, weights as lines.

    A line's colour gives its weight's sign (blue positive, red negative),
    its width the magnitude (the largest weight of the network is
    ``max_width`` points wide, plus a hairline). A neuron's edge is
    coloured by its bias the same way; inputs have black edges.

    Parameters
    ----------
    net : Network or reference.Network
    ax : matplotlib.axes.Axes, optional
    max_neurons : int, default=32
        The widest layer drawn; a wider network raises ``ValueError``.
    max_width : float, default=4.0

    Returns
    -------
    matplotlib.axes.Axes
        With one ``LineCollection`` per layer of weights, one segment per
        weight in the order of ``W.ravel()``, then one circle marker
        collection (``PathCollection``) per layer of neurons, inputs first.
    """
    max_neurons = check_int("max_neurons", max_neurons, low=1)
    widest = max(net.sizes)
    if widest > max_neurons:
        raise ValueError(f"net has a layer of {widest} neurons, more than "
                         f"max_neurons={max_neurons} can draw legibly")
    _pyplot("network")
    from matplotlib.collections import LineCollection

    ax = _axes(ax, "network")
    weights = net.weights
    biggest = max(float(np.abs(W).max()) for W, _ in weights) or 1.0
    sizes = net.sizes
    spacing = 1 / max(widest, 2)
    # Column l at x = l; its neurons centred on y = 0, top to bottom.
    positions = [np.column_stack([np.full(size, float(l)),
                                  ((size - 1) / 2 - np.arange(size))
                                  * spacing])
                 for l, size in enumerate(sizes)]
    for l, (W, _) in enumerate(weights):
        starts = np.repeat(positions[l], W.shape[1], axis=0)
        ends = np.tile(positions[l + 1], (W.shape[0], 1))
        values = W.ravel()
        ax.add_collection(LineCollection(
            np.stack([starts, ends], axis=1),
            colors=[POSITIVE_COLOUR if w >= 0 else NEGATIVE_COLOUR
                    for w in values],
            linewidths=0.3 + max_width * np.abs(values) / biggest,
            zorder=1))
    marker_size = max(40.0, 300.0 * min(1.0, 8 / widest))
    for l, points in enumerate(positions):
        if l == 0:
            edges = "k"
        else:
            edges = [POSITIVE_COLOUR if bias >= 0 else NEGATIVE_COLOUR
                     for bias in weights[l - 1][1]]
        ax.scatter(points[:, 0], points[:, 1], s=marker_size, c="white",
                   edgecolors=edges, linewidths=1.5, zorder=2)
        label = "input" if l == 0 else net.layers[l - 1].activation
        ax.text(l, -(widest / 2 + 0.3) * spacing - 0.05,
                f"{label}\n{sizes[l]}", ha="center", va="top", fontsize=9)
    ax.set_xlim(-0.4, len(sizes) - 0.6)
    ax.set_ylim(-(widest / 2 + 0.3) * spacing - 0.2,
                (widest / 2 + 0.3) * spacing)
    ax.axis("off")
    ax.set_title("network " + "-".join(str(s) for s in sizes)
                 + "\nblue w > 0, red w < 0, width ~ |w|", fontsize=10)
    return ax

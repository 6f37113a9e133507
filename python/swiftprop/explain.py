"""``explain``: one step of backpropagation, written out layer by layer.

``explain(net, X, y, lr)`` runs one forward pass, the loss, one backward
pass and the plain gradient-descent update that ``train_step`` would make,
and keeps every intermediate array under the tutorials' names::

    forward     z_l = a_{l-1} @ W_l + b_l        a_0 = X
                a_l = f_l(z_l)                   prediction = a_L
    loss        L = loss(a_L, y)
    backward    delta_L = dL/dz_L                from the loss and f_L'
                delta_l = (delta_{l+1} @ W_{l+1}.T) * f_l'(z_l)
                dW_l = a_{l-1}.T @ delta_l       db_l = sum of delta_l's rows
                dX = delta_1 @ W_1.T
    update      W_l <- W_l - lr * dW_l           b_l <- b_l - lr * db_l

Layers are numbered from 1 in the text, as the tutorials number them
(``trace.layers[0]`` is layer 1). Every number comes from the network
itself: ``z`` and ``a`` from ``net.forward``, the loss, ``delta``, ``dW``,
``db`` and ``dX`` from ``net.backward`` and ``W_new``/``b_new`` from one
``train_step(X, y, lr=lr, optimizer="sgd")`` on a deep copy, so the update
shown is exactly the one training would make. Only the two factors of the
chain rule shown beside ``delta`` (``grad_a`` and ``f_prime``) are
recomputed here, in NumPy, from those numbers.
"""

import copy
from dataclasses import replace
import html
from dataclasses import dataclass, field

import numpy as np

from . import reference
from ._codes import OUTPUT_ACTIVATION_FOR_LOSS
from ._validation import check_number
from .optimizers import SGD

__all__ = ["explain", "Trace", "LayerTrace"]

# How each formula reads, for the tables. The numbers never come from here:
# f'(z) and dL/da are computed by the NumPy twin's functions
# (``reference.DERIVATIVES``, ``reference.OUTPUT_DELTAS``), the one place
# they are written in Python; a name missing here reads as ``f'(z)``.
_DERIVATIVE_TEXT = {
    "identity": "1",
    "sigmoid": "{a} (1 - {a})",
    "tanh": "1 - {a}^2",
    "relu": "1 where {z} > 0, else 0",
    "leaky_relu": "1 where {z} > 0, else 0.01",
}


_ACTIVATION_TEXT = {
    "identity": "{z}", "sigmoid": "1 / (1 + exp(-{z}))", "tanh": "tanh({z})",
    "relu": "max({z}, 0)", "leaky_relu": "max({z}, 0.01 {z})",
    "softmax": "exp({z}) / sum(exp({z})) per row",
    "exp": "exp({z})",
}

_LOSS_TEXT = {
    "mse": "mean over all n*k elements of (a - y)^2",
    "binary_cross_entropy":
        "mean over all n*k elements of -(y log a + (1 - y) log(1 - a))",
    "cross_entropy": "mean over the n rows of -sum(y log a)",
    "huber": "mean over all n*k elements of huber(a - y)",
    "poisson": "mean over all n*k elements of y log(y / a) - y + a",
}


@dataclass(eq=False)
class LayerTrace:
    """Everything one layer computed in the step.

    Shapes use ``n`` = samples, ``n_in``/``n_out`` = the layer's widths.

    Attributes
    ----------
    number : int
        The layer's number as the tutorials write it, from 1.
    activation : str
    a_in : ndarray of shape (n, n_in)
        The layer's input ``a_{l-1}`` (``X`` for layer 1).
    W : ndarray of shape (n_in, n_out)
    b : ndarray of shape (n_out,)
        Weights and biases before the step.
    z : ndarray of shape (n, n_out)
        ``a_in @ W + b``.
    a : ndarray of shape (n, n_out)
        ``f(z)``, the layer's output.
    grad_a : ndarray of shape (n, n_out) or None
        ``dL/da``: for a hidden layer ``delta_{l+1} @ W_{l+1}.T``, for the
        output layer under ``mse`` ``2 (a - y) / (n k)``; ``None`` where the
        loss and the activation are fused (sigmoid with binary
        cross-entropy, softmax with cross-entropy).
    f_prime : ndarray of shape (n, n_out) or None
        ``f'(z)``; ``None`` for softmax (it has a Jacobian per row).
    delta : ndarray of shape (n, n_out)
        ``dL/dz``, the error term.
    delta_rule : str
        The chain-rule step that produced ``delta``, in words and symbols.
    dW : ndarray of shape (n_in, n_out)
        ``a_in.T @ delta``.
    db : ndarray of shape (n_out,)
        ``delta`` summed over the rows.
    W_new : ndarray of shape (n_in, n_out)
    b_new : ndarray of shape (n_out,)
        Weights and biases after the step.
    """

    number: int
    activation: str
    a_in: np.ndarray
    W: np.ndarray
    b: np.ndarray
    z: np.ndarray
    a: np.ndarray
    grad_a: object
    f_prime: object
    delta: np.ndarray
    delta_rule: str
    dW: np.ndarray
    db: np.ndarray
    W_new: np.ndarray
    b_new: np.ndarray

    def __repr__(self):
        return (f"LayerTrace(layer {self.number}, {self.activation}, "
                f"W {self.W.shape}, z {self.z.shape})")


@dataclass(eq=False)
class Trace:
    """One step of backpropagation, as ``Network.explain`` returns it.

    Prints as text (``str``, ``repr``) and shows as HTML tables in Jupyter.

    Attributes
    ----------
    layers : list of LayerTrace
        One per layer, in order (``layers[0]`` is layer 1).
    X : ndarray of shape (n_samples, n_inputs)
        The inputs, as the network converted them.
    y : ndarray of shape (n_samples, n_outputs)
        The targets as the loss sees them (class labels one-hot encoded).
    loss : float
        The loss before the step.
    dX : ndarray of shape (n_samples, n_inputs)
        ``dL/dX = delta_1 @ W_1.T``, the gradient handed back to the input.
    lr : float
    l2 : float
        The step's settings: ``W_new = W - lr * (dW + l2 * W)``.
    loss_name : str
    network : str
        The network's ``repr``.
    """

    layers: list
    X: np.ndarray
    y: np.ndarray
    loss: float
    dX: np.ndarray
    lr: float
    l2: float
    loss_name: str
    network: str
    precision: int = field(default=4, repr=False)

    # The rows both renderings show

    def rows(self):
        """The step as a list of ``(stage, name, formula, shape, value)``.

        ``stage`` is ``"forward"``, ``"loss"``, ``"backward"`` or
        ``"update"``; ``value`` is an ndarray or a float. ``str`` and the
        HTML rendering both show these rows, in this order.
        """
        rows = []
        for layer in self.layers:
            l, prev = layer.number, layer.number - 1
            rows.append(("forward", f"W{l}", "weights before the step",
                         _shape(layer.W), layer.W))
            rows.append(("forward", f"b{l}", "biases before the step",
                         _shape(layer.b), layer.b))
            rows.append(("forward", f"z{l}", f"a{prev} @ W{l} + b{l}",
                         f"{_shape(layer.a_in)} @ {_shape(layer.W)} + "
                         f"{_shape(layer.b)} -> {_shape(layer.z)}", layer.z))
            formula = _ACTIVATION_TEXT.get(
                layer.activation, "{activation}({z})").format(
                    z=f"z{l}", activation=layer.activation)
            rows.append(("forward", f"a{l}",
                         f"{layer.activation}(z{l})" + (
                             "" if formula == f"{layer.activation}(z{l})"
                             else f" = {formula}"),
                         _shape(layer.a), layer.a))
        rows.append(("loss", "L", f"{self.loss_name}: "
                     f"{_LOSS_TEXT.get(self.loss_name, 'the mean loss')}",
                     "scalar", self.loss))
        for layer in reversed(self.layers):
            l, prev = layer.number, layer.number - 1
            if layer.grad_a is not None:
                rows.append(("backward", f"dL/da{l}", _grad_a_text(
                    layer, len(self.layers), self.loss_name),
                    _shape(layer.grad_a),
                    layer.grad_a))
            if layer.f_prime is not None:
                rows.append(("backward", f"f'(z{l})",
                             f"{layer.activation}'(z{l})" + (
                                 " = " + _DERIVATIVE_TEXT[layer.activation]
                                 .format(a=f"a{l}", z=f"z{l}")
                                 if layer.activation in _DERIVATIVE_TEXT
                                 else ""),
                             _shape(layer.f_prime), layer.f_prime))
            rows.append(("backward", f"delta{l}", layer.delta_rule,
                         _shape(layer.delta), layer.delta))
            rows.append(("backward", f"dW{l}", f"a{prev}.T @ delta{l}",
                         f"{_shape(layer.a_in.T)} @ {_shape(layer.delta)} "
                         f"-> {_shape(layer.dW)}", layer.dW))
            rows.append(("backward", f"db{l}", f"sum of delta{l} over the "
                         "rows", _shape(layer.db), layer.db))
        rows.append(("backward", "dX", "delta1 @ W1.T",
                     f"{_shape(self.layers[0].delta)} @ "
                     f"{_shape(self.layers[0].W.T)} -> {_shape(self.dX)}",
                     self.dX))
        for layer in self.layers:
            l = layer.number
            step = (f"(dW{l} + {self.l2:g} * W{l})" if self.l2
                    else f"dW{l}")
            rows.append(("update", f"W{l} new", f"W{l} - {self.lr:g} * "
                         f"{step}", _shape(layer.W_new), layer.W_new))
            rows.append(("update", f"b{l} new", f"b{l} - {self.lr:g} * db{l}",
                         _shape(layer.b_new), layer.b_new))
        return rows

    # Text and HTML

    def _heading(self):
        n = self.X.shape[0]
        decay = f", l2 {self.l2:g}" if self.l2 else ""
        return (f"One backpropagation step of {self.network} on "
                f"{n} sample{'s' if n != 1 else ''}, plain SGD with lr "
                f"{self.lr:g}{decay}")

    def __str__(self):
        lines = [self._heading(),
                 f"a0 = X    [{_shape(self.X)}]",
                 _indent(_format(self.X, self.precision), 6),
                 f"y    [{_shape(self.y)}]",
                 _indent(_format(self.y, self.precision), 6)]
        stage = None
        for row_stage, name, formula, shape, value in self.rows():
            if row_stage != stage:
                stage = row_stage
                lines.append("")
                lines.append(_STAGE_TITLES[stage])
            lines.append(f"  {name} = {formula}    [{shape}]")
            lines.append(_indent(_format(value, self.precision), 6))
        return "\n".join(lines)

    def __repr__(self):
        return self.__str__()

    def _repr_html_(self):
        """The step as HTML tables, one per stage, for Jupyter."""
        parts = [f"<div class='swiftprop-explain'><p><b>"
                 f"{html.escape(self._heading())}</b></p>"]
        stage = None
        for row_stage, name, formula, shape, value in self.rows():
            if row_stage != stage:
                if stage is not None:
                    parts.append("</tbody></table>")
                stage = row_stage
                parts.append(
                    f"<table class='swiftprop-explain-{stage}'><caption>"
                    f"{html.escape(_STAGE_TITLES[stage])}</caption><thead><tr>"
                    f"<th{_LEFT}>name</th><th{_LEFT}>computed as</th>"
                    f"<th{_LEFT}>shape</th><th{_LEFT}>value</th></tr></thead>"
                    "<tbody>")
            parts.append(
                f"<tr><td{_LEFT}><code>{html.escape(name)}</code></td>"
                f"<td{_LEFT}><code>{html.escape(formula)}</code></td>"
                f"<td{_LEFT}>{html.escape(shape)}</td>"
                f"<td{_LEFT}><pre style='margin:0;white-space:pre'>"
                f"{html.escape(_format(value, self.precision))}</pre></td>"
                "</tr>")
        parts.append("</tbody></table></div>")
        return "".join(parts)


# Notebook styles right-align table cells; formulas and matrices read
# better from the left.
_LEFT = " style='text-align:left;vertical-align:top'"

_STAGE_TITLES = {
    "forward": "Forward pass (z = a @ W + b, then a = f(z))",
    "loss": "Loss",
    "backward": "Backward pass (chain rule, from the last layer down)",
    "update": "Update (plain gradient descent)",
}


def _shape(array):
    return str(tuple(np.shape(array)))


def _format(value, precision):
    """A value as text: arrays of order one in fixed point (tiny elements as
    0), arrays of small numbers (gradients late in training) in scientific
    notation, so that they do not print as zeros."""
    if np.ndim(value) == 0:
        return f"{float(value):.{precision + 4}g}"
    array = np.asarray(value)
    largest = float(np.max(np.abs(array), initial=0.0))
    options = dict(threshold=60, edgeitems=3, max_line_width=100)
    if 0 < largest < 1e-2:
        return np.array2string(array, formatter={
            "float_kind": lambda v: f"{v:.{precision}e}"}, **options)
    return np.array2string(array, precision=precision, suppress_small=True,
                           **options)


def _indent(text, spaces=4):
    return "\n".join(" " * spaces + line for line in text.splitlines())


def _grad_a_text(layer, n_layers, loss):
    l = layer.number
    if l == n_layers and loss == "mse":
        return (f"2 (a{l} - y) / (n k): the derivative of the mean squared "
                "error")
    if l == n_layers:
        return f"the derivative of the {loss} loss with respect to a{l}"
    return f"delta{l + 1} @ W{l + 1}.T"


def _output_delta_rule(loss, activation, l):
    """How the output layer's delta follows from the loss (chain rule)."""
    if loss == "binary_cross_entropy":
        return (f"(a{l} - y) / (n k): dL/da{l} times sigmoid'(z{l}) = "
                f"a{l} (1 - a{l}), which cancels the loss's 1 / (a (1 - a))")
    if loss == "poisson":
        return (f"(a{l} - y) / (n k): dL/da{l} = (1 - y / a{l}) / (n k) times "
                f"exp'(z{l}) = a{l}")
    if loss == "cross_entropy":
        return (f"(a{l} - y) / n: softmax and cross-entropy together give "
                f"(a{l} sum(y) - y) / n per row, and each row of y sums to 1")
    if activation == "softmax":
        return (f"a{l} * (dL/da{l} - sum(dL/da{l} * a{l}) per row): "
                f"dL/da{l} through the softmax's Jacobian")
    return f"dL/da{l} * f'(z{l})"


# The computation


def explain(net, X, y, lr=None, l2=0.0, precision=4):
    """One forward pass, loss, backward pass and SGD update, layer by layer.

    Parameters
    ----------
    net : Network or reference.Network
        Left unchanged: the update runs on a deep copy. Inference mode:
        nothing is dropped, in the passes or in the update.
    X : array-like of shape (n_samples, n_inputs)
    y : array-like of shape (n_samples, n_outputs), or (n_samples,)
        Targets; class labels for ``cross_entropy``.
    lr : float, optional
        Learning rate of the plain gradient-descent step (``train_step``'s
        default, 0.01, when omitted).
    l2 : float, default=0.0
        Weight decay: ``W_new = W - lr * (dW + l2 * W)`` (biases without).
    precision : int, default=4
        Digits shown by ``str`` and the HTML (the arrays keep all).

    Returns
    -------
    Trace

    Raises
    ------
    ValueError, TypeError
        For bad ``X``, ``y``, ``lr``, ``l2`` or ``precision``, naming it.
    FloatingPointError
        When the step would make a weight NaN or infinite (from
        ``train_step``).

    Examples
    --------
    >>> import numpy as np, swiftprop as sp
    >>> net = sp.Network([2, 2, 1], activation="sigmoid", seed=0)
    >>> trace = net.explain([[0, 1]], [[1]], lr=0.5)
    >>> trace.layers[1].dW.shape, trace.layers[0].delta.shape
    ((2, 1), (1, 2))
    >>> bool(np.allclose(trace.layers[1].W_new,
    ...                  trace.layers[1].W - 0.5 * trace.layers[1].dW))
    True
    """
    if lr is not None:
        lr = check_number("lr", lr, low=0, low_open=True)
    l2 = check_number("l2", l2, low=0)
    if isinstance(precision, bool) or not isinstance(precision, int) or not (
            0 <= precision <= 17):
        raise ValueError(f"precision must be an integer in [0, 17], got "
                         f"{precision!r}")
    X, Y = net._samples(X, y)
    zs, activations = net.forward(X)
    traced = net.backward(X, Y)
    weights = net.weights
    if any(net.dropout):
        # Inference mode throughout: the step is taken without dropout too.
        stepped = type(net)([replace(layer, dropout=0.0)
                             for layer in net.layers], loss=net.loss_name,
                            dtype=net.dtype.name, init=net.init, seed=0)
        stepped.set_weights(weights)
    else:
        stepped = copy.deepcopy(net)
    stepped.reset_optimizer()  # plain SGD: no velocity from earlier steps
    stepped.train_step(X, Y, lr=lr, optimizer="sgd", l2=l2)
    if lr is None:
        lr = SGD().lr
    deltas = traced["deltas"]
    last = len(net.layers) - 1
    layers = []
    for index, layer in enumerate(net.layers):
        z, a = zs[index], activations[index + 1]
        number = index + 1
        f_prime = (reference.DERIVATIVES[layer.activation](z, a)
                   if layer.activation in reference.DERIVATIVES else None)
        if index < last:
            grad_a = deltas[index + 1] @ weights[index + 1][0].T
            rule = (f"dL/da{number} * f'(z{number}) = (delta{number + 1} @ "
                    f"W{number + 1}.T) * {layer.activation}'(z{number})")
        else:
            # A loss fused with its output activation (sigmoid with binary
            # cross-entropy, softmax with cross-entropy) has no separate
            # dL/da; for the others dL/da is the output delta of an
            # identity output.
            fused = net.loss_name in OUTPUT_ACTIVATION_FOR_LOSS
            grad_a = None if fused else reference.OUTPUT_DELTAS[
                net.loss_name](z, a, Y, "identity")
            if fused:
                f_prime = None
            rule = _output_delta_rule(net.loss_name, layer.activation, number)
        dW, db = traced["gradients"][index]
        (W, b), (W_new, b_new) = weights[index], stepped.weights[index]
        layers.append(LayerTrace(
            number=number, activation=layer.activation,
            a_in=activations[index], W=W, b=b, z=z, a=a, grad_a=grad_a,
            f_prime=f_prime, delta=deltas[index], delta_rule=rule, dW=dW,
            db=db, W_new=W_new, b_new=b_new))
    return Trace(layers=layers, X=X, y=Y, loss=float(traced["loss"]),
                 dX=traced["dX"], lr=float(lr), l2=l2,
                 loss_name=net.loss_name, network=repr(net),
                 precision=precision)

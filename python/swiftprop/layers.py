"""Dense layers and the description of a network's architecture."""

import numbers
from dataclasses import dataclass, replace

from ._codes import ACTIVATIONS, LOSSES, OUTPUT_ACTIVATION_FOR_LOSS
from ._validation import check_int, check_number, choose

__all__ = ["Dense", "LayerStack", "build_architecture", "MAX_LAYER_SIZE",
           "OUTPUT_ONLY_ACTIVATIONS"]

# The engine's limit on one layer's width (it counts sizes in 32 bits).
MAX_LAYER_SIZE = 2**31 - 1

# Activations that mix a row (a Jacobian, not an element-wise derivative):
# their delta comes from the loss, so only the output layer may use them.
# softmax (a distribution over the outputs) and exp (the log link of a
# Poisson regression; stacked in hidden layers it overflows): as the engine
# (Activation.isOutputOnly).
OUTPUT_ONLY_ACTIVATIONS = frozenset({"softmax", "exp"})


@dataclass(frozen=True)
class Dense:
    """A fully-connected layer computing ``activation(a @ W + b)``.

    Parameters
    ----------
    n_in : int
        Number of inputs; ``W`` has shape ``(n_in, n_out)``.
    n_out : int
        Number of outputs; ``b`` has shape ``(n_out,)``.
    activation : str, default="identity"
        One of ``identity``, ``sigmoid``, ``tanh``, ``relu``, ``leaky_relu``
        (slope 0.01) or ``softmax`` (output layer only).
    dropout : float, default=0.0
        Dropout rate p in [0, 1) on this layer's output (hidden layers
        only): during training steps each output is zeroed with probability
        p and the kept ones are scaled by 1 / (1 - p) (inverted dropout);
        inference never drops.
    """

    n_in: int
    n_out: int
    activation: str = "identity"
    dropout: float = 0.0

    def __post_init__(self):
        check_int("n_in", self.n_in, low=1, high=MAX_LAYER_SIZE)
        check_int("n_out", self.n_out, low=1, high=MAX_LAYER_SIZE)
        choose("activation", self.activation, ACTIVATIONS)
        object.__setattr__(self, "dropout", check_dropout("dropout",
                                                          self.dropout))

    @property
    def n_parameters(self):
        """Number of weights and biases."""
        return self.n_in * self.n_out + self.n_out


def check_dropout(name, rate):
    """Return a dropout rate as a float in [0, 1)."""
    return check_number(name, rate, low=0, high=1, high_open=True)


def _hidden_rates(dropout, hidden):
    """``Network``'s ``dropout`` argument as one rate per hidden layer."""
    if isinstance(dropout, numbers.Real) and not isinstance(dropout, bool):
        return [check_dropout("dropout", dropout)] * hidden
    if isinstance(dropout, (str, bytes)) or not hasattr(dropout, "__len__"):
        raise TypeError("dropout must be a float or a list of one float per "
                        f"hidden layer, got {type(dropout).__name__}")
    rates = list(dropout)
    if len(rates) != hidden:
        raise ValueError(f"dropout has {len(rates)} rates, but the network "
                         f"has {hidden} hidden layers (no dropout on the "
                         "output layer)")
    return [check_dropout(f"dropout[{i}]", rate)
            for i, rate in enumerate(rates)]


def build_architecture(layers, activation, output_activation, loss,
                       dropout=None):
    """Turn the ``Network`` arguments into a validated list of ``Dense``.

    Parameters
    ----------
    layers : list of int or list of Dense
        Layer sizes ``[n_inputs, n_hidden..., n_outputs]``, or the layers.
    activation : str
        Activation of the hidden layers when ``layers`` are sizes.
    output_activation : str or None
        Activation of the last layer when ``layers`` are sizes; ``None``
        picks the one the loss is fused with (``sigmoid`` for
        ``binary_cross_entropy``, ``softmax`` for ``cross_entropy``), and
        ``activation`` for a loss that takes any (``mse``).
    loss : str
        The loss name, checked against the output activation.
    dropout : float or list of float, optional
        The dropout rate of every hidden layer, or one per hidden layer, in
        [0, 1); ``None`` keeps the layers' own (``Dense(..., dropout=)``).

    Returns
    -------
    list of Dense
    """
    choose("loss", loss, LOSSES)
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__len__"):
        raise TypeError("layers must be a list of layer sizes or of Dense "
                        f"layers, got {type(layers).__name__}")
    layers = list(layers)
    if layers and all(isinstance(layer, Dense) for layer in layers):
        for i in range(1, len(layers)):
            if layers[i].n_in != layers[i - 1].n_out:
                raise ValueError(
                    f"layer {i} has n_in={layers[i].n_in}, but layer {i - 1} "
                    f"has n_out={layers[i - 1].n_out}")
        dense = layers
    elif any(isinstance(layer, Dense) for layer in layers):
        raise TypeError("layers must be all sizes or all Dense layers, not a "
                        "mix")
    else:
        if len(layers) < 2:
            raise ValueError("layers needs at least two sizes (inputs and "
                             f"outputs), got {layers!r}")
        sizes = [check_int(f"layers[{i}]", size, low=1, high=MAX_LAYER_SIZE)
                 for i, size in enumerate(layers)]
        choose("activation", activation, ACTIVATIONS)
        if output_activation is None:
            output_activation = OUTPUT_ACTIVATION_FOR_LOSS.get(
                loss, activation)
        choose("output_activation", output_activation, ACTIVATIONS)
        dense = [Dense(sizes[i], sizes[i + 1],
                       activation if i < len(sizes) - 2 else output_activation)
                 for i in range(len(sizes) - 1)]
    if not dense:
        raise ValueError("layers is empty")
    for i, layer in enumerate(dense[:-1]):
        if layer.activation in OUTPUT_ONLY_ACTIVATIONS:
            raise ValueError(f"{layer.activation} is for the output layer "
                             f"only, but hidden layer {i} uses it")
    if dropout is not None:
        if any(layer.dropout for layer in dense):
            raise ValueError("give dropout either on the Dense layers or as "
                             "the network's dropout argument, not both")
        rates = _hidden_rates(dropout, len(dense) - 1)
        dense = [replace(layer, dropout=rate)
                 for layer, rate in zip(dense, rates)] + [dense[-1]]
    if dense[-1].dropout:
        raise ValueError("dropout on the output layer is not supported, but "
                         f"layer {len(dense) - 1} has dropout="
                         f"{dense[-1].dropout}")
    needed = OUTPUT_ACTIVATION_FOR_LOSS.get(loss)
    if needed is not None and dense[-1].activation != needed:
        raise ValueError(f"loss {loss!r} needs a {needed} output layer, got "
                         f"{dense[-1].activation!r}")
    return dense


class LayerStack:
    """What every network class derives from its ``layers`` (a list of
    ``Dense``), ``loss_name`` and ``dtype``: sizes, counts and its repr.
    Shared by the engine's ``Network`` and ``reference.Network``."""

    _display_name = "Network"

    @property
    def sizes(self):
        """Layer sizes ``[n_inputs, ..., n_outputs]``."""
        return [self.layers[0].n_in] + [layer.n_out for layer in self.layers]

    @property
    def n_inputs(self):
        return self.layers[0].n_in

    @property
    def n_outputs(self):
        return self.layers[-1].n_out

    @property
    def n_parameters(self):
        """Number of weights and biases."""
        return sum(layer.n_parameters for layer in self.layers)

    @property
    def dropout(self):
        """list of float: each layer's dropout rate (the output layer's 0)."""
        return [layer.dropout for layer in self.layers]

    def __repr__(self):
        shape = "-".join(str(size) for size in self.sizes)
        activations = ", ".join(layer.activation for layer in self.layers)
        rates = ""
        if any(self.dropout):
            rates = ", dropout=[" + ", ".join(
                f"{p:g}" for p in self.dropout[:-1]) + "]"
        return (f"{self._display_name}({shape}, activations=[{activations}]"
                f"{rates}, loss={self.loss_name!r}, "
                f"dtype={self.dtype.name!r}, parameters={self.n_parameters})")

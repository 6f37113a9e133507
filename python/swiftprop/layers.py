"""Dense layers and the description of a network's architecture."""

from dataclasses import dataclass

from ._codes import ACTIVATIONS, LOSSES, OUTPUT_ACTIVATION_FOR_LOSS
from ._validation import check_int, choose

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
    """

    n_in: int
    n_out: int
    activation: str = "identity"

    def __post_init__(self):
        check_int("n_in", self.n_in, low=1, high=MAX_LAYER_SIZE)
        check_int("n_out", self.n_out, low=1, high=MAX_LAYER_SIZE)
        choose("activation", self.activation, ACTIVATIONS)

    @property
    def n_parameters(self):
        """Number of weights and biases."""
        return self.n_in * self.n_out + self.n_out


def build_architecture(layers, activation, output_activation, loss):
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

    def __repr__(self):
        shape = "-".join(str(size) for size in self.sizes)
        activations = ", ".join(layer.activation for layer in self.layers)
        return (f"{self._display_name}({shape}, activations=[{activations}], "
                f"loss={self.loss_name!r}, dtype={self.dtype.name!r}, "
                f"parameters={self.n_parameters})")

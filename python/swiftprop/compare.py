"""Compare two networks number for number.

``compare(net_a, net_b, X, y)`` runs both networks on the same data and
reports how far apart they are: outputs, loss, gradients and weights. It
works for any two objects with the ``Network`` API, typically the Swift
engine against ``swiftprop.reference``::

    import swiftprop as sp
    from swiftprop.compare import compare

    engine = sp.Network([2, 4, 1], seed=0)
    numpy_twin = sp.reference.Network([2, 4, 1], seed=0)
    print(compare(engine, numpy_twin, X, y))

Every difference is computed in float64. The relative difference of an
array is its largest absolute difference divided by the largest magnitude
in either array (``max|a - b| / max(max|a|, max|b|)``), the measure the
agreement tests use; it is 0 when both arrays are all zeros.
"""

import html
from dataclasses import dataclass

import numpy as np

__all__ = ["Comparison", "Difference", "compare"]


@dataclass(frozen=True)
class Difference:
    """The largest differences between two versions of one quantity.

    Attributes
    ----------
    quantity : str
        What was compared: ``"outputs"``, ``"loss"``, ``"gradients"`` or
        ``"weights"``.
    max_abs : float
        ``max |a - b|`` over every element.
    max_rel : float
        ``max |a - b| / max(max |a|, max |b|)``: the largest absolute
        difference relative to the size of the values (per array, the
        largest over the arrays).
    """

    quantity: str
    max_abs: float
    max_rel: float


@dataclass(frozen=True, repr=False)
class Comparison:
    """What ``compare`` found; prints as a table.

    Attributes
    ----------
    name_a, name_b : str
        The class names of the two networks.
    n_samples : int
        Rows of the data both were run on.
    loss_a, loss_b : float
        Each network's loss on the data.
    outputs, loss, gradients, weights : Difference
        The largest differences in ``predict(X)``, ``loss(X, y)``,
        ``gradients(X, y)`` (every dW and db) and ``weights`` (every W and
        b).
    """

    name_a: str
    name_b: str
    n_samples: int
    loss_a: float
    loss_b: float
    outputs: Difference
    loss: Difference
    gradients: Difference
    weights: Difference

    @property
    def rows(self):
        """The four differences, in table order."""
        return (self.outputs, self.loss, self.gradients, self.weights)

    @property
    def max_abs(self):
        """The largest absolute difference of any quantity."""
        return max(row.max_abs for row in self.rows)

    @property
    def max_rel(self):
        """The largest relative difference of any quantity."""
        return max(row.max_rel for row in self.rows)

    def within(self, rtol):
        """Whether every relative difference is at most ``rtol``."""
        return self.max_rel <= rtol

    def _title(self):
        return (f"{self.name_a} vs {self.name_b} on {self.n_samples} samples "
                f"(loss {self.loss_a:.10g} vs {self.loss_b:.10g})")

    def __str__(self):
        header = ("quantity", "max |a - b|", "max relative")
        cells = [(row.quantity, f"{row.max_abs:.3e}", f"{row.max_rel:.3e}")
                 for row in self.rows]
        widths = [max(len(line[i]) for line in [header] + cells)
                  for i in range(3)]

        def line(values):
            first, *numbers = values
            return "  ".join([first.ljust(widths[0])] + [
                value.rjust(width) for value, width in zip(numbers,
                                                           widths[1:])])

        rule = "  ".join("-" * width for width in widths)
        return "\n".join([self._title(), line(header), rule]
                         + [line(values) for values in cells])

    __repr__ = __str__

    def _repr_html_(self):
        """The table for Jupyter notebooks."""
        body = "".join(
            f"<tr><td>{html.escape(row.quantity)}</td>"
            f"<td>{row.max_abs:.3e}</td><td>{row.max_rel:.3e}</td></tr>"
            for row in self.rows)
        return (f"<table><caption>{html.escape(self._title())}</caption>"
                "<thead><tr><th>quantity</th><th>max |a &minus; b|</th>"
                f"<th>max relative</th></tr></thead><tbody>{body}</tbody>"
                "</table>")


def compare(net_a, net_b, X, y):
    """Run two networks on the same data and measure their differences.

    Parameters
    ----------
    net_a, net_b : Network or reference.Network
        Any two objects with the ``Network`` API (``predict``, ``loss``,
        ``gradients``, ``weights``) and the same layer sizes.
    X : array-like of shape (n_samples, n_inputs)
    y : array-like of shape (n_samples, n_outputs), or (n_samples,)
        Targets, as each network's ``loss`` takes them.

    Returns
    -------
    Comparison
        The largest absolute and relative differences in outputs, loss,
        gradients and weights; ``print`` it for a table.

    Raises
    ------
    ValueError
        If the two networks' parameters have different shapes.
    """
    weights_a, weights_b = net_a.weights, net_b.weights
    shapes_a = [(np.shape(W), np.shape(b)) for W, b in weights_a]
    shapes_b = [(np.shape(W), np.shape(b)) for W, b in weights_b]
    if shapes_a != shapes_b:
        raise ValueError(f"the networks have different parameter shapes: "
                         f"{shapes_a} vs {shapes_b}")
    loss_a, loss_b = float(net_a.loss(X, y)), float(net_b.loss(X, y))
    return Comparison(
        name_a=_name(net_a),
        name_b=_name(net_b),
        n_samples=len(np.asarray(X)),
        loss_a=loss_a,
        loss_b=loss_b,
        outputs=_difference("outputs", [net_a.predict(X)],
                            [net_b.predict(X)]),
        loss=_difference("loss", [loss_a], [loss_b]),
        gradients=_difference("gradients",
                              _arrays(net_a.gradients(X, y)),
                              _arrays(net_b.gradients(X, y))),
        weights=_difference("weights", _arrays(weights_a),
                            _arrays(weights_b)))


def _name(net):
    """``swiftprop.Network``, ``swiftprop.reference.Network`` or the class's
    full name."""
    module, name = type(net).__module__, type(net).__qualname__
    if module.startswith("swiftprop.") and module != "swiftprop.reference":
        module = "swiftprop"  # defined in a private module, exported here
    return f"{module}.{name}"


def _arrays(pairs):
    """``[(W, b), ...]`` as the flat list ``[W0, b0, W1, b1, ...]``."""
    return [array for pair in pairs for array in pair]


def _difference(quantity, arrays_a, arrays_b):
    """The largest absolute and relative differences over pairs of arrays."""
    max_abs = max_rel = 0.0
    for a, b in zip(arrays_a, arrays_b):
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        gap = float(np.max(np.abs(a - b), initial=0.0))
        if np.isnan(gap):
            gap = np.inf  # NaN on one side only, or on both: not equal
        scale = float(max(np.max(np.abs(a), initial=0.0),
                          np.max(np.abs(b), initial=0.0)))
        max_abs = max(max_abs, gap)
        if gap > 0:
            max_rel = max(max_rel, gap / scale)
    return Difference(quantity, max_abs, max_rel)

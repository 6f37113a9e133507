"""Optimizer settings: plain values handed to the engine.

The update rules (both backends, PyTorch's conventions):

SGD
    ``g = dL/dp (+ l2 * W for weights)``; with momentum ``v = momentum * v + g``
    and ``step = g + momentum * v`` (Nesterov) or ``step = v``; without
    momentum ``step = g``. Then ``p -= lr * step``.
Adam
    ``t += 1; m = beta1*m + (1-beta1)*g; v = beta2*v + (1-beta2)*g*g;
    p -= lr * (m / (1-beta1**t)) / (sqrt(v / (1-beta2**t)) + eps)``.

``l2`` adds ``l2 * W`` to the gradient of every weight matrix (never the
biases); the losses reported are the data loss without it.
"""

from dataclasses import dataclass, replace

from ._validation import check_bool, check_number, choose

__all__ = ["SGD", "Adam", "resolve_optimizer", "OPTIMIZERS"]


@dataclass(frozen=True)
class SGD:
    """Stochastic gradient descent with optional (Nesterov) momentum.

    Parameters
    ----------
    lr : float, default=0.01
        Learning rate, > 0.
    momentum : float, default=0.0
        Momentum factor in [0, 1).
    nesterov : bool, default=False
        Use Nesterov momentum (needs ``momentum > 0``).
    l2 : float, default=0.0
        L2 weight decay on the weights (not the biases), >= 0.
    """

    lr: float = 0.01
    momentum: float = 0.0
    nesterov: bool = False
    l2: float = 0.0
    name = "sgd"
    code = 0

    def __post_init__(self):
        object.__setattr__(self, "lr", check_number("lr", self.lr, low=0,
                                                    low_open=True))
        object.__setattr__(self, "momentum", check_number(
            "momentum", self.momentum, low=0, high=1, high_open=True))
        object.__setattr__(self, "l2", check_number("l2", self.l2, low=0))
        object.__setattr__(self, "nesterov",
                           check_bool("nesterov", self.nesterov))
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0, got "
                             "momentum=0.0")

    def as_tuple(self):
        """``(code, lr, momentum, nesterov, beta1, beta2, eps, l2)``."""
        return (0, self.lr, self.momentum, int(self.nesterov), 0.0, 0.0, 0.0,
                self.l2)


@dataclass(frozen=True)
class Adam:
    """Adam (Kingma and Ba, 2015), with bias correction.

    Parameters
    ----------
    lr : float, default=0.001
        Learning rate, > 0.
    beta1, beta2 : float, default=0.9, 0.999
        Decay rates of the moment estimates, in [0, 1).
    eps : float, default=1e-8
        Added to the denominator, > 0.
    l2 : float, default=0.0
        L2 weight decay on the weights (not the biases), >= 0.
    """

    lr: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    l2: float = 0.0
    name = "adam"
    code = 1

    def __post_init__(self):
        object.__setattr__(self, "lr", check_number("lr", self.lr, low=0,
                                                    low_open=True))
        for name in ("beta1", "beta2"):
            object.__setattr__(self, name, check_number(
                name, getattr(self, name), low=0, high=1, high_open=True))
        object.__setattr__(self, "eps", check_number("eps", self.eps, low=0,
                                                     low_open=True))
        object.__setattr__(self, "l2", check_number("l2", self.l2, low=0))

    def as_tuple(self):
        """``(code, lr, momentum, nesterov, beta1, beta2, eps, l2)``."""
        return (1, self.lr, 0.0, 0, self.beta1, self.beta2, self.eps, self.l2)


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def resolve_optimizer(optimizer="sgd", lr=None, **options):
    """Return an ``SGD`` or ``Adam`` from a name or an object.

    Parameters
    ----------
    optimizer : str or SGD or Adam
        A name from ``OPTIMIZERS`` or an optimizer object.
    lr : float, optional
        Overrides the optimizer's learning rate.
    **options
        Further settings (``momentum``, ``nesterov``, ``beta1``, ``beta2``,
        ``eps``, ``l2``); ``None`` values are ignored.
    """
    options = {key: value for key, value in options.items()
               if value is not None}
    if lr is not None:
        options["lr"] = lr
    if isinstance(optimizer, (SGD, Adam)):
        cls = type(optimizer)
    else:
        cls = OPTIMIZERS[choose("optimizer", optimizer, OPTIMIZERS)]
    allowed = set(cls.__dataclass_fields__)
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f"{cls.__name__} got unexpected option(s) "
                        f"{', '.join(unknown)}; it takes: "
                        f"{', '.join(cls.__dataclass_fields__)}")
    if isinstance(optimizer, (SGD, Adam)):
        return replace(optimizer, **options)
    return cls(**options)

"""Optimizer settings: one frozen dataclass per update rule, in one registry.

The update rules (both backends, PyTorch's conventions):

SGD
    ``g = dL/dp (+ l2 * W for weights)``; with momentum ``v = momentum * v + g``
    and ``step = g + momentum * v`` (Nesterov) or ``step = v``; without
    momentum ``step = g``. Then ``p -= lr * step``.
Adam
    ``t += 1; m = beta1*m + (1-beta1)*g; v = beta2*v + (1-beta2)*g*g;
    p -= lr * (m / (1-beta1**t)) / (sqrt(v / (1-beta2**t)) + eps)``.
RMSprop
    ``v = alpha*v + (1-alpha)*g*g; step = g / (sqrt(v) + eps)``; with
    momentum ``b = momentum*b + step; p -= lr*b``, else ``p -= lr*step``.

``l2`` adds ``l2 * W`` to the gradient of every weight matrix (never the
biases); the losses reported are the data loss without it.

Each class's ``name`` is the engine's name of its optimizer kind, and its
fields are the engine's settings of that kind, by the same names
(``_codes.OPTIMIZER_SETTINGS``): ``engine_settings`` sends them in the
engine's order, so a new setting is a new field and nothing else. Adding an
optimizer here is one ``@register``-ed class (plus its update rule in the
engine and in ``reference``).
"""

from dataclasses import dataclass, fields, replace

from ._codes import OPTIMIZER_KINDS, OPTIMIZER_SETTINGS
from ._validation import check_bool, check_number, choose

__all__ = ["Optimizer", "SGD", "Adam", "RMSprop", "OPTIMIZERS", "register",
           "resolve_optimizer", "engine_settings"]

# The optimizer classes by name ("sgd": SGD, ...), filled by @register.
OPTIMIZERS = {}


def register(cls):
    """Class decorator: make ``cls`` the optimizer called ``cls.name``."""
    OPTIMIZERS[cls.name] = cls
    return cls


class Optimizer:
    """What every optimizer class shares: the settings every engine rule
    takes (``lr`` > 0 and ``l2`` >= 0) are checked here; a subclass checks
    its own in ``_check``."""

    name = None  # the engine's name of the optimizer kind

    def __post_init__(self):
        self._set("lr", check_number("lr", self.lr, low=0, low_open=True))
        self._set("l2", check_number("l2", self.l2, low=0))
        self._check()

    def _check(self):
        """Check and normalise the settings particular to this optimizer."""

    def _set(self, field, value):
        object.__setattr__(self, field, value)  # the dataclasses are frozen


@register
@dataclass(frozen=True)
class SGD(Optimizer):
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

    def _check(self):
        self._set("momentum", check_number("momentum", self.momentum, low=0,
                                           high=1, high_open=True))
        self._set("nesterov", check_bool("nesterov", self.nesterov))
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0, got "
                             "momentum=0.0")


@register
@dataclass(frozen=True)
class Adam(Optimizer):
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

    def _check(self):
        for name in ("beta1", "beta2"):
            self._set(name, check_number(name, getattr(self, name), low=0,
                                         high=1, high_open=True))
        self._set("eps", check_number("eps", self.eps, low=0, low_open=True))


@register
@dataclass(frozen=True)
class RMSprop(Optimizer):
    """RMSprop (Tieleman and Hinton, 2012), PyTorch's rule (not centered):
    each step divides the gradient by the root of a running mean of its
    squares.

    Parameters
    ----------
    lr : float, default=0.01
        Learning rate, > 0.
    alpha : float, default=0.99
        Decay rate of the running mean of squared gradients, in [0, 1).
    eps : float, default=1e-8
        Added to the denominator, > 0.
    momentum : float, default=0.0
        Momentum factor in [0, 1).
    l2 : float, default=0.0
        L2 weight decay on the weights (not the biases), >= 0.
    """

    lr: float = 0.01
    alpha: float = 0.99
    eps: float = 1e-8
    momentum: float = 0.0
    l2: float = 0.0
    name = "rmsprop"

    def _check(self):
        for name in ("alpha", "momentum"):
            self._set(name, check_number(name, getattr(self, name), low=0,
                                         high=1, high_open=True))
        self._set("eps", check_number("eps", self.eps, low=0, low_open=True))


def engine_settings(optimizer):
    """The optimizer as the engine takes it: ``(kind code, values)``, the
    values in the order of the engine's setting names (booleans as 0.0 or
    1.0)."""
    values = tuple(float(getattr(optimizer, setting))
                   for setting in OPTIMIZER_SETTINGS[optimizer.name])
    return OPTIMIZER_KINDS[optimizer.name], values


def resolve_optimizer(optimizer="sgd", lr=None, **options):
    """Return an optimizer object from a name or an object.

    Parameters
    ----------
    optimizer : str or Optimizer
        A name from ``OPTIMIZERS`` (``"sgd"``, ``"adam"``) or an optimizer
        object (``SGD(...)``, ``Adam(...)``).
    lr : float, optional
        Overrides the optimizer's learning rate.
    **options
        Further settings of that optimizer (``momentum``, ``nesterov``,
        ``beta1``, ``beta2``, ``eps``, ``l2``); ``None`` values are ignored.
    """
    options = {key: value for key, value in options.items()
               if value is not None}
    if lr is not None:
        options["lr"] = lr
    given = isinstance(optimizer, tuple(OPTIMIZERS.values()))
    if given:
        cls = type(optimizer)
    else:
        cls = OPTIMIZERS[choose("optimizer", optimizer, OPTIMIZERS)]
    allowed = [field.name for field in fields(cls)]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"{cls.__name__} got unexpected option(s) "
                        f"{', '.join(unknown)}; it takes: "
                        f"{', '.join(allowed)}")
    if given:
        return replace(optimizer, **options)
    return cls(**options)

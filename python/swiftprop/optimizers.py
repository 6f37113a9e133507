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

L-BFGS (``LBFGS``, ``optimizer="lbfgs"``) is not a per-step rule: it runs
the whole full-batch minimisation in one engine call (``Network.fit``), so
it has no learning rate, no state kept between calls and no ``train_step``.
It is therefore not one of the engine's optimizer kinds (``OPTIMIZERS``,
whose codes, settings and state vectors ``train_step``, ``fit``'s
mini-batch loop and the saved optimizer state share) but the one entry of
``FULL_BATCH_OPTIMIZERS``; ``resolve_optimizer`` knows both tables, so
``"lbfgs"`` and ``LBFGS(...)`` are accepted wherever an optimizer is named.

Each class's ``name`` is the engine's name of its optimizer kind, and its
fields are the engine's settings of that kind, by the same names
(``_codes.OPTIMIZER_SETTINGS``): ``engine_settings`` sends them in the
engine's order, so a new setting is a new field and nothing else. Adding an
optimizer here is one ``@register``-ed class (plus its update rule in the
engine and in ``reference``).
"""

from dataclasses import dataclass, fields, replace

from ._codes import OPTIMIZER_KINDS, OPTIMIZER_SETTINGS
from ._validation import check_bool, check_int, check_number, choose

__all__ = ["Optimizer", "SGD", "Adam", "RMSprop", "LBFGS", "OPTIMIZERS",
           "FULL_BATCH_OPTIMIZERS", "register", "resolve_optimizer",
           "engine_settings", "lbfgs_settings"]

# The optimizer classes by name ("sgd": SGD, ...), filled by @register.
OPTIMIZERS = {}
# The full-batch methods that run a whole fit in one engine call, by name.
FULL_BATCH_OPTIMIZERS = {}


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
        Momentum factor in [0, 1].
    nesterov : bool, default=False
        Use Nesterov momentum (needs ``momentum > 0``).
    l2 : float, default=0.0
        L2 weight decay on the weights (not the biases), >= 0.
    lr_in_velocity : bool, default=False
        False: PyTorch's rule, the velocity in gradient units
        (``v = momentum * v + g; p -= lr * v``, Nesterov ``p -= lr * (g +
        momentum * v)``). True: Keras's and scikit-learn's, in parameter
        units (``v = momentum * v - lr * g; p += v``, Nesterov ``p +=
        momentum * v - lr * g``). The same steps while ``lr`` is constant;
        different once a schedule changes it.
    """

    lr: float = 0.01
    momentum: float = 0.0
    nesterov: bool = False
    l2: float = 0.0
    lr_in_velocity: bool = False
    name = "sgd"

    def _check(self):
        self._set("momentum", check_number("momentum", self.momentum, low=0,
                                           high=1))
        self._set("nesterov", check_bool("nesterov", self.nesterov))
        self._set("lr_in_velocity", check_bool("lr_in_velocity",
                                               self.lr_in_velocity))
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
    eps_hat : bool, default=False
        False: PyTorch's rule, ``p -= lr * m_hat / (sqrt(v_hat) + eps)``
        with the bias-corrected moments. True: ``eps`` is Kingma and Ba's
        epsilon-hat, added before the bias correction, as Keras, TensorFlow
        and scikit-learn add it: ``p -= lr_t * m / (sqrt(v) + eps)`` with
        ``lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t)``. The two differ
        where ``sqrt(v)`` is as small as ``eps`` (a parameter whose gradient
        is nearly zero).
    """

    lr: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    l2: float = 0.0
    eps_hat: bool = False
    name = "adam"

    def _check(self):
        for name in ("beta1", "beta2"):
            self._set(name, check_number(name, getattr(self, name), low=0,
                                         high=1, high_open=True))
        self._set("eps", check_number("eps", self.eps, low=0, low_open=True))
        self._set("eps_hat", check_bool("eps_hat", self.eps_hat))


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


@dataclass(frozen=True)
class LBFGS:
    """Full-batch limited-memory BFGS, the whole fit in one engine call.

    Minimises ``F = scale * loss + (l2 / 2) * sum of ||W||^2`` (weights
    only) over all the rows, with a strong Wolfe line search, stopping as
    SciPy's ``minimize(method="L-BFGS-B")`` does (``Network.fit``'s
    ``epochs`` is its ``maxiter``).

    Parameters
    ----------
    memory : int, default=10
        Correction pairs kept (SciPy's ``maxcor``), >= 1.
    max_fun : int, default=15000
        Stop after an iteration once more than ``max_fun`` objective
        evaluations were made (SciPy's ``maxfun``), >= 1.
    gtol : float, default=1e-5
        Stop when ``max |dF/dp| <= gtol``; ``fit``'s ``tol`` sets it.
    ftol : float, default=2.220446049250313e-09
        Stop when ``(F_prev - F) / max(|F_prev|, |F|, 1) <= ftol``.
    max_ls : int, default=20
        Objective evaluations per line search (SciPy's ``maxls``), >= 1.
    l2 : float, default=0.0
        L2 term on the weights (not the biases), >= 0: its gradient is
        ``l2 * W``, as for the other optimizers.
    scale : float, default=1.0
        Factor on the data loss, > 0 (puts F on another library's scale).
    """

    memory: int = 10
    max_fun: int = 15000
    gtol: float = 1e-5
    ftol: float = 2.220446049250313e-09
    max_ls: int = 20
    l2: float = 0.0
    scale: float = 1.0
    name = "lbfgs"

    def __post_init__(self):
        for field in ("memory", "max_fun", "max_ls"):
            object.__setattr__(self, field, check_int(
                field, getattr(self, field), low=1))
        for field in ("gtol", "ftol", "l2"):
            object.__setattr__(self, field, check_number(
                field, getattr(self, field), low=0))
        object.__setattr__(self, "scale", check_number(
            "scale", self.scale, low=0, low_open=True))


FULL_BATCH_OPTIMIZERS["lbfgs"] = LBFGS


def lbfgs_settings(optimizer, max_iter, report_every, poll_interval_ns):
    """The tuple the engine's ``fit_lbfgs`` takes (see swiftprop.h's
    ``sp_lbfgs_options``)."""
    return (max_iter, optimizer.max_fun, optimizer.memory, optimizer.max_ls,
            report_every, poll_interval_ns, optimizer.gtol, optimizer.ftol,
            optimizer.l2, optimizer.scale)


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
    optimizer : str or Optimizer or LBFGS
        A name from ``OPTIMIZERS`` (``"sgd"``, ``"adam"``) or
        ``FULL_BATCH_OPTIMIZERS`` (``"lbfgs"``), or an optimizer object
        (``SGD(...)``, ``Adam(...)``, ``LBFGS(...)``).
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
    known = {**OPTIMIZERS, **FULL_BATCH_OPTIMIZERS}
    given = isinstance(optimizer, tuple(known.values()))
    if given:
        cls = type(optimizer)
    else:
        cls = known[choose("optimizer", optimizer, known)]
    allowed = [field.name for field in fields(cls)]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"{cls.__name__} got unexpected option(s) "
                        f"{', '.join(unknown)}; it takes: "
                        f"{', '.join(allowed)}")
    if given:
        return replace(optimizer, **options)
    return cls(**options)

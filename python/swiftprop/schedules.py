"""Learning-rate schedules for ``Network.fit``, computed in the engine.

Pass one as ``lr``: ``net.fit(X, y, epochs=100, lr=sp.schedules.Cosine(0.1,
epochs=100))``. The rate is set once per epoch (epochs counted from 0 in
each ``fit`` call) and recorded in ``History.lr``. ``lr`` may also be a
callable ``epoch -> rate``, called from Python once per epoch.

Each class states its formula and, where one exists, the PyTorch
scheduler it matches (``rate`` computes it here, for checking the engine):

========================  ==============================================
``Constant(lr)``          η_e = lr
``InvScaling(lr, p)``     η_e = lr / (t0 + e·n + 1)^p, n rows per epoch
                          (scikit-learn's ``learning_rate="invscaling"``)
``Adaptive(lr)``          lr until ``tol``/``patience`` fires, then ×factor
                          instead of stopping; stops at ``min_lr``
                          (scikit-learn's ``"adaptive"``)
``Step(lr, size, γ)``     η_e = lr·γ^⌊e/size⌋ (``StepLR``)
``Exponential(lr, γ)``    η_e = lr·γ^e (``ExponentialLR``)
``Cosine(lr, T, min)``    η_e = min + (lr − min)(1 + cos(πe/T))/2
                          (``CosineAnnealingLR``)
``ReduceOnPlateau(lr)``   ×factor after more than ``patience`` epochs
                          without improvement of the monitored value
                          (``ReduceLROnPlateau``, absolute threshold)
``Warmup(s, W, start)``   η_e = lr·(start + (1 − start)·e/W) for e < W,
                          then ``s`` on e − W (``LinearLR`` then ``s``)
========================  ==============================================
"""

import math
from dataclasses import dataclass

from ._codes import SCHEDULE_SETTINGS, SCHEDULES
from ._validation import check_int, check_number

__all__ = ["Schedule", "Constant", "InvScaling", "Adaptive", "Step",
           "Exponential", "Cosine", "ReduceOnPlateau", "Warmup",
           "resolve_schedule"]


class Schedule:
    """A learning-rate schedule (the engine's ``kind`` and its settings)."""

    kind = None
    #: Whether the rate depends on what training sees (plateaus), not on
    #: the epoch alone.
    stateful = False

    def settings(self):
        """The settings after ``lr``, in the engine's order."""
        return tuple(float(getattr(self, name))
                     for name in SCHEDULE_SETTINGS[self.kind])

    def engine(self):
        """``(lr, (kind code, settings, warmup epochs, warmup start))``."""
        return float(self.lr), (SCHEDULES[self.kind], self.settings(), 0, 0.0)

    def rate(self, epoch, n_samples=1):
        """The rate of ``epoch`` (0-based) for a fit on ``n_samples`` rows;
        for the stateful schedules, the starting rate."""
        raise NotImplementedError

    def __repr__(self):
        fields = ", ".join(f"{name}={getattr(self, name)!r}"
                           for name in ("lr",) + SCHEDULE_SETTINGS[self.kind])
        return f"{type(self).__name__}({fields})"


def _positive_rate(lr):
    return check_number("lr", lr, low=0, low_open=True)


@dataclass(repr=False)
class Constant(Schedule):
    lr: float
    kind = "constant"

    def __post_init__(self):
        self.lr = _positive_rate(self.lr)

    def rate(self, epoch, n_samples=1):
        return self.lr


@dataclass(repr=False)
class InvScaling(Schedule):
    """scikit-learn's ``invscaling``: ``lr / (t + 1) ** power_t`` with ``t``
    the samples seen before the epoch (``samples_seen`` from earlier calls,
    plus ``epoch * n_samples``)."""

    lr: float
    power_t: float = 0.5
    samples_seen: float = 0
    kind = "inv_scaling"

    def __post_init__(self):
        self.lr = _positive_rate(self.lr)
        self.power_t = check_number("power_t", self.power_t, low=0)
        self.samples_seen = check_number("samples_seen", self.samples_seen,
                                         low=0)

    def rate(self, epoch, n_samples=1):
        return self.lr / math.pow(self.samples_seen + epoch * n_samples + 1,
                                  self.power_t)


@dataclass(repr=False)
class Adaptive(Schedule):
    """scikit-learn's ``adaptive``: the rate stays ``lr`` while the loss
    improves; when ``fit``'s stopping rule (``tol``, ``patience``) fires,
    the rate is multiplied by ``factor`` and training goes on, until the
    rate is at most ``min_lr``, when it stops. Needs ``tol``."""

    lr: float
    factor: float = 0.2
    min_lr: float = 1e-6
    kind = "adaptive"
    stateful = True

    def __post_init__(self):
        self.lr = _positive_rate(self.lr)
        self.factor = check_number("factor", self.factor, low=0, high=1,
                                   low_open=True, high_open=True)
        self.min_lr = check_number("min_lr", self.min_lr, low=0)

    def rate(self, epoch, n_samples=1):
        return self.lr


@dataclass(repr=False)
class Step(Schedule):
    """``lr * gamma ** (epoch // step_size)`` (PyTorch's ``StepLR``)."""

    lr: float
    step_size: int = 10
    gamma: float = 0.1
    kind = "step"

    def __post_init__(self):
        self.lr = _positive_rate(self.lr)
        self.step_size = check_int("step_size", self.step_size, low=1,
                                   high=10**15)
        self.gamma = check_number("gamma", self.gamma, low=0, low_open=True)

    def rate(self, epoch, n_samples=1):
        return self.lr * math.pow(self.gamma, epoch // self.step_size)


@dataclass(repr=False)
class Exponential(Schedule):
    """``lr * gamma ** epoch`` (PyTorch's ``ExponentialLR``)."""

    lr: float
    gamma: float = 0.95
    kind = "exponential"

    def __post_init__(self):
        self.lr = _positive_rate(self.lr)
        self.gamma = check_number("gamma", self.gamma, low=0, low_open=True)

    def rate(self, epoch, n_samples=1):
        return self.lr * math.pow(self.gamma, epoch)


@dataclass(repr=False)
class Cosine(Schedule):
    """``min_lr + (lr - min_lr) * (1 + cos(pi * epoch / epochs)) / 2``
    (PyTorch's ``CosineAnnealingLR`` with ``T_max=epochs``,
    ``eta_min=min_lr``, closed form)."""

    lr: float
    epochs: int = 100
    min_lr: float = 0.0
    kind = "cosine"

    def __post_init__(self):
        self.lr = _positive_rate(self.lr)
        self.epochs = check_int("epochs", self.epochs, low=1)
        self.min_lr = check_number("min_lr", self.min_lr, low=0)

    def rate(self, epoch, n_samples=1):
        return self.min_lr + (self.lr - self.min_lr) * (
            1 + math.cos(math.pi * epoch / self.epochs)) / 2


@dataclass(repr=False)
class ReduceOnPlateau(Schedule):
    """Multiply the rate by ``factor`` (not below ``min_lr``) once the
    monitored value (``fit``'s ``monitor``: the loss, or the validation
    loss with validation data) has not improved by more than ``min_delta``
    for more than ``patience`` epochs (PyTorch's ``ReduceLROnPlateau`` with
    ``threshold_mode="abs"``, ``threshold=min_delta``, no cooldown)."""

    lr: float
    factor: float = 0.1
    patience: int = 10
    min_delta: float = 0.0
    min_lr: float = 0.0
    kind = "plateau"
    stateful = True

    def __post_init__(self):
        self.lr = _positive_rate(self.lr)
        self.factor = check_number("factor", self.factor, low=0, high=1,
                                   low_open=True, high_open=True)
        self.patience = check_int("patience", self.patience, low=0,
                                  high=10**15)
        self.min_delta = check_number("min_delta", self.min_delta, low=0)
        self.min_lr = check_number("min_lr", self.min_lr, low=0)

    def rate(self, epoch, n_samples=1):
        return self.lr


class Warmup(Schedule):
    """A linear warm-up before ``schedule``: for ``epoch < epochs`` the rate
    is ``lr * (start_factor + (1 - start_factor) * epoch / epochs)``, then
    ``schedule`` runs on ``epoch - epochs`` (PyTorch's ``LinearLR`` chained
    to it by ``SequentialLR``)."""

    stateful = False

    def __init__(self, schedule, epochs, start_factor=0.0):
        if isinstance(schedule, (int, float)) and not isinstance(schedule,
                                                                 bool):
            schedule = Constant(schedule)
        if not isinstance(schedule, Schedule) or isinstance(schedule, Warmup):
            raise TypeError("Warmup needs a schedule (or a constant rate), "
                            f"got {schedule!r}")
        self.schedule = schedule
        self.epochs = check_int("epochs", epochs, low=0, high=2**31 - 1)
        self.start_factor = check_number("start_factor", start_factor, low=0,
                                         high=1)
        self.kind = schedule.kind
        self.stateful = schedule.stateful

    @property
    def lr(self):
        return self.schedule.lr

    def settings(self):
        return self.schedule.settings()

    def engine(self):
        lr, (kind, values, _, _) = self.schedule.engine()
        return lr, (kind, values, self.epochs, float(self.start_factor))

    def rate(self, epoch, n_samples=1):
        if epoch < self.epochs:
            return self.lr * (self.start_factor + (1 - self.start_factor)
                              * epoch / self.epochs)
        return self.schedule.rate(epoch - self.epochs, n_samples)

    def __repr__(self):
        return (f"Warmup({self.schedule!r}, epochs={self.epochs}, "
                f"start_factor={self.start_factor})")


def resolve_schedule(lr, default):
    """``lr`` of ``fit`` as ``(schedule, callable or None)``: a number is a
    ``Constant`` schedule (``default`` when None), a ``Schedule`` itself, a
    callable ``epoch -> rate`` a constant schedule at ``lr(0)`` with the
    callable kept to set the later epochs' rates."""
    if lr is None:
        return Constant(default), None
    if isinstance(lr, Schedule):
        return lr, None
    if callable(lr):
        return Constant(lr(0)), lr
    return Constant(lr), None

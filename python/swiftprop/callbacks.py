"""Callbacks for ``Network.fit(..., callbacks=[...])``, in the Keras sense.

The training loop runs in the engine; a callback is called from it at the
end of each epoch (``on_epoch_end(epoch, logs)``, 0-based epochs), with
``logs`` holding that epoch's ``loss``, ``lr`` and, when recorded,
``val_loss``, ``accuracy``, ``val_accuracy``, ``r2``, ``val_r2``. A callback
stops training by returning ``False`` or setting ``self.stop_training``, and
sets the next epoch's learning rate by returning a float. Without callbacks
(and without a ``callback``, ``verbose`` or a callable ``lr``) the engine
never calls back into Python during ``fit``.

``EarlyStopping`` is not run in Python: it becomes the engine's stopping
rule (``fit``'s ``tol``, ``patience``, ``monitor`` and
``restore_best_weights``): an epoch counts as no improvement unless the
monitored value beats the best so far by more than ``min_delta``; training
stops after ``patience`` such epochs in a row (the best so far follows every
improvement, however small, as scikit-learn's rule does; Keras moves it
only on improvements above ``min_delta``).

- ``EarlyStopping(monitor, min_delta, patience, restore_best_weights)``
- ``ModelCheckpoint(path, monitor=None, save_best_only=False)``: writes the
  network with ``Network.save`` (atomic: a temporary file renamed over the
  old one, so an interrupted write leaves the previous checkpoint intact).
- ``CSVLogger(path)`` and ``JSONLogger(path)``: one row / one JSON object
  per epoch.
- ``LearningRateScheduler(schedule)``: ``schedule(epoch, lr) -> new lr``
  before each epoch after the first (Keras' signature).
- ``LambdaCallback(on_epoch_end=...)``.
"""

import csv
import json
import math
import os

import numpy as np

from ._validation import check_bool, check_int, check_number

__all__ = ["Callback", "EarlyStopping", "ModelCheckpoint", "CSVLogger",
           "JSONLogger", "LearningRateScheduler", "LambdaCallback",
           "CallbackList"]

_LOG_NAMES = ("loss", "val_loss", "accuracy", "val_accuracy", "r2", "val_r2",
              "lr")


class Callback:
    """Base class: override what you need. ``self.network`` is the network
    being trained and ``self.stop_training`` stops it after this epoch."""

    network = None
    stop_training = False

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_end(self, epoch, logs):
        pass

    def on_train_end(self, logs=None):
        pass


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for
    ``patience`` epochs; with ``restore_best_weights``, end with the best
    epoch's weights. Run by the engine (see the module docstring)."""

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0,
                 restore_best_weights=False):
        self.monitor = monitor
        self.min_delta = check_number("min_delta", min_delta, low=0)
        # Keras counts epochs without improvement and stops when the count
        # reaches patience; patience 0 stops at the first such epoch.
        self.patience = check_int("patience", patience, low=0)
        self.restore_best_weights = check_bool("restore_best_weights",
                                               restore_best_weights)
        self.stopped_epoch = None

    def on_train_end(self, logs=None):
        history = (logs or {}).get("history")
        if history is not None and history.stop_reason == "converged":
            self.stopped_epoch = history.epochs - 1


class ModelCheckpoint(Callback):
    """Save the network to ``path`` after each epoch (with ``monitor`` and
    ``save_best_only``, only when the monitored value improved). ``path``
    may hold ``{epoch}`` (1-based, as Keras) and any log name, e.g.
    ``"ckpt-{epoch:03d}.npz"``."""

    def __init__(self, path, monitor="loss", save_best_only=False,
                 mode="auto"):
        self.path = os.fspath(path)
        self.monitor = monitor
        self.save_best_only = check_bool("save_best_only", save_best_only)
        if mode not in ("auto", "min", "max"):
            raise ValueError("mode must be 'auto', 'min' or 'max'")
        self.maximize = mode == "max" or (mode == "auto" and (
            "accuracy" in monitor or "r2" in monitor))
        self.best = -math.inf if self.maximize else math.inf
        self.saved = []

    def on_epoch_end(self, epoch, logs):
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None or math.isnan(value):
                return
            better = value > self.best if self.maximize else value < self.best
            if not better:
                return
            self.best = value
        path = self.path.format(epoch=epoch + 1, **logs)
        self.network.save(path)
        self.saved.append(path)


class _Logger(Callback):
    def __init__(self, path, append=False):
        self.path = os.fspath(path)
        self.append = check_bool("append", append)
        self._file = None

    def on_train_begin(self, logs=None):
        self._file = open(self.path, "a" if self.append else "w",
                          newline="", encoding="utf-8")

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


class CSVLogger(_Logger):
    """One CSV row per epoch: ``epoch`` (0-based) and the logs."""

    def __init__(self, path, append=False):
        super().__init__(path, append)
        self._writer = None

    def on_epoch_end(self, epoch, logs):
        if self._writer is None:
            self._writer = csv.DictWriter(self._file,
                                          ["epoch", *logs.keys()])
            if not self.append or self._file.tell() == 0:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **logs})
        self._file.flush()


class JSONLogger(_Logger):
    """One JSON object per line and epoch: ``epoch`` (0-based) and the
    logs (NaN written as null)."""

    def on_epoch_end(self, epoch, logs):
        row = {"epoch": epoch}
        row.update({key: None if isinstance(value, float) and math.isnan(value)
                    else value for key, value in logs.items()})
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()


class LearningRateScheduler(Callback):
    """``schedule(epoch, lr) -> new lr``, asked at each epoch's end for the
    next epoch (epoch + 1) with the current rate; the engine's built-in
    schedules (``swiftprop.schedules``) need no Python call."""

    def __init__(self, schedule):
        if not callable(schedule):
            raise TypeError("schedule must be callable as schedule(epoch, lr)")
        self.schedule = schedule

    def on_epoch_end(self, epoch, logs):
        rate = self.schedule(epoch + 1, logs["lr"])
        return check_number("the scheduled lr", rate, low=0, low_open=True)


class LambdaCallback(Callback):
    """A callback from functions: ``on_epoch_end(epoch, logs)``,
    ``on_train_begin(logs)``, ``on_train_end(logs)``."""

    def __init__(self, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None):
        self._epoch_end = on_epoch_end
        self._begin = on_train_begin
        self._end = on_train_end

    def on_train_begin(self, logs=None):
        if self._begin:
            self._begin(logs)

    def on_epoch_end(self, epoch, logs):
        if self._epoch_end:
            return self._epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        if self._end:
            self._end(logs)


class CallbackList:
    """The callbacks of one ``fit`` call, called from its epoch reporter.

    ``EarlyStopping`` entries become the engine's stopping rule
    (``engine_rule``); the others run at epoch ends.
    """

    def __init__(self, callbacks, network):
        if callbacks is None:
            callbacks = []
        if isinstance(callbacks, Callback) or not isinstance(
                callbacks, (list, tuple)):
            raise TypeError("callbacks must be a list of callbacks")
        for callback in callbacks:
            if not hasattr(callback, "on_epoch_end"):
                raise TypeError("a callback needs an on_epoch_end(epoch, logs) "
                                f"method, got {callback!r}")
        stoppers = [c for c in callbacks if isinstance(c, EarlyStopping)]
        if len(stoppers) > 1:
            raise ValueError("give at most one EarlyStopping")
        self.early_stopping = stoppers[0] if stoppers else None
        self.callbacks = [c for c in callbacks
                          if not isinstance(c, EarlyStopping)]
        self.all = list(callbacks)
        self.network = network
        self._records = None

    def __bool__(self):
        return bool(self.callbacks)

    def stopping_rule(self, tol, patience, monitor, restore_best_weights):
        """fit's ``(tol, patience, monitor, restore_best_weights)`` with the
        EarlyStopping callback's in their place, if there is one."""
        stop = self.early_stopping
        if stop is None:
            return tol, patience, monitor, restore_best_weights
        if tol is not None or monitor is not None or restore_best_weights:
            raise ValueError("give either tol/monitor/restore_best_weights "
                             "or an EarlyStopping callback, not both")
        # The engine stops when its count reaches patience >= 1; Keras'
        # patience 0 stops at the first epoch without improvement, as 1.
        return (stop.min_delta, max(stop.patience, 1), stop.monitor,
                stop.restore_best_weights)

    def begin(self, history, val_history, records, extras):
        self._records = (history, val_history, records)
        for callback in self.all:
            callback.network = self.network
            callback.stop_training = False
            callback.on_train_begin({})

    def logs(self, epoch, loss, val_loss, lr):
        history, val_history, records = self._records
        logs = {"loss": loss}
        if val_history is not None:
            logs["val_loss"] = val_loss
        for name in ("accuracy", "val_accuracy", "r2", "val_r2"):
            value = records[name][epoch] if name in records else np.nan
            if not np.isnan(value):
                logs[name] = float(value)
        logs["lr"] = lr
        return logs

    def epoch_end(self, epoch, loss, val_loss, lr):
        logs = self.logs(epoch, loss, val_loss, lr)
        answer = None
        for callback in self.callbacks:
            result = callback.on_epoch_end(epoch, logs)
            if (result is False or (isinstance(result, np.bool_) and not result)
                    or getattr(callback, "stop_training", False)):
                answer = False
            elif isinstance(result, (float, int)) and not isinstance(
                    result, bool) and answer is not False:
                answer = float(result)
        return answer

    def end(self, history):
        for callback in self.all:
            callback.on_train_end({"history": history})

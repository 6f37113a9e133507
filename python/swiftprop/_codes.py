"""The engine's vocabulary: every name -> code table of the package.

Each code is numbered once, in ``swiftprop.h``; the extension exports the
``SP_*`` constants and names every code (``_engine.name``). The tables here
are read from the engine when the package is imported, so an activation, a
loss or an optimizer added to the engine is known here without a change:
its name becomes valid wherever a name is checked.

Each table maps a public name to its code, in code order.
"""

from . import _engine

__all__ = ["STATUSES", "DTYPES", "ACTIVATIONS", "LOSSES", "INITIALIZERS",
           "OPTIMIZER_KINDS", "STOP_REASONS", "OUTPUT_ACTIVATION_FOR_LOSS",
           "LABEL_LOSSES", "OPTIMIZER_SETTINGS", "OPTIMIZER_STATE_VECTORS",
           "SCHEDULES", "SCHEDULE_SETTINGS", "MONITORS", "METRICS", "name_of"]


def _vocabulary(vocabulary, count):
    """``{name: code}`` for the codes ``0 .. count - 1`` of a vocabulary."""
    return {_engine.name(vocabulary, code): code for code in range(count)}


STATUSES = _vocabulary(_engine.SP_VOCABULARY_STATUS, _engine.SP_STATUS_COUNT)
DTYPES = _vocabulary(_engine.SP_VOCABULARY_DTYPE, _engine.SP_DTYPE_COUNT)
ACTIVATIONS = _vocabulary(_engine.SP_VOCABULARY_ACTIVATION,
                          _engine.SP_ACTIVATION_COUNT)
LOSSES = _vocabulary(_engine.SP_VOCABULARY_LOSS, _engine.SP_LOSS_COUNT)
INITIALIZERS = _vocabulary(_engine.SP_VOCABULARY_INITIALIZER,
                           _engine.SP_INITIALIZER_COUNT)
OPTIMIZER_KINDS = _vocabulary(_engine.SP_VOCABULARY_OPTIMIZER,
                              _engine.SP_OPTIMIZER_COUNT)
STOP_REASONS = _vocabulary(_engine.SP_VOCABULARY_STOP_REASON,
                           _engine.SP_STOP_REASON_COUNT)
SCHEDULES = _vocabulary(_engine.SP_VOCABULARY_SCHEDULE,
                        _engine.SP_SCHEDULE_COUNT)
MONITORS = _vocabulary(_engine.SP_VOCABULARY_MONITOR, _engine.SP_MONITOR_COUNT)
# The metrics fit can record: name -> bit of the engine's metric set.
METRICS = {"accuracy": _engine.SP_METRIC_ACCURACY, "r2": _engine.SP_METRIC_R2}
# The settings of each schedule after its lr, in the engine's order.
SCHEDULE_SETTINGS = {
    name: tuple(_engine.schedule_setting(code, index)
                for index in range(_engine.schedule_info(code)))
    for name, code in SCHEDULES.items()}


def name_of(table, code):
    """The name of ``code`` in one of the tables above."""
    for name, value in table.items():
        if value == code:
            return name
    raise ValueError(f"unknown code {code}; expected one of: "
                     + ", ".join(f"{value} ({name})"
                                 for name, value in table.items()))


def _loss_facts():
    output_activation, takes_labels = {}, set()
    for loss, code in LOSSES.items():
        activation, labels = _engine.loss_info(code)
        if activation >= 0:
            output_activation[loss] = name_of(ACTIVATIONS, activation)
        if labels:
            takes_labels.add(loss)
    return output_activation, frozenset(takes_labels)


def _optimizer_facts():
    settings, state_vectors = {}, {}
    for kind, code in OPTIMIZER_KINDS.items():
        count, state_vectors[kind] = _engine.optimizer_info(code)
        settings[kind] = tuple(_engine.optimizer_setting(code, index)
                               for index in range(count))
    return settings, state_vectors


# The output activation a loss is fused with, for the losses that need one
# (``binary_cross_entropy``: ``sigmoid``); the others take any. And the
# losses whose targets may be given as class labels (one-hot encoded here).
OUTPUT_ACTIVATION_FOR_LOSS, LABEL_LOSSES = _loss_facts()

# Each optimizer's settings by name, in the order the engine takes their
# values (``lr`` and ``l2`` first), and how many vectors of parameter_count
# values its state holds (SGD: the velocity; Adam: the two moments).
OPTIMIZER_SETTINGS, OPTIMIZER_STATE_VECTORS = _optimizer_facts()

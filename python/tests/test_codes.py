"""One numbering: every code of the engine is defined in swiftprop.h, and
each side that uses it agrees with the header.

A code added or renumbered on one side only fails here: in the header but
not exported by the extension, exported with another value, numbered in the
header but unnamed by the Swift engine (or named twice), named by the
engine but missing from the NumPy reference or from an optimizer class.
The header is read from the source tree (``SWIFTPROP_SOURCE``, set by
scripts/test.sh); the tests that need it are skipped without it.
"""

import dataclasses
import os
import re
from pathlib import Path

import pytest

from swiftprop import _codes, _engine, optimizers, reference
from swiftprop.layers import OUTPUT_ONLY_ACTIVATIONS

# Each vocabulary of _engine.name(), with the header's count sentinel and
# the table swiftprop._codes builds from it.
VOCABULARIES = {
    "STATUS": _codes.STATUSES,
    "DTYPE": _codes.DTYPES,
    "ACTIVATION": _codes.ACTIVATIONS,
    "LOSS": _codes.LOSSES,
    "INITIALIZER": _codes.INITIALIZERS,
    "OPTIMIZER": _codes.OPTIMIZER_KINDS,
    "STOP_REASON": _codes.STOP_REASONS,
    "SCHEDULE": _codes.SCHEDULES,
    "MONITOR": _codes.MONITORS,
}

# Lists whose constants carry the list's name as a prefix
# (SP_SCHEDULE_COSINE is the schedule "cosine").
PREFIXED = ("SCHEDULE", "MONITOR")

# Header constants whose Python name is not their C name in lower case
# without SP_ (SP_STOPPED_BY_CALLBACK is the stop reason "callback").
SPELLED_DIFFERENTLY = {"SP_OK": "ok", "SP_STOPPED_BY_CALLBACK": "callback",
                       "SP_STOPPED_DIVERGED": "diverged"}


def header_path():
    source = os.environ.get("SWIFTPROP_SOURCE")
    if not source:
        pytest.skip("SWIFTPROP_SOURCE (the source tree, set by "
                    "scripts/test.sh) is not set: swiftprop.h is not at hand")
    path = Path(source) / "Sources" / "CSwiftprop" / "include" / "swiftprop.h"
    if not path.is_file():
        pytest.skip(f"no swiftprop.h at {path}")
    return path


def header_enums():
    """Every ``enum { ... };`` of swiftprop.h as a list of (name, value),
    values computed as C does (an explicit ``= N``, else previous + 1)."""
    text = header_path().read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)  # C comments
    enums = []
    for body in re.findall(r"\benum\s*\{(.*?)\}\s*;", text, flags=re.S):
        members, value = [], -1
        for item in body.split(","):
            item = item.strip()
            if not item:
                continue
            match = re.fullmatch(r"(SP_\w+)\s*(?:=\s*(-?\d+))?", item)
            assert match, f"swiftprop.h: cannot read enum member {item!r}"
            value = int(match.group(2)) if match.group(2) else value + 1
            members.append((match.group(1), value))
        enums.append(members)
    assert enums, "swiftprop.h defines no enum"
    return enums


def header_constants():
    return dict(member for enum in header_enums() for member in enum)


def header_list(vocabulary):
    """The enum of swiftprop.h that ends in SP_<vocabulary>_COUNT, without
    the sentinel, and the sentinel's value."""
    sentinel = f"SP_{vocabulary}_COUNT"
    for enum in header_enums():
        names = dict(enum)
        if sentinel in names:
            assert enum[-1][0] == sentinel, (
                f"{sentinel} must be the last member of its enum")
            return enum[:-1], names[sentinel]
    pytest.fail(f"swiftprop.h has no {sentinel}")


# (a) the extension's constants are the header's


# The lists that grow: the package knows their codes by name (from the
# engine), so the extension exports only their counts.
GROWING = ("ACTIVATION", "LOSS", "INITIALIZER", "OPTIMIZER", "SCHEDULE",
           "MONITOR")


def test_every_header_constant_is_exported_with_its_value():
    constants = header_constants()
    growing = {name for vocabulary in GROWING
               for name, _ in header_list(vocabulary)[0]}
    expected = set(constants) - growing
    exported = {name: getattr(_engine, name) for name in dir(_engine)
                if name.startswith("SP_")}
    missing = sorted(expected - set(exported))
    assert not missing, (
        f"swiftprop.h defines {missing} but _engine does not export them: "
        "add PyModule_AddIntMacro lines in _engine.c (add_constants)")
    unknown = sorted(set(exported) - expected)
    assert not unknown, (f"_engine exports {unknown}, which swiftprop.h "
                         "lacks or which belong to a growing list")
    different = {name: (exported[name], constants[name])
                 for name in expected if exported[name] != constants[name]}
    assert not different, ("_engine value vs swiftprop.h value: "
                           f"{different}")


# (b) the engine names exactly the codes 0 .. COUNT - 1 of every list


def test_every_list_has_a_vocabulary_and_a_table():
    sentinels = {name[3:-6] for name in dir(_engine)
                 if name.startswith("SP_") and name.endswith("_COUNT")
                 and name != "SP_VOCABULARY_COUNT"}
    assert sentinels == set(VOCABULARIES)
    vocabularies = {name[len("SP_VOCABULARY_"):] for name in dir(_engine)
                    if name.startswith("SP_VOCABULARY_")
                    and name != "SP_VOCABULARY_COUNT"}
    assert vocabularies == set(VOCABULARIES)
    assert sorted(getattr(_engine, f"SP_VOCABULARY_{name}")
                  for name in vocabularies) == list(range(
                      _engine.SP_VOCABULARY_COUNT))


@pytest.mark.parametrize("vocabulary", VOCABULARIES)
def test_the_engine_names_exactly_the_codes_below_the_sentinel(vocabulary):
    list_code = getattr(_engine, f"SP_VOCABULARY_{vocabulary}")
    count = getattr(_engine, f"SP_{vocabulary}_COUNT")
    names = [_engine.name(list_code, code) for code in range(count)]
    assert all(names) and len(set(names)) == count, names
    for beyond in (-1, count, count + 1):
        with pytest.raises(ValueError, match="unknown"):
            _engine.name(list_code, beyond)
    # The package's table is that list, name -> code, in code order.
    assert VOCABULARIES[vocabulary] == {name: code for code, name
                                        in enumerate(names)}


@pytest.mark.parametrize("vocabulary", VOCABULARIES)
def test_the_header_numbers_each_list_as_the_engine_names_it(vocabulary):
    members, count = header_list(vocabulary)
    assert sorted(value for _, value in members) == list(range(count)), (
        f"the SP_* codes before SP_{vocabulary}_COUNT must be 0 .. "
        f"{count - 1}, got {members}")
    table = VOCABULARIES[vocabulary]
    for constant, value in members:
        name = SPELLED_DIFFERENTLY.get(constant, constant[3:].lower())
        if vocabulary in PREFIXED:
            name = name.removeprefix(vocabulary.lower() + "_")
        assert table.get(name) == value, (
            f"swiftprop.h has {constant} = {value}, but the engine names "
            f"code {value} {_codes.name_of(table, value)!r}")


def test_an_unknown_vocabulary_is_refused():
    with pytest.raises(ValueError, match="unknown vocabulary"):
        _engine.name(_engine.SP_VOCABULARY_COUNT, 0)


# What the engine says about losses and optimizers


def test_loss_facts_come_from_the_engine():
    for loss, code in _codes.LOSSES.items():
        activation, takes_labels = _engine.loss_info(code)
        if activation < 0:
            assert loss not in _codes.OUTPUT_ACTIVATION_FOR_LOSS
        else:
            assert _codes.OUTPUT_ACTIVATION_FOR_LOSS[loss] == _codes.name_of(
                _codes.ACTIVATIONS, activation)
        assert (loss in _codes.LABEL_LOSSES) == takes_labels
    with pytest.raises(ValueError, match="unknown loss"):
        _engine.loss_info(_engine.SP_LOSS_COUNT)


def test_optimizer_facts_come_from_the_engine():
    for kind, code in _codes.OPTIMIZER_KINDS.items():
        count, state_vectors = _engine.optimizer_info(code)
        settings = _codes.OPTIMIZER_SETTINGS[kind]
        assert len(settings) == count == len(set(settings))
        assert settings[:2] == ("lr", "l2")  # the header's promise
        assert 0 <= state_vectors <= 2  # first and second
        assert _codes.OPTIMIZER_STATE_VECTORS[kind] == state_vectors
        with pytest.raises(ValueError, match="has no setting"):
            _engine.optimizer_setting(code, count)
    with pytest.raises(ValueError, match="unknown optimizer"):
        _engine.optimizer_info(_engine.SP_OPTIMIZER_COUNT)


# (c) the NumPy reference implements exactly the engine's names


def test_reference_activations_are_the_engines():
    assert list(reference.ACTIVATIONS) == list(_codes.ACTIVATIONS)
    # Output-only activations (softmax) have a Jacobian, no derivative.
    assert set(reference.DERIVATIVES) == (set(_codes.ACTIVATIONS)
                                          - {"softmax"})
    assert OUTPUT_ONLY_ACTIVATIONS <= set(_codes.ACTIVATIONS)


def test_reference_losses_are_the_engines():
    assert list(reference.LOSS_FUNCTIONS) == list(_codes.LOSSES)
    assert list(reference.OUTPUT_DELTAS) == list(_codes.LOSSES)


def test_reference_optimizers_and_initializers_are_the_engines():
    assert set(reference.UPDATE_RULES) == set(_codes.OPTIMIZER_KINDS)
    assert list(reference.WEIGHT_DRAWS) == list(_codes.INITIALIZERS)


# (d) each optimizer class is one of the engine's kinds, with its settings


def test_optimizer_classes_are_the_engines_kinds():
    assert set(optimizers.OPTIMIZERS) == set(_codes.OPTIMIZER_KINDS)
    for name, cls in optimizers.OPTIMIZERS.items():
        assert cls.name == name
        assert issubclass(cls, optimizers.Optimizer)


@pytest.mark.parametrize("name", list(optimizers.OPTIMIZERS))
def test_optimizer_fields_are_the_engines_settings(name):
    cls = optimizers.OPTIMIZERS[name]
    fields = [field.name for field in dataclasses.fields(cls)]
    assert sorted(fields) == sorted(_codes.OPTIMIZER_SETTINGS[name])
    # Sent by name, in the engine's order.
    optimizer = cls()
    kind, values = optimizers.engine_settings(optimizer)
    assert kind == _codes.OPTIMIZER_KINDS[name]
    assert values == tuple(float(getattr(optimizer, setting))
                           for setting in _codes.OPTIMIZER_SETTINGS[name])


def test_reference_refuses_an_optimizer_it_does_not_implement(monkeypatch):
    @dataclasses.dataclass(frozen=True)
    class Unknown(optimizers.Optimizer):
        lr: float = 0.1
        l2: float = 0.0
        name = "unknown"

    monkeypatch.setitem(optimizers.OPTIMIZERS, "unknown", Unknown)
    net = reference.Network([2, 1], seed=0)
    weights = net.weights
    X, y = [[0.0, 1.0]], [[1.0]]
    for train in (net.train_step, net.fit):
        with pytest.raises(ValueError, match="reference has no optimizer "
                                             "'unknown'"):
            train(X, y, optimizer="unknown")
    for (W, b), (W2, b2) in zip(weights, net.weights):
        assert (W == W2).all() and (b == b2).all()


# (e) each schedule class is one of the engine's schedules, with its settings


def test_schedule_classes_are_the_engines_schedules():
    from swiftprop import schedules
    classes = {cls.kind: cls for cls in vars(schedules).values()
               if isinstance(cls, type) and issubclass(cls, schedules.Schedule)
               and cls.kind is not None}
    assert set(classes) == set(_codes.SCHEDULES)
    for kind, cls in classes.items():
        fields = [field.name for field in dataclasses.fields(cls)]
        assert fields == ["lr", *_codes.SCHEDULE_SETTINGS[kind]]
        with pytest.raises(ValueError, match="has no setting"):
            _engine.schedule_setting(_codes.SCHEDULES[kind],
                                     len(_codes.SCHEDULE_SETTINGS[kind]))
    with pytest.raises(ValueError, match="unknown schedule"):
        _engine.schedule_info(_engine.SP_SCHEDULE_COUNT)

"""Property-based fuzzing of the public API with Hypothesis.

Every call with random shapes, dtypes, memory layouts, values and settings
either gives the right answer (the same as the call on a clean
``np.ascontiguousarray(x, dtype=float64)`` copy, and what
``swiftprop.reference`` computes) or raises ``ValueError``/``TypeError``
(``MemoryError`` for absurd sizes) whose message names the argument. The
interpreter never dies, inputs are never modified, a call that raises
changes nothing, and the weights stay finite whatever the data does inside
the network (overflow to inf is allowed in outputs and gradients, never in
the stored weights).

Bugs the fuzzers found are pinned by regression tests at the end of the
file. ``KNOWN_BUGS`` lets the fuzzers tolerate a failure while its bug is
open (set its entry to True and mark its regression test xfail); all are
fixed now.
"""

import math
import warnings
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

import swiftprop as sp
import swiftprop.reference as reference
from conftest import HIDDEN_ACTIVATIONS
from swiftprop._codes import (ACTIVATIONS as ALL_ACTIVATIONS, INITIALIZERS,
                              LABEL_LOSSES, LOSSES,
                              OUTPUT_ACTIVATION_FOR_LOSS)


def fuzz(examples):
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# -------------------------------------------------------------- strategies

NUMERIC_DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8",
                  "uint16", "uint32", "uint64", "float16", "float32",
                  "float64", "longdouble", ">f8", ">f4", ">i4", "<u2"]
OTHER_DTYPES = ["complex64", "complex128", "clongdouble", "object", "U6",
                "S6", "datetime64[s]", "timedelta64[ms]"]
ALL_DTYPES = NUMERIC_DTYPES + OTHER_DTYPES

SPECIAL_FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1e308, -1e308,
                  1.7976931348623157e308, 5e-324, -5e-324, 1e-310,
                  2.2250738585072014e-308, 3.4e38, 1e-45, 65504.0, 1e4,
                  float("nan"), float("inf"), float("-inf")]
MODERATE_FLOATS = st.floats(-3, 3, allow_nan=False, allow_infinity=False)
FLOAT_VALUES = st.one_of(MODERATE_FLOATS, MODERATE_FLOATS,
                         st.sampled_from(SPECIAL_FLOATS))
LAYOUTS = ["C", "F", "strided", "negative", "transposed", "readonly",
           "unaligned", "unaligned readonly", "list"]
ACTIVATIONS = HIDDEN_ACTIVATIONS
OUTPUT_ACTIVATIONS = list(ALL_ACTIVATIONS)


@st.composite
def values_array(draw, shape, dtypes=ALL_DTYPES, finite=False):
    """An array of ``shape`` and a random dtype, with awkward values."""
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    n = math.prod(shape)
    kind = dtype.kind
    floats = MODERATE_FLOATS if finite else FLOAT_VALUES
    if kind == "b":
        values = np.array(draw(st.lists(st.booleans(), min_size=n,
                                        max_size=n)), dtype=bool)
    elif kind in "iu":
        info = np.iinfo(dtype)
        ints = st.integers(max(info.min, -3), min(info.max, 3))
        if not finite:
            ints = st.one_of(ints, ints, st.sampled_from([info.min,
                                                          info.max]))
        values = np.array(draw(st.lists(ints, min_size=n, max_size=n)),
                          dtype=dtype)
    elif kind in "mM":
        values = np.array(draw(st.lists(st.integers(-5, 5), min_size=n,
                                        max_size=n)),
                          dtype=np.int64).astype(dtype)
    else:
        raw = np.array(draw(st.lists(floats, min_size=n, max_size=n)),
                       dtype=np.float64)
        with np.errstate(all="ignore"):
            if kind == "c":
                values = (raw + 1j * raw[::-1]).astype(dtype)
            elif kind == "O":
                values = np.array(raw.tolist() + [None], dtype=object)[:-1]
            else:
                values = raw.astype(dtype)
    return values.reshape(shape)


def lay_out(array, layout):
    """The same logical content as ``array`` in another memory layout."""
    if layout == "list" and array.dtype.kind in "biuf" and \
            array.dtype.isnative:
        return array.tolist()
    if array.ndim == 0 or layout in ("C", "list"):
        return array.copy()
    if layout == "F":
        return np.asfortranarray(array)
    if layout == "strided":
        big = np.zeros(tuple(2 * s for s in array.shape), dtype=array.dtype)
        big[tuple(slice(None, None, 2) for _ in array.shape)] = array
        return big[tuple(slice(None, None, 2) for _ in array.shape)]
    if layout == "negative":
        flipped = array[tuple(slice(None, None, -1) for _ in array.shape)]
        return flipped.copy()[tuple(slice(None, None, -1)
                                    for _ in array.shape)]
    if layout == "transposed":
        return np.ascontiguousarray(array.T).T
    if layout == "readonly":
        copy = array.copy()
        copy.setflags(write=False)
        return copy
    # Unaligned: a buffer that starts one byte into a bytearray.
    if array.dtype.hasobject or array.dtype.itemsize < 2:
        return array.copy()
    raw = bytearray(array.nbytes + 1)
    view = np.frombuffer(raw, dtype=array.dtype, offset=1,
                         count=array.size).reshape(array.shape)
    view[...] = array
    if layout == "unaligned readonly":
        view = np.frombuffer(bytes(raw), dtype=array.dtype, offset=1,
                             count=array.size).reshape(array.shape)
    return view


def snapshot(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    import copy
    return copy.deepcopy(value)


def assert_unchanged(value, before):
    if isinstance(value, np.ndarray):
        assert value.dtype == before.dtype and value.shape == before.shape
        if value.dtype.hasobject:
            assert list(map(repr, value.ravel())) == list(
                map(repr, before.ravel()))
        else:  # bit for bit, NaN included
            assert np.ascontiguousarray(value).tobytes() == \
                np.ascontiguousarray(before).tobytes()
    else:
        assert value == before or np.array_equal(
            np.asarray(value), np.asarray(before), equal_nan=True)


def expected_x_error(array, n_inputs, dtype):
    """The exception the checks must raise for ``X`` (None: valid)."""
    if array.dtype.kind not in "biuf":
        return TypeError
    if array.ndim == 1 and array.size == n_inputs:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] != n_inputs:
        return ValueError
    with np.errstate(all="ignore"):
        if not np.isfinite(array.astype(dtype)).all():
            return ValueError
    return None


def expected_y_error(array, n_samples, n_outputs, loss, dtype):
    """The exception the checks must raise for ``y`` (None: valid)."""
    kind = array.dtype.kind
    if kind not in "biuf":
        return TypeError
    if loss in LABEL_LOSSES and kind in "biu" and (
            array.ndim == 1 or (array.ndim == 2 and array.shape[1] == 1
                                and n_outputs > 1)):
        labels = array.reshape(-1).astype(np.int64) if kind != "u" else \
            array.reshape(-1)
        if labels.shape[0] != n_samples:
            return ValueError
        if labels.size and (labels.min() < 0 or labels.max() >= n_outputs):
            return ValueError
        return None
    if loss in LABEL_LOSSES and kind == "f" and n_outputs > 1 and (
            array.ndim == 1 or (array.ndim == 2 and array.shape[1] == 1)):
        return TypeError  # float class labels: labels must be integers
    if array.ndim == 1 and n_outputs == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2 or array.shape != (n_samples, n_outputs):
        return ValueError
    with np.errstate(all="ignore"):
        values = array.astype(dtype)
        if not np.isfinite(values).all():
            return ValueError
    # The probability losses are unbounded below outside these targets;
    # the Poisson loss takes counts or rates.
    if loss == "binary_cross_entropy" and (values.min() < 0
                                           or values.max() > 1):
        return ValueError
    if loss in ("cross_entropy", "poisson") and values.min() < 0:
        return ValueError
    return None


@st.composite
def networks(draw, max_width=4, losses=tuple(LOSSES)):
    """Keyword arguments of a small valid network."""
    n_layers = draw(st.integers(1, 3))
    sizes = draw(st.lists(st.integers(1, max_width), min_size=n_layers + 1,
                          max_size=n_layers + 1))
    loss = draw(st.sampled_from(losses))
    output = OUTPUT_ACTIVATION_FOR_LOSS.get(loss)
    if output is None:
        output = draw(st.sampled_from(OUTPUT_ACTIVATIONS))
    return dict(layers=sizes, activation=draw(st.sampled_from(ACTIVATIONS)),
                output_activation=output, loss=loss,
                dtype=draw(st.sampled_from(["float64", "float32"])),
                init=draw(st.sampled_from(list(INITIALIZERS))),
                seed=draw(st.integers(0, 2**64 - 1)))


def both(kwargs):
    """The engine network and its NumPy reference, with the same weights."""
    return sp.Network(**kwargs), reference.Network(**kwargs)


def tolerances(dtype):
    return (dict(rtol=1e-9, atol=1e-12) if np.dtype(dtype) == np.float64
            else dict(rtol=2e-4, atol=2e-5))


def all_finite(pairs):
    return all(np.isfinite(W).all() and np.isfinite(b).all()
               for W, b in pairs)


def same_weights(a, b):
    for (W1, b1), (W2, b2) in zip(a, b):
        np.testing.assert_array_equal(W1, W2)
        np.testing.assert_array_equal(b1, b2)


def moderate(array):
    with np.errstate(all="ignore"):
        return bool((np.abs(np.asarray(array, dtype=np.float64)) <= 1e3)
                    .all())


def raises_naming(exception, words, call):
    """Call ``call``; it must raise ``exception`` naming one of ``words``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(exception) as info:
            call()
    message = str(info.value)
    assert any(word in message for word in words), (words, message)
    return info.value


def quietly(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with np.errstate(all="ignore"):
            return call()


# ------------------------------------------------------------------ shapes

def shapes(n_columns):
    """Shapes of 0 to 3 dimensions around ``n_columns``; 0 and 1 included."""
    dims = st.sampled_from([0, 1, 2, 3, n_columns, n_columns + 1])
    return st.one_of(
        st.tuples(st.integers(1, 4), st.just(n_columns)),  # mostly valid
        st.tuples(st.integers(1, 4), st.just(n_columns)),
        st.lists(dims, min_size=0, max_size=3).map(tuple))


# ----------------------------------------------------------------- predict

@fuzz(900)
@given(data=st.data(), kwargs=networks())
def test_predict_any_input(data, kwargs):
    net, ref = both(kwargs)
    n_in = net.n_inputs
    array = data.draw(shapes(n_in).flatmap(values_array), label="X")
    layout = data.draw(st.sampled_from(LAYOUTS), label="layout")
    X = lay_out(array, layout)
    note(f"X dtype {array.dtype} shape {array.shape} layout {layout}")
    before, weights = snapshot(X), net.weights
    error = expected_x_error(np.asarray(X), n_in, net.dtype)
    event(f"{error.__name__ if error else 'computed'}")
    if error is not None:
        raises_naming(error, ["X"], lambda: net.predict(X))
    else:
        out = quietly(lambda: net.predict(X))
        clean = np.ascontiguousarray(np.asarray(X), dtype=np.float64)
        expected = quietly(lambda: net.predict(clean))
        assert out.dtype == net.dtype and out.flags.c_contiguous
        np.testing.assert_array_equal(out, expected)
        if moderate(clean):
            np.testing.assert_allclose(out, ref.predict(clean),
                                       **tolerances(net.dtype))
            # exp grows past the float range from a moderate z (z > 88 in
            # float32): there inf is the true output, as the twin's.
            if net.layers[-1].activation != "exp":
                assert np.isfinite(out).all()
    assert_unchanged(X, before)
    same_weights(weights, net.weights)


# ------------------------------------------------- gradients, loss, fitting

@st.composite
def samples(draw, net):
    """(X, y) with one or both of them fuzzed."""
    n = draw(st.integers(1, 5))
    which = draw(st.sampled_from(["X", "y", "both", "neither"]))
    if which in ("X", "both"):
        X = draw(shapes(net.n_inputs).flatmap(values_array), label="X")
        X = lay_out(X, draw(st.sampled_from(LAYOUTS), label="X layout"))
        shape = np.shape(X)
        if len(shape) == 2:
            n = shape[0]
        elif len(shape) == 1 and shape[0] == net.n_inputs:
            n = 1
    else:
        X = draw(values_array((n, net.n_inputs), dtypes=["float64"],
                              finite=True))
    if net.loss_name in LABEL_LOSSES and draw(st.booleans()):
        y_shape = draw(st.sampled_from([(n,), (n, 1), (n + 1,), (n, 2)]))
        labels = draw(st.sampled_from(["int8", "int64", "uint8", "uint64",
                                       "bool", ">i4"]))
        y = draw(values_array(y_shape, dtypes=[labels]), label="labels")
    elif which in ("y", "both"):
        y_shapes = st.one_of(st.just((n, net.n_outputs)),
                             st.just((n, net.n_outputs)),
                             st.just((n,)), shapes(net.n_outputs))
        y = draw(y_shapes.flatmap(values_array), label="y")
    else:
        y = draw(values_array((n, net.n_outputs), dtypes=["float64"],
                              finite=True))
        if net.loss_name != "mse":
            y = np.abs(np.tanh(y))
        if net.loss_name == "cross_entropy":
            y = y / y.sum(axis=1, keepdims=True).clip(1e-3)
    if isinstance(y, np.ndarray) and which in ("y", "both"):
        y = lay_out(y, draw(st.sampled_from(LAYOUTS), label="y layout"))
    return X, y


def expected_samples_error(net, X, y):
    X, y = np.asarray(X), np.asarray(y)
    error = expected_x_error(X, net.n_inputs, net.dtype)
    if error is not None:
        return error, ["X"]
    n = 1 if X.ndim == 1 else X.shape[0]
    error = expected_y_error(y, n, net.n_outputs, net.loss_name, net.dtype)
    return (error, ["y"]) if error is not None else (None, None)


METHODS = ["gradients", "loss", "backward", "train_step", "fit"]


@fuzz(900)
@given(data=st.data(), kwargs=networks(),
       method=st.sampled_from(METHODS))
def test_samples_any_input(data, kwargs, method):
    net, ref = both(kwargs)
    X, y = data.draw(samples(net))
    note(f"X {np.asarray(X).dtype} {np.shape(X)}, y {np.asarray(y).dtype} "
         f"{np.shape(y)}")
    before_X, before_y, weights = snapshot(X), snapshot(y), net.weights
    if (KNOWN_BUGS["boolean class labels"] and net.loss_name ==
            "cross_entropy" and np.asarray(y).dtype.kind == "b"):
        return  # see test_boolean_class_labels_are_labels
    calls = {
        "gradients": lambda n, a, b: n.gradients(a, b),
        "loss": lambda n, a, b: n.loss(a, b),
        "backward": lambda n, a, b: n.backward(a, b)["gradients"],
        "train_step": lambda n, a, b: n.train_step(a, b, lr=0.1),
        "fit": lambda n, a, b: n.fit(a, b, epochs=2, lr=0.1, batch_size=2),
    }
    call = calls[method]
    error, words = expected_samples_error(net, X, y)
    event(f"{error.__name__ + ' ' + words[0] if error else 'computed'}")
    if error is not None:
        raises_naming(error, words, lambda: call(net, X, y))
        same_weights(weights, net.weights)
    else:
        clean_X = np.ascontiguousarray(np.asarray(X), dtype=np.float64)
        clean_y = np.asarray(y)
        if clean_y.dtype.kind == "f":
            clean_y = np.ascontiguousarray(clean_y, dtype=np.float64)
        twin = sp.Network(**kwargs)
        try:
            got = quietly(lambda: call(net, X, y))
        except FloatingPointError:
            # train_step refuses a non-finite step and changes nothing.
            assert method == "train_step"
            same_weights(weights, net.weights)
            with pytest.raises(FloatingPointError):
                quietly(lambda: call(twin, clean_X, clean_y))
            got = None
        if got is not None:
            expected = quietly(lambda: call(twin, clean_X, clean_y))
            compare_results(got, expected)
            same_weights(net.weights, twin.weights)
        assert all_finite(net.weights)
        if got is not None and method in ("gradients", "loss") and \
                moderate(clean_X) and moderate(clean_y):
            wanted = getattr(ref, method)(clean_X, clean_y)
            compare_results(got, wanted, **tolerances(net.dtype))
    assert_unchanged(X, before_X)
    assert_unchanged(y, before_y)
    # Finite weights may still be huge (a target of -2**63 drives them
    # towards 1e300 in a few steps), so the output may overflow: predict
    # must work, not necessarily be finite.
    out = quietly(lambda: net.predict(np.zeros((1, net.n_inputs))))
    assert out.shape == (1, net.n_outputs)


def compare_results(a, b, **close):
    if isinstance(a, sp.History):
        assert a.stop_reason == b.stop_reason
        np.testing.assert_array_equal(a.loss, b.loss)
        return
    flat_a = [np.ravel(part) for pair in a for part in pair] if isinstance(
        a, list) else [np.atleast_1d(a)]
    flat_b = [np.ravel(part) for pair in b for part in pair] if isinstance(
        b, list) else [np.atleast_1d(b)]
    for x, z in zip(flat_a, flat_b, strict=True):
        if close:
            np.testing.assert_allclose(x, z, **close)
        else:
            np.testing.assert_array_equal(x, z)


# ------------------------------------------- extreme values inside the net

EXTREME = st.sampled_from([1e308, -1e308, 1.7976931348623157e308, 1e154,
                           -1e200, 1e38, 5e-324, 1e-310, 0.0, 1.0])


@fuzz(500)
@given(kwargs=networks(), data=st.data(),
       lr=st.sampled_from([0.01, 1.0, 1e10, 1e300, 1.7e308]),
       optimizer=st.sampled_from(["sgd", "adam"]))
def test_finite_extremes_never_corrupt_the_weights(kwargs, data, lr,
                                                   optimizer):
    """Finite but huge inputs, targets, weights and learning rates may
    overflow inside the network: predict and gradients may then return inf
    or NaN (it is their true value in floating point), but fit and
    train_step never store a non-finite weight."""
    net = sp.Network(**kwargs)
    n = data.draw(st.integers(1, 4))
    X = np.array(data.draw(st.lists(st.one_of(EXTREME, MODERATE_FLOATS),
                                    min_size=n * net.n_inputs,
                                    max_size=n * net.n_inputs))).reshape(
        n, net.n_inputs)
    if net.loss_name in LABEL_LOSSES:
        y = np.array(data.draw(st.lists(st.integers(0, net.n_outputs - 1),
                                        min_size=n, max_size=n)))
    else:
        y = np.array(data.draw(st.lists(st.one_of(EXTREME, MODERATE_FLOATS),
                                        min_size=n * net.n_outputs,
                                        max_size=n * net.n_outputs))
                     ).reshape(n, net.n_outputs)
    if data.draw(st.booleans(), label="huge weights"):
        scale = data.draw(EXTREME)
        with np.errstate(all="ignore"):
            weights = [(np.full_like(W, scale), np.full_like(b, -scale))
                       for W, b in net.weights]
        with np.errstate(all="ignore"):
            cast_ok = all_finite([(W.astype(net.dtype), b.astype(net.dtype))
                                  for W, b in weights])
        if cast_ok:
            net.set_weights(weights)
        else:
            raises_naming(ValueError, ["layer 0 W", "layer 0 b"],
                          lambda: net.set_weights(weights))
    if expected_x_error(X, net.n_inputs, net.dtype) or expected_y_error(
            y, n, net.n_outputs, net.loss_name, net.dtype):
        raises_naming(ValueError, ["X", "y"], lambda: net.fit(X, y))
        return
    start = net.weights
    out = quietly(lambda: net.predict(X))
    assert out.shape == (n, net.n_outputs)
    quietly(lambda: net.gradients(X, y))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = net.fit(X, y, epochs=3, lr=lr, optimizer=optimizer)
    assert history.stop_reason in ("completed", "diverged")
    event(history.stop_reason)
    diverged = [w for w in caught if issubclass(w.category, RuntimeWarning)
                and "diverged" in str(w.message)]
    assert bool(diverged) == (history.stop_reason == "diverged")
    assert len(history.loss) == history.epochs
    assert all(math.isfinite(loss) for loss in history.loss)
    assert all_finite(net.weights), "fit stored a non-finite weight"
    if history.stop_reason == "diverged" and history.epochs == 0:
        # Refused at the first step: nothing was applied.
        same_weights(start, net.weights)
    try:
        quietly(lambda: net.train_step(X, y, lr=lr, optimizer=optimizer))
    except FloatingPointError as error:
        assert "NaN" in str(error) or "infinite" in str(error)
    assert all_finite(net.weights), "train_step stored a non-finite weight"


# ------------------------------------------------------ hyperparameters

WEIRD = [0, 1, -1, 0.0, -0.0, 0.5, 0.999999, 1.0, 2, 7, 1e308, -1e308,
         5e-324, float("nan"), float("inf"), float("-inf"), 2**31, 2**63,
         2**64, -2**63, 2**70, True, False, None, "0.1", "sgd", b"1", [0.1],
         (1,), {}, 1j, np.float32(0.1), np.float64(0.9), np.int64(3),
         np.uint64(2**64 - 1), np.bool_(True), np.float16(0.5), Fraction(1, 3),
         Decimal("0.1"), np.array(0.1), np.array([0.1]), object()]

# (parameter, optimizer, the words an error about it must contain)
FIT_PARAMETERS = [
    ("epochs", "sgd"), ("lr", "sgd"), ("lr", "adam"), ("batch_size", "sgd"),
    ("shuffle", "sgd"), ("verbose", "sgd"), ("tol", "sgd"),
    ("patience", "sgd"), ("momentum", "sgd"), ("nesterov", "sgd"),
    ("l2", "sgd"), ("l2", "adam"), ("beta1", "adam"), ("beta2", "adam"),
    ("eps", "adam"), ("optimizer", None), ("callback", "sgd"),
    ("validation_data", "sgd"),
]


def beyond_int64(value):
    return isinstance(value, (int, np.integer)) and not isinstance(
        value, (bool, np.bool_)) and not -2**63 <= int(value) < 2**63


def known_bug(parameter, value, error):
    """True when ``error`` is one of the failures pinned in KNOWN_BUGS."""
    if KNOWN_BUGS["ints beyond int64"] and isinstance(error, OverflowError) \
            and beyond_int64(value):
        return True
    if KNOWN_BUGS["huge int as float"] and isinstance(error, OverflowError) \
            and isinstance(value, int) and abs(value) > 1.8e308:
        return True
    if KNOWN_BUGS["numpy bool rejected"] and isinstance(error, TypeError) \
            and isinstance(value, np.bool_):
        return True
    if KNOWN_BUGS["huge epochs"] and parameter == "epochs" and isinstance(
            error, ValueError) and ("array" in str(error)
                                    or "dimension" in str(error)):
        return True
    return False


@fuzz(700)
@given(data=st.data(), entry=st.sampled_from(FIT_PARAMETERS),
       value=st.sampled_from(WEIRD), use_nesterov_momentum=st.booleans())
def test_fit_hyperparameters(data, entry, value, use_nesterov_momentum):
    parameter, optimizer = entry
    if parameter == "epochs" and isinstance(value, (int, float, np.number)) \
            and not isinstance(value, (bool, np.bool_)) and \
            100 < float(value) < 1e12:
        value = 10**13  # absurd, but must not try to fill 8 GB of history
    kwargs = {parameter: value}
    if parameter == "optimizer":
        options = {}
    else:
        options = {"optimizer": optimizer}
    if parameter == "nesterov" and use_nesterov_momentum:
        options["momentum"] = 0.5
    if parameter == "validation_data" and data.draw(st.booleans()):
        kwargs[parameter] = (value, np.zeros((1, 1)))
    rng = np.random.default_rng(0)
    X, y = rng.uniform(-1, 1, (6, 2)), rng.uniform(0, 1, (6, 1))
    net = sp.Network([2, 3, 1], seed=1)
    twin_ref = reference.Network([2, 3, 1], seed=1)
    start = net.weights
    note(f"fit({parameter}={value!r}, {options})")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = net.fit(X, y, **options, **kwargs)
    except MemoryError:
        assert parameter == "epochs", parameter
        same_weights(start, net.weights)
        return
    except (ValueError, TypeError, OverflowError) as error:
        event(type(error).__name__)
        same_weights(start, net.weights)
        if known_bug(parameter, value, error):
            return
        assert not isinstance(error, OverflowError), error
        message = str(error)
        names = {parameter, "optimizer"} if parameter in (
            "beta1", "eps", "momentum") else {parameter}
        if parameter == "nesterov":
            names.add("momentum")
        if parameter == "validation_data":
            names |= {"validation X", "validation y"}
        if parameter == "callback":
            # A callback that cannot take (epoch, loss) fails when called:
            # Python's own TypeError, which need not name the argument.
            names.add("positional argument")
        assert any(name in message for name in names), (parameter, message)
        return
    event("accepted")
    # Accepted: a completed (or diverged, with its warning) fit whose
    # weights are finite and match the reference's.
    assert history.stop_reason in ("completed", "converged", "diverged",
                                   "callback")
    diverged = any("diverged" in str(w.message) for w in caught)
    assert diverged == (history.stop_reason == "diverged")
    assert all_finite(net.weights)
    assert np.isfinite(net.predict(X)).all()
    if history.stop_reason == "completed" and not diverged:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = twin_ref.fit(X, y, **options, **kwargs)
        if expected.stop_reason == "completed":
            for (W1, b1), (W2, b2) in zip(net.weights, twin_ref.weights):
                np.testing.assert_allclose(W1, W2, rtol=1e-8, atol=1e-12)
                np.testing.assert_allclose(b1, b2, rtol=1e-8, atol=1e-12)


# ------------------------------------------------------------- Network()

def layer_lists():
    size = st.one_of(st.integers(1, 5), st.sampled_from(
        [0, -1, 2**31, 2**40, 2**63, 2**64, 1.5, 2.0, "3", None, True,
         np.int32(2), np.uint8(3), np.int64(-2), [2]]))
    return st.one_of(st.lists(st.integers(1, 5), min_size=2, max_size=4),
                     st.lists(size, min_size=0, max_size=4),
                     st.sampled_from([None, 3, "2,1", b"\x02\x01", (2, 1),
                                      np.array([2, 1]), range(2, 4), {}]))


@fuzz(500)
@given(layers=layer_lists(),
       activation=st.sampled_from(ACTIVATIONS + ["softmax", "Sigmoid", "",
                                                 None, 1, "relu "]),
       output_activation=st.sampled_from(ACTIVATIONS + [None, "softmax",
                                                        "gelu", 0]),
       loss=st.sampled_from(list(LOSSES) + ["MSE", None, 0]),
       dtype=st.sampled_from(["float64", "float32", np.float32, np.float64,
                              "f4", ">f8", "float16", "int32", "complex128",
                              1, "", object, [1]]),
       init=st.sampled_from(list(INITIALIZERS) + ["zeros", None]),
       seed=st.sampled_from([None, 0, 1, 2**64 - 1, 2**64, -1, 1.0, "0",
                             True, np.uint64(5)]))
def test_network_constructor(layers, activation, output_activation, loss,
                             dtype, init, seed):
    arguments = dict(layers=layers, activation=activation,
                     output_activation=output_activation, loss=loss,
                     dtype=dtype, init=init, seed=seed)
    note(repr(arguments))
    try:
        net = sp.Network(**arguments)
    except MemoryError:
        return  # absurd sizes (the engine caps each at 2^31)
    except (ValueError, TypeError, OverflowError) as error:
        if isinstance(error, OverflowError) and KNOWN_BUGS[
                "ints beyond int64"] and any(
                beyond_int64(size) for size in (layers if isinstance(
                    layers, list) else [])):
            return
        assert not isinstance(error, OverflowError), error
        message = str(error)
        assert any(word in message for word in (
            "layer", "activation", "loss", "dtype", "init", "seed",
            "softmax", "sigmoid")), message
        return
    assert net.dtype in (np.float32, np.float64)
    assert all(size >= 1 for size in net.sizes)
    weights = net.weights
    assert all_finite(weights)
    assert np.isfinite(net.predict(np.zeros((2, net.n_inputs)))).all()
    if seed is not None and not isinstance(seed, bool):
        same_weights(weights, sp.Network(**arguments).weights)


# ------------------------------------------------------------ set_weights

@st.composite
def weight_lists(draw, net):
    kind = draw(st.sampled_from(["valid", "valid", "valid", "dtype",
                                 "shape", "count", "structure", "values"]))
    pairs = []
    for layer in net.layers:
        W = draw(values_array((layer.n_in, layer.n_out), dtypes=[
            "float64", "float32", "int64", "bool", "float16", "longdouble",
            ">f8"], finite=True))
        b = draw(values_array((layer.n_out,), dtypes=["float64", "int8"],
                              finite=True))
        if draw(st.booleans()):
            b = b.reshape(1, -1)  # the tutorials' (1, n_out) bias
        W = lay_out(W, draw(st.sampled_from(LAYOUTS)))
        pairs.append([W, b])
    index = draw(st.integers(0, len(pairs) - 1))
    part = draw(st.integers(0, 1))
    if kind == "dtype":
        shape = np.shape(pairs[index][part])
        pairs[index][part] = draw(values_array(shape, dtypes=OTHER_DTYPES))
    elif kind == "shape":
        shape = list(np.shape(pairs[index][part]))
        shape[0] += draw(st.sampled_from([-1, 1])) if shape[0] > 1 else 1
        pairs[index][part] = np.zeros(shape)
    elif kind == "values":
        array = np.array(pairs[index][part], dtype=np.float64)
        array.flat[draw(st.integers(0, array.size - 1))] = draw(
            st.sampled_from([np.nan, np.inf, -np.inf, 1e308, -1e308]))
        pairs[index][part] = array
    elif kind == "count":
        pairs = draw(st.sampled_from([pairs[:-1], pairs + pairs[:1]]))
    elif kind == "structure":
        return draw(st.sampled_from([None, 3, "weights", [None], [(1,)],
                                     [(1, 2, 3)], {}, [[1, 2]] * len(pairs),
                                     iter(pairs)]))
    container = draw(st.sampled_from([list, tuple]))
    return container(tuple(pair) if draw(st.booleans()) else pair
                     for pair in pairs)


@fuzz(400)
@given(kwargs=networks(), data=st.data())
def test_set_weights_any_input(kwargs, data):
    net, ref = both(kwargs)
    weights = data.draw(weight_lists(net))
    start = net.weights
    try:
        quietly(lambda: net.set_weights(weights))
    except (ValueError, TypeError) as error:
        message = str(error)
        assert "weights" in message or "layer" in message, message
        same_weights(start, net.weights)  # all or nothing
        return
    got = net.weights
    assert all_finite(got)
    for (W, b), (W2, b2) in zip(weights, got):
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(
                np.asarray(W, dtype=np.float64).astype(net.dtype), W2)
            np.testing.assert_array_equal(
                np.asarray(b, dtype=np.float64).reshape(-1).astype(net.dtype),
                b2)
    ref.set_weights(got)
    X = np.linspace(-1, 1, 3 * net.n_inputs).reshape(3, net.n_inputs)
    np.testing.assert_allclose(net.predict(X), ref.predict(X),
                               **tolerances(net.dtype))


# -------------------------------------------------------- Network.load

has_load = pytest.mark.skipif(not hasattr(sp.Network, "load"),
                              reason="Network.load does not exist yet")


def load_from_bytes(blob, tmp_path_factory):
    path = tmp_path_factory.mktemp("load") / "network.bin"
    path.write_bytes(blob)
    return sp.Network.load(str(path))


@has_load
@fuzz(300)
@given(blob=st.one_of(st.binary(max_size=256),
                      st.binary(max_size=8).map(lambda b: b * 64)))
def test_load_random_bytes(blob, tmp_path_factory):
    try:
        net = load_from_bytes(blob, tmp_path_factory)
    except (ValueError, TypeError, MemoryError):
        return
    # Random bytes that happen to load must give a working network.
    assert all_finite(net.weights)
    net.predict(np.zeros((1, net.n_inputs)))


@has_load
@fuzz(300)
@given(data=st.data())
def test_load_corrupted_saves(data, tmp_path_factory):
    if not hasattr(sp.Network, "save"):
        pytest.skip("Network.save does not exist")
    net = sp.Network([3, 4, 2], seed=0)
    net.fit(np.eye(3), np.eye(3)[:, :2], epochs=2)
    path = tmp_path_factory.mktemp("save") / "network.bin"
    net.save(str(path))
    blob = bytearray(path.read_bytes())
    action = data.draw(st.sampled_from(["truncate", "flip", "append",
                                        "nan"]))
    if action == "truncate":
        blob = blob[:data.draw(st.integers(0, max(0, len(blob) - 1)))]
    elif action == "flip":
        for _ in range(data.draw(st.integers(1, 4))):
            i = data.draw(st.integers(0, len(blob) - 1))
            blob[i] ^= 1 << data.draw(st.integers(0, 7))
    elif action == "append":
        blob += data.draw(st.binary(min_size=1, max_size=16))
    else:
        i = data.draw(st.integers(0, max(0, len(blob) - 8)))
        blob[i:i + 8] = np.float64(np.nan).tobytes()
    try:
        loaded = load_from_bytes(bytes(blob), tmp_path_factory)
    except (ValueError, TypeError, MemoryError):
        return
    assert all_finite(loaded.weights)
    loaded.predict(np.zeros((1, loaded.n_inputs)))


# --------------------------------------------------- known bugs, pinned

# Failures the fuzzers once found; each entry is False now that its bug is
# fixed, and its regression test below keeps it fixed.
KNOWN_BUGS = {
    "ints beyond int64": False,      # OverflowError instead of ValueError
    "huge int as float": False,      # float(2**2000): OverflowError
    "numpy bool rejected": False,    # shuffle=np.True_: "must be a bool, got bool"
    "huge epochs": False,            # NumPy's "array is too big" names no argument
    "boolean class labels": False,   # bool labels used as a mask
}


@pytest.mark.parametrize("size", [2**63, 2**64])
def test_huge_layer_sizes_raise_value_error_naming_layers(size):
    with pytest.raises(ValueError, match="layer"):
        sp.Network([2, size, 1])


@pytest.mark.parametrize("parameter", ["patience", "verbose"])
def test_huge_fit_counts_raise_value_error_naming_them(parameter):
    X, y = np.zeros((2, 2)), np.zeros((2, 1))
    with pytest.raises(ValueError, match=parameter):
        sp.Network([2, 1], seed=0).fit(X, y, **{parameter: 2**63})


def test_huge_integer_learning_rate_raises_value_error():
    with pytest.raises(ValueError, match="lr"):
        sp.Network([2, 1], seed=0).fit(np.zeros((2, 2)), np.zeros((2, 1)),
                                       lr=2**2000)


@pytest.mark.parametrize("epochs", [2**62, 2**64])
def test_absurd_epochs_are_named(epochs):
    try:
        sp.Network([2, 1], seed=0).fit(np.zeros((2, 2)), np.zeros((2, 1)),
                                       epochs=epochs)
    except MemoryError:
        pass
    except ValueError as error:
        assert "epochs" in str(error)


def test_numpy_bools_are_bools():
    history = sp.Network([2, 1], seed=0).fit(
        np.zeros((2, 2)), np.zeros((2, 1)), shuffle=np.False_)
    assert history.epochs == 1


def test_boolean_class_labels_are_labels():
    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
    net = sp.Network([2, 2], loss="cross_entropy", seed=0)
    labels = np.array([True, False, False])
    np.testing.assert_array_equal(net.gradients(X, labels)[0][0],
                                  net.gradients(X, labels.astype(int))[0][0])

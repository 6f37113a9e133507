"""Bad input never reaches a Swift trap: each case raises a clear Python
exception (or, for layouts that are merely unusual, gives the right
result), the interpreter survives, and inputs are never modified."""

import numpy as np
import pytest

import swiftprop as sp

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
Y = np.array([[0], [1], [1], [0]], dtype=float)


def net():
    return sp.Network([2, 3, 1], seed=0)


def with_nan(a):
    a = a.copy()
    a[1, 0] = np.nan
    return a


def with_inf(a):
    a = a.copy()
    a[0, 0] = -np.inf
    return a


BAD_CALLS = [
    # (description, call, exception, words the message must contain)
    ("3-D X", lambda n: n.predict(np.zeros((2, 2, 2))), ValueError, ["2-D"]),
    ("0-D X", lambda n: n.predict(np.float64(3)), ValueError, ["2-D"]),
    ("feature count", lambda n: n.predict(np.zeros((4, 3))), ValueError,
     ["3 features", "expects 2"]),
    ("sample count", lambda n: n.fit(X, Y[:3]), ValueError,
     ["3 samples", "4"]),
    ("y columns", lambda n: n.loss(X, np.zeros((4, 2))), ValueError,
     ["2 columns", "1 outputs"]),
    ("NaN in X", lambda n: n.fit(with_nan(X), Y), ValueError, ["X", "NaN"]),
    ("inf in X", lambda n: n.predict(with_inf(X)), ValueError, ["X", "NaN"]),
    ("NaN in y", lambda n: n.gradients(X, with_nan(np.hstack([Y, Y]))[:, :1]),
     ValueError, ["y", "NaN"]),
    ("empty X", lambda n: n.predict(np.zeros((0, 2))), ValueError, ["empty"]),
    ("empty fit", lambda n: n.fit(np.zeros((0, 2)), np.zeros((0, 1))),
     ValueError, ["empty"]),
    ("complex X", lambda n: n.predict(X.astype(complex)), TypeError,
     ["complex"]),
    ("object X", lambda n: n.predict(np.array([[None, 1]], dtype=object)),
     TypeError, ["numeric"]),
    ("string X", lambda n: n.predict(np.array([["a", "b"]])), TypeError,
     ["numeric"]),
    ("unknown optimizer", lambda n: n.fit(X, Y, optimizer="adamw"),
     ValueError, ["adamw", "sgd", "adam"]),
    ("lr zero", lambda n: n.fit(X, Y, lr=0), ValueError, ["lr", "> 0"]),
    ("lr negative", lambda n: n.train_step(X, Y, lr=-0.1), ValueError,
     ["lr", "-0.1"]),
    ("lr NaN", lambda n: n.fit(X, Y, lr=float("nan")), ValueError, ["lr"]),
    ("lr string", lambda n: n.fit(X, Y, lr="0.1"), TypeError, ["lr"]),
    ("epochs zero", lambda n: n.fit(X, Y, epochs=0), ValueError,
     ["epochs", ">= 1"]),
    ("epochs float", lambda n: n.fit(X, Y, epochs=2.5), TypeError,
     ["epochs"]),
    ("batch_size zero", lambda n: n.fit(X, Y, batch_size=0), ValueError,
     ["batch_size"]),
    ("momentum above 1", lambda n: n.fit(X, Y, momentum=1.01), ValueError,
     ["momentum"]),
    ("nesterov without momentum", lambda n: n.fit(X, Y, nesterov=True),
     ValueError, ["nesterov"]),
    ("beta1 for sgd", lambda n: n.fit(X, Y, beta1=0.9), TypeError,
     ["beta1"]),
    ("adam beta2", lambda n: n.fit(X, Y, optimizer="adam", beta2=1.5),
     ValueError, ["beta2"]),
    ("negative l2", lambda n: n.fit(X, Y, l2=-1), ValueError, ["l2"]),
    ("eps zero", lambda n: n.numerical_gradients(X, Y, eps=0), ValueError,
     ["eps"]),
    ("callback", lambda n: n.fit(X, Y, callback=3), TypeError, ["callback"]),
    ("validation_data", lambda n: n.fit(X, Y, validation_data=X), TypeError,
     ["validation_data"]),
    ("validation features",
     lambda n: n.fit(X, Y, validation_data=(np.zeros((2, 5)), Y[:2])),
     ValueError, ["validation X", "5 features"]),
    ("set_weights count", lambda n: n.set_weights([(np.zeros((2, 3)),
                                                    np.zeros(3))]),
     ValueError, ["1", "2 layers"]),
    ("set_weights shape", lambda n: n.set_weights(
        [(np.zeros((3, 2)), np.zeros(3)), (np.zeros((3, 1)), np.zeros(1))]),
     ValueError, ["layer 0 W", "(3, 2)", "(2, 3)"]),
    ("set_weights NaN", lambda n: n.set_weights(
        [(np.full((2, 3), np.nan), np.zeros(3)),
         (np.zeros((3, 1)), np.zeros(1))]), ValueError, ["NaN"]),
    ("labels out of range", lambda n: sp.Network(
        [2, 3], loss="cross_entropy").fit(X, np.array([0, 1, 2, 3])),
     ValueError, ["labels", "[0, 2]"]),
]

BAD_NETWORKS = [
    ("unknown activation", dict(layers=[2, 1], activation="sigmod"),
     ValueError, ["sigmod", "identity", "sigmoid", "tanh", "relu"]),
    ("unknown loss", dict(layers=[2, 1], loss="hinge"), ValueError,
     ["hinge", "mse", "cross_entropy"]),
    ("unknown init", dict(layers=[2, 1], init="zeros"), ValueError,
     ["zeros", "xavier", "he"]),
    ("unknown dtype", dict(layers=[2, 1], dtype="float16"), ValueError,
     ["float16", "float32", "float64"]),
    ("one size", dict(layers=[2]), ValueError, ["two sizes"]),
    ("zero size", dict(layers=[2, 0, 1]), ValueError, ["layers[1]", ">= 1"]),
    ("float size", dict(layers=[2, 3.5, 1]), TypeError, ["layers[1]"]),
    ("softmax hidden", dict(layers=[2, 3, 1], activation="softmax"),
     ValueError, ["softmax", "output layer only"]),
    ("cross_entropy without softmax",
     dict(layers=[2, 3, 2], loss="cross_entropy", output_activation="relu"),
     ValueError, ["softmax"]),
    ("negative seed", dict(layers=[2, 1], seed=-1), ValueError, ["seed"]),
    ("chained Dense", dict(layers=[sp.Dense(2, 3), sp.Dense(4, 1)]),
     ValueError, ["layer 1", "n_in=4"]),
]


@pytest.mark.parametrize("description,call,error,words", BAD_CALLS,
                         ids=[case[0] for case in BAD_CALLS])
def test_bad_calls_raise_clear_errors(description, call, error, words):
    n = net()
    before = n.weights
    with pytest.raises(error) as info:
        call(n)
    for word in words:
        assert word in str(info.value), (word, str(info.value))
    # Nothing was changed, and the network still works.
    for (W, b), (W2, b2) in zip(before, n.weights):
        np.testing.assert_array_equal(W, W2)
    assert n.predict(X).shape == (4, 1)


@pytest.mark.parametrize("description,kwargs,error,words", BAD_NETWORKS,
                         ids=[case[0] for case in BAD_NETWORKS])
def test_bad_networks_raise_clear_errors(description, kwargs, error, words):
    with pytest.raises(error) as info:
        sp.Network(**kwargs)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_huge_network_raises_memory_error():
    with pytest.raises(MemoryError):
        sp.Network([1 << 30, 1 << 30, 1])


LAYOUTS = {
    "fortran": lambda a: np.asfortranarray(a),
    "strided view": lambda a: np.repeat(a, 2, axis=0)[::2],
    "negative strides": lambda a: a[::-1][::-1],
    "transposed view": lambda a: np.ascontiguousarray(a.T).T,
    "integers": lambda a: a.astype(np.int64),
    "booleans": lambda a: a.astype(bool),
    "float32 into float64": lambda a: a.astype(np.float32),
    "list": lambda a: a.tolist(),
}


def read_only(a):
    a = a.copy()
    a.setflags(write=False)
    return a


LAYOUTS["read-only"] = read_only


@pytest.mark.parametrize("layout", LAYOUTS)
def test_unusual_layouts_work_and_give_the_same_result(layout):
    n = net()
    make = LAYOUTS[layout]
    X2, Y2 = make(X), make(Y)
    np.testing.assert_array_equal(n.predict(X2), n.predict(X))
    assert n.loss(X2, Y2) == n.loss(X, Y)
    g1, g2 = n.gradients(X2, Y2), n.gradients(X, Y)
    np.testing.assert_array_equal(g1[0][0], g2[0][0])
    a, b = net(), net()
    a.fit(X2, Y2, epochs=3, batch_size=2)
    b.fit(X, Y, epochs=3, batch_size=2)
    np.testing.assert_array_equal(a.weights[0][0], b.weights[0][0])


def test_read_only_memmap_is_legal_input(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    np.testing.assert_array_equal(net().predict(mapped), net().predict(X))


def test_inputs_are_never_modified():
    X32 = X.astype(np.float32)
    Xf = np.asfortranarray(X)
    copies = [X.copy(), Y.copy(), X32.copy(), Xf.copy()]
    n = net()
    n.fit(X, Y, epochs=5, batch_size=2)
    n.fit(Xf, Y, epochs=5)
    n.gradients(X32, Y)
    n.numerical_gradients(X, Y)
    n.train_step(X, Y, lr=0.1)
    weights = n.weights
    saved = [(W.copy(), b.copy()) for W, b in weights]
    n.set_weights(weights)
    for (W, b), (W2, b2) in zip(weights, saved):
        np.testing.assert_array_equal(W, W2)
    for array, copy in zip([X, Y, X32, Xf], copies):
        np.testing.assert_array_equal(array, copy)


def test_engine_rejects_wrong_buffers_directly():
    """The C shim's own checks, for callers that bypass the Python layer."""
    from swiftprop import _engine
    n = net()
    out = np.empty((4, 1))
    with pytest.raises(TypeError, match="float64"):
        _engine.predict(n._handle, X.astype(np.float32), out)
    with pytest.raises(TypeError, match="C-contiguous"):
        _engine.predict(n._handle, np.asfortranarray(np.ones((4, 2))), out)
    with pytest.raises(TypeError, match="writable"):
        _engine.predict(n._handle, X, read_only(out))
    with pytest.raises(ValueError, match="columns"):
        _engine.predict(n._handle, np.ones((4, 3)), out)
    with pytest.raises(ValueError, match="no network has handle"):
        _engine.predict(10 ** 12, X, out)
    with pytest.raises(ValueError, match="NaN"):
        _engine.predict(n._handle, with_nan(X), out)
    with pytest.raises(ValueError):
        _engine.predict(n._handle, X, np.empty((3, 1)))

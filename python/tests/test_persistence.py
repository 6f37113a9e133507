"""Saving, loading, pickling and copying a ``Network``: exact round trips,
atomic writes, and clear errors for damaged files."""

import copy
import os
import pickle

import numpy as np
import pytest

import swiftprop as sp
from swiftprop import persistence

from conftest import random_data

# (layers, activation, loss, dtype, optimizer settings)
CONFIGS = [
    ([3, 5, 2], "tanh", "mse", "float64", dict(optimizer="sgd", lr=0.1)),
    ([3, 5, 2], "relu", "mse", "float32",
     dict(optimizer="sgd", lr=0.05, momentum=0.9, nesterov=True, l2=1e-3)),
    ([3, 6, 4, 1], "sigmoid", "binary_cross_entropy", "float64",
     dict(optimizer="adam", lr=0.01, l2=1e-4)),
    ([3, 4, 3], "leaky_relu", "cross_entropy", "float32",
     dict(optimizer="adam", lr=0.01)),
]


def trained(config, epochs=5, seed=3):
    layers, activation, loss, dtype, settings = config
    net = sp.Network(layers, activation=activation, loss=loss, dtype=dtype,
                     init="he", seed=seed)
    X, y = random_data(loss, 40, layers[0], layers[-1])
    net.fit(X, y, epochs=epochs, batch_size=7, **settings)
    return net, X, y


def assert_same_network(a, b):
    assert a is not b and a._handle != b._handle
    assert (a.sizes, [layer.activation for layer in a.layers], a.loss_name,
            a.dtype, a.init, a.seed) == (
        b.sizes, [layer.activation for layer in b.layers], b.loss_name,
        b.dtype, b.init, b.seed)
    for (Wa, ba), (Wb, bb) in zip(a.weights, b.weights):
        assert Wa.dtype == Wb.dtype == a.dtype
        np.testing.assert_array_equal(Wa, Wb)
        np.testing.assert_array_equal(ba, bb)


def assert_trains_identically(a, b, X, y, settings):
    # Shuffled mini-batches use the generator, momentum and Adam the
    # optimizer state: both must have been carried over for equality.
    history_a = a.fit(X, y, epochs=4, batch_size=7, **settings)
    history_b = b.fit(X, y, epochs=4, batch_size=7, **settings)
    assert history_a.loss == history_b.loss
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert_same_network(a, b)


def pickled(net):
    return pickle.loads(pickle.dumps(net))


def saved_and_loaded(net, tmp_path):
    path = tmp_path / "net.npz"
    net.save(path)
    return sp.Network.load(path)


ROUND_TRIPS = {
    "save/load": saved_and_loaded,
    "pickle": lambda net, tmp_path: pickled(net),
    "deepcopy": lambda net, tmp_path: copy.deepcopy(net),
    "copy": lambda net, tmp_path: copy.copy(net),
}


@pytest.mark.parametrize("round_trip", ROUND_TRIPS)
@pytest.mark.parametrize("config", CONFIGS,
                         ids=[f"{c[2]}-{c[3]}-{c[4]['optimizer']}"
                              for c in CONFIGS])
def test_round_trip_is_exact(config, round_trip, tmp_path):
    net, X, y = trained(config)
    twin = ROUND_TRIPS[round_trip](net, tmp_path)
    assert type(twin) is sp.Network
    assert_same_network(net, twin)
    np.testing.assert_array_equal(net.predict(X), twin.predict(X))
    state, twin_state = net.get_optimizer_state(), twin.get_optimizer_state()
    assert state["kind"] == twin_state["kind"]
    assert state["step"] == twin_state["step"]
    np.testing.assert_array_equal(state["first"], twin_state["first"])
    assert_trains_identically(net, twin, X, y, config[4])


@pytest.mark.parametrize("round_trip", ROUND_TRIPS)
def test_untrained_network_round_trips(round_trip, tmp_path):
    net = sp.Network([2, 3, 1], seed=2**64 - 1)  # the largest seed
    twin = ROUND_TRIPS[round_trip](net, tmp_path)
    assert twin.seed == 2**64 - 1
    assert twin.get_optimizer_state() is None
    X, y = random_data("mse", 10, 2, 1)
    assert_trains_identically(net, twin, X, y, dict(lr=0.5))


def test_copies_are_independent():
    net, X, y = trained(CONFIGS[0])
    twin = copy.deepcopy(net)
    before = net.predict(X)
    twin.fit(X, y, epochs=3, lr=0.5)
    np.testing.assert_array_equal(net.predict(X), before)
    assert not np.array_equal(twin.predict(X), before)
    # Each copy owns its engine network: dropping one leaves the other.
    del net
    assert twin.predict(X).shape == (40, 2)


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_every_pickle_protocol(protocol):
    net, X, _ = trained(CONFIGS[2])
    twin = pickle.loads(pickle.dumps(net, protocol=protocol))
    np.testing.assert_array_equal(net.predict(X), twin.predict(X))


def test_load_builds_the_calling_class(tmp_path):
    class Custom(sp.Network):
        pass

    sp.Network([2, 2, 1], seed=0).save(tmp_path / "net.npz")
    assert type(Custom.load(tmp_path / "net.npz")) is Custom


# MARK: - The file


def test_file_is_a_plain_npz_of_the_documented_arrays(tmp_path):
    net, _, _ = trained(CONFIGS[2])
    net.save(tmp_path / "net.npz")
    with np.load(tmp_path / "net.npz", allow_pickle=False) as archive:
        names = set(archive.files)
        assert str(archive["format"]) == "swiftprop.Network"
        # Without dropout, version 1 (what older readers know).
        assert int(archive["version"]) == 1
        assert persistence.FORMAT_VERSION == 2
        assert archive["sizes"].tolist() == [3, 6, 4, 1]
        assert archive["activations"].tolist() == ["sigmoid"] * 3
        assert str(archive["dtype"]) == "float64"
        assert str(archive["optimizer_kind"]) == "adam"
        assert archive["generator"].dtype == np.uint64
        np.testing.assert_array_equal(archive["W1"], net.weights[1][0])
    assert names == {"format", "version", "sizes", "activations", "loss",
                     "dtype", "init", "seed", "generator", "swiftprop",
                     "W0", "b0", "W1", "b1", "W2", "b2", "optimizer_kind",
                     "optimizer_step", "optimizer_first", "optimizer_second"}


def test_save_writes_the_path_as_given_and_replaces_atomically(tmp_path):
    first = sp.Network([2, 3, 1], seed=0)
    second = sp.Network([2, 3, 1], seed=1)
    path = tmp_path / "model"  # no suffix is added
    first.save(str(path))
    second.save(path)
    assert sorted(os.listdir(tmp_path)) == ["model"]  # no temporary left
    np.testing.assert_array_equal(sp.Network.load(path).weights[0][0],
                                  second.weights[0][0])


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "net.npz"
    sp.Network([2, 3, 1], seed=0).save(path)
    original = path.read_bytes()

    def broken_savez(file, **arrays):
        file.write(b"PK partial")
        raise OSError("disk full")

    monkeypatch.setattr(persistence.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        sp.Network([2, 3, 1], seed=1).save(path)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["net.npz"]


def test_saved_file_gets_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    sp.Network([2, 1], seed=0).save(tmp_path / "net.npz")
    assert (tmp_path / "net.npz").stat().st_mode & 0o777 == 0o666 & ~umask


# MARK: - Damaged and foreign files


@pytest.fixture
def saved(tmp_path):
    net, X, _ = trained(CONFIGS[1])
    path = tmp_path / "net.npz"
    net.save(path)
    return net, X, path


def test_truncated_files_raise_value_error(saved, tmp_path):
    _, _, path = saved
    data = path.read_bytes()
    damaged = tmp_path / "damaged.npz"
    for length in [0, 1, 4, 30, 100, len(data) // 3, len(data) // 2,
                   len(data) - 100, len(data) - 22, len(data) - 1]:
        damaged.write_bytes(data[:length])
        with pytest.raises(ValueError, match="cannot load a swiftprop "
                                             "network"):
            sp.Network.load(damaged)


def test_corrupted_bytes_raise_value_error_or_change_nothing(saved, tmp_path):
    # The ZIP's CRC-32 covers every array; the few bytes it does not cover
    # (time stamps, ...) do not change what is loaded.
    net, X, path = saved
    data = path.read_bytes()
    damaged = tmp_path / "damaged.npz"
    rng = np.random.default_rng(0)
    errors = 0
    for position in rng.choice(len(data), size=150, replace=False):
        corrupted = bytearray(data)
        corrupted[position] ^= 0xFF
        damaged.write_bytes(bytes(corrupted))
        try:
            loaded = sp.Network.load(damaged)
        except ValueError as error:
            assert "cannot load a swiftprop network" in str(error)
            errors += 1
        else:
            np.testing.assert_array_equal(loaded.predict(X), net.predict(X))
    assert errors > 100


def rewrite(path, **changes):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    with open(path, "wb") as file:
        np.savez(file, **arrays)


@pytest.mark.parametrize("changes,message", [
    (dict(version=np.array(3)), "unsupported format version 3"),
    (dict(format=np.array("something.else")), "not a saved swiftprop"),
    (dict(W1=None), "'W1' is missing"),
    (dict(b0=np.zeros(3)), "'b0' must have dtype float32 and shape \\(5,\\)"),
    (dict(W0=np.full((3, 5), np.nan, np.float32)), "NaN"),
    (dict(activations=np.array(["relu", "sofmax"])), "unknown activation"),
    (dict(loss=np.array("hinge")), "unknown loss"),
    (dict(sizes=np.array([3, 0, 2])), "sizes"),
    (dict(generator=np.array(-1)), "generator"),
    (dict(seed=np.array("-4")), "seed"),
    (dict(optimizer_kind=np.array("adagrad")), "optimizer_kind"),
    (dict(optimizer_first=np.zeros(3, np.float32)), "optimizer_first"),
])
def test_wrong_contents_raise_value_error(saved, changes, message):
    _, _, path = saved
    rewrite(path, **changes)
    with pytest.raises(ValueError, match=message):
        sp.Network.load(path)


def test_foreign_files(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a network")
    with pytest.raises(ValueError, match="cannot load"):
        sp.Network.load(text)
    single = tmp_path / "array.npy"
    np.save(single, np.arange(3))
    with pytest.raises(ValueError, match="single array"):
        sp.Network.load(single)
    pickled_file = tmp_path / "pickled.npy"
    np.save(pickled_file, np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="cannot load"):
        sp.Network.load(pickled_file)  # never unpickled
    with pytest.raises(FileNotFoundError):
        sp.Network.load(tmp_path / "missing.npz")


def test_bad_pickle_state_raises_value_error():
    net = sp.Network([2, 3, 1], seed=0)
    state = net.__getstate__()
    state["version"] = np.array(99, dtype=np.int64)
    with pytest.raises(ValueError, match="unsupported format version 99"):
        sp.Network.__new__(sp.Network).__setstate__(state)

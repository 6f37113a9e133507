"""Saving and loading networks: the ``.npz`` format, versions 1 and 2.

A saved network is a NumPy ``.npz`` archive (an uncompressed ZIP of ``.npy``
arrays, readable with ``np.load(path, allow_pickle=False)`` and without
swiftprop) holding these arrays:

===================  =========================================================
name                 contents
===================  =========================================================
``format``           the string ``"swiftprop.Network"``
``version``          the format version, an int64 scalar: ``2`` when some
                     layer has a dropout rate, else ``1`` (so a swiftprop
                     that cannot drop refuses such a file rather than
                     losing the rates, and reads every other)
``sizes``            int64 ``(n_layers + 1,)``: ``[n_inputs, ..., n_outputs]``
``activations``      str ``(n_layers,)``: each layer's activation
``dropout``          float64 ``(n_layers,)``: each layer's dropout rate in
                     [0, 1), the output layer's 0 (version 2 only; a
                     version 1 file has none)
``loss``             str scalar: the loss's name (``mse``,
                     ``binary_cross_entropy``, ``cross_entropy``, ...)
``dtype``            str scalar: ``float32`` or ``float64``
``init``             str scalar: ``xavier``, ``he`` or ``normal``
``seed``             str scalar: the seed, in decimal (in ``[0, 2**64)``)
``generator``        uint64 scalar: the state of the network's SplitMix64
                     generator, which orders the next mini-batches
``W0``, ``b0``, ...  each layer's weights ``(n_in, n_out)`` and biases
                     ``(n_out,)``, in the network's dtype
``optimizer_kind``   str scalar: ``none``, or the optimizer's name (``sgd``,
                     ``adam``, ...)
``optimizer_step``   int64 scalar: the number of steps taken (Adam's ``t``)
``optimizer_first``  ``(n_parameters,)``: the optimizer's first state vector
                     (SGD's velocity, Adam's first moments), flat in the
                     order W0, b0, W1, ...; zeros when it keeps none
``optimizer_second`` ``(n_parameters,)``: its second state vector (Adam's
                     second moments); zeros when it keeps fewer than two
``swiftprop``        str scalar: the version of swiftprop that wrote the file
                     (information only)
===================  =========================================================

Everything that decides the network's future is in the file: loading it and
training on gives bit for bit what the saved network would have given.
``pickle`` of a ``Network`` carries the same arrays, and ``copy.deepcopy``
the same state.

This module knows networks only through their state: ``Network._state()``
returns a ``NetworkState``, ``Network._from_state`` builds one back, and the
functions here turn a ``NetworkState`` into arrays or a file and back.

Reading opens only the members named above, and checks each one's
``.npy`` header before its data: the weights and optimizer vectors must
declare exactly the shapes the architecture gives them, the other members
a few megabytes at most, so an extra or oversized member is never
decompressed.

Files are written atomically: to a temporary file in the destination's
directory, flushed to disk, then renamed over the destination, so a crash
never leaves a half-written model under the final name. Reading checks every
array (the ZIP's CRC-32 checksums catch damaged bytes) and raises
``ValueError`` for a truncated, corrupted or foreign file, or an unsupported
version.
"""

import os
import secrets
from contextlib import suppress
from dataclasses import dataclass

import numpy as np

from ._codes import ACTIVATIONS, INITIALIZERS, LOSSES, OPTIMIZER_KINDS
from ._validation import NUMPY_DTYPES
from ._version import __version__
from .layers import Dense

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "NetworkState", "state_to_arrays",
           "state_from_arrays", "save", "load"]

FORMAT_NAME = "swiftprop.Network"
FORMAT_VERSION = 2
# Files without dropout are written as version 1, which older readers know.
_VERSIONS = (1, 2)
# What optimizer_kind may hold: "none" (no step taken yet) or a kind's name.
_OPTIMIZER_KINDS = ("none",) + tuple(OPTIMIZER_KINDS)


@dataclass(frozen=True)
class NetworkState:
    """Everything that decides a network's future: what ``Network._state``
    returns, what a saved file holds, what ``Network._from_state`` takes.

    Attributes
    ----------
    layers : list of Dense
    loss, dtype, init : str
    seed : int
    weights : list of (W, b)
    generator : int
        SplitMix64 state, in ``[0, 2**64)``.
    optimizer : dict or None
        As ``Network.get_optimizer_state`` returns it.
    """

    layers: list
    loss: str
    dtype: str
    init: str
    seed: int
    weights: list
    generator: int
    optimizer: object


def state_to_arrays(state):
    """A network's state as a dict of arrays.

    Parameters
    ----------
    state : NetworkState

    Returns
    -------
    dict of str to ndarray
        The arrays of the format described in this module's docstring.
    """
    n_parameters = sum(layer.n_parameters for layer in state.layers)
    sizes = [state.layers[0].n_in] + [layer.n_out for layer in state.layers]
    arrays = {
        "format": np.array(FORMAT_NAME),
        "version": np.array(FORMAT_VERSION if any(
            layer.dropout for layer in state.layers) else 1, dtype=np.int64),
        "sizes": np.array(sizes, dtype=np.int64),
        "activations": np.array([layer.activation for layer in state.layers]),
        "loss": np.array(state.loss),
        "dtype": np.array(state.dtype),
        "init": np.array(state.init),
        "seed": np.array(str(state.seed)),
        "generator": np.array(state.generator, dtype=np.uint64),
        "swiftprop": np.array(__version__),
    }
    if any(layer.dropout for layer in state.layers):
        arrays["dropout"] = np.array([layer.dropout for layer in state.layers],
                                     dtype=np.float64)
    for index, (W, b) in enumerate(state.weights):
        arrays[f"W{index}"] = W
        arrays[f"b{index}"] = b
    optimizer = state.optimizer
    if optimizer is None:
        zeros = np.zeros(n_parameters, NUMPY_DTYPES[state.dtype])
        optimizer = {"kind": "none", "step": 0, "first": zeros,
                     "second": zeros}
    arrays["optimizer_kind"] = np.array(optimizer["kind"])
    arrays["optimizer_step"] = np.array(optimizer["step"], dtype=np.int64)
    arrays["optimizer_first"] = optimizer["first"]
    arrays["optimizer_second"] = optimizer["second"]
    return arrays


# Reading the arrays back


class _Invalid(ValueError):
    """A problem with the saved arrays; the caller adds where they came from."""


def _get(arrays, name):
    try:
        return np.asarray(arrays[name])
    except KeyError:
        raise _Invalid(f"the array {name!r} is missing") from None


def _string(arrays, name, choices=None):
    value = _get(arrays, name)
    if value.dtype.kind != "U" or value.shape != ():
        raise _Invalid(f"{name!r} must be a string scalar, got dtype "
                       f"{value.dtype} and shape {value.shape}")
    value = str(value)
    if choices is not None and value not in choices:
        raise _Invalid(f"unknown {name} {value!r}; expected one of: "
                       + ", ".join(choices))
    return value


def _integer(arrays, name):
    value = _get(arrays, name)
    if value.dtype.kind not in "iu" or value.shape != ():
        raise _Invalid(f"{name!r} must be an integer scalar, got dtype "
                       f"{value.dtype} and shape {value.shape}")
    return int(value)


def _floats(arrays, name, shape, dtype):
    value = _get(arrays, name)
    if value.dtype != dtype or value.shape != shape:
        raise _Invalid(f"{name!r} must have dtype {dtype} and shape {shape}, "
                       f"got dtype {value.dtype} and shape {value.shape}")
    if not np.isfinite(value).all():
        raise _Invalid(f"{name!r} contains NaN or infinity")
    return value.copy()


def state_from_arrays(arrays):
    """Check the arrays of a saved network and return the state they hold.

    Parameters
    ----------
    arrays : mapping of str to array-like
        What ``state_to_arrays`` returned, or the members of a saved file.

    Returns
    -------
    NetworkState

    Raises
    ------
    ValueError
        Naming the first array that is missing or wrong, or an unsupported
        format version.
    """
    try:
        if _string(arrays, "format") != FORMAT_NAME:
            raise _Invalid("it is not a saved swiftprop network (format is "
                           f"{str(_get(arrays, 'format'))!r})")
        version = _integer(arrays, "version")
        if version not in _VERSIONS:
            raise _Invalid(f"unsupported format version {version}; this "
                           "swiftprop reads versions "
                           + " and ".join(map(str, _VERSIONS)))
        sizes = _get(arrays, "sizes")
        if sizes.dtype.kind not in "iu" or sizes.ndim != 1 or len(sizes) < 2 \
                or (sizes < 1).any():
            raise _Invalid("'sizes' must be at least two positive integers, "
                           f"got {sizes!r}")
        activations = _get(arrays, "activations")
        if activations.dtype.kind != "U" or activations.shape != (
                len(sizes) - 1,):
            raise _Invalid(f"'activations' must hold {len(sizes) - 1} "
                           f"strings, got {activations!r}")
        rates = [0.0] * len(activations)
        if version >= 2:
            rates = _get(arrays, "dropout")
            if rates.dtype != np.float64 or rates.shape != (len(sizes) - 1,) \
                    or not ((rates >= 0) & (rates < 1)).all() or rates[-1]:
                raise _Invalid(f"'dropout' must hold {len(sizes) - 1} "
                               "float64 rates in [0, 1), the last 0, got "
                               f"{rates!r}")
            rates = rates.tolist()
        layers = []
        for i, activation in enumerate(activations.tolist()):
            if activation not in ACTIVATIONS:
                raise _Invalid(f"layer {i} has unknown activation "
                               f"{activation!r}")
            layers.append(Dense(int(sizes[i]), int(sizes[i + 1]), activation,
                                rates[i]))
        loss = _string(arrays, "loss", LOSSES)
        dtype = _string(arrays, "dtype", NUMPY_DTYPES)
        init = _string(arrays, "init", INITIALIZERS)
        seed_text = _string(arrays, "seed")
        if not seed_text.isdigit() or len(seed_text) > 20 \
                or int(seed_text) >= 2**64:
            raise _Invalid("'seed' must be an integer in [0, 2**64), got "
                           f"{seed_text[:40]!r}"
                           + ("..." if len(seed_text) > 40 else ""))
        generator = _get(arrays, "generator")
        if generator.dtype != np.uint64 or generator.shape != ():
            raise _Invalid("'generator' must be a uint64 scalar, got dtype "
                           f"{generator.dtype} and shape {generator.shape}")
        weights = [(_floats(arrays, f"W{i}", (layer.n_in, layer.n_out),
                            NUMPY_DTYPES[dtype]),
                    _floats(arrays, f"b{i}", (layer.n_out,),
                            NUMPY_DTYPES[dtype]))
                   for i, layer in enumerate(layers)]
        n_parameters = sum(layer.n_parameters for layer in layers)
        kind = _string(arrays, "optimizer_kind", _OPTIMIZER_KINDS)
        step = _integer(arrays, "optimizer_step")
        if step < 0:
            raise _Invalid(f"'optimizer_step' must be >= 0, got {step}")
        first, second = (_floats(arrays, f"optimizer_{name}", (n_parameters,),
                                 NUMPY_DTYPES[dtype])
                         for name in ("first", "second"))
    except _Invalid:
        raise
    except (TypeError, ValueError, OverflowError) as error:
        raise _Invalid(str(error)) from None
    optimizer = None if kind == "none" else {
        "kind": kind, "step": step, "first": first, "second": second}
    return NetworkState(layers, loss, dtype, init, int(seed_text), weights,
                        int(generator), optimizer)


# Files

# The most bytes a member that is not a weight array may declare (its
# strings and sizes; the largest, 'activations', holds one short name per
# layer).
_MAX_METADATA_BYTES = 16 << 20


class _Members:
    """The members of a saved ``.npz``, read on access, one at a time, and
    only those the format names (an extra member is never decompressed).

    Before a member's data is read, its ``.npy`` header is checked: the
    weights and optimizer vectors must declare exactly the shape and dtype
    the architecture (``sizes``, ``dtype``) gives them, every other member
    at most ``_MAX_METADATA_BYTES``, and the header's size must match the
    member's size in the ZIP directory; so a header declaring a huge shape
    fails before anything is allocated.
    """

    def __init__(self, archive):
        self.archive = archive
        self.names = set(archive.files)

    def __getitem__(self, name):
        if name not in self.names:
            raise KeyError(name)
        member = name + ".npy"
        info = self.archive.zip.getinfo(member)
        with self.archive.zip.open(member) as file:
            version = np.lib.format.read_magic(file)
            if version == (1, 0):
                header = np.lib.format.read_array_header_1_0(file)
            elif version == (2, 0):
                header = np.lib.format.read_array_header_2_0(file)
            else:
                raise _Invalid(f"{name!r} has an unsupported .npy version "
                               f"{version}")
            shape, _, dtype = header
            header_bytes = file.tell()
        if dtype.hasobject:
            raise _Invalid(f"{name!r} holds Python objects")
        count = 1
        for length in shape:
            count *= length
        size = count * dtype.itemsize
        expected = self._expected_shape(name)
        if expected is not None and (shape != expected[0]
                                     or dtype != expected[1]):
            raise _Invalid(f"{name!r} must have dtype {expected[1]} and "
                           f"shape {expected[0]}, got dtype {dtype} and "
                           f"shape {shape}")
        if expected is None and size > _MAX_METADATA_BYTES:
            raise _Invalid(f"{name!r} declares {size} bytes (shape {shape}, "
                           f"dtype {dtype}), more than such a member holds")
        if header_bytes + size != info.file_size:
            raise _Invalid(f"{name!r} declares shape {shape} and dtype "
                           f"{dtype} ({size} bytes), but holds "
                           f"{info.file_size - header_bytes} bytes")
        return self.archive[name]

    def _expected_shape(self, name):
        """(shape, dtype) of a weight or optimizer member, from the
        architecture; None for the other members."""
        if name.startswith(("W", "b")) and name[1:].isdigit():
            index = int(name[1:])
            sizes = self._sizes()
            if index >= len(sizes) - 1:
                return None  # not a member of this architecture: not read
            shape = ((sizes[index], sizes[index + 1]) if name[0] == "W"
                     else (sizes[index + 1],))
        elif name in ("optimizer_first", "optimizer_second"):
            sizes = self._sizes()
            shape = (sum(n_in * n_out + n_out
                         for n_in, n_out in zip(sizes[:-1], sizes[1:])),)
        else:
            return None
        return shape, NUMPY_DTYPES[_string(self, "dtype", NUMPY_DTYPES)]

    def _sizes(self):
        sizes = _get(self, "sizes")
        if sizes.dtype.kind not in "iu" or sizes.ndim != 1:
            raise _Invalid(f"'sizes' must be integers, got {sizes!r}")
        return [int(size) for size in sizes]


def save(state, path):
    """Write a network's state to ``path`` atomically, in the ``.npz``
    format.

    Parameters
    ----------
    state : NetworkState
        What ``Network._state()`` returned.
    path : str or os.PathLike
        Written exactly as given (no suffix is added; ``.npz`` is the
        customary one). An existing file is replaced only once the new one
        is complete on disk.
    """
    arrays = state_to_arrays(state)
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    while True:
        temporary = os.path.join(directory,
                                 f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            # 0o666 and the process's umask: the permissions open() gives.
            descriptor = os.open(temporary,
                                 os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(descriptor, "wb") as file:
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise
    # Make the rename itself durable.
    with suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def load(path, build):
    """Read a network written by ``save``.

    Parameters
    ----------
    path : str or os.PathLike
    build : callable
        Builds the network from a ``NetworkState``
        (``Network._from_state``); what it raises is reported as a damaged
        file too.

    Returns
    -------
    object
        What ``build`` returned: the network, with the saved weights,
        generator and optimizer state.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the file is truncated, corrupted, not a saved network, or of an
        unsupported format version.
    """
    path = os.fspath(path)
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise _Invalid("it holds a single array, not an .npz archive")
        with archive:
            state = state_from_arrays(_Members(archive))
        return build(state)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as error:
        # A damaged ZIP surfaces as any of BadZipFile, zlib.error, EOFError,
        # NotImplementedError (a version field), RuntimeError (an
        # "encrypted" flag), struct.error, MemoryError (a size field), ...:
        # all mean the same to the caller.
        reason = str(error) or type(error).__name__
        raise ValueError(f"cannot load a swiftprop network from {path!r}: "
                         f"{reason}") from error

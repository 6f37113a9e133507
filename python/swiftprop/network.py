"""``Network``: a fully-connected network trained on the Swift engine."""

import functools
import os
import threading
import warnings
import weakref
from collections.abc import Mapping

import numpy as np

from . import _engine, export, persistence
from ._codes import (ACTIVATIONS, DTYPES, INITIALIZERS, LOSSES, METRICS,
                     MONITORS, OPTIMIZER_KINDS, OPTIMIZER_STATE_VECTORS,
                     SCHEDULES, STOP_REASONS, name_of)
from ._lbfgs import lbfgs_history, plan_lbfgs
from ._random import new_seed
from ._training import (EpochReporter, advance_random_state,
                        check_sample_weight, fit_weights, numpy_shuffle_state,
                        plan_fit, prepare_extras)
from ._validation import (TARGET_RANGES, as_float_matrix, as_targets,
                          check_dtype, check_int, check_number, choose)
from .display import network_html, progress_bar
from .explain import explain as explain_step
from .callbacks import CallbackList
from .history import History
from .layers import LayerStack, build_architecture
from .optimizers import (LBFGS, engine_settings, lbfgs_settings,
                         resolve_optimizer)
from .predictions import predict_classes

__all__ = ["Network"]

# Least time between two interrupt checks while fit runs in Swift.
_POLL_INTERVAL_NS = 20_000_000


def _ready_matrix(A, dtype, columns):
    """Whether ``A`` goes to the engine as it is: a non-empty C-ordered
    matrix of ``dtype`` with ``columns`` columns. Its values are checked
    by the engine (NaN and infinity raise ValueError there)."""
    return (type(A) is np.ndarray and A.dtype is dtype and A.ndim == 2
            and A.flags.c_contiguous and A.shape[1] == columns
            and A.shape[0] > 0)


def _resolve_key(optimizer, lr, options):
    """A cache key for a named optimizer's settings (each value with its
    type: ``lr=1`` and ``lr=True`` are checked apart), or None when an
    argument cannot be one (an optimizer object, an unhashable value)."""
    if type(optimizer) is not str:
        return None
    key = (optimizer, type(lr), lr,
           tuple((name, type(value), value)
                 for name, value in sorted(options.items())))
    try:
        hash(key)
    except TypeError:
        return None
    return key


@functools.lru_cache(maxsize=64)
def _resolve_named(optimizer, lr_type, lr, options):
    """``resolve_optimizer`` once per distinct key (``_resolve_key``): the
    optimizers are frozen dataclasses, safe to share. An argument that
    raises is not cached and raises again next time."""
    return resolve_optimizer(optimizer, lr=lr,
                             **{name: value for name, _, value in options})


def _resolve(optimizer, lr, options):
    """``resolve_optimizer(optimizer, lr=lr, **options)``; a named
    optimizer's is checked once per distinct arguments (fit and a
    tutorial's train_step loop resolve the same names call after call:
    35 µs each time)."""
    key = _resolve_key(optimizer, lr, options)
    if key is None:
        return resolve_optimizer(optimizer, lr=lr, **options)
    return _resolve_named(*key)


def _step_settings_of(settings):
    """The engine's ``(kind, values)`` of one ``train_step``'s optimizer."""
    if isinstance(settings, LBFGS):
        raise ValueError("L-BFGS minimises over the full batch in one call "
                         "and has no single step: use fit(X, y, "
                         "optimizer='lbfgs')")
    return engine_settings(settings)


@functools.lru_cache(maxsize=64)
def _step_settings_named(optimizer, lr_type, lr, options):
    """``_step_settings_of`` a named optimizer, once per distinct key
    (``_resolve_key``): a tutorial's loop calls ``train_step`` with the
    same arguments every step."""
    return _step_settings_of(_resolve_named(optimizer, lr_type, lr, options))


def _settings_for_step(optimizer, lr, options):
    """The engine's ``(kind, values)`` for one ``train_step``."""
    key = _resolve_key(optimizer, lr, options)
    if key is None:
        return _step_settings_of(
            resolve_optimizer(optimizer, lr=lr, **options))
    return _step_settings_named(*key)


class Network(LayerStack):
    """A fully-connected neural network whose mathematics runs in Swift.

    Parameters
    ----------
    layers : list of int or list of Dense
        Layer sizes ``[n_inputs, n_hidden..., n_outputs]``, or the layers.
    activation : str, default="sigmoid"
        Activation of the hidden layers: ``identity``, ``sigmoid``, ``tanh``,
        ``relu`` or ``leaky_relu``.
    output_activation : str, optional
        Activation of the output layer; by default ``sigmoid`` for
        ``binary_cross_entropy``, ``softmax`` for ``cross_entropy`` and
        ``activation`` for ``mse``.
    loss : str, default="mse"
        ``mse`` (mean over all elements of (ŷ − y)²), ``binary_cross_entropy``
        (sigmoid output) or ``cross_entropy`` (softmax output; ``y`` as class
        labels or one-hot rows).
    dtype : {"float64", "float32"}, default="float64"
        Element type of weights and computation.
    init : {"xavier", "he", "normal"}, default="xavier"
        Weight initialisation (Glorot uniform, He normal, standard normal);
        biases start at zero.
    seed : int, optional
        Seed of the network's generator, which draws the initial weights and
        the order of mini-batches: the same seed gives the same weights and
        the same training, bit for bit. An integer in ``[0, 2**64)`` (the
        generator's state is 64 bits; larger or negative seeds raise
        ``ValueError`` rather than being reduced). By default a fresh
        random seed.
    dropout : float or list of float, optional
        Dropout rate in [0, 1) of every hidden layer, or one per hidden
        layer (or set per layer with ``Dense(..., dropout=p)``); the output
        layer never drops. Inverted dropout during training steps only
        (``train_step`` and ``fit``): each hidden output is zeroed with
        probability p and the kept ones scaled by 1 / (1 - p), with masks
        drawn from the network's seeded generator (the same seed gives the
        same fit). ``predict``, ``loss``, ``gradients``, ``forward``,
        ``backward``, ``explain`` and ``numerical_gradients`` never drop
        (inference mode). L-BFGS refuses a network with dropout.

    Examples
    --------
    >>> import numpy as np, swiftprop as sp
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    >>> y = np.array([[0], [1], [1], [0]])
    >>> net = sp.Network([2, 8, 1], activation="tanh",
    ...                  output_activation="sigmoid", seed=0)
    >>> history = net.fit(X, y, epochs=1000, optimizer="adam", lr=0.05)
    >>> net.predict(X).round().ravel()
    array([0., 1., 1., 0.])
    """

    def __init__(self, layers, activation="sigmoid", output_activation=None,
                 loss="mse", dtype="float64", init="xavier", seed=None,
                 dropout=None):
        Network._build(self, layers, activation, output_activation, loss,
                       dtype, init, seed, dropout)

    def _build(self, layers, activation="sigmoid", output_activation=None,
               loss="mse", dtype="float64", init="xavier", seed=None,
               dropout=None):
        """What ``__init__`` does, under a name a subclass's own
        ``__init__`` does not replace (unpickling, ``load`` and
        ``deepcopy`` build through it). Called again on a live network, it
        frees the engine network it replaces."""
        if isinstance(layers, Mapping):
            raise TypeError("layers must be a list of layer sizes or of "
                            f"Dense layers, got a {type(layers).__name__} "
                            "(its keys would be taken as sizes)")
        layers = build_architecture(layers, activation, output_activation,
                                    loss, dropout)
        if len(layers) > MAX_LAYERS:
            raise ValueError(f"layers describes {len(layers)} layers; a "
                             f"network has at most {MAX_LAYERS}")
        dtype = check_dtype(dtype)
        init = choose("init", init, INITIALIZERS)
        seed = new_seed() if seed is None else check_int(
            "seed", seed, low=0, high=MAX_SEED)
        handle = _engine.create(
            [layers[0].n_in] + [layer.n_out for layer in layers],
            [ACTIVATIONS[layer.activation] for layer in layers],
            LOSSES[loss], DTYPES[dtype.name], INITIALIZERS[init], seed)
        finalizer = weakref.finalize(self, _engine.destroy, handle)
        if any(layer.dropout for layer in layers):
            _engine.set_dropout(handle, [layer.dropout for layer in layers])
        # Everything checked and made: only now does the object change.
        previous = self.__dict__.get("_finalizer")
        self.layers = layers
        self.loss_name = loss
        self.dtype = dtype
        self.init = init
        self.seed = seed
        if "_lock" not in self.__dict__:
            self._lock = threading.RLock()
            self._stop_request = _StopRequest()
            _LIVE_NETWORKS.add(self)
        with self._lock:
            # Plain attributes for the hot path of predict.
            self._n_inputs = layers[0].n_in
            self._n_outputs = layers[-1].n_out
            self._handle = handle
            self._finalizer = finalizer
        if previous is not None:
            previous()  # destroys the engine network this one replaces

    def __getattr__(self, name):
        # Reached only when normal lookup fails: for the attributes every
        # network has, that means __init__ never ran.
        if name in _INITIALISED_ATTRIBUTES:
            raise RuntimeError(
                f"this {type(self).__name__} was never initialised: its "
                "__init__ did not run (a subclass's __init__ must call "
                "super().__init__(...))")
        raise AttributeError(f"{type(self).__name__!r} object has no "
                             f"attribute {name!r}")

    # Parameters and optimizer state

    def _split(self, flat):
        """Cut a flat parameter vector into ``[(W, b), ...]`` copies."""
        pairs, offset = [], 0
        for layer in self.layers:
            size = layer.n_in * layer.n_out
            W = flat[offset:offset + size].reshape(layer.n_in, layer.n_out)
            b = flat[offset + size:offset + size + layer.n_out]
            pairs.append((W.copy(), b.copy()))
            offset += size + layer.n_out
        return pairs

    @property
    def weights(self):
        """list of (W, b): copies; W has shape ``(n_in, n_out)``, b ``(n_out,)``."""
        flat = np.empty(self.n_parameters, dtype=self.dtype)
        with self._lock:
            _engine.get_parameters(self._handle, flat)
        return self._split(flat)

    def set_weights(self, weights):
        """Replace every weight and bias; nothing changes if any is invalid.

        Parameters
        ----------
        weights : list of (W, b)
            One pair per layer, W of shape ``(n_in, n_out)``, b of shape
            ``(n_out,)``.
        """
        flat = flatten_weights(weights, self.layers, self.dtype)
        with self._lock:
            _engine.set_parameters(self._handle, flat)

    def get_optimizer_state(self):
        """The optimizer's memory, or ``None`` before any training step.

        Returns
        -------
        dict or None
            ``{"kind": name, "step": int, "first": ndarray, "second":
            ndarray}`` with the optimizer's name (``"sgd"``, ``"adam"``);
            ``first``/``second`` are its state vectors, flat in the order of
            the parameters (W0, b0, W1, ...): SGD's velocity in ``first``,
            Adam's moments in ``first`` and ``second``; zeros where an
            optimizer keeps fewer vectors.
        """
        first = np.zeros(self.n_parameters, dtype=self.dtype)
        second = np.zeros(self.n_parameters, dtype=self.dtype)
        with self._lock:
            code, step = _engine.get_optimizer(self._handle, first, second)
        if code < 0:
            return None
        return {"kind": name_of(OPTIMIZER_KINDS, code), "step": step,
                "first": first, "second": second}

    def set_optimizer_state(self, state):
        """Restore what ``get_optimizer_state`` returned (``None`` resets).

        Raises
        ------
        TypeError, ValueError
            Naming the part of ``state`` that is wrong; the network is then
            unchanged.
        """
        if state is None:
            self.reset_optimizer()
            return
        if not isinstance(state, Mapping):
            raise TypeError("state must be a dict as get_optimizer_state "
                            "returns it ({'kind', 'step', 'first', "
                            f"'second'}}) or None, got {type(state).__name__}")
        kind = choose("optimizer state kind", state.get("kind"),
                      OPTIMIZER_KINDS)
        step = check_int("optimizer state step", state.get("step", 0), low=0)
        vectors = []
        for name in ("first", "second"):
            vector = np.asarray(state.get(name, np.zeros(self.n_parameters)))
            if vector.dtype.kind not in "biuf":
                raise TypeError(f"optimizer state {name} must be a real "
                                f"numeric array, got dtype {vector.dtype}")
            if vector.shape != (self.n_parameters,):
                raise ValueError(f"optimizer state {name} has shape "
                                 f"{vector.shape}, expected "
                                 f"({self.n_parameters},)")
            vectors.append(np.ascontiguousarray(vector, dtype=self.dtype))
        first, second = vectors
        if OPTIMIZER_STATE_VECTORS[kind] < 2:
            second = None  # the engine keeps no second vector for this kind
        with self._lock:
            _engine.set_optimizer(self._handle, OPTIMIZER_KINDS[kind], step,
                                  first, second)

    def request_stop(self):
        """Ask a ``fit`` running in another thread to stop.

        Safe to call from any thread (Ctrl-C reaches only the main thread);
        the fit ends within a few tens of milliseconds, after a completed
        step, with ``History.stop_reason == "requested"``.

        A request stays pending until a fit consumes it: one made while a
        fit is starting (or waiting for this network) stops that fit, and
        one made while no fit runs stops the next fit at its first check,
        after at most one epoch. Every fit clears the request as it ends.
        """
        self._stop_request.set()

    def reset_optimizer(self):
        """Forget the optimizer's momentum or moments (and Adam's step)."""
        with self._lock:
            _engine.reset_optimizer(self._handle)

    # Computation

    def _samples(self, X, y):
        X = as_float_matrix("X", X, self.dtype, self.n_inputs)
        Y = as_targets("y", y, self.dtype, X.shape[0], self.n_outputs,
                       self.loss_name)
        return X, Y

    def predict(self, X):
        """Output activations.

        Inference mode: never drops units (dropout acts in ``train_step``
        and ``fit`` only).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)

        Returns
        -------
        ndarray of shape (n_samples, n_outputs)

        Notes
        -----
        Runs in blocks of 1024 rows (the same values as one pass: rows are
        independent); Ctrl-C raises ``KeyboardInterrupt`` between blocks.
        """
        if not _ready_matrix(X, self.dtype, self._n_inputs):
            # Anything but a ready float matrix is converted and checked
            # here; a ready one goes straight to the engine.
            X = as_float_matrix("X", X, self.dtype, self._n_inputs)
        out = np.empty((X.shape[0], self._n_outputs), self.dtype)
        with self._lock:
            _engine.predict(self._handle, X, out)
        return out

    def loss(self, X, y, sample_weight=None):
        """The data loss on ``(X, y)`` (without any l2 term), as a float.

        Inference mode: never drops units (dropout acts in ``train_step``
        and ``fit`` only).

        With ``sample_weight`` (one value >= 0 per row), the weighted mean
        ``sum(w_i L_i) / sum(w_i)`` of the rows' losses.

        Scored in blocks of 1024 rows, whose losses are summed; Ctrl-C
        raises ``KeyboardInterrupt`` between blocks.
        """
        X, Y = self._samples(X, y)
        W = check_sample_weight("sample_weight", sample_weight, X.shape[0],
                                self.dtype)
        with self._lock:
            return _engine.loss(self._handle, X, Y, W)

    def gradients(self, X, y, sample_weight=None):
        """Gradients of the loss by one backward pass, without an update.

        Inference mode: never drops units (dropout acts in ``train_step``
        and ``fit`` only).

        With ``sample_weight``, of the weighted mean loss (see ``loss``).

        Returns
        -------
        list of (dW, db)
            Same structure and shapes as ``weights``.

        Notes
        -----
        A large batch (more than ``max(1024, 2**27 // n_parameters)``
        rows) is processed in chunks of that many rows: the gradient is
        ``sum_c (n_c / n) grad_c`` over chunks of ``n_c`` rows, summed in
        float64, which may differ from one pass over all rows in the last
        bits (about 1e-16 relative in float64; with ``sample_weight``
        each chunk is scaled by the whole batch's weight sum, so the chunks
        simply add up); Ctrl-C raises
        ``KeyboardInterrupt`` between chunks, and the workspace holds one
        chunk. Smaller batches are one backward pass, as in ``fit``.
        """
        X, Y = self._samples(X, y)
        W = check_sample_weight("sample_weight", sample_weight, X.shape[0],
                                self.dtype)
        flat = np.empty(self.n_parameters, dtype=self.dtype)
        with self._lock:
            _engine.gradients(self._handle, X, Y, flat, W)
        return self._split(flat)

    def numerical_gradients(self, X, y, eps=1e-6):
        """Central finite differences ``(L(p+eps) - L(p-eps)) / (2 eps)``.

        Inference mode: never drops units (dropout acts in ``train_step``
        and ``fit`` only).

        Computed in float64 whatever the network's dtype, for checking
        ``gradients``; costs two forward passes per parameter. Ctrl-C
        raises ``KeyboardInterrupt`` between parameters (the network is
        unchanged: the differences are taken on a float64 copy).

        Returns
        -------
        list of (dW, db) in float64
        """
        eps = check_number("eps", eps, low=0, low_open=True)
        X, Y = self._samples(X, y)
        flat = np.empty(self.n_parameters, dtype=np.float64)
        with self._lock:
            _engine.numerical_gradients(self._handle, X, Y, eps, flat)
        return self._split(flat)

    def forward(self, X):
        """The forward pass, layer by layer, as the tutorials keep it.

        Inference mode: never drops units (dropout acts in ``train_step``
        and ``fit`` only).

        Returns
        -------
        zs : list of ndarray
            ``zs[l]`` of shape (n_samples, n_out of layer l): ``a @ W + b``.
        activations : list of ndarray
            ``activations[0]`` is ``X`` (converted); ``activations[l + 1]``
            is ``f(zs[l])``, so ``activations[-1]`` equals ``predict(X)``.

        Runs in predict's blocks of 1024 rows; Ctrl-C raises
        ``KeyboardInterrupt`` between them.
        """
        X = as_float_matrix("X", X, self.dtype, self.n_inputs)
        width = sum(layer.n_out for layer in self.layers)
        z = np.empty(X.shape[0] * width, dtype=self.dtype)
        a = np.empty_like(z)
        with self._lock:
            _engine.forward(self._handle, X, z, a)
        return self._per_layer(z, X.shape[0]), [X] + self._per_layer(
            a, X.shape[0])

    def backward(self, X, y):
        """One backward pass without an update, with everything it computes.

        Inference mode: never drops units (dropout acts in ``train_step``
        and ``fit`` only).

        Returns
        -------
        dict
            ``"loss"``: float; ``"deltas"``: list of ndarray, ``deltas[l]``
            = ∂L/∂z of layer l, shaped as ``zs[l]``; ``"gradients"``: list
            of (dW, db) as ``gradients``; ``"dX"``: ndarray of shape
            (n_samples, n_inputs), ``deltas[0] @ W0.T``, the gradient handed
            back to the input.
        """
        X, Y = self._samples(X, y)
        width = sum(layer.n_out for layer in self.layers)
        deltas = np.empty(X.shape[0] * width, dtype=self.dtype)
        flat = np.empty(self.n_parameters, dtype=self.dtype)
        dX = np.empty_like(X)
        with self._lock:
            loss = _engine.backward(self._handle, X, Y, deltas, flat, dX)
        return {"loss": loss, "deltas": self._per_layer(deltas, X.shape[0]),
                "gradients": self._split(flat), "dX": dX}

    def _per_layer(self, flat, rows):
        """Cut a layer-by-layer trace into ``(rows, n_out)`` arrays."""
        parts, offset = [], 0
        for layer in self.layers:
            size = rows * layer.n_out
            parts.append(flat[offset:offset + size].reshape(rows, layer.n_out))
            offset += size
        return parts

    def train_step(self, X, y, lr=None, optimizer="sgd", sample_weight=None,
                   **optimizer_options):
        """One optimizer step on the batch ``(X, y)``.

        Optimizer state (momentum, Adam's moments) persists across calls
        while the kind of optimizer stays the same. With ``sample_weight``,
        the step follows the gradient of the weighted mean loss. Layers with
        a dropout rate drop units in the step (masks drawn from the
        network's generator).

        Returns
        -------
        float
            The loss before the step.
        """
        # A tutorial's loop calls this once per step: the settings of a
        # named optimizer are resolved once per distinct arguments, and
        # ready arrays go straight to the engine, which checks their
        # values itself (this Python took 60 of an XOR step's 66 µs).
        engine_optimizer = _settings_for_step(optimizer, lr,
                                              optimizer_options)
        if sample_weight is None and self._ready_samples(X, y):
            Y, W = y, None
        else:
            X, Y = self._samples(X, y)
            W = check_sample_weight("sample_weight", sample_weight,
                                    X.shape[0], self.dtype)
        with self._lock:
            return _engine.train_step(self._handle, X, Y, engine_optimizer, W)

    def _ready_samples(self, X, y):
        """Whether ``X`` and ``y`` are float matrices the engine takes as
        they are: the network's dtype, C order, the right shapes, and a loss
        without a target range (whose message ``as_targets`` words)."""
        return (_ready_matrix(X, self.dtype, self._n_inputs)
                and _ready_matrix(y, self.dtype, self._n_outputs)
                and y.shape[0] == X.shape[0]
                and self.loss_name not in TARGET_RANGES)

    def fit(self, X, y, epochs=1, lr=None, optimizer="sgd", batch_size=None,
            shuffle=True, verbose=0, callback=None, validation_data=None,
            tol=None, patience=10, progress=None, *, sample_weight=None,
            class_weight=None, metrics=None, monitor=None,
            restore_best_weights=False, callbacks=None, include_l2=False,
            count_from=1, _loss_scale=1.0, _penalty_scale=0.0,
            _l2_per_sample=False, _random_state=None, **optimizer_options):
        """Train with the whole loop running in Swift.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)
        y : array-like of shape (n_samples, n_outputs), or (n_samples,)
            Targets; class labels for ``cross_entropy``.
        epochs : int, default=1
        lr : float, Schedule or callable, optional
            Learning rate (default: 0.01 for SGD, 0.001 for Adam); a
            schedule from ``swiftprop.schedules`` (computed in the engine),
            or a callable ``epoch -> rate`` (called once per epoch).
        optimizer : str or optimizer object, default="sgd"
            ``"sgd"``, ``"adam"``, ``"rmsprop"`` (``SGD``, ``Adam``,
            ``RMSprop``) or ``"lbfgs"`` (``LBFGS``), which minimises over
            the full batch by L-BFGS: ``epochs`` is then its iteration
            limit, ``tol`` its gradient tolerance ``gtol``, ``max_fun``,
            ``memory``, ``ftol``, ``max_ls``, ``l2`` and ``scale`` its
            options, ``sample_weight`` and ``class_weight`` weigh its loss;
            it takes no ``lr``, ``batch_size``, ``validation_data``,
            ``metrics``, ``monitor``, ``restore_best_weights`` or
            ``callbacks``, and ``History.loss`` holds the objective after
            each iteration.
        batch_size : int, optional
            Rows per mini-batch; ``None`` trains on the full batch.
        shuffle : bool, default=True
            Reshuffle mini-batches every epoch from the network's generator.
        verbose : int, default=0
            Print the loss every ``verbose`` epochs (0: silent).
        callback : callable, optional
            ``callback(epoch, loss)`` after every epoch (0-based); returning
            ``False`` or ``np.False_`` stops training (``None``, and any
            value that is not a boolean, even a falsy one like ``0``, go
            on: stopping is an explicit request).
        validation_data : tuple (X_val, y_val[, sample_weight_val]), optional
            Scored after every epoch into ``History.val_loss`` (and the
            validation metrics).
        tol : float, optional
            Stop when the monitored value has not improved by more than
            ``tol`` for ``patience`` epochs.
        patience : int, default=10
        progress : bool, optional
            Show a progress bar: ``tqdm.auto`` when tqdm is installed (a
            widget in Jupyter with ipywidgets), else a one-line text bar on
            stderr; updated about every ``epochs // 100`` epochs.
        sample_weight : array-like of shape (n_samples,), optional
            Weights >= 0 of the rows: each batch's loss is the weighted mean
            ``sum(w_i L_i) / sum(w_i)``, and the epoch loss weighs batches
            by their weight. Integer weights train as repeated rows would.
        class_weight : dict or "balanced", optional
            Weights per class (the argmax of the targets, or target >= 0.5
            for one output), multiplied into ``sample_weight``;
            ``"balanced"`` weighs class c by n / (k · n_c).
        metrics : list of {"accuracy", "r2"}, optional
            Recorded per epoch by the engine into ``History.accuracy``,
            ``History.val_accuracy``, ``History.r2``, ``History.val_r2``.
        monitor : str, optional
            What ``tol``/``patience``, ``ReduceOnPlateau`` and
            ``restore_best_weights`` watch: "loss", "val_loss",
            "accuracy", "val_accuracy", "r2", "val_r2" (default:
            "val_loss" with validation data, else "loss").
        restore_best_weights : bool, default=False
            End with the weights of the epoch with the best monitored value
            (unless interrupted or diverged); ``History.best_epoch`` says
            which.
        callbacks : list, optional
            Objects from ``swiftprop.callbacks`` (or with their methods),
            run at epoch ends.
        include_l2 : bool, default=False
            Record and print the loss with the l2 term ``(l2/2)·sum ||W||^2``
            added (as the tutorials that print the regularised cost do).
        count_from : {1, 0}, default=1
            Number the printed epochs from 1 (Keras) or from 0 (the
            tutorials' ``for epoch in range(...)``).
        **optimizer_options
            ``momentum``, ``nesterov``, ``beta1``, ``beta2``, ``eps``, ``l2``.

        Returns
        -------
        History

        Notes
        -----
        Ctrl-C stops training within a few tens of milliseconds with
        ``KeyboardInterrupt``; the network keeps the weights of its last
        completed step. If the loss or a gradient becomes NaN or infinite,
        the step is not applied, training stops with a ``RuntimeWarning``
        and ``History.stop_reason == "diverged"``.
        """
        chosen = _resolve(optimizer, None, optimizer_options)
        if isinstance(chosen, LBFGS):
            return self._fit_lbfgs(
                X, y, chosen, epochs, lr, batch_size, verbose, callback,
                validation_data, tol, progress, sample_weight, class_weight,
                metrics=metrics, monitor=monitor, callbacks=callbacks,
                restore_best_weights=restore_best_weights,
                include_l2=include_l2)
        optimizer_lr = chosen.lr
        X, Y = self._samples(X, y)
        hooks = CallbackList(callbacks, self)
        tol, patience, monitor, restore_best_weights = hooks.stopping_rule(
            tol, patience, monitor, restore_best_weights)
        extras = prepare_extras(
            self, X, Y, lr=lr, optimizer_lr=optimizer_lr,
            sample_weight=sample_weight, class_weight=class_weight,
            validation_data=validation_data, metrics=metrics, monitor=monitor,
            restore_best_weights=restore_best_weights, include_l2=include_l2,
            count_from=count_from, loss_scale=_loss_scale,
            penalty_scale=_penalty_scale, l2_per_sample=_l2_per_sample,
            as_float_matrix=as_float_matrix, as_targets=as_targets)
        base_lr, schedule = extras.schedule.engine()
        settings = _resolve(optimizer, base_lr, optimizer_options)
        plan = plan_fit(X.shape[0], epochs, batch_size, shuffle, verbose,
                        callback, tol, patience)
        shuffle_state = numpy_shuffle_state(_random_state)
        VX = VY = VW = val_history = None
        if extras.validation is not None:
            VX, VY, VW = extras.validation
            val_history = np.full(plan.epochs, np.nan)
        metric_bits = sum(METRICS[name] for name in extras.metrics)
        monitor_code = -1 if extras.monitor is None else MONITORS[
            extras.monitor]
        wanted = {name: name.removeprefix("val_") in extras.metrics
                  and (VX is not None or not name.startswith("val_"))
                  for name in ("accuracy", "val_accuracy", "r2", "val_r2")}
        # A rate nothing can change is recorded as one number.
        rate_fixed = (schedule[0] == SCHEDULES["constant"] and schedule[2] == 0
                      and extras.rate_function is None and not hooks)
        wanted["lr"] = not rate_fixed
        wanted["l2"] = bool(extras.penalty_scale)
        # Only the records this fit fills: a long fit of a tiny network
        # spends more time faulting in fresh pages than training.
        records = {name: np.full(plan.epochs, np.nan)
                   for name, want in wanted.items() if want}
        engine_extras = (
            extras.weights, VW, schedule, monitor_code,
            int(extras.restore_best), metric_bits, int(extras.l2_per_sample),
            extras.loss_scale, extras.penalty_scale,
            *(records.get(name) for name in ("lr", "accuracy",
                                             "val_accuracy", "r2", "val_r2",
                                             "l2")),
            shuffle_state)
        history = np.full(plan.epochs, np.nan)
        norms = np.zeros((plan.epochs, len(self.layers)))
        hooks.begin(history, val_history, records, extras)
        reporter = EpochReporter(plan, VX is not None, extras.rate_function,
                                 extras.count_from,
                                 [hooks.epoch_end] if hooks else ())
        # With progress on, a bar wraps the reporter; it reads the epochs
        # done from history and closes on any exit.
        bar = progress_bar(reporter, history, progress)
        with self._lock, bar as reporter:
            # A request made before this point (even before fit was
            # called) is kept for this fit; it is consumed as it ends.
            try:
                done, reason, best_epoch = _engine.fit(
                    self._handle, X, Y, VX, VY, engine_settings(settings),
                    (plan.epochs, plan.batch_size, plan.shuffle,
                     reporter.every, plan.tol, plan.patience,
                     _POLL_INTERVAL_NS),
                    reporter if reporter.every else None, history,
                    val_history, norms, self._stop_request, engine_extras)
            finally:
                requested = bool(self._stop_request)
                self._stop_request.clear()
                advance_random_state(_random_state, shuffle_state)
        stop_reason = name_of(STOP_REASONS, reason)
        if stop_reason == "callback" and requested:
            stop_reason = "requested"
        metrics_done = {name: records[name][:done]
                        for name in ("accuracy", "val_accuracy", "r2",
                                     "val_r2") if wanted[name]}
        result = History(history[:done],
                         () if val_history is None else val_history[:done],
                         stop_reason, norms[:done],
                         base_lr if rate_fixed else records["lr"][:done],
                         metrics_done, best_epoch if best_epoch >= 0 else None,
                         records["l2"][:done] if extras.penalty_scale else ())
        hooks.end(result)
        if result.stop_reason == "diverged":
            result.diverged_at = done
            warnings.warn(f"training diverged in epoch {done}: the loss or a "
                          "gradient became NaN or infinite; the network keeps "
                          "the weights of its last finite step (try a smaller "
                          "lr)", RuntimeWarning, stacklevel=2)
        return result

    def _fit_lbfgs(self, X, y, settings, epochs, lr, batch_size, verbose,
                   callback, validation_data, tol, progress, sample_weight,
                   class_weight, **unsupported):
        """``fit(optimizer="lbfgs")``: the whole L-BFGS run in one engine
        call (``epochs`` iterations at most, ``tol`` as ``gtol``)."""
        X, Y = self._samples(X, y)
        settings, plan, reporter = plan_lbfgs(
            X.shape[0], settings, epochs, lr, batch_size, verbose, callback,
            validation_data, tol, **unsupported)
        weights = fit_weights(self, Y, sample_weight, class_weight)
        history = np.full(plan.epochs, np.nan)
        bar = progress_bar(reporter, history, progress)
        with self._lock, bar as reporter:
            self._stop_request.clear()
            iterations, evaluations, value, reason = _engine.fit_lbfgs(
                self._handle, X, Y,
                lbfgs_settings(settings, plan.epochs, reporter.every,
                               _POLL_INTERVAL_NS),
                reporter if reporter.every else None, history,
                self._stop_request, weights)
        stop_reason = name_of(STOP_REASONS, reason)
        if stop_reason == "callback" and self._stop_request:
            stop_reason = "requested"
        return lbfgs_history(history, iterations, evaluations, value,
                             stop_reason, stacklevel=3)

    # Saving, copying and display: all through the network's state

    def _state(self):
        """Everything that decides this network's future, as a
        ``persistence.NetworkState``: architecture, weights, the generator's
        state and the optimizer's, in one consistent snapshot (even with a
        fit starting in another thread)."""
        with self._lock:
            weights = self.weights
            generator = _engine.get_generator(self._handle)
            optimizer = self.get_optimizer_state()
        return persistence.NetworkState(
            list(self.layers), self.loss_name, self.dtype.name, self.init,
            self.seed, weights, generator, optimizer)

    def _load_state(self, state):
        """Become the network ``state`` describes: built afresh from its
        architecture, then given its weights, generator and optimizer."""
        # Network's own builder, never a subclass's __init__ (which may
        # take other arguments, or none).
        Network._build(self, state.layers, loss=state.loss,
                       dtype=state.dtype, init=state.init, seed=state.seed)
        with self._lock:
            self.set_weights(state.weights)
            _engine.set_generator(self._handle, state.generator)
            self.set_optimizer_state(state.optimizer)

    @classmethod
    def _from_state(cls, state):
        """A new network built from a ``persistence.NetworkState``."""
        network = cls.__new__(cls)
        network._load_state(state)
        return network

    def save(self, path):
        """Write the network to ``path`` atomically, as an ``.npz`` file.

        The file holds the architecture, dtype, loss, initialiser, seed,
        weights, the generator's state and the optimizer's state, so that a
        loaded network predicts and trains on exactly as this one would (the
        format is described in ``swiftprop.persistence``).

        Parameters
        ----------
        path : str or os.PathLike
            Written as given; ``.npz`` is the customary suffix.
        """
        persistence.save(self._state(), path)

    @classmethod
    def load(cls, path):
        """Read a network written by ``save``.

        Raises
        ------
        ValueError
            If the file is truncated, corrupted, not a saved network or of
            an unsupported format version.
        """
        return persistence.load(path, cls._from_state)

    def __getstate__(self):
        # The engine handle, lock and finalizer cannot be pickled: the state
        # is the arrays of the saved format, and __setstate__ rebuilds them.
        return persistence.state_to_arrays(self._state())

    def __setstate__(self, arrays):
        self._load_state(persistence.state_from_arrays(arrays))

    def __deepcopy__(self, memo):
        # A new engine network with the same state; never a shared handle.
        duplicate = self._from_state(self._state())
        memo[id(self)] = duplicate
        return duplicate

    def _repr_html_(self):
        """A table of the layers for Jupyter (``__repr__`` is the text)."""
        return network_html(self)

    # Explaining and classifying

    def explain(self, X, y, lr=None, l2=0.0, precision=4):
        """One backpropagation step written out: z, a, delta, dW, db and
        the new W of every layer, with the chain rule of each (the network
        is not changed). See ``swiftprop.explain.explain``.

        Returns
        -------
        Trace
        """
        return explain_step(self, X, y, lr=lr, l2=l2, precision=precision)

    def predict_classes(self, X):
        """Predicted class labels: the argmax of several outputs, or
        ``output >= 0.5`` for one sigmoid output.

        Returns
        -------
        ndarray of int of shape (n_samples,)
        """
        return predict_classes(self, X)

    # Export (swiftprop.export)

    def to_onnx(self, **options):
        """An ONNX model of the network: ``swiftprop.to_onnx(self, ...)``.

        Returns
        -------
        onnx.ModelProto
            Input ``"X"`` of shape ``(N, n_inputs)``, output ``"Y"`` of shape
            ``(N, n_outputs)``; see ``swiftprop.export.to_onnx``.
        """
        return export.to_onnx(self, **options)

    def to_torch(self):
        """The network as a ``torch.nn.Sequential`` (Linear layers with
        ``weight = W.T``, ``bias = b``, and activation modules), in the
        network's dtype; see ``swiftprop.export.to_torch``."""
        return export.to_torch(self)

    @classmethod
    def from_torch(cls, module, loss="mse", seed=None):
        """A network from a ``torch.nn.Sequential`` of ``Linear`` layers and
        activations (the inverse of ``to_torch``); see
        ``swiftprop.export.from_torch``.

        Raises
        ------
        ValueError
            Naming the module that has no counterpart in the engine.
        """
        return export.from_torch(module, loss=loss, seed=seed,
                                 network_class=cls)


# The engine's limits, as the Python layer checks them.
MAX_LAYERS = 100_000
MAX_SEED = 2**64 - 1

# Set by __init__: __getattr__ says the object was never initialised when
# one of these is missing.
_INITIALISED_ATTRIBUTES = frozenset({
    "layers", "loss_name", "dtype", "init", "seed", "_lock",
    "_stop_request", "_n_inputs", "_n_outputs", "_handle", "_finalizer"})

# Every live network, for the fork handler below.
_LIVE_NETWORKS = weakref.WeakSet()


class _ForkedInsideCall:
    """The lock of a network that another thread was using when the process
    forked: in the child that thread does not exist, its call never ends
    and the network's weights may be half-updated, so every use raises."""

    def __enter__(self):
        raise RuntimeError(
            "this network was in use by another thread (inside fit or "
            "another call) when the process forked; in the child its state "
            "is undefined: save it before forking, or build or load it "
            "again in the child")

    def __exit__(self, *exc_info):
        return False

    def acquire(self, *args, **kwargs):
        self.__enter__()

    def release(self):
        pass


def _after_fork_in_child():
    """``os.fork`` copies a network's lock as it was: held, if another
    thread was inside a call, and then it would never be released (that
    thread does not exist in the child). A network whose lock another
    thread held gets one that raises instead; the others keep theirs."""
    for network in list(_LIVE_NETWORKS):
        old = network.__dict__.get("_lock")
        if old is None or isinstance(old, _ForkedInsideCall):
            continue
        if old.acquire(blocking=False):
            # Free, or held by the forking thread itself (a fork from a fit
            # callback), which releases it as it unwinds: kept.
            old.release()
        else:
            network._lock = _ForkedInsideCall()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _StopRequest:
    """A flag another thread sets to stop a running fit; the engine reads
    its truth value at every interrupt poll."""

    __slots__ = ("requested",)

    def __init__(self):
        self.requested = False

    def set(self):
        self.requested = True

    def clear(self):
        self.requested = False

    def __bool__(self):
        return self.requested


def flatten_weights(weights, layers, dtype):
    """Check ``[(W, b), ...]`` against ``layers`` and return one flat vector.

    Raises ``ValueError``/``TypeError`` naming the layer and the array; the
    check is complete before anything is returned.
    """
    if not isinstance(weights, (list, tuple)):
        raise TypeError("weights must be a list of (W, b) pairs, got "
                        f"{type(weights).__name__}")
    if len(weights) != len(layers):
        raise ValueError(f"weights has {len(weights)} (W, b) pairs, but the "
                         f"network has {len(layers)} layers")
    parts = []
    for index, (pair, layer) in enumerate(zip(weights, layers)):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise TypeError(f"weights[{index}] must be a pair (W, b)")
        for name, array, shape in ((f"layer {index} W", pair[0],
                                    (layer.n_in, layer.n_out)),
                                   (f"layer {index} b", pair[1],
                                    (layer.n_out,))):
            array = np.asarray(array)
            if array.dtype.kind not in "biuf":
                raise TypeError(f"{name} must be a real numeric array, got "
                                f"dtype {array.dtype}")
            if name.endswith("b") and array.shape == (1, layer.n_out):
                array = array.reshape(-1)  # the tutorials' (1, n_out) biases
            if array.shape != shape:
                raise ValueError(f"{name} has shape {array.shape}, expected "
                                 f"{shape}")
            array = array.astype(dtype, copy=False)
            if not np.isfinite(array).all():
                raise ValueError(f"{name} contains NaN or infinity")
            parts.append(array.ravel())
    return np.ascontiguousarray(np.concatenate(parts), dtype=dtype)

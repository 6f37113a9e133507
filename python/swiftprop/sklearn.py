"""scikit-learn estimators trained on the Swift engine.

``MLPClassifier`` and ``MLPRegressor`` take the constructor parameters of
scikit-learn's classes of the same names that apply to the ``"sgd"`` and
``"adam"`` solvers, keep the same fitted attributes, and work wherever a
scikit-learn estimator does (``Pipeline``, ``cross_val_score``,
``GridSearchCV``, pickling)::

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from swiftprop.sklearn import MLPClassifier

    model = make_pipeline(StandardScaler(), MLPClassifier(random_state=0))
    model.fit(X_train, y_train).score(X_test, y_test)

Each ``fit`` is one ``swiftprop.Network.fit`` call: every epoch, mini-batch
and convergence test runs in Swift. The fitted network is ``network_``.

This module needs scikit-learn 1.6 or later; ``import swiftprop`` never
imports it.

How the settings map onto the engine
------------------------------------
The updates are scikit-learn's, step for step (with ``shuffle=False`` the
weights follow scikit-learn's to rounding error; see the tests):

- The initial weights are drawn as scikit-learn draws them, from the same
  ``random_state`` stream: Glorot uniform with bound ``sqrt(6 / (fan_in +
  fan_out))`` (``sqrt(2 / ...)`` for ``logistic``), biases from the same
  distribution. The order of mini-batches comes from the network's own
  generator, seeded from ``random_state``, so it differs from
  scikit-learn's.
- ``alpha``: scikit-learn adds ``alpha * W / n_batch`` to each weight
  gradient (its penalty ``alpha / 2 * ||W||^2`` is divided by the batch's
  size). The engine's ``l2`` adds ``l2 * W`` to the gradient of the mean
  loss, so ``l2 = alpha / batch_size``. (scikit-learn's last, smaller batch
  of an epoch gets a slightly larger penalty.)
- Gradient scale: the engine's losses are means over all elements of the
  output, scikit-learn's gradients are sums over the outputs divided by the
  batch size, and its squared error carries a factor 1/2. The engine's
  gradient is therefore ``c`` times scikit-learn's, with ``c = 2 / n_outputs``
  for regression, ``1 / n_outputs`` for multi-label and ``1`` for binary and
  multi-class classification. The estimators compensate: SGD runs with
  ``lr = learning_rate_init / c`` and ``l2 = c * alpha / batch_size``; Adam
  (invariant to the gradient's scale) with ``eps = c * epsilon`` and the
  same ``l2``. PyTorch's momentum convention, which the engine uses, is
  equivalent to scikit-learn's for a constant learning rate. Adam's ``eps``
  sits inside the bias correction in scikit-learn and outside in the engine:
  a difference of order ``epsilon``.
- ``loss_``, ``loss_curve_`` and ``best_loss_`` are in the engine's
  convention: the data loss (without the ``alpha`` term) as the engine
  reports it: for regression the mean over all elements of ``(y_pred -
  y)**2``, twice scikit-learn's data loss; for multi-label the binary
  cross-entropy averaged over the labels, scikit-learn's divided by
  ``n_outputs``; for binary and multi-class classification the same as
  scikit-learn's data loss.
- ``tol`` and ``n_iter_no_change`` are the engine's ``tol`` and
  ``patience = n_iter_no_change + 1``: training stops when the loss has not
  improved by more than ``tol`` for ``n_iter_no_change`` consecutive epochs
  after its best, as in scikit-learn. With ``warm_start``, the test starts
  afresh in each ``fit`` (scikit-learn carries its count over).
- ``early_stopping``: as scikit-learn, ``validation_fraction`` of the data
  is held out (stratified by class for binary and multi-class targets),
  scored after every epoch (accuracy or R^2, into ``validation_scores_``),
  training stops when the score has not improved by ``tol`` for
  ``n_iter_no_change`` epochs, and the weights of the best score are kept.
- ``verbose`` shows a progress bar (``tqdm`` when installed).
- Not supported: ``solver="lbfgs"``, ``learning_rate`` schedules other than
  constant (``learning_rate``, ``power_t``), ``max_fun``, ``sample_weight``
  and the Poisson loss. Sparse input is accepted and made dense.
"""

import numbers
import warnings

import numpy as np
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils.multiclass import (check_classification_targets,
                                      type_of_target, unique_labels)
from sklearn.utils.validation import check_is_fitted

try:
    from sklearn.utils.validation import validate_data
except ImportError:  # scikit-learn < 1.6
    raise ImportError("swiftprop.sklearn needs scikit-learn 1.6 or later, "
                      f"found {sklearn.__version__}") from None

from ._validation import check_dtype
from .layers import MAX_LAYER_SIZE
from .network import Network
from .optimizers import SGD, Adam

__all__ = ["MLPClassifier", "MLPRegressor"]

# scikit-learn's activation names and the engine's.
ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh",
               "relu": "relu"}
SOLVERS = ("sgd", "adam")
_BATCH_SIZE_AUTO = 200


class _BaseMLP(BaseEstimator):
    """What ``MLPClassifier`` and ``MLPRegressor`` share; see their
    docstrings. Subclasses define ``_validate_targets``, ``_output``,
    ``_score_on`` and ``predict``."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto",
                 learning_rate_init=0.001, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, dtype="float64"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dtype = dtype

    # Checking the parameters

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral):
            sizes = [sizes]
        try:
            sizes = list(sizes)
        except TypeError:
            raise TypeError("hidden_layer_sizes must be an int or a sequence "
                            f"of ints, got {sizes!r}") from None
        for size in sizes:
            if isinstance(size, (bool, np.bool_)) or not isinstance(
                    size, numbers.Integral) or size < 1:
                raise ValueError(f"hidden_layer_sizes must be > 0, got "
                                 f"{self.hidden_layer_sizes!r}")
            if size > MAX_LAYER_SIZE:
                # Checked before the initial weights are drawn.
                raise ValueError(f"hidden_layer_sizes must be <= "
                                 f"{MAX_LAYER_SIZE}, got "
                                 f"{self.hidden_layer_sizes!r}")
        return [int(size) for size in sizes]

    def _check_params(self):
        """Validate the constructor parameters (scikit-learn's convention:
        at ``fit``, never in ``__init__`` or ``set_params``)."""
        def number(name, low, high, low_open=False, high_open=True):
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(
                    value, numbers.Real) or not np.isfinite(value) or (
                    value <= low if low_open else value < low) or (
                    high is not None and (value >= high if high_open
                                          else value > high)):
                bounds = (f"{'(' if low_open else '['}{low}, "
                          f"{high if high is not None else 'inf'}"
                          f"{')' if high_open or high is None else ']'}")
                raise ValueError(f"{name} must be a number in {bounds}, got "
                                 f"{value!r}")
            return float(value)

        def integer(name, low):
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(
                    value, numbers.Integral) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got "
                                 f"{value!r}")
            return int(value)

        def flag(name):
            value = getattr(self, name)
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"{name} must be a bool, got {value!r}")
            return bool(value)

        def option(name, choices):
            value = getattr(self, name)
            if value not in choices:
                if name == "solver" and value == "lbfgs":
                    raise ValueError("solver='lbfgs' is not supported by "
                                     "swiftprop; use 'adam' or 'sgd'")
                raise ValueError(f"{name} must be one of "
                                 f"{', '.join(map(repr, choices))}; got "
                                 f"{value!r}")
            return value

        self._hidden_sizes()
        option("activation", tuple(ACTIVATIONS))
        option("solver", SOLVERS)
        number("alpha", 0, None)
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            integer("batch_size", 1)
        number("learning_rate_init", 0, None, low_open=True)
        integer("max_iter", 1)
        flag("shuffle")
        number("tol", 0, None)
        if not isinstance(self.verbose, (bool, np.bool_, numbers.Integral)):
            raise ValueError(f"verbose must be a bool or an int, got "
                             f"{self.verbose!r}")
        flag("warm_start")
        number("momentum", 0, 1)
        flag("nesterovs_momentum")
        flag("early_stopping")
        number("validation_fraction", 0, 1, low_open=True)
        number("beta_1", 0, 1)
        number("beta_2", 0, 1)
        number("epsilon", 0, None, low_open=True)
        integer("n_iter_no_change", 1)
        check_dtype(self.dtype)

    # Training

    def _validate_input(self, X, y, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"],
                             multi_output=True,
                             dtype=(np.float64, np.float32),
                             y_numeric=not isinstance(self, ClassifierMixin),
                             reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return _dense(X), y

    def _initial_weights(self, sizes, random_state):
        """scikit-learn's initialisation, drawn from ``random_state`` in its
        order: per layer, W then b, uniform in ``+-sqrt(factor / (fan_in +
        fan_out))`` with factor 2 for logistic, else 6."""
        factor = 2.0 if self.activation == "logistic" else 6.0
        weights = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            W = random_state.uniform(-bound, bound, (fan_in, fan_out))
            b = random_state.uniform(-bound, bound, fan_out)
            weights.append((W, b))
        return weights

    def _fit(self, X, y, incremental):
        self._check_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        first_pass = not hasattr(self, "network_") or (
            not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, reset=first_pass)
        Y = self._validate_targets(y, incremental, first_pass)
        if not first_pass and self.network_.dtype != check_dtype(self.dtype):
            raise ValueError(
                f"dtype is {self.dtype!r}, but the model was fitted in "
                f"{self.network_.dtype.name}; a warm start or partial_fit "
                "continues in the fitted dtype (set dtype back, or refit "
                "with warm_start=False)")
        if not first_pass and Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} outputs, but the model was "
                             f"fitted with {self.n_outputs_}")
        random_state = check_random_state(self.random_state)
        if first_pass:
            sizes = [X.shape[1], *self._hidden_sizes(), Y.shape[1]]
            initial = self._initial_weights(sizes, random_state)

        X_val = y_val = None
        if self.early_stopping:
            X, X_val, Y, y_val = self._split(X, y, Y, random_state)

        if first_pass:
            output, loss = self._output(Y.shape[1])
            self.network_ = Network(
                sizes, activation=ACTIVATIONS[self.activation],
                output_activation=output, loss=loss, dtype=self.dtype,
                seed=int(random_state.randint(0, 2**63 - 1, dtype=np.int64)))
            self.network_.set_weights(initial)
            self.n_outputs_ = Y.shape[1]
            self.n_layers_ = len(sizes)
            self.out_activation_ = {"sigmoid": "logistic"}.get(output, output)
            self.n_iter_ = 0
            self.t_ = 0
            self.loss_curve_ = []
            self.best_loss_ = None if self.early_stopping else np.inf
            self.validation_scores_ = [] if self.early_stopping else None
            self.best_validation_score_ = (-np.inf if self.early_stopping
                                           else None)
        elif not incremental:
            # scikit-learn starts a new optimizer for every fit.
            self.network_.reset_optimizer()
        self._run(X, Y, X_val, y_val, incremental)
        return self

    def _split(self, X, y, Y, random_state):
        """Hold out ``validation_fraction`` of the samples, stratified by
        class for single-label classification when every class allows it."""
        stratify = None
        if isinstance(self, ClassifierMixin) and y.ndim == 1:
            stratify = y
        try:
            X, X_val, Y, Y_val, _, y_val = train_test_split(
                X, Y, y, random_state=random_state,
                test_size=self.validation_fraction, stratify=stratify)
        except ValueError:
            if stratify is None:
                raise
            # Too few samples of some class to stratify: split at random.
            X, X_val, Y, Y_val, _, y_val = train_test_split(
                X, Y, y, random_state=random_state,
                test_size=self.validation_fraction)
        if X_val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase "
                             "'validation_fraction' or the size of your "
                             "dataset.")
        return X, X_val, Y, y_val

    def _optimizer(self, batch_size):
        """The engine's optimizer for scikit-learn's settings (see the
        module docstring: ``c`` is the engine's gradient scale)."""
        c = self._gradient_scale(self.n_outputs_)
        l2 = c * self.alpha / batch_size
        if self.solver == "sgd":
            return SGD(lr=self.learning_rate_init / c, momentum=self.momentum,
                       nesterov=bool(self.nesterovs_momentum
                                     and self.momentum > 0), l2=l2)
        return Adam(lr=self.learning_rate_init, beta1=self.beta_1,
                    beta2=self.beta_2, eps=c * self.epsilon, l2=l2)

    def _run(self, X, Y, X_val, y_val, incremental):
        """One ``Network.fit`` call and the fitted attributes it gives."""
        n_samples = X.shape[0]
        if self.batch_size == "auto":
            batch_size = min(_BATCH_SIZE_AUTO, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than "
                              "sample size. It is going to be clipped")
            batch_size = min(self.batch_size, n_samples)
        network = self.network_
        epochs = 1 if incremental else self.max_iter
        options = dict(epochs=epochs, optimizer=self._optimizer(batch_size),
                       batch_size=batch_size, shuffle=bool(self.shuffle),
                       progress=bool(self.verbose) and not incremental)
        stopper = None
        if self.early_stopping:
            stopper = _EarlyStopping(self, X_val, y_val)
            options["callback"] = stopper
        elif not incremental:
            options["tol"] = self.tol
            options["patience"] = self.n_iter_no_change + 1
        history = network.fit(X, Y, **options)
        if stopper is not None and stopper.best_weights is not None:
            network.set_weights(stopper.best_weights)

        self.n_iter_ = history.epochs
        self.t_ += n_samples * history.epochs
        self.loss_curve_.extend(history.loss)
        if history.loss:
            self.loss_ = history.loss[-1]
        elif not hasattr(self, "loss_"):
            self.loss_ = np.nan
        if not self.early_stopping:
            self.best_loss_ = min([self.best_loss_, *history.loss])
        weights = network.weights
        self.coefs_ = [W for W, _ in weights]
        self.intercepts_ = [b for _, b in weights]

        converged = history.stop_reason in ("converged", "callback")
        if self.verbose and converged:
            what = ("Validation score" if self.early_stopping
                    else "Training loss")
            print(f"{what} did not improve more than tol={self.tol:f} for "
                  f"{self.n_iter_no_change} consecutive epochs. Stopping.")
        if not incremental and history.stop_reason == "completed":
            warnings.warn(f"Stochastic Optimizer: Maximum iterations "
                          f"({self.max_iter}) reached and the optimization "
                          "hasn't converged yet.", ConvergenceWarning)

    def _network_output(self, X):
        """The network's outputs for checked ``X``, ``(n_samples,
        n_outputs_)``."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"],
                          dtype=(np.float64, np.float32), reset=False)
        return self.network_.predict(_dense(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class _EarlyStopping:
    """The ``Network.fit`` callback behind ``early_stopping=True``: scores
    the held-out samples after every epoch, remembers the best weights and
    stops as scikit-learn does."""

    def __init__(self, estimator, X_val, y_val):
        self.estimator = estimator
        self.X_val = X_val
        self.y_val = y_val
        self.best_weights = None
        self.wait = 0

    def __call__(self, epoch, loss):
        estimator = self.estimator
        network = estimator.network_
        score = estimator._score_on(network.predict(self.X_val), self.y_val)
        estimator.validation_scores_.append(score)
        if score < estimator.best_validation_score_ + estimator.tol:
            self.wait += 1
        else:
            self.wait = 0
        if score > estimator.best_validation_score_:
            estimator.best_validation_score_ = score
            self.best_weights = network.weights
        return self.wait <= estimator.n_iter_no_change


def accuracy(y_true, y_pred):
    """``sklearn.metrics.accuracy_score`` without its input checks (subset
    accuracy for a multi-label indicator matrix): it runs after every epoch
    of early stopping."""
    equal = np.asarray(y_true) == np.asarray(y_pred)
    if equal.ndim > 1:
        equal = equal.all(axis=1)
    return float(equal.mean())


def r2(y_true, y_pred):
    """``sklearn.metrics.r2_score`` (uniform average over the outputs; an
    output with constant ``y_true`` scores 1 if predicted exactly, else 0)
    without its input checks."""
    y_true = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(y_true.shape)
    residual = ((y_true - y_pred) ** 2).sum(axis=0)
    total = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(total > 0, 1 - residual / total,
                          np.where(residual > 0, 0.0, 1.0))
    return float(scores.mean())


def _dense(X):
    """A dense array for the engine (sparse input is converted)."""
    return X.toarray() if hasattr(X, "toarray") else X


# Classifier


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier on the Swift engine.

    A drop-in replacement for ``sklearn.neural_network.MLPClassifier`` with
    the ``"adam"`` and ``"sgd"`` solvers; see the module docstring for how
    each setting maps onto the engine.

    Multi-class targets train a softmax output with cross-entropy; binary
    targets one logistic output with binary cross-entropy; multi-label
    targets (a 2-D indicator matrix) one logistic output per label with
    binary cross-entropy.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(100,)
        Width of each hidden layer; ``()`` gives a linear model.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Activation of the hidden layers (``logistic`` is the engine's
        ``sigmoid``).
    solver : {"adam", "sgd"}, default="adam"
    alpha : float, default=0.0001
        Strength of the L2 penalty, as in scikit-learn (the engine's ``l2``
        is ``alpha / batch_size``).
    batch_size : int or "auto", default="auto"
        ``"auto"`` is ``min(200, n_samples)``.
    learning_rate_init : float, default=0.001
    max_iter : int, default=200
        Epochs at most.
    shuffle : bool, default=True
        Reshuffle the samples every epoch.
    random_state : int, RandomState instance or None, default=None
        Draws the initial weights, the validation split and the seed of
        the network's generator (which orders the mini-batches).
    tol : float, default=1e-4
    verbose : bool or int, default=False
        Show a progress bar during ``fit``.
    warm_start : bool, default=False
        Continue from the previous solution on ``fit``.
    momentum : float, default=0.9
        SGD momentum, in [0, 1).
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when its
        accuracy stops improving; keep the best weights.
    validation_fraction : float, default=0.1
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's decay rates, in [0, 1).
    epsilon : float, default=1e-8
    n_iter_no_change : int, default=10
        Epochs without an improvement by ``tol`` before stopping.
    dtype : {"float64", "float32"}, default="float64"
        Element type of the weights and the computation.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    loss_ : float
        The last epoch's training loss (engine convention, without the
        ``alpha`` term).
    best_loss_ : float or None
        The least training loss (``None`` with ``early_stopping``).
    loss_curve_ : list of float
        The training loss of each epoch, across ``warm_start`` fits and
        ``partial_fit`` calls.
    validation_scores_ : list of float or None
        Accuracy on the held-out samples after each epoch
        (``early_stopping`` only).
    best_validation_score_ : float or None
    t_ : int
        Training samples seen.
    coefs_ : list of ndarray
        ``coefs_[i]`` of shape (n_in, n_out): copies of the weights.
    intercepts_ : list of ndarray
        ``intercepts_[i]`` of shape (n_out,).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when ``X`` has string column names.
    n_iter_ : int
        Epochs run by the last ``fit`` (1 after ``partial_fit``).
    n_layers_ : int
    n_outputs_ : int
    out_activation_ : {"softmax", "logistic"}
    network_ : swiftprop.Network
        The trained network (``save`` it, or read ``history``-style data
        from ``loss_curve_``).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from swiftprop.sklearn import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((16,), max_iter=500, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    """

    def _validate_targets(self, y, incremental, first_pass):
        """Fit or check the label binarizer; return 0/1 targets of shape
        ``(n_samples, n_outputs)``."""
        check_classification_targets(y)
        if first_pass and not incremental:
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start and not incremental:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same "
                        "classes as in the previous call to fit. Previously "
                        f"got {self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_,
                                  assume_unique=True)):
                raise ValueError("`y` has classes not in `self.classes_`. "
                                 f"`self.classes_` has {self.classes_}. 'y' "
                                 f"has {classes}.")
        Y = self._label_binarizer.transform(y)
        return np.asarray(Y, dtype=check_dtype(self.dtype))

    def _output(self, n_outputs):
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax", "cross_entropy"
        return "sigmoid", "binary_cross_entropy"

    def _gradient_scale(self, n_outputs):
        multilabel = self._label_binarizer.y_type_.startswith("multilabel")
        return 1.0 / n_outputs if multilabel else 1.0

    def _score_on(self, outputs, y):
        return accuracy(y, self._labels(outputs))

    def _labels(self, outputs):
        if self.n_outputs_ == 1:
            outputs = outputs.ravel()
        return self._label_binarizer.inverse_transform(outputs)

    def fit(self, X, y):
        """Train on ``(X, y)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a 0/1 indicator matrix for multi-label.

        Returns
        -------
        self : MLPClassifier
        """
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``(X, y)``, continuing from the current state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        classes : array-like of shape (n_classes,), optional
            Every class of the whole data set; needed on the first call
            (unless ``y`` is a multi-label indicator matrix).

        Returns
        -------
        self : MLPClassifier
        """
        if not hasattr(self, "classes_"):
            multilabel = type_of_target(y).startswith("multilabel")
            if classes is None and not multilabel:
                raise ValueError("classes must be passed on the first call "
                                 "to partial_fit.")
            self._label_binarizer = LabelBinarizer().fit(
                y if multilabel else classes)
            self.classes_ = self._label_binarizer.classes_
        elif classes is not None and not np.array_equal(
                unique_labels(classes), self.classes_):
            raise ValueError(f"`classes={classes!r}` is not the same as on "
                             f"last call to partial_fit, was: "
                             f"{self.classes_!r}")
        return self._fit(X, y, incremental=True)

    def predict(self, X):
        """Predicted classes.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_labels)
        """
        return self._labels(self._network_output(X))

    def predict_proba(self, X):
        """Probability of each class, in the order of ``classes_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            For binary targets the columns are ``1 - p`` and ``p``; for
            multi-label, each label's probability.
        """
        outputs = self._network_output(X)
        if self.n_outputs_ == 1:
            p = outputs.ravel()
            return np.vstack([1 - p, p]).T
        return outputs

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        proba = self.predict_proba(X)
        return np.log(proba, out=proba)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


# Regressor


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor on the Swift engine.

    A drop-in replacement for ``sklearn.neural_network.MLPRegressor`` with
    the ``"adam"`` and ``"sgd"`` solvers and the squared error: an identity
    output layer trained with the engine's ``mse``. Single- and
    multi-output targets. The parameters are ``MLPClassifier``'s; the
    differences are below.

    Parameters
    ----------
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when its R^2
        stops improving; keep the best weights.
    **others
        As ``MLPClassifier``.

    Attributes
    ----------
    loss_ : float
        The last epoch's mean over all elements of ``(y_pred - y)**2``:
        twice scikit-learn's data loss, without the ``alpha`` term.
    validation_scores_ : list of float or None
        R^2 on the held-out samples after each epoch.
    out_activation_ : "identity"
    **others
        As ``MLPClassifier``, without ``classes_``.

    Examples
    --------
    >>> import numpy as np
    >>> from swiftprop.sklearn import MLPRegressor
    >>> X = np.linspace(-1, 1, 200).reshape(-1, 1)
    >>> reg = MLPRegressor((32,), activation="tanh", max_iter=2000,
    ...                    learning_rate_init=0.01, random_state=0)
    >>> reg.fit(X, X.ravel() ** 2).score(X, X.ravel() ** 2) > 0.95
    True
    """

    def _validate_targets(self, y, incremental, first_pass):
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        return np.asarray(Y, dtype=check_dtype(self.dtype))

    def _output(self, n_outputs):
        return "identity", "mse"

    def _gradient_scale(self, n_outputs):
        return 2.0 / n_outputs

    def _score_on(self, outputs, y):
        return r2(y, outputs)

    def fit(self, X, y):
        """Train on ``(X, y)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self : MLPRegressor
        """
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y):
        """One epoch over ``(X, y)``, continuing from the current state.

        Returns
        -------
        self : MLPRegressor
        """
        return self._fit(X, y, incremental=True)

    def predict(self, X):
        """Predicted targets.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        outputs = self._network_output(X)
        return outputs.ravel() if outputs.shape[1] == 1 else outputs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

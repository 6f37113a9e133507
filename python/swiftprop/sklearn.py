"""scikit-learn estimators trained on the Swift engine.

``MLPClassifier`` and ``MLPRegressor`` take scikit-learn's constructor
parameters in scikit-learn's order (``MLPRegressor``'s first is ``loss``),
keep its fitted attributes and its numbers (``loss_``, ``loss_curve_``,
``best_loss_`` on scikit-learn's scale, ``alpha`` term included), and work
wherever a scikit-learn estimator does (``Pipeline``, ``cross_val_score``,
``GridSearchCV``, pickling)::

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from swiftprop.sklearn import MLPClassifier

    model = make_pipeline(StandardScaler(), MLPClassifier(random_state=0))
    model.fit(X_train, y_train).score(X_test, y_test)

Each ``fit`` is one ``swiftprop.Network.fit`` call: every epoch,
mini-batch, learning-rate schedule, convergence test and L-BFGS iteration
runs in Swift. The fitted network is ``network_``.

This module needs scikit-learn 1.6 or later; ``import swiftprop`` never
imports it.

How the settings map onto the engine
------------------------------------
With the same ``random_state`` the weights follow scikit-learn's to
rounding error in float64, epoch for epoch, and training stops at the same
epoch (see the tests; in float32 scikit-learn's regressor keeps float64
gradients, because its ``y`` stays float64, and ours does not):

- The initial weights are drawn as scikit-learn draws them, from the same
  ``random_state`` stream: Glorot uniform with bound ``sqrt(6 / (fan_in +
  fan_out))`` (``sqrt(2 / ...)`` for ``logistic``), biases from the same
  distribution; then the validation split of ``early_stopping``. The
  mini-batches are scikit-learn's too: the engine continues that
  ``RandomState``'s MT19937 stream and shuffles the row numbers every epoch
  as ``RandomState.shuffle`` does (``Network.fit``'s private
  ``_random_state``), and the ``RandomState`` is left where the engine
  stopped. (Dropout, our extension, draws its masks from the network's own
  generator, seeded from a copy of the stream, which it does not advance.)
- Gradient scale: the engine's losses are means over all elements of the
  output; scikit-learn's gradients are sums over the outputs divided by the
  batch's size (its sum of sample weights), and its squared error carries a
  factor 1/2. The engine's gradient is ``c`` times scikit-learn's, with
  ``c = 2 / n_outputs`` for squared error, ``1 / n_outputs`` for Poisson and
  multi-label, ``1`` for binary and multi-class classification. SGD runs
  with ``lr = learning_rate_init / c`` (and the schedules of
  ``learning_rate`` on that rate), Adam (invariant to the gradient's scale)
  with ``eps = c * epsilon`` added where scikit-learn adds it, before the
  bias correction (``Adam(eps_hat=True)``).
- ``alpha``: scikit-learn adds ``alpha * W / n_batch`` to each weight
  gradient (its penalty ``alpha / 2 * ||W||^2`` divided by the batch's size,
  or its sum of sample weights). The engine gets ``l2 = c * alpha`` divided
  by each batch's size in the engine (``_l2_per_sample``), so the last,
  smaller batch of an epoch gets scikit-learn's larger penalty too.
- The loss the engine records, monitors and compares with ``tol`` is
  scikit-learn's: its data loss (``_loss_scale`` times the engine's: ``1/2``
  for squared error, whose scikit-learn value is a mean over the outputs,
  ``1 / c`` otherwise) plus its penalty ``alpha / 2 * ||W||^2 / n_batch`` of
  each step (``_penalty_scale = 1 / c``), averaged over the epoch's batches
  by their sizes. ``tol`` and ``n_iter_no_change`` are the engine's ``tol``
  and ``patience = n_iter_no_change + 1`` (``n_iter_no_change=np.inf``:
  never).
- ``learning_rate``: ``"invscaling"`` is the engine's
  ``schedules.InvScaling`` (``lr / (t + 1) ** power_t``, ``t`` the samples
  seen, updated at each epoch's end), ``"adaptive"`` its
  ``schedules.Adaptive`` (the rate divided by 5 where training would stop,
  training stopping once it is at most 1e-6). Both apply to ``"sgd"`` only,
  as in scikit-learn. The velocity of momentum is kept in parameter units
  as scikit-learn keeps it (``v = momentum * v - lr * g; p += v``:
  ``SGD(lr_in_velocity=True)``; the engine's default is PyTorch's gradient
  units, which differ once the rate changes).
- ``solver="lbfgs"``: the engine's L-BFGS, full batch, minimising
  scikit-learn's objective (data loss plus ``alpha / 2 * ||W||^2 /
  n_samples``) with ``max_iter`` iterations, ``max_fun`` evaluations and
  ``tol`` as the projected-gradient tolerance, as scikit-learn's use of
  SciPy defines them.
- ``sample_weight`` (and ``MLPClassifier``'s ``class_weight``, an extension
  of ours, which multiplies it) is the engine's: each batch's loss and
  gradient is the weighted mean over its rows.
- ``early_stopping``: as scikit-learn, ``validation_fraction`` of the data
  is held out (stratified for binary targets) and the engine scores it
  after every epoch (accuracy, subset accuracy for multi-label, or R^2,
  weighted by ``sample_weight``, into ``validation_scores_``), stops when
  the score has not improved by ``tol`` for ``n_iter_no_change`` epochs
  (``"adaptive"`` divides the rate instead) and ends with the best epoch's
  weights.
- ``verbose`` prints scikit-learn's ``Iteration N, loss = ...`` lines;
  ``verbose="bar"`` shows the engine's progress bar instead.
- A fit whose loss or gradient becomes non-finite raises scikit-learn's
  ``ValueError`` (with ``early_stopping``, the best weights are kept and
  the last validation score is NaN, as in scikit-learn).
- float32 input trains in float32 (``coefs_`` float32), other input in
  float64, unless ``dtype`` says otherwise.
- ``coefs_`` and ``intercepts_`` are the state training continues from:
  assigned arrays are loaded into the network before ``partial_fit`` and
  ``warm_start`` fits.
- Sparse input is accepted and made dense.
"""

import copy
import numbers
import sys
import warnings

import numpy as np
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (check_classification_targets,
                                      type_of_target, unique_labels)
from sklearn.utils.validation import check_is_fitted

try:
    from sklearn.utils.validation import validate_data
except ImportError:  # scikit-learn < 1.6
    raise ImportError("swiftprop.sklearn needs scikit-learn 1.6 or later, "
                      f"found {sklearn.__version__}") from None

# Private modules, on purpose. Parameter constraints: scikit-learn has no
# public API to declare them, and ``BaseEstimator._validate_params`` reads
# ``_parameter_constraints`` made of these objects; using them is what makes
# our estimators accept and refuse exactly what scikit-learn's do, with its
# ``InvalidParameterError`` messages. Sample weights: ``_check_sample_weight``
# is the one validator scikit-learn's estimators share (shape, dtype,
# finiteness) and has no public counterpart.
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import _check_sample_weight

from . import schedules
from ._validation import check_dtype
from .callbacks import LambdaCallback
from .layers import MAX_LAYER_SIZE
from .network import Network
from .optimizers import SGD, Adam

__all__ = ["MLPClassifier", "MLPRegressor"]

# scikit-learn's activation names and the engine's.
ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh",
               "relu": "relu"}
STOCHASTIC_SOLVERS = ("sgd", "adam")
_BATCH_SIZE_AUTO = 200
# scikit-learn's message for a fit that ends with non-finite weights.
NON_FINITE = ("Solver produced non-finite parameter weights. The input data "
              "may contain large values and need to be preprocessed.")


class _BaseMLP(BaseEstimator):
    """What ``MLPClassifier`` and ``MLPRegressor`` share; see their
    docstrings. Subclasses define ``__init__``, ``_validate_targets``,
    ``_output``, ``_engine_output``, ``_gradient_scale``, ``_loss_scale``
    and ``predict``."""

    # scikit-learn's constraints for its MLPs (sklearn 1.9), plus ours.
    _parameter_constraints = {
        "hidden_layer_sizes": ["array-like",
                               Interval(numbers.Integral, 1, None,
                                        closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}),
                       Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling",
                                      "adaptive"})],
        "learning_rate_init": [Interval(numbers.Real, 0, None,
                                        closed="neither")],
        "power_t": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "verbose": ["verbose", StrOptions({"bar"})],
        "warm_start": ["boolean"],
        "momentum": [Interval(numbers.Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1,
                                         closed="left")],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None,
                                      closed="left"),
                             Options(numbers.Real, {np.inf})],
        "max_fun": [Interval(numbers.Integral, 1, None, closed="left")],
        "dtype": "no_validation",  # check_dtype checks it
        # Ours: inverted dropout on every hidden layer while training
        # (scikit-learn's MLP has none; its issue #6175).
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
    }

    def _set_params(self, **params):
        for name, value in params.items():
            setattr(self, name, value)

    # Checking the parameters

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        if not hasattr(sizes, "__iter__"):
            sizes = [sizes]
        sizes = list(sizes)
        for size in sizes:
            if isinstance(size, (bool, np.bool_)) or not isinstance(
                    size, numbers.Integral) or size < 1:
                raise ValueError(f"hidden_layer_sizes must be > 0, got "
                                 f"{sizes}.")
            if size > MAX_LAYER_SIZE:
                # Checked before the initial weights are drawn.
                raise ValueError(f"hidden_layer_sizes must be <= "
                                 f"{MAX_LAYER_SIZE}, got "
                                 f"{self.hidden_layer_sizes!r}")
        return [int(size) for size in sizes]

    def _check_params(self):
        """Validate the constructor parameters as scikit-learn does (at
        ``fit``, never in ``__init__`` or ``set_params``)."""
        self._validate_params()
        self._hidden_sizes()
        if self.dtype is not None:
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

    def _training_dtype(self, X):
        if self.dtype is not None:
            return check_dtype(self.dtype)
        return np.dtype(np.float32 if X.dtype == np.float32 else np.float64)

    def _sample_weight(self, sample_weight, X, y):
        """Checked sample weights, or ``None`` (``MLPClassifier`` multiplies
        in its class weights)."""
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X,
                                                 dtype=np.float64)
        return sample_weight

    def _fit(self, X, y, sample_weight, incremental):
        self._check_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        first_pass = not hasattr(self, "coefs_") or (
            not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, reset=first_pass)
        if first_pass:
            self._dtype = self._training_dtype(X)
        elif not hasattr(self, "_dtype"):  # coefs_ assigned by hand
            self._dtype = np.result_type(*self.coefs_, *self.intercepts_,
                                         np.float32)
        X = X.astype(self._dtype, copy=False)
        Y = self._validate_targets(y, incremental, first_pass)
        if (not first_pass and self.dtype is not None
                and check_dtype(self.dtype) != self._dtype):
            raise ValueError(
                f"dtype is {self.dtype!r}, but the model was fitted in "
                f"{np.dtype(self._dtype).name}; a warm start or partial_fit "
                "continues in the fitted dtype (set dtype back, or refit "
                "with warm_start=False)")
        if not first_pass and Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} outputs, but the model was "
                             f"fitted with {self.n_outputs_}")
        sample_weight = self._sample_weight(sample_weight, X, y)
        random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(X, Y, random_state)

        validation = None
        if self.early_stopping and self.solver != "lbfgs":
            X, X_val, Y, Y_val, sample_weight, weight_val = self._split(
                X, y, Y, sample_weight, random_state)
            validation = ((X_val, Y_val) if weight_val is None
                          else (X_val, Y_val, weight_val))
        self._load_network(random_state)
        if self.solver == "lbfgs":
            self._run_lbfgs(X, Y, sample_weight)
        else:
            if not incremental:
                # scikit-learn starts a new optimizer for every fit.
                self.network_.reset_optimizer()
            self._run(X, Y, sample_weight, validation, incremental,
                      random_state)
        return self

    def _initialize(self, X, Y, random_state):
        """The first pass's attributes and scikit-learn's initial weights."""
        sizes = [X.shape[1], *self._hidden_sizes(), Y.shape[1]]
        initial = self._initial_weights(sizes, random_state)
        self.coefs_ = [W.astype(self._dtype) for W, _ in initial]
        self.intercepts_ = [b.astype(self._dtype) for _, b in initial]
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = len(sizes)
        self.out_activation_ = self._output()[0]
        self.n_iter_ = 0
        self.t_ = 0
        self.__dict__.pop("network_", None)
        if self.solver in STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            self.best_loss_ = None if self.early_stopping else np.inf
            self.validation_scores_ = [] if self.early_stopping else None
            self.best_validation_score_ = (-np.inf if self.early_stopping
                                           else None)

    def _load_network(self, random_state):
        """Make ``network_`` hold ``coefs_`` and ``intercepts_`` (which may
        have been assigned), building it on the first pass."""
        weights = [(np.asarray(W, dtype=self._dtype),
                    np.asarray(b, dtype=self._dtype).reshape(-1))
                   for W, b in zip(self.coefs_, self.intercepts_)]
        sizes = [weights[0][0].shape[0], *(W.shape[1] for W, _ in weights)]
        network = getattr(self, "network_", None)
        rates = [float(self.dropout)] * (len(sizes) - 2) + [0.0]
        if network is None or list(network.sizes) != sizes or (
                network.dtype != self._dtype) or (
                list(network.dropout) != rates):
            engine_output, loss = self._engine_output()
            self.network_ = Network(
                sizes, activation=ACTIVATIONS[self.activation],
                output_activation=engine_output, loss=loss,
                dtype=self._dtype.name, dropout=rates[:-1] or None,
                seed=int(copy.deepcopy(random_state).randint(
                    0, 2**63 - 1, dtype=np.int64)))
        self.network_.set_weights(weights)

    def _split(self, X, y, Y, sample_weight, random_state):
        """Hold out ``validation_fraction`` of the samples as scikit-learn
        does: stratified by the binarized target for binary classification
        only."""
        stratify = None
        if isinstance(self, ClassifierMixin) and self.n_outputs_ == 1:
            stratify = Y.astype(bool)
        arrays = [X, Y, y] + ([] if sample_weight is None
                              else [sample_weight])
        parts = train_test_split(*arrays, random_state=random_state,
                                 test_size=self.validation_fraction,
                                 stratify=stratify)
        X, X_val, Y, Y_val = parts[:4]
        weight = weight_val = None
        if sample_weight is not None:
            weight, weight_val = parts[6:]
        if X_val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase "
                             "'validation_fraction' or the size of your "
                             "dataset.")
        return X, X_val, Y, Y_val, weight, weight_val

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(_BATCH_SIZE_AUTO, n_samples)
        if self.batch_size > n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than "
                          "sample size. It is going to be clipped")
        return min(self.batch_size, n_samples)

    def _optimizer_settings(self):
        """The engine's optimizer and learning rate (a number or a schedule)
        for scikit-learn's settings (see the module docstring: ``c`` is the
        engine's gradient scale)."""
        c = self._gradient_scale()
        l2 = c * self.alpha
        if self.solver == "adam":
            return Adam(lr=self.learning_rate_init, beta1=self.beta_1,
                        beta2=self.beta_2, eps=c * self.epsilon, l2=l2,
                        eps_hat=True), None
        lr = self.learning_rate_init / c
        optimizer = SGD(lr=lr, momentum=self.momentum,
                        nesterov=bool(self.nesterovs_momentum
                                      and self.momentum > 0), l2=l2,
                        lr_in_velocity=True)
        schedule = None
        if self.learning_rate == "invscaling":
            schedule = schedules.InvScaling(lr, self.power_t,
                                            samples_seen=self.t_)
        elif self.learning_rate == "adaptive":
            schedule = schedules.Adaptive(lr, factor=0.2, min_lr=1e-6 / c)
        return optimizer, schedule

    def _scale_options(self):
        """``Network.fit``'s private keywords that put the recorded loss on
        scikit-learn's scale (see the module docstring)."""
        return dict(_loss_scale=self._loss_scale(),
                    _penalty_scale=1.0 / self._gradient_scale(),
                    _l2_per_sample=True)

    def _run(self, X, Y, sample_weight, validation, incremental,
             random_state):
        """One ``Network.fit`` call and the fitted attributes it gives.

        ``validation`` is ``(X_val, Y_val[, weight_val])`` with
        ``early_stopping``: the engine scores it after every epoch
        (accuracy or R^2), stops by scikit-learn's rule on that score and
        ends with the best epoch's weights."""
        n_samples = X.shape[0]
        network = self.network_
        epochs = 1 if incremental else self.max_iter
        optimizer, schedule = self._optimizer_settings()
        options = dict(epochs=epochs, optimizer=optimizer, lr=schedule,
                       batch_size=self._batch_size(n_samples),
                       shuffle=bool(self.shuffle), _random_state=random_state,
                       progress=self.verbose == "bar" and not incremental,
                       **self._scale_options())
        if sample_weight is not None:
            options["sample_weight"] = sample_weight
        if not incremental:
            options["tol"] = self.tol
            options["patience"] = (self.max_iter + 1
                                   if self.n_iter_no_change == np.inf
                                   else int(self.n_iter_no_change) + 1)
        metric = "accuracy" if isinstance(self, ClassifierMixin) else "r2"
        if validation is not None:
            options.update(validation_data=validation, metrics=[metric],
                           monitor=f"val_{metric}", restore_best_weights=True)
        if self.verbose and self.verbose != "bar":
            options["callbacks"] = [LambdaCallback(
                on_epoch_end=self._print_epoch(f"val_{metric}"))]
        with warnings.catch_warnings():
            # Divergence: the engine warns, scikit-learn raises (below).
            warnings.simplefilter("ignore", RuntimeWarning)
            history = network.fit(X, Y, **options)
        diverged = history.stop_reason == "diverged"
        scores = None
        if self.early_stopping:
            scores = [float(score) for score in
                      getattr(history, f"val_{metric}")[:history.epochs]]
            if diverged:
                scores.append(np.nan)
            self.validation_scores_.extend(scores)
            finite = [score for score in scores if score == score]
            if finite:
                self.best_validation_score_ = max(
                    self.best_validation_score_, *finite)
        elif diverged:
            raise ValueError(NON_FINITE)

        self.n_iter_ = history.epochs
        self.t_ += n_samples * history.epochs
        losses = history.loss
        self.loss_curve_.extend(losses)
        if losses:
            self.loss_ = losses[-1]
        elif not hasattr(self, "loss_"):
            self.loss_ = np.nan
        self._replay_convergence_test(losses, scores, incremental)
        self._copy_weights()
        if self.verbose and history.stop_reason == "converged":
            print(self._stop_message() + " Stopping.")
        if not incremental and history.stop_reason == "completed":
            warnings.warn(f"Stochastic Optimizer: Maximum iterations "
                          f"({self.max_iter}) reached and the optimization "
                          "hasn't converged yet.", ConvergenceWarning)

    def _print_epoch(self, score_name):
        """scikit-learn's ``verbose`` lines for the engine's epoch-end
        callback."""
        def print_epoch(epoch, logs):
            print(f"Iteration {epoch + 1}, loss = {logs['loss']:.8f}")
            if self.early_stopping:
                print(f"Validation score: {logs.get(score_name, np.nan):f}")
            sys.stdout.flush()
        return print_epoch

    def _stop_message(self):
        what = "Validation score" if self.early_stopping else "Training loss"
        return (f"{what} did not improve more than tol={self.tol:f} for "
                f"{self.n_iter_no_change} consecutive epochs.")

    def _replay_convergence_test(self, losses, scores, incremental):
        """``best_loss_``, ``_no_improvement_count`` and ``_optimizer`` as
        scikit-learn leaves them: its test replayed over the epochs the
        engine ran (the engine made the same comparisons on the same
        numbers to decide when to stop). The engine's test starts afresh in
        every fit; scikit-learn's partial_fit carries it over.

        The training loss does not improve when ``loss > best - tol``; the
        validation score of ``early_stopping`` when ``score < best +
        tol``."""
        if scores is None:
            watched = losses
            best = self.best_loss_ if incremental else np.inf
        else:
            watched = [-score for score in scores]
            best = np.inf
        count = self._no_improvement_count if incremental else 0
        rate = self.learning_rate_init
        for value in watched:
            count = count + 1 if value > best - self.tol else 0
            best = min(best, value)
            if count > self.n_iter_no_change and (
                    self.solver == "sgd" and self.learning_rate == "adaptive"
                    and rate > 1e-6):
                rate /= 5.0
                count = 0
        if scores is None:
            self.best_loss_ = min(self.best_loss_, best)
        self._no_improvement_count = count
        if self.solver == "sgd" and self.learning_rate == "invscaling":
            rate = self.learning_rate_init / (self.t_ + 1) ** self.power_t
        self._optimizer = _OptimizerView(self.solver, rate)

    def _copy_weights(self):
        weights = self.network_.weights
        self.coefs_ = [W for W, _ in weights]
        self.intercepts_ = [b for _, b in weights]

    # L-BFGS

    def _run_lbfgs(self, X, Y, sample_weight):
        """The engine's L-BFGS on scikit-learn's objective, full batch."""
        total = (X.shape[0] if sample_weight is None
                 else float(np.sum(sample_weight)))
        c = self._gradient_scale()
        options = dict(epochs=self.max_iter, max_fun=self.max_fun,
                       tol=self.tol, l2=self.alpha / total, scale=1.0 / c)
        if sample_weight is not None:
            options["sample_weight"] = sample_weight
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            history = self.network_.fit(X, Y, optimizer="lbfgs", **options)
        if history.stop_reason == "diverged":
            raise ValueError(NON_FINITE)
        self._copy_weights()
        self.n_iter_ = history.epochs
        self.loss_ = self._objective(X, Y, sample_weight)
        if self.verbose:
            # The objective the engine minimised after each iteration: for
            # squared error with several outputs, the one whose gradient is
            # scikit-learn's (its reported value averages over the
            # outputs).
            for iteration, loss in enumerate(history.loss, start=1):
                print(f"Iteration {iteration}, loss = {loss:.8f}")
        # SciPy's status: 0 on convergence (gtol or ftol), 1 at a limit, 2
        # when the line search fails; scikit-learn warns unless it is 0.
        messages = {
            "max_iter": (1, "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT"),
            "max_fun": (1, "STOP: TOTAL NO. OF F,G EVALUATIONS EXCEEDS "
                           "LIMIT"),
            "line_search_failed": (2, "ABNORMAL_TERMINATION_IN_LNSRCH")}
        if history.stop_reason in messages:
            status, message = messages[history.stop_reason]
            warnings.warn(
                f"lbfgs failed to converge after {history.epochs} "
                f"iteration(s) (status={status}):\n{message}\n\n"
                "Increase the number of iterations to improve the "
                f"convergence (max_iter={self.max_iter}).\nYou might also "
                "want to scale the data as shown in:\n    "
                "https://scikit-learn.org/stable/modules/preprocessing.html",
                ConvergenceWarning)

    def _objective(self, X, Y, sample_weight):
        """scikit-learn's objective at the current weights: its data loss
        plus ``alpha / 2 * ||W||^2`` divided by the sum of the weights."""
        network = self.network_
        data = (network.loss(X, Y) if sample_weight is None
                else network.loss(X, Y, sample_weight=sample_weight))
        total = (X.shape[0] if sample_weight is None
                 else float(np.sum(sample_weight)))
        squares = sum(float(np.dot(W.ravel(), W.ravel()))
                      for W in self.coefs_)
        return self._loss_scale() * data + 0.5 * self.alpha * squares / total

    def _loss_grad_lbfgs(self, packed_coef_inter, X, y, sample_weight,
                         activations=None, deltas=None, coef_grads=None,
                         intercept_grads=None):
        """scikit-learn's objective and its gradient at the flat parameters
        ``packed_coef_inter`` (W0, W1, ..., then b0, b1, ..., each
        flattened), as ``MLPClassifier._loss_grad_lbfgs`` computes them:
        the weights are set to ``packed_coef_inter``. The trailing
        arguments are scikit-learn's work buffers, unused here.

        Returns
        -------
        loss : float
        grad : ndarray of shape (n_parameters,)
        """
        network = self.network_
        X = np.asarray(_dense(X), dtype=self._dtype)
        Y = np.asarray(y, dtype=self._dtype).reshape(X.shape[0], -1)
        weights, offset = [], 0
        shapes = [W.shape for W in self.coefs_]
        for shape in shapes:
            size = shape[0] * shape[1]
            weights.append(packed_coef_inter[offset:offset + size].reshape(
                shape))
            offset += size
        biases = []
        for shape in shapes:
            biases.append(packed_coef_inter[offset:offset + shape[1]])
            offset += shape[1]
        network.set_weights(list(zip(weights, biases)))
        self._copy_weights()
        extra = {} if sample_weight is None else dict(
            sample_weight=sample_weight)
        total = (X.shape[0] if sample_weight is None
                 else float(np.sum(sample_weight)))
        loss = self._objective(X, Y, sample_weight)
        scale = 1.0 / self._gradient_scale()
        gradients = network.gradients(X, Y, **extra)
        dW = [scale * gW + self.alpha * W / total
              for (gW, _), W in zip(gradients, self.coefs_)]
        db = [scale * gb for _, gb in gradients]
        return loss, np.concatenate([g.ravel() for g in dW + db])

    def _network_output(self, X):
        """The network's outputs for checked ``X``, ``(n_samples,
        n_outputs_)``."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"],
                          dtype=(np.float64, np.float32), reset=False)
        if not hasattr(self, "network_"):  # coefs_ assigned by hand
            self._dtype = np.result_type(*self.coefs_, np.float32)
            self._load_network(check_random_state(self.random_state))
        return self.network_.predict(_dense(X))

    def _check_solver(self):
        if self.solver not in STOCHASTIC_SOLVERS:
            raise AttributeError(f"partial_fit is only available for "
                                 f"stochastic optimizers. {self.solver} is "
                                 "not stochastic.")
        return True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class _OptimizerView:
    """``_optimizer`` as scikit-learn's tests read it: the learning rate on
    scikit-learn's scale after the last fit."""

    def __init__(self, solver, learning_rate):
        self.solver = solver
        self.learning_rate = learning_rate

    def __repr__(self):
        return (f"_OptimizerView(solver={self.solver!r}, "
                f"learning_rate={self.learning_rate!r})")


def _dense(X):
    """A dense array for the engine (sparse input is converted)."""
    return X.toarray() if hasattr(X, "toarray") else X


# Classifier


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier on the Swift engine.

    A drop-in replacement for ``sklearn.neural_network.MLPClassifier``: the
    same parameters in the same order, plus ``class_weight`` and ``dtype``;
    see the module docstring for how each setting maps onto the engine.

    Multi-class targets train a softmax output with cross-entropy; binary
    targets one logistic output with binary cross-entropy; multi-label
    targets (a 2-D indicator matrix) one logistic output per label with
    binary cross-entropy.

    Parameters
    ----------
    hidden_layer_sizes : int or array-like of int, default=(100,)
        Width of each hidden layer.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Activation of the hidden layers (``logistic`` is the engine's
        ``sigmoid``).
    solver : {"lbfgs", "sgd", "adam"}, default="adam"
        ``"lbfgs"`` runs the engine's full-batch L-BFGS.
    alpha : float, default=0.0001
        Strength of the L2 penalty ``alpha / 2 * ||W||^2``, divided by the
        batch's size (its sum of sample weights), as in scikit-learn.
    batch_size : int or "auto", default="auto"
        ``"auto"`` is ``min(200, n_samples)``; not used by ``"lbfgs"``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        The schedule of ``"sgd"``: ``learning_rate_init``, ``learning_rate_init
        / (t + 1) ** power_t`` with ``t`` the samples seen, or divided by 5
        each time ``n_iter_no_change`` epochs fail to improve by ``tol``.
    learning_rate_init : float, default=0.001
    power_t : float, default=0.5
        Exponent of ``"invscaling"``.
    max_iter : int, default=200
        Epochs at most (``"sgd"``, ``"adam"``) or iterations (``"lbfgs"``).
    shuffle : bool, default=True
        Reshuffle the samples every epoch.
    random_state : int, RandomState instance or None, default=None
        Draws the initial weights, the validation split and the order of
        the mini-batches, as scikit-learn draws them (the same
        ``random_state`` gives scikit-learn's model), and seeds the
        network's generator for dropout masks.
    tol : float, default=1e-4
        Least improvement of the loss (or validation score) per epoch; for
        ``"lbfgs"``, the tolerance on the largest gradient component.
    verbose : bool, int or "bar", default=False
        Print ``Iteration N, loss = ...`` after every epoch; ``"bar"`` shows
        a progress bar instead.
    warm_start : bool, default=False
        Continue from ``coefs_`` and ``intercepts_`` on ``fit``.
    momentum : float, default=0.9
        SGD momentum, in [0, 1].
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when its
        accuracy stops improving; keep the best weights.
    validation_fraction : float, default=0.1
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's decay rates, in [0, 1).
    epsilon : float, default=1e-8
    n_iter_no_change : int or np.inf, default=10
        Epochs without an improvement by ``tol`` before stopping.
    max_fun : int, default=15000
        Loss evaluations at most (``"lbfgs"``).
    class_weight : dict, "balanced" or None, default=None
        Weight of each class (an extension of scikit-learn's class): every
        sample's weight is multiplied by its class's; ``"balanced"`` is
        ``n_samples / (n_classes * count of the class)``. Binary and
        multi-class targets.
    dtype : {"float64", "float32"} or None, default=None
        Element type of the weights and the computation; ``None`` follows
        ``X`` (float32 stays float32, anything else is float64).
    dropout : float in [0, 1), default=0.0
        An extension of ours: inverted dropout on every hidden layer's
        output during training (``sgd`` and ``adam``; ``lbfgs`` refuses
        it), never in ``predict``. Masks come from the network's seeded
        generator, so ``random_state`` fixes them.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    loss_ : float
        scikit-learn's loss: the last epoch's (data loss plus the ``alpha``
        term), or the objective at the solution of ``"lbfgs"``.
    best_loss_ : float or None
        The least training loss (``None`` with ``early_stopping``; as
        scikit-learn, not set by ``"lbfgs"``).
    loss_curve_ : list of float
        The loss of each epoch, across ``warm_start`` fits and
        ``partial_fit`` calls (not set by ``"lbfgs"``).
    validation_scores_ : list of float or None
        Accuracy on the held-out samples after each epoch
        (``early_stopping`` only).
    best_validation_score_ : float or None
    t_ : int
        Training samples seen.
    coefs_ : list of ndarray
        ``coefs_[i]`` of shape (n_in, n_out). Assigned arrays are the state
        that ``partial_fit`` and ``warm_start`` continue from.
    intercepts_ : list of ndarray
        ``intercepts_[i]`` of shape (n_out,).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when ``X`` has string column names.
    n_iter_ : int
        Epochs (iterations for ``"lbfgs"``) run by the last ``fit`` (1
        after ``partial_fit``).
    n_layers_ : int
    n_outputs_ : int
    out_activation_ : {"softmax", "logistic"}
    network_ : swiftprop.Network
        The trained network.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from swiftprop.sklearn import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((16,), max_iter=500, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    """

    _parameter_constraints = {
        **_BaseMLP._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto",
                 learning_rate="constant", learning_rate_init=0.001,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None,
                 tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 class_weight=None, dtype=None, dropout=0.0):
        self._set_params(**{name: value for name, value in locals().items()
                            if name not in ("self", "__class__")})

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
        return np.asarray(Y, dtype=self._dtype)

    def _sample_weight(self, sample_weight, X, y):
        sample_weight = super()._sample_weight(sample_weight, X, y)
        if self.class_weight is None:
            return sample_weight
        if y.ndim > 1:
            raise ValueError("class_weight applies to binary and multi-class "
                             "targets, not to a multi-label indicator matrix")
        if isinstance(self.class_weight, dict):
            unknown = set(self.class_weight) - set(self.classes_)
            if unknown:
                raise ValueError(f"class_weight has classes not in the data: "
                                 f"{sorted(unknown, key=str)}; classes are "
                                 f"{list(self.classes_)}")
        weights = compute_sample_weight(self.class_weight, y)
        return weights if sample_weight is None else weights * sample_weight

    def _output(self):
        """scikit-learn's output activation and loss name."""
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax", "log_loss"
        return "logistic", "log_loss"

    def _engine_output(self):
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax", "cross_entropy"
        return "sigmoid", "binary_cross_entropy"

    def _gradient_scale(self):
        multilabel = self._label_binarizer.y_type_.startswith("multilabel")
        return 1.0 / self.n_outputs_ if multilabel else 1.0

    def _loss_scale(self):
        return 1.0 / self._gradient_scale()

    def _labels(self, outputs):
        if self.n_outputs_ == 1:
            outputs = outputs.ravel()
        return self._label_binarizer.inverse_transform(outputs)

    def fit(self, X, y, sample_weight=None):
        """Train on ``(X, y)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a 0/1 indicator matrix for multi-label.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss (a weighted mean per batch).

        Returns
        -------
        self : MLPClassifier
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(_BaseMLP._check_solver)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over ``(X, y)``, continuing from the current state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), default=None
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
        return self._fit(X, y, sample_weight, incremental=True)

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

    A drop-in replacement for ``sklearn.neural_network.MLPRegressor``: the
    same parameters in the same order (``loss`` first), plus ``dtype``.
    ``loss="squared_error"`` trains an identity output with the engine's
    ``mse``; ``loss="poisson"`` an ``exp`` output with its ``poisson`` loss
    (targets must be >= 0). Single- and multi-output targets. The other
    parameters are ``MLPClassifier``'s.

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default="squared_error"
        scikit-learn's half squared error, or its half Poisson deviance.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when its R^2
        stops improving; keep the best weights.
    **others
        As ``MLPClassifier`` (without ``class_weight``).

    Attributes
    ----------
    loss_ : float
        scikit-learn's loss of the last epoch (or of ``"lbfgs"``'s
        solution), ``alpha`` term included.
    validation_scores_ : list of float or None
        R^2 on the held-out samples after each epoch.
    out_activation_ : {"identity", "exp"}
    **others
        As ``MLPClassifier``, without ``classes_``.

    Examples
    --------
    >>> import numpy as np
    >>> from swiftprop.sklearn import MLPRegressor
    >>> X = np.linspace(-1, 1, 200).reshape(-1, 1)
    >>> reg = MLPRegressor(hidden_layer_sizes=(32,), activation="tanh",
    ...                    max_iter=2000, learning_rate_init=0.01,
    ...                    random_state=0)
    >>> reg.fit(X, X.ravel() ** 2).score(X, X.ravel() ** 2) > 0.95
    True
    """

    _parameter_constraints = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,),
                 activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False,
                 warm_start=False, momentum=0.9, nesterovs_momentum=True,
                 early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 max_fun=15000, dtype=None, dropout=0.0):
        self._set_params(**{name: value for name, value in locals().items()
                            if name not in ("self", "__class__")})

    def _validate_targets(self, y, incremental, first_pass):
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        if self.loss == "poisson" and np.any(Y < 0):
            raise ValueError("Some value(s) of y are negative which is not "
                             "allowed for Poisson regression.")
        return np.asarray(Y, dtype=self._dtype)

    def _output(self):
        if self.loss == "poisson":
            return "exp", "poisson"
        return "identity", "squared_error"

    def _engine_output(self):
        if self.loss == "poisson":
            return "exp", "poisson"
        return "identity", "mse"

    def _gradient_scale(self):
        if self.loss == "poisson":
            return 1.0 / self.n_outputs_
        return 2.0 / self.n_outputs_

    def _loss_scale(self):
        # scikit-learn's squared error is half the mean over all elements
        # (its gradient, though, sums over the outputs: _gradient_scale).
        if self.loss == "poisson":
            return float(self.n_outputs_)
        return 0.5

    def fit(self, X, y, sample_weight=None):
        """Train on ``(X, y)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss (a weighted mean per batch).

        Returns
        -------
        self : MLPRegressor
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(_BaseMLP._check_solver)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``(X, y)``, continuing from the current state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : MLPRegressor
        """
        return self._fit(X, y, sample_weight, incremental=True)

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

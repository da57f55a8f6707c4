"""The one training loop and scikit-learn glue shared by every estimator.

:class:`BaseDigitClassifier` does everything that is not architecture:
input validation, label encoding, mini-batches, shuffling, epochs, the
learning-rate schedule, early stopping, ``partial_fit``/``warm_start``,
histories, verbosity and thread control. A concrete estimator only says which
layers to stack (``_make_layers``) and, for images, how to reshape ``X``
(``_network_input``).
"""

import contextlib
import math
import numbers
import time
import warnings
from abc import abstractmethod

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import ThreadpoolController

from ._config import effective_n_threads, flush_denormals
from ._kernels import _isfinite
from ._network import Network, raise_not_finite
from ._optimizers import make_optimizer
from .layers import Dense

DTYPES = {"float32": np.float32, "float64": np.float64}


def _resolve_dtype(dtype):
    """Map the ``dtype`` parameter (a name or a NumPy type) to a NumPy type."""
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return DTYPES[name]


_CONTROLLER = []


def _blas_controller():
    """One threadpoolctl controller for the process (building one costs ~3 ms).

    It is made on first use, after SciPy's BLAS (which the kernels call) is
    loaded, so that BLAS is among the libraries it limits.
    """
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


def _check_param(name, value, kind, low=None, high=None, options=None, *,
                 closed_low=True, closed_high=True, allow_none=False):
    """Raise a ValueError naming ``name`` when ``value`` is out of its domain."""
    if value is None and allow_none:
        return
    if options is not None:
        if not (isinstance(value, str) and value in options):
            raise ValueError(f"{name} must be one of {sorted(options)}, got {value!r}")
        return
    if kind == "int":
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    elif kind == "bool":
        ok = isinstance(value, (bool, np.bool_))
    else:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        ok = ok and np.isfinite(value)
    if ok and low is not None:
        ok = value >= low if closed_low else value > low
    if ok and high is not None:
        ok = value <= high if closed_high else value < high
    if not ok:
        lo = "" if low is None else ("[" if closed_low else "(") + f"{low}, "
        hi = "" if high is None else f"{high}" + ("]" if closed_high else ")")
        rng = f" in {lo}{hi or 'inf)'}" if low is not None or high is not None else ""
        article = "an" if kind == "int" else "a"
        raise ValueError(f"{name} must be {article} {kind}{rng}, got {value!r}")


def check_layer_sizes(name, sizes):
    """Return ``sizes`` (an int or a sequence of positive ints) as a tuple.

    Raises a ValueError naming the parameter ``name`` otherwise.
    """
    original = sizes
    if isinstance(sizes, numbers.Integral):
        sizes = (sizes,)
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise ValueError(f"{name} must be an int or a tuple of ints, got {original!r}") from None
    for size in sizes:
        if not isinstance(size, numbers.Integral) or isinstance(size, bool) or size < 1:
            raise ValueError(f"{name} must contain positive ints, got {original!r}")
    return sizes


class BaseDigitClassifier(ClassifierMixin, BaseEstimator):
    """Base class: the shared training loop. Not for direct use.

    Subclasses define ``__init__`` (listing every hyper-parameter explicitly,
    as scikit-learn requires), ``_make_layers(n_features, n_outputs)`` and,
    if needed, ``_validate_extra_params()`` and ``_network_input(X)``.
    """

    #: accepted values of the output function (see ``_output_activation``)
    _output_activations = ("softmax", "sigmoid", "logistic")

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _make_layers(self, n_features, n_outputs):
        """Return the list of layers mapping ``n_features`` to ``n_outputs`` logits."""

    def _input_shape(self, n_features):
        """Per-sample shape the network sees (images override this)."""
        return (n_features,)

    def _network_input(self, X):
        """Turn validated 2D ``X`` into the network's input array (no copy here)."""
        return X

    def _output_activation(self):
        """The output function's name (PerceptronClassifier calls it ``activation``)."""
        return self.output_activation

    def _validate_extra_params(self):
        """Check subclass-specific hyper-parameters (raise ValueError)."""

    # ------------------------------------------------------------ validation
    def _validate_params(self):
        _check_param("solver", self.solver, None, options={"sgd", "adam", "rmsprop"})
        _check_param("output activation", self._output_activation(), None,
                     options=set(self._output_activations))
        _check_param("alpha", self.alpha, "float", 0)
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            _check_param("batch_size", self.batch_size, "int", 1)
        _check_param("learning_rate", self.learning_rate, None,
                     options={"constant", "invscaling", "adaptive"})
        _check_param("learning_rate_init", self.learning_rate_init, "float", 0, closed_low=False)
        _check_param("power_t", self.power_t, "float", 0)
        _check_param("max_iter", self.max_iter, "int", 1)
        _check_param("shuffle", self.shuffle, "bool")
        _check_param("tol", self.tol, "float", 0)
        if not isinstance(self.verbose, (bool, np.bool_)):
            _check_param("verbose", self.verbose, "int", 0)
        _check_param("warm_start", self.warm_start, "bool")
        _check_param("momentum", self.momentum, "float", 0, 1)
        _check_param("nesterovs_momentum", self.nesterovs_momentum, "bool")
        _check_param("early_stopping", self.early_stopping, "bool")
        _check_param("validation_fraction", self.validation_fraction, "float", 0, 1,
                     closed_low=False, closed_high=False)
        _check_param("beta_1", self.beta_1, "float", 0, 1, closed_high=False)
        _check_param("beta_2", self.beta_2, "float", 0, 1, closed_high=False)
        _check_param("epsilon", self.epsilon, "float", 0, closed_low=False)
        _check_param("rho", self.rho, "float", 0, 1, closed_high=False)
        _check_param("n_iter_no_change", self.n_iter_no_change, "int", 1)
        if self.n_threads is not None:
            _check_param("n_threads", self.n_threads, "int")
            if self.n_threads == 0:
                raise ValueError("n_threads must be None or a non-zero int, got 0")
        self._dtype = _resolve_dtype(self.dtype)
        self._validate_extra_params()

    # ------------------------------------------------------------ public API
    def fit(self, X, y):
        """Fit the model to data ``X`` and labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training images, one flattened image per row.
        y : array-like of shape (n_samples,)
            Class labels (any hashable type).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y, classes=None):
        """Run one epoch over ``(X, y)``, continuing from the current state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            Every class that will ever appear. Required on the first call,
            ignored (but checked) afterwards.

        Returns
        -------
        self : object
        """
        return self._fit(X, y, incremental=True, classes=classes)

    def predict_proba(self, X):
        """Probability of each class for each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Rows sum to one; columns follow ``classes_``.
        """
        check_is_fitted(self, "_network")
        X = self._validate_input(X, reset=False, dtype=self._network.dtype.type,
                                 check_finite=False)
        with self._thread_limits():
            proba = self._network.predict_proba(self._network_input(X), check_finite=True)
        return proba

    def predict(self, X):
        """Predicted class label of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        check_is_fitted(self, "_network")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def save(self, path):
        """Save the fitted model to ``path`` without pickle (see :func:`perceptron.load`).

        Parameters
        ----------
        path : str or path-like
            Destination ``.npz`` file, written atomically.

        Returns
        -------
        path : str
            The path written (``.npz`` appended when missing).
        """
        from ._persistence import save_model

        return save_model(self, path)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "_network")

    # ------------------------------------------------------------ internals
    def _validate_input(self, X, y="no_validation", *, reset, dtype, check_finite=True):
        """``validate_data`` (C-ordered, ``dtype``), with a parallel NaN/inf check.

        scikit-learn checks finiteness with one sum over ``X`` on one thread
        (~22 ms for MNIST's training set, paid on every ``partial_fit``);
        ``_kernels/_isfinite.pyx`` does it in one pass on the kernels'
        threads (~8 ms on two). The errors are scikit-learn's.
        ``check_finite=False`` leaves that check to the caller (prediction
        fuses it into the first layer's pass over ``X``).
        """
        if isinstance(y, str) and y == "no_validation":  # X alone (predict)
            # an ndarray that check_array would return unchanged skips it
            # (~0.4 ms on a cold call); the feature count and names are still checked
            ready = (type(X) is np.ndarray and X.ndim == 2 and X.dtype == dtype
                     and X.flags.c_contiguous and X.shape[0] >= 1 and X.shape[1] >= 1)
            X = out = validate_data(self, X, reset=reset, dtype=dtype, order="C",
                                    ensure_all_finite=False, skip_check_array=ready)
        else:
            out = validate_data(self, X, y, reset=reset, dtype=dtype, order="C",
                                ensure_all_finite=False)
            X = out[0]
        if check_finite and not _isfinite.all_finite(X.reshape(-1),
                                                     effective_n_threads(self.n_threads)):
            raise_not_finite(X)
        return out

    @contextlib.contextmanager
    def _thread_limits(self):
        """Resolve ``n_threads`` for the kernels and set the threads up meanwhile.

        The kernels share each GEMM among their own OpenMP threads (one BLAS
        call per thread, see ``_kernels/_gemm.pxd``), so BLAS must not start
        threads of its own: that would oversubscribe the cores. The kernels'
        threads also flush subnormal floats to zero while inside (see
        :func:`perceptron._config.flush_denormals`).
        """
        n_threads = effective_n_threads(self.n_threads)
        if hasattr(self, "_network"):
            self._network.set_n_threads(n_threads)
        with _blas_controller().limit(limits=1, user_api="blas"), \
                flush_denormals(n_threads):
            yield

    def _fit(self, X, y, incremental, classes=None):
        self._validate_params()
        fitted = hasattr(self, "_network")
        first_pass = not fitted or not (incremental or self.warm_start)
        X, y = self._validate_input(X, y, reset=first_pass, dtype=self._dtype)
        check_classification_targets(y)
        y_idx = self._encode_labels(y, classes, first_pass, incremental)
        if not first_pass and self._network.dtype != np.dtype(self._dtype):
            raise ValueError(
                f"dtype changed from {self._network.dtype.name} to "
                f"{np.dtype(self._dtype).name} between calls; refit from scratch instead")

        if first_pass:
            self._initialize(X.shape[1], len(self.classes_))
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = make_optimizer(self.solver, self._network.params, self)
            self._learning_rate = float(self.learning_rate_init)

        X_in = self._network_input(X)
        with self._thread_limits():
            if incremental:
                self._run_epochs(X_in, y_idx, None, None, n_epochs=1, incremental=True)
            else:
                X_val = y_val = None
                if self.early_stopping:
                    X_in, X_val, y_idx, y_val = self._split_validation(X_in, y_idx)
                self._run_epochs(X_in, y_idx, X_val, y_val, n_epochs=self.max_iter,
                                 incremental=False)
        return self

    def _encode_labels(self, y, classes, first_pass, incremental):
        """Set or check ``classes_``; return ``y`` as class indices (intp)."""
        if first_pass:
            if incremental:
                if classes is None:
                    raise ValueError("classes must be passed on the first call to partial_fit.")
                classes = np.unique(np.asarray(classes))
            else:
                classes = np.unique(y)
            if len(classes) < 2:
                raise ValueError(
                    f"The number of classes has to be at least 2; got {len(classes)} class.")
            self._label_encoder = LabelEncoder().fit(classes)
            self.classes_ = self._label_encoder.classes_
        elif incremental and classes is not None and not np.array_equal(
                np.unique(np.asarray(classes)), self.classes_):
            raise ValueError(
                f"`classes={np.unique(classes)!r}` is not the same as on the first call "
                f"to partial_fit, which was {self.classes_!r}")
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            where = "warm_start fit" if not incremental else "partial_fit"
            raise ValueError(
                f"y has labels {unseen!r} not in classes_ {self.classes_!r} "
                f"(a {where} must use the classes of the first fit)")
        return self._label_encoder.transform(y).astype(np.intp, copy=False)

    def _initialize(self, n_features, n_classes):
        """Fresh network, histories and random state."""
        self._rng = np.random.default_rng(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        layers = self._make_layers(n_features, n_classes)
        self._network = Network(layers, output=self._output_activation(), dtype=self._dtype)
        self._network.build(self._input_shape(n_features), self._rng)
        self.n_outputs_ = n_classes
        self.out_activation_ = self._output_activation()
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self.train_scores_ = []
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = None
        self.best_loss_ = np.inf
        self.fit_time_ = 0.0
        self._no_improvement_count = 0
        self._best_params = None

    def _split_validation(self, X, y):
        seed = int(self._rng.integers(np.iinfo(np.int32).max))
        try:
            X_tr, X_val, y_tr, y_val = train_test_split(
                X, y, test_size=self.validation_fraction, random_state=seed, stratify=y)
        except ValueError:
            # a class too small to stratify: fall back to a plain random split
            X_tr, X_val, y_tr, y_val = train_test_split(
                X, y, test_size=self.validation_fraction, random_state=seed)
        if X_tr.shape[0] < 1 or X_val.shape[0] < 1:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves an empty "
                f"training or validation set for {X.shape[0]} samples")
        return (np.ascontiguousarray(X_tr), np.ascontiguousarray(X_val), y_tr, y_val)

    def _batch_size(self, n_samples):
        if isinstance(self.batch_size, str):
            return min(200, n_samples)
        return max(1, min(self.batch_size, n_samples))

    def _run_epochs(self, X, y, X_val, y_val, n_epochs, incremental):
        net = self._network
        n = X.shape[0]
        bs = self._batch_size(n)
        order = np.arange(n, dtype=np.intp)
        progress = _EpochProgress(self.verbose, -(-n // bs))
        for _ in range(n_epochs):
            start_time = time.perf_counter()
            if self.shuffle:
                self._rng.shuffle(order)
            loss_sum, correct = 0.0, 0
            bar = progress.start(self.n_iter_ + 1)
            for start in range(0, n, bs):
                idx = order[start:start + bs]
                m = idx.shape[0]
                # gradient and optimizer step (skipped if the loss is not finite)
                loss, n_correct = net.train_batch(X, y, idx, self.alpha, self._optimizer,
                                                  self._learning_rate)
                if not math.isfinite(loss):
                    raise ValueError(
                        f"training diverged: the loss became {loss} at epoch "
                        f"{self.n_iter_ + 1}; try a smaller learning_rate_init")
                self.t_ += m
                if self.learning_rate == "invscaling":
                    self._learning_rate = self.learning_rate_init / (self.t_ + 1) ** self.power_t
                loss_sum += loss * m
                correct += n_correct
                progress.update(bar, loss)
            self.n_iter_ += 1
            self.fit_time_ += time.perf_counter() - start_time
            self.loss_ = loss_sum / n
            self.loss_curve_.append(self.loss_)
            self.train_scores_.append(correct / n)
            if X_val is not None:
                score = float(np.mean(np.argmax(net.decision_function(X_val), axis=1) == y_val))
                self.validation_scores_.append(score)
            progress.end(bar, self)
            if incremental:
                self._update_no_improvement(early_stopping=False)
                continue
            self._update_no_improvement(early_stopping=X_val is not None)
            if self._no_improvement_count > self.n_iter_no_change:
                if self.learning_rate == "adaptive" and self._learning_rate > 1e-6:
                    self._learning_rate /= 5.0
                    self._no_improvement_count = 0
                    progress.message(f"Setting learning rate to {self._learning_rate:f}")
                    continue
                what = "Validation score" if X_val is not None else "Training loss"
                progress.message(
                    f"{what} did not improve more than tol={self.tol:f} for "
                    f"{self.n_iter_no_change} consecutive epochs. Stopping.")
                break
        else:
            if not incremental:
                warnings.warn(
                    f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                    "and the optimization hasn't converged yet.", ConvergenceWarning)
        if not incremental and X_val is not None and self._best_params is not None:
            net.params[...] = self._best_params  # restore the best validation epoch
        self._best_params = None

    def _update_no_improvement(self, early_stopping):
        if early_stopping:
            score = self.validation_scores_[-1]
            best = self.best_validation_score_
            if best is not None and score < best + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if best is None or score > best:
                self.best_validation_score_ = score
                self._best_params = self._network.params.copy()
        else:
            if self.loss_ > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
        if self.loss_ < self.best_loss_:
            self.best_loss_ = self.loss_

    # ------------------------------------------------------------ pickling
    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_best_params", None)
        return state


class _EpochProgress:
    """Keras-style feedback: a tqdm bar per epoch and one line per epoch."""

    def __init__(self, verbose, n_batches):
        self.verbose = int(verbose)
        self.n_batches = n_batches

    def start(self, epoch):
        if not self.verbose:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=self.n_batches, desc=f"Epoch {epoch}", unit="batch", leave=False)

    def update(self, bar, loss):
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def end(self, bar, est):
        if bar is None:
            return
        bar.close()
        line = (f"Iteration {est.n_iter_}, loss = {est.loss_:.8f}, "
                f"train accuracy = {est.train_scores_[-1]:.4f}")
        if est.validation_scores_:
            line += f", validation accuracy = {est.validation_scores_[-1]:.4f}"
        print(line)

    def message(self, text):
        if self.verbose:
            print(text)


class DenseWeightsMixin:
    """``coefs_`` and ``intercepts_`` of the dense layers, as scikit-learn names them.

    They are views into the network's parameters (editing them edits the model),
    one entry per dense layer, input side first.
    """

    def _dense_layers(self):
        if not hasattr(self, "_network"):
            raise AttributeError("the estimator is not fitted yet; call fit first")
        return [layer for layer in self._network.layers if isinstance(layer, Dense)]

    @property
    def coefs_(self):
        return [layer.params["W"] for layer in self._dense_layers()]

    @property
    def intercepts_(self):
        return [layer.params["b"] for layer in self._dense_layers()]


def store_params(estimator, params):
    """Set each ``__init__`` argument as an attribute (``params`` is ``locals()``).

    scikit-learn's rule: ``__init__`` stores its arguments unchanged and does
    nothing else; validation happens in ``fit``.
    """
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


#: numpydoc text of the training-loop parameters every estimator shares
TRAINING_PARAMS_DOC = """\
    solver : {{"sgd", "adam", "rmsprop"}}, default="{solver}"
        The optimizer: stochastic gradient descent with (Nesterov) momentum,
        Adam, or RMSprop.
    alpha : float, default={alpha}
        L2 penalty. As in scikit-learn, ``0.5 * alpha * ||W||^2 / batch_size``
        is added to the mean loss of each batch (weights only, not biases).
    batch_size : int or "auto", default={batch_size}
        Samples per mini-batch; "auto" means ``min(200, n_samples)``.
    learning_rate : {{"constant", "invscaling", "adaptive"}}, default="constant"
        Step-size schedule: constant; ``learning_rate_init / (t + 1) ** power_t``
        with ``t`` the samples seen; or divided by 5 each time the loss (or the
        validation score) stalls for ``n_iter_no_change`` epochs.
    learning_rate_init : float, default={learning_rate_init}
        Initial step size.
    power_t : float, default=0.5
        Exponent of the "invscaling" schedule.
    max_iter : int, default={max_iter}
        Maximum number of epochs (passes over the training data) in ``fit``.
    shuffle : bool, default=True
        Shuffle the samples before each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, dropout and the validation
        split. With an int and the same number of threads, two fits give
        bit-identical models.
    tol : float, default=1e-4
        Minimum improvement of the loss (or validation score) that counts.
    verbose : bool or int, default=False
        Show a progress bar per epoch and print one line per epoch.
    warm_start : bool, default=False
        When True, ``fit`` continues from the previous solution.
    momentum : float, default=0.9
        Momentum of the "sgd" solver.
    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum with the "sgd" solver.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified),
        stop when its accuracy stalls for ``n_iter_no_change`` epochs, and keep
        the parameters of the best validation epoch.
    validation_fraction : float, default=0.1
        Fraction of the training data held out when ``early_stopping``.
    beta_1 : float, default=0.9
        Adam's decay rate of the first-moment estimate.
    beta_2 : float, default=0.999
        Adam's decay rate of the second-moment estimate.
    epsilon : float, default=1e-8
        Numerical stability term of Adam and RMSprop.
    n_iter_no_change : int, default=10
        Epochs without ``tol`` improvement before stopping.
    rho : float, default=0.9
        RMSprop's decay rate of the squared-gradient average.
    dtype : {{"float32", "float64"}}, default="float32"
        Precision of the parameters and of all computation.
    n_threads : int or None, default=None
        Threads for the OpenMP kernels and BLAS. None follows
        ``OMP_NUM_THREADS`` / :func:`threadpoolctl.threadpool_limits`;
        a negative value counts back from the number of CPUs."""

#: numpydoc text of the fitted attributes every estimator shares
FITTED_ATTRIBUTES_DOC = """\
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during ``fit``.
    loss_ : float
        Mean training loss of the last epoch.
    loss_curve_ : list of float
        Mean training loss of each epoch.
    train_scores_ : list of float
        Training accuracy of each epoch, counted on the mini-batches as they
        were seen (before each update), as Keras reports it.
    validation_scores_ : list of float or None
        Validation accuracy of each epoch when ``early_stopping``, else None.
    best_validation_score_ : float or None
        Best validation accuracy when ``early_stopping``.
    best_loss_ : float
        Lowest training loss reached.
    n_iter_ : int
        Number of epochs run (``partial_fit`` counts one per call).
    t_ : int
        Number of training samples seen.
    n_outputs_ : int
        Number of output units (one per class).
    out_activation_ : str
        The output function.
    fit_time_ : float
        Seconds spent in training epochs."""

"""The scikit-learn glue shared by every estimator.

:class:`BaseDigitClassifier` does everything that is not architecture:
parameter and input validation, label encoding, ``fit``/``partial_fit``/
``warm_start``, prediction, thread control and the state a saved model
keeps. The epochs themselves run in :func:`perceptron._training.run_epochs`
and the network in the engine :func:`perceptron._engine.make_network` picks.
A concrete estimator only says which layers to stack (``_make_layers``) and,
for images, how to reshape ``X`` (``_network_input``).
"""

import contextlib
import math
from abc import abstractmethod

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state, compute_class_weight, compute_sample_weight
from sklearn.utils._available_if import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ._augment import Augmentation, check_augment
from ._config import effective_n_threads, kernel_threads
from ._engine import make_network
from ._guard import DeferredInterrupt, Snapshot
from ._kernels import _isfinite
from ._lbfgs import run_lbfgs
from ._network import OUTPUTS, count_params, raise_not_finite
from ._optimizers import OPTIMIZERS, make_optimizer
from ._training import HISTORY_KEYS, history_from_curves, run_epochs, split_validation
from ._validation import (MAX_THREADS, check_callbacks, check_class_weight,
                          check_description, check_n_threads, check_param, check_rng_state,
                          check_sample_weight, check_saved_fields, resolve_dtype)
from .layers import Dense

#: every solver: the stochastic ones (mini-batches, :mod:`._optimizers`) and
#: full-batch L-BFGS (:mod:`._lbfgs`)
SOLVERS = (*OPTIMIZERS, "lbfgs")

#: the kinds of target (scikit-learn's ``type_of_target`` names): one logistic
#: unit for two classes, one output per class, one sigmoid per label
TARGET_TYPES = ("binary", "multiclass", "multilabel-indicator")


class BaseDigitClassifier(ClassifierMixin, BaseEstimator):
    """Base class: the shared training loop. Not for direct use.

    Subclasses define ``__init__`` (listing every hyper-parameter explicitly,
    as scikit-learn requires), ``_make_layers(n_features, n_outputs)`` and,
    if needed, ``_validate_extra_params()`` and ``_network_input(X)``.
    """

    #: whether ``X`` may be a sparse matrix (a CSR copy is made of other formats)
    _accept_sparse = False

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

    def _augmentation(self, n_features):
        """The random transforms of the training batches, or None (here: none)."""
        return None

    # ------------------------------------------------------------ validation
    def _validate_params(self):
        check_param("solver", self.solver, None, options=set(SOLVERS))
        check_param("output activation", self._output_activation(), None,
                    options=set(OUTPUTS))
        check_param("alpha", self.alpha, "float", 0)
        check_class_weight(self.class_weight)
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            check_param("batch_size", self.batch_size, "int", 1)
        check_param("learning_rate", self.learning_rate, None,
                    options={"constant", "invscaling", "adaptive"})
        check_param("learning_rate_init", self.learning_rate_init, "float", 0, closed_low=False)
        check_param("power_t", self.power_t, "float", 0)
        check_param("max_iter", self.max_iter, "int", 1)
        check_param("shuffle", self.shuffle, "bool")
        check_param("tol", self.tol, "float", 0)
        if not isinstance(self.verbose, (bool, np.bool_)):
            check_param("verbose", self.verbose, "int", 0)
        check_param("warm_start", self.warm_start, "bool")
        check_param("momentum", self.momentum, "float", 0, 1)
        check_param("nesterovs_momentum", self.nesterovs_momentum, "bool")
        check_param("early_stopping", self.early_stopping, "bool")
        check_param("validation_fraction", self.validation_fraction, "float", 0, 1,
                    closed_low=False, closed_high=False)
        check_param("beta_1", self.beta_1, "float", 0, 1, closed_high=False)
        check_param("beta_2", self.beta_2, "float", 0, 1, closed_high=False)
        check_param("epsilon", self.epsilon, "float", 0, closed_low=False)
        check_param("rho", self.rho, "float", 0, 1, closed_high=False)
        if not (isinstance(self.n_iter_no_change, float) and self.n_iter_no_change == math.inf):
            check_param("n_iter_no_change", self.n_iter_no_change, "int", 1)
        check_param("max_fun", self.max_fun, "int", 1)
        check_n_threads(self.n_threads)
        check_callbacks(self.callbacks)
        self._dtype = resolve_dtype(self.dtype)
        self._validate_extra_params()

    def _check_dropout(self):
        """``dropout`` in [0, 1); no dropout nor ``augment`` with L-BFGS, which needs
        the same loss each time it asks (they draw anew at every batch)."""
        check_param("dropout", self.dropout, "float", 0, 1, closed_high=False)
        if self.solver != "lbfgs":
            return
        for name, value in (("dropout", self.dropout), ("augment", self.augment)):
            if value:
                raise ValueError(f"{name}={value!r} needs a stochastic solver (sgd, adam or "
                                 f"rmsprop): L-BFGS needs the same loss each time it asks, "
                                 f"and {name} draws anew each time")

    def _use_assigned_weights(self):
        """Hook of :class:`DenseWeightsMixin`: the weights assigned before the first fit."""

    def _check_solver(self):
        """``partial_fit`` exists for the stochastic solvers only (scikit-learn's rule)."""
        if self.solver == "lbfgs":
            raise AttributeError("partial_fit is only available for stochastic optimizers; "
                                 "solver='lbfgs' is not stochastic")
        return True

    # ------------------------------------------------------------ public API
    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None):
        """Fit the model to data ``X`` and labels ``y``.

        All or nothing: if ``fit`` raises (training diverged, a callback
        failed), the estimator is left exactly as it was before the call.
        Ctrl-C stops training at the end of the current mini-batch, with a
        warning, and ``fit`` returns normally: the estimator holds the weights
        of that moment, and ``n_iter_``, ``t_`` and ``history_`` count what
        they have seen (the cut-short epoch is recorded over its batches).
        A second Ctrl-C aborts: the call is undone and KeyboardInterrupt
        propagates (the way to stop a loop of fits, such as a grid search).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training images, one flattened image per row (a sparse matrix
            where the estimator takes one: ``PerceptronClassifier`` and
            ``MLPDigitClassifier``).
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels (any hashable type), or a 0/1 indicator matrix of
            labels (multi-label: one sigmoid output per label).
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample (finite, >= 0, not all 0); None: all 1.
            Each mini-batch's loss is the weighted mean of its samples'
            losses, so a weight of 0 removes a sample and an integer weight
            ``k`` counts it ``k`` times. Multiplied by ``class_weight``.
        X_val : array-like of shape (n_val, n_features), default=None
            A validation set: its loss and accuracy are computed after each
            epoch (``history_["val_loss"]``, ``history_["val_score"]``,
            ``validation_scores_``) for callbacks such as
            :class:`~perceptron.callbacks.EarlyStopping` to watch. With
            ``early_stopping=True`` it replaces the held-out
            ``validation_fraction`` (scikit-learn's HistGradientBoosting
            convention).
        y_val : array-like of shape (n_val,) or (n_val, n_labels), default=None
            Its labels, all among those of ``y``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, incremental=False, sample_weight=sample_weight, X_val=X_val,
                         y_val=y_val)

    @available_if(_check_solver)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Run one epoch over ``(X, y)``, continuing from the current state.

        All or nothing: if the call raises (training diverged, a callback
        failed) or is interrupted (Ctrl-C, which then propagates as
        KeyboardInterrupt once the current batch is done), the estimator is
        left exactly as it was before the call. Only for the stochastic
        solvers, and not with ``early_stopping=True`` (a ValueError, as in
        scikit-learn: there is no epoch loop to stop).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        classes : array-like of shape (n_classes,), default=None
            Every class that will ever appear. Required on the first call
            (for an indicator matrix ``y``, its columns ``0 .. n_labels -
            1``), ignored (but checked) afterwards.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample, as in :meth:`fit`.

        Returns
        -------
        self : object
        """
        return self._fit(X, y, incremental=True, classes=classes, sample_weight=sample_weight)

    def predict_proba(self, X):
        """Probability of each class for each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``. Rows sum to one, except for
            multi-label targets: each column is then the probability of its
            label on its own.
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
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Labels from ``classes_``; for multi-label targets, the indicator
            matrix of the labels whose probability is above 0.5.
        """
        check_is_fitted(self, "_network")
        proba = self.predict_proba(X)
        if self._target_type == "multilabel-indicator":
            return (proba > 0.5).astype(int)
        return self.classes_[np.argmax(proba, axis=1)]

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

        Everything needed to predict and to resume training is saved,
        ``history_`` included; the ``callbacks`` parameter is not (callbacks
        are code, not data): the loaded estimator has ``callbacks=None``.

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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = self._accept_sparse
        tags.classifier_tags.multi_label = True
        return tags

    # ------------------------------------------------------------ internals
    def _validate_input(self, X, y="no_validation", *, reset, dtype, check_finite=True):
        """``validate_data`` (C-ordered, ``dtype``), with a parallel NaN/inf check.

        scikit-learn checks finiteness with one sum over ``X`` on one thread,
        paid on every ``partial_fit``; ``_kernels/_isfinite.pyx`` does it in
        one pass on the kernels' threads. The errors are scikit-learn's.
        ``check_finite=False`` leaves that check to the caller (prediction
        fuses it into the first layer's pass over ``X``).
        """
        sparse = "csr" if self._accept_sparse else False
        if isinstance(y, str) and y == "no_validation":  # X alone (predict)
            # an ndarray that check_array would return unchanged skips it (a
            # cold call costs more than a small predict); the feature count
            # and names are still checked
            ready = (type(X) is np.ndarray and X.ndim == 2 and X.dtype == dtype
                     and X.flags.c_contiguous and X.shape[0] >= 1 and X.shape[1] >= 1)
            X = out = validate_data(self, X, reset=reset, dtype=dtype, order="C",
                                    accept_sparse=sparse, ensure_all_finite=False,
                                    skip_check_array=ready)
        else:
            X, y = validate_data(self, X, y, reset=reset, dtype=dtype, order="C",
                                 accept_sparse=sparse, multi_output=True,
                                 ensure_all_finite=False)
            if y.ndim == 2 and y.shape[1] == 1:  # a column of labels: warn and ravel
                y = column_or_1d(y, warn=True)
            out = X, y
        values = X.data if sp.issparse(X) else X.reshape(-1)
        if check_finite and not _isfinite.all_finite(values,
                                                     effective_n_threads(self.n_threads)):
            raise_not_finite(values)
        return out

    @contextlib.contextmanager
    def _thread_limits(self):
        """Resolve ``n_threads``, give it to the network and set the threads up
        for the kernels meanwhile (:func:`perceptron._config.kernel_threads`);
        yields the thread count."""
        n_threads = effective_n_threads(self.n_threads)
        if hasattr(self, "_network") and self._network.n_threads != n_threads:
            self._network.set_n_threads(n_threads)  # only on a change: predictions write nothing
        with kernel_threads(n_threads):
            yield n_threads

    def _fit(self, X, y, incremental, classes=None, sample_weight=None, X_val=None,
             y_val=None):
        """Train in one transaction: on any exception, undo the call (see :mod:`._guard`).

        The training scratch (a batch's activations and gradients, kept from
        step to step) is released when ``fit`` ends, or a call fails: a
        fitted model holds its parameters and its optimizer's state, not the
        buffers of its last batch (:meth:`perceptron._network.Network.release_scratch`).
        A ``partial_fit`` that succeeds keeps them for the next call: calls in
        a loop would otherwise allocate them anew each time, and the system
        would page them in again on every call.
        """
        keep_scratch = False
        with DeferredInterrupt() as interrupt:
            snapshot = Snapshot(self)
            try:
                trained = self._train(X, y, incremental, classes, sample_weight, X_val, y_val,
                                      interrupt)
                if interrupt.raised and (incremental or not trained):
                    raise KeyboardInterrupt(
                        f"{'partial_fit' if incremental else 'fit'} interrupted; "
                        "the estimator is as it was before the call")
                keep_scratch = incremental
            except BaseException:
                snapshot.restore(self)
                raise
            finally:
                if hasattr(self, "_network") and not keep_scratch:
                    self._network.release_scratch()
        return self

    def _train(self, X, y, incremental, classes, sample_weight, X_val, y_val, interrupt):
        """Validate, initialise if needed and train; return the batches (or L-BFGS
        iterations) trained."""
        self._validate_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True: it trains "
                             "one epoch per call, with no epochs to stop; set "
                             "early_stopping=False, or stop the calls with a validation set "
                             "of your own")
        if incremental and isinstance(self.class_weight, str):
            raise ValueError(
                "class_weight 'balanced' is not supported for partial_fit: one call "
                "sees too few samples to count the classes. Compute the weights "
                "once, compute_class_weight('balanced', classes=classes, y=y) on the "
                "whole training set's labels (or a large enough sample of them), and "
                "pass them as a dict: class_weight=dict(zip(classes, weights)).")
        fitted = hasattr(self, "_network")
        first_pass = not fitted or not (incremental or self.warm_start)
        X, y = self._validate_input(X, y, reset=first_pass, dtype=self._dtype)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X)
        T, labels = self._encode_targets(y, classes, first_pass, incremental)
        weights = self._sample_weights(y, labels, sample_weight)
        if not first_pass and self._network.dtype != np.dtype(self._dtype):
            raise ValueError(
                f"dtype changed from {self._network.dtype.name} to "
                f"{np.dtype(self._dtype).name} between calls; refit from scratch instead")
        val = None if incremental else self._validation_set(X_val, y_val)

        augmentation = self._augmentation(X.shape[1])  # checked before anything changes
        if augmentation is not None and sp.issparse(X):
            raise ValueError("augment transforms images, which a sparse X does not hold: "
                             "pass X dense, or set augment=None")

        if first_pass:
            self._initialize(X.shape[1], self._target_type)
            self._use_assigned_weights()
        if self.solver != "lbfgs" and (not incremental or not hasattr(self, "_optimizer")):
            self._optimizer = make_optimizer(self.solver, self._network.params, self)
        if augmentation is not None:
            augmentation.rng = self._rng  # each batch's seed: one draw from the estimator's stream
        self._augmenter = augmentation

        X_in = self._network_input(X)
        with self._thread_limits() as n_threads:
            self.n_threads_ = n_threads
            if incremental:
                return run_epochs(self, X_in, T, None, None, n_epochs=1, incremental=True,
                                  interrupt=interrupt, sample_weight=weights)
            w_val = None
            if val is not None:
                X_val, T_val = self._network_input(val[0]), val[1]
            elif self.early_stopping and self.solver != "lbfgs":
                stratify = None if labels is None else self.classes_[labels]
                X_in, X_val, T, T_val, weights, w_val = split_validation(
                    self, X_in, T, stratify, weights)
            else:
                X_val = T_val = None
            if X_val is not None and self.validation_scores_ is None:
                self.validation_scores_ = []
            if self.solver == "lbfgs":
                return run_lbfgs(self, X_in, T, X_val, T_val, interrupt, weights)
            return run_epochs(self, X_in, T, X_val, T_val, n_epochs=self.max_iter,
                              incremental=False, interrupt=interrupt, sample_weight=weights,
                              val_weight=w_val)

    def _sample_weights(self, y, labels, sample_weight):
        """Each sample's weight: ``sample_weight`` times its class's ``class_weight``.

        scikit-learn's semantics: "balanced" gives class ``c`` the weight
        ``n_samples / (n_classes * count(c))`` of this call's ``y``
        (``compute_sample_weight``); a dict gives each class its value (1 for
        classes it omits). None when neither is given: the kernels' unweighted
        path. ``labels`` are the class indices of ``y`` (None for
        multi-label targets, which have no class to weigh).
        """
        if self.class_weight is None:
            return sample_weight
        if labels is None:
            raise ValueError("class_weight weighs classes, and a multi-label y has none; "
                             "weigh the samples with sample_weight instead")
        if isinstance(self.class_weight, str):  # "balanced", fit only
            per_class = compute_sample_weight("balanced", y)
        else:
            per_class = compute_class_weight(self.class_weight, classes=self.classes_,
                                             y=y)[labels]
        weights = per_class if sample_weight is None else sample_weight * per_class
        if not weights.any():
            raise ValueError("every sample has a weight of 0 once multiplied by its "
                             f"class_weight ({self.class_weight!r}); nothing to train on")
        return weights

    def _validation_set(self, X_val, y_val):
        """``(X_val, targets of y_val)`` validated as ``fit``'s input, or None."""
        if X_val is None and y_val is None:
            return None
        if X_val is None or y_val is None:
            raise ValueError("X_val and y_val must be given together")
        X_val, y_val = self._validate_input(X_val, y_val, reset=False, dtype=self._dtype)
        return X_val, self._targets(y_val, "y_val", "fit")[0]

    def _encode_targets(self, y, classes, first_pass, incremental):
        """Set or check ``classes_`` and the kind of target; return the targets.

        Returns
        -------
        T : ndarray of shape (n_samples, n_outputs), dtype uint8
            The 0/1 target matrix the losses take: one column for a binary
            problem (1 for ``classes_[1]``), one-hot rows for classes, the
            indicator matrix itself for multi-label targets.
        labels : ndarray of shape (n_samples,) or None
            Class indices (the early-stopping split is stratified by class;
            None for multi-label targets).
        """
        check_classification_targets(y)
        multilabel = type_of_target(y) == "multilabel-indicator"
        if first_pass:
            if multilabel:
                labels = np.arange(y.shape[1])
                if incremental and classes is not None and not np.array_equal(
                        np.unique(np.asarray(classes)), labels):
                    raise ValueError(f"classes={classes!r}: a multi-label y of {y.shape[1]} "
                                     f"columns has the classes {labels!r}")
                classes = labels
            elif incremental:
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
            self._target_type = ("multilabel-indicator" if multilabel else
                                 "binary" if len(classes) == 2 else "multiclass")
        elif incremental and classes is not None and not np.array_equal(
                np.unique(np.asarray(classes)), self.classes_):
            raise ValueError(
                f"`classes={np.unique(classes)!r}` is not the same as on the first call "
                f"to partial_fit, which was {self.classes_!r}")
        elif (not incremental and not multilabel and self._target_type != "multilabel-indicator"
              and set(np.unique(y)) != set(self.classes_)):
            raise ValueError(
                "warm_start can only be used where `y` has the same classes as in the "
                f"previous call to fit. Previously got {self.classes_}, `y` has "
                f"{np.unique(y)}")
        return self._targets(y, "y", "partial_fit" if incremental else "warm_start fit")

    def _targets(self, y, name, where):
        """``(T, labels)`` of :meth:`_encode_targets` for ``y``, the classes being known."""
        check_classification_targets(y)
        if sp.issparse(y):
            y = y.toarray()
        multilabel = type_of_target(y) == "multilabel-indicator"
        if y.ndim == 2 and not multilabel:
            raise ValueError(f"{name} is a 2-D array of {type_of_target(y)} targets; a 2-D y "
                             "must be a 0/1 indicator matrix of labels (multi-label)")
        if multilabel != (self._target_type == "multilabel-indicator"):
            fitted = "an indicator matrix of labels" if not multilabel else "class labels"
            raise ValueError(f"{name} is {'an indicator matrix' if multilabel else 'labels'}"
                             f", but the model was first fitted on {fitted} (a {where} must "
                             "keep the kind of target)")
        if multilabel:
            if y.shape[1] != len(self.classes_):
                raise ValueError(f"{name} has {y.shape[1]} label columns; the model has "
                                 f"{len(self.classes_)}")
            if not np.isin(y, (0, 1)).all():
                raise ValueError(f"{name}: a multi-label indicator matrix holds 0 and 1 only")
            return np.ascontiguousarray(y, dtype=np.uint8), None
        labels = self._class_indices(y, name, where)
        if self._target_type == "binary":
            T = (labels == 1).astype(np.uint8)[:, None]
        else:
            T = np.zeros((labels.shape[0], len(self.classes_)), dtype=np.uint8)
            T[np.arange(labels.shape[0]), labels] = 1
        return T, labels

    def _class_indices(self, y, name, where):
        """``y`` as indices into ``classes_``; a ValueError naming any unknown label."""
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ValueError(
                f"{name} has labels {unseen!r} not in classes_ {self.classes_!r} "
                f"(a {where} must use the classes of the first fit)")
        return self._label_encoder.transform(y).astype(np.intp, copy=False)

    def _initialize(self, n_features, target_type):
        """Fresh network, histories and random state, for ``classes_`` and ``target_type``.

        A binary problem gets one logistic unit (the probability of
        ``classes_[1]``), as in scikit-learn; classes get one output each,
        with the output function ``output_activation`` names; multi-label
        targets one sigmoid per label.
        """
        if target_type not in TARGET_TYPES:
            raise ValueError(f"target type must be one of {TARGET_TYPES}, got {target_type!r}")
        self._target_type = target_type
        self._rng = np.random.default_rng(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        output, n_outputs, out_activation = self._output_layout(target_type, len(self.classes_))
        layers = self._make_layers(n_features, n_outputs)
        self._network = make_network(layers, output=output, dtype=self._dtype)
        self._network.build(self._input_shape(n_features), self._rng)
        self.n_outputs_ = n_outputs
        self.n_layers_ = 1 + sum(1 for layer in layers if layer.param_shapes)
        self.out_activation_ = out_activation
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self.train_scores_ = []
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = None
        self.best_loss_ = None if self.early_stopping else np.inf
        self.fit_time_ = 0.0
        self.history_ = {}
        self._no_improvement_count = 0
        self._best_params = None
        self._begun_callbacks = []  # callbacks of the open run of partial_fit calls
        # they described the data of an earlier fit
        for name in ("class_names_", "dataset_name_"):
            self.__dict__.pop(name, None)

    def _output_layout(self, target_type, n_classes):
        """``(network output, output units, out_activation_)`` for ``target_type``."""
        if target_type == "multiclass":
            output = "softmax" if self._output_activation() == "softmax" else "sigmoid"
            return output, n_classes, output
        return "independent", 1 if target_type == "binary" else n_classes, "logistic"

    # ------------------------------------------------------------ saved state
    #: fitted attributes a saved model keeps, beside the arrays (JSON-friendly),
    #: and what each must be when a model file gives it back (the kinds of
    #: :func:`perceptron._validation.check_saved`). This is the allow-list
    #: :meth:`_import_state` sets attributes from: a new saved attribute is
    #: one line here.
    _SAVED_ATTRIBUTES = {
        "n_features_in_": "int >= 1",
        "n_outputs_": "int >= 1",
        "out_activation_": "str",
        "n_iter_": "int >= 0",
        "t_": "int >= 0",
        "loss_": "number",
        "loss_curve_": "list of numbers",
        "train_scores_": "list of numbers",
        "validation_scores_": "list of numbers or None",
        "best_validation_score_": "number or None",
        "best_loss_": "number or None",  # None with early_stopping
        "fit_time_": "number",
        "history_": "dict of lists of numbers",  # not in files from before it
        "n_threads_": "int >= 1",  # idem; at most MAX_THREADS
    }
    #: the training state a saved model keeps, to resume (its kinds)
    _SAVED_TRAINING = {"learning_rate": "number", "no_improvement_count": "int >= 0"}

    def _export_state(self):
        """Everything a fitted estimator is, besides its hyper-parameters.

        What :mod:`perceptron._persistence` writes to a model file and gives
        back to :meth:`_import_state`.

        Returns
        -------
        state : dict
            ``"classes"`` (ndarray), ``"attributes"`` (the fitted attributes
            of :attr:`_SAVED_ATTRIBUTES` that are set), ``"network"``
            (:meth:`Network.state`), ``"optimizer"`` (None or the optimizer's
            ``state()``), ``"rng"`` (the estimator's random stream) and
            ``"training"`` (the learning rate and the early-stopping count,
            for resuming), ``"description"`` (``class_names`` and
            ``dataset``, None when not set), ``"target_type"`` (one of
            :data:`TARGET_TYPES`).
        """
        check_is_fitted(self, "_network")
        # the stochastic solvers' state (an L-BFGS fit keeps none of its own)
        optimizer = getattr(self, "_optimizer", None) if self.solver in OPTIMIZERS else None
        class_names, dataset = check_description(getattr(self, "class_names_", None),
                                                 getattr(self, "dataset_name_", None),
                                                 len(self.classes_))
        return {
            "classes": self.classes_,
            "target_type": self._target_type,
            "attributes": {k: getattr(self, k) for k in self._SAVED_ATTRIBUTES
                           if hasattr(self, k)},
            "network": self._network.state(),
            "optimizer": None if optimizer is None else optimizer.state(),
            "rng": self._rng.bit_generator.state,
            "training": {"learning_rate": float(self.learning_rate_init) if optimizer is None
                         else optimizer.learning_rate,
                         "no_improvement_count": getattr(self, "_no_improvement_count", 0)},
            "description": {"class_names": class_names, "dataset": dataset},
        }

    def _import_state(self, state):
        """Become the fitted estimator :meth:`_export_state` described.

        ``state`` comes from a model file, so it is untrusted: every
        attribute must be on :attr:`_SAVED_ATTRIBUTES` and of its kind, and
        the size of the parameter vector the hyper-parameters imply is
        computed from the layers' shapes and compared with the saved one
        before the network is built (a hand-edited ``hidden_layer_sizes`` or
        ``n_features_in_`` cannot make it allocate). Then the network is
        built as ``fit`` builds it and the saved arrays are checked against
        it and poured in. Raises a ValueError when anything does not fit. A
        state without ``"target_type"`` (a file from before binary problems
        had one logistic unit) is ``"multiclass"``: one output per class.
        """
        self._validate_params()
        attributes = check_saved_fields("attributes", state["attributes"],
                                        self._SAVED_ATTRIBUTES, required=("n_features_in_",))
        if "n_threads_" in attributes:
            check_param("n_threads_", attributes["n_threads_"], "int", 1, MAX_THREADS)
        training = check_saved_fields("training", state["training"], self._SAVED_TRAINING)
        n_features = attributes["n_features_in_"]
        classes = np.asarray(state["classes"])
        if classes.ndim != 1 or len(classes) < 2:
            raise ValueError(f"a model has at least 2 classes, got {classes.shape[0]}")
        if not np.array_equal(np.unique(classes), classes):
            raise ValueError("the classes are not sorted and distinct, as a fitted model's "
                             "classes_ are")
        target_type = state.get("target_type", "multiclass")
        if target_type not in TARGET_TYPES:
            raise ValueError(f"target_type must be one of {TARGET_TYPES}, got "
                             f"{target_type!r:.80}")
        if target_type == "binary" and len(classes) != 2:
            raise ValueError(f"a binary model has 2 classes, got {len(classes)}")
        _, n_outputs, out_activation = self._output_layout(target_type, len(classes))
        # files of the first format wrote the output_activation as given
        allowed = {out_activation, self._output_activation()} if (
            target_type == "multiclass") else {out_activation}
        if attributes.get("n_outputs_", n_outputs) != n_outputs:
            raise ValueError(f"n_outputs_ is {attributes['n_outputs_']!r}; the model's "
                             f"hyper-parameters and classes make it {n_outputs!r}")
        if attributes.get("out_activation_", out_activation) not in allowed:
            raise ValueError(f"out_activation_ is {attributes['out_activation_']!r:.40}; the "
                             f"model's hyper-parameters and classes make it "
                             f"{out_activation!r}")
        if "history_" in attributes:
            _check_history(attributes["history_"], len(attributes.get("loss_curve_", [])))
        # what fit checks once it has the data: the images augment folds the
        # rows into, the labels of a class_weight dict
        self._augmentation(n_features)
        if isinstance(self.class_weight, dict):
            compute_class_weight(self.class_weight, classes=classes, y=classes)
        params = state["network"]["params"]
        n_params = count_params(self._make_layers(n_features, n_outputs),
                                self._input_shape(n_features), self._dtype)
        if params.shape != (n_params,):
            raise ValueError(
                f"the saved parameter vector has {params.size} values; a "
                f"{type(self).__name__} with these hyper-parameters, {n_features} features "
                f"and {n_outputs} outputs has {n_params} parameters")
        optimizer = state.get("optimizer")
        for name, value in [("params", params)] + sorted((optimizer or {}).items()):
            if isinstance(value, np.ndarray) and not np.isfinite(value).all():
                raise ValueError(f"the saved {name} are not all finite (NaN or infinity)")

        self._label_encoder = LabelEncoder()
        self._label_encoder.classes_ = classes
        self.classes_ = classes
        self._initialize(n_features, target_type)
        self._network.load_state(state["network"])
        self._rng.bit_generator.state = check_rng_state("the random state", state["rng"])
        for name in self._SAVED_ATTRIBUTES:
            if name in attributes:
                setattr(self, name, attributes[name])
        if "history_" not in attributes:  # a file from before history_
            self.history_ = history_from_curves(self)
        learning_rate = training.get("learning_rate", float(self.learning_rate_init))
        check_param("the saved learning_rate", learning_rate, "float", 0, closed_low=False)
        self._no_improvement_count = training.get("no_improvement_count", 0)
        if optimizer is not None:
            self._optimizer = make_optimizer(self.solver, self._network.params, self)
            self._optimizer.load_state(optimizer)
            self._optimizer.learning_rate = float(learning_rate)
        description = state.get("description") or {}  # absent from older files
        if not isinstance(description, dict):
            raise ValueError(f"the model's description must be a dict, got {description!r:.80}")
        class_names, dataset = check_description(description.get("class_names"),
                                                 description.get("dataset"), len(classes))
        if class_names is not None:
            self.class_names_ = np.array(class_names, dtype=str)
        if dataset is not None:
            self.dataset_name_ = dataset
        return self

    @property
    def n_params_(self):
        """Number of trainable parameters (weights and biases of every layer)."""
        check_is_fitted(self, "_network")
        return int(self._network.params.size)

    # ------------------------------------------------------------ pickling
    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_best_params", None)
        state.pop("_augmenter", None)  # made again by each fit
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "_network" in state and "history_" not in state:  # pickled before history_
            self.history_ = history_from_curves(self)
            self._begun_callbacks = []


def _check_history(history, n_epochs):
    """A ValueError unless ``history`` is a ``history_`` of ``n_epochs`` epochs."""
    if not isinstance(history, dict) or not set(history) <= set(HISTORY_KEYS):
        raise ValueError(f"history_ must be a dict with keys among {HISTORY_KEYS}")
    for key, values in history.items():
        if not isinstance(values, list) or len(values) != n_epochs or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise ValueError(f"history_[{key!r}] must be a list of {n_epochs} numbers "
                             "(one per epoch)")


class AugmentMixin:
    """The ``augment`` parameter: random transforms of every training batch.

    For the estimators that see images (the MLP and the CNN). They define
    ``_image_shape(n_features)``, the ``(channels, height, width)`` of an
    image, and ``_CHANNELS_LAST``, whether their network's input holds it as
    ``(height, width, channels)``.
    """

    _CHANNELS_LAST = False

    def _augmentation(self, n_features):
        magnitudes = check_augment(self.augment)
        if magnitudes is None:
            return None
        return Augmentation(magnitudes, self._image_shape(n_features), self._CHANNELS_LAST)


class DenseWeightsMixin:
    """``coefs_`` and ``intercepts_`` of the dense layers, as scikit-learn names them.

    They are views into the network's parameters (editing them edits the model),
    one entry per dense layer, input side first. Assigning them -- the whole
    list, ``clf.coefs_ = [...]``, or one entry, ``clf.coefs_[0] = W`` --
    copies the values into the model, after checking every shape (and that
    the values are finite): a wrong assignment is a ValueError and changes
    nothing. Assigned before the first ``fit`` (or ``partial_fit``), they
    are kept as given and that fit starts from them instead of random
    weights (the shapes are checked then).
    """

    def _dense_layers(self):
        if not hasattr(self, "_network"):
            raise AttributeError("the estimator is not fitted yet; call fit first")
        return [layer for layer in self._network.layers if isinstance(layer, Dense)]

    def _layer_arrays(self, name, key):
        if not hasattr(self, "_network") and f"_assigned_{name}" in self.__dict__:
            return self.__dict__[f"_assigned_{name}"]
        views = [layer.params[key] for layer in self._dense_layers()]
        return _LayerArrays(views, name)

    def _set_layer_arrays(self, name, key, values):
        if not hasattr(self, "_network"):
            self.__dict__[f"_assigned_{name}"] = values  # used by the first fit
        else:
            _copy_checked([layer.params[key] for layer in self._dense_layers()], values, name)

    @property
    def coefs_(self):
        return self._layer_arrays("coefs_", "W")

    @coefs_.setter
    def coefs_(self, values):
        self._set_layer_arrays("coefs_", "W", values)

    @property
    def intercepts_(self):
        return self._layer_arrays("intercepts_", "b")

    @intercepts_.setter
    def intercepts_(self, values):
        self._set_layer_arrays("intercepts_", "b", values)

    def _use_assigned_weights(self):
        """Start from the ``coefs_`` / ``intercepts_`` assigned before the first fit."""
        for name, key in (("coefs_", "W"), ("intercepts_", "b")):
            values = self.__dict__.pop(f"_assigned_{name}", None)
            if values is not None:
                _copy_checked([layer.params[key] for layer in self._dense_layers()],
                              values, name)


class _LayerArrays(list):
    """``coefs_`` or ``intercepts_``: the layers' arrays (views into the model);
    assigning an entry copies into the model, shape checked."""

    def __init__(self, views, name):
        super().__init__(views)
        self._name = name

    def __setitem__(self, index, value):
        if isinstance(index, slice):
            raise TypeError(f"assign {self._name} whole, or one entry at a time")
        view = self[index]
        _copy_checked([view], [value], f"{self._name}[{index}]", indexed=False)


def _copy_checked(targets, values, name, indexed=True):
    """Copy ``values`` (a sequence of arrays) into ``targets``, all shapes checked first.

    ``name`` is what the user assigned, indexed in the messages (``coefs_[1]``)
    unless it already names one array."""
    try:
        values = list(values)
    except TypeError:
        raise ValueError(f"{name} must be a list of arrays, got {values!r}") from None
    if len(values) != len(targets):
        raise ValueError(f"{name} must hold {len(targets)} arrays (one per dense layer), "
                         f"got {len(values)}")
    arrays = []
    for i, (target, value) in enumerate(zip(targets, values)):
        label = f"{name}[{i}]" if indexed else name
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{label} must be an array of numbers, got {value!r}") from None
        if array.shape != target.shape:
            raise ValueError(f"{label} must have shape {target.shape}, got {array.shape}")
        if not np.isfinite(array).all():
            raise ValueError(f"{label} holds NaN or infinity")
        arrays.append(array)
    for target, array in zip(targets, arrays):
        target[...] = array


#: numpydoc text of the training-loop parameters every estimator shares
TRAINING_PARAMS_DOC = """\
    solver : {{"sgd", "adam", "rmsprop", "lbfgs"}}, default="{solver}"
        The optimizer: stochastic gradient descent with (Nesterov) momentum,
        Adam or RMSprop on mini-batches; or full-batch L-BFGS
        (:func:`scipy.optimize.minimize`, the loss and gradient from the
        package's kernels), which scikit-learn recommends for small data
        sets: no step size, no batches, and no ``partial_fit``.
    alpha : float, default={alpha}
        L2 penalty. As in scikit-learn, ``0.5 * alpha * ||W||^2 / batch_size``
        is added to the mean loss of each batch (weights only, not biases;
        with "lbfgs" the batch is the whole training set); with sample
        weights, ``/ sum(sample_weight)`` of the batch.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, ``{{class_label: weight}}`` (1 for a class
        left out), multiplied into ``fit``'s ``sample_weight``.
        "balanced" weighs class ``c`` by ``n_samples / (n_classes *
        count(c))`` in the training labels (scikit-learn's
        :func:`~sklearn.utils.class_weight.compute_sample_weight`), so that
        every class counts as much in the loss; it is not supported by
        ``partial_fit``, which sees one part of the data at a time: pass a
        dict computed once from all the labels instead.
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
        Maximum number of epochs (passes over the training data) of one
        ``fit``, warm-started ones included; with "lbfgs", of L-BFGS
        iterations.
    shuffle : bool, default=True
        Shuffle the samples before each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, dropout and the validation
        split. With an int, two fits give bit-identical models: on any number
        of threads for the perceptron and the MLP, on the same number for the
        CNN.
    tol : float, default={tol}
        Minimum improvement of the loss (or validation score) that counts:
        training stops when ``n_iter_no_change`` epochs in a row improve it by
        less. {tol_note}With "lbfgs", the gradient's size at which it has
        converged (scipy's ``gtol``).
    verbose : bool or int, default=False
        Show a progress bar per epoch and print one line per epoch.
    warm_start : bool, default=False
        When True, ``fit`` continues from the previous solution.
    momentum : float, default=0.9
        Momentum of the "sgd" solver.
    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum with the "sgd" solver.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified by
        class, so each class needs two samples at least), stop when its
        accuracy stalls for ``n_iter_no_change`` epochs, and keep the
        parameters of the best validation epoch. For the stochastic solvers
        only, and not with ``partial_fit``.
    validation_fraction : float, default=0.1
        Fraction of the training data held out when ``early_stopping``.
    beta_1 : float, default=0.9
        Adam's decay rate of the first-moment estimate.
    beta_2 : float, default=0.999
        Adam's decay rate of the second-moment estimate.
    epsilon : float, default=1e-8
        Numerical stability term of Adam and RMSprop.
    n_iter_no_change : int or np.inf, default=10
        Epochs without ``tol`` improvement before stopping (``np.inf``:
        never stop early). Not for "lbfgs".
    max_fun : int, default=15000
        With "lbfgs", the most loss evaluations (each one a pass over the
        training data).
    rho : float, default=0.9
        RMSprop's decay rate of the squared-gradient average.
    dtype : {{"float32", "float64"}}, default="float32"
        Precision of the parameters and of all computation.
    n_threads : int or None, default=None
        Threads for the OpenMP kernels. None takes the budget of where the
        fit runs: ``OMP_NUM_THREADS`` / :func:`threadpoolctl.threadpool_limits`
        and the CPUs available, which joblib's workers divide by ``n_jobs``,
        and which a Dask worker shares among its ``threads_per_worker`` tasks
        (one thread each in Dask's default worker processes). A positive
        value is capped by the CPUs available (and must be at most 8192); a
        negative one counts back from them (-1: all). The count used is
        ``n_threads_``.
    callbacks : list of callbacks or None, default=None
        Objects called at the start and end of training and of each epoch:
        :class:`~perceptron.callbacks.EarlyStopping`,
        :class:`~perceptron.callbacks.ModelCheckpoint`,
        :class:`~perceptron.callbacks.LearningRateScheduler`,
        :class:`~perceptron.callbacks.CSVLogger` or your own (see
        :mod:`perceptron.callbacks`). They are called as given (read their
        results on them after ``fit``); each built-in one starts afresh at
        every fit. Not kept in a saved model file."""

#: numpydoc text of the fitted attributes every estimator shares
FITTED_ATTRIBUTES_DOC = """\
    classes_ : ndarray of shape (n_classes,)
        Class labels (for a multi-label indicator ``y``, its columns
        ``0 .. n_labels - 1``).
    n_features_in_ : int
        Number of features seen during ``fit``.
    loss_ : float
        Mean training loss of the last epoch (weighted by the sample and
        class weights, when given).
    loss_curve_ : list of float
        Mean training loss of each epoch (with "lbfgs", of each iteration),
        over the estimator's whole training: warm-started fits and
        ``partial_fit`` append to it.
    train_scores_ : list of float
        Training accuracy of each epoch, counted on the mini-batches as they
        were seen (before each update), as Keras reports it (each sample
        counts once, whatever its weight).
    validation_scores_ : list of float or None
        Validation accuracy of each epoch when there is a validation set
        (``X_val``, or ``early_stopping``; weighted by the held-out samples'
        weights, when given), else None.
    best_validation_score_ : float or None
        Best validation accuracy when ``early_stopping``.
    history_ : dict of str to list of float
        Keras-style record of every epoch (or L-BFGS iteration), one list
        entry per epoch, as ``loss_curve_``:
        ``"loss"`` and ``"score"`` (training loss and accuracy, as
        ``loss_curve_`` and ``train_scores_``), ``"val_loss"`` and
        ``"val_score"`` (when there is a validation set; the loss includes
        the same L2 term as the training loss), ``"lr"`` (the step size the
        epoch started with; NaN for L-BFGS) and ``"time"`` (seconds,
        validation included).
        ``partial_fit`` and ``warm_start`` append; an entry a later fit adds
        is NaN for the epochs before it. Saved with the model.
    best_loss_ : float or None
        Lowest training loss reached; None with ``early_stopping``, which
        watches the validation score instead (scikit-learn's convention).
    n_iter_ : int
        Number of epochs (or L-BFGS iterations) the last ``fit`` ran; 1
        after a ``partial_fit``. The count over the whole training is
        ``len(loss_curve_)``.
    t_ : int
        Number of training samples the stochastic solvers have seen.
    n_outputs_ : int
        Number of output units: 1 for two classes (one logistic unit, the
        probability of ``classes_[1]``), else one per class or label.
    n_layers_ : int
        Number of layers with weights, plus the input layer (scikit-learn's
        count).
    out_activation_ : str
        The output function: "logistic" for two classes and for multi-label
        targets, else "softmax" or "sigmoid" (``output_activation``).
    fit_time_ : float
        Seconds spent in training epochs (validation included).
    n_threads_ : int
        Threads the kernels used in the last ``fit`` or ``partial_fit``
        (``n_threads`` resolved where it ran). The count changes how long a
        fit takes, not the model it gives -- except for a CNN, whose models
        are bit-identical for the same ``random_state`` and the same
        ``n_threads_``.
    class_names_ : ndarray of str, shape (n_classes,)
        Optional: a display name for each of ``classes_`` ("Sneaker" for
        class 7 of Fashion-MNIST). ``fit`` never sets it: ``perceptron
        train`` does, and so can you after ``fit``
        (``clf.class_names_ = fashion.target_names``). It is saved with the
        model and used by :mod:`perceptron.plotting`,
        :func:`perceptron.metrics.classification_summary` and ``perceptron
        predict``. A new ``fit`` from scratch forgets it.
    dataset_name_ : str
        Optional, like ``class_names_``: the name of the data set the model
        was trained on ("fashion-mnist"); ``perceptron evaluate`` then needs
        no ``--dataset``, and plot titles name it."""

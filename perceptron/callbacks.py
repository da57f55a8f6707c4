"""Callbacks: watch and steer training, epoch by epoch.

Every estimator takes ``callbacks=[...]``, a list of objects the training
loop calls at fixed points (the protocol of Keras and skorch, reduced to
four hooks)::

    on_train_begin(estimator)                 # fit starts (or the first partial_fit)
    on_epoch_begin(estimator, epoch)          # before each epoch's first batch
    on_epoch_end(estimator, epoch, logs)      # after it; return True to stop training
    on_train_end(estimator)                   # fit ends (stopped, finished or Ctrl-C)

``epoch`` is the 0-based index of the epoch in ``estimator.history_`` (the
first epoch of a fresh fit is 0; ``partial_fit`` and ``warm_start`` go on
counting). ``logs`` is that epoch's row of ``history_``: ``"loss"`` and
``"score"`` (training loss and accuracy), ``"val_loss"`` and
``"val_score"`` when there is a validation set, ``"lr"`` (the step size the
epoch used) and ``"time"`` (seconds). A callback may also read the
estimator's fitted attributes (``n_iter_``, ``coefs_``, ...).

Subclass :class:`Callback` and override the hooks you need; any object with
some of these methods works too.

**State.** As in Keras and skorch, the callbacks you pass are the objects the
loop calls: read their results on them after ``fit`` (``stopper.best_epoch_``).
Each built-in callback resets itself in ``on_train_begin``, so one object
can serve several fits, and each fit starts from the callback's initial
state. :func:`sklearn.base.clone` (and so
:class:`~sklearn.model_selection.GridSearchCV`) copies them with the
estimator; estimators with callbacks pickle as long as the callbacks do (a
``lambda`` schedule does not: use a function defined at module level). A
saved model file does not keep callbacks: they are code, not data.

**partial_fit.** One ``partial_fit`` call is one epoch of an open-ended
run: ``on_train_begin`` is called on the first call (and for any callback
that joins later), ``on_epoch_begin`` and ``on_epoch_end`` on every call, and
``on_train_end`` never -- you decide when the run ends. A True from
``on_epoch_end`` has nothing to stop there; read the callback's state
instead (``EarlyStopping.stopped_epoch_``).
"""

import csv
import inspect
import math
import os

from ._validation import check_param

__all__ = ["Callback", "CSVLogger", "EarlyStopping", "LearningRateScheduler",
           "ModelCheckpoint"]

#: monitored quantities: name -> True when larger is better
_MONITORS = {"loss": False, "val_loss": False, "score": True, "val_score": True}


class Callback:
    """Base class of callbacks: every hook does nothing.

    Override the hooks you need (see :mod:`perceptron.callbacks` for when
    each is called). Store constructor arguments unchanged under their own
    names, as scikit-learn estimators do, and reset any state in
    :meth:`on_train_begin`, so that each fit starts afresh.

    Examples
    --------
    >>> from perceptron import PerceptronClassifier
    >>> from perceptron.callbacks import Callback
    >>> from perceptron.datasets import load_digits
    >>> class PrintLoss(Callback):
    ...     def on_epoch_end(self, estimator, epoch, logs):
    ...         print(f"epoch {epoch + 1}: loss {logs['loss']:.2f}")
    ...         return logs["loss"] < 1.0  # True stops training
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = PerceptronClassifier(learning_rate_init=0.01, callbacks=[PrintLoss()],
    ...                            random_state=0).fit(X, y)
    epoch 1: loss 2.02
    epoch 2: loss 1.37
    epoch 3: loss 0.98
    >>> clf.n_iter_
    3
    """

    def on_train_begin(self, estimator):
        """Called when ``fit`` starts, before the first epoch."""

    def on_epoch_begin(self, estimator, epoch):
        """Called before the first batch of epoch ``epoch`` (0-based)."""

    def on_epoch_end(self, estimator, epoch, logs):
        """Called after epoch ``epoch`` with its ``logs``; return True to stop training."""
        return False

    def on_train_end(self, estimator):
        """Called when ``fit`` ends, however it ended."""

    def __repr__(self):
        """``Name(arg=value, ...)`` with the arguments that differ from their defaults."""
        signature = inspect.signature(type(self).__init__)
        args = []
        for name, p in list(signature.parameters.items())[1:]:
            value = getattr(self, name, p.default)
            if p.default is p.empty:  # a required argument: positional, as usually written
                args.append(repr(value))
            elif not _same(value, p.default):
                args.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(args)})"


def _same(a, b):
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return a is b


def _check_monitor(owner, monitor):
    """Whether larger is better for ``monitor``; a ValueError for an unknown one."""
    check_param(f"{owner}(monitor)", monitor, None, options=_MONITORS)
    return _MONITORS[monitor]


def _monitored(owner, monitor, logs):
    """The monitored value in ``logs``, or a ValueError saying how to get it."""
    if monitor not in logs:
        hint = (": pass X_val and y_val to fit, or set early_stopping=True"
                if monitor.startswith("val_") else "")
        raise ValueError(f"{owner} monitors {monitor!r}, which this training does not "
                         f"record (it has {sorted(logs)}){hint}")
    return logs[monitor]


def _require_monitor(owner, monitor, estimator):
    """At train begin: fail before any epoch when ``monitor`` will not be recorded.

    The loop gives ``history_`` the keys of the coming run before
    ``on_train_begin``; when the history is empty, its keys are exactly
    those. (A run that continues a history finds out at its first epoch's
    end, from ``logs``.)
    """
    _check_monitor(owner, monitor)
    history = getattr(estimator, "history_", None)
    if history is not None and history.get("loss") == [] and monitor not in history:
        _monitored(owner, monitor, history)


class _Best:
    """The best monitored value so far, with ``min_delta`` (Keras' rule)."""

    def __init__(self, higher_is_better, min_delta=0.0):
        self.sign = 1.0 if higher_is_better else -1.0
        self.min_delta = abs(min_delta)
        self.value = None

    def improves(self, value):
        return self.value is None or self.sign * (value - self.value) > self.min_delta


class EarlyStopping(Callback):
    """Stop training when a monitored quantity stops improving; keep the best weights.

    Keras' ``EarlyStopping``: after each epoch the monitored value is
    compared with the best so far; an epoch that does not beat it by more
    than ``min_delta`` counts towards ``patience``, and ``patience`` such
    epochs in a row stop training. Losses are minimised, scores maximised.

    Parameters
    ----------
    monitor : {"val_loss", "val_score", "loss", "score"}, default="val_loss"
        What to watch. The ``val_`` quantities need a validation set
        (``fit(X, y, X_val=..., y_val=...)``, or ``early_stopping=True``).
    patience : int, default=10
        Epochs without improvement before stopping.
    min_delta : float, default=0.0
        Smallest change that counts as an improvement.
    restore_best_weights : bool, default=True
        When training ends (stopped, out of epochs or interrupted), put back
        the weights of the best epoch. The other fitted attributes
        (``n_iter_``, ``history_``, the optimizer's state) still describe
        every epoch that ran, as with scikit-learn's ``early_stopping``.
    verbose : bool, default=False
        Print a line when stopping and when restoring.

    Attributes
    ----------
    best_ : float or None
        Best monitored value.
    best_epoch_ : int or None
        Its epoch, as an index into ``estimator.history_`` lists (0-based).
    wait_ : int
        Epochs since the last improvement.
    stopped_epoch_ : int or None
        Index of the epoch after which it stopped training, None if it did not.

    Examples
    --------
    >>> from perceptron import MLPDigitClassifier
    >>> from perceptron.callbacks import EarlyStopping
    >>> from perceptron.datasets import load_dataset
    >>> X_train, X_test, y_train, y_test = load_dataset("digits")
    >>> stopper = EarlyStopping(patience=3)
    >>> clf = MLPDigitClassifier((64,), max_iter=200, callbacks=[stopper], random_state=0)
    >>> clf = clf.fit(X_train, y_train, X_val=X_test, y_val=y_test)
    >>> stopper.stopped_epoch_ == clf.n_iter_ - 1  # it stopped training ...
    True
    >>> stopper.stopped_epoch_ - stopper.best_epoch_  # ... 3 epochs after the best one
    3
    >>> stopper.best_ == min(clf.history_["val_loss"])
    True
    """

    def __init__(self, monitor="val_loss", patience=10, min_delta=0.0,
                 restore_best_weights=True, verbose=False):
        self.monitor = monitor
        self.patience = patience
        self.min_delta = min_delta
        self.restore_best_weights = restore_best_weights
        self.verbose = verbose

    def on_train_begin(self, estimator):
        higher = _check_monitor("EarlyStopping", self.monitor)
        check_param("EarlyStopping(patience)", self.patience, "int", 1)
        check_param("EarlyStopping(min_delta)", self.min_delta, "float", 0)
        check_param("EarlyStopping(restore_best_weights)", self.restore_best_weights, "bool")
        _require_monitor("EarlyStopping", self.monitor, estimator)
        self._best = _Best(higher, self.min_delta)
        self._best_params = None
        self.best_ = self.best_epoch_ = self.stopped_epoch_ = None
        self.wait_ = 0

    def on_epoch_end(self, estimator, epoch, logs):
        value = _monitored("EarlyStopping", self.monitor, logs)
        if self._best.improves(value):
            self._best.value = self.best_ = value
            self.best_epoch_ = epoch
            self.wait_ = 0
            if self.restore_best_weights:
                self._best_params = estimator._network.params.copy()
            return False
        self.wait_ += 1
        if self.wait_ >= self.patience:
            self.stopped_epoch_ = epoch
            if self.verbose:
                print(f"EarlyStopping: {self.monitor} has not improved for {self.wait_} "
                      f"epochs (best {self.best_:.6g} at epoch {self.best_epoch_ + 1}); "
                      "stopping.")
            return True
        return False

    def on_train_end(self, estimator):
        if self._best_params is not None and self.best_epoch_ != len(
                estimator.history_["loss"]) - 1:
            estimator._network.params[...] = self._best_params
            if self.verbose:
                print(f"EarlyStopping: restored the weights of epoch {self.best_epoch_ + 1}.")
        self._best_params = None  # the copy is not needed any more (nor pickled)


class ModelCheckpoint(Callback):
    """Save the model after an epoch, every epoch or when it is the best so far.

    The file is the package's own pickle-free format, written atomically by
    :meth:`~perceptron.MLPDigitClassifier.save` (a crash while saving never
    leaves a half-written file), and loads with :func:`perceptron.load`,
    ready to predict or to resume with ``partial_fit``.

    Parameters
    ----------
    filepath : str or path-like
        Where to save. May contain ``{epoch}`` (the epoch number, from 1) and
        the names of the logs, e.g. ``"ckpt-{epoch:03d}-{val_loss:.3f}.npz"``;
        ``.npz`` is appended when missing. Its folder must exist.
    monitor : {"val_loss", "val_score", "loss", "score"}, default="val_loss"
        What decides "best" with ``save_best_only``.
    save_best_only : bool, default=True
        Save only when the monitored value improves on the best so far;
        otherwise after every epoch.
    verbose : bool, default=False
        Print a line for every file written.

    Attributes
    ----------
    best_ : float or None
        Best monitored value.
    best_epoch_ : int or None
        Its epoch, as an index into ``estimator.history_`` lists (0-based).
    path_ : str or None
        The last file written.

    Examples
    --------
    >>> import os, tempfile, warnings
    >>> from sklearn.exceptions import ConvergenceWarning
    >>> import perceptron
    >>> from perceptron import MLPDigitClassifier
    >>> from perceptron.callbacks import ModelCheckpoint
    >>> from perceptron.datasets import load_dataset
    >>> X_train, X_test, y_train, y_test = load_dataset("digits")
    >>> folder = tempfile.mkdtemp()
    >>> checkpoint = ModelCheckpoint(os.path.join(folder, "best.npz"))
    >>> clf = MLPDigitClassifier((32,), max_iter=20, callbacks=[checkpoint], random_state=0)
    >>> with warnings.catch_warnings():  # twenty epochs on purpose
    ...     warnings.simplefilter("ignore", ConvergenceWarning)
    ...     clf = clf.fit(X_train, y_train, X_val=X_test, y_val=y_test)
    >>> best = perceptron.load(checkpoint.path_)
    >>> best.n_iter_ == checkpoint.best_epoch_ + 1
    True
    """

    def __init__(self, filepath, monitor="val_loss", save_best_only=True, verbose=False):
        self.filepath = filepath
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.verbose = verbose

    def on_train_begin(self, estimator):
        _check_monitor("ModelCheckpoint", self.monitor)
        check_param("ModelCheckpoint(save_best_only)", self.save_best_only, "bool")
        if self.save_best_only:
            _require_monitor("ModelCheckpoint", self.monitor, estimator)
        path = os.fspath(self.filepath)
        try:  # a bad placeholder fails now, not after the first epoch
            path.format(epoch=1, **dict.fromkeys(_MONITORS, 0.0), lr=0.0, time=0.0)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"ModelCheckpoint: cannot fill in filepath {path!r} "
                             f"({type(exc).__name__}: {exc}); it may use "
                             "{epoch}, {loss}, {score}, {val_loss}, {val_score}, {lr} and "
                             "{time}") from None
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise ValueError(f"ModelCheckpoint: the folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            raise ValueError(f"ModelCheckpoint: the folder {folder} is not writable")
        self._best = _Best(_MONITORS[self.monitor])
        self.best_ = self.best_epoch_ = self.path_ = None

    def on_epoch_end(self, estimator, epoch, logs):
        from ._persistence import save_model

        if self.save_best_only:
            value = _monitored("ModelCheckpoint", self.monitor, logs)
            if not self._best.improves(value):
                return False
            self._best.value = self.best_ = value
            self.best_epoch_ = epoch
        try:
            path = os.fspath(self.filepath).format(epoch=epoch + 1, **logs)
        except KeyError as exc:
            raise ValueError(f"ModelCheckpoint: filepath {os.fspath(self.filepath)!r} uses "
                             f"{exc}, which this training does not record (it has "
                             f"{sorted(logs)})") from None
        self.path_ = save_model(estimator, path)
        if self.verbose:
            print(f"ModelCheckpoint: saved epoch {epoch + 1} to {self.path_}")
        return False


class LearningRateScheduler(Callback):
    """Set the step size of each epoch from a schedule.

    Before each epoch, the schedule gives the step size from the epoch's
    index ``e`` (0-based) and ``lr0 = estimator.learning_rate_init``:

    ``"cosine"``
        ``min_lr + (lr0 - min_lr) * (1 + cos(pi * e / T)) / 2``, with
        ``T = epochs`` (default: the estimator's ``max_iter``); ``min_lr``
        from epoch ``T`` on.
    ``"step"``
        ``lr0 * gamma ** (e // step_size)`` (``gamma`` default 0.1).
    ``"exponential"``
        ``lr0 * gamma ** e`` (``gamma`` default 0.95).
    a callable ``schedule(epoch, lr) -> lr``
        Keras' convention: ``lr`` is the current step size.

    The step size each epoch used is in ``estimator.history_["lr"]``. The
    estimator's ``learning_rate`` must be "constant" (the other settings
    have their own schedules).

    Parameters
    ----------
    schedule : {"cosine", "step", "exponential"} or callable
    epochs : int or None, default=None
        ``T`` of the cosine schedule; None means the estimator's ``max_iter``.
    step_size : int, default=10
        Epochs between two decays of the "step" schedule.
    gamma : float or None, default=None
        Decay factor of "step" and "exponential".
    min_lr : float, default=0.0
        Floor of the cosine schedule.

    Examples
    --------
    >>> import warnings
    >>> from sklearn.exceptions import ConvergenceWarning
    >>> from perceptron import PerceptronClassifier
    >>> from perceptron.callbacks import LearningRateScheduler
    >>> from perceptron.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = PerceptronClassifier(learning_rate_init=0.01, max_iter=5, random_state=0,
    ...                            callbacks=[LearningRateScheduler("cosine")])
    >>> with warnings.catch_warnings():  # five epochs on purpose
    ...     warnings.simplefilter("ignore", ConvergenceWarning)
    ...     clf = clf.fit(X, y)
    >>> [round(lr, 5) for lr in clf.history_["lr"]]
    [0.01, 0.00905, 0.00655, 0.00345, 0.00095]
    """

    _GAMMA = {"step": 0.1, "exponential": 0.95}

    def __init__(self, schedule, *, epochs=None, step_size=10, gamma=None, min_lr=0.0):
        self.schedule = schedule
        self.epochs = epochs
        self.step_size = step_size
        self.gamma = gamma
        self.min_lr = min_lr

    def on_train_begin(self, estimator):
        if not callable(self.schedule) and self.schedule not in ("cosine", "step",
                                                                 "exponential"):
            raise ValueError("LearningRateScheduler: schedule must be 'cosine', 'step', "
                             f"'exponential' or a callable, got {self.schedule!r}")
        if estimator.learning_rate != "constant":
            raise ValueError("LearningRateScheduler needs learning_rate='constant'; got "
                             f"learning_rate={estimator.learning_rate!r}, which has its own "
                             "schedule")
        check_param("LearningRateScheduler(epochs)", self.epochs, "int", 1, allow_none=True)
        check_param("LearningRateScheduler(step_size)", self.step_size, "int", 1)
        check_param("LearningRateScheduler(gamma)", self.gamma, "float", 0, closed_low=False,
                    allow_none=True)
        check_param("LearningRateScheduler(min_lr)", self.min_lr, "float", 0)

    def learning_rate(self, epoch, lr0, lr, max_iter):
        """The step size of epoch ``epoch`` (0-based), ``lr`` being the current one."""
        if callable(self.schedule):
            return self.schedule(epoch, lr)
        if self.schedule == "cosine":
            T = self.epochs or max_iter
            return self.min_lr + (lr0 - self.min_lr) * (1 + math.cos(math.pi * min(epoch, T)
                                                                      / T)) / 2
        gamma = self._GAMMA[self.schedule] if self.gamma is None else self.gamma
        if self.schedule == "step":
            return lr0 * gamma ** (epoch // self.step_size)
        return lr0 * gamma ** epoch

    def on_epoch_begin(self, estimator, epoch):
        lr = self.learning_rate(epoch, float(estimator.learning_rate_init),
                                estimator._learning_rate, estimator.max_iter)
        check_param(f"the step size LearningRateScheduler gave for epoch {epoch}", lr,
                    "float", 0, closed_low=False)
        estimator._learning_rate = float(lr)


class CSVLogger(Callback):
    """Write each epoch's logs as a row of a CSV file.

    The columns are ``epoch`` (from 1, as the progress lines count) and the
    keys of ``logs`` (``loss``, ``score``, ``val_loss``, ``val_score``,
    ``lr``, ``time``); the header is written with the first row. The file is
    opened for each row and closed again, so it can be read while training
    runs, and an estimator holding the logger still pickles.

    Parameters
    ----------
    filename : str or path-like
    separator : str, default=","
    append : bool, default=False
        Add to an existing file (no second header) instead of starting a new
        one at each fit.

    Examples
    --------
    >>> import os, tempfile
    >>> from perceptron import PerceptronClassifier
    >>> from perceptron.callbacks import CSVLogger
    >>> from perceptron.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
    >>> clf = PerceptronClassifier(callbacks=[CSVLogger(path)], random_state=0).fit(X, y)
    >>> print(open(path).read().splitlines()[0])
    epoch,loss,score,lr,time
    >>> len(open(path).read().splitlines()) == 1 + clf.n_iter_  # a header, a row per epoch
    True
    """

    def __init__(self, filename, separator=",", append=False):
        self.filename = filename
        self.separator = separator
        self.append = append

    def on_train_begin(self, estimator):
        check_param("CSVLogger(append)", self.append, "bool")
        if not (isinstance(self.separator, str) and len(self.separator) == 1):
            raise ValueError(f"CSVLogger(separator) must be one character, got "
                             f"{self.separator!r}")
        path = os.fspath(self.filename)
        exists = os.path.exists(path) and os.path.getsize(path) > 0
        self._header = not (self.append and exists)
        if not self.append:
            with open(path, "w", encoding="utf-8"):
                pass  # a new log (and an unwritable path fails now, not after an epoch)

    def on_epoch_end(self, estimator, epoch, logs):
        with open(self.filename, "a", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, delimiter=self.separator)
            if self._header:
                writer.writerow(["epoch", *logs])
                self._header = False
            writer.writerow([epoch + 1, *(repr(float(v)) for v in logs.values())])
        return False

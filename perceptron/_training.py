"""The one training loop: epochs of shuffled mini-batches, for every estimator.

:func:`run_epochs` drives a fitted-or-fresh estimator's network through
epochs: shuffling, mini-batches (each one call of the network's
``train_batch``, which runs the forward and backward passes and the
optimizer), the learning-rate schedule, early stopping, the validation
figures, ``history_``, the callbacks (:mod:`perceptron.callbacks`) and the
progress display. It reads the estimator's hyper-parameters and writes its
fitted attributes (``n_iter_``, ``t_``, ``loss_curve_``, ``history_``, ...),
as scikit-learn's ``MLPClassifier._fit_stochastic`` does. What a failed or
interrupted call leaves behind is :mod:`perceptron._guard`'s business.
"""

import math
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split


def batch_size(est, n_samples):
    """Rows per mini-batch: ``batch_size``, or ``min(200, n)`` for "auto"."""
    if isinstance(est.batch_size, str):
        return min(200, n_samples)
    return max(1, min(est.batch_size, n_samples))


def split_validation(est, X, T, stratify, sample_weight=None):
    """Hold out ``validation_fraction`` of ``(X, T)`` for ``early_stopping``.

    Stratified by the labels ``stratify`` (None: a plain random split, for
    multi-label targets), as scikit-learn does: a class with a single
    member cannot be, and is a ValueError. Returns ``X_train, X_val,
    T_train, T_val, w_train, w_val``: the sample weights follow their rows
    (both None without weights), as in scikit-learn's MLPClassifier.
    """
    seed = int(est._rng.integers(np.iinfo(np.int32).max))
    arrays = (X, T) if sample_weight is None else (X, T, sample_weight)
    try:
        parts = train_test_split(*arrays, test_size=est.validation_fraction,
                                 random_state=seed, stratify=stratify)
    except ValueError as exc:
        raise ValueError(
            f"early_stopping holds out a validation set stratified by class, and here it "
            f"cannot be: {str(exc).rstrip('.')}. Give more samples of each class, pass X_val "
            "and y_val to fit, or set early_stopping=False.") from None
    X_tr, X_val, T_tr, T_val = parts[:4]
    w_tr, w_val = parts[4:] if sample_weight is not None else (None, None)
    if X_tr.shape[0] < 1 or X_val.shape[0] < 1:
        raise ValueError(
            f"validation_fraction={est.validation_fraction} leaves an empty "
            f"training or validation set for {X.shape[0]} samples")
    if sample_weight is not None and not (w_tr.any() and w_val.any()):
        raise ValueError(
            "the sample weights of the early-stopping "
            f"{'training' if not w_tr.any() else 'validation'} set are all zero; "
            "use another random_state or validation_fraction")
    if not sp.issparse(X):
        X_tr, X_val = np.ascontiguousarray(X_tr), np.ascontiguousarray(X_val)
    return (X_tr, X_val, np.ascontiguousarray(T_tr), np.ascontiguousarray(T_val), w_tr,
            w_val)


def run_epochs(est, X, T, X_val, T_val, n_epochs, incremental, interrupt, sample_weight=None,
               val_weight=None):
    """Train ``est._network`` for up to ``n_epochs`` epochs on ``(X, T)``.

    ``est.n_iter_`` counts the epochs of this call (scikit-learn's rule: a
    warm-started ``fit`` runs up to ``max_iter`` more epochs, a
    ``partial_fit`` one); the epochs of the estimator's whole training are
    numbered on (``len(est.loss_curve_)``), and that is the epoch index the
    callbacks see and ``history_`` records.

    Parameters
    ----------
    est : BaseDigitClassifier
        Initialised (network, optimizer, histories, random stream, and the
        augmentation of the training batches, ``_augmenter``, or None).
    X : ndarray of shape (n_samples, *input_shape), or CSR matrix
        The network's input, C-contiguous.
    T : ndarray of shape (n_samples, n_outputs), dtype uint8
        The 0/1 targets.
    X_val, T_val : ndarray or None
        The validation set, scored after each epoch.
    n_epochs : int
    incremental : bool
        A ``partial_fit`` epoch: no stopping rule, no convergence warning,
        and the callbacks' run stays open.
    interrupt : perceptron._guard.DeferredInterrupt
        Read after each batch: once raised, training stops there.
    sample_weight : ndarray of shape (n_samples,), dtype float64, optional
        The training samples' weights: each batch's loss is their weighted
        mean, and the epoch's loss (``loss_``) too. The training accuracy
        stays a plain count, as Keras's metrics.
    val_weight : ndarray, optional
        The validation samples' weights: a weighted loss and accuracy, as
        scikit-learn's ``score(X, y, sample_weight)``.

    Returns
    -------
    n_batches : int
        Mini-batches trained by this call.
    """
    n = X.shape[0]
    bs = batch_size(est, n)
    # the total weight of a full batch, over which the L2 term is reported
    # beside the validation loss (see end_epoch)
    batch_weight = bs if sample_weight is None else bs * float(np.mean(sample_weight))
    order = np.arange(n, dtype=np.intp)
    progress = EpochProgress(est.verbose, -(-n // bs), n_epochs)
    callbacks = CallbackRun(est, interrupt)
    start_history(est, validation=X_val is not None)
    callbacks.begin(incremental)
    trained, short = 0, None  # batches trained; (batch, n_batches) of an epoch cut short
    est.n_iter_ = 0
    for _ in range(n_epochs):
        if interrupt.raised:
            break
        epoch = len(est.loss_curve_)
        callbacks.epoch_begin(epoch)
        if interrupt.raised:
            break
        start_time = time.perf_counter()
        learning_rate = est._optimizer.learning_rate  # the step size this epoch starts with
        if est.shuffle:
            est._rng.shuffle(order)
        bar = progress.start(epoch + 1)
        loss, score, batches = _train_epoch(est, X, T, order, bs, interrupt, progress, bar,
                                            sample_weight)
        trained += batches
        if batches * bs < n:
            short = (batches, -(-n // bs))
        logs = end_epoch(est, loss, score, X_val, T_val, learning_rate, start_time,
                         batch_weight, val_weight)
        progress.end(bar, est, logs)
        _update_no_improvement(est, early_stopping=est.early_stopping and not incremental)
        if interrupt.raised:
            break
        if callbacks.epoch_end(epoch, logs) and not incremental:
            progress.message("A callback stopped training.")
            break
        if not incremental and _stopping_rule(est, progress):
            break
    else:
        progress.close()  # before the warning, which would print on the bar's line
        if not incremental and not interrupt.raised:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({est.max_iter}) reached "
                "and the optimization hasn't converged yet.", ConvergenceWarning)
    progress.close()
    if not incremental:
        if est.early_stopping and est._best_params is not None:
            est._network.params[...] = est._best_params  # restore the best validation epoch
        callbacks.end()
        if interrupt.raised and trained:  # (partial_fit, or no batch at all: undone)
            _warn_interrupted(est, short)
    est._best_params = None
    return trained


def _train_epoch(est, X, T, order, bs, interrupt, progress, bar, sample_weight):
    """The mini-batches of one epoch, in ``order``, until a Ctrl-C.

    Returns the mean loss (weighted, with ``sample_weight``: the batches'
    losses weighted by their total weights) and the accuracy over the rows
    trained, and the number of batches.
    """
    net, optimizer = est._network, est._optimizer
    loss_sum, correct, seen, batches = 0.0, 0, 0, 0
    if sample_weight is not None:
        batch_weights = np.add.reduceat(sample_weight[order], np.arange(0, len(order), bs))
        weight_seen = 0.0
    for start in range(0, X.shape[0], bs):
        idx = order[start:start + bs]
        m = idx.shape[0]
        # gradient and optimizer step (skipped if the batch's weights are all
        # 0; NaN loss: the step diverged)
        loss, n_correct = net.train_batch(X, T, idx, est.alpha, optimizer,
                                          optimizer.learning_rate, sample_weight=sample_weight,
                                          augment=est._augmenter)
        if not math.isfinite(loss):
            progress.close()
            raise ValueError(
                f"training diverged at epoch {len(est.loss_curve_) + 1}: the loss, the "
                "gradient or the parameters became NaN or infinite; try a smaller "
                "learning_rate_init, or scale X")
        est.t_ += m
        if est.learning_rate == "invscaling":
            optimizer.learning_rate = est.learning_rate_init / (est.t_ + 1) ** est.power_t
        if sample_weight is None:
            loss_sum += loss * m
        else:
            loss_sum += loss * float(batch_weights[batches])
            weight_seen += float(batch_weights[batches])
        correct += n_correct
        seen += m
        batches += 1
        progress.update(bar, loss)
        if interrupt.raised:
            break
    if sample_weight is None:
        loss = loss_sum / seen
    else:  # the batches seen all weighing 0 (a Ctrl-C after the first): no loss
        loss = loss_sum / weight_seen if weight_seen > 0 else math.nan
    return loss, correct / seen, batches


def _stopping_rule(est, progress):
    """scikit-learn's rule: ``n_iter_no_change`` epochs without ``tol`` progress stop
    training (or, with ``learning_rate="adaptive"``, divide the step size by 5)."""
    if est._no_improvement_count <= est.n_iter_no_change:
        return False
    optimizer = est._optimizer
    if est.learning_rate == "adaptive" and optimizer.learning_rate > 1e-6:
        optimizer.learning_rate /= 5.0
        est._no_improvement_count = 0
        progress.message(f"Setting learning rate to {optimizer.learning_rate:f}")
        return False
    what = "Validation score" if est.early_stopping else "Training loss"
    progress.message(
        f"{what} did not improve more than tol={est.tol:f} for "
        f"{est.n_iter_no_change} consecutive epochs. Stopping.")
    return True


def _warn_interrupted(est, short):
    """Say where a Ctrl-C stopped ``fit``."""
    epoch = len(est.loss_curve_)
    where = (f"after epoch {epoch}" if short is None else
             f"during epoch {epoch}, after batch {short[0]} of {short[1]} (the epoch "
             "is recorded over those batches)")
    warnings.warn(f"fit interrupted (KeyboardInterrupt) {where}: training stopped there "
                  f"(n_iter_={est.n_iter_}, t_={est.t_}); the estimator can predict, be "
                  "saved or go on training", UserWarning, stacklevel=6)


#: the keys of ``history_``, in their order
HISTORY_KEYS = ("loss", "score", "val_loss", "val_score", "lr", "time")


def start_history(est, validation):
    """Give ``est.history_`` the keys this training records.

    A key new to the history (``val_loss`` in a warm-started fit that now has
    a validation set) starts with NaN for the epochs before, so every list
    keeps one entry per epoch.
    """
    history = est.history_
    keys = {"loss", "score", "lr", "time"} | ({"val_loss", "val_score"} if validation else set())
    n = len(history.get("loss", ()))
    for key in keys - set(history):
        history[key] = [math.nan] * n
    ordered = {key: history[key] for key in HISTORY_KEYS if key in history}
    history.clear()
    history.update(ordered)


def history_from_curves(est):
    """``history_`` of a model saved before it existed, from the curves it kept."""
    n = len(est.loss_curve_)
    history = {"loss": list(est.loss_curve_), "score": list(est.train_scores_)}
    if est.validation_scores_ is not None:
        history["val_loss"] = [math.nan] * n
        history["val_score"] = list(est.validation_scores_)
    history["lr"] = [math.nan] * n
    history["time"] = [math.nan] * n
    return history


def end_epoch(est, loss, score, X_val, T_val, learning_rate, start_time, batch_weight,
              val_weight=None):
    """Record an epoch: counters, curves, validation figures, ``history_``; return its logs.

    The validation loss gets the L2 term of a training batch of total weight
    ``batch_weight`` (the batch size without sample weights), so that the
    two curves compare; with ``val_weight`` the validation figures are
    weighted means.
    """
    net = est._network
    est.n_iter_ += 1
    est.loss_ = loss
    est.loss_curve_.append(loss)
    est.train_scores_.append(score)
    logs = {"loss": loss, "score": score}
    if X_val is not None:
        val_loss, val_score = net.evaluate(X_val, T_val, val_weight)
        if est.alpha:  # the L2 term the training loss carries, for comparable curves
            val_loss += 0.5 * est.alpha * net.squared_norm() / batch_weight
        est.validation_scores_.append(val_score)
        logs["val_loss"], logs["val_score"] = val_loss, val_score
    logs["lr"] = learning_rate
    logs["time"] = time.perf_counter() - start_time
    est.fit_time_ += logs["time"]
    for key, values in est.history_.items():
        values.append(logs.get(key, math.nan))
    return logs


class CallbackRun:
    """The estimator's ``callbacks`` through one training call.

    Calls each hook of each callback in list order (hooks a callback does
    not have are skipped). A KeyboardInterrupt raised by a hook is a Ctrl-C:
    it raises the interrupt flag and training stops as for a Ctrl-C. Which
    callbacks have had ``on_train_begin`` in the open run of ``partial_fit``
    calls is ``est._begun_callbacks``.
    """

    def __init__(self, est, interrupt):
        self.est = est
        self.interrupt = interrupt
        self.callbacks = list(est.callbacks or ())

    def _call(self, callback, hook, *args):
        method = getattr(callback, hook, None)
        if method is None:
            return None
        try:
            return method(self.est, *args)
        except KeyboardInterrupt:
            if self.interrupt.aborting:
                raise
            self.interrupt.set()
            return None

    def begin(self, incremental):
        """``on_train_begin``: every callback for ``fit``; the ones new to the run for
        ``partial_fit``."""
        begun = self.est._begun_callbacks
        if not incremental:
            begun.clear()
        new = [cb for cb in self.callbacks if not any(cb is b for b in begun)]
        begun.extend(new)
        for callback in new:
            self._call(callback, "on_train_begin")

    def epoch_begin(self, epoch):
        for callback in self.callbacks:
            self._call(callback, "on_epoch_begin", epoch)

    def epoch_end(self, epoch, logs):
        """``on_epoch_end`` of every callback; whether one of them asked to stop."""
        stop = False
        for callback in self.callbacks:
            stop = bool(self._call(callback, "on_epoch_end", epoch, dict(logs))) or stop
        return stop

    def end(self):
        """``on_train_end``: the run is over (the next ``partial_fit`` begins a new one)."""
        for callback in self.callbacks:
            self._call(callback, "on_train_end")
        self.est._begun_callbacks.clear()


def _update_no_improvement(est, early_stopping):
    """Count the epochs without ``tol`` improvement; keep the best validation weights.

    With ``early_stopping`` the validation score is watched and
    ``best_loss_`` is not (it stays None, as in scikit-learn); otherwise
    the training loss.
    """
    if early_stopping:
        score = est.validation_scores_[-1]
        best = est.best_validation_score_
        if best is not None and score < best + est.tol:
            est._no_improvement_count += 1
        else:
            est._no_improvement_count = 0
        if best is None or score > best:
            est.best_validation_score_ = score
            est._best_params = est._network.params.copy()
        return
    best_loss = math.inf if est.best_loss_ is None else est.best_loss_
    if est.loss_ > best_loss - est.tol:
        est._no_improvement_count += 1
    else:
        est._no_improvement_count = 0
    if est.loss_ < best_loss:
        est.best_loss_ = est.loss_


class EpochProgress:
    """What ``verbose`` shows while a network trains.

    ``verbose=0``: nothing. ``verbose=1``: on a terminal or in a notebook,
    one progress bar over the whole run (it advances with each mini-batch;
    its label says the epoch, its postfix the running loss of the epoch and
    the last epoch's training and validation accuracy); anywhere else (a log
    file, a pipe) one line per epoch instead, as scikit-learn prints.
    ``verbose>=2``: the bar and one line per epoch. The lines go to standard
    output, the bar to standard error.
    """

    #: seconds between two refreshes of the bar's postfix
    REFRESH = 0.2

    def __init__(self, verbose, n_batches, n_epochs=1):
        self.verbose = int(verbose)
        self.n_batches = n_batches
        self.n_epochs = n_epochs
        self.bar = None
        self.use_bar = self.verbose >= 1 and _interactive()
        self.lines = self.verbose >= 2 or (self.verbose == 1 and not self.use_bar)
        self._epoch = 0
        self._loss_sum = 0.0
        self._seen = 0
        self._postfix = {}
        self._refreshed = 0.0

    def start(self, epoch):
        """Begin epoch ``epoch`` (counted over the estimator's life); return the bar."""
        self._epoch += 1
        self._loss_sum, self._seen = 0.0, 0
        if self.use_bar and self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.n_epochs * self.n_batches, unit="batch", leave=True,
                            dynamic_ncols=True, desc=f"epoch 1/{self.n_epochs}",
                            bar_format="{desc} {percentage:3.0f}%|{bar}| "
                                       "[{elapsed}<{remaining}{postfix}]")
        if self.bar is not None:
            self.bar.set_description_str(f"epoch {self._epoch}/{self.n_epochs}", refresh=False)
        return self.bar

    def update(self, bar, loss):
        """One mini-batch done, with its mean loss."""
        if bar is None:
            return
        self._loss_sum += loss
        self._seen += 1
        now = time.monotonic()
        if now - self._refreshed >= self.REFRESH:
            self._refreshed = now
            self._postfix["loss"] = f"{self._loss_sum / self._seen:.4f}"
            bar.set_postfix(self._postfix, refresh=False)
        bar.update(1)

    def end(self, bar, est, logs):
        """The epoch is over: its figures go to the bar's postfix and the epoch's line."""
        if bar is not None:
            self._postfix["loss"] = f"{est.loss_:.4f}"
            self._postfix["acc"] = f"{logs['score']:.4f}"
            if "val_loss" in logs:
                self._postfix["val_loss"] = f"{logs['val_loss']:.4f}"
                self._postfix["val_acc"] = f"{logs['val_score']:.4f}"
            bar.set_postfix(self._postfix, refresh=False)
            bar.refresh()
        if self.lines:
            line = (f"Iteration {est.n_iter_}, loss = {est.loss_:.8f}, "
                    f"train accuracy = {logs['score']:.4f}")
            if "val_loss" in logs:
                line += (f", validation loss = {logs['val_loss']:.8f}, "
                         f"validation accuracy = {logs['val_score']:.4f}")
            self._print(line)

    def message(self, text):
        """A note about the run (stopping, a smaller learning rate)."""
        if self.verbose:
            self._print(text)

    def close(self):
        """The run is over (or failed): take the bar down."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def _print(self, text):
        if self.bar is not None:
            self.bar.write(text, file=sys.stdout)  # above the bar, which stays last
        else:
            print(text)


def _interactive():
    """True when a progress bar can be drawn: a terminal on stderr, or a notebook."""
    try:
        if sys.stderr is not None and sys.stderr.isatty():
            return True
    except (AttributeError, ValueError):  # a replaced or closed stderr
        pass
    from tqdm import auto

    return any(cls.__module__ == "tqdm.notebook" for cls in auto.tqdm.__mro__)

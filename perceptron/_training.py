"""The one training loop: epochs of shuffled mini-batches, for every estimator.

:func:`run_epochs` drives a fitted-or-fresh estimator's network through
epochs: shuffling, mini-batches (each one call of the network's
``train_batch``, which runs the forward and backward passes and the
optimizer), the learning-rate schedule, the histories, early stopping and
the progress display. It reads the estimator's hyper-parameters and writes
its fitted attributes (``n_iter_``, ``t_``, ``loss_curve_``, ...), as
scikit-learn's ``MLPClassifier._fit_stochastic`` does.
"""

import math
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split


def batch_size(est, n_samples):
    """Rows per mini-batch: ``batch_size``, or ``min(200, n)`` for "auto"."""
    if isinstance(est.batch_size, str):
        return min(200, n_samples)
    return max(1, min(est.batch_size, n_samples))


def split_validation(est, X, y):
    """Hold out ``validation_fraction`` of ``(X, y)``, stratified when possible."""
    seed = int(est._rng.integers(np.iinfo(np.int32).max))
    try:
        X_tr, X_val, y_tr, y_val = train_test_split(
            X, y, test_size=est.validation_fraction, random_state=seed, stratify=y)
    except ValueError:
        # a class too small to stratify: fall back to a plain random split
        X_tr, X_val, y_tr, y_val = train_test_split(
            X, y, test_size=est.validation_fraction, random_state=seed)
    if X_tr.shape[0] < 1 or X_val.shape[0] < 1:
        raise ValueError(
            f"validation_fraction={est.validation_fraction} leaves an empty "
            f"training or validation set for {X.shape[0]} samples")
    return (np.ascontiguousarray(X_tr), np.ascontiguousarray(X_val), y_tr, y_val)


def run_epochs(est, X, y, X_val, y_val, n_epochs, incremental):
    """Train ``est._network`` for up to ``n_epochs`` epochs on ``(X, y)``.

    Parameters
    ----------
    est : BaseDigitClassifier
        Initialised (network, optimizer, histories, random stream).
    X : ndarray of shape (n_samples, *input_shape)
        The network's input, C-contiguous.
    y : ndarray of shape (n_samples,), dtype intp
        Class indices.
    X_val, y_val : ndarray or None
        The validation set, scored after each epoch.
    n_epochs : int
    incremental : bool
        A ``partial_fit`` epoch: no stopping rule, no convergence warning.
    """
    net = est._network
    n = X.shape[0]
    bs = batch_size(est, n)
    order = np.arange(n, dtype=np.intp)
    progress = EpochProgress(est.verbose, -(-n // bs), n_epochs)
    for _ in range(n_epochs):
        start_time = time.perf_counter()
        if est.shuffle:
            est._rng.shuffle(order)
        loss_sum, correct = 0.0, 0
        bar = progress.start(est.n_iter_ + 1)
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            m = idx.shape[0]
            # gradient and optimizer step (skipped if the loss is not finite)
            loss, n_correct = net.train_batch(X, y, idx, est.alpha, est._optimizer,
                                              est._learning_rate)
            if not math.isfinite(loss):
                progress.close()
                raise ValueError(
                    f"training diverged: the loss became {loss} at epoch "
                    f"{est.n_iter_ + 1}; try a smaller learning_rate_init")
            est.t_ += m
            if est.learning_rate == "invscaling":
                est._learning_rate = est.learning_rate_init / (est.t_ + 1) ** est.power_t
            loss_sum += loss * m
            correct += n_correct
            progress.update(bar, loss)
        est.n_iter_ += 1
        est.fit_time_ += time.perf_counter() - start_time
        est.loss_ = loss_sum / n
        est.loss_curve_.append(est.loss_)
        est.train_scores_.append(correct / n)
        if X_val is not None:
            score = float(np.mean(np.argmax(net.decision_function(X_val), axis=1) == y_val))
            est.validation_scores_.append(score)
        progress.end(bar, est)
        if incremental:
            _update_no_improvement(est, early_stopping=False)
            continue
        _update_no_improvement(est, early_stopping=X_val is not None)
        if est._no_improvement_count > est.n_iter_no_change:
            if est.learning_rate == "adaptive" and est._learning_rate > 1e-6:
                est._learning_rate /= 5.0
                est._no_improvement_count = 0
                progress.message(f"Setting learning rate to {est._learning_rate:f}")
                continue
            what = "Validation score" if X_val is not None else "Training loss"
            progress.message(
                f"{what} did not improve more than tol={est.tol:f} for "
                f"{est.n_iter_no_change} consecutive epochs. Stopping.")
            break
    else:
        progress.close()  # before the warning, which would print on the bar's line
        if not incremental:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({est.max_iter}) reached "
                "and the optimization hasn't converged yet.", ConvergenceWarning)
    progress.close()
    if not incremental and X_val is not None and est._best_params is not None:
        net.params[...] = est._best_params  # restore the best validation epoch
    est._best_params = None


def _update_no_improvement(est, early_stopping):
    """Count the epochs without ``tol`` improvement; keep the best validation weights."""
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
    else:
        if est.loss_ > est.best_loss_ - est.tol:
            est._no_improvement_count += 1
        else:
            est._no_improvement_count = 0
    if est.loss_ < est.best_loss_:
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

    def end(self, bar, est):
        """The epoch is over: its figures go to the bar's postfix and the epoch's line."""
        if bar is not None:
            self._postfix["loss"] = f"{est.loss_:.4f}"
            self._postfix["acc"] = f"{est.train_scores_[-1]:.4f}"
            if est.validation_scores_:
                self._postfix["val"] = f"{est.validation_scores_[-1]:.4f}"
            bar.set_postfix(self._postfix, refresh=False)
            bar.refresh()
        if self.lines:
            line = (f"Iteration {est.n_iter_}, loss = {est.loss_:.8f}, "
                    f"train accuracy = {est.train_scores_[-1]:.4f}")
            if est.validation_scores_:
                line += f", validation accuracy = {est.validation_scores_[-1]:.4f}"
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

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
        Initialised (network, optimizer, histories, random stream, and the
        augmentation of the training batches, ``_augmenter``, or None).
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
    progress = EpochProgress(est.verbose, -(-n // bs))
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
                                              est._learning_rate, augment=est._augmenter)
            if not math.isfinite(loss):
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
        if not incremental:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({est.max_iter}) reached "
                "and the optimization hasn't converged yet.", ConvergenceWarning)
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

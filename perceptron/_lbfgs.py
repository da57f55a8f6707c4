"""Full-batch L-BFGS: scipy's minimizer, with the loss and gradient from the package's kernels.

``solver="lbfgs"`` trains without mini-batches, as scikit-learn's
``MLPClassifier`` does: :func:`scipy.optimize.minimize` (method
``"L-BFGS-B"``, ``jac=True``) asks for the mean training loss and its
gradient at a point of the parameter space, and :class:`LossGradient`
answers with the network's own training step without an optimizer
(``train_batch(X, T, rows, 0.0)``: forward, fused loss, backward, which fill
``network.grads``) over every row. The optimizer's vector is float64, as in
scikit-learn; the network computes in its own dtype.

:func:`run_lbfgs` is the lbfgs counterpart of
:func:`perceptron._training.run_epochs`: each L-BFGS iteration is recorded
as an epoch is (``n_iter_``, ``loss_curve_``, ``history_``, the validation
figures) and the callbacks see it as one. ``max_iter`` bounds the
iterations, ``max_fun`` the loss evaluations, and ``tol`` is scipy's
``gtol`` (scikit-learn's choice); ``n_iter_no_change`` and
``early_stopping`` are the stochastic solvers' rules and play no part.
"""

import math
import time
import warnings

import numpy as np
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning

from ._training import CallbackRun, EpochProgress, end_epoch, start_history


class LossGradient:
    """The mean training loss and its gradient at a parameter vector, for scipy.

    Calling it with ``theta`` (the optimizer's float64 vector) copies
    ``theta`` into the network's parameters, runs the training step over
    every row -- in blocks of at most ``network.predict_batch_size()`` rows,
    so that a large data set (or a CNN) never needs its whole batch of
    activations at once -- and returns ``(loss, gradient)`` in float64: the
    (weighted) mean loss of all the rows, each block counted by its total
    weight, with scikit-learn's L2 term ``0.5 * alpha * ||W||^2 / sum(w)``
    (and ``alpha * W / sum(w)``) added in float64; ``sum(w)`` is ``n``
    without weights.

    Parameters
    ----------
    network : Network or DenseStackNetwork
    X : ndarray of shape (n_samples, *input_shape), or CSR matrix
    T : ndarray of shape (n_samples, n_outputs), dtype uint8
        The 0/1 targets.
    alpha : float
        L2 penalty.
    sample_weight : ndarray of shape (n_samples,), dtype float64, optional
        The rows' weights (see :mod:`perceptron._kernels._loss`).

    Attributes
    ----------
    n_evaluations : int
        Times the loss was computed.
    score : float
        Fraction of the rows predicted right at the last point evaluated.
    """

    def __init__(self, network, X, T, alpha, sample_weight=None):
        self.network, self.X, self.T, self.alpha = network, X, T, float(alpha)
        self.sample_weight = sample_weight
        n = X.shape[0]
        block = network.predict_batch_size()
        rows = np.arange(n, dtype=np.intp)
        self._blocks = [rows[start:start + block] for start in range(0, n, block)]
        # the share of each block in the mean: its total weight over all of them
        weights = np.array([float(r.shape[0]) if sample_weight is None
                            else float(np.sum(sample_weight[r])) for r in self._blocks])
        self._total = float(np.sum(weights))
        self._shares = weights / self._total
        self._grad = np.empty(network.params.shape[0], dtype=np.float64)
        self.n_evaluations = 0
        self.score = math.nan

    @property
    def total_weight(self):
        """``sum(w)`` over the rows (``n`` without weights): the L2 term's divisor."""
        return self._total

    def __call__(self, theta):
        net, total = self.network, self._total
        net.params[...] = theta
        self._grad[...] = 0.0
        loss, correct = 0.0, 0
        for rows, share in zip(self._blocks, self._shares):
            block_loss, hits = net.train_batch(self.X, self.T, rows, 0.0,
                                               sample_weight=self.sample_weight)
            loss += block_loss * share
            correct += hits
            self._grad += net.grads * share
        if self.alpha:
            for sl in net.decay_slices:
                loss += 0.5 * self.alpha * float(np.dot(theta[sl], theta[sl])) / total
                self._grad[sl] += (self.alpha / total) * theta[sl]
        self.n_evaluations += 1
        self.score = correct / self.X.shape[0]
        if not math.isfinite(loss):  # scipy backs off a step whose loss is infinite
            return math.inf, np.zeros_like(self._grad)
        return loss, self._grad


def run_lbfgs(est, X, T, X_val, T_val, interrupt, sample_weight=None):
    """Train ``est._network`` with L-BFGS on ``(X, T)``; the counterpart of ``run_epochs``.

    Parameters
    ----------
    est : BaseDigitClassifier
        Initialised (network, histories).
    X, T, X_val, T_val
        As :func:`perceptron._training.run_epochs`.
    interrupt : perceptron._guard.DeferredInterrupt
        Read after each iteration: once raised, training stops there.
    sample_weight : ndarray of shape (n_samples,), optional
        The training samples' weights.

    Returns
    -------
    n_iter : int
        The iterations completed.
    """
    net = est._network
    objective = LossGradient(net, X, T, est.alpha, sample_weight)
    callbacks = CallbackRun(est, interrupt)
    progress = EpochProgress(est.verbose, 1, est.max_iter)  # a bar over the iterations
    start_history(est, validation=X_val is not None)
    callbacks.begin(incremental=False)
    est.n_iter_ = 0
    stopped = []  # why the iterations ended early: a callback, or Ctrl-C
    iteration = {"begun": False, "start": 0.0, "bar": None}

    def evaluate(theta):
        # an iteration begins with its first evaluation: the callbacks hear of it
        # then, so that every on_epoch_begin has its on_epoch_end
        if not iteration["begun"]:
            iteration["begun"], iteration["start"] = True, time.perf_counter()
            callbacks.epoch_begin(len(est.loss_curve_))
            iteration["bar"] = progress.start(len(est.loss_curve_) + 1)
        return objective(theta)

    def after_iteration(intermediate_result):
        net.params[...] = intermediate_result.x
        loss = float(intermediate_result.fun)
        progress.update(iteration["bar"], loss)
        logs = end_epoch(est, loss, objective.score, X_val, T_val, math.nan,
                         iteration["start"], objective.total_weight)
        iteration["begun"] = False
        progress.end(iteration["bar"], est, logs)
        if interrupt.raised:
            stopped.append("interrupt")
        elif callbacks.epoch_end(len(est.loss_curve_) - 1, logs):
            progress.message("A callback stopped training.")
            stopped.append("callback")
        if stopped or interrupt.raised:
            raise StopIteration

    if not interrupt.raised:
        try:
            result = minimize(evaluate, net.params.astype(np.float64), method="L-BFGS-B",
                              jac=True, callback=after_iteration,
                              options={"maxiter": est.max_iter, "maxfun": est.max_fun,
                                       "gtol": est.tol})
        finally:
            progress.close()  # before any warning, which would print on the bar's line
        if not (math.isfinite(result.fun) and np.isfinite(result.x).all()):
            raise ValueError("training diverged: the L-BFGS loss or parameters became "
                             "infinite or NaN; scale X, or raise alpha")
        net.params[...] = result.x
        est.loss_ = float(result.fun)
        if result.status not in (0, 99) and not stopped:  # 99: the callback stopped it
            warnings.warn(
                f"lbfgs failed to converge after {est.n_iter_} iteration(s) "
                f"(status={result.status}): {result.message}. Increase max_iter "
                f"(now {est.max_iter}) or max_fun (now {est.max_fun}), or scale X.",
                ConvergenceWarning, stacklevel=5)
    callbacks.end()
    if interrupt.raised and est.n_iter_:
        warnings.warn(f"fit interrupted (KeyboardInterrupt) after L-BFGS iteration "
                      f"{est.n_iter_}: training stopped there; the estimator can predict, "
                      "be saved or go on training", UserWarning, stacklevel=5)
    return est.n_iter_

"""Full-batch L-BFGS on the digits, ours against scikit-learn's (group ``lbfgs: fit (digits)``).

The bundled 8x8 digits (the project's fixed split: 1437 training, 360 test
images, in [0, 1]): a whole ``fit`` of a 64-100-10 ReLU MLP with
``solver="lbfgs"`` (alpha 1e-4, ``max_iter`` 200, ``tol`` 1e-4, max_fun
15000, random_state 0), scikit-learn's recommendation for small data sets,
by

* ``ours``: :class:`~perceptron.MLPDigitClassifier`, float32,
  ``n_threads=N``;
* ``ours-float64``: the same with ``dtype="float64"``, scikit-learn's
  precision;
* ``sklearn``: :class:`~sklearn.neural_network.MLPClassifier` on float64
  data, its BLAS limited to N threads with threadpoolctl.

Each round is a fresh estimator's whole ``fit`` (a fit is deterministic:
every round runs the same iterations), the contestants interleaved; the
records give the test accuracy, the L-BFGS iterations (``n_iter_``), the
final training loss and the dtype. The fits differ in their starting
weights (scikit-learn's biases start random, ours at zero), so their
iterations differ too: the time per iteration is recorded beside the fit's.

Quick mode (the default) and ``--full`` both use the whole digits set (it
is small); the rounds are the run's epochs (3 quick, 10 ``--full``,
``--epochs`` to change them).
"""

import contextlib
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

import harness as H

LIBRARIES = ("ours", "ours-float64", "sklearn")

PARAMS = dict(hidden_layer_sizes=(100,), solver="lbfgs", alpha=1e-4, max_iter=200, tol=1e-4,
              max_fun=15000, random_state=0)

WORK = ("the 8x8 digits (1437 training / 360 test images, in [0, 1]): one whole `fit` of a "
        "64-100-10 ReLU MLP with solver='lbfgs', alpha=1e-4, max_iter=200, tol=1e-4, "
        "random_state=0")


class LbfgsFit:
    """One contestant: a fresh estimator's ``fit`` per call (BLAS limited for scikit-learn)."""

    def __init__(self, library, threads, X, y):
        if library == "sklearn":
            from sklearn.neural_network import MLPClassifier

            self.template = MLPClassifier(**PARAMS)
            self.X = X.astype(np.float64)
        else:
            from perceptron import MLPDigitClassifier

            dtype = "float64" if library == "ours-float64" else "float32"
            self.template = MLPDigitClassifier(**PARAMS, dtype=dtype, n_threads=threads)
            self.X = X
        self.library, self.threads, self.y = library, threads, y
        self.clf = None

    def _limits(self):
        if self.library == "sklearn":
            return H._blas().limit(limits=self.threads, user_api="blas")
        return contextlib.nullcontext()

    def fit(self):
        self.clf = clone(self.template)
        with self._limits(), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.clf.fit(self.X, self.y)
        return float(self.clf.loss_)

    def accuracy(self, X, y):
        with self._limits():
            return float(self.clf.score(X, y))


@pytest.fixture(scope="module")
def fits(request, settings):
    """Every selected contestant's fits, in interleaved rounds."""
    from perceptron.datasets import load_digits

    X_train, y_train = load_digits(subset="train", return_X_y=True)
    X_test, y_test = load_digits(subset="test", return_X_y=True)
    runners = {key: LbfgsFit(*key, X_train, y_train) for key in H.selected(request)}
    seconds, loss = H.interleave({key: r.fit for key, r in runners.items()},
                                 dict.fromkeys(runners, settings.epochs))
    accuracy = {key: r.accuracy(X_test, y_test) for key, r in runners.items()}
    return seconds, loss, accuracy, runners, (len(y_train), len(y_test))


@pytest.mark.benchmark(timer=H.REPLAY)
def test_fit(benchmark, fits, library, threads):
    seconds, loss, accuracy, runners, (n_train, n_test) = fits
    key = (library, threads)
    if key not in runners:
        pytest.skip("not in this run")
    clf = runners[key].clf
    n_iter = int(clf.n_iter_)
    assert np.isfinite(loss[key]) and accuracy[key] > 0.9
    H.report(benchmark, "lbfgs: fit (digits)", seconds[key],
             library=library, threads=threads,
             dtype=str(clf.coefs_[0].dtype), test_accuracy=accuracy[key], n_iter=n_iter,
             time_per_iteration_seconds=float(np.median(seconds[key])) / max(n_iter, 1),
             final_loss=loss[key], n_train=n_train, n_test=n_test, work=WORK)

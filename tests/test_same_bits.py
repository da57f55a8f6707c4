"""The same model, bit for bit, whatever the number of threads.

A dense fit depends on its data, its parameters and ``random_state``, never
on ``n_threads``: the fused step cuts itself into parts chosen from the
shapes alone (``_kernels/_stack.pyx``), prediction goes by fixed blocks of
rows, and the losses are added in row order. So a fit on one thread (a
Dask or joblib worker) and a fit on every CPU (a serial search) agree.
Three threads are more than this machine may have: the count is allowed
here (the threads take turns). The estimators cut a step into as many parts
as the machine has CPUs (``_dense_stack.MOST_PARTS``, at most 8), and a
thread takes whole parts; one test forces four parts, so that three threads
share a step unevenly whatever the machine.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from perceptron import MLPDigitClassifier, PerceptronClassifier
from perceptron import _config
from perceptron._kernels import _stack

pytestmark = pytest.mark.skipif(not _config.openmp_enabled(),
                                reason="built without OpenMP: always one thread")

THREADS = (1, 2, 3)


@pytest.fixture(scope="module")
def data():
    """784 features, so that a batch of 512 rows through (100, 100) hidden
    units is worth sharing among threads."""
    rng = np.random.default_rng(0)
    X = rng.random((1200, 784), dtype=np.float32)
    y = rng.integers(0, 10, 1200)
    w = rng.random(1200) * 2
    assert _stack.stack_team(512, np.array([784, 100, 100, 10], dtype=np.intp), 3) == 2
    return X, y, w


def _fits(make, X, y, w, monkeypatch):
    """The model fitted on 1, 2 and 3 threads (the CPUs allowed are raised to 4)."""
    monkeypatch.setattr(_config, "available_cpus", lambda: 4)
    models = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for n_threads in THREADS:
            est = make().set_params(n_threads=n_threads).fit(X, y, sample_weight=w)
            assert est.n_threads_ == n_threads
            models.append(est)
    return models


def _assert_same(models, X):
    first = models[0]
    for other in models[1:]:
        for a, b in zip(first.coefs_ + first.intercepts_, other.coefs_ + other.intercepts_):
            np.testing.assert_array_equal(a, b)
        assert other.loss_curve_ == first.loss_curve_
        assert other.n_iter_ == first.n_iter_
        np.testing.assert_array_equal(other.predict_proba(X), first.predict_proba(X))


@pytest.mark.parametrize("solver", ["sgd", "adam", "rmsprop"])
def test_mlp_is_the_same_on_any_number_of_threads(data, solver, monkeypatch):
    """Dropout, sample weights, the L2 term and early stopping (its validation
    scores come from the predict path) included."""
    X, y, w = data

    def make():
        return MLPDigitClassifier((100, 100), solver=solver, batch_size=512, dropout=0.2,
                                  alpha=1e-3, max_iter=3, early_stopping=True,
                                  random_state=0)

    _assert_same(_fits(make, X, y, w, monkeypatch), X)


def test_mlp_on_four_parts_is_the_same_on_any_number_of_threads(data, monkeypatch):
    """Each step forced into four parts (the kernel takes up to eight), so
    that three threads share it: an uneven share, the same model."""
    X, y, w = data
    monkeypatch.setattr(_stack, "stack_parts", lambda m, widths, most: 4)
    monkeypatch.setattr(_stack, "stack_team", lambda m, widths, n_threads, most: min(n_threads, 4))

    def make():
        return MLPDigitClassifier((100, 100), batch_size=512, dropout=0.2, alpha=1e-3,
                                  max_iter=3, random_state=0)

    _assert_same(_fits(make, X, y, w, monkeypatch), X)


def test_mlp_lbfgs_is_the_same_on_any_number_of_threads(data, monkeypatch):
    """L-BFGS asks the fused step (without an optimizer) for the loss and
    gradient of all the 1200 rows at once."""
    X, y, w = data

    def make():
        return MLPDigitClassifier((100, 100), solver="lbfgs", alpha=1e-3, max_iter=5,
                                  random_state=0)

    _assert_same(_fits(make, X, y, w, monkeypatch), X)


@pytest.mark.parametrize("solver", ["sgd", "adam", "rmsprop", "lbfgs"])
def test_perceptron_is_the_same_on_any_number_of_threads(data, solver, monkeypatch):
    """One dense layer: batches of 128 rows (and L-BFGS's 1200 rows)."""
    X, y, w = data

    def make():
        return PerceptronClassifier(solver=solver, alpha=1e-3, max_iter=3, random_state=0)

    _assert_same(_fits(make, X, y, w, monkeypatch), X)

"""What a model holds in memory: its parameters, not the scratch of its last call.

Training keeps its buffers from one step to the next and releases them when
``fit`` ends (``partial_fit`` keeps them for its next call); a prediction
takes its buffers for the call, within ``PREDICT_SCRATCH_BYTES``, and
releases them on return. The tests count
the bytes of the arrays an estimator can reach (not the process's RSS), and
the peak of a prediction with tracemalloc, which NumPy reports its arrays to.
"""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from perceptron import ConvDigitClassifier, MLPDigitClassifier, PerceptronClassifier
from perceptron import _network
from perceptron.layers import Buffers


def held_bytes(obj):
    """Bytes of the distinct arrays reachable from ``obj`` (views counted once, by
    the array that owns their memory)."""
    owners, seen = {}, set()
    stack = [obj]
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        if isinstance(o, np.ndarray):
            base = o
            while isinstance(base.base, np.ndarray):
                base = base.base
            owners[id(base)] = base.nbytes
        elif isinstance(o, dict):
            stack.extend(o.values())
        elif isinstance(o, (list, tuple, set)):
            stack.extend(o)
        elif type(o).__module__.startswith("perceptron"):
            stack.extend(vars(o).values() if hasattr(o, "__dict__") else ())
            stack.extend(getattr(o, s) for s in getattr(type(o), "__slots__", ())
                         if hasattr(o, s))
    return sum(owners.values())


def images(n, seed=0, side=28):
    rng = np.random.default_rng(seed)
    return rng.random((n, side * side), dtype=np.float32), rng.integers(0, 10, n)


def fitted(est, n=256):
    X, y = images(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


ESTIMATORS = {
    "cnn": lambda: ConvDigitClassifier(max_iter=1, random_state=0),  # Winograd and im2col
    "mlp": lambda: MLPDigitClassifier(hidden_layer_sizes=(64,), dropout=0.2, max_iter=1,
                                      random_state=0),
    "perceptron": lambda: PerceptronClassifier(max_iter=1, random_state=0),
}


def model_bytes(est):
    """The parameters, their gradients and the optimizer's state vectors."""
    net = est._network
    return net.params.nbytes + net.grads.nbytes + sum(
        v.nbytes for v in est._optimizer.state().values() if isinstance(v, np.ndarray))


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_fit_releases_the_training_scratch(name):
    est = fitted(ESTIMATORS[name]())
    assert held_bytes(est) <= model_bytes(est) + 2**16


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_partial_fit_keeps_one_batch_of_scratch_for_the_next_call(name):
    est = fitted(ESTIMATORS[name]())
    X, y = images(300, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.partial_fit(X, y)
        kept = held_bytes(est)
        before = est._network.params.copy()
        est.partial_fit(X, y)  # the kept buffers serve the next call
        assert held_bytes(est) == kept
        assert not np.array_equal(before, est._network.params)
        est.set_params(warm_start=True).fit(X, y)  # a fit ends by releasing them
    assert held_bytes(est) <= model_bytes(est) + 2**16
    if name == "cnn":  # one batch of 128 28x28 images through the default CNN
        assert kept > model_bytes(est) + 32 * 2**20


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_predicting_leaves_nothing_behind(name):
    est = fitted(ESTIMATORS[name]())
    held = held_bytes(est)
    X, y = images(1500, seed=2)
    est.predict_proba(X)
    est.predict(X[:1024])
    est.score(X, y)
    if name == "cnn":
        est.feature_maps(X[:50], 1)
    else:
        est.predict_proba(sp.csr_matrix(X))
    assert held_bytes(est) == held


def scratch_peak(call):
    """Bytes allocated by ``call()`` at its peak, beyond what it returns."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        result = call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - base - result.nbytes


@pytest.mark.parametrize("budget_mib", [8, 32])
def test_a_prediction_keeps_within_the_scratch_budget(monkeypatch, budget_mib):
    """The default CNN (im2col, Winograd, pooling) on 28x28 images: each batch's
    buffers, for all the layers, and the Winograd workspace fit the budget."""
    budget = budget_mib * 2**20
    monkeypatch.setattr(_network, "PREDICT_SCRATCH_BYTES", budget)
    est = fitted(ESTIMATORS["cnn"]())
    net = est._network
    rows = net.predict_batch_size()
    X, _ = images(3 * rows + 7, seed=3)  # full batches and a short one
    peak = scratch_peak(lambda: est.predict_proba(X))
    # every layer's buffers of one batch are held at once, and nothing beyond the budget
    per_row = sum(layer.scratch_per_sample() for layer in net.layers) * X.itemsize
    assert rows * per_row <= peak <= budget
    assert scratch_peak(lambda: net.feature_maps(X.reshape(-1, 28, 28, 1), 4)) <= budget


def test_mlp_prediction_scratch_does_not_grow_with_the_rows():
    est = fitted(ESTIMATORS["mlp"]())
    X = images(20000)[0]
    small = scratch_peak(lambda: est.predict_proba(X[:100]))
    large = scratch_peak(lambda: est.predict_proba(X))
    assert large <= max(small, 2**20) and large <= _network.PREDICT_SCRATCH_BYTES


def test_the_batch_size_honours_the_budget_without_a_floor(monkeypatch):
    est = fitted(ESTIMATORS["cnn"]())
    net = est._network
    per_row = sum(layer.scratch_per_sample() for layer in net.layers) * 4
    per_call = max(layer.scratch_per_call() for layer in net.layers) * 4
    monkeypatch.setattr(_network, "PREDICT_SCRATCH_BYTES", per_call + 10 * per_row)
    assert net.predict_batch_size() == 10
    monkeypatch.setattr(_network, "PREDICT_SCRATCH_BYTES", 0)
    assert net.predict_batch_size() == 1  # at least one row
    monkeypatch.setattr(_network, "PREDICT_SCRATCH_BYTES", 2**40)
    assert net.predict_batch_size() == _network.MAX_PREDICT_ROWS


def test_buffers_reuse_the_largest_array_for_smaller_batches():
    buffers = Buffers()
    full = buffers.get("out", (8, 3), np.float32)
    assert np.shares_memory(buffers.get("out", (5, 3), np.float32), full)
    assert buffers.get("out", (5, 3), np.float32).flags.c_contiguous
    assert not np.shares_memory(buffers.get("out", (8, 3), np.float64), full)  # dtype
    wider = buffers.get("out", (4, 6), np.float64)  # another row shape: replaced
    assert buffers.get("out", (16, 6), np.float64).shape == (16, 6)
    assert not np.shares_memory(buffers.get("out", (16, 6), np.float64), wider)
    assert len(buffers) == 1 and buffers.nbytes == 16 * 6 * 8

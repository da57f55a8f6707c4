"""Several Python threads predicting with one fitted model at once.

A prediction writes only into buffers of its own call (see
``perceptron._network.Network.decision_function``), so concurrent calls
give what the same calls give one after the other, bit for bit; and the
process-wide BLAS limit the kernels need holds until the last call ends,
then gives BLAS back what it had.
"""

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_info

from perceptron import ConvDigitClassifier, MLPDigitClassifier, PerceptronClassifier
from perceptron import _network
from perceptron._config import _and_hand_back, _blas_controller, kernel_threads

ESTIMATORS = {
    "cnn": lambda: ConvDigitClassifier(conv_layers=((8, 3), (16, 3)), dense_layers=(32,),
                                       max_iter=1, random_state=0),
    "mlp": lambda: MLPDigitClassifier(hidden_layer_sizes=(64, 32), max_iter=1,
                                      random_state=0),
    "perceptron": lambda: PerceptronClassifier(max_iter=1, random_state=0),
}


def fitted(name):
    rng = np.random.default_rng(0)
    X, y = rng.random((300, 196), dtype=np.float32), rng.integers(0, 10, 300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return ESTIMATORS[name]().fit(X, y)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_concurrent_predictions_equal_serial_ones(monkeypatch, name):
    # small batches: each call runs many, and the threads' batches interleave
    monkeypatch.setattr(_network, "PREDICT_SCRATCH_BYTES", 2**18)
    est = fitted(name)
    rng = np.random.default_rng(1)
    inputs = [rng.random((int(rng.integers(200, 800)), 196), dtype=np.float32)
              for _ in range(12)]
    serial = [est.predict_proba(X) for X in inputs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            concurrent = list(pool.map(est.predict_proba, inputs))
            for got, expected in zip(concurrent, serial):
                np.testing.assert_array_equal(got, expected)
        labels = list(pool.map(est.predict, inputs))
    for got, X in zip(labels, inputs):
        np.testing.assert_array_equal(got, est.predict(X))


def test_concurrent_feature_maps_equal_serial_ones():
    est = fitted("cnn")
    rng = np.random.default_rng(2)
    inputs = [rng.random((50 + 10 * i, 196), dtype=np.float32) for i in range(8)]
    serial = [est.feature_maps(X, layer=1) for X in inputs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(lambda X: est.feature_maps(X, layer=1), inputs))
    for got, expected in zip(concurrent, serial):
        np.testing.assert_array_equal(got, expected)


def _blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_overlapping_kernel_calls_keep_blas_limited_until_the_last_one_ends():
    """Call A begins, call B begins, A ends while B runs, then B ends (two threads)."""
    if not _blas_threads():
        pytest.skip("no BLAS seen by threadpoolctl")
    steps = {name: threading.Event() for name in ("a_in", "b_in", "a_out", "b_out")}
    seen = {}

    def call_a():
        with kernel_threads(1):
            steps["a_in"].set()
            assert steps["b_in"].wait(30)
        steps["a_out"].set()

    def call_b():
        assert steps["a_in"].wait(30)
        with kernel_threads(1):
            steps["b_in"].set()
            assert steps["a_out"].wait(30)
            seen["b after a ended"] = _blas_threads()

    # two BLAS threads outside the calls, set so that any thread may change them
    # again (a `with threadpool_limits` here would keep that to this thread)
    before = _and_hand_back(lambda: _blas_controller().limit(limits=2))
    try:
        outside = _blas_threads()
        with ThreadPoolExecutor(max_workers=2) as pool:
            for job in [pool.submit(call_a), pool.submit(call_b)]:
                job.result(timeout=60)
        assert set(seen["b after a ended"]) == {1}
        assert _blas_threads() == outside == [2] * len(outside)
    finally:
        _and_hand_back(before.restore_original_limits)

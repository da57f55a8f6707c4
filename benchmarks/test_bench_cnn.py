"""pytest-benchmark: small CNN benchmarks (perceptron ConvDigitClassifier vs PyTorch).

Run with ``pytest benchmarks/test_bench_cnn.py --benchmark-only`` (about two
minutes on 2 idle cores). Not part of the normal ``pytest`` run: the
project's ``testpaths`` is ``tests``.

Same network and training as ``bench_cnn.py`` (the Keras tutorial CNN,
RMSprop lr 1e-3, batch 128, float32), on a 10,000-sample subset of
Fashion-MNIST:

- ``test_epoch[...]`` (group ``cnn-epoch-10k``): one training epoch, after one
  untimed warm-up epoch, 2 rounds; ours and torch on ``--bench-threads``
  threads (default 2), plus both on 1 thread.
- ``test_predict_proba[...]`` (group ``cnn-predict_proba-10k``):
  ``predict_proba`` on the 10,000 test images of a model trained for one epoch.

pytest-benchmark runs each case on its own (not interleaved), so on a shared
machine compare cases from the same run only, and prefer ``bench_cnn.py`` for
the headline ratios.
"""

import numpy as np
import pytest

import _common as C
from bench_cnn import Ours, Torch

EPOCH_CASES = ["ours", "torch", "ours-1thread", "torch-1thread"]
PREDICT_CASES = ["ours", "torch"]


def make_contestant(case, request, threads, X_train, y_train):
    n = 1 if case.endswith("-1thread") else threads
    if case.startswith("ours"):
        return Ours(request.getfixturevalue("perceptron"), n, seed=0)
    torch = request.getfixturevalue("torch")  # skips when PyTorch is missing
    return Torch(torch, n, 0, X_train, y_train)


@pytest.mark.benchmark(group="cnn-epoch-10k")
@pytest.mark.parametrize("case", EPOCH_CASES)
def test_epoch(benchmark, request, case, bench_threads, fashion_10k):
    X_train, _, y_train, _ = fashion_10k
    contestant = make_contestant(case, request, bench_threads, X_train, y_train)
    contestant.epoch(X_train, y_train)  # warm-up: the first call also builds the model
    C.record_contestant(benchmark, contestant)
    loss = benchmark.pedantic(contestant.epoch, args=(X_train, y_train), rounds=2, iterations=1)
    assert np.isfinite(loss) and loss < 1.5


@pytest.mark.benchmark(group="cnn-predict_proba-10k")
@pytest.mark.parametrize("case", PREDICT_CASES)
def test_predict_proba(benchmark, request, case, bench_threads, fashion_10k):
    X_train, X_test, y_train, y_test = fashion_10k
    contestant = make_contestant(case, request, bench_threads, X_train, y_train)
    contestant.epoch(X_train, y_train)
    contestant.predict_proba(X_test)  # warm-up
    C.record_contestant(benchmark, contestant)
    proba = benchmark(contestant.predict_proba, X_test)
    assert proba.shape == (X_test.shape[0], 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-4)
    assert np.mean(proba.argmax(axis=1) == y_test) > 0.6

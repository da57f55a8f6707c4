"""Fixtures for the pytest-benchmark files in ``benchmarks/`` (``test_bench_*.py``).

These benchmarks are collected only when ``benchmarks/`` is named on the
command line (the project's ``testpaths`` is ``tests``), e.g.::

    pytest benchmarks/ --benchmark-only
    pytest benchmarks/ --benchmark-only --bench-threads 1
    pytest benchmarks/ --benchmark-disable     # run each once, as smoke tests

Fixtures (session-scoped, usable by any ``test_bench_*.py``):

``bench_threads``
    Thread count for the "N threads" benchmarks: ``--bench-threads`` (default
    2), capped at the CPU count.
``fashion_10k``
    ``(X_train, X_test, y_train, y_test)``: a fixed random 10,000-sample
    subset of Fashion-MNIST's training set and the full 10,000-image test
    set; float32 C-contiguous flattened images in [0, 1], int64 labels.
``torch``
    The ``torch`` module; skips the test when PyTorch is not installed.
``perceptron``
    The ``perceptron`` package, imported with retries (the kernels may be
    being rebuilt by someone else).
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--bench-threads", type=int, default=2,
                     help="threads for the N-thread benchmarks in benchmarks/ (default 2)")


@pytest.fixture(scope="session")
def bench_threads(request):
    return C.clamp_threads(request.config.getoption("--bench-threads"))


@pytest.fixture(scope="session")
def perceptron():
    return C.import_perceptron()


@pytest.fixture(scope="session")
def fashion_10k(perceptron):
    return C.load_data("fashion-mnist", n_train=10_000, seed=0)


@pytest.fixture(scope="session")
def torch():
    module, why = C.optional_torch()
    if module is None:
        pytest.skip(why)
    return module

"""pytest configuration of the benchmarks: options, the run's settings and data, the machine.

A test taking ``library, threads`` gets one case per library of its module's ``LIBRARIES``
at each thread count (``--threads`` N, then 1 for the scaling). Tests marked ``accuracy``
are skipped unless selected with ``-m accuracy``.
"""

import contextlib
import os
import shlex
from importlib import metadata
from types import SimpleNamespace

import pytest

import harness as H


def pytest_addoption(parser):
    group = parser.getgroup("perceptron benchmarks")
    group.addoption("--full", action="store_true", help="the full comparisons (see README.md)")
    group.addoption("--epochs", type=int, help="training epochs (rounds) per contestant")
    group.addoption("--threads", type=int, default=2,
                    help="threads of the comparisons (default 2, at most the CPU count)")
    group.addoption("--cnn-padding", choices=("same", "valid"), default="same",
                    help="padding of the CNN's convolutions (default same, the estimator's)")


def pytest_configure(config):
    config.addinivalue_line("markers", "accuracy: trains on a whole data set (slow); skipped "
                                       "unless selected with -m accuracy")
    config.addinivalue_line("filterwarnings",
                            "ignore::sklearn.exceptions.ConvergenceWarning")


def pytest_collection_modifyitems(config, items):
    if "accuracy" not in config.getoption("markexpr", ""):
        for item in items:
            if "accuracy" in item.keywords:
                item.add_marker(pytest.mark.skip(reason="slow: select it with -m accuracy"))


def thread_counts(config):
    n = max(1, min(config.getoption("--threads"), os.cpu_count() or 1))
    return (n, 1) if n > 1 else (1,)


def pytest_generate_tests(metafunc):
    if {"library", "threads"} <= set(metafunc.fixturenames):
        cases = [(lib, n) for n in thread_counts(metafunc.config)
                 for lib in metafunc.module.LIBRARIES]
        metafunc.parametrize("library,threads", cases,
                             ids=[f"{lib}-{n}thread{'s' * (n > 1)}" for lib, n in cases])


@pytest.fixture(scope="session")
def settings(pytestconfig):
    full, epochs = pytestconfig.getoption("--full"), pytestconfig.getoption("--epochs")
    return SimpleNamespace(full=full, threads=thread_counts(pytestconfig),
                           epochs=epochs or (10 if full else 3), predict_rounds=7 if full else 3,
                           padding=pytestconfig.getoption("--cnn-padding"))


@pytest.fixture(scope="session")
def data(settings):
    """Fashion-MNIST: the whole splits (--full) or seeded subsets of 10000 and 2000 images."""
    return H.load_data("fashion-mnist", *((None, None) if settings.full else (10_000, 2_000)))


def pytest_benchmark_update_machine_info(config, machine_info):
    """Record the CPU count, versions, threading variables, the command and the load average
    at the end of the run (other programs' load: a busy machine makes noisy numbers)."""
    versions = {}
    for name in ("perceptron", "numpy", "scipy", "scikit-learn", "torch", "threadpoolctl",
                 "Pillow", "starlette", "uvicorn", "dask"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    machine_info.update(
        cpu_count=os.cpu_count(), versions=versions,
        thread_env={k: v for k, v in os.environ.items()
                    if k.startswith(("OMP_", "GOMP_", "OPENBLAS_", "MKL_"))},
        command="python -m pytest " + shlex.join(config.invocation_params.args),
        load_average=[round(x, 2) for x in os.getloadavg()])

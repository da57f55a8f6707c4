"""pytest configuration of the benchmarks: options, settings and data, the machine record.

The comparison tests take ``library, threads`` arguments: :func:`pytest_generate_tests`
makes one case per library of the module's ``LIBRARIES`` at each thread count
(``--threads`` N, then 1 for the scaling rows). Tests marked ``accuracy`` are
skipped unless selected with ``-m accuracy``.
"""

import os
import shlex

import pytest

import harness as H


def pytest_addoption(parser):
    group = parser.getgroup("perceptron benchmarks")
    group.addoption("--full", action="store_true",
                    help="the full comparison: all 60000 training and 10000 test images, 10 "
                         "epochs, 7 predict rounds (default, quick: 10000 and 2000 images, 3 "
                         "epochs, 3 rounds)")
    group.addoption("--epochs", type=int, default=None,
                    help="training epochs (interleaved rounds) per contestant")
    group.addoption("--threads", type=int, default=2,
                    help="threads of the comparison (default 2, capped at the CPU count); "
                         "above 1, every contestant also runs on 1 thread")
    group.addoption("--cnn-padding", choices=("same", "valid"), default="same",
                    help="padding of the CNN's convolutions (default same, the estimator's)")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "accuracy: trains a documented configuration on its full data set (slow); "
                   "skipped unless selected with -m accuracy")


def pytest_collection_modifyitems(config, items):
    if "accuracy" in config.getoption("markexpr", ""):
        return
    skip = pytest.mark.skip(reason="slow: select the accuracy group with -m accuracy")
    for item in items:
        if "accuracy" in item.keywords:
            item.add_marker(skip)


def thread_counts(config):
    n = max(1, min(config.getoption("--threads"), os.cpu_count() or 1))
    return (n, 1) if n > 1 else (1,)


def pytest_generate_tests(metafunc):
    if {"library", "threads"} <= set(metafunc.fixturenames):
        libraries = metafunc.module.LIBRARIES
        cases = [(lib, n) for n in thread_counts(metafunc.config) for lib in libraries]
        metafunc.parametrize("library,threads", cases,
                             ids=[f"{lib}-{n}thread{'s' * (n > 1)}" for lib, n in cases])


@pytest.fixture(scope="session")
def settings(pytestconfig):
    full, epochs = pytestconfig.getoption("--full"), pytestconfig.getoption("--epochs")
    return H.Settings(threads=thread_counts(pytestconfig), epochs=epochs or (10 if full else 3),
                      n_train=None if full else 10_000, n_test=None if full else 2_000,
                      predict_rounds=7 if full else 3,
                      padding=pytestconfig.getoption("--cnn-padding"))


@pytest.fixture(scope="session")
def data(settings):
    """Fashion-MNIST: all images (--full) or fixed random subsets (10000 training, 2000 test)."""
    return H.load_data("fashion-mnist", settings.n_train, settings.n_test)


def pytest_benchmark_update_machine_info(config, machine_info):
    """Record the CPU, versions, threading variables and the command with every result."""
    machine_info.update(H.machine())
    machine_info["command"] = "python -m pytest " + shlex.join(config.invocation_params.args)

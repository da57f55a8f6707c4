"""Hyper-parameter search on a real ``dask.distributed`` cluster.

One ``LocalCluster`` of two single-thread worker processes, bound to
127.0.0.1 without a dashboard, started once for the module and closed by it;
every step is bounded in time (:func:`_deadline`). The grid is tiny (300
digits, a few epochs) so that the module takes seconds.
"""

import contextlib
import itertools
import logging
import os
import signal
import threading
import time
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from perceptron import MLPDigitClassifier
from perceptron._config import available_cpus, effective_n_threads, openmp_enabled
from perceptron.datasets import load_digits

distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")

#: seconds any one step (starting the cluster, one search) may take
TIMEOUT = 120
#: units large enough that a serial fit's steps are shared by its threads
GRID = {"hidden_layer_sizes": [(32,), (64,)], "learning_rate_init": [1e-3, 3e-3]}


@contextlib.contextmanager
def _deadline(seconds, what):
    """Raise TimeoutError in the main thread if the block outlasts ``seconds``."""
    def expire(signum, frame):
        raise TimeoutError(f"{what} took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def client():
    """A client of ``LocalCluster(processes=True, n_workers=2, threads_per_worker=1)``."""
    # starting worker processes sets OMP_NUM_THREADS & co. in this process's
    # environment (Dask's nanny does it for its children and leaves it): put
    # it back afterwards, for the tests that start processes of their own
    environ = dict(os.environ)
    try:
        with _deadline(TIMEOUT, "starting the LocalCluster"):
            cluster = distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, silence_logs=logging.ERROR,
                # the scheduler's HTTP endpoints (health, metrics) on a free port
                # of 127.0.0.1, not on 8787, which another program may hold
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
            client = distributed.Client(cluster, timeout=TIMEOUT)
        try:
            yield client
        finally:
            with _deadline(TIMEOUT, "closing the LocalCluster"):
                client.close()
                cluster.close()
    finally:
        os.environ.clear()
        os.environ.update(environ)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300], y[:300]


def _search(X, y, n_threads=None, **kw):
    """The grid, with the threads each fit used as a third score."""
    estimator = MLPDigitClassifier(max_iter=8, random_state=0, n_threads=n_threads)
    kw.setdefault("cv", 3)
    search = GridSearchCV(estimator, GRID, refit="accuracy",
                          scoring={"accuracy": "accuracy", "log_loss": "neg_log_loss",
                                   "threads": lambda est, X, y: est.n_threads_}, **kw)
    with warnings.catch_warnings(), _deadline(TIMEOUT, "the search"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        return search.fit(X, y)


def _scores(search):
    """Every fold's test scores of every candidate, in a fixed order: the
    accuracy, and the log loss, which any change in the model's last bits
    changes."""
    return np.array([[search.cv_results_[f"split{i}_test_{score}"] for i in range(3)]
                     for score in ("accuracy", "log_loss")])


def _threads(search):
    return set(search.cv_results_["mean_test_threads"])


def test_same_scores_serial_loky_and_dask(client, digits):
    """Bit for bit, each search with the default ``n_threads``.

    A Dask worker of one thread gives each fit one thread, a loky worker of
    ``n_jobs=2`` half the CPUs, a serial search every CPU: the fits differ
    in their threads only, and the MLP's training step gives the same bits
    on any number of them (its parts depend on the shapes alone).
    """
    X, y = digits
    with joblib.parallel_backend("dask"):
        on_dask = _search(X, y)
    assert _threads(on_dask) == {1}
    loky = _search(X, y, n_jobs=2)
    assert _threads(loky) == {max(1, available_cpus() // 2) if openmp_enabled() else 1}
    serial = _search(X, y, n_jobs=1)
    assert _threads(serial) == {effective_n_threads(None)}

    np.testing.assert_array_equal(_scores(on_dask), _scores(serial))
    np.testing.assert_array_equal(_scores(loky), _scores(serial))
    assert on_dask.best_params_ == serial.best_params_


def test_search_survives_a_killed_worker(client, digits):
    """SIGKILL one worker process while it holds a fit: the scheduler hands
    its tasks to the other worker (and the nanny starts a new one), and the
    search ends with the same scores.

    The search's data goes to every worker first, as the user guide says:
    ``X``, ``y`` and the folds' indices (``scatter=``, with ``cv=`` the same
    list of folds). joblib would otherwise send each large argument to one
    worker, and data sent by the client dies with the worker that holds it:
    Dask cannot recompute it, so the search would fail.
    """
    X, y = digits
    folds = list(StratifiedKFold(3).split(X, y))
    reference = _search(X, y, cv=folds)
    pids = client.run(os.getpid)  # worker address -> pid
    killed = []

    def kill_a_busy_worker():
        stop = time.monotonic() + TIMEOUT
        while not killed and time.monotonic() < stop:
            busy = [addr for addr, keys in client.processing().items() if keys]
            if busy and busy[0] in pids:
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(pids[busy[0]])
            time.sleep(0.01)

    killer = threading.Thread(target=kill_a_busy_worker, daemon=True)
    killer.start()
    with joblib.parallel_backend("dask", scatter=[X, y, *itertools.chain(*folds)]):
        search = _search(X, y, cv=folds)
    killer.join(TIMEOUT)
    assert killed, "no worker was busy during the search"
    np.testing.assert_array_equal(_scores(search), _scores(reference))
    with _deadline(TIMEOUT, "the replacement worker"):
        client.wait_for_workers(2, timeout=TIMEOUT)
    assert killed[0] not in client.run(os.getpid).values()

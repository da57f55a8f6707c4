"""Grid search on one machine and on a Dask cluster (group ``dask: grid search``).

A grid of 8 candidates x 3 folds of :class:`~perceptron.MLPDigitClassifier`
on 20000 Fashion-MNIST images (``--full``; quick: 3000 images, 1 epoch per
fit), searched five ways, in interleaved rounds:

- ``serial``: ``n_jobs=1``, one fit after another, each on the thread budget
  of the process (every CPU);
- ``serial-1thread``: the same with ``n_threads=1``;
- ``loky-2jobs``: ``n_jobs=2``, joblib's worker processes (each fit
  ``cpus // 2`` threads);
- ``dask-2x1``: a ``LocalCluster`` of 2 worker processes x 1 thread;
- ``dask-1x2``: a ``LocalCluster`` of 1 worker process x 2 threads (two fits
  at once in one process, one thread each).

The clusters are started once, before the rounds, and every contestant runs
one untimed search first (worker start-up, imports). Each round is one whole
``search.fit``; the data go to the Dask workers by ``scatter`` in each round,
as the user guide does it. Each record holds the threads each fit used, the
best score, and the speed-up over ``serial``; contestants whose fits used the
same thread count must find the same scores, bit for bit.
"""

import contextlib
import itertools
import logging
import os
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold

import harness as H
from perceptron import MLPDigitClassifier

distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")

CASES = ("serial", "serial-1thread", "loky-2jobs", "dask-2x1", "dask-1x2")
GRID = {"hidden_layer_sizes": [(64,), (128,), (256,), (128, 64)], "alpha": [1e-4, 1e-3]}
#: the clusters of the Dask cases: (workers, threads per worker)
CLUSTERS = {"dask-2x1": (2, 1), "dask-1x2": (1, 2)}
pytestmark = pytest.mark.benchmark(timer=H.REPLAY)


def _search(X, y, folds, case, clients, grid=GRID, epochs=1):
    """One whole grid search the way ``case`` runs it; returns ``cv_results_``."""
    estimator = MLPDigitClassifier(max_iter=epochs, random_state=0,
                                   n_threads=1 if case == "serial-1thread" else None)
    search = GridSearchCV(estimator, grid, cv=folds, refit=False,
                          n_jobs=2 if case == "loky-2jobs" else 1,
                          scoring={"accuracy": "accuracy",
                                   "threads": lambda est, X, y: est.n_threads_})
    backend = contextlib.nullcontext()  # n_jobs decides: serial, or joblib's loky processes
    if case in CLUSTERS:
        backend = joblib.parallel_backend("dask", client=clients[case],
                                          scatter=[X, y, *itertools.chain(*folds)])
    with warnings.catch_warnings(), backend:
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    return search.cv_results_


@pytest.fixture(scope="module")
def race(request):
    full = request.config.getoption("--full")
    n_images, epochs, rounds = (20_000, 5, 3) if full else (3_000, 1, 2)
    X, _, y, _ = H.load_data("fashion-mnist", n_train=n_images, n_test=1000)
    folds = list(StratifiedKFold(n_splits=3, shuffle=True, random_state=0).split(X, y))
    environ = dict(os.environ)  # Dask's nanny sets OMP_NUM_THREADS & co. here for its workers
    clusters, clients = {}, {}
    try:
        for case, (workers, threads) in CLUSTERS.items():
            clusters[case] = distributed.LocalCluster(
                n_workers=workers, threads_per_worker=threads, processes=True,
                host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR,
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})  # no port 8787
            clients[case] = distributed.Client(clusters[case], set_as_default=False)
        os.environ.clear()
        os.environ.update(environ)
        warm = {"hidden_layer_sizes": [(8,)]}
        for case in CASES:  # start-up and imports, untimed
            _search(X[:600], y[:600], list(StratifiedKFold(3).split(X[:600], y[:600])), case,
                    clients, grid=warm)
        steps = {case: (lambda case=case: _search(X, y, folds, case, clients, epochs=epochs))
                 for case in CASES}
        seconds, results = H.interleave(steps, dict.fromkeys(CASES, rounds))
    finally:
        for client in clients.values():
            client.close()
        for cluster in clusters.values():
            cluster.close()
        os.environ.clear()
        os.environ.update(environ)
    return seconds, results, {"n_images": len(y), "epochs_per_fit": epochs,
                              "fits": 3 * len(list(itertools.product(*GRID.values())))}


@pytest.mark.parametrize("case", CASES)
def test_grid_search(benchmark, race, case):
    seconds, results, info = race
    threads = sorted(set(results[case]["mean_test_threads"].astype(int)))
    for other in CASES:  # same threads per fit, same scores
        if sorted(set(results[other]["mean_test_threads"].astype(int))) == threads:
            for i in range(3):
                np.testing.assert_array_equal(results[case][f"split{i}_test_accuracy"],
                                              results[other][f"split{i}_test_accuracy"])
    speedup = np.median(seconds["serial"]) / np.median(seconds[case])
    H.report(benchmark, "dask: grid search", seconds[case],
             threads_per_fit=",".join(map(str, threads)),
             best_score=float(results[case]["mean_test_accuracy"].max()),
             speedup_vs_serial=float(speedup), **info)

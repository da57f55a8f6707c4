"""Grid search on one machine and on a Dask cluster (group ``dask: grid search``).

8 candidates x 3 folds of MLPDigitClassifier on 20000 Fashion-MNIST images, 5 epochs per fit
(quick: 3000 images, 1 epoch), searched five ways in interleaved rounds: ``serial`` (each fit on
every CPU), ``serial-1thread``, ``loky-2jobs`` (joblib's processes), ``dask-2x1`` and
``dask-1x2`` (a LocalCluster of 2 processes x 1 thread, of 1 process x 2 threads; started
before the rounds, the data scattered in each). Every case runs one untimed small search first.
Cases whose fits used the same threads must find the same scores, bit for bit::

    python -m pytest benchmarks/test_bench_dask.py --full --benchmark-json=dask.json
"""

import contextlib
import itertools
import logging
import os

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold

import harness as H
from perceptron import MLPDigitClassifier

distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")

CASES = ("serial", "serial-1thread", "loky-2jobs", "dask-2x1", "dask-1x2")
GRID = {"hidden_layer_sizes": [(64,), (128,), (256,), (128, 64)], "alpha": [1e-4, 1e-3]}
CLUSTERS = {"dask-2x1": (2, 1), "dask-1x2": (1, 2)}  # workers, threads per worker


def search(X, y, folds, case, clients, grid=GRID, epochs=1):
    """One whole grid search the way ``case`` runs it; returns ``cv_results_``."""
    estimator = MLPDigitClassifier(max_iter=epochs, random_state=0,
                                   n_threads=1 if case == "serial-1thread" else None)
    gs = GridSearchCV(estimator, grid, cv=folds, refit=False, n_jobs=2 if "loky" in case else 1,
                      scoring={"accuracy": "accuracy", "threads": lambda e, X, y: e.n_threads_})
    backend = contextlib.nullcontext() if case not in CLUSTERS else joblib.parallel_backend(
        "dask", client=clients[case], scatter=[X, y, *itertools.chain(*folds)])
    with backend:
        return gs.fit(X, y).cv_results_


@pytest.fixture(scope="module")
def race(settings):
    n_images, epochs, rounds = (20_000, 5, 3) if settings.full else (3_000, 1, 2)
    X, _, y, _ = H.load_data("fashion-mnist", n_train=n_images, n_test=1000)
    folds = list(StratifiedKFold(n_splits=3, shuffle=True, random_state=0).split(X, y))
    environ, clients = dict(os.environ), {}  # Dask's nanny sets OMP_NUM_THREADS & co. here

    def restore():
        os.environ.clear()
        os.environ.update(environ)

    with contextlib.ExitStack() as stack:
        stack.callback(restore)
        for case, (workers, threads) in CLUSTERS.items():
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=workers, threads_per_worker=threads, processes=True, host="127.0.0.1",
                dashboard_address=None, silence_logs=logging.ERROR,
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}))  # not port 8787
            clients[case] = stack.enter_context(distributed.Client(cluster,
                                                                   set_as_default=False))
        restore()
        # the data stay scattered between the rounds: when a round's copy was released as the
        # next round scattered the same data (same keys), its tasks could lose their inputs
        held = [clients[case].scatter([X, y, *itertools.chain(*folds)], broadcast=True)
                for case in CLUSTERS]
        small = list(StratifiedKFold(3).split(X[:600], y[:600]))
        for case in CASES:  # start-up and imports, untimed
            search(X[:600], y[:600], small, case, clients, grid={"hidden_layer_sizes": [(8,)]})
        seconds, results = H.interleave({case: (lambda case=case: search(
            X, y, folds, case, clients, epochs=epochs)) for case in CASES}, rounds)
        del held
    return seconds, results, {"n_images": len(y), "epochs_per_fit": epochs,
                              "fits": 3 * len(list(itertools.product(*GRID.values())))}


@pytest.mark.benchmark(timer=H.REPLAY)
@pytest.mark.parametrize("case", CASES)
def test_grid_search(benchmark, race, case):
    seconds, results, info = race
    threads = sorted(set(results[case]["mean_test_threads"].astype(int)))
    for other in CASES:  # same threads per fit, same scores
        if sorted(set(results[other]["mean_test_threads"].astype(int))) == threads:
            for i in range(3):
                np.testing.assert_array_equal(results[case][f"split{i}_test_accuracy"],
                                              results[other][f"split{i}_test_accuracy"])
    H.report(benchmark, "dask: grid search", seconds[case],
             threads_per_fit=",".join(map(str, threads)),
             best_score=float(results[case]["mean_test_accuracy"].max()),
             speedup_vs_serial=float(np.median(seconds["serial"]) / np.median(seconds[case])),
             **info)

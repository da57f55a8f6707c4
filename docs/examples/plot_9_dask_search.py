"""
===========================================
9. Grid search on a Dask cluster
===========================================

A hyper-parameter search is many independent fits: here 4 candidates times 3
folds. scikit-learn runs them through joblib, and joblib can send them to a
`dask.distributed <https://distributed.dask.org>`_ cluster, which may be
this machine or a hundred. The search code stays the same; it only runs
inside ``joblib.parallel_backend("dask")``. Needs ``pip install
"perceptron[dask]"``. The :ref:`user guide <dask>` explains the choices made
here.
"""

# %%
# A cluster on this machine
# -------------------------
# Two workers of one thread each: each fit runs on the kernels' OpenMP
# threads, and a grid search is fastest with one thread per fit and as many
# fits at once as there are cores. Here the workers live in this process
# (``processes=False``): nothing listens on the network, and the script runs
# as it is. Dask's default, one process per worker, runs the same code; a
# script that starts worker processes must keep its code under ``if __name__
# == "__main__":`` (the workers import it). This cluster has no dashboard
# either; a real one would keep it: it shows the fits as they run.
import itertools
import logging
import warnings

import joblib
import matplotlib.pyplot as plt
import numpy as np
from dask.distributed import Client, LocalCluster, get_task_stream
from scipy.stats import loguniform
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, StratifiedKFold

from perceptron import MLPDigitClassifier
from perceptron.datasets import load_dataset

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # the refits of short runs

X_train, X_test, y_train, y_test = load_dataset("digits")

cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                       dashboard_address=None, silence_logs=logging.ERROR,
                       # Dask's HTTP endpoints (health, metrics) on free ports of
                       # 127.0.0.1 only
                       scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                       worker_dashboard_address="127.0.0.1:0")
client = Client(cluster)
print(client)

# %%
# The search
# ----------
# Written as for one machine; ``parallel_backend("dask")`` sends its fits
# to the cluster of the last ``Client`` made. ``get_task_stream`` records
# when each fit ran on which worker, for the plot below.
estimator = MLPDigitClassifier(learning_rate_init=1e-2, random_state=0)
grid = {"hidden_layer_sizes": [(32,), (64,)], "alpha": [1e-4, 1e-2]}
search = GridSearchCV(estimator, grid, cv=3)
with joblib.parallel_backend("dask"), get_task_stream(client) as stream:
    search.fit(X_train, y_train)

print("best parameters:", search.best_params_)
print(f"best cross-validated accuracy: {search.best_score_:.3f}")
print(f"test accuracy of the refitted best model: {search.score(X_test, y_test):.3f}")

# %%
# Each bar is one task on one worker: a small batch of fits, joblib's unit of
# work. The two workers are busy side by side.
computed = [(task["worker"], period["start"], period["stop"]) for task in stream.data
            for period in task["startstops"] if period["action"] == "compute"]
workers = sorted({worker for worker, _, _ in computed})
start = min(begin for _, begin, _ in computed)
fig, ax = plt.subplots(figsize=(6, 2.2))
for worker, begin, end in computed:
    ax.barh(workers.index(worker), end - begin, left=begin - start, height=0.6,
            color="tab:blue", edgecolor="white")
ax.set_yticks(range(len(workers)), [f"worker {i}" for i in range(len(workers))])
ax.set_xlabel("seconds since the first fit")
ax.set_title("The search's tasks on the two workers")
fig.tight_layout()
plt.show()

# %%
# Threads per fit
# ---------------
# ``n_threads=None`` (the default) asks where the fit runs. In a Dask
# worker, the worker threads of the process share its CPUs: here two workers
# of one thread each, so a fit on a worker uses half of them (one thread on
# a 2-core machine). Dask's worker processes start with
# ``OMP_NUM_THREADS=1``: one thread per fit there. Outside the workers, a
# fit may use every CPU. ``n_threads_`` says what a fit used.


def threads_of_a_fit(X, y):
    return MLPDigitClassifier((16,), max_iter=5, random_state=0).fit(X, y).n_threads_


print("threads of a fit on a worker:", client.submit(threads_of_a_fit, X_train, y_train).result())
print("threads of a fit here       :", threads_of_a_fit(X_train, y_train))

# %%
# The same scores as one fit after another
# ----------------------------------------
# With an integer ``random_state`` a fit is reproducible bit for bit on any
# number of threads of one machine: the MLP's training step is cut into
# parts chosen from the shapes and the machine's CPU count, not from the
# threads a fit is given. A serial
# search, whose fits may use every CPU here, finds exactly the same scores
# as the workers' fits.
serial = GridSearchCV(estimator, grid, cv=3)
serial.fit(X_train, y_train)
same = all(np.array_equal(search.cv_results_[f"split{i}_test_score"],
                          serial.cv_results_[f"split{i}_test_score"]) for i in range(3))
print("identical fold scores:", same)

# %%
# A cluster at an address, and data sent once
# -------------------------------------------
# A cluster of many machines is reached by the address of its scheduler,
# for example ``Client("tcp://scheduler-host:8786")``. Our local cluster has
# an address too, so the code below is exactly what runs against a remote
# one. This time a :class:`~sklearn.model_selection.RandomizedSearchCV`
# samples 4 candidates.
#
# ``scatter`` sends ``X``, ``y`` and the folds' indices to every worker
# before the search. Large data then travels once per worker, and no task
# depends on data held by a single worker, which would take it along if it
# died (Dask cannot recompute data that came from this process). For that,
# the folds are made once, as a list, and given to both the search and
# ``scatter``.
print("scheduler address:", cluster.scheduler_address)
remote = Client(cluster.scheduler_address)  # now the client joblib uses

folds = list(StratifiedKFold(n_splits=3).split(X_train, y_train))
random_search = RandomizedSearchCV(
    MLPDigitClassifier(random_state=0),
    {"hidden_layer_sizes": [(32,), (64,), (128,)],
     "learning_rate_init": loguniform(1e-3, 3e-2)},
    n_iter=4, cv=folds, random_state=0)
with joblib.parallel_backend("dask", scatter=[X_train, y_train, *itertools.chain(*folds)]):
    random_search.fit(X_train, y_train)

for params, score in zip(random_search.cv_results_["params"],
                         random_search.cv_results_["mean_test_score"]):
    print(f"{score:.3f}  hidden_layer_sizes={params['hidden_layer_sizes']}, "
          f"learning_rate_init={params['learning_rate_init']:.4f}")

# %%
# What to expect
# --------------
# * On ``w`` single-thread workers a large grid runs close to ``w`` times
#   faster than fitting one candidate after another; the benchmarks page has
#   measured times.
# * Starting a cluster takes seconds and each task some milliseconds, so a
#   grid of a few tiny fits is faster without Dask.
# * A worker killed in the middle of the search loses its running fits; the
#   scheduler gives them to another worker and the search ends with the same
#   results.
#
# Close what you started:
remote.close()
client.close()
cluster.close()

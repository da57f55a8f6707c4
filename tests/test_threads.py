"""How many threads a fit uses: the bound on ``n_threads``, the budget of
``n_threads=None`` where the fit runs, and the fitted ``n_threads_``."""

import json
import os
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_limits

import perceptron
from perceptron import ConvDigitClassifier, MLPDigitClassifier, PerceptronClassifier
from perceptron._config import available_cpus, effective_n_threads, openmp_enabled, thread_budget
from perceptron.datasets import load_digits

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
needs_openmp = pytest.mark.skipif(not openmp_enabled(),
                                  reason="built without OpenMP: always one thread")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300], y[:300]


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def _python(code, **env):
    """Run ``code`` in a fresh interpreter on this worktree's package."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env={**os.environ, **env})


@pytest.mark.parametrize("n_threads", [10**9, -10**9, 8193, 0, 2.0, True, "2"])
@pytest.mark.parametrize("Est", [PerceptronClassifier, MLPDigitClassifier, ConvDigitClassifier])
def test_absurd_thread_counts_are_a_clear_error(digits, Est, n_threads):
    X, y = digits
    with pytest.raises(ValueError, match=r"n_threads must be None or a non-zero int in "
                                         r"\[-8192, 8192\]"):
        Est(n_threads=n_threads, max_iter=1).fit(X, y)


def test_predict_checks_the_thread_count_too(digits):
    X, y = digits
    clf = _fit(PerceptronClassifier(max_iter=1, random_state=0), X, y)
    clf.set_params(n_threads=10**9)
    with pytest.raises(ValueError, match="n_threads must be"):
        clf.predict(X)


def test_a_billion_threads_does_not_kill_the_process():
    """libgomp ended the process ("out of memory allocating 224 GB") before
    the bound; in a child process, so that a regression fails this test
    instead of killing the test run."""
    code = ("from perceptron import MLPDigitClassifier\n"
            "from perceptron.datasets import load_digits\n"
            "X, y = load_digits(return_X_y=True)\n"
            "try:\n"
            "    MLPDigitClassifier(n_threads=10**9, max_iter=1).fit(X, y)\n"
            "except ValueError as exc:\n"
            "    print('ValueError:', exc)\n")
    out = _python(code)
    assert out.returncode == 0, out.stderr
    assert "ValueError: n_threads must be" in out.stdout


def _rewrite_meta(path, change):
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(arrays["__meta__"].tobytes())
    change(meta)
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)


@pytest.mark.parametrize("field, value", [("params", 10**9), ("params", -10**9),
                                          ("params", 1.5), ("attributes", 10**9),
                                          ("attributes", 0), ("attributes", "2")])
def test_model_file_with_an_absurd_thread_count_is_refused(digits, tmp_path, field, value):
    X, y = digits
    path = _fit(MLPDigitClassifier((8,), max_iter=2, random_state=0, n_threads=1),
                X, y).save(tmp_path / "model.npz")
    name = "n_threads" if field == "params" else "n_threads_"

    def change(meta):
        meta[field][name] = value

    _rewrite_meta(path, change)
    with pytest.raises(ValueError, match=name):
        perceptron.load(path)


def test_n_threads_used_is_recorded_and_saved(digits, tmp_path):
    X, y = digits
    clf = _fit(MLPDigitClassifier((8,), max_iter=2, random_state=0, n_threads=1), X, y)
    assert clf.n_threads_ == 1
    assert perceptron.load(clf.save(tmp_path / "m.npz")).n_threads_ == 1
    clf.set_params(n_threads=-1).partial_fit(X, y)  # the last call's count
    assert clf.n_threads_ == effective_n_threads(-1)
    with threadpool_limits(limits=1, user_api="openmp"):
        assert _fit(PerceptronClassifier(max_iter=1), X, y).n_threads_ == 1


def test_explicit_count_is_capped_by_the_cpus(digits):
    X, y = digits
    clf = _fit(MLPDigitClassifier((8,), max_iter=1, n_threads=8192), X, y)
    assert clf.n_threads_ == (available_cpus() if openmp_enabled() else 1)
    assert effective_n_threads(-8192) == 1


@needs_openmp
def test_budget_follows_the_affinity_mask():
    """A process allowed on one CPU (``taskset``, a batch scheduler) uses one
    thread, whatever the machine has and whatever it is asked for."""
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no sched_setaffinity on this platform")
    code = ("import os; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})\n"
            "from perceptron._config import effective_n_threads as e\n"
            "print(e(None), e(-1), e(4))")
    out = _python(code)
    assert out.stdout.split() == ["1", "1", "1"], out.stderr


@needs_openmp
def test_budget_is_shared_by_the_dask_worker_threads(monkeypatch):
    """In a Dask worker (here a stand-in for ``distributed``), the budget of
    the process is divided among the worker threads that run tasks in it:
    all workers of a ``LocalCluster(processes=False)`` live in one process.
    The real cluster is in ``test_dask.py``."""
    class Worker:  # hashable, as distributed's are
        def __init__(self, nthreads, status="running"):
            self.state = types.SimpleNamespace(nthreads=nthreads)
            self.status = types.SimpleNamespace(name=status)

    this, other, gone = Worker(1), Worker(1), Worker(8, "closed")
    fake = types.SimpleNamespace(get_worker=lambda: this,
                                 Worker=types.SimpleNamespace(_instances={this, other, gone}))
    monkeypatch.setitem(sys.modules, "distributed", fake)
    budget = min(available_cpus(), perceptron._kernels._openmp_info.omp_max_threads())
    assert thread_budget()[0] == max(1, budget // 2)
    assert "2 Dask worker thread(s)" in thread_budget()[1]
    fake.Worker._instances = {this}
    assert effective_n_threads(None) == budget
    assert effective_n_threads(1) == 1  # an explicit count is the user's

    def outside():
        raise ValueError("No worker found")

    fake.get_worker = outside
    assert "Dask" not in thread_budget()[1]


@needs_openmp
def test_loky_workers_share_the_cpus(digits):
    """joblib's loky workers start with ``OMP_NUM_THREADS = cpus // n_jobs``:
    two fits at once use half the CPUs each, not all of them each."""
    X, y = digits
    search = GridSearchCV(PerceptronClassifier(max_iter=1, random_state=0),
                          {"alpha": [1e-4, 1e-3]}, cv=2, n_jobs=2,
                          scoring={"accuracy": "accuracy",
                                   "threads": lambda est, X, y: est.n_threads_},
                          refit=False)
    _fit(search, X, y)
    assert set(search.cv_results_["mean_test_threads"]) == {max(1, available_cpus() // 2)}


@needs_openmp
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="libgomp on Linux")
def test_wait_policy_is_set_for_libgomp_and_the_environment_left_alone():
    """The package sets libgomp's spin count while libgomp loads, then removes
    the variable again; a user's own setting wins."""
    code = ("import os, perceptron\n"
            "from perceptron._kernels import WAIT_POLICY\n"
            "print(WAIT_POLICY); print(os.environ.get('GOMP_SPINCOUNT'))")
    clean = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=ROOT, env=clean)
    policy, leftover = out.stdout.splitlines()
    assert leftover == "None", out.stderr
    assert policy == f"GOMP_SPINCOUNT={perceptron._kernels.SPIN_COUNT} (set by perceptron)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=ROOT, env={**clean, "OMP_WAIT_POLICY": "passive"})
    assert out.stdout.splitlines() == ["OMP_WAIT_POLICY=passive (from the environment)", "None"]

"""How the kernels' idle threads wait, on a quiet machine and with one core taken
(group ``openmp: wait policy``).

A 2-thread team meets at barriers several times per mini-batch. libgomp lets a
waiting thread spin 300,000 rounds before it sleeps; ``perceptron`` sets
``GOMP_SPINCOUNT`` to :data:`perceptron._kernels.SPIN_COUNT` when it loads
libgomp (see ``perceptron/_kernels/__init__.py``). Each case times one
``MLPDigitClassifier.fit`` in a fresh process (libgomp reads its settings
once, when it loads):

- ``1thread``: ``n_threads=1``, the reference;
- ``libgomp-default``: 2 threads, ``GOMP_SPINCOUNT=300000`` (libgomp's own);
- ``perceptron``: 2 threads, the package's setting;
- ``passive``: 2 threads, ``OMP_WAIT_POLICY=passive`` (sleep at once);

``quiet``: nothing else started; ``busy``: one extra process spins on a core
meanwhile (another user's job). The cases run in interleaved rounds. On a
quiet machine ``perceptron`` should be as fast as ``libgomp-default``; with a
core taken, far faster.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import harness as H

POLICIES = {"1thread": (1, {}), "libgomp-default": (2, {"GOMP_SPINCOUNT": "300000"}),
            "perceptron": (2, {}), "passive": (2, {"OMP_WAIT_POLICY": "passive"})}
LOADS = ("quiet", "busy")
#: the workloads: data set, hidden layers, epochs, batch size
WORK = {"digits": ("digits", (100, 100), 20, 200),
        "fashion": ("fashion-mnist", (100, 100), 2, 128)}
pytestmark = pytest.mark.benchmark(timer=H.REPLAY)

CHILD = """
import json, sys, time, warnings
sys.path[:0] = {paths!r}
warnings.simplefilter("ignore")
import harness
from perceptron import MLPDigitClassifier
dataset, hidden, epochs, batch, threads = {args!r}
X, _, y, _ = harness.load_data(dataset, n_train=10000 if dataset != "digits" else None)
kw = dict(hidden_layer_sizes=hidden, batch_size=batch, n_threads=threads, random_state=0, tol=0)
MLPDigitClassifier(max_iter=1, **kw).fit(X[:1000], y[:1000])  # threads started, caches warm
start = time.perf_counter()
MLPDigitClassifier(max_iter=epochs, **kw).fit(X, y)
print(json.dumps(time.perf_counter() - start))
"""


def _fit_seconds(work, policy):
    """One timed fit in a fresh process with ``policy``'s environment."""
    import perceptron

    threads, env = POLICIES[policy]
    paths = [str(Path(__file__).resolve().parent), str(Path(perceptron.__file__).parents[1])]
    environ = {k: v for k, v in os.environ.items()
               if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    code = CHILD.format(paths=paths, args=(*WORK[work], threads))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**environ, **env}, timeout=900)
    if out.returncode:
        raise RuntimeError(f"child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.splitlines()[-1])


def _rounds(work, rounds):
    """Every policy under every load, interleaved: one busy process per round of the busy load."""
    seconds = {(load, policy): [] for load in LOADS for policy in POLICIES}
    for r in range(rounds):
        for load in LOADS[r % 2:] + LOADS[:r % 2]:
            busy = None
            if load == "busy":
                busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
                time.sleep(0.5)
            try:  # the fit's own seconds, as the child measured them (not its start-up)
                _, fit = H.interleave(
                    {policy: (lambda p=policy: _fit_seconds(work, p)) for policy in POLICIES},
                    dict.fromkeys(POLICIES, 1))
            finally:
                if busy is not None:
                    busy.kill()
                    busy.wait()
            for policy, value in fit.items():
                seconds[(load, policy)].append(value)
    return seconds


@pytest.fixture(scope="module")
def measured(request):
    full = request.config.getoption("--full")
    works = ("digits", "fashion") if full else ("digits",)
    return {work: _rounds(work, 5 if full else 1) for work in works}


@pytest.mark.parametrize("work", list(WORK))
@pytest.mark.parametrize("load", LOADS)
@pytest.mark.parametrize("policy", list(POLICIES))
def test_wait_policy(benchmark, measured, work, load, policy):
    if work not in measured:
        pytest.skip("--full only")
    dataset, hidden, epochs, batch = WORK[work]
    threads, env = POLICIES[policy]
    H.report(benchmark, f"openmp: wait policy, {work}", measured[work][(load, policy)],
             load=load, threads=threads, environment=" ".join(f"{k}={v}" for k, v in env.items())
             or "none", work=f"MLPDigitClassifier{hidden}, {epochs} epochs, batch {batch}, "
                             f"{dataset}")

"""OpenMP: how the kernels' idle threads wait, on a quiet machine and with one core taken
(groups ``openmp: wait policy, digits``, ``, fashion`` and ``, cnn-fashion``).

A 2-thread team meets at barriers several times per mini-batch; libgomp lets a waiting thread
spin 300,000 rounds before it sleeps, and ``perceptron`` lowers ``GOMP_SPINCOUNT`` when it loads
libgomp (``perceptron.show_config()`` says to what). Each case times one MLPDigitClassifier fit
in a fresh process (libgomp reads its settings once): ``1thread`` (the reference), and 2 threads
under ``libgomp-default``, ``perceptron`` (the package's setting) and ``passive``; ``quiet``
with nothing else started, ``busy`` with another process spinning on a core. ``--full`` adds
the Fashion-MNIST workloads, the MLP's and the default ConvDigitClassifier's (whose
layer-by-layer step leaves the threads idle between its kernels for longer), and runs 5
rounds::

    python -m pytest benchmarks/test_bench_wait_policy.py --full --benchmark-json=openmp.json
"""

import os
import subprocess
import sys
import time

import pytest

import harness as H

POLICIES = {"1thread": (1, {}), "libgomp-default": (2, {"GOMP_SPINCOUNT": "300000"}),
            "perceptron": (2, {}), "passive": (2, {"OMP_WAIT_POLICY": "passive"})}
LOADS = ("quiet", "busy")
# data set, model (an MLP's hidden layers, or "cnn": ConvDigitClassifier()), epochs, batch
WORK = {"digits": ("digits", (100, 100), 20, 200),
        "fashion": ("fashion-mnist", (100, 100), 2, 128),
        "cnn-fashion": ("fashion-mnist", "cnn", 1, 128)}


def fit_seconds(dataset, model, epochs, batch, threads):
    """In a fresh process: the seconds of one fit, after a warm-up fit."""
    from perceptron import ConvDigitClassifier, MLPDigitClassifier

    X, _, y, _ = H.load_data(dataset, n_train=10000 if dataset != "digits" else None)
    kw = dict(batch_size=batch, n_threads=threads, random_state=0, tol=0)
    if model == "cnn":
        estimator = ConvDigitClassifier
    else:
        estimator, kw["hidden_layer_sizes"] = MLPDigitClassifier, model
    estimator(max_iter=1, **kw).fit(X[:1000], y[:1000])  # threads started, caches warm
    start = time.perf_counter()
    estimator(max_iter=epochs, **kw).fit(X, y)
    return time.perf_counter() - start


def fit_in_child(work, policy):
    threads, env = POLICIES[policy]
    environ = {k: v for k, v in os.environ.items()
               if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    return H.in_child(fit_seconds, *WORK[work], threads, env={**environ, **env})


@pytest.fixture(scope="module")
def measured(settings):
    """Per workload: every policy under every load, one busy process per busy round."""
    seconds = {}
    for work in WORK if settings.full else ("digits",):
        for r in range(5 if settings.full else 1):
            for load in LOADS[r % 2:] + LOADS[:r % 2]:
                busy = load == "busy" and subprocess.Popen([sys.executable, "-c",
                                                            "while True: pass"])
                time.sleep(0.5 if busy else 0)  # the busy loop running
                try:  # the fit's own seconds, as the child measured them
                    _, fit = H.interleave({p: (lambda p=p: fit_in_child(work, p))
                                           for p in POLICIES}, 1)
                finally:
                    if busy:
                        busy.kill()
                        busy.wait()
                for policy, value in fit.items():
                    seconds.setdefault((work, load, policy), []).append(value)
    return seconds


@pytest.mark.benchmark(timer=H.REPLAY)
@pytest.mark.parametrize("work", WORK)
@pytest.mark.parametrize("load", LOADS)
@pytest.mark.parametrize("policy", POLICIES)
def test_wait_policy(benchmark, measured, work, load, policy):
    if (work, load, policy) not in measured:
        pytest.skip("--full only")
    (dataset, model, epochs, batch), (threads, env) = WORK[work], POLICIES[policy]
    name = "ConvDigitClassifier()" if model == "cnn" else f"MLPDigitClassifier{model}"
    H.report(benchmark, f"openmp: wait policy, {work}", measured[work, load, policy], load=load,
             threads=threads, environment=" ".join(f"{k}={v}" for k, v in env.items()) or "none",
             work=f"{name}, {epochs} epochs, batch {batch}, {dataset}")

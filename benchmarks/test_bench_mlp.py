"""MLP: perceptron vs scikit-learn vs PyTorch-CPU (groups ``mlp: epoch``, ``mlp: predict_proba``).

The same 784-100-100-10 network and training for all (:data:`harness.MLP_WORK`) on
Fashion-MNIST, the contestants in interleaved rounds at N and 1 threads, then their
``predict_proba`` on the test images the same way::

    python -m pytest benchmarks/test_bench_mlp.py --full --benchmark-json=mlp.json
"""

import pytest

import harness as H

LIBRARIES = ("ours", "sklearn", "torch")


@pytest.fixture(scope="module")
def race(request, settings, data):
    return H.race(H.mlp, H.selected(request), data, settings, work=H.MLP_WORK)


@pytest.mark.benchmark(timer=H.REPLAY)
@pytest.mark.parametrize("what", ["epoch", "predict_proba"])
def test_mlp(benchmark, race, what, library, threads):
    H.report_race(benchmark, race, "mlp", what, library, threads)

"""MLP: perceptron vs scikit-learn vs PyTorch-CPU, epochs and predict_proba (groups ``mlp: ...``).

The same 784-100-100-10 network and training for all (:data:`harness.MLP_WORK`);
every selected contestant is trained once, in interleaved rounds, by the
``race`` fixture, and each test reports one contestant's rounds.
"""

import pytest

import harness as H

LIBRARIES = ("ours", "sklearn", "torch")
pytestmark = pytest.mark.benchmark(timer=H.REPLAY)


@pytest.fixture(scope="module")
def race(request, settings, data):
    return H.race(H.mlp, H.selected(request), data, settings.epochs, settings.predict_rounds,
                  work=H.MLP_WORK)


def test_epoch(benchmark, race, library, threads):
    H.report_epoch(benchmark, race, "mlp", library, threads)


def test_predict_proba(benchmark, race, library, threads):
    H.report_predict(benchmark, race, "mlp", library, threads)

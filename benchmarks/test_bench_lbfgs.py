"""Full-batch L-BFGS on the digits: perceptron vs scikit-learn (group ``lbfgs: fit (digits)``).

The bundled 8x8 digits (the project's split: 1437 training, 360 test images): a whole ``fit``
of a 64-100-10 ReLU MLP with ``solver="lbfgs"`` (:data:`PARAMS`), fresh each round, the
contestants interleaved: ours in float32 and in float64 (``ours-float64``), and scikit-learn's
MLPClassifier on float64 data, its BLAS limited with threadpoolctl. The starting weights differ
(scikit-learn's biases start random, ours at zero), so the iterations do too: the records give
them and the time per iteration. The rounds are the run's epochs (3; ``--full`` 10)::

    python -m pytest benchmarks/test_bench_lbfgs.py --full --benchmark-json=lbfgs.json
"""

import numpy as np
import pytest

import harness as H

LIBRARIES = ("ours", "ours-float64", "sklearn")
PARAMS = dict(hidden_layer_sizes=(100,), solver="lbfgs", alpha=1e-4, max_iter=200, tol=1e-4,
              max_fun=15000, random_state=0)


def build(library, threads, X, y):
    from sklearn.neural_network import MLPClassifier

    from perceptron import MLPDigitClassifier

    if library == "sklearn":
        return H.Estimator(library, MLPClassifier(**PARAMS), threads, X.astype(np.float64), y)
    dtype = "float64" if library == "ours-float64" else "float32"
    return H.Estimator(library, MLPDigitClassifier(**PARAMS, dtype=dtype, n_threads=threads),
                       threads, X, y)


@pytest.fixture(scope="module")
def fits(request, settings):
    X_train, X_test, y_train, y_test = H.load_data("digits")
    runners = {key: build(*key, X_train, y_train) for key in H.selected(request)}
    seconds, loss = H.interleave({key: r.fit for key, r in runners.items()}, settings.epochs)
    accuracy = {key: r.score(X_test, y_test) for key, r in runners.items()}
    return seconds, loss, accuracy, runners, dict(n_train=len(y_train), n_test=len(y_test))


@pytest.mark.benchmark(timer=H.REPLAY)
def test_fit(benchmark, fits, library, threads):
    seconds, loss, accuracy, runners, sizes = fits
    if (library, threads) not in runners:
        pytest.skip("not in this run")
    clf, key = runners[library, threads].clf, (library, threads)
    assert np.isfinite(loss[key]) and accuracy[key] > 0.9
    H.report(benchmark, "lbfgs: fit (digits)", seconds[key], library=library, threads=threads,
             dtype=str(clf.coefs_[0].dtype), test_accuracy=accuracy[key], n_iter=int(clf.n_iter_),
             time_per_iteration_seconds=float(np.median(seconds[key])) / max(clf.n_iter_, 1),
             final_loss=loss[key], work=str(PARAMS), **sizes)

"""Sample and class weights: what they buy and what they cost (groups ``weights: ...``).

``weights: recall``: Fashion-MNIST with the classes :data:`RARE` cut to 10 % of their training
rows, the test set whole: an MLP(100, 100) ``fit`` with and without ``class_weight="balanced"``
(one measurement each), its macro recall, the mean recall of the rare and of the other classes,
and each class's. ``weights: epoch (mlp)``, ``(perceptron)``: one ``partial_fit`` epoch without
(``ours``) and with ``sample_weight`` (uniform in [0.5, 1.5)), interleaved, for the comparison's
MLP and for the perceptron (the shortest steps): the cost of the weights, target <= 1.03::

    python -m pytest benchmarks/test_bench_weights.py --full --benchmark-json=weights.json
"""

import time

import numpy as np
import pytest
from sklearn.metrics import recall_score

import harness as H
import perceptron

RARE = (0, 2, 4, 6, 8)  # T-shirt/top, pullover, coat, shirt, bag
pytestmark = pytest.mark.benchmark(timer=H.REPLAY)


@pytest.mark.parametrize("class_weight", [None, "balanced"], ids=["unweighted", "balanced"])
def test_recall(benchmark, settings, data, class_weight):
    X_train, X_test, y_train, y_test = data
    rng, keep = np.random.default_rng(0), np.ones(len(y_train), dtype=bool)
    for c in RARE:
        rows = np.flatnonzero(y_train == c)
        keep[rng.choice(rows, len(rows) - len(rows) // 10, replace=False)] = False
    clf = perceptron.MLPDigitClassifier((100, 100), class_weight=class_weight, random_state=0,
                                        max_iter=settings.epochs, n_threads=settings.threads[0])
    start = time.perf_counter()
    clf.fit(X_train[keep], y_train[keep])
    seconds = time.perf_counter() - start
    recall = recall_score(y_test, clf.predict(X_test), labels=H.CLASSES, average=None)
    rare = np.isin(H.CLASSES, RARE)
    H.report(benchmark, "weights: recall", [seconds], class_weight=str(class_weight),
             epochs=clf.n_iter_, n_train=int(keep.sum()), n_test=len(y_test),
             threads=settings.threads[0], macro_recall=float(recall.mean()),
             rare_recall=float(recall[rare].mean()), other_recall=float(recall[~rare].mean()),
             **{f"recall_{c}": float(r) for c, r in zip(H.CLASSES, recall)})


CASES = {"mlp": ("MLPDigitClassifier", H.MLP_PARAMS),
         "perceptron": ("PerceptronClassifier", dict(solver="adam", batch_size=H.BATCH_SIZE,
                                                     random_state=0))}


@pytest.fixture(scope="module")
def epochs(settings, data):
    """Every case's epochs with and without weights, in interleaved rounds."""
    X, _, y, _ = data
    weights = {False: {}, True: {"sample_weight": np.random.default_rng(1).uniform(
        0.5, 1.5, len(y))}}
    runners = {(case, weighted): H.Estimator("ours", getattr(perceptron, name)(
        **params, dtype="float32", n_threads=settings.threads[0]), settings.threads[0], X, y,
        **weights[weighted]) for case, (name, params) in CASES.items() for weighted in weights}
    seconds, loss = H.interleave({key: r.epoch for key, r in runners.items()}, settings.epochs)
    return seconds, loss, len(y)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
@pytest.mark.parametrize("case", CASES)
def test_epoch(benchmark, epochs, settings, case, weighted):
    seconds, loss, n_train = epochs
    assert np.isfinite(loss[case, weighted])
    extra = {} if not weighted else H.target("weighted / plain per round", H.paired(
        seconds[case, True], seconds[case, False]), 1.03, at_most=True)
    H.report(benchmark, f"weights: epoch ({case})", seconds[case, weighted],
             library="ours, sample_weight" if weighted else "ours", threads=settings.threads[0],
             n_train=n_train, work=f"{CASES[case][0]}: one `partial_fit` epoch, batch "
                                   f"{H.BATCH_SIZE}, Adam, float32", **extra)

"""Sample and class weights: what they buy and what they cost (groups ``weights: ...``).

``weights: recall``
    Fashion-MNIST with five classes (:data:`RARE`) cut to 10 % of their
    training rows, the test set left whole: an MLP fitted with and without
    ``class_weight="balanced"``, one single measurement each (the time of
    ``fit``), with the test set's macro recall, the mean recall of the rare
    and of the other classes, and every class's recall.
``weights: epoch (mlp)``, ``weights: epoch (perceptron)``
    One training epoch (``partial_fit``) without and with ``sample_weight``
    (random weights in [0.5, 1.5)), in interleaved rounds, for the MLP of the
    ``mlp`` comparison (:data:`harness.MLP_PARAMS`) and for the perceptron,
    whose steps are the shortest, so that any per-batch cost of the weights
    shows most. The record without weights is ``ours``: the ratio column is
    the cost of the weights (target: at most 1.03).

Quick mode (the default) uses the harness's 10000 / 2000-image subsets and
its 3 epochs; ``--full`` the whole data set and 10 epochs (``--epochs`` to
change them).
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import recall_score

import harness as H

#: the classes cut to 10 % of their training rows (T-shirt/top, pullover,
#: coat, shirt, bag: four of them easily confused with the others)
RARE = (0, 2, 4, 6, 8)
KEEP = 0.10
RECALL_WORK = (f"Fashion-MNIST, classes {RARE} cut to {KEEP:.0%} of their training rows "
               "(seeded), test set whole; MLPDigitClassifier(hidden_layer_sizes=(100, 100), "
               "random_state=0, n_threads={threads}), fit for {epochs} epochs")


@pytest.fixture(scope="module")
def imbalanced(data):
    """The training set with the :data:`RARE` classes cut to :data:`KEEP` of their rows."""
    X_train, X_test, y_train, y_test = data
    rng = np.random.default_rng(0)
    keep = np.ones(len(y_train), dtype=bool)
    for c in RARE:
        rows = np.flatnonzero(y_train == c)
        keep[rng.choice(rows, len(rows) - int(KEEP * len(rows)), replace=False)] = False
    return X_train[keep], X_test, y_train[keep], y_test


@pytest.mark.benchmark(group="weights: recall")
@pytest.mark.parametrize("class_weight", [None, "balanced"], ids=["unweighted", "balanced"])
def test_recall(benchmark, settings, imbalanced, class_weight):
    from perceptron import MLPDigitClassifier

    X_train, X_test, y_train, y_test = imbalanced
    threads = settings.threads[0]
    clf = MLPDigitClassifier((100, 100), class_weight=class_weight, max_iter=settings.epochs,
                             random_state=0, n_threads=threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        benchmark.pedantic(clf.fit, args=(X_train, y_train), rounds=1)
    recall = recall_score(y_test, clf.predict(X_test), labels=H.CLASSES, average=None)
    rare = np.isin(H.CLASSES, RARE)
    benchmark.extra_info.update(
        class_weight=str(class_weight), timed="`fit`", epochs=clf.n_iter_,
        n_train=len(y_train), n_test=len(y_test),
        work=RECALL_WORK.format(threads=threads, epochs=settings.epochs),
        macro_recall=float(recall.mean()), rare_recall=float(recall[rare].mean()),
        other_recall=float(recall[~rare].mean()),
        **{f"recall_{c}": float(r) for c, r in zip(H.CLASSES, recall)})


CASES = {"mlp": ("MLPDigitClassifier", H.MLP_PARAMS),
         "perceptron": ("PerceptronClassifier", dict(solver="adam", batch_size=H.BATCH_SIZE,
                                                     random_state=0))}


class WeightedEpoch:
    """One ``partial_fit`` epoch of an estimator, with or without ``sample_weight``."""

    def __init__(self, case, threads, X, y, weighted):
        import perceptron

        name, params = CASES[case]
        self.clf = getattr(perceptron, name)(**params, dtype="float32", n_threads=threads)
        self.X, self.y = X, y
        self.weights = (np.random.default_rng(1).uniform(0.5, 1.5, len(y)) if weighted
                        else None)

    def epoch(self):
        self.clf.partial_fit(self.X, self.y, classes=H.CLASSES, sample_weight=self.weights)
        return float(self.clf.loss_)


@pytest.fixture(scope="module")
def epochs(settings, data):
    """Every case's epochs with and without weights, in interleaved rounds."""
    X_train, _, y_train, _ = data
    threads = settings.threads[0]
    runners = {(case, weighted): WeightedEpoch(case, threads, X_train, y_train, weighted)
               for case in CASES for weighted in (False, True)}
    seconds, loss = H.interleave({key: r.epoch for key, r in runners.items()},
                                 dict.fromkeys(runners, settings.epochs))
    return seconds, loss, threads, len(y_train)


@pytest.mark.benchmark(timer=H.REPLAY)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_epoch(benchmark, epochs, case, weighted):
    seconds, loss, threads, n_train = epochs
    assert np.isfinite(loss[case, weighted])
    H.report(benchmark, f"weights: epoch ({case})", seconds[case, weighted],
             library="perceptron (ours), sample_weight" if weighted else "ours", threads=threads,
             dtype="float32", n_train=n_train, epochs=len(seconds[case, weighted]),
             work=f"{CASES[case][0]}: one `partial_fit` epoch, batch {H.BATCH_SIZE}, Adam; "
                  "weights uniform in [0.5, 1.5)")

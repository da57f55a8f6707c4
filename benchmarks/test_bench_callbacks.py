"""What watching training costs: validation figures and callbacks (group ``callbacks: epoch``).

The MLP of the comparison (:data:`harness.MLP_WORK`, ours, float32, at the
run's thread count) trains one epoch per round on Fashion-MNIST, three ways,
in interleaved rounds:

- ``plain``: ``fit`` of one epoch (``warm_start=True, max_iter=1``), nothing else;
- ``forward``: the same, then the validation set's forward pass alone (the
  network's logits, as the validation needs them): the computation any
  validation costs, in proportion to the size of the validation set;
- ``watched``: ``fit(X, y, X_val=..., y_val=...)`` of one epoch with
  EarlyStopping, LearningRateScheduler and CSVLogger: validation loss and
  accuracy, ``history_``, the callbacks. (ModelCheckpoint is left out: it
  writes a file to disk, a cost of the disk, not of the bookkeeping.)

The validation set is the test split (2000 images in quick mode, 10000
with ``--full``). Each record says how much slower than ``plain`` its case
was, as the median over rounds of the per-round ratio; the ``watched``
record also against ``forward``: that difference is the bookkeeping (loss
kernel over the logits, history, callbacks, the calls' start and end),
which issue #12 wants within 2 % of an epoch.
"""

import statistics
import warnings

import pytest

import harness as H

CASES = ("plain", "forward", "watched")
pytestmark = pytest.mark.benchmark(timer=H.REPLAY)


def _per_round(slower, faster):
    """Median over rounds of ``slower / faster - 1``, as a signed percentage."""
    return f"{100 * (statistics.median(s / f for s, f in zip(slower, faster)) - 1):+.2f}%"


@pytest.fixture(scope="module")
def rounds(settings, data, tmp_path_factory):
    from sklearn.exceptions import ConvergenceWarning

    from perceptron import MLPDigitClassifier
    from perceptron.callbacks import CSVLogger, EarlyStopping, LearningRateScheduler

    X, X_val, y, y_val = data
    threads = settings.threads[0]
    log = tmp_path_factory.mktemp("callbacks") / "log.csv"

    def make(callbacks=None, **fit):
        clf = MLPDigitClassifier(**H.MLP_PARAMS, dtype="float32", n_threads=threads,
                                 max_iter=1, warm_start=True, callbacks=callbacks)
        return clf.fit(X, y, **fit)  # an untimed first epoch: network built, memory touched

    validation = {"X_val": X_val, "y_val": y_val}
    watched_callbacks = [EarlyStopping(patience=10**6), LearningRateScheduler("exponential"),
                         CSVLogger(log)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # every 1-epoch fit says so
        plain, forward = make(), make()
        watched = make(watched_callbacks, **validation)

        def forward_epoch():
            forward.fit(X, y)
            with forward._thread_limits():
                forward._network.decision_function(X_val)

        steps = {"plain": lambda: plain.fit(X, y), "forward": forward_epoch,
                 "watched": lambda: watched.fit(X, y, **validation)}
        seconds, _ = H.interleave(steps, dict.fromkeys(steps, settings.epochs))
    assert len(watched.history_["val_loss"]) == settings.epochs + 1
    info = {"threads": threads, "n_train": len(y), "n_val": len(y_val),
            "work": "the MLP comparison's network and training (784-100-100-10 ReLU, Adam, "
                    "batch 128, float32), ours; one `fit(warm_start=True, max_iter=1)` per "
                    "round"}
    return seconds, info


@pytest.mark.parametrize("case", CASES)
def test_epoch(benchmark, rounds, case):
    seconds, info = rounds
    extra = dict(info)
    if case != "plain":
        extra["vs_plain"] = _per_round(seconds[case], seconds["plain"])
    if case == "watched":
        extra["bookkeeping_vs_forward"] = _per_round(seconds["watched"], seconds["forward"])
    H.report(benchmark, "callbacks: epoch", seconds[case], **extra)

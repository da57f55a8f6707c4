"""What watching training costs: validation figures and callbacks (group ``callbacks: epoch``).

The MLP of the comparison (:data:`harness.MLP_PARAMS`, ours, float32) trains one epoch per
round on Fashion-MNIST (``fit`` with ``warm_start=True, max_iter=1``), three ways, in
interleaved rounds: ``ours`` plain; ``ours, forward``: the same, then ``predict_proba`` of the
validation set (the test split), the computation any validation costs; ``ours, watched``:
``fit(X, y, X_val=..., y_val=...)`` with EarlyStopping, LearningRateScheduler and CSVLogger.
Watched over forward is the bookkeeping, which issue #12 wants within 2 %::

    python -m pytest benchmarks/test_bench_callbacks.py --full --benchmark-json=callbacks.json
"""

import pytest

import harness as H

CASES = ("plain", "forward", "watched")


@pytest.fixture(scope="module")
def rounds(settings, data, tmp_path_factory):
    from perceptron import MLPDigitClassifier
    from perceptron.callbacks import CSVLogger, EarlyStopping, LearningRateScheduler

    X, X_val, y, y_val = data
    val = {"X_val": X_val, "y_val": y_val}
    plain, forward, watched = (MLPDigitClassifier(
        **H.MLP_PARAMS, dtype="float32", n_threads=settings.threads[0], max_iter=1,
        warm_start=True) for _ in CASES)
    watched.set_params(callbacks=[EarlyStopping(patience=10**6), CSVLogger(
        tmp_path_factory.mktemp("callbacks") / "log.csv"), LearningRateScheduler("exponential")])
    for clf, fit in ((plain, {}), (forward, {}), (watched, val)):
        clf.fit(X, y, **fit)  # an untimed first epoch each
    steps = {"plain": lambda: plain.fit(X, y),
             "forward": lambda: forward.fit(X, y).predict_proba(X_val),
             "watched": lambda: watched.fit(X, y, **val)}
    seconds, _ = H.interleave(steps, settings.epochs)
    assert len(watched.history_["val_loss"]) == settings.epochs + 1
    return seconds, dict(threads=settings.threads[0], n_train=len(y), n_val=len(y_val))


@pytest.mark.benchmark(timer=H.REPLAY)
@pytest.mark.parametrize("case", CASES)
def test_epoch(benchmark, rounds, case):
    seconds, info = rounds
    if case == "watched":
        info = {**info, **H.target("watched / forward per round", H.paired(
            seconds["watched"], seconds["forward"]), 1.02, at_most=True)}
    H.report(benchmark, "callbacks: epoch", seconds[case],
             library="ours" if case == "plain" else f"ours, {case}", **info)

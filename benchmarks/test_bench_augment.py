"""Augmentation: what ``augment=`` costs per epoch, and what it buys (groups ``augment: ...``).

Cost (``augment: cnn epoch``, ``augment: mlp epoch``): the CNN and the MLP of the comparisons
(:func:`harness.cnn`, :func:`harness.mlp`, ours) on Fashion-MNIST as they are, with the affine
recipe :data:`AFFINE` and with it plus Simard's elastic distortion, in interleaved rounds;
issue #13's targets, for :data:`AFFINE` at 2 threads: augmented / plain at most 1.10 (CNN) and
1.35 (MLP). Accuracy (``augment: accuracy``, ``-m accuracy``): the digits CNN with and without
augmentation over five seeds, the plain fits' mean accuracy as the target (the Fashion-MNIST
recipe is ``cnn-fashion-augment`` in test_bench_accuracy.py)::

    python -m pytest benchmarks/test_bench_augment.py --full --benchmark-json=augment.json
"""

import statistics
import time

import pytest

import harness as H
import perceptron

#: the affine recipe of the targets (flips: clothes, not digits)
AFFINE = {"shift": 2, "rotation": 10, "zoom": 0.1, "flip": True}
CASES = {"plain": None, "affine": AFFINE, "affine + elastic": {**AFFINE, "elastic": (34, 4)}}
TARGET = {"cnn": 1.10, "mlp": 1.35}  # augmented / plain epoch, AFFINE, at most
pytestmark = pytest.mark.benchmark(timer=H.REPLAY)


@pytest.fixture(scope="module")
def rounds(settings, data):
    """Both models' three cases in interleaved rounds: seconds and test accuracy."""
    X_train, X_test, y_train, y_test = data
    runners = {(model, case): build("ours", settings.threads[0], X_train, y_train)
               for model, build in (("cnn", H.cnn), ("mlp", H.mlp)) for case in CASES}
    for (_, case), runner in runners.items():
        runner.clf.set_params(augment=CASES[case])
    seconds, _ = H.interleave({key: r.epoch for key, r in runners.items()}, settings.epochs)
    return seconds, {key: r.score(X_test, y_test) for key, r in runners.items()}, len(y_train)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("model", TARGET)
def test_epoch(benchmark, rounds, settings, model, case):
    seconds, accuracy, n_train = rounds
    extra = {} if case != "affine" else H.target("augmented / plain per round", H.paired(
        seconds[model, case], seconds[model, "plain"]), TARGET[model], at_most=True)
    H.report(benchmark, f"augment: {model} epoch", seconds[model, case],
             library="ours" if case == "plain" else f"ours, {case}", threads=settings.threads[0],
             augment=str(CASES[case]), n_train=n_train, test_accuracy=accuracy[model, case],
             **extra)


#: the accuracy table's digits CNN, 60 epochs (at 30 augmented and plain are about even)
DIGITS_CNN = ("ConvDigitClassifier(conv_layers=((32, 3), (64, 3)), dense_layers=(128,), "
              "dropout=0.4, batch_size=32, max_iter=60, augment={augment}, random_state={seed})")
DIGITS_AUGMENT = {"shift": 0.5, "rotation": 10, "zoom": 0.1}


@pytest.mark.accuracy
def test_digits_augment_helps(benchmark):
    """Five seeds with augment (timed) and without; the target is the plain mean accuracy."""
    X_train, X_test, y_train, y_test = H.load_data("digits")

    def scores(augment):
        return [float(eval(DIGITS_CNN.format(augment=augment, seed=seed), vars(perceptron))
                      .fit(X_train, y_train).score(X_test, y_test)) for seed in range(5)]

    start = time.perf_counter()
    augmented, seconds, plain = scores(DIGITS_AUGMENT), time.perf_counter() - start, scores(None)
    H.report(benchmark, "augment: accuracy", [seconds], dataset="digits",
             config=DIGITS_CNN.format(augment=DIGITS_AUGMENT, seed="seed"),
             timed="5 fits with augment (seeds 0-4)",
             scores=" ".join(map("{:.4f}".format, augmented)),
             plain_scores=" ".join(map("{:.4f}".format, plain)),
             test_accuracy=statistics.mean(augmented),
             **H.target("mean test accuracy", statistics.mean(augmented),
                        statistics.mean(plain), fmt="{:.2%}"))

"""Accuracy of the documented configurations (group ``accuracy``; ``-m accuracy``, slow).

Each configuration is fitted once on its data set's whole training split; the record holds
the fit time, the epochs and the test accuracy against the target: a floor, and for some
also "within 0.5 point of another configuration" (Winograd against im2col, issue #14)::

    python -m pytest benchmarks -m accuracy --benchmark-json=accuracy.json
"""

import functools
import time

import pytest

import harness as H
import perceptron
import perceptron.callbacks  # noqa: F401 (a configuration names it)

IM2COL = "[{'filters': f, 'algorithm': 'im2col'} for f in (32, 64, 64)]"
#: name -> (data set, the estimator as built, target accuracy[, a configuration whose
#: accuracy it must not fall more than 0.5 point below])
CONFIGS = {
    "perceptron-digits": ("digits", "PerceptronClassifier(random_state=0)", 0.95),
    "perceptron-fashion": (
        "fashion-mnist", "PerceptronClassifier(max_iter=10, random_state=0)", 0.83),
    "perceptron-sigmoid-fashion": (
        "fashion-mnist",
        "PerceptronClassifier(activation='sigmoid', max_iter=10, random_state=0)", 0.83),
    "mlp-digits": ("digits", "MLPDigitClassifier(max_iter=300, random_state=0)", 0.97),
    "mlp-fashion": (
        "fashion-mnist", "MLPDigitClassifier(hidden_layer_sizes=(512, 256), dropout=0.2, "
                         "max_iter=20, random_state=0)", 0.89),
    "cnn-digits": (
        "digits", "ConvDigitClassifier(conv_layers=((32, 3), (64, 3)), dense_layers=(128,), "
                  "dropout=0.4, batch_size=32, max_iter=30, random_state=0)", 0.98),
    "cnn-fashion": ("fashion-mnist", "ConvDigitClassifier(max_iter=10, random_state=0)", 0.91,
                    "cnn-fashion-im2col"),
    "cnn-fashion-im2col": (
        "fashion-mnist", f"ConvDigitClassifier(conv_layers={IM2COL}, max_iter=10, "
                         "random_state=0)", 0.91),
    # augmentation (#13) and a cosine schedule from learning_rate_init down to 0
    "cnn-fashion-augment": (
        "fashion-mnist", "ConvDigitClassifier(dense_layers=(256,), dropout=0.4, "
        "solver='adam', augment={'shift': 2, 'flip': True}, max_iter=50, "
        "callbacks=[callbacks.LearningRateScheduler('cosine')], random_state=0)", 0.925),
}


def unavailable(name):
    """Why configuration ``name`` cannot be fitted here, or None."""
    return H.missing("ours-im2col") if "algorithm" in CONFIGS[name][1] else None


@functools.cache
def fitted(name):
    """``(seconds, epochs, test accuracy)`` of configuration ``name``'s fit."""
    dataset, source = CONFIGS[name][:2]
    X_train, X_test, y_train, y_test = H.load_data(dataset)
    estimator, start = eval(source, vars(perceptron)), time.perf_counter()
    estimator.fit(X_train, y_train)
    return time.perf_counter() - start, estimator.n_iter_, estimator.score(X_test, y_test)


@pytest.mark.accuracy
@pytest.mark.benchmark(timer=H.REPLAY)
@pytest.mark.parametrize("name", CONFIGS)
def test_accuracy(benchmark, name):
    if unavailable(name):
        pytest.skip(unavailable(name))
    dataset, source, floor, *versus = CONFIGS[name]
    seconds, epochs, accuracy = fitted(name)
    extra = H.target("test accuracy", accuracy, floor, fmt="{:.2%}")
    if versus and not unavailable(versus[0]):
        extra.update(H.target(f"vs {versus[0]}", 100 * (accuracy - fitted(versus[0])[2]), -0.5,
                              fmt="{:+.2f} pt", key="target_relative"))
    H.report(benchmark, "accuracy", [seconds], config=source, dataset=dataset, epochs=epochs,
             test_accuracy=float(accuracy), **extra)

"""Accuracy of the documented configurations (group ``accuracy``; ``-m accuracy``, slow).

Each configuration of the issues' targets is trained once with ``fit`` on its
data set's whole standard split; the record holds the fit time, the epochs run
and the test accuracy next to its target.
"""

import pytest

import harness as H
import perceptron
import perceptron.callbacks  # noqa: F401 (a configuration names it)

#: name -> (data set, the estimator exactly as built, target test accuracy)
CONFIGS = {
    "perceptron-digits": ("digits", "PerceptronClassifier(random_state=0)", 0.95),
    "perceptron-fashion": (
        "fashion-mnist", "PerceptronClassifier(max_iter=10, random_state=0)", 0.83),
    "perceptron-sigmoid-fashion": (
        "fashion-mnist",
        "PerceptronClassifier(activation='sigmoid', max_iter=10, random_state=0)", 0.83),
    "mlp-digits": ("digits", "MLPDigitClassifier(max_iter=300, random_state=0)", 0.97),
    "mlp-fashion": (
        "fashion-mnist",
        "MLPDigitClassifier(hidden_layer_sizes=(512, 256), dropout=0.2, max_iter=20, "
        "random_state=0)", 0.89),
    "cnn-digits": (
        "digits",
        "ConvDigitClassifier(conv_layers=((32, 3), (64, 3)), dense_layers=(128,), "
        "dropout=0.4, batch_size=32, max_iter=30, random_state=0)", 0.98),
    "cnn-fashion": ("fashion-mnist", "ConvDigitClassifier(max_iter=10, random_state=0)", 0.91),
    # augmentation (#13) and a schedule: the step size follows a cosine from
    # learning_rate_init down to 0 over the 40 epochs
    "cnn-fashion-augment": (
        "fashion-mnist",
        "ConvDigitClassifier(dense_layers=(128,), dropout=0.3, "
        "augment={'shift': 2, 'flip': True, 'rotation': 5, 'zoom': 0.05}, max_iter=40, "
        "callbacks=[callbacks.LearningRateScheduler('cosine')], random_state=0)", 0.925),
}


@pytest.mark.accuracy
@pytest.mark.benchmark(group="accuracy")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", CONFIGS)
def test_accuracy(benchmark, name):
    dataset, source, target = CONFIGS[name]
    X_train, X_test, y_train, y_test = H.load_data(dataset)
    estimator = eval(source, vars(perceptron))
    benchmark.pedantic(estimator.fit, args=(X_train, y_train), rounds=1)
    benchmark.extra_info.update(timed="`fit` on the whole training set", config=source,
                                dataset=dataset, epochs=estimator.n_iter_,
                                test_accuracy=float(estimator.score(X_test, y_test)),
                                target=target)

"""Tests of perceptron.plotting: every picture is saved as a PNG and its
content (axes, images, lines, titles) is checked against the numbers it shows.

scikit-learn's MLPClassifier (fitted on load_digits) stands for the dense
networks; small fake estimators stand for ConvDigitClassifier (``filters_``,
``feature_maps``) and for estimators with ``train_scores_``.
"""

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.base import BaseEstimator, ClassifierMixin  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.linear_model import RidgeClassifier  # noqa: E402
from sklearn.metrics import confusion_matrix  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from perceptron.plotting import (plot_confusion_matrix, plot_feature_maps,  # noqa: E402
                                 plot_filters, plot_learning_curves, plot_misclassified,
                                 plot_predictions, plot_weights)


# ---------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def fit_quietly(estimator, X, y):
    # one BLAS thread: threaded BLAS on a busy 2-core machine can crawl
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


@pytest.fixture(scope="module")
def mlp(digits):
    X, y = digits
    return fit_quietly(MLPClassifier(hidden_layer_sizes=(12,), max_iter=15,
                                     random_state=0), X[:1000], y[:1000])


@pytest.fixture(scope="module")
def mlp_early(digits):
    X, y = digits
    return fit_quietly(MLPClassifier(hidden_layer_sizes=(12,), max_iter=8,
                                     early_stopping=True, n_iter_no_change=50,
                                     random_state=0), X[:1000], y[:1000])


class FakeCNN(ClassifierMixin, BaseEstimator):
    """Stands for a fitted ConvDigitClassifier on 8x8 images: two conv layers
    (6 filters 3x3 on 1 channel, then 4 filters 3x3 on 6 channels), training
    histories, and predictions of class 0 with probability 0.7."""

    def __init__(self, validation=True):
        self.validation = validation

    def fit(self, X=None, y=None):
        rng = np.random.default_rng(0)
        self.classes_ = np.arange(10)
        self.n_features_in_ = 64
        self.filters_ = [rng.normal(size=(6, 3, 3, 1)), rng.normal(size=(4, 3, 3, 6))]
        self.loss_curve_ = [2.3, 1.1, 0.6, 0.4]
        self.train_scores_ = [0.3, 0.7, 0.85, 0.9]
        self.validation_scores_ = [0.25, 0.6, 0.8, 0.82] if self.validation else None
        self.calls_ = []
        return self

    def feature_maps(self, X, layer=0):
        self.calls_.append((np.array(X), layer))
        images = X.reshape(-1, 8, 8, 1)
        n_maps = self.filters_[layer].shape[0]
        return images * np.arange(1, n_maps + 1)  # (n, 8, 8, n_maps)

    def predict_proba(self, X):
        proba = np.full((len(X), 10), 0.3 / 9)
        proba[:, 0] = 0.7
        return proba

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class Oracle(ClassifierMixin, BaseEstimator):
    """Knows the answers: predicts the labels it was fitted with, by row."""

    def fit(self, X, y):
        self.answers_ = {np.asarray(x).tobytes(): label for x, label in zip(X, y)}
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.array([self.answers_[np.asarray(x).tobytes()] for x in X])


def check_png(fig, tmp_path, name="figure.png"):
    path = tmp_path / name
    fig.savefig(path)
    assert path.exists() and path.stat().st_size > 2000
    with Image.open(path) as img:
        assert img.format == "PNG"
        img.verify()
    with Image.open(path) as img:
        assert min(img.size) > 100
    return path


def image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


# -------------------------------------------------------- confusion matrix
def test_confusion_matrix_counts(mlp, digits, tmp_path):
    X, y = digits
    fig = plot_confusion_matrix(mlp, X[1000:], y[1000:])
    check_png(fig, tmp_path)
    ax = fig.axes[0]
    expected = confusion_matrix(y[1000:], mlp.predict(X[1000:]))
    np.testing.assert_array_equal(ax.images[0].get_array(), expected)
    accuracy = np.mean(mlp.predict(X[1000:]) == y[1000:])
    assert ax.get_title() == f"Confusion matrix\nMLPClassifier, accuracy {accuracy:.3f}"
    assert ax.get_xlabel() == "Predicted label" and ax.get_ylabel() == "True label"
    # one number per cell, as integers
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 100
    assert texts[0] == str(expected[0, 0])
    assert len(fig.axes) == 2  # matrix and colour bar


def test_confusion_matrix_normalized(mlp, digits, tmp_path):
    X, y = digits
    fig = plot_confusion_matrix(mlp, X[1000:], y[1000:], normalize="true", colorbar=False)
    check_png(fig, tmp_path)
    matrix = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0)
    np.testing.assert_allclose(
        matrix, confusion_matrix(y[1000:], mlp.predict(X[1000:]), normalize="true"))
    assert "rows sum to 1" in fig.axes[0].get_title()
    assert len(fig.axes) == 1
    assert all("." in t.get_text() for t in fig.axes[0].texts)


def test_confusion_matrix_from_predictions_on_given_ax(tmp_path):
    y_true = ["cat", "dog", "dog", "bird", "cat"]
    y_pred = ["cat", "cat", "dog", "bird", "dog"]
    fig0, ax = plt.subplots()
    fig = plot_confusion_matrix(y_true, y_pred, ax=ax)
    assert fig is fig0 and ax.images
    check_png(fig, tmp_path)
    np.testing.assert_array_equal(ax.images[0].get_array(),
                                  confusion_matrix(y_true, y_pred))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["bird", "cat", "dog"]


def test_confusion_matrix_keeps_classes_absent_from_test_set(mlp, digits):
    X, y = digits
    keep = y[1000:] != 9
    fig = plot_confusion_matrix(mlp, X[1000:][keep], y[1000:][keep])
    matrix = fig.axes[0].images[0].get_array()
    assert matrix.shape == (10, 10)
    assert matrix[9].sum() == 0


def test_confusion_matrix_errors(mlp, digits):
    X, y = digits
    with pytest.raises(ValueError, match="y \\(the true labels of X\\) is required"):
        plot_confusion_matrix(mlp, X[:10])
    with pytest.raises(ValueError, match="y must be None"):
        plot_confusion_matrix(y[:10], y[:10], y[:10])
    with pytest.raises(NotFittedError):
        plot_confusion_matrix(MLPClassifier(), X[:10], y[:10])


# --------------------------------------------------------- learning curves
def test_learning_curves_sklearn_mlp_without_validation(mlp, tmp_path):
    assert mlp.validation_scores_ is None and not hasattr(mlp, "train_scores_")
    fig = plot_learning_curves(mlp)
    check_png(fig, tmp_path)
    assert len(fig.axes) == 1  # loss only: nothing to put in an accuracy panel
    (line,) = fig.axes[0].lines
    np.testing.assert_allclose(line.get_ydata(), mlp.loss_curve_)
    np.testing.assert_array_equal(line.get_xdata(), np.arange(1, len(mlp.loss_curve_) + 1))
    assert fig.axes[0].get_title() == "Loss" and fig.axes[0].get_xlabel() == "epoch"


def test_learning_curves_sklearn_mlp_with_validation(mlp_early, tmp_path):
    fig = plot_learning_curves(mlp_early)
    check_png(fig, tmp_path)
    loss_ax, acc_ax = fig.axes
    np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), mlp_early.loss_curve_)
    (line,) = acc_ax.lines
    assert line.get_label() == "validation"
    np.testing.assert_allclose(line.get_ydata(), mlp_early.validation_scores_)
    assert acc_ax.get_title() == "Accuracy"


@pytest.mark.parametrize("validation", [True, False])
def test_learning_curves_with_train_scores(validation, tmp_path):
    est = FakeCNN(validation=validation).fit()
    fig = plot_learning_curves(est)
    check_png(fig, tmp_path)
    loss_ax, acc_ax = fig.axes
    np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), est.loss_curve_)
    labels = [line.get_label() for line in acc_ax.lines]
    assert labels == (["training", "validation"] if validation else ["training"])
    np.testing.assert_allclose(acc_ax.lines[0].get_ydata(), est.train_scores_)
    if validation:
        np.testing.assert_allclose(acc_ax.lines[1].get_ydata(), est.validation_scores_)
    legend = [t.get_text() for t in acc_ax.get_legend().get_texts()]
    assert legend == labels


def test_learning_curves_on_given_axes():
    est = FakeCNN().fit()
    fig, (a, b) = plt.subplots(1, 2)
    assert plot_learning_curves(est, ax=(a, b)) is fig
    assert len(a.lines) == 1 and len(b.lines) == 2
    fig, ax = plt.subplots()
    plot_learning_curves(est, ax=ax)  # a single Axes: the loss only
    assert len(ax.lines) == 1
    with pytest.raises(ValueError, match="sequence of 1 or 2 Axes"):
        plot_learning_curves(est, ax=[ax, ax, ax])


def test_learning_curves_errors(digits):
    with pytest.raises(NotFittedError):
        plot_learning_curves(MLPClassifier())
    with pytest.raises(NotFittedError):
        plot_learning_curves(FakeCNN())
    X, y = digits
    lbfgs = fit_quietly(MLPClassifier(solver="lbfgs", max_iter=3), X[:200], y[:200])
    with pytest.raises(ValueError, match="loss_curve_.*stochastic solvers"):
        plot_learning_curves(lbfgs)


# --------------------------------------------------------- misclassified
def test_misclassified_titles_match_predictions(mlp, digits, tmp_path):
    X, y = digits
    X_test, y_test = X[1000:], y[1000:]
    fig = plot_misclassified(mlp, X_test, y_test, n=9)
    check_png(fig, tmp_path)
    y_pred = mlp.predict(X_test)
    wrong = np.flatnonzero(y_pred != y_test)
    assert len(wrong) >= 9
    proba = mlp.predict_proba(X_test)
    axes = image_axes(fig)
    assert len(axes) == len(fig.axes) == 9
    for ax, i in zip(axes, wrong[:9]):
        p = proba[i, list(mlp.classes_).index(y_pred[i])]
        assert ax.get_title() == f"true: {y_test[i]}\npred: {y_pred[i]} (p={p:.2f})"
        np.testing.assert_array_equal(ax.images[0].get_array(), X_test[i].reshape(8, 8))
    assert fig._suptitle.get_text() == (
        f"Misclassified: {len(wrong)} of {len(y_test)} (first 9 shown)\n"
        f"MLPClassifier, accuracy {1 - len(wrong) / len(y_test):.3f}")


def test_misclassified_with_fake_and_784_pixels(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((5, 784))
    y = np.array([0, 3, 0, 7, 1])
    est = FakeCNN().fit()
    fig = plot_misclassified(est, X, y)
    check_png(fig, tmp_path)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["true: 3\npred: 0 (p=0.70)", "true: 7\npred: 0 (p=0.70)",
                      "true: 1\npred: 0 (p=0.70)"]
    assert all(ax.images[0].get_array().shape == (28, 28) for ax in fig.axes)
    assert fig._suptitle.get_text() == "Misclassified: 3 of 5\nFakeCNN, accuracy 0.400"


def test_misclassified_image_shape_and_3d_input():
    X = np.random.default_rng(1).random((4, 12))
    y = np.array([1, 1, 0, 2])
    est = FakeCNN().fit()
    with pytest.raises(ValueError, match="12 features per row, which is not a square image"):
        plot_misclassified(est, X, y)
    fig = plot_misclassified(est, X, y, image_shape=(3, 4))
    assert [ax.images[0].get_array().shape for ax in fig.axes] == [(3, 4)] * 3
    # images given as (n, h, w) are shown as they are
    fig = plot_misclassified(est, X.reshape(4, 4, 3), y)
    assert fig.axes[0].images[0].get_array().shape == (4, 3)


def test_misclassified_without_predict_proba(digits):
    X, y = digits
    clf = fit_quietly(RidgeClassifier(), X[:500], y[:500])
    fig = plot_misclassified(clf, X[500:700], y[500:700], n=3)
    assert len(fig.axes) == 3
    assert all("p=" not in ax.get_title() for ax in fig.axes)


def test_nothing_misclassified_says_so(digits, tmp_path):
    X, y = digits
    oracle = Oracle().fit(X[:50], y[:50])
    fig = plot_misclassified(oracle, X[:50], y[:50])
    check_png(fig, tmp_path)
    assert len(fig.axes) == 1 and not fig.axes[0].images
    assert "No misclassified samples: all 50 correct" in fig.axes[0].texts[0].get_text()


def test_misclassified_errors(mlp, digits):
    X, y = digits
    with pytest.raises(ValueError, match="n must be a positive int"):
        plot_misclassified(mlp, X[:10], y[:10], n=0)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        plot_misclassified(mlp, X[:10], y[:9])
    with pytest.raises(NotFittedError):
        plot_misclassified(MLPClassifier(), X[:10], y[:10])


# ------------------------------------------------------------ predictions
def test_predictions_with_labels_are_coloured(mlp, digits, tmp_path):
    X, y = digits
    X_test, y_test = X[1000:1100], y[1000:1100]
    fig = plot_predictions(mlp, X_test, y_test, n=12, n_cols=6)
    check_png(fig, tmp_path)
    y_pred = mlp.predict(X_test[:12])
    assert len(fig.axes) == 12
    assert fig.axes[5].get_subplotspec().colspan.start == 5  # 6 columns
    for ax, t, p, x in zip(fig.axes, y_test, y_pred, X_test):
        q = mlp.predict_proba(x[None])[0, p]
        assert ax.get_title() == f"true: {t}\npred: {p} (p={q:.2f})"
        expected = "green" if t == p else "red"
        assert matplotlib.colors.same_color(ax.title.get_color(), expected)
        np.testing.assert_array_equal(ax.images[0].get_array(), x.reshape(8, 8))
    n_right = int(np.sum(y_pred == y_test[:12]))
    assert fig._suptitle.get_text() == f"Predictions: {n_right} of 12 correct\nMLPClassifier"


def test_predictions_without_labels(mlp, digits, tmp_path):
    X, _ = digits
    fig = plot_predictions(mlp, X[:5])  # fewer samples than n
    check_png(fig, tmp_path)
    proba = mlp.predict_proba(X[:5])
    assert [ax.get_title() for ax in fig.axes] == [
        f"pred: {p} (p={q:.2f})" for p, q in zip(mlp.predict(X[:5]), proba.max(axis=1))]
    assert fig._suptitle.get_text() == "Predictions of MLPClassifier"
    with pytest.raises(ValueError, match="X contains no samples"):
        plot_predictions(mlp, X[:0])


# ---------------------------------------------------------------- weights
def test_weights_of_hidden_units(mlp, tmp_path):
    fig = plot_weights(mlp)
    check_png(fig, tmp_path)
    W = mlp.coefs_[0]
    axes = image_axes(fig)
    assert len(axes) == 12 and len(fig.axes) == 13  # 12 units + colour bar
    vmax = np.abs(W).max()
    for k, ax in enumerate(axes):
        image = ax.images[0]
        np.testing.assert_array_equal(image.get_array(), W[:, k].reshape(8, 8))
        assert image.get_clim() == pytest.approx((-vmax, vmax))  # centred at 0
        assert image.get_cmap().name == "RdBu_r"
        assert ax.get_title() == f"unit {k}"
    fig = plot_weights(mlp, max_units=5, colorbar=False)
    assert len(fig.axes) == 5
    assert fig._suptitle.get_text() == "First-layer weights (5 of 12 units)\nMLPClassifier"


def test_weights_of_a_single_layer_are_titled_by_class(digits, tmp_path):
    X, y = digits
    perceptron = fit_quietly(MLPClassifier(hidden_layer_sizes=(), max_iter=5,
                                           random_state=0), X[:500], y[:500])
    assert len(perceptron.coefs_) == 1
    fig = plot_weights(perceptron)
    check_png(fig, tmp_path)
    assert [ax.get_title() for ax in image_axes(fig)] == [f"class {k}" for k in range(10)]
    # linear models: coef_ of shape (n_classes, n_features)
    ridge = fit_quietly(RidgeClassifier(), X[:500], y[:500])
    fig = plot_weights(ridge)
    axes = image_axes(fig)
    assert len(axes) == 10
    np.testing.assert_array_equal(axes[3].images[0].get_array(), ridge.coef_[3].reshape(8, 8))


def test_weights_errors(mlp):
    with pytest.raises(NotFittedError):
        plot_weights(MLPClassifier())
    with pytest.raises(ValueError, match="coefs_.*use plot_filters"):
        plot_weights(FakeCNN().fit())
    with pytest.raises(ValueError, match="means 16 pixels per image, but the model has 64"):
        plot_weights(mlp, image_shape=(4, 4))
    with pytest.raises(ValueError, match="max_units must be a positive int"):
        plot_weights(mlp, max_units=0)


# ---------------------------------------------------------------- filters
def test_filters_of_first_layer(tmp_path):
    est = FakeCNN().fit()
    fig = plot_filters(est)
    check_png(fig, tmp_path)
    axes = image_axes(fig)
    assert len(axes) == 6
    weights = est.filters_[0]
    vmax = np.abs(weights).max()
    for k, ax in enumerate(axes):
        np.testing.assert_array_equal(ax.images[0].get_array(), weights[k, :, :, 0])
        assert ax.images[0].get_clim() == pytest.approx((-vmax, vmax))
        assert ax.get_title() == f"filter {k}"
    assert fig._suptitle.get_text() == "Layer 0 filters\nFakeCNN"


def test_filters_of_deeper_layer_mean_or_channel(tmp_path):
    est = FakeCNN().fit()
    fig = plot_filters(est, layer=1)
    check_png(fig, tmp_path)
    axes = image_axes(fig)
    assert len(axes) == 4
    np.testing.assert_allclose(axes[2].images[0].get_array(),
                               est.filters_[1][2].mean(axis=-1))
    assert "mean over input channels" in fig._suptitle.get_text()
    fig = plot_filters(est, layer=1, channel=5, max_filters=3, colorbar=False)
    assert len(fig.axes) == 3
    np.testing.assert_array_equal(fig.axes[1].images[0].get_array(),
                                  est.filters_[1][1, :, :, 5])


def test_filters_errors(mlp):
    est = FakeCNN().fit()
    with pytest.raises(ValueError, match="layer must be an int in \\[0, 2\\)"):
        plot_filters(est, layer=2)
    with pytest.raises(ValueError, match="channel must be None or an int in \\[0, 1\\)"):
        plot_filters(est, channel=1)
    with pytest.raises(ValueError, match="filters_.*use plot_weights"):
        plot_filters(mlp)
    with pytest.raises(NotFittedError):
        plot_filters(FakeCNN())


# ----------------------------------------------------------- feature maps
@pytest.mark.parametrize("shape", [(64,), (1, 64), (8, 8)])
def test_feature_maps(shape, digits, tmp_path):
    X, _ = digits
    est = FakeCNN().fit()
    x = X[0].reshape(shape)
    fig = plot_feature_maps(est, x)
    check_png(fig, tmp_path)
    # the estimator was asked for one flattened sample
    (called, layer), = est.calls_
    assert called.shape == (1, 64) and layer == 0
    expected = est.feature_maps(X[:1], layer=0)[0]
    axes = image_axes(fig)
    assert len(axes) == 7
    assert axes[0].get_title() == "input"  # the image itself comes first
    np.testing.assert_array_equal(axes[0].images[0].get_array(), X[0].reshape(8, 8))
    for k, ax in enumerate(axes[1:]):
        np.testing.assert_array_equal(ax.images[0].get_array(), expected[:, :, k])
        assert ax.get_title() == f"map {k}"


def test_feature_maps_of_deeper_layer(digits):
    X, _ = digits
    est = FakeCNN().fit()
    fig = plot_feature_maps(est, X[3], layer=1, max_maps=3, colorbar=False)
    assert est.calls_[0][1] == 1
    assert len(fig.axes) == 4
    assert fig._suptitle.get_text() == "Layer 1 feature maps (3 of 4)\nFakeCNN"


def test_feature_maps_errors(digits):
    X, _ = digits
    est = FakeCNN().fit()
    with pytest.raises(ValueError, match="x must be one image of 64 pixels"):
        plot_feature_maps(est, X[:2])
    with pytest.raises(ValueError, match="x must be one image"):
        plot_feature_maps(est, X[0][:50])
    with pytest.raises(NotFittedError):
        plot_feature_maps(FakeCNN(), X[0])


# ------------------------------------------------- a model that knows its data
def test_class_names_and_data_set_name_appear_everywhere(digits, tmp_path):
    from perceptron import PerceptronClassifier

    X, y = digits
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
             "nine"]
    clf = PerceptronClassifier(max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X[:1000], y[:1000])
    clf.class_names_, clf.dataset_name_ = np.array(names), "digits"
    X_test, y_test = X[1000:], y[1000:]
    accuracy = clf.score(X_test, y_test)
    caption = f"PerceptronClassifier on digits, accuracy {accuracy:.3f}"

    fig = plot_confusion_matrix(clf, X_test, y_test)
    check_png(fig, tmp_path)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert [t.get_text() for t in ax.get_yticklabels()] == names
    assert ax.get_title() == "Confusion matrix\n" + caption

    fig = plot_misclassified(clf, X_test, y_test, n=4)
    y_pred = clf.predict(X_test)
    first = np.flatnonzero(y_pred != y_test)[0]
    assert fig.axes[0].get_title().startswith(
        f"true: {names[y_test[first]]}\npred: {names[y_pred[first]]} (p=")
    assert fig._suptitle.get_text().endswith("\n" + caption)

    fig = plot_predictions(clf, X_test, y_test, n=4)
    p = clf.predict_proba(X_test[:1])[0]
    assert fig.axes[0].get_title() == (
        f"true: {names[y_test[0]]}\npred: {names[p.argmax()]} (p={p.max():.2f})")
    assert fig._suptitle.get_text().endswith("\nPerceptronClassifier on digits")

    fig = plot_weights(clf)
    assert [ax.get_title() for ax in image_axes(fig)] == names
    plt.close("all")

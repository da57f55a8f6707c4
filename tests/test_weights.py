"""Sample weights and class weights of the three estimators.

The definitions (the weighted mean loss and its L2 term) are checked against
scikit-learn and finite differences in ``test_dense_kernels.py``, and the
fused step against the layer-by-layer one in ``test_stack_kernel.py``; here,
what a user sees: a weight of 0 removes a sample, an integer weight ``k``
repeats it ``k`` times, ``class_weight`` is scikit-learn's, and bad weights
are refused before anything is trained.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import recall_score
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight

from perceptron import ConvDigitClassifier, MLPDigitClassifier, PerceptronClassifier, load
from perceptron.datasets import load_digits

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# float64, one full batch, no shuffling: the setting in which weights and
# repetitions are the same computation up to the order of the sums
EXACT = dict(batch_size=1000, shuffle=False, dtype="float64", max_iter=15, random_state=0)
ESTIMATORS = {
    "perceptron": lambda **kw: PerceptronClassifier(**{**EXACT, **kw}),
    "mlp": lambda **kw: MLPDigitClassifier((12, 8), **{**EXACT, "alpha": 1e-3, **kw}),
    "cnn": lambda **kw: ConvDigitClassifier(conv_layers=((3, 3),), dense_layers=(8,),
                                            **{**EXACT, "alpha": 1e-3, **kw}),
}


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(subset="train", return_X_y=True)
    return X[:150], y[:150]


def assert_same_model(a, b, X, rtol=1e-9):
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=rtol)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_integer_weight_is_repetition_and_zero_is_removal(name, data):
    X, y = data
    w = np.random.default_rng(0).integers(0, 4, len(y))
    weighted = ESTIMATORS[name]().fit(X, y, sample_weight=w)
    repeated = ESTIMATORS[name]().fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    assert_same_model(weighted, repeated, X)
    # the same with partial_fit, epoch by epoch
    a, b = ESTIMATORS[name](), ESTIMATORS[name]()
    for _ in range(3):
        a.partial_fit(X, y, classes=np.arange(10), sample_weight=w)
        b.partial_fit(np.repeat(X, w, axis=0), np.repeat(y, w), classes=np.arange(10))
    assert_same_model(a, b, X)


def test_zero_weight_batch_is_skipped_like_a_removed_one(data):
    """Mini-batches of 30 rows, no shuffling: a batch whose weights are all 0
    changes nothing (no step, no optimizer state), as if it were not there."""
    X, y = data
    w = np.ones(len(y))
    w[60:90] = 0
    kw = dict(batch_size=30, shuffle=False, max_iter=4, random_state=0)
    weighted = MLPDigitClassifier((16,), **kw).fit(X, y, sample_weight=w)
    removed = MLPDigitClassifier((16,), **kw).fit(np.delete(X, np.s_[60:90], axis=0),
                                                  np.delete(y, np.s_[60:90]))
    np.testing.assert_array_equal(weighted._network.params, removed._network.params)
    assert weighted._optimizer.n_steps == removed._optimizer.n_steps == 4 * 4
    np.testing.assert_allclose(weighted.loss_curve_, removed.loss_curve_, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_unit_weights_change_no_bit(name, data):
    """Weights of 1 (and, without L2, weights all equal to 4) take the
    weighted path and give the unweighted model, bit for bit."""
    X, y = data
    plain = ESTIMATORS[name](alpha=0.0).fit(X, y)
    ones = ESTIMATORS[name](alpha=0.0).fit(X, y, sample_weight=np.ones(len(y)))
    fours = ESTIMATORS[name](alpha=0.0).fit(X, y, sample_weight=4.0)
    for other in (ones, fours):
        np.testing.assert_array_equal(plain._network.params, other._network.params)
        assert plain.loss_curve_ == other.loss_curve_


def test_float32_weights_match_repetitions_closely(data):
    """The default precision: a row of weight k and its k copies are summed
    in another order, so the models are only close."""
    X, y = data
    w = np.random.default_rng(1).integers(1, 3, len(y))
    kw = dict(max_iter=30, random_state=0, batch_size=1000, shuffle=False)
    a = MLPDigitClassifier((16,), **kw).fit(X, y, sample_weight=w)
    b = MLPDigitClassifier((16,), **kw).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-4)


def test_class_weight_is_sklearns(data):
    X, y = data
    cw = {0: 5.0, 3: 0.5, 7: 2}
    by_class = ESTIMATORS["mlp"](class_weight=cw).fit(X, y)
    by_sample = ESTIMATORS["mlp"]().fit(X, y, sample_weight=compute_sample_weight(cw, y))
    np.testing.assert_array_equal(by_class._network.params, by_sample._network.params)
    # "balanced" multiplies into sample_weight
    sw = np.random.default_rng(2).random(len(y)) + 0.5
    balanced = ESTIMATORS["mlp"](class_weight="balanced").fit(X, y, sample_weight=sw)
    by_sample = ESTIMATORS["mlp"]().fit(
        X, y, sample_weight=sw * compute_sample_weight("balanced", y))
    np.testing.assert_array_equal(balanced._network.params, by_sample._network.params)


def test_balanced_raises_the_recall_of_a_rare_class():
    X, y = load_digits(subset="train", return_X_y=True)
    X_test, y_test = load_digits(subset="test", return_X_y=True)
    keep = (y != 3) | (np.cumsum(y == 3) <= 8)  # 8 threes among ~1300 images
    kw = dict(hidden_layer_sizes=(32,), max_iter=40, random_state=0)
    plain = MLPDigitClassifier(**kw).fit(X[keep], y[keep])
    balanced = MLPDigitClassifier(class_weight="balanced", **kw).fit(X[keep], y[keep])
    recall = [recall_score(y_test, m.predict(X_test), labels=[3], average=None)[0]
              for m in (plain, balanced)]
    assert recall[0] < 0.3 and recall[1] > 0.6  # 0.0 and 0.86 on this machine


def test_partial_fit_class_weights():
    X, y = load_digits(subset="train", return_X_y=True)
    with pytest.raises(ValueError, match="'balanced' is not supported for partial_fit"):
        MLPDigitClassifier(class_weight="balanced").partial_fit(X, y, classes=np.arange(10))
    # a dict holds for every call, even for a batch without some classes
    classes = np.arange(10)
    weights = compute_class_weight("balanced", classes=classes, y=y)
    clf = MLPDigitClassifier((16,), class_weight=dict(zip(classes, weights)), random_state=0)
    clf.partial_fit(X[y < 5], y[y < 5], classes=classes)
    clf.partial_fit(X[y >= 5], y[y >= 5])
    ref = MLPDigitClassifier((16,), random_state=0)
    ref.partial_fit(X[y < 5], y[y < 5], classes=classes,
                    sample_weight=weights[y[y < 5]])
    ref.partial_fit(X[y >= 5], y[y >= 5], sample_weight=weights[y[y >= 5]])
    np.testing.assert_array_equal(clf._network.params, ref._network.params)


@pytest.mark.parametrize("sample_weight, message", [
    (-1.0, "Negative values in data passed to `sample_weight`"),
    ("negative", "Negative values in data passed to `sample_weight`"),
    ("nan", "Input sample_weight contains NaN"),
    ("inf", "Input sample_weight contains infinity"),
    ("short", r"sample_weight.shape == \(149,\), expected \(150,\)"),
    ("2d", "Sample weights must be 1D array or scalar"),
    ("zeros", "Sample weights must contain at least one non-zero number"),
])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_bad_sample_weights_are_refused_and_leave_the_model(data, sample_weight, message,
                                                            method):
    X, y = data
    n = len(y)
    weights = {"negative": np.r_[np.ones(n - 1), -1.0], "nan": np.r_[np.ones(n - 1), np.nan],
               "inf": np.r_[np.ones(n - 1), np.inf], "short": np.ones(n - 1),
               "2d": np.ones((n, 1)), "zeros": np.zeros(n)}
    sample_weight = weights.get(sample_weight, sample_weight)
    clf = MLPDigitClassifier((8,), max_iter=3, random_state=0).fit(X, y)
    before = clf.predict_proba(X)
    kwargs = {"classes": np.arange(10)} if method == "partial_fit" else {}
    with pytest.raises(ValueError, match=message):
        getattr(clf, method)(X, y, sample_weight=sample_weight, **kwargs)
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    assert clf.n_iter_ == 3


@pytest.mark.parametrize("class_weight, message", [
    ({0: -1.0}, "class_weight must map class labels to finite numbers >= 0"),
    ({0: np.nan}, "class_weight must map class labels to finite numbers >= 0"),
    ({0: "2"}, "class_weight must map class labels to finite numbers >= 0"),
    ("balance", "class_weight must be None, 'balanced' or a dict"),
    ([1.0, 2.0], "class_weight must be None, 'balanced' or a dict"),
    ({0: 2.0, 11: 3.0}, r"The classes, \[1, 2, .*\], are not in class_weight"),
    ({k: 0.0 for k in range(10)}, "every sample has a weight of 0"),
])
def test_bad_class_weights_are_refused(data, class_weight, message):
    X, y = data
    with pytest.raises(ValueError, match=message):
        MLPDigitClassifier((8,), class_weight=class_weight).fit(X, y)


def test_early_stopping_splits_the_weights(data):
    X, y = data
    w = np.random.default_rng(3).integers(0, 3, len(y)).astype(float)
    clf = MLPDigitClassifier((16,), early_stopping=True, max_iter=5, random_state=0)
    clf.fit(X, y, sample_weight=w)
    assert len(clf.validation_scores_) == 5
    # one sample of weight 1: the training or the validation part weighs nothing
    with pytest.raises(ValueError, match="set are all zero"):
        MLPDigitClassifier((16,), early_stopping=True, random_state=0).fit(
            X[:20], y[:20] % 2, sample_weight=np.r_[1.0, np.zeros(19)])


def test_class_weight_dict_survives_saving(data, tmp_path):
    X, y = data
    cw = {np.int64(0): 3.0, 4: 0.5}
    clf = MLPDigitClassifier((8,), max_iter=3, class_weight=cw, random_state=0).fit(X, y)
    restored = load(clf.save(tmp_path / "model"))
    assert restored.class_weight == {0: 3.0, 4: 0.5}
    assert all(type(k) is int for k in restored.class_weight)
    restored.partial_fit(X, y)  # the labels still match the classes
    clf.partial_fit(X, y)
    np.testing.assert_array_equal(restored._network.params, clf._network.params)


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_validation_figures_are_weighted_means(name, data):
    """``Network.evaluate`` (the validation loss and accuracy of each epoch)
    with the held-out samples' weights: the weighted means of each row's."""
    X, y = data
    clf = ESTIMATORS[name](max_iter=2).fit(X, y)
    net, y_idx = clf._network, y.astype(np.intp)
    X_in = clf._network_input(np.ascontiguousarray(X, dtype=net.dtype))
    w = np.random.default_rng(4).random(len(y)) * 3
    w[::4] = 0
    per_row = np.array([net.evaluate(X_in[i:i + 1], y_idx[i:i + 1]) for i in range(len(y))])
    loss, accuracy = net.evaluate(X_in, y_idx, w)
    assert loss == pytest.approx(np.average(per_row[:, 0], weights=w), rel=1e-10)
    assert accuracy == pytest.approx(np.average(per_row[:, 1], weights=w), rel=1e-12)
    assert net.evaluate(X_in, y_idx, np.ones(len(y))) == pytest.approx(net.evaluate(X_in, y_idx),
                                                                       rel=1e-12)

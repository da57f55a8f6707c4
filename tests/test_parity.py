"""What makes the estimators a drop-in for scikit-learn's MLPClassifier (issue #19).

Binary problems with one logistic unit, multi-label targets, sparse input,
assignable ``coefs_`` / ``intercepts_`` and scikit-learn's counters, for the
three estimators where they share the code (scikit-learn's own test file runs
in ``test_sklearn_mlp_suite.py``).
"""

import json
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning

import perceptron
from perceptron import ConvDigitClassifier, MLPDigitClassifier, PerceptronClassifier
from perceptron.datasets import load_digits

ESTIMATORS = {
    "perceptron": lambda **p: PerceptronClassifier(**{"max_iter": 30, "random_state": 0, **p}),
    "mlp": lambda **p: MLPDigitClassifier((16,), **{"max_iter": 30, "random_state": 0, **p}),
    "cnn": lambda **p: ConvDigitClassifier(conv_layers=((4, 3),), dense_layers=(8,),
                                           **{"max_iter": 5, "random_state": 0, **p}),
}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(subset="train", return_X_y=True)
    return X[:400], y[:400]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


# --------------------------------------------------------------- two classes
@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
def test_two_classes_get_one_logistic_unit(name, output, digits):
    X, y = digits
    keep = (y == 3) | (y == 8)
    labels = np.where(y[keep] == 3, "three", "eight")
    param = "activation" if name == "perceptron" else "output_activation"
    clf = ESTIMATORS[name](**{param: output}).fit(X[keep], labels)
    assert list(clf.classes_) == ["eight", "three"]
    assert clf.n_outputs_ == 1 and clf.out_activation_ == "logistic"
    assert clf.coefs_[-1].shape[1] == 1 and clf.intercepts_[-1].shape == (1,)
    proba = clf.predict_proba(X[keep])
    assert proba.shape == (keep.sum(), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    # the unit is the probability of classes_[1]
    logit = clf._network.decision_function(
        clf._network_input(X[keep].astype(clf._network.dtype)))[:, 0]
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-logit.astype(float))),
                               rtol=1e-5)
    np.testing.assert_array_equal(clf.predict(X[keep]), clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X[keep], labels) > 0.85
    # the training accuracy counts a row right when the unit is on its side of 0.5
    assert 0 < clf.train_scores_[-1] <= 1


# --------------------------------------------------------------- multi-label
@pytest.fixture(scope="module")
def multilabel():
    X, Y = make_multilabel_classification(n_samples=120, n_features=16, n_classes=4,
                                          random_state=0)
    return X / X.max(), Y


@pytest.mark.parametrize("name", ESTIMATORS)
def test_multilabel_targets_train_one_sigmoid_per_label(name, multilabel):
    X, Y = multilabel
    clf = ESTIMATORS[name](**({"max_iter": 60} if name == "cnn" else {"max_iter": 300}))
    if name == "cnn":
        clf.set_params(pool_size=None)
    clf.fit(X, Y)
    assert list(clf.classes_) == [0, 1, 2, 3]
    assert clf.n_outputs_ == 4 and clf.out_activation_ == "logistic"
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape and ((proba >= 0) & (proba <= 1)).all()
    assert not np.allclose(proba.sum(axis=1), 1)  # each label on its own
    predicted = clf.predict(X)
    np.testing.assert_array_equal(predicted, (proba > 0.5).astype(int))
    # score is scikit-learn's subset accuracy, and the training beat the all-zero guess
    assert clf.score(X, Y) == np.mean((predicted == Y).all(axis=1))
    assert np.mean(predicted == Y) > np.mean(Y == 0)


def test_multilabel_partial_fit_early_stopping_and_errors(multilabel):
    X, Y = multilabel
    clf = MLPDigitClassifier((16,), solver="sgd", learning_rate_init=0.2, random_state=0)
    for _ in range(20):
        clf.partial_fit(X, Y, classes=[0, 1, 2, 3])
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 20
    with pytest.raises(ValueError, match="label columns"):
        clf.partial_fit(X, Y[:, :3])
    with pytest.raises(ValueError, match="kind of target"):
        clf.partial_fit(X, Y[:, 0])
    with pytest.raises(ValueError, match="classes="):
        MLPDigitClassifier().partial_fit(X, Y, classes=[0, 1])
    # early stopping splits multi-label targets without stratifying (as scikit-learn)
    MLPDigitClassifier((8,), early_stopping=True, max_iter=5).fit(X, Y).predict(X)
    with pytest.raises(ValueError, match="multi-label y has none"):
        MLPDigitClassifier(class_weight="balanced").fit(X, Y)
    with pytest.raises(ValueError, match="indicator matrix of labels"):
        MLPDigitClassifier().fit(X, Y + (np.arange(len(Y)) % 2)[:, None])  # multi-output
    with pytest.raises(ValueError, match="holds 0 and 1 only"):
        MLPDigitClassifier().fit(X, 3 * Y)


# --------------------------------------------------------------- sparse input
@pytest.mark.parametrize("name", ["perceptron", "mlp"])
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_x_trains_and_predicts_as_dense(name, fmt, digits):
    X, y = digits
    dense = ESTIMATORS[name]().fit(X, y)
    sparse = ESTIMATORS[name]().fit(sp.csr_matrix(X).asformat(fmt), y)
    np.testing.assert_allclose(sparse._network.params, dense._network.params,
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(sparse.predict_proba(sp.csr_matrix(X).asformat(fmt)),
                               dense.predict_proba(X), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(sparse.predict(sp.csr_matrix(X)), sparse.predict(X))
    # sparse data with early stopping, lbfgs and partial_fit
    ESTIMATORS[name](early_stopping=True).fit(sp.csr_matrix(X), y)
    ESTIMATORS[name](solver="lbfgs").fit(sp.csr_matrix(X), y)
    sparse.partial_fit(sp.csr_matrix(X), y)
    bad = sp.csr_matrix(X)
    bad.data[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        sparse.predict(bad)


def test_the_cnn_takes_dense_images_only(digits):
    X, y = digits
    with pytest.raises(TypeError, match="dense data is required"):
        ESTIMATORS["cnn"]().fit(sp.csr_matrix(X), y)


# --------------------------------------------------------------- coefs_, intercepts_
def test_coefs_and_intercepts_can_be_assigned(digits):
    X, y = digits
    clf = ESTIMATORS["mlp"]().fit(X, y)
    other = ESTIMATORS["mlp"](random_state=1).fit(X, y)
    clf.coefs_ = other.coefs_
    clf.intercepts_ = [b.copy() for b in other.intercepts_]
    np.testing.assert_array_equal(clf.predict_proba(X), other.predict_proba(X))
    clf.coefs_[1] = np.zeros((16, 10))  # one entry: copied into the model too
    clf.intercepts_[1] = np.arange(10.0)
    assert (clf.predict(X) == 9).all()
    before = clf._network.params.copy()
    with pytest.raises(ValueError, match=r"coefs_\[1\] must have shape \(16, 10\)"):
        clf.coefs_ = [np.ones((64, 16)), np.ones((10, 16))]
    with pytest.raises(ValueError, match="2 arrays"):
        clf.intercepts_ = [np.zeros(16)]
    with pytest.raises(ValueError, match="NaN or infinity"):
        clf.coefs_[0] = np.full((64, 16), np.nan)
    with pytest.raises(TypeError):
        clf.coefs_[:] = []
    np.testing.assert_array_equal(clf._network.params, before)  # nothing was changed


@pytest.mark.parametrize("name", ESTIMATORS)
def test_weights_assigned_before_fitting_are_where_training_starts(name, digits):
    """scikit-learn's own test_fit sets the weights, then calls partial_fit."""
    X, y = digits
    shapes = ESTIMATORS[name]().fit(X, y)
    rng = np.random.default_rng(3)
    coefs = [rng.standard_normal(w.shape) * 0.1 for w in shapes.coefs_]
    intercepts = [np.full(b.shape, 0.5) for b in shapes.intercepts_]
    # an SGD step too small to move them: the weights after one epoch are the given ones
    clf = ESTIMATORS[name](solver="sgd", learning_rate_init=1e-12)
    clf.coefs_ = coefs
    clf.intercepts_ = intercepts
    assert clf.coefs_ is coefs  # kept as given until the first fit
    clf.partial_fit(X, y, classes=np.unique(y))
    for got, given in zip(clf.coefs_ + clf.intercepts_, coefs + intercepts):
        np.testing.assert_allclose(got, given, rtol=1e-6, atol=1e-9)
    bad = ESTIMATORS[name]()
    bad.coefs_ = [np.zeros((3, 3))]
    with pytest.raises(ValueError, match=r"coefs_(\[0\] must have shape| must hold)"):
        bad.fit(X, y)
    assert not hasattr(bad, "classes_") and bad.coefs_[0].shape == (3, 3)  # as it was


# --------------------------------------------------------------- counters and state
def test_counters_follow_scikit_learn(digits):
    X, y = digits
    clf = ESTIMATORS["mlp"](max_iter=3, warm_start=True).fit(X, y)
    assert clf.n_iter_ == 3 and clf.best_loss_ == min(clf.loss_curve_)
    clf.fit(X, y)  # a warm start runs max_iter more epochs: n_iter_ counts them
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 6 and clf.t_ == 6 * len(y)
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == len(clf.history_["loss"]) == 7
    with pytest.raises(ValueError, match="same classes as in the previous call to fit"):
        clf.fit(X[y < 9], y[y < 9])
    stopped = ESTIMATORS["mlp"](early_stopping=True, max_iter=5).fit(X, y)
    assert stopped.best_loss_ is None and stopped.best_validation_score_ is not None
    before = stopped._network.params.copy()
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        stopped.partial_fit(X, y)
    np.testing.assert_array_equal(stopped._network.params, before)
    assert stopped.n_layers_ == 3 and ESTIMATORS["cnn"]().fit(X, y).n_layers_ == 4


def test_n_iter_no_change_inf_never_stops_and_saves(digits, tmp_path):
    X, y = digits
    clf = ESTIMATORS["perceptron"](n_iter_no_change=np.inf, tol=1e9, max_iter=40).fit(X, y)
    assert clf.n_iter_ == 40 and clf._no_improvement_count == 39
    loaded = perceptron.load(clf.save(tmp_path / "inf"))
    assert loaded.n_iter_no_change == np.inf


def test_a_class_too_small_to_stratify_is_an_error(digits):
    X, y = digits
    labels = np.where(np.arange(len(y)) == 5, "rare", y.astype(str))
    with pytest.raises(ValueError, match=r"only 1 member.*\['rare'\].*pass X_val"):
        ESTIMATORS["mlp"](early_stopping=True).fit(X, labels)
    # a validation set of one's own needs no split
    ESTIMATORS["mlp"](early_stopping=True, max_iter=2).fit(X, labels, X_val=X, y_val=labels)


def test_a_failed_partial_fit_restores_the_step_size(digits):
    X, y = digits
    clf = ESTIMATORS["mlp"](solver="sgd", learning_rate="invscaling").fit(X, y)
    lr = clf._optimizer.learning_rate
    bad = X.copy()
    bad[-1, 0] = 1e30  # diverges at the last batch, after the step size moved
    with pytest.raises(ValueError, match="diverged"):
        clf.set_params(learning_rate_init=1e6).partial_fit(bad, y)
    assert clf._optimizer.learning_rate == lr


def test_a_binary_model_saved_before_one_logistic_unit_still_loads(digits, tmp_path):
    """Files written when two classes had two softmax outputs (format version 1)
    load as such, and predict as before."""
    X, y = digits
    keep = y < 2
    old = ESTIMATORS["mlp"]()
    old._validate_params()
    old.classes_ = np.array([0, 1])
    old._label_encoder = __import__("sklearn.preprocessing").preprocessing.LabelEncoder().fit(
        [0, 1])
    old.n_features_in_ = 64
    old._initialize(64, "multiclass")  # the old layout: one output per class
    assert old.coefs_[-1].shape == (16, 2)
    old.fit_time_ = 0.0
    old.history_ = {}
    path = old.save(tmp_path / "old")
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(arrays["__meta__"].tobytes())
    del meta["target_type"]
    meta["format_version"] = 1
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    loaded = perceptron.load(path)
    assert loaded.coefs_[-1].shape == (16, 2) and loaded.n_outputs_ == 2
    np.testing.assert_array_equal(loaded.predict_proba(X[keep]), old.predict_proba(X[keep]))


@pytest.mark.parametrize("target", ["binary", "multilabel"])
def test_binary_and_multilabel_models_save_and_load(target, digits, multilabel, tmp_path):
    if target == "binary":
        X, y = digits
        X, y = X[y < 2], np.array(["no", "yes"])[y[y < 2]]
    else:
        X, y = multilabel
    clf = ESTIMATORS["mlp"]().fit(X, y)
    loaded = perceptron.load(clf.save(tmp_path / target))
    assert loaded.n_outputs_ == clf.n_outputs_ and loaded.out_activation_ == "logistic"
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    loaded.partial_fit(X, y)  # and it trains on

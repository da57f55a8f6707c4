"""solver="lbfgs": full-batch L-BFGS with the loss and gradient from the package's kernels."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import perceptron
from perceptron import ConvDigitClassifier, MLPDigitClassifier, PerceptronClassifier
from perceptron._engine import make_network
from perceptron._lbfgs import LossGradient
from perceptron._network import Network
from perceptron.callbacks import EarlyStopping, LearningRateScheduler
from perceptron.layers import Conv2D, Dense, Flatten


@pytest.fixture(scope="module")
def digits(digits_split):
    return digits_split


def _targets(kind, n, rng):
    """0/1 targets of each kind: one-hot classes, a binary unit, multi-label."""
    if kind == "binary":
        return (rng.random((n, 1)) < 0.5).astype(np.uint8)
    if kind == "multilabel":
        return (rng.random((n, 3)) < 0.4).astype(np.uint8)
    return np.eye(3, dtype=np.uint8)[rng.integers(0, 3, n)]


@pytest.mark.parametrize("kind,output", [("classes", "softmax"), ("classes", "sigmoid"),
                                         ("binary", "independent"),
                                         ("multilabel", "independent")])
@pytest.mark.parametrize("weighted", [False, True])
def test_objective_gradient_matches_finite_differences(kind, output, weighted):
    """The objective scipy minimises: its gradient is that of its value, L2 term and
    sample weights included, in float64 (scikit-learn's own check, on our kernels)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((9, 5))
    T = _targets(kind, 9, rng)
    net = make_network([Dense(4, "tanh"), Dense(3, "logistic"), Dense(T.shape[1])],
                       output=output, dtype=np.float64).build((5,), rng)
    w = rng.random(9) * 2 if weighted else None
    objective = LossGradient(net, X, T, alpha=0.3, sample_weight=w)
    theta = rng.standard_normal(net.params.size) * 0.5
    _, grad = objective(theta)
    grad = grad.copy()
    eps = 1e-6
    numeric = np.empty_like(theta)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = eps
        numeric[i] = (objective(theta + step)[0] - objective(theta - step)[0]) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)
    assert objective.n_evaluations == 1 + 2 * theta.size


@pytest.mark.parametrize("engine", ["dense", "conv"])
def test_objective_in_blocks_equals_one_pass(engine, monkeypatch):
    """A large data set is evaluated block by block of rows: the same value and
    gradient as in one pass (each block weighted by its share)."""
    rng = np.random.default_rng(1)
    if engine == "dense":
        layers, shape = [Dense(6, "relu"), Dense(3)], (8,)
    else:
        layers, shape = [Conv2D(2, 3, activation="relu"), Flatten(), Dense(3)], (5, 5, 1)
    X = rng.standard_normal((2500,) + shape)
    T = np.eye(3, dtype=np.uint8)[rng.integers(0, 3, 2500)]
    w = rng.random(2500)
    net = make_network(layers, dtype=np.float64).build(shape, rng)
    theta = net.params.astype(np.float64)
    one_loss, one_grad = LossGradient(net, X, T, 0.1, w)(theta)
    one_grad = one_grad.copy()
    monkeypatch.setattr(type(net), "predict_batch_size", lambda self: 1000)
    blocks = LossGradient(net, X, T, 0.1, w)
    assert len(blocks._blocks) == 3
    loss, grad = blocks(theta)
    assert loss == pytest.approx(one_loss, rel=1e-12)
    np.testing.assert_allclose(grad, one_grad, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("make", [
    lambda **p: PerceptronClassifier(solver="lbfgs", alpha=1e-3, **p),
    lambda **p: MLPDigitClassifier((32,), solver="lbfgs", **p),
    lambda **p: MLPDigitClassifier((32,), solver="lbfgs", dtype="float64", **p),
], ids=["perceptron", "mlp", "mlp-float64"])
def test_lbfgs_learns_digits_and_records_each_iteration(make, digits):
    X_train, X_test, y_train, y_test = digits
    clf = make(max_iter=300, random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.93
    assert 1 <= clf.n_iter_ <= 300
    # one history row per L-BFGS iteration; no step size
    assert len(clf.loss_curve_) == clf.n_iter_ == len(clf.history_["loss"])
    assert np.isnan(clf.history_["lr"]).all()
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.loss_ == pytest.approx(clf.loss_curve_[-1], rel=1e-6)
    assert not hasattr(clf, "_optimizer") and clf.t_ == 0
    again = make(max_iter=300, random_state=0).fit(X_train, y_train)
    np.testing.assert_array_equal(again._network.params, clf._network.params)


def test_max_iter_and_max_fun_end_lbfgs_with_a_convergence_warning(digits):
    X_train, _, y_train, _ = digits
    with pytest.warns(ConvergenceWarning, match=r"lbfgs failed to converge after 5 "):
        clf = MLPDigitClassifier((16,), solver="lbfgs", max_iter=5, random_state=0).fit(
            X_train, y_train)
    assert clf.n_iter_ == 5
    with pytest.warns(ConvergenceWarning, match="EVALUATIONS EXCEEDS LIMIT"):
        clf = MLPDigitClassifier((16,), solver="lbfgs", max_fun=8, random_state=0).fit(
            X_train, y_train)
    assert clf.n_iter_ < 8
    with warnings.catch_warnings():  # a loose tol converges: no warning
        warnings.simplefilter("error", ConvergenceWarning)
        clf = PerceptronClassifier(solver="lbfgs", tol=1e-2, random_state=0).fit(
            X_train, y_train)
    assert clf.n_iter_ < 200


def test_lbfgs_warm_start_continues_and_counts_its_own_iterations(digits):
    X_train, _, y_train, _ = digits
    clf = MLPDigitClassifier((16,), solver="lbfgs", max_iter=10, warm_start=True,
                             random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y_train)
        first = clf.loss_
        clf.set_params(max_iter=20).fit(X_train, y_train)
    assert clf.n_iter_ == 20 and len(clf.loss_curve_) == 30
    assert clf.loss_ < first


def test_lbfgs_validation_set_callbacks_and_saving(digits, tmp_path):
    X_train, X_test, y_train, y_test = digits
    stopper = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    clf = MLPDigitClassifier((32,), solver="lbfgs", max_iter=200, random_state=0,
                             callbacks=[stopper])
    clf.fit(X_train, y_train, X_val=X_test, y_val=y_test)
    h = clf.history_
    assert list(h) == ["loss", "score", "val_loss", "val_score", "lr", "time"]
    assert len(h["val_loss"]) == clf.n_iter_ == len(clf.validation_scores_)
    # the callback stopped L-BFGS between two iterations and restored the best one
    assert clf.n_iter_ == stopper.stopped_epoch_ + 1 < 200
    assert clf.score(X_test, y_test) == h["val_score"][stopper.best_epoch_]
    loaded = perceptron.load(clf.save(tmp_path / "lbfgs"))
    np.testing.assert_array_equal(loaded.predict_proba(X_test), clf.predict_proba(X_test))
    assert loaded.solver == "lbfgs" and not hasattr(loaded, "partial_fit")


def test_lbfgs_refuses_what_it_cannot_do(digits):
    X_train, _, y_train, _ = digits
    assert not hasattr(MLPDigitClassifier(solver="lbfgs"), "partial_fit")
    assert hasattr(MLPDigitClassifier(solver="sgd"), "partial_fit")
    with pytest.raises(ValueError, match="dropout=0.2 needs a stochastic solver"):
        MLPDigitClassifier(solver="lbfgs", dropout=0.2).fit(X_train, y_train)
    with pytest.raises(ValueError, match="LearningRateScheduler needs a stochastic solver"):
        MLPDigitClassifier(solver="lbfgs", callbacks=[LearningRateScheduler("cosine")]).fit(
            X_train, y_train)
    # early_stopping is the stochastic solvers' rule, as in scikit-learn: ignored
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPDigitClassifier((8,), solver="lbfgs", early_stopping=True, max_iter=5).fit(
            X_train, y_train)
    assert clf.validation_scores_ == [] and clf.n_iter_ == 5


def test_cnn_trains_with_lbfgs(digits):
    X_train, X_test, y_train, y_test = digits
    clf = ConvDigitClassifier(conv_layers=((4, 3),), dense_layers=(16,), solver="lbfgs",
                              max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train[:400], y_train[:400])
    assert clf.score(X_test, y_test) > 0.7
    assert type(clf._network) is Network


def test_each_iteration_is_an_epoch_for_the_callbacks(digits):
    X_train, _, y_train, _ = digits

    class Count:
        def __init__(self):
            self.calls = []

        def on_train_begin(self, est):
            self.calls.append("train")

        def on_epoch_begin(self, est, epoch):
            self.calls.append(("begin", epoch))

        def on_epoch_end(self, est, epoch, logs):
            self.calls.append(("end", epoch, logs["loss"] == est.loss_curve_[epoch]))

        def on_train_end(self, est):
            self.calls.append("end of training")

    count = Count()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = PerceptronClassifier(solver="lbfgs", max_iter=4, callbacks=[count]).fit(
            X_train, y_train)
    expected = ["train"] + [c for e in range(4) for c in (("begin", e), ("end", e, True))]
    assert count.calls == expected + ["end of training"] and clf.n_iter_ == 4


def test_augment_needs_a_stochastic_solver_and_dense_images(digits):
    import scipy.sparse as sp

    X_train, _, y_train, _ = digits
    with pytest.raises(ValueError, match="augment=.* needs a stochastic solver"):
        MLPDigitClassifier(solver="lbfgs", augment={"shift": 1}).fit(X_train, y_train)
    with pytest.raises(ValueError, match="sparse X"):
        MLPDigitClassifier(augment={"shift": 1}).fit(sp.csr_matrix(X_train), y_train)

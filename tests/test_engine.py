"""The engines behind the estimators and the state they save and restore.

``make_network`` picks the engine once; both engines answer the same
interface; networks and optimizers hand their state out and take it back,
refusing a state that is not theirs.
"""

import numpy as np
import pytest

from perceptron import ConvDigitClassifier, MLPDigitClassifier, PerceptronClassifier
from perceptron._dense_stack import DenseStackNetwork
from perceptron._engine import make_network
from perceptron._network import Network
from perceptron._optimizers import SGD, Adam, RMSprop
from perceptron.datasets import load_digits
from perceptron.layers import Dense, Dropout


@pytest.mark.parametrize("make, engine", [
    (lambda: PerceptronClassifier(max_iter=2), DenseStackNetwork),
    (lambda: MLPDigitClassifier((8,), dropout=0.2, max_iter=2), DenseStackNetwork),
    (lambda: ConvDigitClassifier(conv_layers=((2, 3),), dense_layers=(), max_iter=1),
     Network)])
def test_each_estimator_trains_on_its_engine(make, engine):
    X, y = load_digits(return_X_y=True)
    est = make().partial_fit(X[:50], y[:50], classes=np.arange(10))
    assert type(est._network) is engine
    assert est.n_params_ == est._network.params.size


def _stack(engine, seed=0):
    layers = [Dense(12, "tanh"), Dropout(0.3), Dense(4)]
    return engine(layers, output="softmax", dtype=np.float64).build(
        (10,), np.random.default_rng(seed))


@pytest.mark.parametrize("n_threads", [1, 2])
def test_both_engines_predict_alike(n_threads):
    fused, layered = _stack(DenseStackNetwork), _stack(Network)
    fused.set_n_threads(n_threads)
    layered.set_n_threads(n_threads)
    X = np.random.default_rng(1).normal(size=(700, 10))
    np.testing.assert_allclose(fused.predict_proba(X), layered.predict_proba(X), rtol=1e-12)
    np.testing.assert_allclose(fused.decision_function(X), layered.decision_function(X),
                               rtol=1e-12)
    np.testing.assert_allclose(fused.feature_maps(X, 0), np.tanh(
        X @ fused.layers[0].params["W"] + fused.layers[0].params["b"]), rtol=1e-12)


def test_network_state_round_trip_resumes_the_dropout_stream():
    a, b = _stack(DenseStackNetwork, seed=0), _stack(DenseStackNetwork, seed=1)
    X = np.random.default_rng(2).normal(size=(30, 10))
    y = np.arange(30, dtype=np.intp) % 4
    rows = np.arange(30, dtype=np.intp)
    a.train_batch(X, y, rows)  # moves a's dropout stream
    b.load_state(a.state())
    np.testing.assert_array_equal(a.params, b.params)
    la, _ = a.train_batch(X, y, rows)
    lb, _ = b.train_batch(X, y, rows)
    assert la == lb
    np.testing.assert_array_equal(a.grads, b.grads)


def test_network_refuses_a_state_that_is_not_its_own():
    net = _stack(Network)
    state = net.state()
    with pytest.raises(ValueError, match="shape"):
        net.load_state({**state, "params": state["params"][:-1]})
    with pytest.raises(ValueError, match="dtype"):
        net.load_state({**state, "params": state["params"].astype(np.float32)})
    with pytest.raises(ValueError, match="layer states"):
        net.load_state({**state, "layers": {}})
    with pytest.raises(ValueError, match="state of a PCG64 random generator"):
        net.load_state({**state, "layers": {1: {"rng": {"bit_generator": "nope"}}}})


@pytest.mark.parametrize("make", [lambda p: SGD(p), lambda p: Adam(p), lambda p: RMSprop(p)])
def test_optimizer_state_round_trip(make):
    params = np.zeros(7)
    grads = np.linspace(-1, 1, 7)
    a, b = make(params.copy()), make(params.copy())
    pa, pb = params.copy(), params.copy()
    for _ in range(3):
        a.step(pa, grads, 0.1)
    state = a.state()
    assert state["n_steps"] == 3
    b.load_state(state)
    pb[...] = pa
    a.step(pa, grads, 0.1)
    b.step(pb, grads, 0.1)
    np.testing.assert_array_equal(pa, pb)
    assert b.n_steps == 4


def test_optimizer_refuses_a_foreign_state():
    adam = Adam(np.zeros(5))
    good = adam.state()
    with pytest.raises(ValueError, match="entries"):
        adam.load_state({**good, "extra": np.zeros(5)})
    with pytest.raises(ValueError, match="entries"):
        adam.load_state({"m": good["m"], "n_steps": 0})
    with pytest.raises(ValueError, match="shape"):
        adam.load_state({**good, "v": np.zeros(4)})
    with pytest.raises(ValueError, match="n_steps"):
        adam.load_state({**good, "n_steps": -1})


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimator_state_round_trip():
    X, y = load_digits(return_X_y=True)
    est = MLPDigitClassifier((16,), dropout=0.1, max_iter=3, random_state=0).fit(X, y)
    twin = MLPDigitClassifier(**est.get_params())._import_state(est._export_state())
    np.testing.assert_array_equal(twin.predict_proba(X), est.predict_proba(X))
    est.partial_fit(X, y)
    twin.partial_fit(X, y)
    np.testing.assert_array_equal(twin._network.params, est._network.params)
    assert twin.n_iter_ == est.n_iter_ and twin.loss_curve_ == est.loss_curve_

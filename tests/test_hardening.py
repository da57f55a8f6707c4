"""Adversarial inputs: extreme values through every estimator.

Properties that must hold whatever the input, checked over extreme but finite
values, for every estimator, output function and precision:

- ``predict_proba`` is finite, non-negative and sums to one, and ``predict``
  is its arg-max;
- training either returns a model whose parameters and optimizer state are
  finite, or raises "training diverged": one rule for every engine.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from perceptron import ConvDigitClassifier, MLPDigitClassifier, PerceptronClassifier
from perceptron.datasets import load_digits


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:240].astype(np.float64), y[:240]


def make(kind, output="softmax", **params):
    """A small estimator of each kind, quick to fit on 8x8 digits."""
    params.setdefault("random_state", 0)
    params.setdefault("max_iter", 2)
    if kind == "perceptron":
        return PerceptronClassifier(activation=output, **params)
    if kind == "mlp":
        return MLPDigitClassifier((12,), output_activation=output, **params)
    return ConvDigitClassifier(((4, 3),), dense_layers=(8,), output_activation=output,
                               batch_size=64, **params)


KINDS = ["perceptron", "mlp", "cnn"]


def fit_quietly(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


# ---------------------------------------------------------------- probabilities
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
@pytest.mark.parametrize("kind", KINDS)
def test_probabilities_are_finite_for_extreme_inputs(digits, kind, output, dtype):
    X, y = digits
    est = fit_quietly(make(kind, output, dtype=dtype), X, y)
    big = float(np.finfo(dtype).max)
    # rows whose logits overflow to +-inf, or to NaN (inf - inf in a product)
    overflow = np.zeros((4, X.shape[1]))
    overflow[0, 10] = big / 2
    overflow[1, 10] = -big / 2
    overflow[2] = big / 2
    overflow[3, ::2] = -big / 2
    for X_test in (X[:60] * 100, X[:60] * 1e6, X[:60] * 1e30, X[:60] * -1e30,
                   X[:60] * (big / 32), X[:60] * (-big / 32), overflow):
        X_test = X_test.astype(dtype)
        proba = est.predict_proba(X_test)
        assert np.isfinite(proba).all() and (proba >= 0).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
        np.testing.assert_array_equal(est.predict(X_test),
                                      est.classes_[proba.argmax(axis=1)])


def test_sigmoid_probabilities_of_the_reported_case(digits):
    """The issue's example: activation="sigmoid", predict_proba(X * 100)."""
    X, y = digits
    est = fit_quietly(PerceptronClassifier(activation="sigmoid", max_iter=50,
                                           random_state=0), X, y)
    for scale in (100, 1e6):
        proba = est.predict_proba(X * scale)
        assert np.isfinite(proba).all()
        # the largest logit's class has the largest probability (a tie only
        # where several sigmoids round to 1); where every logit is very
        # negative, the normalised sigmoids tend to their softmax and the
        # prediction is that class, not class 0
        logits = est._network.decision_function(
            np.ascontiguousarray(X * scale, dtype=np.float32))
        top = logits.argmax(axis=1)
        rows = np.arange(len(X))
        np.testing.assert_array_equal(proba[rows, top], proba.max(axis=1))
        negative = logits.max(axis=1) < -50
        assert negative.sum() > 10
        np.testing.assert_array_equal(est.predict(X * scale)[negative],
                                      est.classes_[top[negative]])


# ---------------------------------------------------------------- divergence
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype, huge", [("float32", 3e38), ("float64", 1e300)])
def test_training_on_a_huge_row_diverges_loudly(digits, kind, dtype, huge):
    """One row of X near the largest float: every engine raises (the CNN used to
    return NaN weights, its loss kept finite by ReLU mapping NaN to 0)."""
    X, y = digits
    X = X.copy()
    X[5] = huge
    with pytest.raises(ValueError, match="training diverged"):
        fit_quietly(make(kind, dtype=dtype), X, y)


@pytest.mark.parametrize("solver", ["sgd", "adam", "rmsprop"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_returned_model_is_finite(digits, kind, solver):
    """Either fit raises "training diverged", or the parameters and the
    optimizer's state are finite: no model is returned half-lost (an
    overflowed squared gradient in Adam's state froze its weights)."""
    X, y = digits
    for scale in (1e18, 1e20, 1e22):
        est = make(kind, solver=solver)
        try:
            fit_quietly(est, X * scale, y)
        except ValueError as exc:
            assert "training diverged" in str(exc)
            continue
        assert np.isfinite(est._network.params).all()
        for name, value in est._optimizer.state().items():
            assert np.isfinite(value).all(), name


# ---------------------------------------------------------------- beyond the examples
@pytest.mark.parametrize("make", [
    lambda: MLPDigitClassifier(hidden_layer_sizes=(10**12,)),
    lambda: MLPDigitClassifier(hidden_layer_sizes=10**30),
    lambda: ConvDigitClassifier(((10**12, 3),)),
    lambda: ConvDigitClassifier(((2, 10**30),)),
], ids=["hidden-1e12", "hidden-1e30", "filters-1e12", "kernel-1e30"])
def test_layers_too_large_for_memory_are_a_clear_error(digits, make):
    """Counted in Python integers before NumPy is asked (it raised MemoryError,
    or "Maximum allowed dimension exceeded")."""
    X, y = digits
    with pytest.raises(ValueError, match="parameters.*more than this machine's"):
        make().fit(X, y)


@pytest.mark.parametrize("params, name", [
    ({"alpha": 10**400}, "alpha"), ({"learning_rate_init": 10**400}, "learning_rate_init"),
    ({"dtype": "1" * 5000}, "dtype"), ({"dtype": [1]}, "dtype")])
def test_odd_parameter_values_are_a_clear_error(digits, params, name):
    """An int too large for a float, a string NumPy parses as a dtype
    expression: ValueErrors naming the parameter (they raised TypeError and
    SyntaxError)."""
    X, y = digits
    with pytest.raises(ValueError, match=name):
        MLPDigitClassifier((4,), **params).fit(X, y)

"""Saving and loading: pickle/joblib and the pickle-free .npz format."""

import json
import pickle
import warnings

import joblib
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import perceptron
from perceptron import MLPDigitClassifier, PerceptronClassifier
from perceptron._persistence import FORMAT_VERSION
from perceptron.datasets import load_digits


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return X[:400], y[:400]


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


MODELS = [
    lambda: PerceptronClassifier(max_iter=3, random_state=0),
    lambda: PerceptronClassifier(activation="sigmoid", solver="sgd", max_iter=3,
                                 random_state=0),
    lambda: MLPDigitClassifier((16, 8), dropout=0.2, max_iter=3, random_state=0,
                               dtype="float64"),
    lambda: MLPDigitClassifier((12,), solver="rmsprop", early_stopping=True, max_iter=3,
                               random_state=0),
]


@pytest.mark.parametrize("make", MODELS)
def test_npz_round_trip_predicts_and_resumes_identically(make, data, tmp_path):
    X, y = data
    labels = np.array(list("abcdefghij"))[y]
    est = _fit(make(), X, labels)
    path = est.save(tmp_path / "model")
    assert path.endswith(".npz")
    loaded = perceptron.load(path)
    assert type(loaded) is type(est)
    assert loaded.get_params() == est.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(loaded.classes_, est.classes_)
    assert loaded.loss_curve_ == est.loss_curve_ and loaded.n_iter_ == est.n_iter_
    # the optimizer and random streams were saved too: training continues identically
    # (one more epoch: partial_fit, or a warm-started fit with early stopping, which
    # partial_fit does not take)
    for model in (est, loaded):
        if model.early_stopping:
            _fit(model.set_params(warm_start=True, max_iter=1), X, labels)
        else:
            model.partial_fit(X, labels)
    np.testing.assert_array_equal(loaded._network.params, est._network.params)


@pytest.mark.parametrize("dumps,loads", [(pickle.dumps, pickle.loads)])
def test_pickle_round_trip(data, dumps, loads):
    X, y = data
    est = _fit(MLPDigitClassifier((10,), max_iter=2, random_state=0), X, y)
    clone = loads(dumps(est))
    np.testing.assert_array_equal(clone.predict_proba(X), est.predict_proba(X))
    # the clone's layers are views into its own flat parameter vector
    clone.coefs_[0][...] = 0
    assert not np.all(est.coefs_[0] == 0)
    assert np.all(clone._network.params[:clone.coefs_[0].size] == 0)


def test_joblib_round_trip(data, tmp_path):
    X, y = data
    est = _fit(PerceptronClassifier(max_iter=2, random_state=0), X, y)
    joblib.dump(est, tmp_path / "m.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "m.joblib").predict(X), est.predict(X))


def test_unfitted_model_cannot_be_saved(tmp_path):
    with pytest.raises(NotFittedError):
        PerceptronClassifier().save(tmp_path / "m.npz")


def _rewrite_meta(path, out, change):
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(arrays["__meta__"].tobytes())
    change(meta)
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(out, **arrays)


def test_newer_or_foreign_files_are_refused(data, tmp_path):
    X, y = data
    path = _fit(PerceptronClassifier(max_iter=2), X, y).save(tmp_path / "m.npz")
    newer = tmp_path / "newer.npz"
    _rewrite_meta(path, newer, lambda m: m.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(ValueError, match="format version"):
        perceptron.load(newer)
    other = tmp_path / "other.npz"
    np.savez(other, a=np.arange(3))
    with pytest.raises(ValueError, match="not a perceptron model"):
        perceptron.load(other)


def test_truncated_file_is_a_clear_error(data, tmp_path):
    X, y = data
    path = _fit(PerceptronClassifier(max_iter=2), X, y).save(tmp_path / "m.npz")
    raw = open(path, "rb").read()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        perceptron.load(cut)


def test_failed_save_leaves_existing_file_intact(data, tmp_path, monkeypatch):
    X, y = data
    est = _fit(PerceptronClassifier(max_iter=2, random_state=0), X, y)
    path = est.save(tmp_path / "m.npz")
    before = open(path, "rb").read()

    def broken_savez(fh, **arrays):
        fh.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        est.save(path)
    assert open(path, "rb").read() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]  # no temp file left

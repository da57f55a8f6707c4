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
    est.partial_fit(X, labels)
    loaded.partial_fit(X, labels)
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


def test_model_keeps_its_class_names_and_data_set(data, tmp_path):
    X, y = data
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    est = _fit(PerceptronClassifier(max_iter=2, random_state=0), X, y)
    est.class_names_, est.dataset_name_ = np.array(names), "digits"
    loaded = perceptron.load(est.save(tmp_path / "m.npz"))
    assert list(loaded.class_names_) == names and loaded.dataset_name_ == "digits"
    # they described that fit's data: a new fit from scratch forgets them
    _fit(loaded, X, y)
    assert not hasattr(loaded, "class_names_") and not hasattr(loaded, "dataset_name_")
    # a model without them (as older files are) loads and saves as before
    again = perceptron.load(loaded.save(tmp_path / "plain.npz"))
    assert not hasattr(again, "class_names_")
    # names that do not fit the classes are refused, when saving and when loading
    est.class_names_ = names[:3]
    with pytest.raises(ValueError, match="class_names_ must hold 10 names"):
        est.save(tmp_path / "bad.npz")
    est.class_names_ = np.array(names)
    path = est.save(tmp_path / "m.npz")
    for bad, message in [({"class_names": names[:3]}, "must hold 10 names"),
                         ({"class_names": [1] * 10}, "must be list of str"),
                         ({"dataset": "x" * 1000}, "dataset_name_ must be"),
                         ("fashion", "must be dict or None")]:
        edited = tmp_path / "edited.npz"
        _rewrite_meta(path, edited, lambda m: m.update(description=bad))
        with pytest.raises(ValueError, match=message):
            perceptron.load(edited)


def test_save_errors_name_the_users_file(data, tmp_path):
    X, y = data
    est = _fit(PerceptronClassifier(max_iter=2, random_state=0), X, y)
    missing = tmp_path / "no" / "such" / "folder"
    with pytest.raises(FileNotFoundError, match=f"the folder {missing} does not exist"):
        est.save(missing / "m.npz")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(NotADirectoryError, match=f"{blocker} is not a folder") as info:
        est.save(blocker / "m.npz")
    assert info.value.filename == str(blocker / "m.npz") and ".part" not in str(info.value)


def test_unwritable_folder_names_the_users_file(data, tmp_path, monkeypatch):
    import tempfile

    X, y = data
    est = _fit(PerceptronClassifier(max_iter=2, random_state=0), X, y)

    def denied(**kwargs):  # what a read-only folder does, even for root
        raise PermissionError(13, "Permission denied",
                              str(tmp_path / ".perceptron-x.npz.part"))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(PermissionError) as info:
        est.save(tmp_path / "m.npz")
    assert info.value.filename == str(tmp_path / "m.npz")
    assert "Permission denied" in str(info.value) and ".part" not in str(info.value)


def test_other_files_are_not_models(tmp_path):
    np.save(tmp_path / "array.npy", np.zeros(3))
    (tmp_path / "text.npz").write_text("hello")
    for name in ("array.npy", "text.npz"):
        with pytest.raises(ValueError, match=f"{name}: not a perceptron model file"):
            perceptron.load(tmp_path / name)

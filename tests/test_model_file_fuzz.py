"""Malformed model files: every one is refused with a ValueError naming the problem.

A model file is untrusted input. These tests take real saved models and
mutate them -- the JSON metadata (types, sizes, unknown keys, deep nesting),
the arrays (shape, dtype, object arrays, huge declared shapes) and the zip
structure (foreign files, extra or compressed members, lying sizes) -- and
check that ``perceptron.load`` either returns a working model or raises a
``ValueError``: never a KeyError, TypeError, AttributeError, MemoryError or
RecursionError, and never an allocation the file's own size does not back.
"""

import io
import json
import pickle
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import perceptron
from perceptron import ConvDigitClassifier, MLPDigitClassifier, PerceptronClassifier
from perceptron.datasets import load_digits


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return X[:120], y[:120]


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


@pytest.fixture(scope="module")
def saved(data, tmp_path_factory):
    """Saved models, by name: the members of each file (name -> .npy bytes)."""
    X, y = data
    folder = tmp_path_factory.mktemp("models")
    # one thread: a loaded model that predicts then wakes no thread team
    models = {
        "mlp": MLPDigitClassifier((6,), dropout=0.2, max_iter=1, random_state=0,
                                  n_threads=1),
        "perceptron": PerceptronClassifier(solver="sgd", max_iter=1, random_state=0,
                                           n_threads=1),
        "cnn": ConvDigitClassifier(({"filters": 2, "kernel_size": (3, 3)},),
                                   dense_layers=(4,), max_iter=1, random_state=0,
                                   n_threads=1),
        "labels": MLPDigitClassifier((4,), solver="rmsprop", max_iter=1, random_state=0,
                                     n_threads=1),
    }
    files = {}
    for name, est in models.items():
        labels = np.array(list("abcdefghij"))[y] if name == "labels" else y
        path = _fit(est, X, labels).save(folder / name)
        files[name] = read_members(path)
    return files


# ---------------------------------------------------------------- file surgery
def read_members(path):
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def npy(array):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def meta_of(members):
    return json.loads(np.load(io.BytesIO(members["__meta__.npy"])).tobytes())


def with_meta(members, meta=None, raw=None):
    out = dict(members)
    text = raw if raw is not None else json.dumps(meta).encode()
    out["__meta__.npy"] = npy(np.frombuffer(text, dtype=np.uint8))
    return out


def write(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, raw in (members.items() if isinstance(members, dict) else members):
            zf.writestr(name, raw)
    return path


def load_or_value_error(path, X, y):
    """The property: a ValueError, or a model that predicts and trains on."""
    try:
        est = perceptron.load(path)
    except ValueError as exc:
        return str(exc)
    proba = est.predict_proba(X[:5])
    assert proba.shape == (5, len(est.classes_)) and np.isfinite(proba).all()
    est.partial_fit(X, est.classes_[np.arange(len(X)) % len(est.classes_)])
    return None


def assert_refused(path, *fragments):
    with pytest.raises(ValueError) as info:
        perceptron.load(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    return message


# ---------------------------------------------------------------- the metadata
#: values of the wrong type, size or shape, put in place of every field
ODD_VALUES = [None, True, False, -1, 0, 1.5, 10**30, -10**30, "x", "inf", "nan", [],
              {}, [1, "a"], {"a": 1}, [[[[[[[[[[1]]]]]]]]]], "1" * 5000]


def _paths(meta):
    """Every field of the metadata: top-level entries and one level below."""
    for key, value in meta.items():
        yield (key,)
        if isinstance(value, dict):
            for sub in value:
                yield (key, sub)


@pytest.mark.parametrize("model", ["mlp", "perceptron", "cnn"])
def test_every_field_of_odd_type_is_refused_or_harmless(model, saved, data, tmp_path):
    X, y = data
    members = saved[model]
    meta = meta_of(members)
    outcomes = {}
    for i, where in enumerate(_paths(meta)):
        # a third of the odd values, a different third from field to field
        for value in ODD_VALUES[i % 3::3]:
            changed = json.loads(json.dumps(meta))
            target = changed
            for key in where[:-1]:
                target = target[key]
            target[where[-1]] = value
            path = write(tmp_path / "m.npz", with_meta(members, changed))
            outcomes[where, repr(value)[:20]] = load_or_value_error(path, X, y)
    # most odd values are refused (an int where a float goes may be fine)
    assert sum(o is not None for o in outcomes.values()) > 0.8 * len(outcomes)


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_unknown_or_missing_fields_are_refused(model, saved, tmp_path):
    members = saved[model]
    meta = meta_of(members)
    for where in _paths(meta):
        changed = json.loads(json.dumps(meta))
        target = changed
        for key in where[:-1]:
            target = target[key]
        target[where[-1] + "_evil"] = 1
        path = write(tmp_path / "m.npz", with_meta(members, changed))
        assert_refused(path, repr(where[-1] + "_evil"))
    for key in ("format", "format_version", "estimator", "params", "attributes",
                "classes_dtype", "rng_states"):
        changed = dict(meta)
        del changed[key]
        assert_refused(write(tmp_path / "m.npz", with_meta(members, changed)), key)


def _mutated(members, change):
    meta = meta_of(members)
    change(meta)
    return with_meta(members, meta)


META_CASES = {
    # sizes in the hyper-parameters that do not match the saved arrays: refused
    # before any network is built (10**9 hidden units would take gigabytes)
    "huge hidden layer": (lambda m: m["params"].update(hidden_layer_sizes=[10**9]),
                          "parameter"),
    "many hidden layers": (lambda m: m["params"].update(hidden_layer_sizes=[1] * 100_000),
                           "hidden_layer_sizes"),
    "huge n_features_in_": (lambda m: m["attributes"].update(n_features_in_=10**12),
                            "parameter"),
    "n_features_in_ 0": (lambda m: m["attributes"].update(n_features_in_=0), "n_features_in_"),
    "n_features_in_ float": (lambda m: m["attributes"].update(n_features_in_=64.0),
                             "n_features_in_"),
    "n_outputs_ mismatch": (lambda m: m["attributes"].update(n_outputs_=3), "n_outputs_"),
    "out_activation_ mismatch": (lambda m: m["attributes"].update(out_activation_="sigmoid"),
                                 "out_activation_"),
    "unknown estimator": (lambda m: m.update(estimator="os.system"), "estimator"),
    "unknown hyper-parameter": (lambda m: m["params"].update(__class__="x"), "__class__"),
    "bad solver": (lambda m: m["params"].update(solver="evil"), "solver"),
    "deep hyper-parameter": (lambda m: m["params"].update(hidden_layer_sizes=[[[[[[[6]]]]]]]),
                             "hidden_layer_sizes"),
    "unknown attribute": (lambda m: m["attributes"].update(predict="x"), "predict"),
    "private attribute": (lambda m: m["attributes"].update(_network="x"), "_network"),
    "loss curve of strings": (lambda m: m["attributes"].update(loss_curve_=["a"]),
                              "loss_curve_"),
    "negative learning rate": (lambda m: m["training"].update(learning_rate=-1.0),
                               "learning_rate"),
    "no_improvement_count str": (lambda m: m["training"].update(no_improvement_count="1"),
                                 "no_improvement_count"),
    "foreign optimizer": (lambda m: m.update(optimizer="Evil"), "optimizer"),
    "other optimizer": (lambda m: m.update(optimizer="SGD"), "optimizer"),
    "negative n_steps": (lambda m: m["optimizer_scalars"].update(n_steps=-1), "n_steps"),
    "random state of another generator": (
        lambda m: m["rng_states"]["estimator"].update(bit_generator="MT19937"), "PCG64"),
    "random state too large": (
        lambda m: m["rng_states"]["estimator"]["state"].update(state=2**200), "state"),
    "random state missing": (lambda m: m["rng_states"].pop("estimator"), "estimator"),
    "layer state of a layer without one": (
        lambda m: m["rng_states"].update(layer0=m["rng_states"]["layer1"]), "layer"),
    "layer state name": (lambda m: m["rng_states"].update(layer1x={}), "layer1x"),
    "layer state huge index": (lambda m: m["rng_states"].update(**{"layer" + "9" * 5000: {}}),
                               "layer"),
    "classes_dtype mismatch": (lambda m: m.update(classes_dtype="<f8"), "classes_dtype"),
    "classes_dtype object for numbers": (lambda m: m.update(classes_dtype="object"),
                                         "classes_dtype"),
    "newer format": (lambda m: m.update(format_version=99), "format version"),
    "format version as str": (lambda m: m.update(format_version="1"), "format"),
    "format version 0": (lambda m: m.update(format_version=0), "format"),
    "not our format": (lambda m: m.update(format="other"), "not a perceptron model"),
}


@pytest.mark.parametrize("case", list(META_CASES))
def test_malformed_metadata_is_a_clear_error(case, saved, tmp_path):
    change, fragment = META_CASES[case]
    path = write(tmp_path / "m.npz", _mutated(saved["mlp"], change))
    assert_refused(path, fragment)


RAW_META = {
    "not UTF-8": b"\xff\xfe{",
    "not JSON": b"{'format': 1}",
    "not an object": b"[1, 2, 3]",
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
    "deep inside": b'{"format": ' + b"[" * 50 + b"]" * 50 + b"}",
    "huge number": b'{"format_version": ' + b"9" * 100_000 + b"}",
    "many containers": b'{"format": [' + b"[]," * 2_000_000 + b"[]]}",
    "empty": b"",
}


@pytest.mark.parametrize("case", list(RAW_META))
def test_metadata_that_is_not_our_json_is_refused(case, saved, tmp_path):
    path = write(tmp_path / "m.npz", with_meta(saved["mlp"], raw=RAW_META[case]))
    assert_refused(path, "metadata")


# ---------------------------------------------------------------- the arrays
def _array_cases(members):
    params = np.load(io.BytesIO(members["params.npy"]))
    classes = np.load(io.BytesIO(members["classes.npy"]))
    return {
        "params one short": ("params.npy", npy(params[:-1]), "parameter"),
        "params one long": ("params.npy", npy(np.append(params, 0)), "parameter"),
        "params float64": ("params.npy", npy(params.astype(np.float64)), "parameters"),
        "params float16": ("params.npy", npy(params.astype(np.float16)), "parameters"),
        "params int": ("params.npy", npy(params.astype(np.int64)), "params"),
        "params big-endian": ("params.npy", npy(params.astype(">f4")), "parameters"),
        "params complex": ("params.npy", npy(params.astype(np.complex64)), "params"),
        "params 2-D": ("params.npy", npy(params.reshape(1, -1)), "params"),
        "params scalar": ("params.npy", npy(np.float32(1)), "params"),
        "params structured": ("params.npy", npy(np.zeros(3, dtype=[("a", "f4")])), "params"),
        "params subarray": ("params.npy", npy(np.zeros(2, dtype=("f4", (4,)))), "params"),
        "params NaN": ("params.npy", npy(np.full_like(params, np.nan)), "finite"),
        "optimizer state short": ("opt_m.npy", npy(params[:-1]), "optimizer"),
        "optimizer state float64": ("opt_v.npy", npy(params.astype(np.float64)), "optimizer"),
        "one class": ("classes.npy", npy(classes[:1]), "class"),
        "duplicate classes": ("classes.npy", npy(np.repeat(classes, 2)), "class"),
        "unsorted classes": ("classes.npy", npy(classes[::-1]), "class"),
        "NaN classes": ("classes.npy", npy(np.full(10, np.nan)), "class"),
        "2-D classes": ("classes.npy", npy(classes.reshape(2, -1)), "classes"),
        "classes U0": ("classes.npy", npy(np.array([""] * 10)), "classes"),
        "meta as float": ("__meta__.npy", npy(np.zeros(4)), "__meta__"),
    }


def test_malformed_arrays_are_a_clear_error(saved, tmp_path):
    members = saved["mlp"]
    for case, (name, raw, fragment) in _array_cases(members).items():
        path = write(tmp_path / "m.npz", {**members, name: raw})
        message = assert_refused(path)
        assert fragment in message, (case, message)


def _npy_header(descr, shape):
    """A ``.npy`` header declaring an array it does not hold."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return np.lib.format.magic(1, 0) + buf.getvalue()


def test_huge_declared_arrays_are_refused_without_allocating(saved, data, tmp_path):
    """Declared sizes are compared with the bytes the file holds before any
    array is allocated (tracemalloc sees NumPy's allocations)."""
    members = saved["mlp"]
    meta = meta_of(members)
    cases = {
        "params": {**members, "params.npy": _npy_header("<f4", (10**11,))},
        "classes": {**members, "classes.npy": _npy_header("<U100000", (10**6,))},
        "meta": {**members, "__meta__.npy": _npy_header("|u1", (10**10,))},
        "meta shorter than declared": {
            **members, "__meta__.npy": _npy_header("|u1", (1000,)) + b"{}"},
        "object array": {**members, "classes.npy": _npy_header("|O", (10**9,))},
        "negative shape": {**members, "params.npy": _npy_header("<f4", (-1,))},
    }
    meta["params"]["hidden_layer_sizes"] = [10**9]
    cases["hidden layer"] = with_meta(members, meta)
    meta = meta_of(members)
    meta["attributes"]["n_features_in_"] = 10**15
    cases["features"] = with_meta(members, meta)
    for case, files in cases.items():
        path = write(tmp_path / f"{case}.npz", files)
        tracemalloc.start()
        try:
            assert_refused(path)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 32 * 2**20, (case, peak)


# ---------------------------------------------------------------- the zip
def test_files_that_are_not_model_archives_are_refused(saved, data, tmp_path):
    X, _ = data
    cases = {
        "empty.npz": b"",
        "text.npz": b"hello, model",
        "random.npz": np.random.default_rng(0).bytes(5000),
        "pickle.npz": pickle.dumps({"a": 1}),
    }
    for name, raw in cases.items():
        (tmp_path / name).write_bytes(raw)
        assert_refused(tmp_path / name, "not a perceptron model")
    (tmp_path / "folder.npz").mkdir()
    assert_refused(tmp_path / "folder.npz", "not a regular file")
    np.save(tmp_path / "numbers.npy", X)
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "foreign.npz", a=np.arange(3))
    for name in ("numbers.npy", "objects.npy", "foreign.npz"):
        message = assert_refused(tmp_path / name, "not a perceptron model")
        assert "pickle" not in message


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_malformed_archives_are_refused(saved, data, tmp_path):
    members = saved["mlp"]
    raw = write(tmp_path / "good.npz", members).read_bytes()
    for cut in (10, len(raw) // 3, len(raw) // 2, len(raw) - 30, len(raw) - 1):
        (tmp_path / "cut.npz").write_bytes(raw[:cut])
        assert_refused(tmp_path / "cut.npz")
    cases = {
        "extra member": {**members, "evil.npy": npy(np.arange(3))},
        "extra optimizer member": {**members, "opt_evil.npy": npy(np.arange(3))},
        "a folder": {**members, "folder/": b""},
        "no params": {k: v for k, v in members.items() if k != "params.npy"},
        "no classes": {k: v for k, v in members.items() if k != "classes.npy"},
        "no meta": {k: v for k, v in members.items() if k != "__meta__.npy"},
        "no optimizer state": {k: v for k, v in members.items() if k != "opt_v.npy"},
    }
    for case, files in cases.items():
        assert_refused(write(tmp_path / "m.npz", files))
    # the same member twice
    assert_refused(write(tmp_path / "twice.npz",
                         list(members.items()) + [("params.npy", members["params.npy"])]))
    # compressed members (a zip bomb would inflate far beyond the file's size)
    bomb = {**members, "classes.npy": _npy_header("<i8", (10**9,)) + bytes(8 * 10**6)}
    assert_refused(write(tmp_path / "bomb.npz", bomb, zipfile.ZIP_DEFLATED), "compressed")
    # a central directory announcing more members than a model has
    eocd = raw.rfind(b"PK\x05\x06")
    lying = bytearray(raw)
    lying[eocd + 8:eocd + 12] = b"\xff\xff\xff\xff"
    (tmp_path / "lying.npz").write_bytes(bytes(lying))
    assert_refused(tmp_path / "lying.npz")


def test_a_refused_file_does_not_touch_other_models(saved, data, tmp_path):
    X, y = data
    path = write(tmp_path / "ok.npz", saved["mlp"])
    good = perceptron.load(path)
    before = good.predict_proba(X)
    bad = write(tmp_path / "bad.npz", _mutated(saved["mlp"], lambda m: m["attributes"].update(
        n_features_in_=10**12)))
    with pytest.raises(ValueError):
        perceptron.load(bad)
    np.testing.assert_array_equal(good.predict_proba(X), before)


# ---------------------------------------------------------------- older files
def test_files_of_the_first_format_still_load(saved, data, tmp_path):
    """The first format kept the learning rate and the early-stopping count
    among the attributes, and the optimizer's hyper-parameters and its step
    count ``t`` in ``optimizer_scalars``."""
    X, y = data
    meta = meta_of(saved["mlp"])
    training = meta.pop("training")
    meta["attributes"]["_learning_rate"] = training["learning_rate"]
    meta["attributes"]["_no_improvement_count"] = training["no_improvement_count"]
    meta["optimizer_scalars"] = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8,
                                 "t": meta["optimizer_scalars"]["n_steps"]}
    old = perceptron.load(write(tmp_path / "old.npz", with_meta(saved["mlp"], meta)))
    new = perceptron.load(write(tmp_path / "new.npz", saved["mlp"]))
    assert old._optimizer.n_steps == new._optimizer.n_steps == 1
    old.partial_fit(X, y)
    new.partial_fit(X, y)
    np.testing.assert_array_equal(old._network.params, new._network.params)

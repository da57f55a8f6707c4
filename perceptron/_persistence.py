"""Saving and loading fitted models without pickle.

A saved model is one ``.npz`` file: the arrays (the flat parameter vector,
the optimizer's state vectors, the classes) plus one entry ``__meta__`` that
holds UTF-8 JSON: the format version, the estimator's class and
hyper-parameters, and its scalar fitted attributes and histories. Loading
never unpickles anything (``np.load(allow_pickle=False)``), so a model file
from someone else cannot run code on your machine.

The file is written to a temporary name in the same folder and renamed into
place, so an interrupted save never leaves a half-written model behind.
"""

import json
import os
import tempfile
import zipfile

import numpy as np

FORMAT_NAME = "perceptron-model"
FORMAT_VERSION = 1

def _estimator_classes():
    import perceptron

    names = ("PerceptronClassifier", "MLPDigitClassifier", "ConvDigitClassifier")
    return {name: getattr(perceptron, name) for name in names if hasattr(perceptron, name)}


def _jsonable(value, what):
    """Tuples become lists, NumPy scalars Python scalars; anything else is an error."""
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, what) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: _jsonable(v, what) for k, v in value.items()}
        # other keys (the class labels of class_weight) kept as [key, value]
        # pairs, since JSON would turn them into strings
        return {_PAIRS: [[_jsonable(k, what), _jsonable(v, what)] for k, v in value.items()]}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        if isinstance(value, float) and not np.isfinite(value):
            return repr(value)  # "inf" / "nan": JSON has no such numbers
        return value
    if isinstance(value, type) and issubclass(value, np.generic):
        return np.dtype(value).name
    raise ValueError(f"cannot save {what}={value!r}: only plain numbers, strings, "
                     "tuples and None can be stored without pickle")


#: the key of a dict saved as [key, value] pairs (see :func:`_jsonable`)
_PAIRS = "__pairs__"


def _unjson(value):
    """What :func:`_jsonable` wrote, back: "inf" / "-inf" / "nan" become floats
    again, and a dict saved as [key, value] pairs a dict."""
    if isinstance(value, list):
        return [_unjson(v) for v in value]
    if isinstance(value, dict) and set(value) == {_PAIRS}:
        pairs = value[_PAIRS]
        if not isinstance(pairs, list) or not all(
                isinstance(p, list) and len(p) == 2
                and isinstance(p[0], (str, int, float, bool)) for p in pairs):
            raise ValueError(f"malformed dict in the model's parameters: {value!r}")
        return {key: _unjson(v) for key, v in pairs}
    if isinstance(value, dict):
        return {k: _unjson(v) for k, v in value.items()}
    if isinstance(value, str) and value in ("inf", "-inf", "nan"):
        return float(value)
    return value


def save_model(estimator, path):
    """Save a fitted estimator to ``path`` (an ``.npz`` file), atomically.

    Parameters
    ----------
    estimator : PerceptronClassifier, MLPDigitClassifier or ConvDigitClassifier
        A fitted estimator.
    path : str or path-like
        Destination; ``.npz`` is appended when missing (as NumPy does).

    Returns
    -------
    path : str
        The path written.

    Examples
    --------
    >>> import os, tempfile
    >>> from perceptron import PerceptronClassifier, load
    >>> from perceptron.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = PerceptronClassifier(max_iter=5, random_state=0).fit(X, y)
    >>> path = clf.save(os.path.join(tempfile.mkdtemp(), "model.npz"))
    >>> bool((load(path).predict(X) == clf.predict(X)).all())
    True
    """
    from sklearn.utils.validation import check_is_fitted

    state = estimator._export_state()  # raises NotFittedError when not fitted
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    params = estimator.get_params(deep=False)
    if params.get("random_state") is not None and not isinstance(
            params["random_state"], (int, np.integer)):
        params["random_state"] = None  # a RandomState object is not data; keep the model
    params["callbacks"] = None  # code, not data (a ModelCheckpoint saves from inside fit)
    classes = state["classes"]
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "estimator": type(estimator).__name__,
        "params": {k: _jsonable(v, k) for k, v in params.items()},
        "attributes": {k: _jsonable(v, k) for k, v in state["attributes"].items()},
        "training": _jsonable(state["training"], "training"),
        "classes_dtype": classes.dtype.str if classes.dtype != object else "object",
        # random streams, so that training resumes exactly where it stopped
        "rng_states": {"estimator": state["rng"]},
    }
    for i, layer_state in state["network"]["layers"].items():
        meta["rng_states"][f"layer{i}"] = layer_state["rng"]
    if classes.dtype == object:
        classes = classes.astype(str)
    arrays = {"params": state["network"]["params"], "classes": classes}
    optimizer = state["optimizer"]
    meta["optimizer"] = None if optimizer is None else type(estimator._optimizer).__name__
    if optimizer is not None:
        meta["optimizer_scalars"] = {"n_steps": int(optimizer["n_steps"])}
        for name, value in optimizer.items():
            if name != "n_steps":
                arrays["opt_" + name] = value
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)

    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".perceptron-", suffix=".npz.part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp made it private; use the usual mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load_model(path):
    """Load a model saved by :meth:`save` / :func:`save_model`.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    estimator : fitted estimator
        Ready to predict, and to continue training with ``partial_fit`` (the
        optimizer state is restored too).

    Raises
    ------
    ValueError
        The file is not a perceptron model, is truncated or corrupted, or was
        written by a newer format version.

    Examples
    --------
    >>> import os, tempfile
    >>> import perceptron
    >>> from perceptron.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = perceptron.MLPDigitClassifier((16,), max_iter=3, random_state=0).fit(X, y)
    >>> path = clf.save(os.path.join(tempfile.mkdtemp(), "mlp"))
    >>> restored = perceptron.load(path)
    >>> restored.hidden_layer_sizes, restored.n_iter_
    ((16,), 3)
    >>> _ = restored.partial_fit(X, y)  # training resumes where it stopped
    """
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path} is not a readable perceptron model file "
                         f"(truncated or corrupted?): {exc}") from None
    if "__meta__" not in arrays:
        raise ValueError(f"{path} is an .npz file but not a perceptron model (no __meta__)")
    try:
        meta = json.loads(arrays.pop("__meta__").tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: the model's metadata is corrupted: {exc}") from None
    if meta.get("format") != FORMAT_NAME:
        raise ValueError(f"{path} is not a perceptron model file")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{path} has model format version {version!r}; this perceptron reads "
            f"versions up to {FORMAT_VERSION}: upgrade perceptron to load it")
    classes = _estimator_classes()
    if meta.get("estimator") not in classes:
        raise ValueError(f"{path}: unknown estimator {meta.get('estimator')!r}")
    try:
        params = {k: _param(v) for k, v in meta["params"].items()}
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    est = classes[meta["estimator"]](**params)
    cls = arrays["classes"]
    if meta.get("classes_dtype") == "object":
        cls = cls.astype(object)
    attributes = {k: _unjson(v) for k, v in meta["attributes"].items()}
    # files written before the training state had its own entry kept it here
    training = meta.get("training") or {
        "learning_rate": attributes.pop("_learning_rate", None),
        "no_improvement_count": attributes.pop("_no_improvement_count", 0)}
    if training.get("learning_rate") is None:
        training.pop("learning_rate")
    rng_states = dict(meta.get("rng_states", {}))
    network = {"params": arrays["params"],
               "layers": {int(key[5:]): {"rng": value} for key, value in rng_states.items()
                          if key.startswith("layer") and key[5:].isdigit()}}
    optimizer = None
    if meta.get("optimizer"):
        scalars = meta.get("optimizer_scalars", {})
        optimizer = {key[4:]: value for key, value in arrays.items() if key.startswith("opt_")}
        optimizer["n_steps"] = scalars.get("n_steps", scalars.get("t", 0))
    state = {"classes": cls, "attributes": attributes, "network": network,
             "optimizer": optimizer, "rng": rng_states.get("estimator"),
             "training": training}
    try:
        return est._import_state(state)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: the model file is malformed: {exc!r}") from None
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _param(value):
    """A parameter read from JSON (:func:`_unjson`), with its lists back to the
    tuples scikit-learn parameters use, at any depth (``augment={"elastic": (34, 4)}``)."""
    if isinstance(value, list):
        return tuple(_param(v) for v in value)
    if isinstance(value, dict) and set(value) != {_PAIRS}:
        return {k: _param(v) for k, v in value.items()}
    return _unjson(value)

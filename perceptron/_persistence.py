"""Saving and loading fitted models without pickle.

A saved model is one ``.npz`` file: the arrays (the flat parameter vector,
the optimizer's state vectors, the classes) plus one entry ``__meta__`` that
holds UTF-8 JSON: the format version, the estimator's class and
hyper-parameters, its scalar fitted attributes and histories, and what it
says about its data (``class_names_``, ``dataset_name_``). Loading never
unpickles anything, so a model file from someone else cannot run code on
your machine.

The file is written to a temporary name in the same folder and renamed into
place, so an interrupted save never leaves a half-written model behind.

A model file is untrusted input, and loading checks it before it believes
it: the archive holds only the members a model has, stored uncompressed, and
each array's header (its dtype and shape) is read and compared with the
bytes the file holds before the array is; the metadata is bounded in size
and depth, every entry is on an allow-list with its kind (:data:`META_ENTRIES`;
the fitted attributes' list is the estimator's ``_SAVED_ATTRIBUTES``), and
the sizes the hyper-parameters imply are compared with the saved arrays
before any network is built. Whatever is wrong, the error is one
``ValueError`` naming the file and the problem.
"""

import errno
import json
import os
import re
import stat
import struct
import tempfile
import zipfile

import numpy as np

from ._validation import check_rng_state, check_saved, check_saved_fields

FORMAT_NAME = "perceptron-model"
#: 2: a binary problem's model has one logistic unit (``target_type``)
FORMAT_VERSION = 2

#: what the metadata holds: entry -> kind (see :func:`perceptron._validation.check_saved`);
#: the entries without "or None" are required. A new entry is one line here
#: (and one in :func:`save_model`); ``params``, ``attributes``, ``training``,
#: ``rng_states`` and ``optimizer_scalars`` are checked entry by entry below
#: and by the estimator.
META_ENTRIES = {
    "format": "str",
    "format_version": "int >= 1",
    "estimator": "str",
    "params": "dict",
    "attributes": "dict",
    "training": "dict or None",  # not in files of the first format
    "classes_dtype": "str",
    "rng_states": "dict",
    "optimizer": "str or None",
    "optimizer_scalars": "dict or None",
    "description": "dict or None",  # class names and data set; not in older files
    # "binary", "multiclass" or "multilabel-indicator"; files of the first format
    # lack it, and are "multiclass" (two classes had two outputs then)
    "target_type": "str or None",
}

#: ``optimizer_scalars``: the number of steps taken. Files of the first
#: format called it ``t`` and also kept the optimizer's hyper-parameters
#: (read, and ignored: the estimator's hyper-parameters are the truth).
OPTIMIZER_SCALARS = {"n_steps": "int >= 0", "t": "int >= 0", "momentum": "number",
                     "nesterov": "bool", "beta_1": "number", "beta_2": "number",
                     "epsilon": "number", "rho": "number"}

#: the members of the archive: the metadata, the parameters, the classes and
#: the optimizer's state vectors (``opt_<name>``)
_MEMBER = re.compile(r"(__meta__|params|classes|opt_[a-z0-9_]{1,32})\.npy")
MAX_MEMBERS = 8
#: the metadata's largest size (JSON bytes), most containers and deepest nesting
MAX_META_BYTES = 64 * 2**20
MAX_META_CONTAINERS = 10**6
MAX_META_DEPTH = 8
#: the longest list a saved hyper-parameter may be (layers, say): each
#: becomes objects before the sizes can be compared with the saved arrays
MAX_PARAM_LENGTH = 4096
#: dtype kinds of the classes (bool, ints, floats, strings; never objects)
_CLASS_KINDS = "biufUS"


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
    >>> clf = PerceptronClassifier(random_state=0).fit(X, y)
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
        "target_type": state["target_type"],
        # random streams, so that training resumes exactly where it stopped
        "rng_states": {"estimator": state["rng"]},
        # what the model says about its data: class names, data set (optional)
        "description": state["description"],
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
    text = json.dumps(meta).encode("utf-8")
    if len(text) > MAX_META_BYTES:
        raise ValueError(f"cannot save: the model's metadata takes {len(text)} bytes, more "
                         f"than the {MAX_META_BYTES} a model file may hold")
    arrays["__meta__"] = np.frombuffer(text, dtype=np.uint8)

    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        if os.path.exists(folder):
            raise NotADirectoryError(
                errno.ENOTDIR, f"cannot save the model: {folder} is not a folder", path)
        raise FileNotFoundError(
            errno.ENOENT, f"cannot save the model: the folder {folder} does not exist", path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".perceptron-", suffix=".npz.part", dir=folder)
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp made it private; use the usual mode
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno is not None:
            # name the user's file, not the temporary one
            raise type(exc)(exc.errno, f"cannot save the model: {exc.strerror}",
                            path) from None
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
        The file is not a perceptron model, is truncated or corrupted, holds
        anything a model does not (an unknown entry, a value of the wrong
        kind, arrays whose sizes do not match the hyper-parameters), or was
        written by a newer format version. The message names the file and
        the problem.

    Examples
    --------
    >>> import os, tempfile
    >>> import perceptron
    >>> from perceptron.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = perceptron.MLPDigitClassifier((16,), tol=1e-3, random_state=0)
    >>> clf = clf.fit(X, y)
    >>> path = clf.save(os.path.join(tempfile.mkdtemp(), "mlp"))
    >>> restored = perceptron.load(path)
    >>> restored.hidden_layer_sizes, restored.n_iter_ == clf.n_iter_
    ((16,), True)
    >>> _ = restored.partial_fit(X, y)  # training resumes where it stopped
    """
    path = os.fspath(path)
    try:
        meta, arrays = _read_archive(path)
        est, state = _state_from(meta, arrays)
        return est._import_state(state)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


# ---------------------------------------------------------------- the archive
def _read_archive(path):
    """The metadata (checked, see :func:`_read_meta`) and the arrays of a model file.

    Every array is read only after its header, compared with the bytes the
    file holds: no array is larger than the file.
    """
    status = os.stat(path)
    if not stat.S_ISREG(status.st_mode):
        raise ValueError("not a perceptron model file: not a regular file")
    size = status.st_size
    with open(path, "rb") as fh:
        _check_member_count(fh, size)
        try:
            zf = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError,
                struct.error, OSError) as exc:
            raise ValueError(f"not a perceptron model file: not a readable .npz archive "
                             f"({exc})") from None
        with zf:
            members = _members(zf, size)
            if "__meta__" not in members:
                raise ValueError("an .npz file but not a perceptron model (no __meta__)")
            meta = _read_meta(_read_npy(zf, members.pop("__meta__"), "__meta__", "u"))
            arrays = {name: _read_npy(zf, info, name, "f" if name != "classes"
                                      else _CLASS_KINDS)
                      for name, info in members.items()}
    return meta, arrays


def _check_member_count(fh, size):
    """Refuse an archive whose end record announces more members than a model
    has, before ``zipfile`` reads (and allocates for) its whole directory."""
    tail = min(size, 22 + 65535)  # the end record, and at most a full comment
    fh.seek(size - tail)
    data = fh.read(tail)
    end = data.rfind(b"PK\x05\x06")
    if end < 0 or end + 22 > len(data):
        raise ValueError("not a perceptron model file: not an .npz archive, or one "
                         "truncated or corrupted")
    (count,) = struct.unpack("<H", data[end + 10:end + 12])
    if count > MAX_MEMBERS:
        raise ValueError(f"the archive announces {count} members; a model has at most "
                         f"{MAX_MEMBERS}")
    fh.seek(0)


def _members(zf, size):
    """Name (without ``.npy``) -> ZipInfo of each member, all on the allow-list."""
    members = {}
    for info in zf.infolist():
        match = _MEMBER.fullmatch(info.filename)
        if match is None:
            raise ValueError(f"not a perceptron model file: the archive holds "
                             f"{info.filename[:80]!r}, which a model does not")
        name = match.group(1)
        if name in members:
            raise ValueError(f"the archive holds {info.filename!r} twice")
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
            raise ValueError(f"{info.filename!r} is compressed or encrypted; perceptron "
                             "writes (and reads) its members stored, as numpy.savez does")
        if info.file_size != info.compress_size or info.file_size > size:
            raise ValueError(f"{info.filename!r} declares {info.file_size} bytes, more than "
                             "the file holds (truncated or corrupted?)")
        members[name] = info
    return members


def _read_npy(zf, info, name, kinds):
    """Member ``info``'s 1-D array of one of the dtype ``kinds``, read only
    after its declared size is found to fit in the member."""
    try:
        with zf.open(info) as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise ValueError(f"unsupported .npy version {version}")
            if dtype.hasobject or dtype.names is not None or dtype.subdtype is not None \
                    or dtype.kind not in kinds or dtype.itemsize == 0:
                raise ValueError(f"{name} has dtype {dtype}, which a model does not hold")
            if len(shape) != 1 or shape[0] < 0:
                raise ValueError(f"{name} has shape {shape}; a model's arrays are 1-D")
            nbytes = shape[0] * dtype.itemsize
            if nbytes > info.file_size:
                raise ValueError(f"{name} declares {shape[0]} values of {dtype}, more than "
                                 f"the {info.file_size} bytes it holds (truncated or "
                                 "corrupted?)")
            data = fh.read(nbytes)
    except (zipfile.BadZipFile, EOFError, OSError, SyntaxError) as exc:
        raise ValueError(f"{name} cannot be read (truncated or corrupted?): {exc}") from None
    if len(data) != nbytes:
        raise ValueError(f"{name} is truncated: {len(data)} of {nbytes} bytes")
    return np.frombuffer(data, dtype=dtype).copy()


# ---------------------------------------------------------------- the metadata
def _read_meta(raw):
    """The metadata, parsed and checked against :data:`META_ENTRIES`."""
    if raw.dtype != np.uint8:
        raise ValueError(f"__meta__ has dtype {raw.dtype}; a model's metadata is bytes")
    if raw.size > MAX_META_BYTES:
        raise ValueError(f"the model's metadata takes {raw.size} bytes; at most "
                         f"{MAX_META_BYTES} are read")
    text = raw.tobytes()
    containers = text.count(b"[") + text.count(b"{")
    if containers > MAX_META_CONTAINERS:
        raise ValueError(f"the model's metadata has {containers} lists and objects; at most "
                         f"{MAX_META_CONTAINERS} are read")
    try:
        meta = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError(f"the model's metadata is not valid JSON: {str(exc)[:200]}") from None
    too_deep = _too_deep(meta, MAX_META_DEPTH)
    if too_deep is not None:
        raise ValueError(f"the model's metadata is nested more than {MAX_META_DEPTH} deep, "
                         f"in {too_deep}")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ValueError(f"not a perceptron model file (its metadata does not say "
                         f"format={FORMAT_NAME!r})")
    version = meta.get("format_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise ValueError(
            f"model format version {version!r}; this perceptron reads versions up to "
            f"{FORMAT_VERSION}: upgrade perceptron to load it")
    missing = [key for key, kind in META_ENTRIES.items()
               if not kind.endswith(" or None") and key not in meta]
    if missing:
        raise ValueError(f"the model's metadata lacks the entry {missing[0]!r}")
    meta = check_saved_fields("the model's metadata", meta, META_ENTRIES)
    return {key: meta.get(key) for key in META_ENTRIES}  # None for those not saved


def _too_deep(value, limit):
    """Where lists and dicts nest more than ``limit`` deep in ``value`` (the
    first two keys on the way, as text), or None. A loop: no recursion."""
    stack = [(value, 1, ())]
    while stack:
        item, depth, where = stack.pop()
        if not isinstance(item, (list, dict)):
            continue
        if depth > limit:
            return " -> ".join(repr(key)[:40] for key in where) or "the top level"
        pairs = item.items() if isinstance(item, dict) else enumerate(item)
        stack.extend((v, depth + 1, where if len(where) == 2 else where + (k,))
                     for k, v in pairs)
    return None


def _param(name, value, depth=0):
    """A saved hyper-parameter back in Python: lists become tuples (as
    scikit-learn's parameters are), dicts (a convolution's spec) stay, and a
    dict saved as [key, value] pairs (``class_weight``) is a dict again."""
    if isinstance(value, (list, dict)) and len(value) > MAX_PARAM_LENGTH:
        raise ValueError(f"hyper-parameter {name} has {len(value)} entries; at most "
                         f"{MAX_PARAM_LENGTH} are read")
    if isinstance(value, (list, dict)) and depth >= 3:
        raise ValueError(f"hyper-parameter {name} is nested too deeply")
    if isinstance(value, list):
        return tuple(_param(name, v, depth + 1) for v in value)
    if isinstance(value, dict) and set(value) == {_PAIRS}:
        pairs = value[_PAIRS]
        if not isinstance(pairs, list) or len(pairs) > MAX_PARAM_LENGTH or not all(
                isinstance(p, list) and len(p) == 2
                and isinstance(p[0], (str, int, float, bool)) for p in pairs):
            raise ValueError(f"hyper-parameter {name} is not a dict saved as [key, value] "
                             "pairs")
        return {_param(name, k, depth + 1): _param(name, v, depth + 1) for k, v in pairs}
    if isinstance(value, dict):
        return {k: _param(name, v, depth + 1) for k, v in value.items()}
    if isinstance(value, int) and not isinstance(value, bool) \
            and not -2**63 <= value < 2**63:
        raise ValueError(f"hyper-parameter {name} is out of range: {str(value)[:40]}")
    if value in ("inf", "-inf", "nan"):  # how _jsonable writes them (n_iter_no_change=np.inf)
        return float(value)
    return value


def _state_from(meta, arrays):
    """The estimator the metadata names, and the state it is to import."""
    classes = _estimator_classes()
    if meta["estimator"] not in classes:
        raise ValueError(f"unknown estimator {meta['estimator'][:80]!r}; a model file holds "
                         f"one of {sorted(classes)}")
    cls = classes[meta["estimator"]]
    names = cls._get_param_names()
    unknown = [k for k in meta["params"] if k not in names]
    if unknown:
        raise ValueError(f"{cls.__name__} has no hyper-parameter {unknown[0][:80]!r}")
    est = cls(**{k: _param(k, v) for k, v in meta["params"].items()})
    est._validate_params()

    for name in ("params", "classes"):
        if name not in arrays:
            raise ValueError(f"the archive has no {name}.npy")
    class_array = arrays.pop("classes")
    if meta["classes_dtype"] == "object":
        if class_array.dtype.kind != "U":
            raise ValueError(f"classes_dtype is 'object' but the classes are "
                             f"{class_array.dtype}")
        class_array = class_array.astype(object)
    elif meta["classes_dtype"] != class_array.dtype.str:
        raise ValueError(f"classes_dtype is {meta['classes_dtype'][:40]!r} but the classes "
                         f"are {class_array.dtype.str!r}")

    attributes = dict(meta["attributes"])
    # the first format kept the training state among the attributes
    training = meta["training"]
    if training is None:
        training = {key: attributes.pop(old) for key, old in (
            ("learning_rate", "_learning_rate"), ("no_improvement_count",
                                                  "_no_improvement_count"))
            if old in attributes}

    rng_states = dict(meta["rng_states"])
    if "estimator" not in rng_states:
        raise ValueError("rng_states lacks the entry 'estimator'")
    layers = {}
    for key, value in rng_states.items():
        match = re.fullmatch(r"layer(0|[1-9][0-9]{0,3})", key)
        if key != "estimator" and match is None:
            raise ValueError(f"rng_states has an unknown entry {key[:40]!r}")
        if match is not None:
            layers[int(match.group(1))] = {"rng": check_rng_state(f"rng_states[{key!r}]",
                                                                  value)}
    return est, {"classes": class_array, "attributes": attributes,
                 "network": {"params": arrays.pop("params"), "layers": layers},
                 "optimizer": _optimizer_state(meta, arrays, est.solver),
                 "rng": check_rng_state("rng_states['estimator']", rng_states["estimator"]),
                 "training": training, "description": _description(meta["description"]),
                 "target_type": meta["target_type"] or "multiclass"}


#: what a model may say about its data (``class_names_``, ``dataset_name_``)
DESCRIPTION = {"class_names": "list of str or None", "dataset": "str or None"}


def _description(description):
    """The ``description`` entry, checked against :data:`DESCRIPTION` (None: absent)."""
    if description is None:
        return None
    return check_saved_fields("the model's description", description, DESCRIPTION)


def _optimizer_state(meta, arrays, solver):
    """The state of the ``solver``'s optimizer (:meth:`Optimizer.state`), from
    the ``opt_*`` arrays."""
    from ._optimizers import OPTIMIZERS

    name = meta["optimizer"]
    if name is None:
        if arrays:
            raise ValueError(f"the archive holds optimizer state {sorted(arrays)} but the "
                             "metadata names no optimizer")
        return None
    if solver not in OPTIMIZERS:
        raise ValueError(f"the archive holds optimizer state, but solver={solver!r} keeps "
                         "none")
    if name != OPTIMIZERS[solver].__name__:
        raise ValueError(f"the saved optimizer state is {name[:40]!r}'s, but "
                         f"solver={solver!r} uses {OPTIMIZERS[solver].__name__}")
    scalars = check_saved_fields("optimizer_scalars", meta["optimizer_scalars"] or {},
                                 OPTIMIZER_SCALARS)
    state = {key[4:]: value for key, value in arrays.items()}
    state["n_steps"] = scalars.get("n_steps", scalars.get("t", 0))
    return state

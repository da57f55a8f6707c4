"""Checks of parameters, image shapes and saved values, shared by every public entry point.

Validation happens once, at the public edge (``fit``, a plotting function,
the preprocessing transformer, the command line, loading a model file), and
always the same way: a ``ValueError`` that names the parameter and shows the
value it got. The helpers below are the only place these rules are written.
"""

import math
import numbers

import numpy as np

#: the precisions the kernels are compiled for
DTYPES = {"float32": np.float32, "float64": np.float64}


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _finite_float(value):
    """Whether the real number ``value`` is a finite float (10**400 is not)."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def check_param(name, value, kind, low=None, high=None, options=None, *,
                closed_low=True, closed_high=True, allow_none=False):
    """Raise a ValueError naming ``name`` when ``value`` is out of its domain.

    Parameters
    ----------
    name : str
        The parameter's name, as the user wrote it.
    value : object
    kind : {"int", "float", "bool"} or None
        The type wanted (None with ``options``). A "float" must be finite; an
        "int" or "float" is never a bool.
    low, high : float, optional
        Bounds of the interval; ``closed_low`` / ``closed_high`` say whether
        they belong to it.
    options : collection of str, optional
        The allowed strings.
    allow_none : bool, default=False
        Whether None is accepted.

    Examples
    --------
    >>> from perceptron._validation import check_param
    >>> check_param("alpha", 0.5, "float", 0)
    >>> check_param("alpha", -1.0, "float", 0)
    Traceback (most recent call last):
    ...
    ValueError: alpha must be a float in [0, inf), got -1.0
    """
    if value is None and allow_none:
        return
    if options is not None:
        if not (isinstance(value, str) and value in options):
            raise ValueError(f"{name} must be one of {sorted(options)}, got {value!r}")
        return
    if kind == "int":
        ok = _is_int(value)
    elif kind == "bool":
        ok = isinstance(value, (bool, np.bool_))
    else:
        ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
        ok = ok and _finite_float(value)
    if ok and low is not None:
        ok = value >= low if closed_low else value > low
    if ok and high is not None:
        ok = value <= high if closed_high else value < high
    if not ok:
        lo = "" if low is None else ("[" if closed_low else "(") + f"{low}, "
        hi = "" if high is None else f"{high}" + ("]" if closed_high else ")")
        rng = f" in {lo}{hi or 'inf)'}" if low is not None or high is not None else ""
        article = "an" if kind == "int" else "a"
        raise ValueError(f"{name} must be {article} {kind}{rng}, got {value!r}")


def check_positive_int(name, value, *, allow_none=False):
    """``value`` as an int >= 1, or a ValueError naming ``name``."""
    if value is None and allow_none:
        return None
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def check_pair(name, value):
    """``3 -> (3, 3)``; ``(3, 5) -> (3, 5)``; anything else -> ValueError.

    Examples
    --------
    >>> from perceptron._validation import check_pair
    >>> check_pair("kernel_size", 3), check_pair("kernel_size", (3, 5))
    ((3, 3), (3, 5))
    """
    if _is_int(value):
        value = (value, value)
    try:
        a, b = value
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}") from None
    for v in (a, b):
        if not _is_int(v) or v < 1:
            raise ValueError(f"{name} must contain positive ints, got {value!r}")
    return int(a), int(b)


def check_layer_sizes(name, sizes):
    """Return ``sizes`` (an int or a sequence of positive ints) as a tuple.

    Examples
    --------
    >>> from perceptron._validation import check_layer_sizes
    >>> check_layer_sizes("hidden_layer_sizes", 100), check_layer_sizes("h", [64, 32])
    ((100,), (64, 32))
    """
    original = sizes
    if _is_int(sizes):
        sizes = (sizes,)
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise ValueError(f"{name} must be an int or a tuple of ints, got {original!r}") from None
    for size in sizes:
        if not _is_int(size) or size < 1:
            raise ValueError(f"{name} must contain positive ints, got {original!r}")
    return tuple(int(s) for s in sizes)


#: longest class or data set name a model keeps (model files are untrusted input)
MAX_NAME_LENGTH = 200


def check_description(class_names, dataset_name, n_classes):
    """Check what a model says about its data; return them as plain Python values.

    Parameters
    ----------
    class_names : sequence of str or None
        One display name per class, in the order of ``classes_``.
    dataset_name : str or None
        The data set the model was trained on.
    n_classes : int

    Returns
    -------
    class_names : list of str or None
    dataset_name : str or None

    Examples
    --------
    >>> from perceptron._validation import check_description
    >>> check_description(("cat", "dog"), "pets", 2)
    (['cat', 'dog'], 'pets')
    >>> check_description(["cat"], None, 2)
    Traceback (most recent call last):
    ...
    ValueError: class_names_ must hold 2 names, one per class, got 1
    """
    if dataset_name is not None and not (
            isinstance(dataset_name, str) and 0 < len(dataset_name) <= MAX_NAME_LENGTH):
        raise ValueError(f"dataset_name_ must be a non-empty str of at most "
                         f"{MAX_NAME_LENGTH} characters, got {dataset_name!r:.80}")
    if class_names is None:
        return None, dataset_name
    if isinstance(class_names, str) or not hasattr(class_names, "__len__"):
        raise ValueError(f"class_names_ must be a sequence of str, got {class_names!r:.80}")
    if len(class_names) != n_classes:
        raise ValueError(f"class_names_ must hold {n_classes} names, one per class, "
                         f"got {len(class_names)}")
    names = []
    for name in class_names:
        if isinstance(name, np.str_):
            name = str(name)
        if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
            raise ValueError(f"class_names_ must be strings of at most {MAX_NAME_LENGTH} "
                             f"characters, got {name!r:.80}")
        names.append(name)
    return names, dataset_name


def resolve_dtype(dtype):
    """Map the ``dtype`` parameter (a name or a NumPy type) to ``np.float32/64``."""
    try:
        name = np.dtype(dtype).name
    except (TypeError, ValueError, SyntaxError):  # np.dtype("1" * 5000): SyntaxError
        name = None
    if name not in DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return DTYPES[name]


#: the largest ``n_threads`` accepted, either sign. The kernels' OpenMP
#: runtime (libgomp) allocates per-thread state for the team it is asked for
#: and ends the process when it cannot (10**9 threads: "out of memory
#: allocating 224 GB"); no machine Linux runs on has more CPUs than this
#: (its largest ``NR_CPUS``). The count used is then capped by the CPUs the
#: process may run on (:func:`perceptron._config.effective_n_threads`), so a
#: model file written on a large machine still loads on a small one.
MAX_THREADS = 8192


def check_n_threads(n_threads):
    """Check an ``n_threads`` parameter: None or a non-zero int in
    ``[-MAX_THREADS, MAX_THREADS]``.

    Examples
    --------
    >>> from perceptron._validation import check_n_threads
    >>> check_n_threads(-1)
    >>> check_n_threads(10**9)
    Traceback (most recent call last):
    ...
    ValueError: n_threads must be None or a non-zero int in [-8192, 8192], got 1000000000
    """
    if n_threads is not None and (not _is_int(n_threads) or n_threads == 0
                                  or abs(n_threads) > MAX_THREADS):
        raise ValueError(f"n_threads must be None or a non-zero int in "
                         f"[-{MAX_THREADS}, {MAX_THREADS}], got {n_threads!r}")


#: the hooks of the callback protocol (:mod:`perceptron.callbacks`)
CALLBACK_HOOKS = ("on_train_begin", "on_epoch_begin", "on_epoch_end", "on_train_end")


def check_callbacks(callbacks):
    """Check a ``callbacks`` parameter: None, or a list of objects with callback hooks.

    Examples
    --------
    >>> from perceptron._validation import check_callbacks
    >>> from perceptron.callbacks import EarlyStopping
    >>> check_callbacks([EarlyStopping()])
    >>> check_callbacks([EarlyStopping])
    Traceback (most recent call last):
    ...
    ValueError: callbacks[0] is the class EarlyStopping: pass an instance, EarlyStopping()
    """
    if callbacks is None:
        return
    if not isinstance(callbacks, (list, tuple)):
        raise ValueError(f"callbacks must be None or a list of callbacks, got {callbacks!r}")
    for i, callback in enumerate(callbacks):
        if isinstance(callback, type):
            raise ValueError(f"callbacks[{i}] is the class {callback.__name__}: pass an "
                             f"instance, {callback.__name__}()")
        if not any(callable(getattr(callback, hook, None)) for hook in CALLBACK_HOOKS):
            raise ValueError(f"callbacks[{i}] = {callback!r} is not a callback: it has none "
                             f"of the methods {', '.join(CALLBACK_HOOKS)}")


def check_image_shape(image_shape, n_features=None, *, channels=False, strip=False,
                      name="image_shape", what="X"):
    """The shape of one image of ``n_features`` pixels: given, or a square.

    The one rule every part of the package follows to fold a row of pixels
    back into an image.

    Parameters
    ----------
    image_shape : tuple of int or None
        ``(height, width)``, or with ``channels=True`` also ``(channels,
        height, width)``. None means a square single-channel image.
    n_features : int, optional
        Pixels per row; when given, the shape must hold exactly that many
        (and None needs a perfect square). When None, only ``image_shape``
        itself is checked (and None is returned for None).
    channels : bool, default=False
        Return ``(channels, height, width)`` instead of ``(height, width)``.
    strip : bool, default=False
        With ``image_shape=None``, read a row that is not a perfect square as
        a ``1 x n_features`` strip instead of raising (how
        :class:`~perceptron.ConvDigitClassifier` takes any table: 10 features
        are a 1x10 image, 9 still a 3x3 one).
    name, what : str
        The parameter's name and the data's name, for the error messages.

    Returns
    -------
    shape : tuple of int or None

    Examples
    --------
    >>> from perceptron._validation import check_image_shape
    >>> check_image_shape(None, 784), check_image_shape((2, 3), 6, channels=True)
    ((28, 28), (1, 2, 3))
    >>> check_image_shape(None, 10, strip=True), check_image_shape(None, 9, strip=True)
    ((1, 10), (3, 3))
    >>> check_image_shape(None, 10)
    Traceback (most recent call last):
    ...
    ValueError: X has 10 features per row, which is not a square image; pass image_shape=(height, width)
    """
    if image_shape is None:
        if n_features is None:
            return None
        side = math.isqrt(n_features)
        if side * side != n_features and strip:
            return (1, 1, n_features) if channels else (1, n_features)
        if side * side != n_features:
            raise ValueError(
                f"{what} has {n_features} features per row, which is not a square image; "
                f"pass {name}=(height, width)")
        return (1, side, side) if channels else (side, side)
    lengths = (2, 3) if channels else (2,)
    try:
        shape = tuple(image_shape)
    except TypeError:
        shape = None
    if shape is None or len(shape) not in lengths or not all(
            _is_int(v) and v >= 1 for v in shape):
        wanted = "(height, width) or (channels, height, width)" if channels \
            else "(height, width)"
        raise ValueError(
            f"{name} must be None or {wanted} with positive ints, got {image_shape!r}")
    shape = tuple(int(v) for v in shape)
    if n_features is not None and math.prod(shape) != n_features:
        raise ValueError(
            f"{name}={image_shape!r} means {math.prod(shape)} pixels per image, "
            f"but {what} has {n_features} per row")
    if channels and len(shape) == 2:
        shape = (1,) + shape
    return shape


def check_class_weight(class_weight):
    """Check a ``class_weight`` parameter: None, "balanced" or ``{label: weight}``.

    The weights of a dict must be finite numbers >= 0 (scikit-learn's
    ``compute_class_weight`` checks its keys against the classes at fit time).

    Examples
    --------
    >>> from perceptron._validation import check_class_weight
    >>> check_class_weight({0: 1.0, 1: 5})
    >>> check_class_weight({0: -1})
    Traceback (most recent call last):
    ...
    ValueError: class_weight must map class labels to finite numbers >= 0, got {0: -1}
    """
    if class_weight is None or (isinstance(class_weight, str) and class_weight == "balanced"):
        return
    if not isinstance(class_weight, dict):
        raise ValueError("class_weight must be None, 'balanced' or a dict {class label: "
                         f"weight}}, got {class_weight!r}")
    for weight in class_weight.values():
        if (not isinstance(weight, numbers.Real) or isinstance(weight, (bool, np.bool_))
                or not _finite_float(weight) or weight < 0):
            raise ValueError("class_weight must map class labels to finite numbers >= 0, "
                             f"got {class_weight!r}")


def check_sample_weight(sample_weight, X):
    """``sample_weight`` as a float64 vector of one weight per row of ``X``.

    scikit-learn's rules (``sklearn.utils.validation._check_sample_weight``):
    a scalar is repeated; an array must be 1-D with one finite weight >= 0
    per sample, not all zero. Each rule's ValueError is scikit-learn's.

    Examples
    --------
    >>> import numpy as np
    >>> from perceptron._validation import check_sample_weight
    >>> check_sample_weight([1, 2, 0], np.zeros((3, 2)))
    array([1., 2., 0.])
    >>> check_sample_weight([1, -2, 0], np.zeros((3, 2)))
    Traceback (most recent call last):
    ...
    ValueError: Negative values in data passed to `sample_weight`.
    """
    from sklearn.utils.validation import _check_sample_weight

    return _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)


# ---------------------------------------------------------------- saved values
#: the largest count a model file may hold (the kernels index with int64)
_MAX_COUNT = 2**63 - 1


def _is_count(value, low):
    return _is_int(value) and low <= value <= _MAX_COUNT


def _number(value):
    """A JSON number (non-finite floats are saved as "inf", "-inf", "nan"),
    as a float; None when ``value`` is not one."""
    if isinstance(value, str) and value in ("inf", "-inf", "nan"):
        return float(value)
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        try:
            return float(value)
        except OverflowError:
            return None
    return None


def _numbers(value):
    if not isinstance(value, list):
        return None
    out = [_number(v) for v in value]
    return None if None in out else out


def _strs(value):
    ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value if ok else None


def _lists_of_numbers(value):
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        return None
    out = {k: _numbers(v) for k, v in value.items()}
    return None if None in out.values() else out


#: the kinds of value a model file holds (:func:`check_saved`): kind -> a
#: function returning the value (numbers as Python numbers), or None when
#: the value is not of that kind
SAVED_KINDS = {
    "int >= 0": lambda v: v if _is_count(v, 0) else None,
    "int >= 1": lambda v: v if _is_count(v, 1) else None,
    "number": _number,
    "str": lambda v: v if isinstance(v, str) else None,
    "bool": lambda v: v if isinstance(v, bool) else None,
    "dict": lambda v: v if isinstance(v, dict) else None,
    "list of numbers": _numbers,
    "list of str": _strs,
    "dict of lists of numbers": _lists_of_numbers,
}


def _short(value, width=60):
    text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def check_saved(name, value, kind):
    """``value``, read from a model file, when it is of ``kind``; else a ValueError.

    Parameters
    ----------
    name : str
        What the value is, for the message.
    value : object
        As the JSON metadata gave it.
    kind : str
        A key of :data:`SAVED_KINDS`, optionally followed by ``" or None"``.
        Counts are at most ``2**63 - 1``; a "number" may be saved as
        ``"inf"``, ``"-inf"`` or ``"nan"``.

    Returns
    -------
    value : object
        The value, numbers as Python floats or ints.

    Examples
    --------
    >>> from perceptron._validation import check_saved
    >>> check_saved("loss_curve_", [0.5, "inf"], "list of numbers")
    [0.5, inf]
    >>> check_saved("n_iter_", "3", "int >= 0")
    Traceback (most recent call last):
    ...
    ValueError: n_iter_ must be int >= 0, got '3'
    """
    base = kind.removesuffix(" or None")
    if value is None and base != kind:
        return None
    out = SAVED_KINDS[base](value)
    if out is None:
        raise ValueError(f"{name} must be {kind}, got {_short(value)}")
    return out


def check_saved_fields(name, values, kinds, required=()):
    """Check a dict read from a model file against ``kinds`` (entry -> kind).

    Every entry must be listed in ``kinds`` (an allow-list: adding a saved
    field is one line there) and be of its kind; the ``required`` ones must
    be present. Returns the checked dict (see :func:`check_saved`).
    """
    if not isinstance(values, dict):
        raise ValueError(f"{name} must be a dict, got {_short(values)}")
    unknown = [key for key in values if key not in kinds]
    if unknown:
        raise ValueError(f"{name} has an unknown entry {_short(unknown[0])} (a file from "
                         "a newer perceptron, or a damaged one?)")
    missing = [key for key in required if key not in values]
    if missing:
        raise ValueError(f"{name} lacks the entry {missing[0]!r}")
    return {key: check_saved(f"{name}[{key!r}]", value, kinds[key])
            for key, value in values.items()}


def check_rng_state(name, state):
    """``state`` when it is the state of a ``numpy.random.PCG64`` generator
    (``Generator.bit_generator.state``, what ``default_rng`` makes); else a
    ValueError naming ``name``."""
    ok = (isinstance(state, dict)
          and set(state) == {"bit_generator", "state", "has_uint32", "uinteger"}
          and state["bit_generator"] == "PCG64"
          and isinstance(state["state"], dict) and set(state["state"]) == {"state", "inc"}
          and all(_is_int(v) and 0 <= v < 2**128 for v in state["state"].values())
          and _is_int(state["has_uint32"]) and state["has_uint32"] in (0, 1)
          and _is_int(state["uinteger"]) and 0 <= state["uinteger"] < 2**32)
    if not ok:
        raise ValueError(f"{name} must be the state of a PCG64 random generator, "
                         f"got {_short(state)}")
    return state

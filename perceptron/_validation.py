"""Checks of parameters and image shapes, shared by every public entry point.

Validation happens once, at the public edge (``fit``, a plotting function,
the preprocessing transformer, the command line), and always the same way: a
``ValueError`` that names the parameter and shows the value it got. The
helpers below are the only place these rules are written.
"""

import math
import numbers

import numpy as np

#: the precisions the kernels are compiled for
DTYPES = {"float32": np.float32, "float64": np.float64}


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


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
        ok = ok and bool(np.isfinite(value))
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


def resolve_dtype(dtype):
    """Map the ``dtype`` parameter (a name or a NumPy type) to ``np.float32/64``."""
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return DTYPES[name]


def check_n_threads(n_threads):
    """Check an ``n_threads`` parameter: None or a non-zero int."""
    if n_threads is not None and (not _is_int(n_threads) or n_threads == 0):
        raise ValueError(f"n_threads must be None or a non-zero int, got {n_threads!r}")


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


def check_image_shape(image_shape, n_features=None, *, channels=False, name="image_shape",
                      what="X"):
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
    >>> check_image_shape(None, 10)
    Traceback (most recent call last):
    ...
    ValueError: X has 10 features per row, which is not a square image; pass image_shape=(height, width)
    """
    if image_shape is None:
        if n_features is None:
            return None
        side = math.isqrt(n_features)
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
                or not np.isfinite(weight) or weight < 0):
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

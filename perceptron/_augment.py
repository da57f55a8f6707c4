"""Random transforms of the training images: the ``augment`` parameter and :func:`augment_images`.

``MLPDigitClassifier(augment={...})`` and ``ConvDigitClassifier(augment={...})``
train on images moved a little differently at every mini-batch: shifted,
rotated, zoomed, sheared, mirrored, elastically distorted. The network sees
more of what a digit or a garment can look like, without new data. Each
batch is gathered and transformed in one pass of ``_kernels/_augment.pyx``
(its docstring derives the transforms), from a seed drawn from the
estimator's random stream: the same for any number of threads. Validation
and prediction see the images as they are.

:func:`augment_images` runs the same kernel over an array of images, to look
at what the network is trained on.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_array, check_random_state

from ._config import effective_n_threads
from ._kernels import _augment
from ._validation import check_image_shape, check_param

#: what each key of ``augment`` means
TRANSFORMS = {
    "shift": "the largest shift in pixels, along each axis (a float >= 0)",
    "rotation": "the largest rotation in degrees, either way (a float in [0, 180])",
    "zoom": "the zoom factor is drawn in [1 - zoom, 1 + zoom] (a float in [0, 1))",
    "shear": "the largest shear angle in degrees, either way (a float in [0, 90))",
    "flip": "whether half the images are mirrored left-right (a bool)",
    "elastic": "(alpha, sigma): an elastic distortion of alpha pixels smoothed over "
               "sigma pixels (Simard et al. 2003)",
}

#: the kernel's arguments when nothing is transformed
_IDENTITY = {"shift": 0.0, "rotation": 0.0, "zoom": 0.0, "shear": 0.0, "flip": False,
             "alpha": 0.0, "sigma": 1.0}

AUGMENT_DOC = """\
    augment : dict or None, default=None
        Random transforms of the training images, drawn afresh for every
        image of every mini-batch (validation and prediction see the images
        unchanged). Keys, each optional: ``"shift"`` (the largest shift in
        pixels along each axis), ``"rotation"`` (the largest angle in
        degrees), ``"zoom"`` (the zoom factor lies in ``[1 - zoom, 1 +
        zoom]``), ``"shear"`` (the largest shear angle in degrees),
        ``"flip"`` (True: mirror half the images left-right; for clothes,
        not digits) and ``"elastic"`` (``(alpha, sigma)``: Simard et al.'s
        elastic distortion, a random displacement field of about ``alpha``
        pixels smoothed over ``sigma`` pixels, e.g. ``(34, 4)`` on 28x28
        digits). Pixels coming from outside the image are 0. None or ``{}``
        train on the images as they are. See
        :func:`perceptron.preprocessing.augment_images` to look at them."""


def check_augment(augment):
    """The ``augment`` parameter as the kernel's arguments, or None when it changes nothing.

    Parameters
    ----------
    augment : dict or None

    Returns
    -------
    magnitudes : dict or None
        ``shift``, ``rotation``, ``zoom``, ``shear``, ``flip``, ``alpha`` and
        ``sigma``, the keyword arguments of ``_augment.augment_batch``; None
        for None, ``{}`` and all magnitudes 0 (the identity).

    Raises
    ------
    ValueError
        When ``augment`` is not a dict, has an unknown key or a value out of
        its range.

    Examples
    --------
    >>> from perceptron._augment import check_augment
    >>> check_augment({"shift": 2, "flip": True})["shift"]
    2.0
    >>> check_augment({}) is None
    True
    >>> check_augment({"spin": 3})
    Traceback (most recent call last):
    ...
    ValueError: augment has the unknown key 'spin'; the keys are ['shift', 'rotation', ...]
    """
    if augment is None:
        return None
    if not isinstance(augment, Mapping):
        raise ValueError(
            f"augment must be None or a dict with keys from {list(TRANSFORMS)}, got {augment!r}")
    for key in augment:
        if key not in TRANSFORMS:
            raise ValueError(
                f"augment has the unknown key {key!r}; the keys are {list(TRANSFORMS)}")
    magnitudes = dict(_IDENTITY)
    for key, value in augment.items():
        name = f"augment[{key!r}]"
        if key == "flip":
            check_param(name, value, "bool")
            magnitudes["flip"] = bool(value)
        elif key == "elastic":
            magnitudes["alpha"], magnitudes["sigma"] = _check_elastic(name, value)
        else:
            high, closed = {"shift": (None, True), "rotation": (180, True),
                            "zoom": (1, False), "shear": (90, False)}[key]
            check_param(name, value, "float", 0, high, closed_high=closed)
            magnitudes[key] = float(value)
    if all(magnitudes[k] == _IDENTITY[k] for k in magnitudes if k != "sigma"):
        return None  # (sigma alone moves nothing)
    return magnitudes


def _check_elastic(name, value):
    """``(alpha, sigma)``: alpha a float >= 0, sigma a float > 0."""
    try:
        alpha, sigma = value
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (alpha, sigma), got {value!r}") from None
    check_param(f"{name} alpha", alpha, "float", 0)
    check_param(f"{name} sigma", sigma, "float", 0, closed_low=False)
    return float(alpha), float(sigma)


@dataclass
class Augmentation:
    """The random transforms of training batches, for images of one shape.

    Called as ``_dense.take_rows`` is, it gathers the rows of a batch and
    transforms them: the engines' ``train_batch(..., augment=)`` takes it
    in place of the plain gather.

    Parameters
    ----------
    magnitudes : dict
        What :func:`check_augment` returns (not None).
    image_shape : tuple of int
        ``(channels, height, width)``.
    channels_last : bool
        Whether a row holds ``(height, width, channels)`` (the CNN's input)
        rather than ``(channels, height, width)``.
    rng : numpy.random.Generator or None
        The stream each batch's seed is drawn from (the estimator's).
    """

    magnitudes: dict
    image_shape: tuple
    channels_last: bool = False
    rng: object = None

    def __post_init__(self):
        sigma, side = self.magnitudes["sigma"], max(self.image_shape[1:])
        if self.magnitudes["alpha"] > 0 and sigma > side:
            raise ValueError(
                f"augment['elastic'] sigma={sigma} is larger than the images "
                f"({self.image_shape[1]}x{self.image_shape[2]}); use at most {side}")

    def __call__(self, X, rows, out, n_threads=1):
        """``out[k]`` = the image ``X[rows[k]]`` under a fresh random transform.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_values)
            One image per row, C-contiguous, float32 or float64.
        rows : ndarray of shape (m,), dtype intp
        out : ndarray of shape (m, n_values)
            Same dtype as ``X``.
        n_threads : int
        """
        _augment.augment_batch(X, rows, out, self.image_shape, self.channels_last,
                               seed=int(self.rng.integers(2**63)), n_threads=n_threads,
                               **self.magnitudes)


def augment_images(X, augment, image_shape=None, random_state=None, *, n_threads=None):
    """Random transforms of images, as the classifiers' ``augment`` draws them.

    The same kernel that transforms each training batch of
    :class:`~perceptron.MLPDigitClassifier` and
    :class:`~perceptron.ConvDigitClassifier` when they are given
    ``augment``, run over ``X``: a fresh transform for each image.

    Parameters
    ----------
    X : array-like of shape (n_images, n_pixels)
        Flattened images, one per row.
    augment : dict or None
        The transforms: keys ``"shift"``, ``"rotation"``, ``"zoom"``,
        ``"shear"``, ``"flip"`` and ``"elastic"``, as the classifiers'
        ``augment`` parameter. None or ``{}`` return a copy of ``X``.
    image_shape : tuple of int or None, default=None
        ``(height, width)`` or ``(channels, height, width)`` of one image
        (channel-major rows, as :class:`~perceptron.ConvDigitClassifier`
        reads them); None means square single-channel images.
    random_state : int, RandomState instance or None, default=None
        Seeds the transforms: the same value gives the same images, for any
        ``n_threads``.
    n_threads : int or None, default=None
        Threads of the kernel (None: all the OpenMP threads).

    Returns
    -------
    X_new : ndarray of shape (n_images, n_pixels)
        The transformed images, float32 when ``X`` is float32, else float64.

    Examples
    --------
    >>> import numpy as np
    >>> from perceptron.preprocessing import augment_images
    >>> X = np.zeros((2, 64))
    >>> X[:, 27] = 1.0  # two 8x8 images, each with one lit pixel: row 3, column 3
    >>> mirrored = augment_images(X, {"flip": True}, random_state=0)
    >>> [int(np.argmax(image)) for image in mirrored]  # the second one is mirrored: column 4
    [27, 28]
    >>> moved = augment_images(X, {"shift": 1.5}, random_state=0)
    >>> moved.shape, bool(np.allclose(moved.sum(axis=1), 1.0))  # the pixel, spread out
    ((2, 64), True)
    """
    X = check_array(X, dtype=(np.float64, np.float32), order="C")
    shape = check_image_shape(image_shape, X.shape[1], channels=True)
    magnitudes = check_augment(augment)
    if magnitudes is None:
        return X.copy()
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    augmentation = Augmentation(magnitudes, shape, rng=np.random.default_rng(seed))
    out = np.empty_like(X)
    augmentation(X, np.arange(X.shape[0], dtype=np.intp), out, effective_n_threads(n_threads))
    return out

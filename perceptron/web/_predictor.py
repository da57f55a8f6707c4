"""What the web app does with one image, without the web: read, preprocess, predict.

:class:`Predictor` wraps one fitted model shared by every request. Reading
and preprocessing an image touch nothing shared, and neither does a
prediction: the estimators' ``predict_proba`` and ``feature_maps`` take
buffers of their own for each call and write nothing on the model (see
:class:`perceptron._network.Network`). So requests run in several threads
at once, the model's calls too, without a lock. (A model that is training
must not answer meanwhile; the app only serves fitted models.)
"""

import io

import numpy as np

from .._imageio import is_pil_image, open_image, pil_to_gray
from ..datasets._sources import FASHION_MNIST_CLASSES
from ..preprocessing import WORK_PIXELS, digit_field, preprocess_digit_image

#: uploads with more pixels are refused (a 24 MP camera's 6000 x 4000 photos pass)
MAX_PIXELS = 24_000_000

#: at most this many feature maps of a CNN's first layer go into an answer
MAX_FEATURE_MAPS = 32

#: class names known by the name of the data set they come from
KNOWN_CLASS_NAMES = {"fashion-mnist": FASHION_MNIST_CLASSES}


def resolve_class_names(estimator, names=None):
    """Display names of ``estimator.classes_``, in the same order.

    Parameters
    ----------
    estimator : fitted classifier
    names : sequence of str, str or None
        The names; or the name of a data set whose names are known
        (``"fashion-mnist"``); None takes the model's own ``class_names_``
        when it has them, else the labels themselves.
    """
    labels = estimator.classes_
    if names is None:
        names = getattr(estimator, "class_names_", None)
    if isinstance(names, str):
        if names not in KNOWN_CLASS_NAMES:
            raise ValueError(f"class_names must be a list of names or one of "
                             f"{sorted(KNOWN_CLASS_NAMES)}, got {names!r}")
        names = KNOWN_CLASS_NAMES[names]
    if names is None:
        return [str(label) for label in labels]
    names = [str(name) for name in names]
    if len(names) != len(labels):
        raise ValueError(f"{len(names)} class names for a model of {len(labels)} classes")
    return names


class Predictor:
    """One fitted model, answering for one image at a time, from any thread.

    Parameters
    ----------
    estimator : fitted classifier of square images
        ``PerceptronClassifier``, ``MLPDigitClassifier`` or
        ``ConvDigitClassifier`` (anything with ``classes_``,
        ``n_features_in_`` and ``predict_proba``; ``feature_maps`` when it
        has one is shown too).
    class_names : sequence of str, str or None, default=None
        See :func:`resolve_class_names`.
    max_pixels : int, default=MAX_PIXELS
        Larger uploaded images are refused before they are decoded.
    """

    def __init__(self, estimator, *, class_names=None, max_pixels=MAX_PIXELS):
        if not hasattr(estimator, "classes_") or not hasattr(estimator, "n_features_in_"):
            raise ValueError("the model must be a fitted classifier")
        self.estimator = estimator
        self.size, self.box = digit_field(estimator.n_features_in_)
        self.labels = np.asarray(estimator.classes_).tolist()
        self.names = resolve_class_names(estimator, class_names)
        self.max_pixels = max_pixels
        self.has_feature_maps = callable(getattr(estimator, "feature_maps", None))

    def describe(self):
        """What the page shows about the model (``GET /api/model``)."""
        return {
            "estimator": type(self.estimator).__name__,
            "classes": self.labels,
            "names": self.names,
            "input": {"height": self.size, "width": self.size, "box": self.box},
            "feature_maps": self.has_feature_maps,
        }

    # -- reading ----------------------------------------------------------------
    def image_from_bytes(self, data):
        """An uploaded file's bytes -> an opened (not yet decoded) PIL image."""
        if not data:
            raise ValueError("the upload is empty: send a PNG or JPEG image")
        return open_image(io.BytesIO(data), "the upload", self.max_pixels)

    def image_from_pixels(self, pixels):
        """A JSON array of grey levels (or RGB(A) triples) -> an ndarray."""
        try:
            arr = np.asarray(pixels, dtype=np.float64)
        except (ValueError, TypeError):
            raise ValueError("pixels must be a 2D array of numbers (rows of equal "
                             "length), or 3D with 3 or 4 colour values per pixel") from None
        if arr.ndim not in (1, 2, 3):
            raise ValueError(f"pixels must be a 2D array of numbers, got {arr.ndim} "
                             "dimensions")
        if arr.size > self.max_pixels:
            raise ValueError(f"pixels has {arr.size} values, above the limit of "
                             f"{self.max_pixels}")
        return arr

    # -- predicting -------------------------------------------------------------
    def model_input(self, image, preprocess=True):
        """The row of pixels the model reads: ``image`` preprocessed, or as given.

        Without preprocessing the image must already be what the model takes:
        ``size x size`` (or flat) values in [0, 1].
        """
        if preprocess:
            if is_pil_image(image):  # opened here: read small (a JPEG at 1/2 to 1/8)
                image = pil_to_gray(image, "the upload", max_pixels=self.max_pixels,
                                    work_pixels=WORK_PIXELS, draft=True)
            digit = preprocess_digit_image(image, size=self.size, box=self.box)
            return digit.reshape(1, -1)
        arr = np.asarray(image, dtype=np.float64)
        n = self.size * self.size
        if arr.size != n or arr.ndim not in (1, 2):
            raise ValueError(f"with preprocess=false, pixels must be {self.size} x "
                             f"{self.size} values (the model's input), got shape {arr.shape}")
        if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
            raise ValueError("with preprocess=false, pixels must be in [0, 1]")
        return arr.reshape(1, n)

    def predict(self, image, *, preprocess=True, details=True):
        """The answer to one image, as JSON-ready types.

        Parameters
        ----------
        image : PIL image, ndarray
            From :meth:`image_from_bytes` or :meth:`image_from_pixels`.
        preprocess : bool, default=True
            Make the image MNIST-like first (see :meth:`model_input`).
        details : bool, default=True
            Also return the small image the model read and, for a CNN, its
            first layer's feature maps.

        Returns
        -------
        answer : dict
            ``label``, ``name`` and ``probability`` of the top class;
            ``classes``, ``names`` and ``probabilities`` of all of them (in
            ``classes_`` order); with ``details``, ``image`` (``size`` rows of
            ``size`` values in [0, 1]) and ``feature_maps`` (None, or a dict
            with ``maps``: one ``h x w`` array of 0-255 per map, each scaled by
            its own ``peaks`` value).
        """
        x = self.model_input(image, preprocess)
        # no lock: a prediction writes only into buffers of its own call
        proba = np.asarray(self.estimator.predict_proba(x), dtype=np.float64)[0]
        maps = None
        if details and self.has_feature_maps:
            maps = np.asarray(self.estimator.feature_maps(x, layer=0))[0]
        top = int(np.argmax(proba))
        answer = {
            "label": self.labels[top],
            "name": self.names[top],
            "probability": float(proba[top]),
            "classes": self.labels,
            "names": self.names,
            "probabilities": proba.tolist(),
        }
        if details:
            answer["image"] = np.round(x.reshape(self.size, self.size), 4).tolist()
            answer["feature_maps"] = None if maps is None else _feature_maps(maps)
        return answer


def _feature_maps(maps):
    """(h, w, n) activations -> the first maps as 0-255 integers, each by its peak."""
    total = maps.shape[-1]
    maps = np.moveaxis(maps, -1, 0)[:MAX_FEATURE_MAPS].astype(np.float64)
    peaks = np.abs(maps).reshape(len(maps), -1).max(axis=1)
    scaled = maps / np.where(peaks > 0, peaks, 1.0)[:, None, None]
    return {
        "layer": 0,
        "total": int(total),
        "maps": np.rint(np.clip(scaled, 0.0, 1.0) * 255).astype(np.uint8).tolist(),
        "peaks": peaks.tolist(),
    }

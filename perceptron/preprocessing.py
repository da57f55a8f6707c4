"""Make a user's own digit image look like an MNIST digit.

MNIST digits were made this way (LeCun et al.): the scanned digit was
size-normalised to fit a 20x20 box keeping its aspect ratio, anti-aliased to
grey levels, then pasted in a 28x28 field so that its centre of mass sits at
the centre of the field. A classifier trained on MNIST expects exactly that:
white ink (high values) on a black (zero) background, digit of a given size,
centred by mass. A photo or a drawing of a digit (dark ink on light paper, any
size, anywhere on the canvas) must be brought to the same conventions before
``predict``: that is what :class:`DigitImagePreprocessor` does.

Pillow is only needed to read image *files* (PNG, JPEG, ...): install it with
``pip install "perceptron[image]"``. Arrays are processed with NumPy and SciPy.
"""

import numbers
import os

import numpy as np
from scipy import ndimage
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, validate_data

from ._augment import augment_images
from ._imageio import (MAX_IMAGE_PIXELS, import_pil, is_path, is_pil_image, pil_to_gray,
                       read_gray, to_gray)
from ._validation import check_image_shape, check_positive_int

__all__ = ["DigitImagePreprocessor", "MAX_IMAGE_PIXELS", "augment_images", "digit_field",
           "load_image", "preprocess_digit_image"]

#: below this contrast (ink peak minus background, on the 0-1 scale) an image is blank
_MIN_CONTRAST = 1.0 / 255.0

#: larger images are shrunk (by an integer factor) while read: the digit ends in a
#: 20 x 20 box anyway, and a 12 MP photo at full size costs time and memory
WORK_PIXELS = 2**20

#: with background="auto", images with a shorter side below this get one level:
#: photos are larger, and small images (MNIST's, icons) are clean
_MIN_LOCAL_SIDE = 128

#: with background="auto", the light is uneven when the medians of the four sides
#: of the image differ by more than this fraction of the ink's contrast
_UNEVEN_SIDES = 0.25

BACKGROUNDS = ("auto", "border", "local")


def load_image(path, *, max_pixels=MAX_IMAGE_PIXELS):
    """Read an image file as a 2D grayscale float32 array, white = 1.

    The file is read with Pillow (any format it knows: PNG, JPEG, BMP, ...),
    rotated upright according to its EXIF orientation tag (phone photos),
    transparent pixels are composited on white, and colours are converted to
    grey with the ITU-R 601 luma weights ``0.299 R + 0.587 G + 0.114 B`` (in
    8 bits, as Pillow's "L" mode; 16-bit grey images keep their 16 bits).
    The result is *as seen on screen* (dark ink on white paper stays dark): no
    inversion, cropping or resizing; see :func:`preprocess_digit_image` for that.

    The image's size is read from its header and checked against
    ``max_pixels`` before any pixel is decoded.

    Parameters
    ----------
    path : str or path-like
        The image file.
    max_pixels : int or None, default=MAX_IMAGE_PIXELS
        Refuse images with more pixels (width x height) than this; None
        means no limit. The default, ``perceptron.preprocessing.MAX_IMAGE_PIXELS``,
        is 8192 x 8192 (67 MP). The functions that take paths
        (:func:`preprocess_digit_image`, :class:`DigitImagePreprocessor`)
        use the default; for a larger image, read it here with a higher
        limit and pass them the array.

    Returns
    -------
    image : ndarray of shape (height, width), dtype float32
        Grey levels in [0, 1] (0 = black, 1 = white).

    Raises
    ------
    ImportError
        If Pillow is not installed (``pip install "perceptron[image]"``).
    ValueError
        If the file is not an image, is truncated or corrupt, or has more
        than ``max_pixels`` pixels; the message names the file.

    Examples
    --------
    A black bar on a white 30x20 PNG:

    >>> import os, tempfile
    >>> from PIL import Image, ImageDraw
    >>> from perceptron.preprocessing import load_image
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "bar.png")
    ...     img = Image.new("RGB", (30, 20), "white")
    ...     ImageDraw.Draw(img).rectangle([10, 5, 14, 15], fill="black")
    ...     img.save(path)
    ...     image = load_image(path)
    >>> image.shape, image.dtype, float(image.min()), float(image.max())
    ((20, 30), dtype('float32'), 0.0, 1.0)
    """
    import_pil()
    if max_pixels is not None:
        check_positive_int("max_pixels", max_pixels)
    name = os.fspath(path) if is_path(path) else "image"
    return read_gray(path, name, max_pixels=max_pixels)


def _border(image):
    """The pixels on the edge of a 2D image, each once."""
    if min(image.shape) <= 2:
        return image.ravel()
    return np.concatenate([image[0], image[-1], image[1:-1, 0], image[1:-1, -1]])


def _resize(image, shape):
    """Resize a float image to ``shape``: Gaussian anti-aliasing, then bilinear.

    When shrinking by a factor ``s`` along an axis, the image is first blurred
    with a Gaussian of standard deviation ``(s - 1) / 2`` along that axis (as
    scikit-image's ``resize(anti_aliasing=True)`` does), so thin strokes
    become grey instead of vanishing between samples; then
    :func:`scipy.ndimage.zoom` resamples it with bilinear interpolation on the
    pixel grid (``grid_mode=True``: the image's outer edges map onto the
    output's outer edges). Values stay within the input's range.
    """
    factors = [new / old for new, old in zip(shape, image.shape)]
    sigma = [max(0.0, (1.0 / f - 1.0) / 2.0) for f in factors]
    if any(s > 0 for s in sigma):
        image = ndimage.gaussian_filter(image, sigma, mode="constant", cval=0.0)
    out = ndimage.zoom(image, factors, order=1, mode="nearest", grid_mode=True)
    if out.shape != tuple(shape):  # guard against rounding in zoom's shape
        fixed = np.zeros(shape)
        h, w = min(shape[0], out.shape[0]), min(shape[1], out.shape[1])
        fixed[:h, :w] = out[:h, :w]
        out = fixed
    return out


def _remove_background(ink, background):
    """Ink minus its background: one level (the border's median) or a local one.

    ``"local"`` estimates the background at each pixel by a grey opening
    (:func:`scipy.ndimage.white_tophat`): the largest surface under the image
    made of flat squares of a quarter of the shorter side. Strokes thinner
    than that square are not under it, so the opening is the paper's light
    (a gradient, a shadow, a vignette) without the digit, and subtracting it
    leaves the digit on a level background. ``"auto"`` does that when the
    sides of the image are unequally lit (:data:`_UNEVEN_SIDES`), on an image
    large enough for squares wider than a stroke (:data:`_MIN_LOCAL_SIDE`).

    Subtracting is better here than dividing by the paper's light, although
    a photo is reflectance times light: near the image's edges the opening
    lags a gradient by half a square, and a division would blow that error
    up, on the dark side, into a band of false ink.
    """
    if background == "auto":
        background = "border"
        if min(ink.shape) >= _MIN_LOCAL_SIDE:
            # each side's median ignores ink touching less than half of that side
            sides = [np.median(edge) for edge in (ink[0], ink[-1], ink[:, 0], ink[:, -1])]
            contrast = ink.max() - np.median(_border(ink))
            if max(sides) - min(sides) > _UNEVEN_SIDES * contrast:
                background = "local"
    if background == "local":
        side = max(3, min(ink.shape) // 4)
        ink = ndimage.white_tophat(ink, size=(side, side), mode="nearest")
    return ink - np.median(_border(ink))


def _preprocess_gray(gray, *, size, box, invert, center, threshold, background, name):
    """Turn one validated 2D grey image into a (size, size) MNIST-like image."""
    # 1. ink high: invert when the background (median of the border) is light
    inverted = invert
    if invert == "auto":
        inverted = bool(np.median(_border(gray)) > (gray.min() + gray.max()) / 2.0)
    ink = 1.0 - gray if inverted else gray
    # 2. background to 0 (one level, or a local one under uneven light), ink peak to 1
    ink = _remove_background(ink, background)
    peak = ink.max()
    if peak < _MIN_CONTRAST:
        hint = ""
        if invert != "auto":  # the user chose the polarity: it may be the wrong one
            hint = (f"; with invert={invert} the ink must be "
                    f"{'darker' if invert else 'lighter'} than the background, "
                    "try invert='auto'")
        raise ValueError(
            f"{name} is blank: no ink stands out from its background "
            f"(contrast {peak:.4g}, at least {_MIN_CONTRAST:.4g} needed){hint}"
        )
    ink = np.clip(ink / peak, 0.0, 1.0)
    # 3. crop to the bounding box of the ink above `threshold` of the peak
    mask = ink > threshold
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    ink = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    # 4. longest side to `box`, keeping the aspect ratio
    h, w = ink.shape
    scale = box / max(h, w)
    new_h = min(box, max(1, int(round(h * scale))))
    new_w = min(box, max(1, int(round(w * scale))))
    ink = _resize(ink, (new_h, new_w))
    # 5. paste in the middle of a size x size field
    out = np.zeros((size, size))
    top, left = (size - new_h) // 2, (size - new_w) // 2
    out[top:top + new_h, left:left + new_w] = ink
    # 6. move the centre of mass to the centre of the field
    if center == "mass":
        cy, cx = ndimage.center_of_mass(out)
        mid = (size - 1) / 2.0
        out = ndimage.shift(out, (mid - cy, mid - cx), order=1, mode="grid-constant",
                            cval=0.0)
    # 7. strongest ink to 1 again (resampling greys thin strokes), as in MNIST
    out = np.clip(out, 0.0, None)
    return out / out.max()


def _image_from_item(item, name, image_shape):
    """One element of a list of images (path, PIL image or array) -> 2D grey.

    Images over :data:`WORK_PIXELS` are shrunk while read.
    """
    if is_path(item):
        import_pil()
        return read_gray(item, os.fspath(item), work_pixels=WORK_PIXELS)
    if is_pil_image(item):
        return pil_to_gray(item, name, work_pixels=WORK_PIXELS)
    arr = np.asarray(item)
    if arr.ndim == 1 and arr.dtype.kind in "biuf":
        arr = arr.reshape(check_image_shape(image_shape, arr.shape[0], what=name))
    return to_gray(arr, name, WORK_PIXELS)


def digit_field(n_features):
    """The ``(size, box)`` to preprocess images for a model of ``n_features`` pixels.

    MNIST's digits fill a 20-pixel box in their 28 x 28 field; other fields
    (the 8 x 8 digits) are filled. ``perceptron predict`` and the web app
    preprocess with these.

    Parameters
    ----------
    n_features : int
        Pixels per image the model reads (``n_features_in_``).

    Returns
    -------
    size, box : int
        For :func:`preprocess_digit_image` and :class:`DigitImagePreprocessor`.

    Raises
    ------
    ValueError
        When ``n_features`` is not a square number of pixels.

    Examples
    --------
    >>> from perceptron.preprocessing import digit_field
    >>> digit_field(784), digit_field(64)
    ((28, 20), (8, 8))
    """
    side, _ = check_image_shape(None, n_features, what="the model")
    return side, 20 if side == 28 else side


def _check_params(size, box, invert, center, threshold, background, image_shape=None):
    check_positive_int("size", size)
    if (not isinstance(box, numbers.Integral) or isinstance(box, bool)
            or not 1 <= box <= size):
        raise ValueError(f"box must be an int in [1, size={size}], got {box!r}")
    if not (isinstance(invert, (bool, np.bool_)) or (isinstance(invert, str)
                                                      and invert == "auto")):
        raise ValueError(f"invert must be True, False or 'auto', got {invert!r}")
    if not (isinstance(center, str) and center in ("mass", "box")):
        raise ValueError(f"center must be 'mass' or 'box', got {center!r}")
    if (not isinstance(threshold, numbers.Real) or isinstance(threshold, bool)
            or not 0 <= threshold < 1):
        raise ValueError(f"threshold must be a float in [0, 1), got {threshold!r}")
    if not (isinstance(background, str) and background in BACKGROUNDS):
        raise ValueError(f"background must be one of {list(BACKGROUNDS)}, "
                         f"got {background!r}")
    check_image_shape(image_shape)


def preprocess_digit_image(image, *, size=28, box=20, invert="auto", center="mass",
                           threshold=0.2, background="auto"):
    """Make one digit image look like an MNIST digit.

    The steps of :class:`DigitImagePreprocessor`, for a single image: to
    grey, ink high (inverting a light background), background to 0 (one
    level, or a local one under uneven light), crop to
    the ink, longest side to ``box`` pixels keeping the aspect ratio, paste in
    a ``size`` x ``size`` field, centre of mass to the centre of the field.

    Parameters
    ----------
    image : str, path-like, PIL image or array-like
        A path to an image file (read with :func:`load_image`, needs Pillow),
        a PIL image, a 2D grayscale array ``(height, width)`` or a 3D colour
        array ``(height, width, 3 or 4)``, of any size.
    size : int, default=28
        Side of the output image.
    box : int, default=20
        The digit is scaled so that its longest side is ``box`` pixels.
    invert : bool or "auto", default="auto"
        Invert the grey levels so that ink is high. "auto" inverts when the
        background (the median of the border pixels) is lighter than the
        middle of the image's grey range.
    center : {"mass", "box"}, default="mass"
        Put the centre of mass (as MNIST) or the centre of the bounding box
        at the centre of the field.
    threshold : float in [0, 1), default=0.2
        Pixels with more than ``threshold`` times the strongest ink define the
        bounding box the digit is cropped to (fainter noise is ignored).
    background : {"auto", "border", "local"}, default="auto"
        How the paper's level is found and subtracted. ``"border"``: one
        level, the median of the border pixels (a scan, a drawing).
        ``"local"``: a level per pixel, for photos under uneven light: a grey
        opening with squares of a quarter of the shorter side (the paper
        without the strokes, :func:`scipy.ndimage.white_tophat`).
        ``"auto"``: ``"local"`` when the four sides of an image of at least
        128 pixels a side are unequally lit, ``"border"`` otherwise.

    Returns
    -------
    digit : ndarray of shape (size, size), dtype float64
        Values in [0, 1], ink high, background 0. Use
        ``digit.reshape(1, -1)`` to pass it to ``predict``.

    Raises
    ------
    ValueError
        If the image is blank (no ink), or not a 2D/3D array.

    See Also
    --------
    DigitImagePreprocessor : The same for many images, as a transformer.

    Examples
    --------
    A dark "1" drawn on a light 60x40 canvas becomes a white-on-black 28x28
    digit, 20 pixels tall, centred by mass:

    >>> import numpy as np
    >>> from perceptron.preprocessing import preprocess_digit_image
    >>> canvas = np.full((60, 40), 230, dtype=np.uint8)
    >>> canvas[10:50, 18:24] = 20
    >>> digit = preprocess_digit_image(canvas)
    >>> digit.shape
    (28, 28)
    >>> float(digit[0, 0]), float(digit[14, 14]) > 0.9
    (0.0, True)
    >>> rows = np.flatnonzero(digit.max(axis=1) > 0.5)
    >>> int(rows[-1] - rows[0] + 1)
    20
    """
    _check_params(size, box, invert, center, threshold, background)
    if is_path(image) or is_pil_image(image):
        gray = _image_from_item(image, "image", None)
    else:
        gray = to_gray(image, "image", WORK_PIXELS)
    return _preprocess_gray(gray, size=size, box=box, invert=invert, center=center,
                            threshold=threshold, background=background, name="image")


class DigitImagePreprocessor(TransformerMixin, BaseEstimator):
    """Make digit images of any size and colour look like MNIST digits.

    For each image: convert to grey (ITU-R 601 luma, transparency on white);
    invert if the background is light so that ink is high; subtract the
    background (the median of the border pixels, or under uneven light a
    local level, see ``background``) and scale the strongest ink to 1; crop
    to the bounding box of the ink above ``threshold``; resize so that the
    longest side is ``box`` pixels, keeping the aspect ratio (Gaussian
    anti-aliasing then bilinear :func:`scipy.ndimage.zoom`); paste in a
    ``size`` x ``size`` field; move the centre of mass to the centre of the
    field, ``((size - 1) / 2, (size - 1) / 2)`` in pixel-index coordinates,
    i.e. (13.5, 13.5) for 28x28, with a sub-pixel bilinear shift; scale the
    strongest ink back to 1 (resampling greys thin strokes). With the
    defaults that is the recipe MNIST was made with.

    The transformer is stateless: ``fit`` only validates the parameters (and
    records ``n_features_in_`` for 2D input), so it can sit first in a
    :class:`~sklearn.pipeline.Pipeline` in front of a classifier trained on
    MNIST-like data.

    Parameters
    ----------
    size : int, default=28
        Side of the output images.
    box : int, default=20
        The digit is scaled so that its longest side is ``box`` pixels.
    invert : bool or "auto", default="auto"
        Invert the grey levels so that ink is high. "auto" decides per image:
        it inverts when the median of the border pixels is lighter than the
        middle of the image's grey range (dark ink on light paper).
    center : {"mass", "box"}, default="mass"
        Put the centre of mass (as MNIST) or the centre of the bounding box
        at the centre of the field.
    threshold : float in [0, 1), default=0.2
        Pixels with more than ``threshold`` times the strongest ink define the
        bounding box the digit is cropped to (fainter noise is ignored).
    background : {"auto", "border", "local"}, default="auto"
        How the paper's level is found and subtracted. ``"border"``: one
        level, the median of the border pixels (a scan, a drawing).
        ``"local"``: a level per pixel, for photos under uneven light: a grey
        opening with squares of a quarter of the shorter side (the paper
        without the strokes, :func:`scipy.ndimage.white_tophat`).
        ``"auto"``: ``"local"`` when the four sides of an image of at least
        128 pixels a side are unequally lit, ``"border"`` otherwise.
    image_shape : tuple of int (height, width) or None, default=None
        Shape of each image when ``X`` is a 2D array of flattened images.
        None means square images (``n_features`` must be a perfect square).

    Attributes
    ----------
    n_features_in_ : int
        Number of features (pixels per flattened image) when ``fit`` was
        given a 2D array; absent otherwise.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when ``fit`` was given a DataFrame.

    See Also
    --------
    preprocess_digit_image : The same for one image.
    load_image : Read an image file as a grey array.

    Notes
    -----
    ``X`` can be:

    - a 3D array ``(n_images, height, width)`` of grayscale images, or a 4D
      array ``(n_images, height, width, 3 or 4)`` of RGB(A) images;
    - a 2D array ``(n_images, n_pixels)`` of flattened images (what a
      pipeline passes along): each row is reshaped to ``image_shape``, by
      default a square (a single 2D image must be wrapped in a list);
    - a list of images of any sizes, each a path to an image file (needs
      Pillow: ``pip install "perceptron[image]"``), a PIL image, a 2D
      grayscale or 3D colour array, or a flattened square image.

    Integer images, and float images with values above 1, are read on the
    0-255 scale; other float images on 0-1 (matplotlib's convention). The
    scale only matters for the transparency of RGBA images: every image is
    rescaled to ink in [0, 1] anyway.

    Large images cost little: files above :data:`MAX_IMAGE_PIXELS` (67 MP)
    are refused before they are decoded (see :func:`load_image`), and images
    above :data:`WORK_PIXELS` (1 MP) are shrunk by an integer factor while
    they are read (a JPEG by its decoder), since the digit ends in a
    ``box``-pixel square anyway. The work is done in float32.

    Examples
    --------
    scikit-learn's 8x8 digits, made MNIST-like:

    >>> from sklearn.datasets import load_digits
    >>> from perceptron.preprocessing import DigitImagePreprocessor
    >>> digits = load_digits()
    >>> prep = DigitImagePreprocessor()
    >>> X = prep.fit_transform(digits.images[:5])
    >>> X.shape
    (5, 784)
    >>> float(X.min()), float(X.max()) > 0.9
    (0.0, True)

    In a pipeline, before a classifier (here, on a smaller field):

    >>> from sklearn.linear_model import RidgeClassifier
    >>> from sklearn.pipeline import make_pipeline
    >>> clf = make_pipeline(DigitImagePreprocessor(size=16, box=12), RidgeClassifier())
    >>> clf = clf.fit(digits.images[:1000], digits.target[:1000])
    >>> float(clf.score(digits.images[1000:], digits.target[1000:])) > 0.85
    True
    """

    def __init__(self, size=28, box=20, *, invert="auto", center="mass", threshold=0.2,
                 background="auto", image_shape=None):
        self.size = size
        self.box = box
        self.invert = invert
        self.center = center
        self.threshold = threshold
        self.background = background
        self.image_shape = image_shape

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags

    def _check_params(self):
        _check_params(self.size, self.box, self.invert, self.center, self.threshold,
                      self.background, self.image_shape)

    def _images(self, X, fitting):
        """Split ``X`` into a list of ``(name, image)``; validate tabular input."""
        if is_path(X) or is_pil_image(X):
            raise ValueError(
                "X must be a collection of images (a list, or an array of shape "
                "(n_images, ...)); for one image use preprocess_digit_image or pass [image]"
            )
        if isinstance(X, (list, tuple)):
            if len(X) == 0:
                raise ValueError("X contains no images")
            arr = None
            if not any(is_path(item) or is_pil_image(item) for item in X):
                try:
                    arr = np.asarray(X)
                except ValueError:  # ragged: images of different sizes
                    pass
            if arr is None or arr.dtype == object:
                return [(f"image {i}", item) for i, item in enumerate(X)]
            X = arr
        dtype = getattr(X, "dtype", None)
        if dtype is None and not hasattr(X, "iloc"):
            X = np.asarray(X)
            dtype = X.dtype
        if dtype == object and np.ndim(X) == 1:  # e.g. an array or Series of paths
            return [(f"image {i}", item) for i, item in enumerate(X)]
        ndim = np.ndim(X)
        if ndim <= 2:
            # tabular input: one flattened image per row, validated the sklearn way
            if fitting or hasattr(self, "n_features_in_"):
                X = validate_data(self, X, reset=fitting, dtype=np.float64)
            else:
                X = check_array(X, dtype=np.float64)
            shape = check_image_shape(self.image_shape, X.shape[1])
            return [(f"image {i}", row.reshape(shape)) for i, row in enumerate(X)]
        if ndim in (3, 4):
            X = check_array(X, allow_nd=True, dtype=None)
            return [(f"image {i}", img) for i, img in enumerate(X)]
        raise ValueError(
            "X must be a 2D array of flattened images, a 3D array (n_images, height, "
            "width), a 4D array (n_images, height, width, 3 or 4) or a list of images; "
            f"got an array of shape {np.shape(X)}"
        )

    def fit(self, X, y=None):
        """Validate the parameters and the input; nothing is learned.

        Image files are not read here (only in ``transform``).

        Parameters
        ----------
        X : array-like or list of images
            See the class Notes for the accepted forms.
        y : None
            Ignored.

        Returns
        -------
        self : DigitImagePreprocessor
        """
        self._check_params()
        for attr in ("n_features_in_", "feature_names_in_"):
            if hasattr(self, attr):
                delattr(self, attr)
        if len(self._images(X, fitting=True)) == 0:
            raise ValueError("X contains no images")
        return self

    def transform(self, X):
        """Make each image MNIST-like.

        Parameters
        ----------
        X : array-like or list of images
            See the class Notes for the accepted forms.

        Returns
        -------
        X_new : ndarray of shape (n_images, size * size), dtype float64
            One flattened ``size`` x ``size`` image per row, values in [0, 1],
            ink high, background 0.

        Raises
        ------
        ValueError
            If an image is blank (the message names it) or malformed.
        """
        self._check_params()
        images = self._images(X, fitting=False)
        if len(images) == 0:
            raise ValueError("X contains no images")
        out = np.empty((len(images), self.size * self.size))
        params = dict(size=self.size, box=self.box, invert=self.invert,
                      center=self.center, threshold=self.threshold,
                      background=self.background)
        for i, (name, item) in enumerate(images):
            gray = _image_from_item(item, name, self.image_shape)
            out[i] = _preprocess_gray(gray, name=name, **params).ravel()
        return out

    def get_feature_names_out(self, input_features=None):
        """Names of the output pixels, ``pixel_{row}_{col}`` as in ``load_digits``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against ``feature_names_in_``/``n_features_in_``:
            the output pixels do not depend on the input columns.

        Returns
        -------
        feature_names_out : ndarray of str objects, shape (size * size,)
        """
        if input_features is not None:
            if hasattr(self, "feature_names_in_") and not np.array_equal(
                    np.asarray(input_features, dtype=object), self.feature_names_in_):
                raise ValueError("input_features is not equal to feature_names_in_")
            if hasattr(self, "n_features_in_") and len(input_features) != self.n_features_in_:
                raise ValueError(
                    f"input_features should have length equal to number of features "
                    f"({self.n_features_in_}), got {len(input_features)}")
        return np.asarray([f"pixel_{r}_{c}" for r in range(self.size)
                           for c in range(self.size)], dtype=object)

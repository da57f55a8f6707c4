"""Reading images: a file, a PIL image or an array -> one grey float32 array.

Everything read from outside is untrusted, and a phone photo is large: a
12 MP picture widened to four float64 channels is 400 MB. So the pixel count
is checked against a limit *before* anything is decoded (Pillow reads only
the header to know the size), colours are turned to grey by Pillow in 8 bits
(one byte per pixel), and an image larger than the preprocessing needs is
shrunk while it is read: a JPEG by its decoder (Pillow's ``draft`` decodes
at 1/2, 1/4 or 1/8 of the size directly), any image by averaging blocks of
``f x f`` pixels. The work is done in float32, exact enough for images of
8 or 16 bits.

:func:`perceptron.preprocessing.load_image` is the public face of this
module; :mod:`perceptron.preprocessing` and :mod:`perceptron.web` call
:func:`read_gray`.
"""

import math
import os
import warnings

import numpy as np

#: images with more pixels are refused (a 8192 x 8192 image, or eight 4:3 12 MP photos)
MAX_IMAGE_PIXELS = 8192 * 8192

#: ITU-R BT.601 luma weights of R, G and B, in thousandths (as Pillow's "L" mode)
_LUMA_PER_MILLE = (299.0, 587.0, 114.0)

_PIL_MISSING = (
    "reading image files needs Pillow, an optional dependency of perceptron; "
    'install it with: pip install "perceptron[image]"'
)


def import_pil():
    """Return the ``PIL.Image`` and ``PIL.ImageOps`` modules, or a clear ImportError."""
    try:
        from PIL import Image, ImageOps
    except ImportError as exc:
        raise ImportError(_PIL_MISSING) from exc
    return Image, ImageOps


def is_path(obj):
    return isinstance(obj, (str, bytes, os.PathLike))


def is_pil_image(obj):
    # duck-typed so that passing PIL images never needs importing Pillow ourselves
    return hasattr(obj, "getbands") and hasattr(obj, "convert") and hasattr(obj, "mode")


def check_pixel_count(width, height, name, max_pixels):
    """Refuse an image of ``width x height`` pixels above ``max_pixels`` (None: no limit)."""
    if max_pixels is not None and width * height > max_pixels:
        raise ValueError(
            f"{name} is {width} x {height} pixels ({width * height / 1e6:.1f} MP), above "
            f"the limit of {max_pixels / 1e6:.1f} MP; shrink it first, or read it with "
            "load_image(path, max_pixels=...) and pass the array")


def shrink_factor(height, width, work_pixels):
    """The integer factor that brings ``height x width`` to at most ``work_pixels``.

    Never more than the shorter side: a 1-pixel-high strip stays one pixel high.
    """
    if work_pixels is None or height * width <= work_pixels:
        return 1
    return min(math.ceil(math.sqrt(height * width / work_pixels)), height, width)


def _block_mean(arr, factor):
    """Average blocks of ``factor x factor`` pixels (of each channel) in float32.

    The last rows and columns that do not fill a block (fewer than
    ``factor``) are dropped: a sliver of the border, which the preprocessing
    reads only for the background's level.
    """
    if factor == 1:
        return arr.astype(np.float32)
    if arr.ndim == 3:  # channel by channel: a reduction over (h, w) of a 2D array is fast
        return np.stack([_block_mean(arr[..., c], factor) for c in range(arr.shape[2])],
                        axis=-1)
    h, w = arr.shape[0] // factor, arr.shape[1] // factor
    blocks = arr[:h * factor, :w * factor].reshape(h, factor, w, factor)
    return blocks.mean(axis=(1, 3), dtype=np.float32)


def to_gray(image, name, work_pixels=None):
    """Validate one image array and return it as a 2D float32 grey image in [0, 1].

    Integer images, and float images with a value above 1, are read on the
    0-255 scale; other float images on 0-1, as matplotlib does. Images with
    values above 255 are read on 0-65535 (uint16) or 0-max (other types).
    RGBA is composited on white. Images with more than ``work_pixels``
    pixels are shrunk by averaging blocks (:func:`shrink_factor`).
    """
    arr = np.asarray(image)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] in (2, 3, 4))):
        raise ValueError(
            f"{name} must be a 2D grayscale array (height, width) or a 3D colour "
            f"array (height, width, 3 or 4), got an array of shape {arr.shape}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity")
    peak = float(arr.max())
    scale = 1.0
    if arr.dtype.kind == "b":
        arr = arr.view(np.uint8)  # 0 and 1
    elif arr.dtype.kind in "iu" or peak > 1:
        scale = 255.0
        if peak > 255:  # 16-bit images, or any other range
            scale = 65535.0 if arr.dtype == np.uint16 else peak
    arr = _block_mean(arr, shrink_factor(arr.shape[0], arr.shape[1], work_pixels))
    arr /= np.float32(scale)
    if arr.ndim == 2:
        return arr
    n_colours = 1 if arr.shape[-1] == 2 else 3
    if n_colours == 1:
        gray = arr[..., 0].copy()
    else:  # luma is linear: one weighted sum of the channels, no wider copy
        gray = arr[..., 0] * np.float32(_LUMA_PER_MILLE[0] / 1000.0)
        for channel in (1, 2):
            gray += arr[..., channel] * np.float32(_LUMA_PER_MILLE[channel] / 1000.0)
    if arr.shape[-1] in (2, 4):  # composite on white: luma(white) is 1
        alpha = np.clip(arr[..., -1], 0.0, 1.0)
        gray *= alpha
        gray += 1.0 - alpha
    return np.clip(gray, 0.0, 1.0, out=gray)


def _has_alpha(img):
    return img.mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in img.info


def pil_to_gray(img, name, *, max_pixels=MAX_IMAGE_PIXELS, work_pixels=None, draft=False):
    """Grey float32 array of a PIL image: upright (EXIF), alpha on white, luma.

    The pixel count is checked before decoding. With ``draft`` (for an image
    this package opened: ``draft`` changes the image object), a JPEG larger
    than ``work_pixels`` is decoded at a fraction of its size; any image
    still larger is shrunk by averaging blocks. Decoding errors (a truncated
    or corrupt file) become a ValueError naming the image.
    """
    Image, ImageOps = import_pil()
    width, height = img.size
    check_pixel_count(width, height, name, max_pixels)
    try:
        factor = shrink_factor(height, width, work_pixels)
        if draft and factor > 1 and img.mode in ("RGB", "L", "CMYK", "YCbCr"):
            # JPEG only (other formats ignore it): decode grey at 1/2, 1/4 or 1/8
            img.draft("L", (math.ceil(width / factor), math.ceil(height / factor)))
        img = ImageOps.exif_transpose(img)
        if img.mode in ("I", "F") or img.mode.startswith("I;16"):
            pass  # 16/32-bit grey: an 8-bit conversion would clip it
        elif _has_alpha(img):
            rgba = img.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            img = Image.alpha_composite(white, rgba).convert("L")
        else:
            img = img.convert("L")
        factor = shrink_factor(img.size[1], img.size[0], work_pixels)
        if factor > 1 and img.mode in ("L", "I", "F"):
            img = img.reduce(factor)  # block averages, in C (to_gray shrinks the rest)
        pixels = np.asarray(img)
    except MemoryError:
        raise
    except Exception as exc:  # a corrupt file fails anywhere in the decoder
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ValueError(f"{name} could not be decoded as an image: {reason}") from exc
    return to_gray(pixels, name, work_pixels)


def open_image(source, name, max_pixels=MAX_IMAGE_PIXELS):
    """``PIL.Image.open`` with the errors of an untrusted file made one ValueError.

    ``source`` is a path or a binary file object. Only the header is read
    here; Pillow's own decompression-bomb check is superseded by
    ``max_pixels`` (:func:`check_pixel_count`), and its warning silenced.
    """
    Image, _ = import_pil()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(source)
    except Image.DecompressionBombError:
        limit = "" if max_pixels is None else f", above the limit of {max_pixels / 1e6:.1f} MP"
        raise ValueError(
            f"{name} has more than {Image.MAX_IMAGE_PIXELS * 2:,} pixels, which Pillow "
            f"refuses as a possible decompression bomb{limit}") from None
    except Image.UnidentifiedImageError:
        raise ValueError(f"{name} is not an image file Pillow can read "
                         "(PNG, JPEG, BMP, GIF, TIFF, WebP, ...)") from None
    try:
        check_pixel_count(img.size[0], img.size[1], name, max_pixels)
    except ValueError:
        img.close()
        raise
    return img


def read_gray(source, name, *, max_pixels=MAX_IMAGE_PIXELS, work_pixels=None):
    """An image file (path or binary file object) as a grey float32 array."""
    if not (is_path(source) or hasattr(source, "read")):
        raise ValueError(f"path must be a str or path-like, got {type(source).__name__}")
    if is_path(source):
        source = os.fspath(source)
    with open_image(source, name, max_pixels) as img:
        return pil_to_gray(img, name, max_pixels=max_pixels, work_pixels=work_pixels,
                           draft=True)

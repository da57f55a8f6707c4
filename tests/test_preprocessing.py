"""Tests of perceptron.preprocessing: user digit images made MNIST-like.

The digits are drawn with Pillow, with thick strokes, at other sizes and
colours than MNIST, and the output is checked against MNIST's conventions:
784 pixels in [0, 1], ink high on a zero background, the digit's longest side
20 pixels, its centre of mass at the centre of the 28x28 field.

Centre convention: pixel ``(i, j)`` has index coordinates ``(i, j)``, so the
centre of a 28x28 field is ``(13.5, 13.5)``; that is where
``center="mass"`` puts the centre of mass (checked to within 1 pixel as the
MNIST recipe, and in fact to a small fraction of a pixel).
"""

import pickle
import struct
import sys
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import RidgeClassifier
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from perceptron import MLPDigitClassifier
from perceptron._imageio import read_gray
from perceptron.preprocessing import (MAX_IMAGE_PIXELS, WORK_PIXELS, DigitImagePreprocessor,
                                      load_image, preprocess_digit_image)

MID = 13.5  # centre of a 28x28 field in pixel-index coordinates


# --------------------------------------------------------------- drawings
def draw(strokes, *, size=(150, 200), background="white", ink="black", width=14,
         mode="RGB", ellipse=None):
    """A digit drawn with Pillow: `strokes` are polylines, `ellipse` a box."""
    img = Image.new(mode, size, background)
    pen = ImageDraw.Draw(img)
    for line in strokes:
        pen.line(line, fill=ink, width=width, joint="curve")
    if ellipse is not None:
        pen.ellipse(ellipse, outline=ink, width=width)
    return img


def seven(**kw):
    # a black "7" on a white 150x200 (width x height) canvas
    return draw([[(30, 35), (120, 35), (60, 170)]], **kw)


def one(**kw):
    # a tall "1" with a small flag and thick strokes
    return draw([[(55, 45), (80, 25), (80, 180)]], **kw)


def zero(**kw):
    # an ellipse "0", blue on light grey, 120x160 canvas
    kw.setdefault("size", (120, 160))
    kw.setdefault("background", (215, 215, 215))
    kw.setdefault("ink", (20, 40, 200))
    return draw([], ellipse=(25, 20, 95, 140), width=10, **kw)


def four(**kw):
    # a white-on-black "4", square 90x90 canvas
    kw.setdefault("size", (90, 90))
    kw.setdefault("background", "black")
    kw.setdefault("ink", "white")
    return draw([[(55, 10), (15, 55), (75, 55)], [(55, 10), (55, 80)]], width=8, **kw)


def ink_bbox(gray_or_digit, level):
    """(height, width, top, left) of the pixels above ``level``."""
    mask = gray_or_digit > level
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1, rows[0], cols[0]


def assert_mnist_like(x, size=28, box=20):
    """MNIST conventions on one flattened output image."""
    assert x.shape == (size * size,)
    assert x.dtype == np.float64
    assert x.min() >= 0.0 and x.max() <= 1.0
    digit = x.reshape(size, size)
    # background ~0: most of the field is exactly empty, and the outer frame
    # holds almost no ink (centring by mass may push a lopsided digit, like a
    # top-heavy 7, to within a pixel of the edge, as in MNIST)
    assert np.mean(digit < 0.01) > 0.5
    assert np.median(digit) == 0.0
    frame = np.ones_like(digit, dtype=bool)
    frame[1:-1, 1:-1] = False
    assert digit[frame].sum() < 0.02 * digit.sum()
    # ink high
    assert digit.max() > 0.9
    # fits the box, longest side `box` (+- 1 px for anti-aliasing/sub-pixel shift)
    h, w, _, _ = ink_bbox(digit, 0.1)
    assert max(h, w) in (box - 1, box, box + 1)
    assert min(h, w) <= box + 1
    # centre of mass at the centre of the field
    cy, cx = ndimage.center_of_mass(digit)
    mid = (size - 1) / 2
    assert abs(cy - mid) <= 1 and abs(cx - mid) <= 1
    return digit


# ----------------------------------------------------------- conventions
@pytest.mark.parametrize("make", [seven, one, zero, four], ids=["7", "1", "0", "4"])
def test_drawn_digits_become_mnist_like(make):
    img = np.asarray(make())
    x = DigitImagePreprocessor().fit_transform([img])
    assert x.shape == (1, 784)
    digit = assert_mnist_like(x[0])
    # the centre of mass is exactly centred (sub-pixel shift, nothing clipped)
    cy, cx = ndimage.center_of_mass(digit)
    assert abs(cy - MID) < 0.05 and abs(cx - MID) < 0.05


def test_aspect_ratio_is_kept():
    # the tall "1" stays tall, with the aspect ratio of its ink
    gray = 1 - np.asarray(one().convert("L")) / 255
    h_in, w_in, _, _ = ink_bbox(gray, 0.2)
    digit = preprocess_digit_image(np.asarray(one()))
    h, w, _, _ = ink_bbox(digit, 0.2)
    assert h in (19, 20, 21)
    assert w < h / 2
    assert abs(w - 20 * w_in / h_in) <= 1.5

    # and a wide digit stays wide: the seven rotated a quarter turn
    wide = np.rot90(np.asarray(seven()))
    digit = preprocess_digit_image(wide)
    h, w, _, _ = ink_bbox(digit, 0.2)
    assert w in (19, 20, 21)
    assert h < w


def test_inversion_is_detected_both_ways():
    dark_on_light = np.asarray(seven().convert("L"))
    light_on_dark = 255 - dark_on_light
    a = preprocess_digit_image(dark_on_light)
    b = preprocess_digit_image(light_on_dark)
    assert_mnist_like(a.ravel())
    # the same digit either way: "auto" inverted the first one only
    np.testing.assert_allclose(a, b, atol=1e-12)
    np.testing.assert_allclose(preprocess_digit_image(dark_on_light, invert=True), a)
    np.testing.assert_allclose(preprocess_digit_image(light_on_dark, invert=False), b)


def test_wrong_invert_gives_blank_error():
    dark_on_light = np.asarray(seven().convert("L"))
    with pytest.raises(ValueError, match="blank.*invert"):
        preprocess_digit_image(dark_on_light, invert=False)


def test_colour_background_is_removed():
    # blue ink on light grey: grey becomes exactly 0, the ink 1
    digit = preprocess_digit_image(np.asarray(zero()))
    assert digit[:3].max() == 0.0
    assert digit.max() == pytest.approx(1.0, abs=0.05)
    # the ring of the zero: the centre of the digit is empty
    assert digit[13:15, 13:15].max() < 0.05


def test_center_box():
    digit = preprocess_digit_image(np.asarray(seven()), center="box")
    h, w, top, left = ink_bbox(digit, 0.05)
    assert abs(top + (h - 1) / 2 - MID) <= 1
    assert abs(left + (w - 1) / 2 - MID) <= 1
    # mass-centring moves the top-heavy seven down relative to box-centring
    cy_box, _ = ndimage.center_of_mass(digit)
    assert cy_box < MID - 0.5


def test_size_box_and_threshold_parameters():
    x = DigitImagePreprocessor(size=16, box=12).fit_transform([np.asarray(four())])
    assert x.shape == (1, 256)
    assert_mnist_like(x[0], size=16, box=12)
    # a faint speck far from the digit is ignored by the crop at threshold=0.2,
    # but not at threshold=0, where the digit shrinks to make room for it
    img = np.asarray(seven(size=(400, 200)).convert("L")).copy()
    img[90:100, 380:390] = 230  # ink 0.1 of the strokes' on white paper
    clean = preprocess_digit_image(img)
    assert max(ink_bbox(clean, 0.5)[:2]) >= 19
    smudged = preprocess_digit_image(img, threshold=0.0)
    assert max(ink_bbox(smudged, 0.5)[:2]) < 12


def test_rgba_png_loaded_by_path(tmp_path):
    # transparent background, opaque black strokes: alpha is composited on white
    img = one(mode="RGBA", background=(0, 0, 0, 0), ink=(0, 0, 0, 255))
    path = tmp_path / "one.png"
    img.save(path)
    gray = load_image(path)
    assert gray.shape == (200, 150)
    assert gray[0, 0] == 1.0 and gray.min() == 0.0
    x = DigitImagePreprocessor().fit_transform([path, str(path)])
    assert x.shape == (2, 784)
    assert_mnist_like(x[0])
    np.testing.assert_array_equal(x[0], x[1])
    # the same digit drawn opaque on white gives the same output
    np.testing.assert_allclose(x[0], preprocess_digit_image(np.asarray(one())).ravel(),
                               atol=1e-12)
    assert preprocess_digit_image(path).shape == (28, 28)


def test_16_bit_png(tmp_path):
    gray = np.asarray(four().convert("L")).astype(np.uint16) * 257
    path = tmp_path / "four16.png"
    Image.fromarray(gray).save(path)
    loaded = load_image(path)
    np.testing.assert_allclose(loaded, gray / 65535.0)
    assert_mnist_like(preprocess_digit_image(path).ravel())


def test_jpeg_with_compression_noise(tmp_path):
    path = tmp_path / "four.jpg"
    four(size=(120, 140)).save(path, quality=60)
    x = DigitImagePreprocessor().transform([path])
    assert_mnist_like(x[0])


def test_exif_orientation_is_applied(tmp_path):
    img = one()
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rotated.png"
    img.save(path, exif=exif)
    assert load_image(path).shape == (150, 200)


def test_pil_images_and_mixed_list(tmp_path):
    path = tmp_path / "zero.png"
    zero().save(path)
    items = [seven(), path, np.asarray(four()), np.asarray(one().convert("L"))]
    x = DigitImagePreprocessor().transform(items)
    assert x.shape == (4, 784)
    for row in x:
        assert_mnist_like(row)
    np.testing.assert_allclose(x[0], preprocess_digit_image(seven()).ravel())


# -------------------------------------------------------------- input forms
def test_array_forms_agree():
    digits = load_digits()
    images = digits.images[:6]
    prep = DigitImagePreprocessor()
    from_3d = prep.fit_transform(images)
    from_2d = prep.fit_transform(digits.data[:6])  # (n, 64) rows -> 8x8 images
    from_list = prep.fit_transform(list(images))
    from_1d_items = prep.fit_transform([row for row in digits.data[:6]])
    for other in (from_2d, from_list, from_1d_items):
        np.testing.assert_array_equal(from_3d, other)
    for row in from_3d:
        assert_mnist_like(row)


def test_4d_colour_array_and_images_of_different_sizes():
    colour = np.stack([np.asarray(seven()), np.asarray(one())])  # (2, 200, 150, 3)
    x = DigitImagePreprocessor().fit_transform(colour)
    assert x.shape == (2, 784)
    ragged = [np.asarray(seven()), np.asarray(four())]  # different sizes
    assert DigitImagePreprocessor().fit_transform(ragged).shape == (2, 784)


def test_non_square_rows_need_image_shape():
    gray = np.asarray(one().convert("L").resize((20, 28)))  # 28 rows x 20 cols
    rows = np.stack([gray.ravel(), gray.ravel()])
    with pytest.raises(ValueError, match="560 features.*image_shape"):
        DigitImagePreprocessor().fit_transform(rows)
    x = DigitImagePreprocessor(image_shape=(28, 20)).fit_transform(rows)
    np.testing.assert_allclose(x[0], preprocess_digit_image(gray).ravel())
    with pytest.raises(ValueError, match="image_shape=\\(10, 10\\) means 100 pixels per image"):
        DigitImagePreprocessor(image_shape=(10, 10)).fit_transform(rows)


def test_uint8_int_float_scales_agree():
    gray = np.asarray(seven().convert("L"))
    a = preprocess_digit_image(gray)
    b = preprocess_digit_image(gray.astype(np.int64))
    c = preprocess_digit_image(gray / 255.0)
    d = preprocess_digit_image(gray.astype(np.float32) * 4)  # any range
    e = preprocess_digit_image(gray.astype(np.int64) * 1000)
    f = preprocess_digit_image(gray.astype(np.uint16) * 257)  # 16-bit
    g = preprocess_digit_image(gray > 128)  # boolean, binarised
    for other in (b, c, d, e, f):
        np.testing.assert_allclose(a, other, atol=1e-5)
    assert_mnist_like(g.ravel())


def test_in_a_pipeline_with_paths(tmp_path):
    digits = load_digits()
    clf = make_pipeline(DigitImagePreprocessor(size=16, box=12),
                        RidgeClassifier())
    clf.fit(digits.images[:1000], digits.target[:1000])
    assert clf.score(digits.images[1000:], digits.target[1000:]) > 0.85
    # the same pipeline predicts user files: 8x8 digits saved as dark-on-white PNGs
    paths = []
    for i in range(1000, 1010):
        gray = (255 - digits.images[i] * 255 / 16).astype(np.uint8)
        path = tmp_path / f"digit{i}.png"
        Image.fromarray(gray).resize((64, 64), Image.NEAREST).save(path)
        paths.append(path)
    pred_files = clf.predict(paths)
    pred_arrays = clf.predict(digits.images[1000:1010])
    assert np.mean(pred_files == pred_arrays) >= 0.8


def test_transform_without_fit_and_fit_returns_self():
    prep = DigitImagePreprocessor()
    assert prep.transform([np.asarray(four())]).shape == (1, 784)
    assert prep.fit([np.asarray(four())]) is prep
    assert not hasattr(prep, "n_features_in_")
    prep.fit(load_digits().data[:3])
    assert prep.n_features_in_ == 64
    with pytest.raises(ValueError, match="X has 16 features, but DigitImagePreprocessor "
                                         "is expecting 64 features"):
        prep.transform(np.ones((2, 16)))
    # image input after tabular fit is not checked against n_features_in_
    assert prep.transform([np.asarray(four())]).shape == (1, 784)


def test_dataframe_input_and_feature_names():
    pd = pytest.importorskip("pandas")
    digits = load_digits(as_frame=True)
    prep = DigitImagePreprocessor(size=10, box=8).fit(digits.data.iloc[:4])
    assert list(prep.feature_names_in_) == list(digits.data.columns)
    names = prep.get_feature_names_out()
    assert len(names) == 100 and names[0] == "pixel_0_0" and names[-1] == "pixel_9_9"
    out = prep.set_output(transform="pandas").transform(digits.data.iloc[:4])
    assert isinstance(out, pd.DataFrame) and out.shape == (4, 100)


def test_clone_pickle_and_idempotence():
    images = [np.asarray(seven()), np.asarray(zero())]
    prep = DigitImagePreprocessor(size=20, box=16, invert="auto", threshold=0.3)
    first = prep.fit_transform(images)
    np.testing.assert_array_equal(first, prep.fit_transform(images))
    np.testing.assert_array_equal(first, clone(prep).fit_transform(images))
    np.testing.assert_array_equal(first, pickle.loads(pickle.dumps(prep)).transform(images))
    # sample order and subsets do not matter: each image is processed alone
    np.testing.assert_array_equal(first[::-1], prep.transform(images[::-1]))
    np.testing.assert_array_equal(first[1:], prep.transform(images[1:]))
    # inputs are not modified, read-only inputs are fine
    arr = np.stack([np.asarray(seven())] * 2)
    arr.setflags(write=False)
    before = arr.copy()
    prep.transform(arr)
    np.testing.assert_array_equal(arr, before)


# ---------------------------------------------------------------- errors
def test_blank_image_is_named():
    blank = np.full((40, 30), 255, dtype=np.uint8)
    with pytest.raises(ValueError, match="image is blank") as info:
        preprocess_digit_image(blank)
    # invert was "auto" already: no hint to try invert='auto'
    assert "invert" not in str(info.value)
    with pytest.raises(ValueError, match="blank.*with invert=False.*try invert='auto'"):
        preprocess_digit_image(blank, invert=False)
    with pytest.raises(ValueError, match="image 1 is blank"):
        DigitImagePreprocessor().transform([np.asarray(four()), blank])
    with pytest.raises(ValueError, match="image 0 is blank"):
        DigitImagePreprocessor().transform(np.zeros((2, 784)))


@pytest.mark.parametrize("bad, match", [
    (np.ones(10), "2D grayscale array"),
    (np.ones((5, 5, 5)), "2D grayscale array.*shape \\(5, 5, 5\\)"),
    (np.ones((2, 5, 5, 3)), "2D grayscale array"),
    (np.array([["a", "b"], ["c", "d"]]), "numeric array"),
    (np.full((5, 5), np.nan), "NaN"),
    (np.ones((0, 5)), "empty"),
])
def test_bad_single_images(bad, match):
    with pytest.raises(ValueError, match=match):
        preprocess_digit_image(bad)


@pytest.mark.parametrize("bad, match", [
    (np.ones((2, 5, 5, 5)), "image 0 must be a 2D grayscale array"),
    (np.ones((1, 2, 5, 5, 3)), "X must be a 2D array"),
    (np.ones(16), "Expected 2D array"),
    ("digit.png", "collection of images"),
    ([], "X contains no images|0 sample"),
    ([np.ones(10)], "10 features per row"),
    (np.full((2, 16), np.inf), "infinity|NaN"),
])
def test_bad_batches(bad, match):
    with pytest.raises(ValueError, match=match):
        DigitImagePreprocessor().fit_transform(bad)


@pytest.mark.parametrize("params, match", [
    (dict(size=0), "size must be a positive int"),
    (dict(size=28.0), "size must be a positive int"),
    (dict(box=29), "box must be an int in \\[1, size=28\\]"),
    (dict(box=0), "box must be"),
    (dict(invert="yes"), "invert must be True, False or 'auto'"),
    (dict(center="middle"), "center must be 'mass' or 'box'"),
    (dict(threshold=1.0), "threshold must be a float in \\[0, 1\\)"),
    (dict(threshold=-0.1), "threshold must be"),
    (dict(background="flat"), "background must be one of \\['auto', 'border', 'local'\\]"),
    (dict(image_shape=(28,)), "image_shape must be None or \\(height, width\\)"),
    (dict(image_shape=(28, 0)), "image_shape must be None or \\(height, width\\)"),
])
def test_bad_parameters(params, match):
    images = [np.asarray(four())]
    with pytest.raises(ValueError, match=match):
        DigitImagePreprocessor(**params).fit(images)
    with pytest.raises(ValueError, match=match):
        DigitImagePreprocessor(**params).transform(images)
    single = {k: v for k, v in params.items() if k != "image_shape"}
    if single:
        with pytest.raises(ValueError, match=match):
            preprocess_digit_image(images[0], **single)


def test_missing_pillow_is_explained(tmp_path, monkeypatch):
    path = tmp_path / "four.png"
    four().save(path)
    array = np.asarray(four())
    for name in ("PIL", "PIL.Image", "PIL.ImageOps"):
        monkeypatch.setitem(sys.modules, name, None)  # `import PIL` now fails
    message = 'needs Pillow.*pip install "perceptron\\[image\\]"'
    with pytest.raises(ImportError, match=message):
        load_image(path)
    with pytest.raises(ImportError, match=message):
        DigitImagePreprocessor().transform([path])
    # arrays never need Pillow
    assert DigitImagePreprocessor().transform([array]).shape == (1, 784)


# ----------------------------------------------------- scikit-learn checks
# scikit-learn's common checks feed tabular data with 1 to 10 features per row.
# A 2D row is a flattened image here, and 2, 3, 5 or 10 pixels are not a square
# image, so `fit` rejects them with a ValueError asking for `image_shape`
# (guessing a shape would silently turn a user's 28x20 rows into garbage).
# Every check that fits on such data fails for that reason only; the same
# properties (fit returns self, clone, pickle, idempotence, sample order and
# subset invariance, read-only input, NaN/inf rejection, n_features_in_
# checks, dtypes) are tested above on real images instead.
_NOT_SQUARE = ("fits on tabular rows of 2, 3, 5 or 10 features, which are not square "
               "images: a ValueError asks for image_shape")
EXPECTED_FAILED_CHECKS = {name: _NOT_SQUARE for name in [
    "check_fit_score_takes_y",
    "check_estimators_overwrite_params",
    "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self",
    "check_readonly_memmap_input",
    "check_estimators_dtypes",
    "check_dtype_object",
    "check_pipeline_consistency",
    "check_estimators_nan_inf",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_transformer_data_not_an_array",
    "check_transformer_general",
    "check_transformer_preserve_dtypes",
    "check_transformers_unfitted_stateless",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_fit2d_1sample",
    "check_dict_unchanged",
    "check_fit_idempotent",
    "check_fit_check_is_fitted",
    "check_n_features_in",
    "check_fit2d_predict1d",
]}


@parametrize_with_checks([DigitImagePreprocessor()],
                         expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
                         xfail_strict=True)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# ------------------------------------------------- photos: uneven light, size
def digit_photo(image8, *, gradient=True, shape=(360, 480)):
    """A photo-like picture of an 8x8 digit: dark ink, 180 px tall, on paper lit
    from the left (grey 0.95 on the left edge, 0.30 on the right) or evenly."""
    h, w = shape
    ink = np.clip(ndimage.zoom(image8.reshape(8, 8), 180 / 8, order=1), 0, 1)
    canvas = np.zeros(shape)
    canvas[90:270, 150:330] = ink
    paper = 0.95 - 0.65 * np.arange(w) / w if gradient else np.full(w, 0.9)
    gray = paper[None, :] * (1 - 0.8 * canvas)
    return (np.clip(gray, 0, 1) * 255).astype(np.uint8)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_uneven_light_is_removed():
    digits = load_digits()
    X, y = digits.data / 16, digits.target
    clf = MLPDigitClassifier(hidden_layer_sizes=(64,), max_iter=60, random_state=0,
                             n_threads=1).fit(X[:1500], y[:1500])
    rows = np.arange(1500, 1540)

    def predict(background, gradient=True):
        images = [digit_photo(X[i], gradient=gradient) for i in rows]
        seen = DigitImagePreprocessor(size=8, box=8, background=background).transform(images)
        return seen, clf.predict(seen)

    clean, pred_clean = predict("border", gradient=False)
    removed, pred_removed = predict("auto")
    flat, pred_flat = predict("border")
    # with one level, the dark side of the paper is read as ink: wrong answers
    assert np.mean(pred_flat == y[rows]) < 0.4
    # the local background gives back the evenly lit digit, and the right answers
    assert np.mean(pred_removed == y[rows]) >= np.mean(pred_clean == y[rows]) - 0.05
    assert np.mean(pred_removed == y[rows]) > 0.75
    assert np.abs(removed - clean).mean() < 0.05 < np.abs(flat - clean).mean()
    # "auto" chose "local" for these photos
    np.testing.assert_array_equal(
        removed[:5], DigitImagePreprocessor(size=8, box=8, background="local")
        .transform([digit_photo(X[i]) for i in rows[:5]]))


def test_even_images_keep_one_background_level():
    # "auto" leaves evenly lit images, and small ones, to the border's level:
    # thick strokes are never hollowed out by a local estimate
    for img in (np.asarray(seven()), np.asarray(four()),
                digit_photo(load_digits().data[0] / 16, gradient=False)):
        np.testing.assert_array_equal(preprocess_digit_image(img),
                                      preprocess_digit_image(img, background="border"))
    thick = np.full((64, 64), 255, np.uint8)
    thick[:, :30] = np.linspace(0, 200, 30)  # ink touching the border: not uneven light
    np.testing.assert_array_equal(preprocess_digit_image(thick),
                                  preprocess_digit_image(thick, background="border"))


def test_large_photo_is_read_small(tmp_path):
    # a 4.8 MP JPEG and PNG: read at most WORK_PIXELS pixels, same digit as the small one
    small = Image.fromarray(digit_photo(load_digits().data[3] / 16))
    big = small.resize((small.width * 5, small.height * 5), Image.BILINEAR)
    expected = preprocess_digit_image(small)
    for suffix in ("jpg", "png"):
        path = tmp_path / f"big.{suffix}"
        big.save(path)
        gray = read_gray(path, "big", work_pixels=WORK_PIXELS)
        assert gray.dtype == np.float32
        assert WORK_PIXELS / 9 < gray.size <= WORK_PIXELS
        assert load_image(path).shape == (big.height, big.width)  # load_image: full size
        digit = preprocess_digit_image(path)
        assert np.abs(digit - expected).mean() < 0.03
    # arrays are shrunk the same way (block means)
    arr = np.asarray(big)
    assert np.abs(preprocess_digit_image(arr) - expected).mean() < 0.03
    # a PIL image of the user's is read, not changed (no draft on it)
    with Image.open(tmp_path / "big.jpg") as opened:
        preprocess_digit_image(opened)
        assert opened.size == big.size and opened.load() is not None
        assert opened.size == big.size


@pytest.mark.parametrize("shape", [(1, 3_000_000), (2, 2_000_000)])
def test_thin_strips_are_never_shrunk_to_nothing(tmp_path, shape):
    strip = np.full(shape, 255, np.uint8)
    strip[:, shape[1] // 2 - 4:shape[1] // 2 + 4] = 0  # a short dash in the middle
    path = tmp_path / "strip.png"
    Image.fromarray(strip).save(path)
    for image in (strip, path):
        digit = preprocess_digit_image(image)
        assert digit.shape == (28, 28) and digit.max() == 1.0


def png_header_only(width, height):
    """A PNG file whose header claims ``width x height`` grey pixels (and no data)."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("width, height", [(9000, 8000), (15000, 15000)],
                         ids=["above-the-limit", "pillow-bomb"])
def test_pixel_limit(tmp_path, width, height):
    path = tmp_path / "huge.png"
    path.write_bytes(png_header_only(width, height))
    assert width * height > MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning either
        for read in (load_image, preprocess_digit_image,
                     lambda p: DigitImagePreprocessor().transform([p])):
            with pytest.raises(ValueError, match="huge.png .*above the limit of 67.1 MP"):
                read(path)
    with pytest.raises(ValueError, match="max_pixels must be a positive int"):
        load_image(path, max_pixels=0)
    with pytest.raises(ValueError, match="above the limit of 1.0 MP"):
        load_image(tmp_path / "huge.png", max_pixels=10**6)


def test_unreadable_files_name_the_file(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ValueError, match="notes.png is not an image file"):
        load_image(text)
    buf = tmp_path / "seven.png"
    seven().save(buf)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(buf.read_bytes()[:300])
    with pytest.raises(ValueError, match="truncated.png could not be decoded"):
        preprocess_digit_image(truncated)
    with pytest.raises(FileNotFoundError):
        load_image(tmp_path / "missing.png")

"""Augmentation: the kernel (``_kernels/_augment.pyx``), ``augment_images`` and ``augment=``.

The kernel is checked against a slow reference written here from its
docstring's definitions alone: the random numbers re-derived in NumPy from
the hash of ``(seed, counter)``, each image's forward transform composed as
matrices and inverted with ``numpy.linalg.inv``, the elastic field smoothed
by ``scipy.ndimage.gaussian_filter``, and the sampling done by
``scipy.ndimage.map_coordinates`` (bilinear, zero outside).
"""

import warnings

import numpy as np
import pytest
from scipy import ndimage
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

import perceptron
from perceptron import ConvDigitClassifier, MLPDigitClassifier, PerceptronClassifier
from perceptron._augment import Augmentation, check_augment
from perceptron._dense_stack import DenseStackNetwork
from perceptron._kernels import _augment
from perceptron._network import Network
from perceptron.datasets import load_digits
from perceptron.layers import Dense
from perceptron.preprocessing import augment_images

# --------------------------------------------------------------------------- reference


def _splitmix64(x):
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _hash(seed, counters):
    """The hash of ``(seed, i)`` of ``_dropout_mask.pxd``, for an array of counters."""
    counters = np.asarray(counters, dtype=np.uint64)
    return _splitmix64(np.uint64(seed) ^ (counters * np.uint64(0xD1B54A32D192ED03)))


def reference(X, rows, shape, channels_last=False, shift=0.0, rotation=0.0, zoom=0.0,
              shear=0.0, flip=False, alpha=0.0, sigma=1.0, seed=0):
    """``augment_batch``'s output, computed from its docstring with NumPy and SciPy."""
    c, h, w = shape
    r = int(4 * sigma + 0.5) if alpha > 0 else 0
    hp, wp = h + 2 * r, w + 2 * r
    counters_per_image = 8 + hp * wp
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    points = np.stack([xx.ravel(), yy.ravel()])  # (x, y) of every output pixel
    out = np.empty((len(rows), X.shape[1]))
    for k, row in enumerate(rows):
        first = k * counters_per_image
        u = (_hash(seed, first + np.arange(6)) >> np.uint64(11)).astype(float) / 2.0**53
        t = shift * (2 * u[:2] - 1)
        a = np.deg2rad(rotation * (2 * u[2] - 1))
        s = 1 + zoom * (2 * u[3] - 1)
        phi = np.deg2rad(shear * (2 * u[4] - 1))
        f = -1.0 if flip and u[5] < 0.5 else 1.0
        forward = (np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
                   @ np.array([[1, np.tan(phi)], [0, 1]]) @ np.diag([s, s]) @ np.diag([f, 1]))
        source = centre[:, None] + np.linalg.inv(forward) @ (points - (centre + t)[:, None])
        if r:
            bits = _hash(seed, first + 8 + np.arange(hp * wp))
            for axis, half in enumerate((bits >> np.uint64(32), bits & np.uint64(0xFFFFFFFF))):
                noise = (half.astype(float) / 2.0**31 - 1).reshape(hp, wp)
                field = alpha * ndimage.gaussian_filter(noise, sigma)[r:r + h, r:r + w]
                source[axis] += field.ravel()
        image = X[row].reshape((h, w, c) if channels_last else (c, h, w))
        planes = np.moveaxis(image, -1, 0) if channels_last else image
        result = np.stack([
            ndimage.map_coordinates(plane, source[::-1], order=1, mode="grid-constant",
                                    cval=0.0).reshape(h, w) for plane in planes])
        out[k] = (np.moveaxis(result, 0, -1) if channels_last else result).ravel()
    return out


def kernel(X, rows, shape, channels_last=False, n_threads=1, **magnitudes):
    out = np.empty((len(rows), X.shape[1]), dtype=X.dtype)
    _augment.augment_batch(X, rows, out, shape, channels_last, n_threads=n_threads,
                           **magnitudes)
    return out


TRANSFORMS = {
    "shift": dict(shift=3.0),
    "rotation": dict(rotation=40.0),
    "zoom": dict(zoom=0.4),
    "shear": dict(shear=25.0),
    "flip": dict(flip=True),
    "elastic": dict(alpha=6.0, sigma=1.5),
    "elastic-smooth": dict(alpha=34.0, sigma=4.0),
    "all": dict(shift=2.0, rotation=15.0, zoom=0.2, shear=10.0, flip=True, alpha=5.0,
                sigma=2.0),
}


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.random((30, 3 * 9 * 11)), rng.integers(0, 30, 23).astype(np.intp)


# --------------------------------------------------------------------------- the kernel


@pytest.mark.parametrize("name", TRANSFORMS)
@pytest.mark.parametrize("shape, channels_last", [((1, 12, 12), False), ((3, 9, 11), False),
                                                  ((3, 9, 11), True)],
                         ids=["square", "channels-first", "channels-last"])
def test_kernel_matches_the_scipy_reference(images, name, shape, channels_last):
    X, rows = images
    X = np.ascontiguousarray(X[:, :int(np.prod(shape))])
    magnitudes = dict(TRANSFORMS[name], seed=12345)
    expected = reference(X, rows, shape, channels_last, **magnitudes)
    got = kernel(X, rows, shape, channels_last, n_threads=2, **magnitudes)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert not np.allclose(got, X[rows])  # the transform did something
    got32 = kernel(X.astype(np.float32), rows, shape, channels_last, **magnitudes)
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, expected, rtol=0, atol=5e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_magnitudes_are_the_identity_exactly(images, dtype):
    X, rows = images
    X = X.astype(dtype)
    got = kernel(X, rows, (3, 9, 11), seed=7, shift=0.0, rotation=0.0, zoom=0.0, shear=0.0,
                 alpha=0.0)
    np.testing.assert_array_equal(got, X[rows])


def test_flip_mirrors_about_half_the_images_exactly(images):
    X, rows = images
    got = kernel(X, rows, (3, 9, 11), flip=True, seed=3).reshape(-1, 3, 9, 11)
    original = X[rows].reshape(-1, 3, 9, 11)
    same = [np.array_equal(g, o) for g, o in zip(got, original)]
    mirrored = [np.array_equal(g, o[..., ::-1]) for g, o in zip(got, original)]
    assert all(s != m for s, m in zip(same, mirrored))
    assert 0 < sum(mirrored) < len(rows)


def test_shifted_out_of_the_frame_is_zero():
    X = np.ones((4, 25))
    got = kernel(X, np.arange(4, dtype=np.intp), (1, 5, 5), shift=50.0, seed=1)
    # an image shifted by more than its size shows only the zeros around it
    # (unless both shifts happen to be small, which this seed does not draw)
    assert np.all(got == 0)


@pytest.mark.parametrize("magnitudes", [dict(shift=2.0, rotation=10.0, flip=True),
                                        dict(alpha=8.0, sigma=2.0)],
                         ids=["affine", "elastic"])
def test_batch_is_the_same_for_any_thread_count(magnitudes):
    rng = np.random.default_rng(1)
    X = rng.random((300, 28 * 28)).astype(np.float32)
    rows = rng.permutation(300)[:257].astype(np.intp)  # 257: no team divides it
    batches = [kernel(X, rows, (1, 28, 28), n_threads=n, seed=99, **magnitudes)
               for n in (1, 2, 3)]
    np.testing.assert_array_equal(batches[0], batches[1])
    np.testing.assert_array_equal(batches[0], batches[2])
    other_seed = kernel(X, rows, (1, 28, 28), seed=100, **magnitudes)
    assert not np.array_equal(batches[0], other_seed)


def test_kernel_refuses_arrays_that_do_not_agree():
    X = np.zeros((3, 16))
    out = np.zeros((2, 16))
    with pytest.raises(ValueError, match="image_shape"):
        _augment.augment_batch(X, np.arange(2, dtype=np.intp), out, (1, 3, 5), False)
    with pytest.raises(ValueError, match="out must have shape"):
        _augment.augment_batch(X, np.arange(3, dtype=np.intp), out, (1, 4, 4), False)
    with pytest.raises(IndexError, match="out of range"):
        _augment.augment_batch(X, np.array([0, 3], dtype=np.intp), out, (1, 4, 4), False)


# --------------------------------------------------------------------------- augment_images


def test_augment_images_is_reproducible_and_keeps_the_dtype():
    X = np.random.default_rng(2).random((40, 64)).astype(np.float32)
    augment = {"shift": 1.0, "rotation": 10, "elastic": (3, 1.0)}
    a = augment_images(X, augment, random_state=0)
    b = augment_images(X, augment, random_state=0, n_threads=2)
    assert a.dtype == np.float32 and a.shape == X.shape
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, augment_images(X, augment, random_state=1))
    assert not np.array_equal(a, X)


@pytest.mark.parametrize("augment", [None, {}, {"shift": 0, "rotation": 0.0, "zoom": 0,
                                                "shear": 0, "flip": False,
                                                "elastic": (0, 3)}])
def test_augment_images_identity(augment):
    X = np.random.default_rng(3).random((5, 49))
    got = augment_images(X, augment, random_state=0)
    np.testing.assert_array_equal(got, X)
    assert got is not X


def test_augment_images_folds_rows_as_the_cnn_does():
    X = np.random.default_rng(4).random((6, 2 * 4 * 5))
    got = augment_images(X, {"flip": True}, image_shape=(2, 4, 5), random_state=0)
    for row, image in zip(got.reshape(6, 2, 4, 5), X.reshape(6, 2, 4, 5)):
        assert np.array_equal(row, image) or np.array_equal(row, image[..., ::-1])
    with pytest.raises(ValueError, match="image_shape"):
        augment_images(X, {"shift": 1}, image_shape=(3, 3))
    with pytest.raises(ValueError, match="not a square image"):
        augment_images(X, {"shift": 1})


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("augment, message", [
    ([("shift", 2)], "augment must be None or a dict"),
    ({"spin": 3}, "unknown key 'spin'"),
    ({"shift": -1}, r"augment\['shift'\] must be a float in \[0, inf\)"),
    ({"shift": float("nan")}, r"augment\['shift'\]"),
    ({"rotation": 200}, r"augment\['rotation'\] must be a float in \[0, 180\]"),
    ({"zoom": 1.0}, r"augment\['zoom'\] must be a float in \[0, 1\)"),
    ({"shear": 90}, r"augment\['shear'\] must be a float in \[0, 90\)"),
    ({"flip": 1}, r"augment\['flip'\] must be a bool"),
    ({"rotation": "10"}, r"augment\['rotation'\] must be a float"),
    ({"elastic": 34}, r"augment\['elastic'\] must be a pair \(alpha, sigma\)"),
    ({"elastic": (34, 4, 1)}, r"must be a pair"),
    ({"elastic": (-1, 4)}, r"augment\['elastic'\] alpha must be a float in \[0, inf\)"),
    ({"elastic": (34, 0)}, r"augment\['elastic'\] sigma must be a float in \(0, inf\)"),
])
def test_bad_augment_is_a_clear_error(augment, message):
    with pytest.raises(ValueError, match=message):
        check_augment(augment)
    X = np.zeros((4, 16))
    with pytest.raises(ValueError, match=message):
        augment_images(X, augment)
    y = np.array([0, 1, 0, 1])
    for est in (MLPDigitClassifier(augment=augment), ConvDigitClassifier(augment=augment)):
        with pytest.raises(ValueError, match=message):
            est.fit(X, y)


def test_elastic_sigma_larger_than_the_image_is_refused():
    with pytest.raises(ValueError, match=r"sigma=9.0 is larger than the images \(8x8\)"):
        augment_images(np.zeros((2, 64)), {"elastic": (3, 9)})
    with pytest.raises(ValueError, match="larger than the images"):
        Augmentation(check_augment({"elastic": (3, 9.0)}), (1, 8, 8))


def test_mlp_needs_an_image_shape_only_to_augment():
    X = np.random.default_rng(5).random((20, 10))
    y = np.arange(20) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPDigitClassifier((4,), max_iter=2).fit(X, y)  # tabular data, no augmentation
        MLPDigitClassifier((4,), max_iter=2, augment={}).fit(X, y)  # the identity
        with pytest.raises(ValueError, match="not a square image; pass image_shape"):
            MLPDigitClassifier((4,), max_iter=2, augment={"shift": 1}).fit(X, y)
        MLPDigitClassifier((4,), max_iter=2, augment={"shift": 1}, image_shape=(2, 5)).fit(X, y)
        with pytest.raises(ValueError, match="image_shape=\\(3, 3\\) means 9 pixels"):
            MLPDigitClassifier(augment={"shift": 1}, image_shape=(3, 3)).fit(X, y)
        with pytest.raises(ValueError, match="image_shape must be None or"):
            MLPDigitClassifier(image_shape=(0, 10)).fit(X, y)


def test_a_bad_augment_leaves_a_fitted_model_untouched():
    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPDigitClassifier((8,), max_iter=2, random_state=0).fit(X[:200], y[:200])
    before = est._network.params.copy(), est.n_iter_
    est.set_params(augment={"elastic": (3, 20)})  # sigma larger than the 8x8 images
    with pytest.raises(ValueError, match="larger than the images"):
        est.partial_fit(X[:200], y[:200])
    np.testing.assert_array_equal(est._network.params, before[0])
    assert est.n_iter_ == before[1]


# --------------------------------------------------------------------------- the estimators


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(subset="train", return_X_y=True)
    Xt, yt = load_digits(subset="test", return_X_y=True)
    return X, y, Xt, yt


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


AUGMENT = {"shift": 0.5, "rotation": 8, "zoom": 0.05, "elastic": (2, 1)}


@pytest.mark.parametrize("make", [
    lambda aug: MLPDigitClassifier((32,), max_iter=15, random_state=0, augment=aug,
                                   n_threads=1),
    lambda aug: ConvDigitClassifier(conv_layers=((8, 3),), dense_layers=(16,), max_iter=4,
                                    batch_size=32, random_state=0, augment=aug, n_threads=1),
], ids=["mlp", "cnn"])
def test_fit_trains_on_transformed_batches_and_predicts_on_plain_images(make, digits):
    X, y, Xt, yt = digits
    plain = _fit(make(None), X, y)
    augmented = _fit(make(AUGMENT), X, y)
    again = _fit(make(AUGMENT), X, y)
    # it trains, differently from the plain fit, and the same for a random_state
    assert augmented.score(Xt, yt) > 0.4  # (chance: 0.1)
    assert not np.array_equal(augmented._network.params, plain._network.params)
    np.testing.assert_array_equal(augmented._network.params, again._network.params)
    assert augmented.loss_curve_[-1] < augmented.loss_curve_[0]
    # an empty dict is no augmentation at all: the same model as None
    np.testing.assert_array_equal(_fit(make({}), X, y)._network.params, plain._network.params)
    # prediction sees the images unchanged: the same every time, and for the
    # MLP exactly the forward pass of its weights
    proba = augmented.predict_proba(Xt)
    np.testing.assert_array_equal(proba, augmented.predict_proba(Xt))
    if isinstance(augmented, MLPDigitClassifier):
        hidden = np.maximum(Xt @ augmented.coefs_[0] + augmented.intercepts_[0], 0)
        logits = hidden @ augmented.coefs_[1] + augmented.intercepts_[1]
        expected = np.exp(logits - logits.max(axis=1, keepdims=True))
        np.testing.assert_allclose(proba, expected / expected.sum(axis=1, keepdims=True),
                                   rtol=1e-4, atol=1e-6)


def test_early_stopping_scores_the_validation_images_unchanged(digits):
    X, y, _, _ = digits
    est = _fit(MLPDigitClassifier((16,), max_iter=3, early_stopping=True, random_state=0,
                                  augment={"shift": 1, "rotation": 20}), X, y)
    assert len(est.validation_scores_) == est.n_iter_
    assert len(est.train_scores_) == est.n_iter_


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
def test_dense_stack_and_layer_by_layer_see_the_same_augmented_batch(weighted):
    rng = np.random.default_rng(6)
    X = rng.random((50, 36))
    y = np.eye(3, dtype=np.uint8)[rng.integers(0, 3, 50)]  # one-hot targets
    rows = rng.permutation(50)[:21].astype(np.intp)
    sample_weight = rng.random(50) if weighted else None
    magnitudes = check_augment({"shift": 1, "rotation": 15, "elastic": (2, 1)})
    losses, grads = [], []
    for engine in (DenseStackNetwork, Network):
        net = engine([Dense(8, "relu"), Dense(3)], dtype=np.float64)
        net.build((36,), np.random.default_rng(0))
        augment = Augmentation(magnitudes, (1, 6, 6), rng=np.random.default_rng(1))
        loss, _ = net.train_batch(X, y, rows, 0.01, sample_weight=sample_weight,
                                  augment=augment)
        losses.append(loss)
        grads.append(net.grads.copy())
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-12)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-9, atol=1e-12)


def test_augment_is_a_parameter_like_any_other(tmp_path, digits):
    X, y, _, _ = digits
    est = MLPDigitClassifier((8,), max_iter=2, random_state=0, image_shape=(8, 8),
                             augment={"shift": 1.0, "elastic": (2.0, 1.0)})
    assert clone(est).get_params()["augment"] == {"shift": 1.0, "elastic": (2.0, 1.0)}
    _fit(est, X, y)
    loaded = perceptron.load(est.save(tmp_path / "model"))
    assert loaded.get_params() == est.get_params()
    # training continues identically (the seeds of the batches come from the saved stream)
    est.partial_fit(X, y)
    loaded.partial_fit(X, y)
    np.testing.assert_array_equal(loaded._network.params, est._network.params)


def test_the_perceptron_has_no_augment():
    assert "augment" not in PerceptronClassifier().get_params()

"""The Winograd F(4x4, 3x3) kernels against the im2col path and finite differences.

``_winograd.winograd_forward`` / ``winograd_backward`` must compute what
``_conv.conv_forward`` / ``conv_backward`` (im2col + GEMM, the reference)
compute for a 3x3, stride-1 convolution with "same" or "valid" padding:
the output, ``dL/dX``, ``dL/dW`` and ``dL/db``.

Tolerances, as errors relative to the result's scale (its largest absolute
value). In float64 the two paths differ by rounding only: ``1e-10``. In
float32 Winograd's transforms round more than im2col's dot products (their
coefficients go from 1/24 to 8): against a float64 computation, on the
default network's layers, its results are off by 2e-7 to 4e-7 (root mean
square) and at most 5e-6, where im2col's are off by 5e-8 and at most 6e-7.
:func:`test_float32_error_against_float64` pins those bounds; the agreement
tests allow ``1e-4``.
"""

import numpy as np
import pytest

from perceptron import ConvDigitClassifier
from perceptron._kernels import _conv, _winograd
from perceptron.layers import Conv2D

ACTIVATIONS = {"identity": 0, "relu": 1, "sigmoid": 2, "tanh": 3}


# ------------------------------------------------------------------ helpers
def conv_shapes(H, W, padding):
    """(pad_top, pad_left, Ho, Wo) of a 3x3 stride-1 convolution."""
    if padding == "same":
        return 1, 1, H, W
    return 0, 0, H - 2, W - 2


def im2col_pass(x, W, b, G, padding, activation, need_dx=True, n_threads=1):
    """Output, dX, dW, db (and dL/dZ) by the im2col kernels, the reference."""
    n, H, Wd, C = x.shape
    F = W.shape[1]
    pt, pl, Ho, Wo = conv_shapes(H, Wd, padding)
    cols = np.empty((n * Ho * Wo, 9 * C), x.dtype)
    out = np.empty((n, Ho, Wo, F), x.dtype)
    _conv.conv_forward(x, cols, W, b, out, 3, 3, 1, pt, pl, activation, n_threads)
    grad = G.copy()
    dW, db = np.empty_like(W), np.empty_like(b)
    dx = np.empty_like(x) if need_dx else None
    _conv.conv_backward(x, out, grad, cols, W, dW, db, dx, 3, 3, 1, pt, pl, activation,
                        n_threads)
    return out, dx, dW, db, grad


def winograd_pass(x, W, b, G, padding, activation, need_dx=True, n_threads=1,
                  block_tiles=128):
    """The same by the Winograd kernels."""
    n, H, Wd, C = x.shape
    F = W.shape[1]
    pt, pl, Ho, Wo = conv_shapes(H, Wd, padding)
    out = np.empty((n, Ho, Wo, F), x.dtype)
    _winograd.winograd_forward(x, W, b, out, pt, pl, activation, n_threads, block_tiles)
    grad = G.copy()
    dW, db = np.empty_like(W), np.empty_like(b)
    dx = np.empty_like(x) if need_dx else None
    _winograd.winograd_backward(x, out, grad, W, dW, db, dx, pt, pl, activation, n_threads,
                                block_tiles)
    return out, dx, dW, db, grad


def random_problem(n, H, W, C, F, padding, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    _, _, Ho, Wo = conv_shapes(H, W, padding)
    x = rng.normal(size=(n, H, W, C)).astype(dtype)
    Wt = (rng.normal(size=(9 * C, F)) / np.sqrt(9 * C)).astype(dtype)
    b = rng.normal(0, 0.1, size=F).astype(dtype)
    G = rng.normal(size=(n, Ho, Wo, F)).astype(dtype)
    return x, Wt, b, G


def assert_close(got, ref, rel, what):
    """``|got - ref| <= rel * max|ref|`` everywhere: an error relative to the result's scale."""
    assert got.shape == ref.shape and got.dtype == ref.dtype, what
    scale = max(float(np.abs(ref).max()), 1e-30)
    err = float(np.abs(got.astype(np.float64) - ref).max()) / scale
    assert err <= rel, f"{what}: error {err:.2e} of the scale > {rel:.0e}"


NAMES = ("output", "dX", "dW", "db", "dL/dZ")

# (n, H, W, C, F): tiles that fit and tiles that hang over the border (odd and
# even sizes, not multiples of 4), tiny images, one channel or filter, a
# channel count above a vector width
CASES = [
    (3, 6, 6, 2, 3),
    (2, 5, 7, 3, 4),
    (2, 9, 8, 1, 1),
    (4, 14, 14, 8, 5),
    (2, 7, 7, 17, 9),
    (3, 12, 3, 2, 2),
    (2, 1, 1, 3, 2),     # "same" only: one pixel
    (2, 1, 6, 2, 3),     # a 1-pixel-high strip ("same")
    (3, 2, 2, 1, 4),
    (2, 3, 3, 4, 1),     # "valid": a 1x1 output
    (2, 4, 5, 1, 2),
    # the default network's inner layers on tabular data (1 x n_features strips)
    (2, 1, 5, 8, 3),
    (2, 1, 13, 16, 4),   # a strip over four tiles
    (2, 1, 2, 32, 2),
    (2, 3, 1, 9, 2),     # a 1-pixel-wide column
]


def case_id(case):
    return "n{}-{}x{}x{}-f{}".format(*case)


def cases_for(padding):
    return [c for c in CASES if padding == "same" or (c[1] >= 3 and c[2] >= 3)]


# ------------------------------------------------------------------ agreement with im2col
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype, rel", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_winograd_matches_im2col(padding, n_threads, dtype, rel):
    for case in cases_for(padding):
        x, W, b, G = random_problem(*case, padding, dtype)
        ref = im2col_pass(x.astype(np.float64), W.astype(np.float64), b.astype(np.float64),
                          G.astype(np.float64), padding, ACTIVATIONS["tanh"])
        got = winograd_pass(x, W, b, G, padding, ACTIVATIONS["tanh"], n_threads=n_threads)
        for name, g, r in zip(NAMES, got, ref):
            assert_close(g, r.astype(dtype), rel, f"{case_id(case)} {padding} {name}")


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_activation(activation):
    x, W, b, G = random_problem(3, 9, 10, 4, 6, "same")
    code = ACTIVATIONS[activation]
    ref = im2col_pass(x, W, b, G, "same", code)
    got = winograd_pass(x, W, b, G, "same", code)
    for name, g, r in zip(NAMES, got, ref):
        assert_close(g, r, 1e-10, f"{activation} {name}")


@pytest.mark.parametrize("block_tiles", [1, 5, 10**6])
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_blocks_and_threads(block_tiles, n_threads):
    """Many blocks per thread, one sample per block, one block for all: the same sums."""
    # big enough for the kernels to use threads (see _openmp.threads_for)
    x, W, b, G = random_problem(40, 9, 8, 8, 8, "same")
    ref = im2col_pass(x, W, b, G, "same", ACTIVATIONS["relu"])
    got = winograd_pass(x, W, b, G, "same", ACTIVATIONS["relu"], n_threads=n_threads,
                        block_tiles=block_tiles)
    for name, g, r in zip(NAMES, got, ref):
        assert_close(g, r, 1e-10, name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_threads_are_bit_identical(dtype):
    x, W, b, G = random_problem(40, 14, 14, 8, 16, "same", dtype)
    first = winograd_pass(x, W, b, G, "same", ACTIVATIONS["relu"], n_threads=2)
    again = winograd_pass(x, W, b, G, "same", ACTIVATIONS["relu"], n_threads=2)
    for a, c in zip(first, again):
        np.testing.assert_array_equal(a, c)


def test_first_layer_skips_dx():
    x, W, b, G = random_problem(3, 8, 8, 2, 3, "same")
    ref = im2col_pass(x, W, b, G, "same", ACTIVATIONS["relu"], need_dx=False)
    got = winograd_pass(x, W, b, G, "same", ACTIVATIONS["relu"], need_dx=False)
    assert got[1] is None
    for name, g, r in zip(NAMES, got, ref):
        if r is not None:
            assert_close(g, r, 1e-10, name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 7), (1, 1), (3, 1)])
def test_padding_only_weights_get_exactly_zero_gradient(shape, dtype):
    """On a 1-pixel-high strip (or wide column) a "same" 3x3 kernel's top and bottom
    rows (left and right columns) only ever see the zero padding: their gradient
    is exactly 0 on both paths, not rounding noise."""
    H, W = shape
    x, Wt, b, G = random_problem(2, H, W, 8, 3, "same", dtype)
    for _, _, dW, _, _ in (im2col_pass(x, Wt, b, G, "same", ACTIVATIONS["tanh"]),
                           winograd_pass(x, Wt, b, G, "same", ACTIVATIONS["tanh"])):
        taps = dW.reshape(3, 3, 8, 3)
        unused = np.ones((3, 3), bool)
        unused[max(1 - (H - 1), 0):min(1 + H, 3), max(1 - (W - 1), 0):min(1 + W, 3)] = False
        assert unused.any()
        np.testing.assert_array_equal(taps[unused], 0)
        assert np.all(taps[~unused] != 0)


def test_empty_batch():
    x, W, b, G = random_problem(0, 6, 6, 2, 3, "same")
    out, dx, dW, db, _ = winograd_pass(x, W, b, G, "same", ACTIVATIONS["relu"])
    assert out.shape == (0, 6, 6, 3) and dx.shape == (0, 6, 6, 2)
    np.testing.assert_array_equal(dW, 0)
    np.testing.assert_array_equal(db, 0)


# ------------------------------------------------------------------ float32 error
def test_float32_error_against_float64():
    """The default network's layers: Winograd's float32 error vs im2col's, against float64.

    Measured (seeds 0-2, output, dX and dW): root mean square 2e-7 to 4e-7 of
    the scale for Winograd, 4e-8 to 6e-8 for im2col; largest 2e-6 to 5e-6
    for Winograd, 2e-7 to 6e-7 for im2col.
    """
    rng = np.random.default_rng(0)
    for H, C, F in [(14, 32, 64), (7, 64, 64)]:
        x = np.maximum(rng.normal(size=(16, H, H, C)), 0)          # after a ReLU
        bound = np.sqrt(6 / (9 * C + 9 * F))                       # Glorot, as Conv2D
        W = rng.uniform(-bound, bound, size=(9 * C, F))
        b = np.zeros(F)
        G = rng.normal(size=(16, H, H, F)) * 1e-3
        exact = im2col_pass(x, W, b, G, "same", ACTIVATIONS["identity"])
        args32 = [a.astype(np.float32) for a in (x, W, b, G)]
        for path, rms_bound, max_bound in [(im2col_pass, 2e-7, 2e-6),
                                           (winograd_pass, 1e-6, 1e-5)]:
            got = path(*args32, "same", ACTIVATIONS["identity"])
            for name, g, r in zip(NAMES[:3], got, exact):
                scale = np.abs(r).max()
                err = g.astype(np.float64) - r
                assert np.sqrt(np.mean(err ** 2)) / scale < rms_bound, (path.__name__, name)
                assert np.abs(err).max() / scale < max_bound, (path.__name__, name)


# ------------------------------------------------------------------ finite differences
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_gradients_finite_differences(padding, activation):
    """dX, dW, db of L = sum(R * f(conv(X))) by central differences, float64, a tiny case."""
    x, W, b, R = random_problem(2, 5, 6, 2, 3, padding, seed=3)
    code = ACTIVATIONS[activation]
    pt, pl, Ho, Wo = conv_shapes(5, 6, padding)
    out = np.empty((2, Ho, Wo, 3))

    def loss():
        _winograd.winograd_forward(x, W, b, out, pt, pl, code)
        return float(np.sum(R * out))

    loss()
    grad, dW, db, dx = R.copy(), np.empty_like(W), np.empty_like(b), np.empty_like(x)
    _winograd.winograd_backward(x, out, grad, W, dW, db, dx, pt, pl, code)
    for analytic, param in [(dx, x), (dW, W), (db, b)]:
        numeric = np.zeros_like(param)
        flat, nflat = param.reshape(-1), numeric.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + 1e-6
            up = loss()
            flat[i] = old - 1e-6
            down = loss()
            flat[i] = old
            nflat[i] = (up - down) / 2e-6
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------ the transforms
def test_transforms_reproduce_a_direct_convolution():
    """``A^T [(G g G^T) * (B^T d B)] A`` is the 4x4 correlation of a 6x6 tile with a 3x3 kernel."""
    BT, G, AT = _winograd.transforms()
    assert BT.shape == (6, 6) and G.shape == (6, 3) and AT.shape == (4, 6)
    rng = np.random.default_rng(0)
    d, g = rng.normal(size=(6, 6)), rng.normal(size=(3, 3))
    direct = np.array([[np.sum(d[u:u + 3, v:v + 3] * g) for v in range(4)] for u in range(4)])
    winograd = AT @ ((G @ g @ G.T) * (BT @ d @ BT.T)) @ AT.T
    np.testing.assert_allclose(winograd, direct, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ memory and errors
def test_workspace_is_bounded_by_the_block_not_the_batch():
    """The scratch grows with threads and block size, not with the batch size."""
    sizes = [_winograd.workspace_size(n, 14, 14, 32, 64, 1, 1, 2) for n in (128, 1024, 10**5)]
    assert sizes[0] == sizes[1] == sizes[2]
    # less than im2col's patch matrix for one batch of 128 images
    assert sizes[0] < 128 * 14 * 14 * 9 * 32


@pytest.mark.parametrize("pad, Ho", [
    (3, 10),    # 3 pixels of zero padding
    (1, 9),     # 4 at the bottom
    (0, 3),     # smaller than "valid" (4x4): -1 at the bottom
])
def test_kernels_reject_geometries_they_cannot_compute(pad, Ho):
    """Each side's padding (the bottom and right ones follow from the output size) is 0 to 2."""
    x, out = np.zeros((2, 6, 6, 2)), np.zeros((2, Ho, Ho, 3))
    with pytest.raises(ValueError, match="paddings"):
        _winograd.winograd_forward(x, np.zeros((18, 3)), np.zeros(3), out, pad, pad, 0)


def test_kernels_reject_wrong_shapes():
    x = np.zeros((2, 6, 6, 2))
    with pytest.raises(ValueError, match="shapes do not agree"):
        _winograd.winograd_forward(x, np.zeros((9 * 2, 3)), np.zeros(3),
                                   np.zeros((2, 6, 6, 4)), 1, 1, 0)
    with pytest.raises(ValueError, match="shapes do not agree"):      # a 2x2 kernel's weights
        _winograd.winograd_forward(x, np.zeros((4 * 2, 3)), np.zeros(3),
                                   np.zeros((2, 6, 6, 3)), 1, 1, 0)


# ------------------------------------------------------------------ the layer's choice
def built_layer(layer, input_shape, dtype=np.float64, n_threads=1, seed=0):
    """``layer`` built on ``input_shape`` with parameters of its own (as the network binds them)."""
    layer.build(input_shape, dtype)
    rng = np.random.default_rng(seed)
    params = {k: rng.normal(size=s).astype(dtype) / 4 for k, s in layer.param_shapes.items()}
    layer.bind(params, {k: np.zeros(s, dtype) for k, s in layer.param_shapes.items()})
    layer.n_threads = n_threads
    return layer


@pytest.mark.parametrize("kwargs, shape, path", [
    (dict(kernel_size=3, padding="same"), (9, 9, 8), "winograd"),
    (dict(kernel_size=3, padding="valid"), (9, 7, 16), "winograd"),
    (dict(kernel_size=(3, 3), padding="same"), (1, 1, 8), "winograd"),
    (dict(kernel_size=3, padding="same", algorithm="winograd"), (6, 6, 1), "winograd"),
    # must NOT take the Winograd path
    (dict(kernel_size=3, padding="same"), (9, 9, 7), "im2col"),       # too few channels
    (dict(kernel_size=3, padding="same", stride=2), (9, 9, 8), "im2col"),
    (dict(kernel_size=5, padding="same"), (9, 9, 8), "im2col"),
    (dict(kernel_size=(3, 2), padding="same"), (9, 9, 8), "im2col"),
    (dict(kernel_size=1), (9, 9, 8), "im2col"),
    (dict(kernel_size=3, padding="same", algorithm="im2col"), (9, 9, 8), "im2col"),
])
def test_conv2d_path(kwargs, shape, path):
    layer = Conv2D(4, **kwargs)
    assert layer.path is None            # decided by build, from the input's channels
    layer.build(shape, np.float32)
    assert layer.path == path


@pytest.mark.parametrize("kwargs", [dict(kernel_size=3, stride=2), dict(kernel_size=5),
                                    dict(kernel_size=(3, 1))])
def test_conv2d_refuses_winograd_where_it_cannot_work(kwargs):
    with pytest.raises(ValueError, match="algorithm='winograd' needs a 3x3 kernel with stride 1"):
        Conv2D(4, algorithm="winograd", **kwargs)
    with pytest.raises(ValueError, match="algorithm must be"):
        Conv2D(4, algorithm="fft")


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("need_dx", [True, False])
def test_conv2d_winograd_matches_im2col_layer(padding, need_dx):
    shape = (7, 10, 8)
    fast = built_layer(Conv2D(5, 3, padding=padding, activation="tanh"), shape, n_threads=2)
    ref = built_layer(Conv2D(5, 3, padding=padding, activation="tanh", algorithm="im2col"),
                      shape, n_threads=2)
    assert (fast.path, ref.path) == ("winograd", "im2col")
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3,) + shape)
    out_fast, out_ref = fast.forward(X, training=True), ref.forward(X, training=True)
    assert_close(out_fast, out_ref, 1e-10, "output")
    G = rng.normal(size=out_ref.shape)
    dX_fast, dX_ref = fast.backward(G.copy(), need_dx), ref.backward(G.copy(), need_dx)
    if need_dx:
        assert_close(dX_fast, dX_ref, 1e-10, "dX")
    else:
        assert dX_fast is None
    for name in ("W", "b"):
        assert_close(fast.grads[name], ref.grads[name], 1e-10, name)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_default_cnn_trains_its_inner_layers_with_winograd():
    """ConvDigitClassifier(): the first convolution (1 channel) stays im2col, the others not."""
    rng = np.random.default_rng(0)
    X, y = rng.uniform(size=(64, 784)).astype(np.float32), np.arange(64) % 10
    clf = ConvDigitClassifier(max_iter=1, random_state=0, n_threads=2).fit(X, y)
    assert [layer.path for layer in clf._conv_layers()] == ["im2col", "winograd", "winograd"]
    assert np.isfinite(clf.loss_)

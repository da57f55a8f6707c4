"""Conv2D, MaxPool2D and Flatten against slow NumPy references and finite differences.

Every layer here is run on its own: ``make_layer`` builds it, gives it flat
parameter/gradient vectors the way :class:`perceptron._network.Network` does,
and initialises the parameters. Activations are NHWC throughout.
"""

import pickle

import numpy as np
import pytest

from perceptron._kernels import _conv, _pool
from perceptron.layers import Conv2D, Flatten, MaxPool2D


# ------------------------------------------------------------------ helpers
def make_layer(layer, input_shape, dtype=np.float64, seed=0, n_threads=1):
    layer.build(input_shape, dtype)
    sizes = {k: int(np.prod(s)) for k, s in layer.param_shapes.items()}
    flat_p = np.zeros(sum(sizes.values()), dtype=dtype)
    flat_g = np.zeros_like(flat_p)
    params, grads, off = {}, {}, 0
    for name, shape in layer.param_shapes.items():
        params[name] = flat_p[off:off + sizes[name]].reshape(shape)
        grads[name] = flat_g[off:off + sizes[name]].reshape(shape)
        off += sizes[name]
    layer.bind(params, grads)
    layer.n_threads = n_threads
    layer.init_params(np.random.default_rng(seed))
    if "b" in params:  # non-zero biases, so that their gradient matters
        params["b"][...] = np.random.default_rng(seed + 1).normal(0, 0.1, params["b"].shape)
    return layer


def same_pads(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def conv_reference(X, kernel, b, stride, padding, activation="identity"):
    """Direct convolution, NHWC; kernel is (F, kh, kw, C). Loops over output pixels."""
    n, H, W, C = X.shape
    F, kh, kw, _ = kernel.shape
    if padding == "same":
        (pt, pb), (pl, pr) = same_pads(H, kh, stride), same_pads(W, kw, stride)
    else:
        pt = pb = pl = pr = 0
    Xp = np.pad(X, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    Ho = (H + pt + pb - kh) // stride + 1
    Wo = (W + pl + pr - kw) // stride + 1
    out = np.empty((n, Ho, Wo, F))
    for oy in range(Ho):
        for ox in range(Wo):
            patch = Xp[:, oy * stride:oy * stride + kh, ox * stride:ox * stride + kw, :]
            out[:, oy, ox, :] = np.einsum("nyxc,fyxc->nf", patch, kernel) + b
    if activation == "relu":
        out = np.maximum(out, 0)
    elif activation == "tanh":
        out = np.tanh(out)
    return out


def conv_reference_backward(X, kernel, stride, padding, G):
    """dL/dX and dL/dkernel of the linear convolution (no activation), given G = dL/dZ."""
    n, H, W, C = X.shape
    F, kh, kw, _ = kernel.shape
    if padding == "same":
        (pt, pb), (pl, pr) = same_pads(H, kh, stride), same_pads(W, kw, stride)
    else:
        pt = pb = pl = pr = 0
    Xp = np.pad(X, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    dXp = np.zeros_like(Xp)
    dK = np.zeros_like(kernel)
    for oy in range(G.shape[1]):
        for ox in range(G.shape[2]):
            ys, xs = slice(oy * stride, oy * stride + kh), slice(ox * stride, ox * stride + kw)
            dK += np.einsum("nyxc,nf->fyxc", Xp[:, ys, xs, :], G[:, oy, ox, :])
            dXp[:, ys, xs, :] += np.einsum("fyxc,nf->nyxc", kernel, G[:, oy, ox, :])
    return dXp[:, pt:pt + H, pl:pl + W, :], dK, G.sum(axis=(0, 1, 2))


def maxpool_reference(X, pool, stride, padding):
    """Max-pooling the slow way: pad with -inf, then take each window's maximum.

    The rule, written out independently of the layer: "same" has
    ``ceil(H / stride)`` windows and pads ``max((Ho - 1) * stride + ph - H, 0)``
    rows, half (rounded down) on top; "valid" has ``(H - ph) // stride + 1``
    windows and no padding, and a side shorter than the window is one
    window over that whole side.
    """
    n, H, W, C = X.shape
    ph, pw = pool
    sizes, pads = [], []
    for size, p in ((H, ph), (W, pw)):
        if padding == "same":
            out = -(-size // stride)
            total = max((out - 1) * stride + p - size, 0)
            sizes.append(out)
            pads.append((total // 2, total - total // 2))
        elif p > size:
            sizes.append(1)
            pads.append((0, p - size))
        else:
            sizes.append((size - p) // stride + 1)
            pads.append((0, 0))
    Xp = np.pad(X.astype(np.float64), ((0, 0), pads[0], pads[1], (0, 0)),
                constant_values=-np.inf)
    out = np.empty((n, sizes[0], sizes[1], C))
    for oy in range(sizes[0]):
        for ox in range(sizes[1]):
            win = Xp[:, oy * stride:oy * stride + ph, ox * stride:ox * stride + pw, :]
            out[:, oy, ox, :] = win.max(axis=(1, 2))
    return out


def numerical_grad(f, x, eps=1e-6):
    """Central differences of the scalar function ``f`` w.r.t. every entry of ``x`` (in place)."""
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * eps)
    return g


# (input (H, W, C), filters, kernel, stride, padding): strides, paddings,
# channel counts, kernel sizes, non-square images and kernels
CONV_CASES = [
    ((5, 5, 1), 2, 3, 1, "valid"),
    ((5, 5, 1), 2, 3, 1, "same"),
    ((6, 7, 3), 4, 3, 2, "valid"),
    ((6, 7, 3), 4, 3, 2, "same"),
    ((7, 5, 2), 3, (2, 3), 1, "same"),
    ((8, 6, 2), 3, (3, 2), 3, "same"),
    ((5, 6, 4), 3, 1, 1, "valid"),   # 1x1: no im2col
    ((5, 6, 2), 3, 1, 2, "same"),    # 1x1 with a stride: im2col again
    ((4, 9, 2), 5, 4, 1, "same"),    # even kernel: asymmetric padding
    ((1, 6, 1), 2, 3, 1, "same"),    # a 1-pixel-high strip (the estimator's tabular case)
]


def case_id(case):
    shape, f, k, s, p = case
    return f"{'x'.join(map(str, shape))}-f{f}-k{k}-s{s}-{p}"


# ------------------------------------------------------------------ convolution
@pytest.mark.parametrize("case", CONV_CASES, ids=case_id)
def test_conv_forward_matches_reference(case):
    shape, filters, k, stride, padding = case
    layer = make_layer(Conv2D(filters, k, stride, padding, activation="relu"), shape)
    X = np.random.default_rng(1).normal(size=(3,) + shape)
    out = layer.forward(X, training=True)
    ref = conv_reference(X, layer.kernel, layer.params["b"], stride, padding, "relu")
    assert out.shape == ref.shape == (3,) + layer.output_shape
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CONV_CASES, ids=case_id)
def test_conv_backward_matches_reference(case):
    shape, filters, k, stride, padding = case
    layer = make_layer(Conv2D(filters, k, stride, padding, activation="identity"), shape)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(3,) + shape)
    layer.forward(X, training=True)
    G = rng.normal(size=(3,) + layer.output_shape)
    dX = layer.backward(G.copy())
    dX_ref, dK_ref, db_ref = conv_reference_backward(X, layer.kernel, stride, padding, G)
    kh, kw = layer.kernel_size
    dK = layer.grads["W"].reshape(kh, kw, shape[2], filters).transpose(3, 0, 1, 2)
    np.testing.assert_allclose(dX, dX_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dK, dK_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], db_ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CONV_CASES, ids=case_id)
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_conv_gradients_finite_differences(case, activation):
    """Input, weight and bias gradients of L = sum(R * conv(X)) in float64."""
    shape, filters, k, stride, padding = case
    layer = make_layer(Conv2D(filters, k, stride, padding, activation=activation), shape)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2,) + shape)
    R = rng.normal(size=(2,) + layer.output_shape)

    def loss():
        return float(np.sum(R * layer.forward(X, training=True)))

    loss()
    dX = layer.backward(R.copy()).copy()
    dW, db = layer.grads["W"].copy(), layer.grads["b"].copy()
    # relu's kink: finite differences are only valid away from z == 0
    tol = dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dX, numerical_grad(loss, X), **tol)
    np.testing.assert_allclose(dW, numerical_grad(loss, layer.params["W"]), **tol)
    np.testing.assert_allclose(db, numerical_grad(loss, layer.params["b"]), **tol)


def test_first_layer_skips_input_grad():
    layer = make_layer(Conv2D(4, 3, padding="same"), (6, 6, 2))
    X = np.random.default_rng(0).normal(size=(2, 6, 6, 2))
    out = layer.forward(X, training=True)
    assert layer.backward(np.ones_like(out), need_input_grad=False) is None
    assert np.any(layer.grads["W"] != 0)


@pytest.mark.parametrize("k, stride, padding", [(3, 1, "valid"), (3, 2, "same"), (2, 1, "same")])
def test_col2im_is_the_adjoint_of_im2col(k, stride, padding):
    """<im2col(x), c> == <x, col2im(c)>: the backward pass of a copy is a scatter-add."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 7, 6, 2))
    layer = make_layer(Conv2D(1, k, stride, padding), x.shape[1:])
    Ho, Wo = layer.out_hw
    args = layer._im2col_args() + (Ho, Wo)
    cols = np.empty((3 * Ho * Wo, k * k * 2))
    _conv.im2col(x, cols, *args, 2)
    c = rng.normal(size=cols.shape)
    back = np.empty_like(x)
    _conv.col2im(c, back, *args, 2)
    np.testing.assert_allclose(np.sum(cols * c), np.sum(x * back), rtol=1e-12)


def test_pointwise_conv_reads_a_read_only_input():
    """A 1x1 convolution uses its input as the patch matrix: it must not need to write it."""
    layer = make_layer(Conv2D(4, 1), (3, 3, 2))
    X = np.random.default_rng(0).normal(size=(2, 3, 3, 2))
    X.setflags(write=False)
    out = layer.forward(X, training=True)
    np.testing.assert_allclose(out, conv_reference(X, layer.kernel, layer.params["b"], 1,
                                                   "valid", "relu"))
    assert layer.backward(np.ones_like(out)).shape == X.shape


def test_kernels_reject_wrong_shapes():
    x = np.zeros((2, 5, 5, 3))
    with pytest.raises(ValueError, match="column matrix"):
        _conv.im2col(x, np.zeros((2 * 9, 26)), 3, 3, 1, 0, 0, 3, 3)
    with pytest.raises(ValueError, match="shapes do not agree"):
        _pool.maxpool_forward(x, np.zeros((2, 2, 2, 3)), np.zeros((2, 2, 2, 2), np.int32),
                              2, 2, 2)
    with pytest.raises(ValueError, match="shapes do not agree"):
        _pool.maxpool_backward(np.zeros((2, 2, 2, 3)), np.zeros((2, 2, 2, 3), np.int32),
                               np.zeros((3, 5, 5, 3)))


@pytest.mark.parametrize("block_rows", [1, 7, 50, 10**6])
@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("pointwise", [False, True])
def test_fused_kernels_match_the_unfused_steps(block_rows, n_threads, pointwise):
    """conv_forward/conv_backward == im2col, GEMM, bias+act, ..., col2im done one by one."""
    rng = np.random.default_rng(5)
    # big enough for the kernels to use threads (see _openmp.threads_for)
    n, H, W_, C, F = 40, 9, 8, 3, 8
    k, stride, pad = (1, 1, 0) if pointwise else (3, 2, 1)
    Ho, Wo = (H + 2 * pad - k) // stride + 1, (W_ + 2 * pad - k) // stride + 1
    x = rng.normal(size=(n, H, W_, C))
    W, b = rng.normal(size=(k * k * C, F)), rng.normal(size=F)
    cols_ref = np.empty((n * Ho * Wo, k * k * C))
    _conv.im2col(x, cols_ref, k, k, stride, pad, pad, Ho, Wo)
    A_ref = np.tanh(cols_ref @ W + b)
    cols = None if pointwise else np.empty_like(cols_ref)
    out = np.empty((n, Ho, Wo, F))
    geometry = (k, k, stride, pad, pad, 3)
    _conv.conv_forward(x, cols, W, b, out, *geometry, n_threads, block_rows)
    np.testing.assert_allclose(out.reshape(A_ref.shape), A_ref, rtol=1e-12, atol=1e-12)
    if not pointwise:
        np.testing.assert_array_equal(cols, cols_ref)

    G = rng.normal(size=out.shape)
    G_ref = G.reshape(A_ref.shape) * (1 - A_ref ** 2)
    dx_ref = np.empty_like(x)
    _conv.col2im(G_ref @ W.T, dx_ref, k, k, stride, pad, pad, Ho, Wo)
    dW, db, dx = np.empty_like(W), np.empty_like(b), np.empty_like(x)
    _conv.conv_backward(x, out, G, cols, W, dW, db, dx, *geometry, n_threads, block_rows)
    np.testing.assert_allclose(G.reshape(G_ref.shape), G_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dW, cols_ref.T @ G_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(db, G_ref.sum(axis=0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ pooling
# (input (H, W, C), pool, stride, padding, output (Ho, Wo)): even and odd
# sides, overlapping windows, non-square windows, strips and sides shorter
# than the window
POOL_CASES = [
    ((6, 6, 3), 2, None, "valid", (3, 3)),
    ((6, 6, 3), 2, None, "same", (3, 3)),
    ((7, 7, 2), 2, None, "valid", (3, 3)),    # the default CNN's 7x7 maps on MNIST
    ((7, 7, 2), 2, None, "same", (4, 4)),
    ((7, 5, 2), 2, None, "valid", (3, 2)),
    ((7, 7, 2), 3, 2, "valid", (3, 3)),
    ((7, 7, 2), 3, 2, "same", (4, 4)),        # overhang on both sides
    ((9, 9, 1), 3, None, "valid", (3, 3)),
    ((5, 8, 4), (2, 3), None, "valid", (2, 3)),
    ((5, 8, 4), (2, 3), None, "same", (3, 4)),
    ((5, 5, 1), 4, None, "same", (2, 2)),     # 3 pixels of overhang: 1 on top, 2 below
    ((1, 5, 3), 2, None, "valid", (1, 2)),    # a strip: the estimator's tabular case
    ((1, 5, 3), 2, None, "same", (1, 3)),
    ((3, 1, 2), 2, None, "valid", (1, 1)),
    ((3, 1, 2), 2, None, "same", (2, 1)),
    ((1, 1, 4), 2, None, "valid", (1, 1)),
    ((1, 1, 4), 2, None, "same", (1, 1)),
    ((2, 6, 2), 3, 1, "valid", (1, 4)),       # shorter than an overlapping window
    ((2, 6, 2), 3, 1, "same", (2, 6)),
]


def pool_id(case):
    shape, p, s, padding, _ = case
    return f"{'x'.join(map(str, shape))}-p{p}-s{s}-{padding}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, p, stride, padding, out_hw", POOL_CASES,
                         ids=map(pool_id, POOL_CASES))
def test_maxpool_forward_matches_reference(shape, p, stride, padding, out_hw, dtype):
    layer = make_layer(MaxPool2D(p, stride, padding), shape, dtype)
    assert layer.output_shape == out_hw + shape[2:]
    X = np.random.default_rng(6).normal(size=(3,) + shape).astype(dtype)
    out = layer.forward(X, training=True)
    assert out.dtype == dtype
    # a maximum is exact: equal to the reference, not just close
    np.testing.assert_array_equal(out, maxpool_reference(X, layer.pool_size, layer.stride,
                                                         padding))


@pytest.mark.parametrize("shape, p, stride, padding, out_hw", POOL_CASES,
                         ids=map(pool_id, POOL_CASES))
def test_maxpool_backward_finite_differences(shape, p, stride, padding, out_hw):
    layer = make_layer(MaxPool2D(p, stride, padding), shape)
    rng = np.random.default_rng(6)
    X = rng.normal(size=(3,) + shape)  # continuous values: no ties
    R = rng.normal(size=(3,) + out_hw + shape[2:])

    def loss():
        return float(np.sum(R * layer.forward(X, training=True)))

    loss()
    dX = layer.backward(R.copy()).copy()
    np.testing.assert_allclose(dX, numerical_grad(loss, X), rtol=1e-6, atol=1e-8)
    # every output's gradient lands on one pixel of the image: none is lost in padding
    np.testing.assert_allclose(dX.sum(), R.sum(), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_maxpool_threads_are_bit_identical(padding, dtype):
    """A batch large enough for the kernels to share it (see _openmp.threads_for)."""
    X = np.random.default_rng(9).normal(size=(64, 9, 7, 8)).astype(dtype)
    results = []
    for n_threads in (1, 2):
        layer = make_layer(MaxPool2D(2, padding=padding), (9, 7, 8), dtype,
                           n_threads=n_threads)
        out = layer.forward(X, training=True).copy()
        G = np.random.default_rng(1).normal(size=out.shape).astype(dtype)
        results.append((out, layer.backward(G).copy()))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("out_hw, pool, stride, pads", [
    ((4, 3), 2, 2, (0, 0)),    # the 4th row of windows starts at row 6 of a 5-row image
    ((3, 4), 2, 2, (0, 0)),
    ((3, 3), 2, 2, (2, 0)),    # padding as large as the window: the first is all padding
    ((3, 3), 2, 2, (0, -1)),
    ((3, 3), 0, 2, (0, 0)),
])
def test_maxpool_kernel_rejects_windows_outside_the_image(out_hw, pool, stride, pads):
    x = np.zeros((2, 5, 5, 3))
    out = np.zeros((2,) + out_hw + (3,))
    with pytest.raises(ValueError, match="do not all cover a pixel of the 5x5 image"):
        _pool.maxpool_forward(x, out, np.zeros(out.shape, np.int32), pool, pool, stride,
                              *pads)


def test_maxpool_ties_go_to_the_first_entry():
    layer = make_layer(MaxPool2D(2), (2, 2, 1))
    X = np.zeros((1, 2, 2, 1))
    layer.forward(X, training=True)
    dX = layer.backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(dX[0, :, :, 0], [[1, 0], [0, 0]])


def test_flatten_is_a_view():
    layer = make_layer(Flatten(), (3, 4, 5))
    X = np.arange(2 * 60.0).reshape(2, 3, 4, 5)
    out = layer.forward(X)
    assert out.shape == (2, 60) and np.shares_memory(out, X)
    assert layer.backward(out).shape == X.shape


# ------------------------------------------------------------------ precision and threads
def small_stack(dtype, n_threads):
    layers = [make_layer(Conv2D(6, 3, padding="same"), (9, 9, 2), dtype, 0, n_threads)]
    layers.append(make_layer(MaxPool2D(2), (9, 9, 6), dtype, 0, n_threads))
    layers.append(make_layer(Conv2D(5, 2, stride=1), (4, 4, 6), dtype, 1, n_threads))
    return layers


def run_stack(layers, X, G_seed=0):
    out = X
    for layer in layers:
        out = layer.forward(out, training=True)
    grad = np.random.default_rng(G_seed).normal(size=out.shape).astype(out.dtype)
    result = [out.copy()]
    for layer in reversed(layers):
        grad = layer.backward(grad)
        if layer.param_shapes:
            result += [layer.grads["W"].copy(), layer.grads["b"].copy()]
    return result + [grad.copy()]


def test_float32_matches_float64():
    X = np.random.default_rng(7).normal(size=(8, 9, 9, 2))
    r64 = run_stack(small_stack(np.float64, 1), X)
    r32 = run_stack(small_stack(np.float32, 1), X.astype(np.float32))
    for a, b in zip(r32, r64):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threads_agree(dtype):
    X = np.random.default_rng(8).normal(size=(40, 9, 9, 2)).astype(dtype)
    r1 = run_stack(small_stack(dtype, 1), X)
    r2 = run_stack(small_stack(dtype, 2), X)
    r2b = run_stack(small_stack(dtype, 2), X)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for a, b, c in zip(r1, r2, r2b):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
        np.testing.assert_array_equal(b, c)  # same threads: bit-identical


def test_layers_pickle_without_scratch_buffers():
    layer = make_layer(Conv2D(4, 3), (6, 6, 2))
    layer.forward(np.zeros((2, 6, 6, 2)), training=True)
    assert layer._buffers.nbytes > 0
    state = pickle.loads(pickle.dumps(layer)).__dict__
    assert state["_buffers"].nbytes == 0
    assert not {"_input", "_cols", "_output"} & set(state)


def test_layer_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"conv_x: a 3x3 kernel .* 2x2 image"):
        Conv2D(4, 3, name="conv_x").build((2, 2, 1), np.float32)
    with pytest.raises(ValueError, match=r"pool_y: padding must be 'valid' or 'same'"):
        MaxPool2D(2, padding="full", name="pool_y")
    with pytest.raises(ValueError, match="padding"):
        Conv2D(4, 3, padding="full")
    with pytest.raises(ValueError, match="kernel_size"):
        Conv2D(4, 0)

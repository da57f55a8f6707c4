"""Kernels of a 2D convolution layer on NHWC images: im2col, one GEMM, col2im.

Layout
------
Images are stored NHWC: ``x[i, y, x, c]`` (sample, row, column, channel),
channels innermost, C-contiguous. We chose it over NCHW (PyTorch's) because
it makes the convolution one matrix product with no transposes:

* ``im2col`` copies, for every output pixel ``(i, oy, ox)``, the
  ``kh x kw x C`` patch of the input it looks at into one row of ::

      cols[(i * Ho + oy) * Wo + ox, (ky * kw + kx) * C + c]
          = x[i, oy * stride - pad_top + ky, ox * stride - pad_left + kx, c]

  (zero where the patch hangs over the padded border). In NHWC the ``kw * C``
  values of one patch row are *contiguous* in ``x`` and in ``cols``, so a row
  of ``cols`` is ``kh`` block copies.

* With the weights stored as ``W[(ky * kw + kx) * C + c, f]`` -- shape
  ``(kh * kw * C, F)`` -- the whole batch's convolution is ONE GEMM::

      Z = cols @ W          # (n * Ho * Wo, F)
      A = f(Z + b)          # the dense layer's bias + activation, in place

  and ``Z`` *is* the NHWC output ``(n, Ho, Wo, F)``: no reshuffle needed.

Backward, given ``G = dL/dA`` of shape ``(n * Ho * Wo, F)``::

    G    <- G * f'(A)         # now dL/dZ
    db    = G.sum(axis=0)
    dW    = cols.T @ G        # (kh * kw * C, F): each patch times its gradient
    dcols = G @ W.T           # (n * Ho * Wo, kh * kw * C)
    dX    = col2im(dcols)     # scatter-add every patch back where it came from

``col2im`` is the adjoint of ``im2col``: where im2col *reads* ``x[i, y, x, c]``
into several rows (overlapping patches), col2im *adds* those rows' entries
back into ``dx[i, y, x, c]``. Sample ``i`` only touches image ``i``, so the
batch can be split among threads with no two writing the same memory.

How the work is run
-------------------
:func:`im2col` and :func:`col2im` are the two steps on their own, a
``prange`` over the batch; they are what the tests check and what you should
read first. The layer calls :func:`conv_forward` and :func:`conv_backward`,
which do *exactly the equations above*, in the same order, but cut the rows
of ``cols``/``Z``/``G`` into blocks of a few samples and run every step on a
block while it is still in its core's cache (one single-threaded BLAS call
per block and step). Done one step at a time over the whole batch, each step
would stream the full ``cols`` and ``Z`` matrices (``n * Ho * Wo`` rows each:
tens of megabytes for a real network's first layers) through memory again,
and that traffic costs more than the arithmetic between GEMMs.

The blocks go to whichever thread is free (OpenMP's dynamic schedule): a
thread slowed by the rest of the machine does fewer, instead of keeping the
others waiting at the end of the loop. The sums over the batch (``dW``,
``db``) are accumulated per part of the batch (a few blocks; a few parts per
thread) and added in part order, so the result depends only on the number of
threads, not on which thread did which part.

Everything is fused float32/float64 (``floating``).
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memcpy, memset

import numpy as np

from ._gemm cimport gemm
from ._layer_rows cimport activation_backward_sum_rows, add_row, bias_activation_rows
from ._openmp cimport PARTS_PER_THREAD, threads_for


cdef struct Geometry:
    # input image, output image, kernel, stride and top/left zero padding
    Py_ssize_t H, W, C, Ho, Wo, kh, kw, stride, pad_top, pad_left


cdef Geometry _geometry(Py_ssize_t H, Py_ssize_t W, Py_ssize_t C, Py_ssize_t Ho,
                        Py_ssize_t Wo, int kh, int kw, int stride, int pad_top,
                        int pad_left):
    cdef Geometry g
    g.H, g.W, g.C, g.Ho, g.Wo = H, W, C, Ho, Wo
    g.kh, g.kw, g.stride, g.pad_top, g.pad_left = kh, kw, stride, pad_top, pad_left
    return g


def conv_output_size(int size, int kernel, int stride, int pad_total):
    """Output length along one axis: ``(size + pad_total - kernel) // stride + 1``."""
    return (size + pad_total - kernel) // stride + 1


# ---------------------------------------------------------------- one image
cdef void _im2col_image(const floating *x, floating *cols, Geometry g) noexcept nogil:
    """The ``Ho * Wo`` rows of ``cols`` of one image ``x`` (H, W, C)."""
    cdef Py_ssize_t oy, ox, ky, y, x0, lo, hi
    cdef Py_ssize_t C = g.C, kw = g.kw, K = g.kh * g.kw * g.C
    cdef floating *dst
    for oy in range(g.Ho):
        for ox in range(g.Wo):
            x0 = ox * g.stride - g.pad_left       # leftmost input column of the patch
            # the patch columns kx in [lo, hi) fall inside the image
            lo = -x0 if x0 < 0 else 0
            hi = g.W - x0 if x0 + kw > g.W else kw
            for ky in range(g.kh):
                y = oy * g.stride - g.pad_top + ky
                dst = cols + (oy * g.Wo + ox) * K + ky * kw * C
                if y < 0 or y >= g.H or lo >= hi:
                    memset(dst, 0, kw * C * sizeof(floating))
                    continue
                if lo > 0:
                    memset(dst, 0, lo * C * sizeof(floating))
                # the in-image part of this patch row: (hi - lo) * C contiguous values
                memcpy(dst + lo * C, x + (y * g.W + x0 + lo) * C,
                       (hi - lo) * C * sizeof(floating))
                if hi < kw:
                    memset(dst + hi * C, 0, (kw - hi) * C * sizeof(floating))


cdef void _col2im_image(const floating *dcols, floating *dx, Geometry g) noexcept nogil:
    """``dx = 0``, then add each of the ``Ho * Wo`` rows of ``dcols`` onto its patch."""
    cdef Py_ssize_t oy, ox, ky, y, x0, lo, hi, j, m
    cdef Py_ssize_t C = g.C, kw = g.kw, K = g.kh * g.kw * g.C
    cdef const floating *src
    cdef floating *dst
    memset(dx, 0, g.H * g.W * C * sizeof(floating))
    for oy in range(g.Ho):
        for ox in range(g.Wo):
            x0 = ox * g.stride - g.pad_left
            lo = -x0 if x0 < 0 else 0
            hi = g.W - x0 if x0 + kw > g.W else kw
            m = (hi - lo) * C
            for ky in range(g.kh):
                y = oy * g.stride - g.pad_top + ky
                if y < 0 or y >= g.H or m <= 0:
                    continue  # gradient on the zero padding: dropped
                src = dcols + (oy * g.Wo + ox) * K + (ky * kw + lo) * C
                dst = dx + (y * g.W + x0 + lo) * C
                for j in range(m):
                    dst[j] += src[j]


cdef _check_cols(Py_ssize_t n, Geometry g, Py_ssize_t rows, Py_ssize_t ncols, str name):
    if rows != n * g.Ho * g.Wo or ncols != g.kh * g.kw * g.C:
        raise ValueError(
            f"{name}: the column matrix is ({rows}, {ncols}), expected "
            f"({n * g.Ho * g.Wo}, {g.kh * g.kw * g.C}) for {n} images, a {g.kh}x{g.kw} "
            f"kernel over {g.C} channels and a {g.Ho}x{g.Wo} output")


def im2col(const floating[:, :, :, ::1] x, floating[:, ::1] cols,
           int kh, int kw, int stride, int pad_top, int pad_left,
           int out_h, int out_w, int n_threads=1):
    """Fill ``cols`` (n * Ho * Wo, kh * kw * C) with the patches of ``x`` (n, H, W, C).

    ``(Ho, Wo) = (out_h, out_w)``, computed by the caller with
    :func:`conv_output_size`. Positions outside the image (the zero padding)
    give zeros.
    """
    cdef Py_ssize_t i, n = x.shape[0]
    cdef Geometry g = _geometry(x.shape[1], x.shape[2], x.shape[3], out_h, out_w,
                                kh, kw, stride, pad_top, pad_left)
    _check_cols(n, g, cols.shape[0], cols.shape[1], "im2col")
    cdef Py_ssize_t in_size = g.H * g.W * g.C, out_size = g.Ho * g.Wo * cols.shape[1]
    if n == 0 or out_size == 0:
        return
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n * out_size, n_threads)):
        _im2col_image(&x[0, 0, 0, 0] + i * in_size, &cols[0, 0] + i * out_size, g)


def col2im(const floating[:, ::1] dcols, floating[:, :, :, ::1] dx,
           int kh, int kw, int stride, int pad_top, int pad_left,
           int out_h, int out_w, int n_threads=1):
    """``dx = 0``, then scatter-add each row of ``dcols`` back onto its patch.

    The adjoint of :func:`im2col` (same arguments, roles swapped). Gradient
    entries that fall on the zero padding are dropped: the padding is a
    constant, it has no gradient.
    """
    cdef Py_ssize_t i, n = dx.shape[0]
    cdef Geometry g = _geometry(dx.shape[1], dx.shape[2], dx.shape[3], out_h, out_w,
                                kh, kw, stride, pad_top, pad_left)
    _check_cols(n, g, dcols.shape[0], dcols.shape[1], "col2im")
    cdef Py_ssize_t in_size = g.H * g.W * g.C, out_size = g.Ho * g.Wo * dcols.shape[1]
    if n == 0 or in_size == 0:
        return
    if out_size == 0:
        dx[...] = 0
        return
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n * out_size, n_threads)):
        _col2im_image(&dcols[0, 0] + i * out_size, &dx[0, 0, 0, 0] + i * in_size, g)


# ---------------------------------------------------------------- fused layer passes
# Each step of a block is a call to a small ``cdef`` function on raw
# pointers. Written inline in the ``prange`` body, the same loops do not
# vectorize: there the compiler must assume that every store may change the
# shared variables (memoryview shapes, data pointers) and reloads them at
# every element. The element-wise steps are the dense layer's
# (``_layer_rows.pxd``): a row of ``Z`` is the ``F`` channels of one output
# pixel, as a row of a dense layer's output is its units.
cdef Py_ssize_t _block_samples(Py_ssize_t rows_per_sample, int block_rows) noexcept nogil:
    """How many samples make a block of about ``block_rows`` rows (at least one)."""
    if rows_per_sample >= block_rows:
        return 1
    return block_rows // rows_per_sample


def conv_forward(const floating[:, :, :, ::1] x, floating[:, ::1] cols,
                 const floating[:, ::1] W, const floating[::1] b,
                 floating[:, :, :, ::1] out, int kh, int kw, int stride,
                 int pad_top, int pad_left, int activation, int n_threads=1,
                 int block_rows=512):
    """``out = f(im2col(x) @ W + b)``, block by block; ``cols`` keeps the patches.

    Parameters
    ----------
    x : (n, H, W, C) input images.
    cols : (n * Ho * Wo, kh * kw * C) buffer for the patches (read again by
        :func:`conv_backward`), or None for a 1x1 kernel with stride 1 and no
        padding: its patches *are* the pixels, ``x`` seen as ``(n * H * W, C)``,
        and nothing is copied.
    W : (kh * kw * C, F) weights; ``b`` : (F,) biases.
    out : (n, Ho, Wo, F) output buffer.
    activation : activation code (see the module docstring of ``_dense.pyx``).
    """
    cdef Py_ssize_t n = x.shape[0], F = W.shape[1], K = W.shape[0]
    cdef Geometry g = _geometry(x.shape[1], x.shape[2], x.shape[3], out.shape[1],
                                out.shape[2], kh, kw, stride, pad_top, pad_left)
    cdef bint pointwise = cols is None
    if pointwise:
        if kh != 1 or kw != 1 or g.Ho != g.H or g.Wo != g.W or stride != 1:
            raise ValueError("conv_forward: cols=None needs a 1x1 kernel, stride 1, no padding")
    else:
        _check_cols(n, g, cols.shape[0], cols.shape[1], "conv_forward")
    if K != g.kh * g.kw * g.C or out.shape[0] != n or out.shape[3] != F or b.shape[0] != F:
        raise ValueError("conv_forward: shapes do not agree")
    if n == 0 or F == 0 or g.Ho * g.Wo == 0:
        return
    # the patch matrix: our im2col buffer, or the input itself for a 1x1 kernel
    cdef const floating *patches
    patches = &x[0, 0, 0, 0] if pointwise else &cols[0, 0]
    cdef Py_ssize_t P = g.Ho * g.Wo, in_size = g.H * g.W * g.C
    cdef Py_ssize_t S = _block_samples(P, block_rows), n_blocks = (n + S - 1) // S
    # the threads (a single one when the work is small) take the blocks as
    # they become free: the blocks' outputs do not overlap
    cdef int T = <int>min(<Py_ssize_t>threads_for(n * P * K * F, n_threads), n_blocks)
    cdef Py_ssize_t blk, s0, s1, i, rows
    cdef floating *Z
    for blk in prange(n_blocks, nogil=True, schedule="dynamic", num_threads=T):
        s0 = blk * S
        s1 = min(s0 + S, n)
        rows = (s1 - s0) * P
        if not pointwise:               # 1. im2col
            for i in range(s0, s1):
                _im2col_image(&x[i, 0, 0, 0], &cols[i * P, 0], g)
        Z = &out[s0, 0, 0, 0]           # 2. Z = cols @ W
        gemm(False, False, <int>rows, <int>F, <int>K, <floating>1, patches + s0 * P * K,
             <int>K, &W[0, 0], <int>F, <floating>0, Z, <int>F)
        bias_activation_rows(Z, &b[0], rows, F, activation)  # 3. A = f(Z + b)


def conv_backward(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] out,
                  floating[:, :, :, ::1] grad, floating[:, ::1] cols,
                  const floating[:, ::1] W, floating[:, ::1] dW, floating[::1] db,
                  floating[:, :, :, ::1] dx, int kh, int kw, int stride, int pad_top,
                  int pad_left, int activation, int n_threads=1, int block_rows=2048):
    """The backward pass of :func:`conv_forward`, block by block.

    Parameters
    ----------
    x : (n, H, W, C) the forward input (read only for a 1x1 kernel: its patches).
    out : (n, Ho, Wo, F) the forward output ``A``.
    grad : (n, Ho, Wo, F) ``dL/dA``; overwritten with ``dL/dZ``.
    cols : the patches :func:`conv_forward` left, overwritten with ``dcols``;
        None for a 1x1 kernel with stride 1 and no padding (as in the forward).
    W : (K, F) weights. ``dW`` (K, F), ``db`` (F,): gradients, written.
    dx : (n, H, W, C) ``dL/dX``, written; or None to skip it (first layer).

    Notes
    -----
    The samples are cut into parts (a single one on one thread,
    ``PARTS_PER_THREAD`` per thread on several), each summing its own ``dW``
    and ``db``; the parts go to whichever thread is free, and their sums are
    added in part order, so the result depends on the number of threads only.
    """
    cdef Py_ssize_t n = out.shape[0], F = W.shape[1], K = W.shape[0]
    cdef bint need_dx = dx is not None, pointwise = cols is None
    cdef Geometry g = _geometry(x.shape[1], x.shape[2], x.shape[3], out.shape[1],
                                out.shape[2], kh, kw, stride, pad_top, pad_left)
    if pointwise:
        if kh != 1 or kw != 1 or g.Ho != g.H or g.Wo != g.W or stride != 1:
            raise ValueError("conv_backward: cols=None needs a 1x1 kernel, stride 1, no padding")
    else:
        _check_cols(n, g, cols.shape[0], cols.shape[1], "conv_backward")
    cdef Py_ssize_t P = g.Ho * g.Wo
    if (x.shape[0] != n or K != g.kh * g.kw * g.C or out.shape[3] != F
            or tuple(grad.shape) != tuple(out.shape) or dW.shape[0] != K
            or dW.shape[1] != F or db.shape[0] != F
            or (need_dx and tuple(dx.shape) != tuple(x.shape))):
        raise ValueError("conv_backward: shapes do not agree")
    dW[...] = 0
    db[...] = 0
    if n == 0 or P == 0 or F == 0:
        if need_dx:
            dx[...] = 0
        return
    dtype = np.float32 if floating is float else np.float64
    cdef Py_ssize_t S = _block_samples(P, block_rows), n_blocks = (n + S - 1) // S
    cdef int T = <int>min(<Py_ssize_t>threads_for(n * P * K * F, n_threads), n_blocks)
    cdef Py_ssize_t n_parts = 1 if T == 1 else min(n_blocks, PARTS_PER_THREAD * T)
    # a part's sums: its dW, then its db
    cdef floating[:, :, ::1] sums = np.empty((n_parts, K + 1, F), dtype)
    cdef Py_ssize_t in_size = g.H * g.W * g.C
    cdef Py_ssize_t part, i0, i1, s0, s1, i, r, u, rows
    cdef floating *G
    cdef floating *dst
    cdef floating beta
    cdef const floating *patches
    patches = &x[0, 0, 0, 0] if pointwise else &cols[0, 0]
    for part in prange(n_parts, nogil=True, schedule="dynamic", num_threads=T):
        memset(&sums[part, K, 0], 0, F * sizeof(floating))      # the part's db
        beta = 0                            # the first block overwrites the part's dW
        i0 = n * part // n_parts
        i1 = n * (part + 1) // n_parts
        s0 = i0
        while s0 < i1:
            s1 = min(s0 + S, i1)
            rows = (s1 - s0) * P
            G = &grad[s0, 0, 0, 0]
            # 1. G *= f'(A); db += column sums of G
            activation_backward_sum_rows(G, &out[s0, 0, 0, 0], rows, F, &sums[part, K, 0],
                                         activation)
            # 2. dW += cols.T @ G
            gemm(True, False, <int>K, <int>F, <int>rows, <floating>1, patches + s0 * P * K,
                 <int>K, G, <int>F, beta, &sums[part, 0, 0], <int>F)
            beta = 1
            if need_dx:
                if pointwise:               # 3'. dX = G @ W.T (the patches are X itself)
                    gemm(False, True, <int>rows, <int>K, <int>F, <floating>1, G, <int>F,
                         &W[0, 0], <int>F, <floating>0, &dx[s0, 0, 0, 0], <int>K)
                else:                       # 3. dcols = G @ W.T, over this block of cols
                    gemm(False, True, <int>rows, <int>K, <int>F, <floating>1, G, <int>F,
                         &W[0, 0], <int>F, <floating>0, &cols[s0 * P, 0], <int>K)
                    for i in range(s0, s1):  # 4. dX = col2im(dcols)
                        _col2im_image(&cols[i * P, 0], &dx[i, 0, 0, 0], g)
            s0 = s1
    # 5. add the parts' sums, in part order (row r < K of dW, row K: db)
    for r in prange(K + 1, nogil=True, schedule="static",
                    num_threads=threads_for((K + 1) * F * n_parts, n_threads)):
        dst = &dW[r, 0] if r < K else &db[0]
        for u in range(n_parts):
            add_row(dst, &sums[u, r, 0], F)

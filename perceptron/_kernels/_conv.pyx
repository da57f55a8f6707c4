"""Kernels of a 2D convolution layer: im2col and col2im, on NHWC images.

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
  values of one patch row are *contiguous* in ``x`` (and in ``cols``), so a
  row of ``cols`` is ``kh`` short block copies.

* With the weights stored as ``W[(ky * kw + kx) * C + c, f]`` -- shape
  ``(kh * kw * C, F)`` -- the whole batch's convolution is ONE GEMM::

      Z = cols @ W          # (n * Ho * Wo, F)

  and ``Z`` *is* the NHWC output ``(n, Ho, Wo, F)``: no reshuffle needed, and
  the bias + activation are the dense layer's fused kernel applied to it.

Backward, given ``G = dL/dZ`` of shape ``(n * Ho * Wo, F)``::

    dW    = cols.T @ G        # (kh * kw * C, F): each patch times its gradient
    db    = G.sum(axis=0)
    dcols = G @ W.T           # (n * Ho * Wo, kh * kw * C)
    dX    = col2im(dcols)     # scatter-add every patch back where it came from

``col2im`` is the adjoint of ``im2col``: where im2col *reads* ``x[i, y, x, c]``
into several rows (overlapping patches), col2im *adds* those rows' entries
back into ``dx[i, y, x, c]``. Both loop over the batch with ``prange``: sample
``i`` only touches image ``i``, so threads never write the same memory.

Everything is fused float32/float64 (``floating``).
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memcpy, memset

from ._gemm cimport gemm


def conv_output_size(int size, int kernel, int stride, int pad_total):
    """Output length along one axis: ``(size + pad_total - kernel) // stride + 1``."""
    return (size + pad_total - kernel) // stride + 1


def im2col(const floating[:, :, :, ::1] x, floating[:, ::1] cols,
           int kh, int kw, int stride, int pad_top, int pad_left,
           int out_h, int out_w, int n_threads=1):
    """Fill ``cols`` (n * Ho * Wo, kh * kw * C) with the patches of ``x`` (n, H, W, C).

    ``(Ho, Wo) = (out_h, out_w)``, computed by the caller with
    :func:`conv_output_size`. Positions outside the image (the zero padding)
    give zeros.
    """
    cdef Py_ssize_t n = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3]
    cdef Py_ssize_t Ho = out_h, Wo = out_w
    _check_cols(n, C, Ho, Wo, kh, kw, cols.shape[0], cols.shape[1], "im2col")
    cdef Py_ssize_t i, oy, ox, ky, y, x0, lo, hi, row
    cdef floating *dst
    cdef const floating *src
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        for oy in range(Ho):
            for ox in range(Wo):
                row = (i * Ho + oy) * Wo + ox
                x0 = ox * stride - pad_left        # leftmost input column of the patch
                # the patch columns kx in [lo, hi) fall inside the image
                lo = -x0 if x0 < 0 else 0
                hi = W - x0 if x0 + kw > W else kw
                for ky in range(kh):
                    y = oy * stride - pad_top + ky
                    dst = &cols[row, ky * kw * C]
                    if y < 0 or y >= H or lo >= hi:
                        memset(dst, 0, kw * C * sizeof(floating))
                        continue
                    if lo > 0:
                        memset(dst, 0, lo * C * sizeof(floating))
                    # the in-image part of this patch row: (hi - lo) * C contiguous values
                    src = &x[i, y, x0 + lo, 0]
                    memcpy(dst + lo * C, src, (hi - lo) * C * sizeof(floating))
                    if hi < kw:
                        memset(dst + hi * C, 0, (kw - hi) * C * sizeof(floating))


def col2im(const floating[:, ::1] dcols, floating[:, :, :, ::1] dx,
           int kh, int kw, int stride, int pad_top, int pad_left,
           int out_h, int out_w, int n_threads=1):
    """``dx = 0``, then scatter-add each row of ``dcols`` back onto its patch.

    The adjoint of :func:`im2col` (same arguments, roles swapped). Gradient
    entries that fall on the zero padding are dropped: the padding is a
    constant, it has no gradient.
    """
    cdef Py_ssize_t n = dx.shape[0], H = dx.shape[1], W = dx.shape[2], C = dx.shape[3]
    cdef Py_ssize_t Ho = out_h, Wo = out_w
    _check_cols(n, C, Ho, Wo, kh, kw, dcols.shape[0], dcols.shape[1], "col2im")
    cdef Py_ssize_t i, oy, ox, ky, y, x0, lo, hi, row, j, m
    cdef floating *dst
    cdef const floating *src
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        memset(&dx[i, 0, 0, 0], 0, H * W * C * sizeof(floating))
        for oy in range(Ho):
            for ox in range(Wo):
                row = (i * Ho + oy) * Wo + ox
                x0 = ox * stride - pad_left
                lo = -x0 if x0 < 0 else 0
                hi = W - x0 if x0 + kw > W else kw
                if lo >= hi:
                    continue
                m = (hi - lo) * C
                for ky in range(kh):
                    y = oy * stride - pad_top + ky
                    if y < 0 or y >= H:
                        continue
                    src = &dcols[row, (ky * kw + lo) * C]
                    dst = &dx[i, y, x0 + lo, 0]
                    for j in range(m):
                        dst[j] = dst[j] + src[j]


def weight_grad(const floating[:, ::1] cols, const floating[:, ::1] grad,
                floating[:, ::1] dW, floating[:, ::1] partial, int n_threads=1):
    """``dW = cols.T @ grad``, with the long summed axis split among threads.

    ``cols`` is ``(N, K)`` and ``grad`` ``(N, F)`` with ``N = n * Ho * Wo``
    large and ``K x F`` small (9 x 32 for a first 3x3 layer). Splitting the
    rows of ``dW`` among threads (what ``gemm_parallel`` does) leaves threads
    idle when ``K`` is small; here each thread ``t`` instead multiplies its
    own slice of the ``N`` rows into ``partial[t]`` and the slices are summed
    in thread order, so the result depends only on ``n_threads``.

    ``partial`` is scratch space of shape ``(n_threads * K, F)``.
    """
    cdef Py_ssize_t N = cols.shape[0], K = cols.shape[1], F = grad.shape[1]
    if grad.shape[0] != N or dW.shape[0] != K or dW.shape[1] != F:
        raise ValueError("weight_grad: shapes do not agree")
    cdef int T = n_threads
    if T > N // 64:
        T = <int>(N // 64)   # keep each slice worth a BLAS call
    if T <= 1:
        with nogil:
            gemm(True, False, <int>K, <int>F, <int>N, <floating>1, &cols[0, 0], <int>K,
                 &grad[0, 0], <int>F, <floating>0, &dW[0, 0], <int>F)
        return
    if partial.shape[0] < (T - 1) * K or partial.shape[1] != F:
        raise ValueError("weight_grad: partial is too small")
    cdef int t
    cdef Py_ssize_t r0, r1, k, f
    cdef floating *out
    for t in prange(T, nogil=True, schedule="static", num_threads=T):
        r0 = N * t // T
        r1 = N * (t + 1) // T
        # thread 0 writes straight into dW, the others into their scratch block
        out = &dW[0, 0] if t == 0 else &partial[(t - 1) * K, 0]
        gemm(True, False, <int>K, <int>F, <int>(r1 - r0), <floating>1,
             &cols[r0, 0], <int>K, &grad[r0, 0], <int>F, <floating>0, out, <int>F)
    for t in range(1, T):
        for k in prange(K, nogil=True, schedule="static", num_threads=n_threads):
            for f in range(F):
                dW[k, f] = dW[k, f] + partial[(t - 1) * K + k, f]


cdef _check_cols(Py_ssize_t n, Py_ssize_t C, Py_ssize_t Ho, Py_ssize_t Wo, int kh, int kw,
                 Py_ssize_t rows, Py_ssize_t ncols, str name):
    if rows != n * Ho * Wo or ncols != kh * kw * C:
        raise ValueError(
            f"{name}: the column matrix is ({rows}, {ncols}), expected "
            f"({n * Ho * Wo}, {kh * kw * C}) for {n} images, a {kh}x{kw} kernel over "
            f"{C} channels and a {Ho}x{Wo} output")

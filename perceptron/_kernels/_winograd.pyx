"""Winograd's minimal filtering for 3x3, stride-1 convolutions on NHWC images.

The im2col kernels (``_conv.pyx``) spend 9 multiply-adds per output pixel,
input channel and filter. Winograd's algorithm (Lavin & Gray, *Fast
Algorithms for Convolutional Neural Networks*, 2016) computes an ``m x m``
tile of outputs with ``(m + 2)**2`` of them: 16 instead of 36 for
``F(2x2, 3x3)`` (m = 2), 36 instead of 144 for ``F(4x4, 3x3)`` (m = 4). The
multiply-adds that remain are still GEMMs; what changes is the data they are
fed, which small linear transforms (additions and a few scalings) prepare.

One dimension: F(m, 3)
----------------------
``m`` outputs of a 3-tap filter ``g`` slid over ``a = m + 2`` inputs ``d``,
``y[u] = sum_k d[u + k] g[k]``, are a polynomial product in disguise, and
evaluating that product at ``a`` points, multiplying pointwise and
interpolating back gives (Toom-Cook)::

    y = A^T [ (G g) * (B^T d) ]          * : element-wise, a products

For m = 2 (points 0, 1, -1 and infinity)::

          [1  0 -1  0]          [ 1    0    0 ]
    B^T = [0  1  1  0]     G =  [1/2  1/2  1/2]     A^T = [1  1  1  0]
          [0 -1  1  0]          [1/2 -1/2  1/2]           [0  1 -1 -1]
          [0  1  0 -1]          [ 0    0    1 ]

and m = 4 uses the points 0, +-1, +-2 and infinity (6x6, 6x3 and 4x6
matrices: :data:`TRANSFORMS`). ``G g`` depends only on the weights and
``B^T d`` only on the input: only the ``a`` products touch both.

Two dimensions and channels
---------------------------
Nesting the 1D algorithm along rows and columns gives an ``m x m`` output
tile from an ``a x a`` input tile ``d`` (tiles overlap by 2 pixels)::

    Y = A^T [ (G g G^T) * (B^T d B) ] A

With ``C`` input channels and ``F`` filters the sum over channels moves
inside the brackets, because the transforms are linear. Number the tiles of
a batch ``p = 0, 1, ...``; then for each of the ``a * a`` positions
``(xi, nu)`` of the transformed tiles::

    U[xi, nu]    = (G g G^T)[xi, nu]     (C, F)   the transformed filters
    V[xi, nu]    = (B^T d B)[xi, nu]     (P, C)   one row per tile
    M[xi, nu]    = V[xi, nu] @ U[xi, nu] (P, F)   ONE GEMM per position
    Y[tile p]    = A^T M[., ., p] A      (m, m, F)
    out          = f(Y + b)              the bias and activation, fused

so a batch is ``a * a`` GEMMs of ``(P, C) @ (C, F)`` between an input
transform and an output transform, done tile by tile. In NHWC each pixel of a
tile is a contiguous vector of ``C`` channels, so every transform is: each
output vector is a combination, with the matrix's coefficients, of a few input
vectors -- :func:`_combine`, a loop over channels that the compiler
vectorises. Zero padding needs no copy: pixels outside the image are zeros,
so their terms are simply left out, and outputs outside the image are not
written.

Backward
--------
Written as matrix products, the forward pass is linear in both ``d`` and
``g``; its gradients are the same products transposed, in reverse order.
Given ``G_out = dL/dA`` (the layer's output gradient)::

    G_out      <- G_out * f'(A)                  now dL/dY (= dL/dZ)
    db          = sum of G_out over pixels
    dM[tile]    = A G_out[tile] A^T             (a, a, F) per tile
    dU[xi, nu]  = V[xi, nu]^T @ dM[xi, nu]      (C, F) summed over the batch
    dW          = G^T dU G                      (3, 3, C, F)
    dV[xi, nu]  = dM[xi, nu] @ U[xi, nu]^T      (P, C)
    dX[tile]   += B dV[tile] B^T                overlapping tiles add up

``V`` is recomputed from ``X`` in the backward pass rather than kept: its
input transform is cheap, and keeping it would cost ``a**2 / m**2`` times the
input's memory (4x for m = 2, 2.25x for m = 4) for the whole batch.

Float32
-------
The transforms round: with m = 4 the coefficients go up to 8 (``A^T``) and
down to 1/24 (``G``), so float32 results differ from an exact convolution by
more than im2col's do; ``tests/test_winograd.py`` measures it against float64
(relative to the output's scale, about 1e-6 for m = 2 and 2e-6 for m = 4,
against 3e-7 for im2col) and training accuracy is unchanged.

How the work is run
-------------------
As in ``_conv.pyx``, thread ``t`` takes the samples ``[n t / T, n (t + 1) / T)``
and, block after block of a few samples (about ``block_tiles`` tiles), runs
every step on that block while it is in its core's cache, with one
single-threaded BLAS call per position ``(xi, nu)``. The per-thread buffers
(``V``, ``M`` and a tile's scratch) are allocated per call and bounded by the
block size, not by the batch: nothing batch-sized is kept between the
forward and the backward pass. The sums over the batch (``dU``, ``db``) are
kept per thread and added in thread order, so the result depends only on the
number of threads. Everything is fused float32/float64 (``floating``).
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memset

import numpy as np

from ._gemm cimport gemm
from ._activations cimport activate as _activate, derivative as _derivative
from ._openmp cimport threads_for


#: ``m -> (B^T, G, A^T)`` of F(m x m, 3 x 3), Lavin & Gray (2016): ``(a, a)``,
#: ``(a, 3)`` and ``(m, a)`` with ``a = m + 2``. (``1.0 / 6``, not ``1 / 6``: under
#: the ``cdivision`` directive Cython folds ``1 / 6`` to C's integer division, 0.)
TRANSFORMS = {
    2: ([[1, 0, -1, 0],
         [0, 1, 1, 0],
         [0, -1, 1, 0],
         [0, 1, 0, -1]],
        [[1, 0, 0],
         [1.0 / 2, 1.0 / 2, 1.0 / 2],
         [1.0 / 2, -1.0 / 2, 1.0 / 2],
         [0, 0, 1]],
        [[1, 1, 1, 0],
         [0, 1, -1, -1]]),
    4: ([[4, 0, -5, 0, 1, 0],
         [0, -4, -4, 1, 1, 0],
         [0, 4, -4, -1, 1, 0],
         [0, -2, -1, 2, 1, 0],
         [0, 2, -1, -2, 1, 0],
         [0, 4, 0, -5, 0, 1]],
        [[1.0 / 4, 0, 0],
         [-1.0 / 6, -1.0 / 6, -1.0 / 6],
         [-1.0 / 6, 1.0 / 6, -1.0 / 6],
         [1.0 / 24, 1.0 / 12, 1.0 / 6],
         [1.0 / 24, -1.0 / 12, 1.0 / 6],
         [0, 0, 1]],
        [[1, 1, 1, 1, 1, 0],
         [0, 1, -1, 2, -2, 0],
         [0, 1, 1, 4, 4, 0],
         [0, 1, -1, 8, -8, 1]]),
}


def transforms(int m):
    """``(B^T, G, A^T)`` of F(m x m, 3 x 3) as float64 NumPy arrays (m = 2 or 4)."""
    if m not in TRANSFORMS:
        raise ValueError(f"Winograd tiles: m must be 2 or 4, got {m}")
    return tuple(np.array(t, dtype=np.float64) for t in TRANSFORMS[m])


# The same matrices as C arrays, row-major, filled once at import.
cdef double _BT2[16]
cdef double _G2[12]
cdef double _AT2[8]
cdef double _BT4[36]
cdef double _G4[18]
cdef double _AT4[24]


cdef void _fill(double *dst, rows):
    cdef Py_ssize_t j = 0
    for row in rows:
        for v in row:
            dst[j] = v
            j += 1


_fill(_BT2, TRANSFORMS[2][0])
_fill(_G2, TRANSFORMS[2][1])
_fill(_AT2, TRANSFORMS[2][2])
_fill(_BT4, TRANSFORMS[4][0])
_fill(_G4, TRANSFORMS[4][1])
_fill(_AT4, TRANSFORMS[4][2])


cdef struct Plan:
    # tiles: m x m outputs from a x a inputs (a = m + 2), and their transforms
    int m, a
    const double *BT       # (a, a)
    const double *G        # (a, 3)
    const double *AT       # (m, a)
    # input (H, W, C), output (Ho, Wo, F), zero padding at the top and left
    Py_ssize_t H, W, C, Ho, Wo, F, pad_top, pad_left
    # tiles per row and column of an output image
    Py_ssize_t tiles_h, tiles_w


cdef Plan _plan(int m, Py_ssize_t H, Py_ssize_t W, Py_ssize_t C, Py_ssize_t Ho,
                Py_ssize_t Wo, Py_ssize_t F, int pad_top, int pad_left):
    cdef Plan p
    if m == 2:
        p.BT = _BT2
        p.G = _G2
        p.AT = _AT2
    else:
        p.BT = _BT4
        p.G = _G4
        p.AT = _AT4
    p.m, p.a = m, m + 2
    p.H, p.W, p.C, p.Ho, p.Wo, p.F = H, W, C, Ho, Wo, F
    p.pad_top, p.pad_left = pad_top, pad_left
    p.tiles_h, p.tiles_w = (Ho + m - 1) // m, (Wo + m - 1) // m
    return p


# ---------------------------------------------------------------- the one loop
cdef void _combine(floating *dst, Py_ssize_t n, const double *coef, Py_ssize_t coef_step,
                   const floating *src, Py_ssize_t src_step, Py_ssize_t count,
                   bint accumulate) noexcept nogil:
    """``dst[:n] (+)= sum_k coef[k * coef_step] * src[k * src_step : + n]``, k < count.

    Every transform below is made of this: one output vector (of channels or
    filters) as a combination of ``count`` input vectors, with the
    coefficients of one row or column of a transform matrix. Zero
    coefficients are skipped; with none left, ``dst`` is set to zero (or
    left alone when accumulating).
    """
    cdef Py_ssize_t k, j
    cdef floating w
    cdef const floating *s
    cdef bint first = not accumulate
    for k in range(count):
        w = <floating>coef[k * coef_step]
        if w == 0:
            continue
        s = src + k * src_step
        if first:
            for j in range(n):
                dst[j] = w * s[j]
            first = False
        else:
            for j in range(n):
                dst[j] += w * s[j]
    if first:
        memset(dst, 0, n * sizeof(floating))


# ---------------------------------------------------------------- one tile
cdef void _input_tile(const floating *img, Plan p, Py_ssize_t ty, Py_ssize_t tx,
                      floating *V, Py_ssize_t step, floating *tmp) noexcept nogil:
    """``V[xi, nu] = (B^T d B)[xi, nu]`` for the input tile ``d`` of output tile (ty, tx).

    ``img`` is one (H, W, C) image; ``V[xi, nu]`` (C values) is written at
    ``V + (xi * a + nu) * step``. ``tmp`` holds ``a * a * C`` values.
    """
    cdef Py_ssize_t a = p.a, C = p.C, xi, nu, x
    cdef Py_ssize_t y0 = ty * p.m - p.pad_top, x0 = tx * p.m - p.pad_left
    # the rows [ylo, yhi) and columns [xlo, xhi) of the tile inside the image
    cdef Py_ssize_t ylo = max(-y0, 0), yhi = min(p.H - y0, a)
    cdef Py_ssize_t xlo = max(-x0, 0), xhi = min(p.W - x0, a)
    if yhi <= ylo:
        ylo = yhi = 0
    # tmp[xi, x] = sum_y B^T[xi, y] d[y, x]: columns of the tile
    for xi in range(a):
        for x in range(xlo, xhi):
            _combine(tmp + (xi * a + x) * C, C, p.BT + xi * a + ylo, 1,
                     img + ((y0 + ylo) * p.W + x0 + x) * C, p.W * C, yhi - ylo, False)
    # V[xi, nu] = sum_x tmp[xi, x] B[x, nu] = sum_x B^T[nu, x] tmp[xi, x]: rows
    for xi in range(a):
        for nu in range(a):
            _combine(V + (xi * a + nu) * step, C, p.BT + nu * a + xlo, 1,
                     tmp + (xi * a + xlo) * C, C, xhi - xlo, False)


cdef void _input_tile_adjoint(const floating *dV, Py_ssize_t step, Plan p, Py_ssize_t ty,
                              Py_ssize_t tx, floating *dimg, floating *tmp) noexcept nogil:
    """``dX[tile] += B dV B^T``: the transpose of :func:`_input_tile`, added into ``dimg``.

    Entries that fall on the zero padding are dropped.
    """
    cdef Py_ssize_t a = p.a, C = p.C, xi, x, y
    cdef Py_ssize_t y0 = ty * p.m - p.pad_top, x0 = tx * p.m - p.pad_left
    cdef Py_ssize_t ylo = max(-y0, 0), yhi = min(p.H - y0, a)
    cdef Py_ssize_t xlo = max(-x0, 0), xhi = min(p.W - x0, a)
    # tmp[xi, x] = sum_nu dV[xi, nu] B^T[nu, x]
    for xi in range(a):
        for x in range(xlo, xhi):
            _combine(tmp + (xi * a + x) * C, C, p.BT + x, a, dV + xi * a * step, step, a,
                     False)
    # dX[y, x] += sum_xi B^T[xi, y] tmp[xi, x]
    for y in range(ylo, yhi):
        for x in range(xlo, xhi):
            _combine(dimg + ((y0 + y) * p.W + x0 + x) * C, C, p.BT + y, a,
                     tmp + x * C, a * C, a, True)


cdef void _output_tile(const floating *M, Py_ssize_t step, Plan p, Py_ssize_t ty,
                       Py_ssize_t tx, const floating *b, int activation,
                       floating *out, floating *tmp) noexcept nogil:
    """``out[tile] = f(A^T M A + b)`` for the pixels of output tile (ty, tx) in the image.

    ``M[xi, nu]`` (F values) is at ``M + (xi * a + nu) * step``; ``out`` is one
    (Ho, Wo, F) image. ``tmp`` holds ``m * a * F`` values.
    """
    cdef Py_ssize_t a = p.a, F = p.F, u, v, nu
    cdef Py_ssize_t oy = ty * p.m, ox = tx * p.m
    cdef Py_ssize_t uhi = min(p.Ho - oy, p.m), vhi = min(p.Wo - ox, p.m)
    cdef floating *dst
    # tmp[u, nu] = sum_xi A^T[u, xi] M[xi, nu]
    for u in range(uhi):
        for nu in range(a):
            _combine(tmp + (u * a + nu) * F, F, p.AT + u * a, 1, M + nu * step, a * step, a,
                     False)
    # Y[u, v] = sum_nu tmp[u, nu] A^T[v, nu], then f(Y + b)
    for u in range(uhi):
        for v in range(vhi):
            dst = out + ((oy + u) * p.Wo + ox + v) * F
            _combine(dst, F, p.AT + v * a, 1, tmp + u * a * F, F, a, False)
            _bias_activation(dst, b, F, activation)


cdef void _output_tile_adjoint(const floating *G, Plan p, Py_ssize_t ty, Py_ssize_t tx,
                               floating *dM, Py_ssize_t step, floating *tmp) noexcept nogil:
    """``dM = A G[tile] A^T``: the transpose of :func:`_output_tile` (before ``f``).

    ``G`` is one (Ho, Wo, F) image of ``dL/dZ``; pixels of the tile outside
    it count as zeros (they were never written).
    """
    cdef Py_ssize_t a = p.a, F = p.F, u, xi, nu
    cdef Py_ssize_t oy = ty * p.m, ox = tx * p.m
    cdef Py_ssize_t uhi = min(p.Ho - oy, p.m), vhi = min(p.Wo - ox, p.m)
    # tmp[u, nu] = sum_v G[u, v] A^T[v, nu]
    for u in range(uhi):
        for nu in range(a):
            _combine(tmp + (u * a + nu) * F, F, p.AT + nu, a,
                     G + ((oy + u) * p.Wo + ox) * F, F, vhi, False)
    # dM[xi, nu] = sum_u A^T[u, xi] tmp[u, nu]
    for xi in range(a):
        for nu in range(a):
            _combine(dM + (xi * a + nu) * step, F, p.AT + xi, a, tmp + nu * F, a * F, uhi,
                     False)


# ---------------------------------------------------------------- bias and activation
# Private copies of ``_conv.pyx``'s loops (to be replaced by the shared row
# helpers once those are regrouped).
cdef void _bias_activation(floating *z, const floating *b, Py_ssize_t F,
                           int activation) noexcept nogil:
    """``z[f] = f(z[f] + b[f])`` for one pixel."""
    cdef Py_ssize_t f
    cdef floating v
    if activation == 1:  # relu, spelled out so that it vectorises
        for f in range(F):
            v = z[f] + b[f]
            z[f] = v if v > 0 else 0
        return
    for f in range(F):
        z[f] = _activate(z[f] + b[f], activation)


cdef void _activation_grad_bias_sum(floating *G, const floating *A, Py_ssize_t rows,
                                    Py_ssize_t F, floating *db, int activation) noexcept nogil:
    """``G[r, f] *= f'(A[r, f])`` and ``db[f] += sum_r G[r, f]`` on a block of rows."""
    cdef Py_ssize_t r, f
    cdef floating g
    if activation == 1:
        for r in range(rows):
            for f in range(F):
                g = G[r * F + f] if A[r * F + f] > 0 else 0
                G[r * F + f] = g
                db[f] += g
        return
    for r in range(rows):
        for f in range(F):
            g = G[r * F + f] * _derivative(A[r * F + f], activation)
            G[r * F + f] = g
            db[f] += g


# ---------------------------------------------------------------- filters
cdef void _filter_transform(const floating *W, floating *U, Plan p, Py_ssize_t j0,
                            Py_ssize_t j1, floating *tmp) noexcept nogil:
    """``U[xi, nu] = (G g G^T)[xi, nu]`` on the columns ``[j0, j1)`` of the (C * F) matrices.

    ``W`` is the layer's ``(9 * C, F)`` weight matrix, i.e. ``g[ky, kx]`` is
    the (C, F) matrix at ``W + (ky * 3 + kx) * C * F``; ``U`` is (a * a, C, F).
    ``tmp`` holds ``3 * a * (j1 - j0)`` values.
    """
    cdef Py_ssize_t a = p.a, CF = p.C * p.F, n = j1 - j0, xi, nu, kx
    # tmp[xi, kx] = sum_ky G[xi, ky] g[ky, kx]
    for xi in range(a):
        for kx in range(3):
            _combine(tmp + (xi * 3 + kx) * n, n, p.G + xi * 3, 1, W + kx * CF + j0, 3 * CF,
                     3, False)
    # U[xi, nu] = sum_kx tmp[xi, kx] G^T[kx, nu]
    for xi in range(a):
        for nu in range(a):
            _combine(U + (xi * a + nu) * CF + j0, n, p.G + nu * 3, 1, tmp + xi * 3 * n, n,
                     3, False)


cdef void _filter_transform_adjoint(const floating *dU, floating *dW, Plan p, Py_ssize_t j0,
                                    Py_ssize_t j1, floating *tmp) noexcept nogil:
    """``dW = G^T dU G`` on the columns ``[j0, j1)``: the transpose of :func:`_filter_transform`."""
    cdef Py_ssize_t a = p.a, CF = p.C * p.F, n = j1 - j0, ky, kx, nu
    # tmp[ky, nu] = sum_xi G^T[ky, xi] dU[xi, nu]
    for ky in range(3):
        for nu in range(a):
            _combine(tmp + (ky * a + nu) * n, n, p.G + ky, 3, dU + nu * CF + j0, a * CF, a,
                     False)
    # dW[ky, kx] = sum_nu tmp[ky, nu] G[nu, kx]
    for ky in range(3):
        for kx in range(3):
            _combine(dW + (ky * 3 + kx) * CF + j0, n, p.G + kx, 3, tmp + ky * a * n, n, a,
                     False)


cdef void _filters(const floating *W, floating *U, Plan p, floating *work,
                   int T) noexcept nogil:
    """:func:`_filter_transform` of all columns, shared among ``T`` threads."""
    cdef Py_ssize_t CF = p.C * p.F, j0, j1
    cdef int t
    for t in prange(T, schedule="static", num_threads=T):
        j0 = CF * t // T
        j1 = CF * (t + 1) // T
        _filter_transform(W, U, p, j0, j1, work + 3 * p.a * j0)



cdef void _add_into(floating *dst, const floating *src, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(n):
        dst[j] += src[j]


# ---------------------------------------------------------------- one block of samples
cdef void _forward_block(const floating *x, const floating *U, const floating *b,
                         floating *out, Plan p, Py_ssize_t s0, Py_ssize_t s1,
                         int activation, floating *V, floating *M,
                         floating *tmp) noexcept nogil:
    """The forward pass of samples ``[s0, s1)``: transform, ``a * a`` GEMMs, transform back."""
    cdef Py_ssize_t a2 = p.a * p.a, C = p.C, F = p.F, k, i, ty, tx, q
    cdef Py_ssize_t P = (s1 - s0) * p.tiles_h * p.tiles_w
    cdef Py_ssize_t in_size = p.H * p.W * C, out_size = p.Ho * p.Wo * F
    # 1. V[xi, nu] = B^T d B, tile q in row q of the (P, C) matrix V[xi, nu]
    q = 0
    for i in range(s0, s1):
        for ty in range(p.tiles_h):
            for tx in range(p.tiles_w):
                _input_tile(x + i * in_size, p, ty, tx, V + q * C, P * C, tmp)
                q += 1
    # 2. M[xi, nu] = V[xi, nu] @ U[xi, nu]
    for k in range(a2):
        gemm(False, False, <int>P, <int>F, <int>C, <floating>1, V + k * P * C, <int>C,
             U + k * C * F, <int>F, <floating>0, M + k * P * F, <int>F)
    # 3. out[tile] = f(A^T M A + b)
    q = 0
    for i in range(s0, s1):
        for ty in range(p.tiles_h):
            for tx in range(p.tiles_w):
                _output_tile(M + q * F, P * F, p, ty, tx, b, activation, out + i * out_size,
                             tmp)
                q += 1


cdef void _backward_block(const floating *x, const floating *A, floating *grad,
                          const floating *U, Plan p, Py_ssize_t s0, Py_ssize_t s1,
                          int activation, floating *V, floating *dM, floating *tmp,
                          floating *dU, floating beta, floating *db,
                          floating *dx) noexcept nogil:
    """The backward pass of samples ``[s0, s1)``; ``dU += ...``, ``db += ...``; ``dx`` or NULL."""
    cdef Py_ssize_t a2 = p.a * p.a, C = p.C, F = p.F, k, i, ty, tx, q
    cdef Py_ssize_t P = (s1 - s0) * p.tiles_h * p.tiles_w
    cdef Py_ssize_t in_size = p.H * p.W * C, out_size = p.Ho * p.Wo * F
    # 1. G *= f'(A); db += the sums of G over pixels
    _activation_grad_bias_sum(grad + s0 * out_size, A + s0 * out_size,
                              (s1 - s0) * p.Ho * p.Wo, F, db, activation)
    # 2. dM = A G A^T, and V = B^T d B again, tile by tile
    q = 0
    for i in range(s0, s1):
        for ty in range(p.tiles_h):
            for tx in range(p.tiles_w):
                _output_tile_adjoint(grad + i * out_size, p, ty, tx, dM + q * F, P * F, tmp)
                _input_tile(x + i * in_size, p, ty, tx, V + q * C, P * C, tmp)
                q += 1
    # 3. dU[xi, nu] += V[xi, nu]^T @ dM[xi, nu]
    for k in range(a2):
        gemm(True, False, <int>C, <int>F, <int>P, <floating>1, V + k * P * C, <int>C,
             dM + k * P * F, <int>F, beta, dU + k * C * F, <int>F)
    if dx == NULL:
        return
    # 4. dV[xi, nu] = dM[xi, nu] @ U[xi, nu]^T, written over V
    for k in range(a2):
        gemm(False, True, <int>P, <int>C, <int>F, <floating>1, dM + k * P * F, <int>F,
             U + k * C * F, <int>F, <floating>0, V + k * P * C, <int>C)
    # 5. dX = the sum over tiles of B dV B^T
    memset(dx + s0 * in_size, 0, (s1 - s0) * in_size * sizeof(floating))
    q = 0
    for i in range(s0, s1):
        for ty in range(p.tiles_h):
            for tx in range(p.tiles_w):
                _input_tile_adjoint(V + q * C, P * C, p, ty, tx, dx + i * in_size, tmp)
                q += 1


# ---------------------------------------------------------------- sizes and checks
cdef Py_ssize_t _block_samples(Py_ssize_t tiles_per_sample, int block_tiles) noexcept nogil:
    """How many samples make a block of about ``block_tiles`` tiles (at least one)."""
    if tiles_per_sample >= block_tiles:
        return 1
    return block_tiles // tiles_per_sample


cdef int _team(Py_ssize_t n, Plan p, int n_threads):
    """Threads for a batch: one per share of the samples, one if the work is small."""
    cdef Py_ssize_t work = n * p.tiles_h * p.tiles_w * p.a * p.a * p.C * p.F
    return <int>min(<Py_ssize_t>threads_for(work, n_threads), max(n, 1))


cdef Py_ssize_t _per_thread(Plan p, Py_ssize_t S, bint backward):
    """Values of one thread's scratch: V and M of a block of ``S`` samples, a tile's
    scratch, and (backward) the thread's ``dU`` and ``db``."""
    cdef Py_ssize_t a2 = p.a * p.a, P = S * p.tiles_h * p.tiles_w
    return (a2 * P * (p.C + p.F) + a2 * max(p.C, p.F)
            + (a2 * p.C * p.F + p.F if backward else 0))


cdef Plan _check(int m, Py_ssize_t[8] x, Py_ssize_t[8] W, Py_ssize_t[8] out,
                 Py_ssize_t b_size, int pad_top, int pad_left, str name) except *:
    """The plan of a 3x3 stride-1 convolution of ``x`` into ``out`` (their shapes), or ValueError."""
    cdef Py_ssize_t n = x[0], H = x[1], Wd = x[2], C = x[3], Ho = out[1], Wo = out[2], F = out[3]
    if m != 2 and m != 4:
        raise ValueError(f"{name}: m must be 2 or 4 (F(2x2, 3x3) or F(4x4, 3x3)), got {m}")
    if W[0] != 9 * C or W[1] != F or out[0] != n or b_size != F:
        raise ValueError(
            f"{name}: shapes do not agree: x {(n, H, Wd, C)}, W {(W[0], W[1])}, "
            f"out {(out[0], Ho, Wo, F)}, b ({b_size},)")
    # the padding at the bottom and right follows from the output size
    cdef Py_ssize_t pad_bottom = Ho + 2 - H - pad_top, pad_right = Wo + 2 - Wd - pad_left
    if not all(0 <= pad <= 2 for pad in (pad_top, pad_bottom, pad_left, pad_right)):
        raise ValueError(
            f"{name}: a 3x3 stride-1 convolution of a {H}x{Wd} image gives a {Ho}x{Wo} "
            f"output only with paddings (top, bottom, left, right) = ({pad_top}, "
            f"{pad_bottom}, {pad_left}, {pad_right}); each must be 0, 1 or 2")
    return _plan(m, H, Wd, C, Ho, Wo, F, pad_top, pad_left)


# ---------------------------------------------------------------- the layer passes
def winograd_forward(const floating[:, :, :, ::1] x, const floating[:, ::1] W,
                     const floating[::1] b, floating[:, :, :, ::1] out, int pad_top,
                     int pad_left, int activation, int m=4, int n_threads=1,
                     int block_tiles=128):
    """``out = f(conv3x3(x, W) + b)`` by Winograd's F(m x m, 3 x 3), block by block.

    Parameters
    ----------
    x : (n, H, W, C) input images.
    W : (9 * C, F) weights, row ``(ky * 3 + kx) * C + c`` (as ``_conv.pyx``); ``b`` : (F,).
    out : (n, Ho, Wo, F) output, written. With the ``pad_top``/``pad_left``
        zero padding, ``Ho`` and ``Wo`` say how much padding the bottom and
        right have (0 to 2 each): ``Ho = H`` and pad 1 is "same", ``Ho = H - 2``
        and pad 0 is "valid".
    activation : activation code (see ``_activations.pxd``).
    m : 2 or 4, the output tile (F(2x2, 3x3) or F(4x4, 3x3)).
    n_threads, block_tiles : threads; tiles per block of samples (the
        per-thread scratch is proportional to it).
    """
    cdef Plan p = _check(m, x.shape, W.shape, out.shape, b.shape[0], pad_top, pad_left,
                         "winograd_forward")
    cdef Py_ssize_t n = x.shape[0], a2 = p.a * p.a, C = p.C, F = p.F
    if n == 0 or F == 0:
        return
    dtype = np.float32 if floating is float else np.float64
    cdef int T = _team(n, p, n_threads)
    cdef Py_ssize_t S = _block_samples(p.tiles_h * p.tiles_w, block_tiles)
    cdef Py_ssize_t P = S * p.tiles_h * p.tiles_w, per_thread = _per_thread(p, S, False)
    cdef floating[::1] U = np.empty(a2 * C * F, dtype)
    cdef floating[::1] filter_tmp = np.empty(3 * p.a * C * F, dtype)
    cdef floating[:, ::1] work = np.empty((T, per_thread), dtype)
    cdef int t
    cdef Py_ssize_t i0, i1, s0, s1
    cdef floating *V
    cdef floating *M
    with nogil:
        _filters(&W[0, 0], &U[0], p, &filter_tmp[0], threads_for(a2 * 9 * C * F, n_threads))
        for t in prange(T, schedule="static", num_threads=T):
            V = &work[t, 0]
            M = V + a2 * P * C
            i0 = n * t // T
            i1 = n * (t + 1) // T
            s0 = i0
            while s0 < i1:
                s1 = min(s0 + S, i1)
                _forward_block(&x[0, 0, 0, 0], &U[0], &b[0], &out[0, 0, 0, 0], p, s0, s1,
                               activation, V, M, M + a2 * P * F)
                s0 = s1


def winograd_backward(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] out,
                      floating[:, :, :, ::1] grad, const floating[:, ::1] W,
                      floating[:, ::1] dW, floating[::1] db, floating[:, :, :, ::1] dx,
                      int pad_top, int pad_left, int activation, int m=4, int n_threads=1,
                      int block_tiles=128):
    """The backward pass of :func:`winograd_forward`, block by block.

    Parameters
    ----------
    x : (n, H, W, C) the forward input; ``out`` : (n, Ho, Wo, F) its output ``A``.
    grad : (n, Ho, Wo, F) ``dL/dA``; overwritten with ``dL/dZ``.
    W : (9 * C, F) weights. ``dW`` (9 * C, F), ``db`` (F,): gradients, written.
    dx : (n, H, W, C) ``dL/dX``, written; or None to skip it (first layer).
    The other arguments are those of the forward call.
    """
    cdef Plan p = _check(m, x.shape, W.shape, out.shape, db.shape[0], pad_top, pad_left,
                         "winograd_backward")
    cdef Py_ssize_t n = x.shape[0], a2 = p.a * p.a, C = p.C, F = p.F, CF = p.C * p.F
    cdef bint need_dx = dx is not None
    if (any(grad.shape[j] != out.shape[j] for j in range(4))
            or dW.shape[0] != W.shape[0] or dW.shape[1] != W.shape[1]
            or (need_dx and any(dx.shape[j] != x.shape[j] for j in range(4)))):
        raise ValueError("winograd_backward: shapes do not agree")
    dW[...] = 0
    db[...] = 0
    if n == 0 or F == 0:
        if need_dx:
            dx[...] = 0
        return
    dtype = np.float32 if floating is float else np.float64
    cdef int T = _team(n, p, n_threads)
    cdef Py_ssize_t S = _block_samples(p.tiles_h * p.tiles_w, block_tiles)
    cdef Py_ssize_t P = S * p.tiles_h * p.tiles_w, per_thread = _per_thread(p, S, True)
    # a thread's scratch: V, dM, a tile's scratch, then its dU and db
    cdef Py_ssize_t dU_at = a2 * P * (C + F) + a2 * max(C, F)
    cdef floating[::1] U = np.empty(a2 * CF, dtype)
    cdef floating[::1] filter_tmp = np.empty(3 * p.a * CF, dtype)
    cdef floating[:, ::1] work = np.empty((T, per_thread), dtype)
    cdef int t, u, T_end = threads_for(a2 * 9 * CF, n_threads)
    cdef Py_ssize_t i0, i1, s0, s1, j0, j1, k, f
    cdef floating *V
    cdef floating *dM
    cdef floating *dU
    cdef floating *dx_ptr = &dx[0, 0, 0, 0] if need_dx else NULL
    cdef floating beta
    with nogil:
        _filters(&W[0, 0], &U[0], p, &filter_tmp[0], T_end)
        for t in prange(T, schedule="static", num_threads=T):
            V = &work[t, 0]
            dM = V + a2 * P * C
            dU = V + dU_at
            memset(dU + a2 * CF, 0, F * sizeof(floating))
            beta = 0                                # the first block overwrites dU
            i0 = n * t // T
            i1 = n * (t + 1) // T
            s0 = i0
            while s0 < i1:
                s1 = min(s0 + S, i1)
                _backward_block(&x[0, 0, 0, 0], &out[0, 0, 0, 0], &grad[0, 0, 0, 0], &U[0],
                                p, s0, s1, activation, V, dM, dM + a2 * P * F, dU, beta,
                                dU + a2 * CF, dx_ptr)
                beta = 1
                s0 = s1
        # add the threads' dU and db in thread order, then dW = G^T dU G
        for t in prange(T_end, schedule="static", num_threads=T_end):
            j0 = CF * t // T_end
            j1 = CF * (t + 1) // T_end
            dU = &work[0, dU_at]
            for u in range(1, T):
                for k in range(a2):
                    _add_into(dU + k * CF + j0, &work[u, dU_at + k * CF + j0], j1 - j0)
            _filter_transform_adjoint(dU, &dW[0, 0], p, j0, j1, &filter_tmp[0] + 3 * p.a * j0)
    for u in range(T):
        for f in range(F):
            db[f] += work[u, dU_at + a2 * CF + f]


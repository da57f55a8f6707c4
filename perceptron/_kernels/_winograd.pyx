"""Winograd's minimal filtering for 3x3, stride-1 convolutions on NHWC images.

The im2col kernels (``_conv.pyx``) spend 9 multiply-adds per output pixel,
input channel and filter. Winograd's algorithm (Lavin & Gray, *Fast
Algorithms for Convolutional Neural Networks*, 2016) computes a 4x4 tile of
outputs with 36 of them instead of 144: ``F(4x4, 3x3)``. The multiply-adds
that remain are still GEMMs; what changes is the data they are fed, which
small linear transforms (additions and a few scalings) prepare.

One dimension: F(m, 3)
----------------------
``m`` outputs of a 3-tap filter ``g`` slid over ``m + 2`` inputs ``d``,
``y[u] = sum_k d[u + k] g[k]``, are the coefficients of a polynomial
product. Evaluating both factors at ``m + 2`` points, multiplying the values
pointwise and interpolating back (Toom-Cook) gives::

    y = A^T [ (G g) * (B^T d) ]          * : element-wise, m + 2 products

The smallest case, F(2, 3), uses the points 0, 1, -1 and infinity::

          [1  0 -1  0]          [ 1    0    0 ]
    B^T = [0  1  1  0]     G =  [1/2  1/2  1/2]     A^T = [1  1  1  0]
          [0 -1  1  0]          [1/2 -1/2  1/2]           [0  1 -1 -1]
          [0  1  0 -1]          [ 0    0    1 ]

(4 products for 2 outputs instead of 6). This module uses F(4, 3), with the
points 0, +-1, +-2 and infinity, whose 6x6 ``B^T``, 6x3 ``G`` and 4x6 ``A^T``
are :data:`TRANSFORMS`. ``G g`` depends only on the weights and ``B^T d``
only on the input: only the 6 products touch both.

Two dimensions and channels
---------------------------
Nesting the 1D algorithm along columns and rows gives a 4x4 output tile from
a 6x6 input tile ``d`` (neighbouring tiles overlap by 2 pixels)::

    Y = A^T [ (G g G^T) * (B^T d B) ] A

With ``C`` input channels and ``F`` filters the sum over channels moves
inside the brackets, because the transforms are linear. Number the tiles of
a block of images ``p = 0 .. P-1``; then for each of the 36 positions
``(xi, nu)`` of a transformed tile::

    U[xi, nu] = (G g G^T)[xi, nu]        (C, F)   the transformed filters
    V[xi, nu] = (B^T d B)[xi, nu]        (P, C)   one row per tile
    M[xi, nu] = V[xi, nu] @ U[xi, nu]    (P, F)   ONE GEMM per position
    Y[tile p] = A^T M[., ., p] A         (4, 4, F)
    out       = f(Y + b)                 the bias and activation, fused

so a block is 36 GEMMs of ``(P, C) @ (C, F)`` between an input transform
and an output transform done tile by tile: 36 instead of 144 multiply-adds
per 4x4 outputs, channel and filter (4x fewer; 3x for a 14x14 or 7x7 image,
whose last tiles hang over the border).

The loops
---------
A 2D transform is two passes of the 1D one: along each row of the tile and
along each column (in either order). In NHWC a pixel is a contiguous vector of
channels, so the 1D transforms (:func:`_Bt`, :func:`_At`, :func:`_G` and
their transposes) are one loop per row of their matrix, over the channels --
``v[1] = (d[3] + d[4]) - 4 (d[1] + d[2])`` for row 1 of ``B^T`` -- which the
compiler vectorises; the column pass does a whole tile's columns in one go
(``6 C`` values per loop). Zero padding: a tile that hangs over the border
of the image is first copied into a zero-filled 6x6 tile, and only the
output pixels inside the image are written.

Backward
--------
The forward pass is linear in ``d`` and in ``g``, so its gradients are the
same products, transposed, in reverse order. Given ``G_out = dL/dA``::

    G_out     <- G_out * f'(A)               now dL/dZ
    db         = sum of G_out over pixels
    dM[tile]   = A G_out[tile] A^T           (6, 6, F) per tile
    dU[xi, nu] = V[xi, nu]^T @ dM[xi, nu]    (C, F), summed over the batch
    dW         = G^T dU G                    (3, 3, C, F)
    dV[xi, nu] = dM[xi, nu] @ U[xi, nu]^T    (P, C)
    dX[tile]  += B dV[tile] B^T              overlapping tiles add up

``V`` is recomputed from ``X`` in the backward pass rather than kept: its
transform is cheap next to the GEMMs, and keeping it for the whole batch
would take 2.25 times the memory of the input.

Why F(4x4, 3x3)
---------------
F(2x2, 3x3) does 2.25x fewer multiplies than im2col, F(4x4, 3x3) 4x, at the
price of larger transforms and of rounding: F(4x4)'s coefficients go from
1/24 (``G``) to 8 (``A^T``). Both were written (the transforms as tables);
on the default network's 14x14x32 and 7x7x64 layers F(4x4) was the faster,
by 1.07x and 1.4x for a training step, and the margin grew when its
transforms were written out as below. In float32, against a float64
computation, its outputs and gradients are off by 2e-7 to 4e-7 of their
scale (root mean square; at most 5e-6), where im2col's are off by about
5e-8 (at most 6e-7), and F(2x2)'s by about as much as im2col's: far below what changes training
(``tests/test_winograd.py`` pins the bounds).

With fewer than 8 input channels the transforms cost more than the
multiplies they save, and im2col is faster: the layers take this path for
3x3, stride-1 convolutions of 8 channels or more (``perceptron.layers.Conv2D``).

How the work is run
-------------------
The samples are cut into blocks of a few (about ``block_tiles`` tiles), and
each block runs every step while it is in its core's cache, with one
single-threaded BLAS call per position ``(xi, nu)``. The blocks go to
whichever thread is free (OpenMP's dynamic schedule), so that a thread slowed
by the rest of the machine does fewer of them instead of keeping the others
waiting. A block's ``V`` (and ``M``) is stored tile after tile, the 36
vectors of a tile together where its transforms write them, so the GEMM of
position ``k`` reads every 36th row of it (``lda = 36 C``). The per-thread
buffers (``V``, ``M`` and a tile's scratch) are allocated per call and sized
by the block, not by the batch: nothing batch-sized is kept between the
forward and the backward pass (:func:`workspace_size`). The sums over the
batch (``dU``, ``db``) are kept per *part* of the batch (a few blocks each;
a single part on one thread, ``PARTS_PER_THREAD`` per thread on several) and
added in part order, so the result depends only on the number of threads,
not on which thread did which part. Everything is fused float32/float64
(``floating``).
"""

from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.string cimport memcpy, memset

import numpy as np

from ._gemm cimport gemm
from ._layer_rows cimport activation_backward_sum_rows, add_row, bias_activation_rows
from ._openmp cimport PARTS_PER_THREAD, threads_for


cdef enum:
    TILE_OUT = 4     # output pixels per side of a tile (m)
    TILE_IN = 6      # input pixels per side of a tile (m + 2)
    POSITIONS = 36   # TILE_IN ** 2: products per tile, channel and filter


#: ``(B^T, G, A^T)`` of F(4x4, 3x3) (Lavin & Gray, 2016), shapes (6, 6), (6, 3)
#: and (4, 6). The 1D transforms below are these matrices, row by row.
#: (``1.0 / 6``, not ``1 / 6``: under the ``cdivision`` directive Cython folds
#: ``1 / 6`` with C's integer division, to 0.)
TRANSFORMS = (
    [[4, 0, -5, 0, 1, 0],
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
     [0, 1, -1, 8, -8, 1]],
)


def transforms():
    """``(B^T, G, A^T)`` of F(4x4, 3x3) as float64 NumPy arrays (see :data:`TRANSFORMS`)."""
    return tuple(np.array(t, dtype=np.float64) for t in TRANSFORMS)


# ---------------------------------------------------------------- the 1D transforms
# Each applies one matrix of TRANSFORMS (or its transpose) to a column of
# vectors: the input ``d[k]`` is the vector of ``n`` channels at ``d + k * ds``
# and the output ``v[k]`` goes to ``v + k * vs``. One loop per row of the
# matrix, the row written next to it; sums shared by two rows are computed in
# both. (One output per loop, so that the compiler vectorises each loop over
# the channels without having to prove that six outputs never overlap six
# inputs. The constants have the type of the data: a bare ``4`` would be
# compiled as the double ``4.0`` and turn float32 arithmetic into float64.)

cdef inline void _Bt(const floating *d, Py_ssize_t ds, floating *v, Py_ssize_t vs,
                     Py_ssize_t n) noexcept nogil:
    """``v = B^T d``: 6 vectors from 6 (the input transform)."""
    cdef Py_ssize_t j
    cdef floating two = 2, four = 4, five = 5
    cdef const floating *d0 = d
    cdef const floating *d1 = d + ds
    cdef const floating *d2 = d + 2 * ds
    cdef const floating *d3 = d + 3 * ds
    cdef const floating *d4 = d + 4 * ds
    cdef const floating *d5 = d + 5 * ds
    for j in range(n):                                  # [4  0 -5  0  1  0]
        v[j] = (four * d0[j] + d4[j]) - five * d2[j]
    for j in range(n):                                  # [0 -4 -4  1  1  0]
        v[vs + j] = (d3[j] + d4[j]) - four * (d1[j] + d2[j])
    for j in range(n):                                  # [0  4 -4 -1  1  0]
        v[2 * vs + j] = (d4[j] - d3[j]) + four * (d1[j] - d2[j])
    for j in range(n):                                  # [0 -2 -1  2  1  0]
        v[3 * vs + j] = (d4[j] - d2[j]) + two * (d3[j] - d1[j])
    for j in range(n):                                  # [0  2 -1 -2  1  0]
        v[4 * vs + j] = (d4[j] - d2[j]) - two * (d3[j] - d1[j])
    for j in range(n):                                  # [0  4  0 -5  0  1]
        v[5 * vs + j] = (four * d1[j] + d5[j]) - five * d3[j]


cdef inline void _B(const floating *v, Py_ssize_t vs, floating *d, Py_ssize_t ds,
                    Py_ssize_t n) noexcept nogil:
    """``d = B v``: 6 vectors from 6 (the transpose of :func:`_Bt`: row k is its column k)."""
    cdef Py_ssize_t j
    cdef floating two = 2, four = 4, five = 5
    cdef const floating *v0 = v
    cdef const floating *v1 = v + vs
    cdef const floating *v2 = v + 2 * vs
    cdef const floating *v3 = v + 3 * vs
    cdef const floating *v4 = v + 4 * vs
    cdef const floating *v5 = v + 5 * vs
    for j in range(n):                                  # [ 4  0  0  0  0  0]
        d[j] = four * v0[j]
    for j in range(n):                                  # [ 0 -4  4 -2  2  4]
        d[ds + j] = four * ((v2[j] - v1[j]) + v5[j]) + two * (v4[j] - v3[j])
    for j in range(n):                                  # [-5 -4 -4 -1 -1  0]
        d[2 * ds + j] = -(five * v0[j] + four * (v1[j] + v2[j]) + (v3[j] + v4[j]))
    for j in range(n):                                  # [ 0  1 -1  2 -2 -5]
        d[3 * ds + j] = ((v1[j] - v2[j]) + two * (v3[j] - v4[j])) - five * v5[j]
    for j in range(n):                                  # [ 1  1  1  1  1  0]
        d[4 * ds + j] = v0[j] + (v1[j] + v2[j]) + (v3[j] + v4[j])
    for j in range(n):                                  # [ 0  0  0  0  0  1]
        d[5 * ds + j] = v5[j]


cdef inline void _At(const floating *m, Py_ssize_t ms, floating *y, Py_ssize_t ys,
                     Py_ssize_t n) noexcept nogil:
    """``y = A^T m``: 4 vectors from 6 (the output transform)."""
    cdef Py_ssize_t j
    cdef floating two = 2, four = 4, eight = 8
    cdef const floating *m0 = m
    cdef const floating *m1 = m + ms
    cdef const floating *m2 = m + 2 * ms
    cdef const floating *m3 = m + 3 * ms
    cdef const floating *m4 = m + 4 * ms
    cdef const floating *m5 = m + 5 * ms
    for j in range(n):                                  # [1  1  1  1  1  0]
        y[j] = m0[j] + (m1[j] + m2[j]) + (m3[j] + m4[j])
    for j in range(n):                                  # [0  1 -1  2 -2  0]
        y[ys + j] = (m1[j] - m2[j]) + two * (m3[j] - m4[j])
    for j in range(n):                                  # [0  1  1  4  4  0]
        y[2 * ys + j] = (m1[j] + m2[j]) + four * (m3[j] + m4[j])
    for j in range(n):                                  # [0  1 -1  8 -8  1]
        y[3 * ys + j] = (m1[j] - m2[j]) + eight * (m3[j] - m4[j]) + m5[j]


cdef inline void _A(const floating *y, Py_ssize_t ys, floating *m, Py_ssize_t ms,
                    Py_ssize_t n) noexcept nogil:
    """``m = A y``: 6 vectors from 4 (the transpose of :func:`_At`: row k is its column k)."""
    cdef Py_ssize_t j
    cdef floating two = 2, four = 4
    cdef const floating *y0 = y
    cdef const floating *y1 = y + ys
    cdef const floating *y2 = y + 2 * ys
    cdef const floating *y3 = y + 3 * ys
    for j in range(n):                                  # [1  0  0  0]
        m[j] = y0[j]
    for j in range(n):                                  # [1  1  1  1]
        m[ms + j] = (y0[j] + y2[j]) + (y1[j] + y3[j])
    for j in range(n):                                  # [1 -1  1 -1]
        m[2 * ms + j] = (y0[j] + y2[j]) - (y1[j] + y3[j])
    for j in range(n):                                  # [1  2  4  8]
        m[3 * ms + j] = (y0[j] + four * y2[j]) + two * (y1[j] + four * y3[j])
    for j in range(n):                                  # [1 -2  4 -8]
        m[4 * ms + j] = (y0[j] + four * y2[j]) - two * (y1[j] + four * y3[j])
    for j in range(n):                                  # [0  0  0  1]
        m[5 * ms + j] = y3[j]


cdef inline void _G(const floating *g, Py_ssize_t gs, floating *u, Py_ssize_t us,
                    Py_ssize_t n) noexcept nogil:
    """``u = G g``: 6 vectors from 3 (the filter transform)."""
    cdef Py_ssize_t j
    # the fractions, multiplied rather than divided by (a division costs ten times more)
    cdef floating quarter = 0.25, sixth = 1.0 / 6, twelfth = 1.0 / 12
    cdef floating twenty_fourth = 1.0 / 24
    cdef const floating *g0 = g
    cdef const floating *g1 = g + gs
    cdef const floating *g2 = g + 2 * gs
    for j in range(n):                                  # [ 1/4    0     0 ]
        u[j] = quarter * g0[j]
    for j in range(n):                                  # [-1/6  -1/6  -1/6]
        u[us + j] = -sixth * (g0[j] + g1[j] + g2[j])
    for j in range(n):                                  # [-1/6   1/6  -1/6]
        u[2 * us + j] = -sixth * (g0[j] - g1[j] + g2[j])
    for j in range(n):                                  # [1/24  1/12   1/6]
        u[3 * us + j] = twenty_fourth * g0[j] + twelfth * g1[j] + sixth * g2[j]
    for j in range(n):                                  # [1/24 -1/12   1/6]
        u[4 * us + j] = twenty_fourth * g0[j] - twelfth * g1[j] + sixth * g2[j]
    for j in range(n):                                  # [  0     0     1 ]
        u[5 * us + j] = g2[j]


cdef inline void _Gt(const floating *u, Py_ssize_t us, floating *g, Py_ssize_t gs,
                     Py_ssize_t n) noexcept nogil:
    """``g = G^T u``: 3 vectors from 6 (the transpose of :func:`_G`: row k is its column k)."""
    cdef Py_ssize_t j
    cdef floating quarter = 0.25, sixth = 1.0 / 6, twelfth = 1.0 / 12
    cdef floating twenty_fourth = 1.0 / 24
    cdef const floating *u0 = u
    cdef const floating *u1 = u + us
    cdef const floating *u2 = u + 2 * us
    cdef const floating *u3 = u + 3 * us
    cdef const floating *u4 = u + 4 * us
    cdef const floating *u5 = u + 5 * us
    for j in range(n):                                  # [1/4 -1/6 -1/6 1/24  1/24  0]
        g[j] = (quarter * u0[j] - sixth * (u1[j] + u2[j])) + twenty_fourth * (u3[j] + u4[j])
    for j in range(n):                                  # [ 0  -1/6  1/6 1/12 -1/12  0]
        g[gs + j] = sixth * (u2[j] - u1[j]) + twelfth * (u3[j] - u4[j])
    for j in range(n):                                  # [ 0  -1/6 -1/6  1/6  1/6  1]
        g[2 * gs + j] = sixth * ((u3[j] + u4[j]) - (u1[j] + u2[j])) + u5[j]


# ---------------------------------------------------------------- tiles at the border
cdef void _gather(const floating *img, Py_ssize_t H, Py_ssize_t W, Py_ssize_t C,
                  Py_ssize_t y0, Py_ssize_t x0, Py_ssize_t size,
                  floating *tile) noexcept nogil:
    """``tile`` = the ``size x size`` window at ``(y0, x0)`` of an (H, W, C) image, zero outside."""
    cdef Py_ssize_t y, xlo = max(-x0, 0), xhi = min(W - x0, size)
    memset(tile, 0, size * size * C * sizeof(floating))
    if xhi <= xlo:
        return
    for y in range(max(-y0, 0), min(H - y0, size)):
        memcpy(tile + (y * size + xlo) * C, img + ((y0 + y) * W + x0 + xlo) * C,
               (xhi - xlo) * C * sizeof(floating))


cdef void _scatter_add(const floating *tile, Py_ssize_t H, Py_ssize_t W, Py_ssize_t C,
                       Py_ssize_t y0, Py_ssize_t x0, Py_ssize_t size,
                       floating *img) noexcept nogil:
    """The transpose of :func:`_gather`: add ``tile``'s pixels inside the image onto it."""
    cdef Py_ssize_t y, j, xlo = max(-x0, 0), xhi = min(W - x0, size)
    cdef floating *dst
    cdef const floating *src
    for y in range(max(-y0, 0), min(H - y0, size)):
        dst = img + ((y0 + y) * W + x0 + xlo) * C
        src = tile + (y * size + xlo) * C
        for j in range((xhi - xlo) * C):
            dst[j] += src[j]


# ---------------------------------------------------------------- one tile
cdef struct Plan:
    # input (H, W, C), output (Ho, Wo, F), zero padding at the top and left
    Py_ssize_t H, W, C, Ho, Wo, F, pad_top, pad_left
    # tiles per column and per row of an output image
    Py_ssize_t tiles_h, tiles_w


cdef void _input_tile(const floating *img, Plan p, Py_ssize_t ty, Py_ssize_t tx,
                      floating *V, floating *scratch) noexcept nogil:
    """``V = B^T d B`` for the 6x6 input tile ``d`` of output tile (ty, tx).

    ``img`` is one (H, W, C) image; ``V[xi, nu]`` (C values) goes to
    ``V + (xi * 6 + nu) * C``. ``scratch`` holds ``2 * 36 * C`` values.
    """
    cdef Py_ssize_t C = p.C, y
    cdef Py_ssize_t y0 = ty * TILE_OUT - p.pad_top, x0 = tx * TILE_OUT - p.pad_left
    cdef floating *tmp = scratch
    cdef floating *tile = scratch + POSITIONS * C
    cdef const floating *d
    cdef Py_ssize_t ds                                    # from one row of d to the next
    if y0 < 0 or x0 < 0 or y0 + TILE_IN > p.H or x0 + TILE_IN > p.W:
        _gather(img, p.H, p.W, C, y0, x0, TILE_IN, tile)
        d, ds = tile, TILE_IN * C
    else:
        d, ds = img + (y0 * p.W + x0) * C, p.W * C
    # tmp[y, nu] = sum_x d[y, x] B^T[nu, x]: each row of the tile
    for y in range(TILE_IN):
        _Bt(d + y * ds, C, tmp + y * TILE_IN * C, C, C)
    # V[xi, nu] = sum_y B^T[xi, y] tmp[y, nu]: all the columns at once
    _Bt(tmp, TILE_IN * C, V, TILE_IN * C, TILE_IN * C)


cdef void _input_tile_adjoint(const floating *dV, Plan p, Py_ssize_t ty, Py_ssize_t tx,
                              floating *dimg, floating *scratch) noexcept nogil:
    """``dX[tile] += B dV B^T``: the transpose of :func:`_input_tile`, added into ``dimg``.

    Pixels of the tile outside the image (the zero padding) are dropped.
    """
    cdef Py_ssize_t C = p.C, y
    cdef floating *tmp = scratch
    cdef floating *tile = scratch + POSITIONS * C
    # tmp[y, nu] = sum_xi B^T[xi, y] dV[xi, nu]: all the columns at once
    _B(dV, TILE_IN * C, tmp, TILE_IN * C, TILE_IN * C)
    # tile[y, x] = sum_nu tmp[y, nu] B^T[nu, x]: each row
    for y in range(TILE_IN):
        _B(tmp + y * TILE_IN * C, C, tile + y * TILE_IN * C, C, C)
    _scatter_add(tile, p.H, p.W, C, ty * TILE_OUT - p.pad_top, tx * TILE_OUT - p.pad_left,
                 TILE_IN, dimg)


cdef void _output_tile(const floating *M, Plan p, Py_ssize_t ty, Py_ssize_t tx,
                       const floating *b, int activation, floating *out,
                       floating *scratch) noexcept nogil:
    """``out[tile] = f(A^T M A + b)`` for the pixels of output tile (ty, tx) in the image.

    ``M[xi, nu]`` (F values) is at ``M + (xi * 6 + nu) * F``; ``out`` is one
    (Ho, Wo, F) image. ``scratch`` holds ``(24 + 4) * F`` values.
    """
    cdef Py_ssize_t F = p.F, u, cols
    cdef Py_ssize_t oy = ty * TILE_OUT, ox = tx * TILE_OUT
    cdef floating *tmp = scratch
    cdef floating *y = scratch + TILE_OUT * TILE_IN * F
    cdef floating *z
    # tmp[u, nu] = sum_xi A^T[u, xi] M[xi, nu]: all the columns at once
    _At(M, TILE_IN * F, tmp, TILE_IN * F, TILE_IN * F)
    # Y[u, v] = sum_nu tmp[u, nu] A^T[v, nu]: each row, written where its pixels
    # go (through y when the tile hangs over the right edge); then f(Y + b)
    cols = min(p.Wo - ox, TILE_OUT)
    for u in range(min(p.Ho - oy, TILE_OUT)):
        z = out + ((oy + u) * p.Wo + ox) * F
        if cols == TILE_OUT:
            _At(tmp + u * TILE_IN * F, F, z, F, F)
        else:
            _At(tmp + u * TILE_IN * F, F, y, F, F)
            memcpy(z, y, cols * F * sizeof(floating))
        bias_activation_rows(z, b, cols, F, activation)


cdef void _output_tile_adjoint(const floating *G, Plan p, Py_ssize_t ty, Py_ssize_t tx,
                               floating *dM, floating *scratch) noexcept nogil:
    """``dM = A G[tile] A^T``: the transpose of :func:`_output_tile` (without ``f``).

    ``G`` is one (Ho, Wo, F) image of ``dL/dZ``; the tile's pixels outside
    it count as zeros (they were never written). ``scratch``: ``(24 + 16) * F``.
    """
    cdef Py_ssize_t F = p.F, u
    cdef Py_ssize_t oy = ty * TILE_OUT, ox = tx * TILE_OUT
    cdef floating *tmp = scratch
    cdef floating *tile = scratch + TILE_OUT * TILE_IN * F
    cdef const floating *g
    cdef Py_ssize_t gs                                    # from one row of g to the next
    if oy + TILE_OUT > p.Ho or ox + TILE_OUT > p.Wo:
        _gather(G, p.Ho, p.Wo, F, oy, ox, TILE_OUT, tile)
        g, gs = tile, TILE_OUT * F
    else:
        g, gs = G + (oy * p.Wo + ox) * F, p.Wo * F
    # tmp[u, nu] = sum_v g[u, v] A^T[v, nu]: each row
    for u in range(TILE_OUT):
        _A(g + u * gs, F, tmp + u * TILE_IN * F, F, F)
    # dM[xi, nu] = sum_u A^T[u, xi] tmp[u, nu]: all the columns at once
    _A(tmp, TILE_IN * F, dM, TILE_IN * F, TILE_IN * F)


# ---------------------------------------------------------------- filters
# The weights ``W`` (9 * C, F) hold the (C, F) matrix ``g[ky, kx]`` at
# ``W + (ky * 3 + kx) * C * F``, and ``U`` (36, C, F) the matrix ``U[xi, nu]``
# at ``U + (xi * 6 + nu) * C * F``. Both transforms work on the columns
# ``[j0, j1)`` of those (C * F)-vectors, so that threads can share them.

cdef void _filter_transform(const floating *W, floating *U, Py_ssize_t CF, Py_ssize_t j0,
                            Py_ssize_t j1, floating *tmp) noexcept nogil:
    """``U = G g G^T``; ``tmp`` holds ``18 * (j1 - j0)`` values."""
    cdef Py_ssize_t n = j1 - j0, kx, xi
    # tmp[xi, kx] = sum_ky G[xi, ky] g[ky, kx]: each column of the kernel
    for kx in range(3):
        _G(W + kx * CF + j0, 3 * CF, tmp + kx * n, 3 * n, n)
    # U[xi, nu] = sum_kx tmp[xi, kx] G[nu, kx]: each row of tmp
    for xi in range(TILE_IN):
        _G(tmp + xi * 3 * n, n, U + xi * TILE_IN * CF + j0, CF, n)


cdef void _filter_transform_adjoint(const floating *dU, floating *dW, Py_ssize_t CF,
                                    Py_ssize_t j0, Py_ssize_t j1,
                                    floating *tmp) noexcept nogil:
    """``dW = G^T dU G``, the transpose of :func:`_filter_transform`."""
    cdef Py_ssize_t n = j1 - j0, ky, nu
    # tmp[ky, nu] = sum_xi G[xi, ky] dU[xi, nu]: each column
    for nu in range(TILE_IN):
        _Gt(dU + nu * CF + j0, TILE_IN * CF, tmp + nu * n, TILE_IN * n, n)
    # dW[ky, kx] = sum_nu tmp[ky, nu] G[nu, kx]: each row
    for ky in range(3):
        _Gt(tmp + ky * TILE_IN * n, n, dW + ky * 3 * CF + j0, CF, n)


cdef void _filters(const floating *W, floating *U, Py_ssize_t CF, floating *tmp,
                   int T) noexcept nogil:
    """:func:`_filter_transform` of all columns, shared among ``T`` threads."""
    cdef int t
    cdef Py_ssize_t j0, j1
    for t in prange(T, schedule="static", num_threads=T):
        j0 = CF * t // T
        j1 = CF * (t + 1) // T
        _filter_transform(W, U, CF, j0, j1, tmp + 18 * j0)


# ---------------------------------------------------------------- one block of samples
cdef void _forward_block(const floating *x, const floating *U, const floating *b,
                         floating *out, Plan p, Py_ssize_t s0, Py_ssize_t s1,
                         int activation, floating *V, floating *M,
                         floating *scratch) noexcept nogil:
    """The forward pass of samples ``[s0, s1)``: transform, 36 GEMMs, transform back."""
    cdef Py_ssize_t C = p.C, F = p.F, k, i, ty, tx, q
    cdef Py_ssize_t P = (s1 - s0) * p.tiles_h * p.tiles_w
    cdef Py_ssize_t in_size = p.H * p.W * C, out_size = p.Ho * p.Wo * F
    # 1. V = B^T d B for every tile (tile q at V + q * 36 * C)
    q = 0
    for i in range(s0, s1):
        for ty in range(p.tiles_h):
            for tx in range(p.tiles_w):
                _input_tile(x + i * in_size, p, ty, tx, V + q * POSITIONS * C, scratch)
                q += 1
    # 2. M[xi, nu] = V[xi, nu] @ U[xi, nu]; row q of V[xi, nu] is at V + (q * 36 + k) * C
    for k in range(POSITIONS):
        gemm(False, False, <int>P, <int>F, <int>C, <floating>1, V + k * C, POSITIONS * <int>C,
             U + k * C * F, <int>F, <floating>0, M + k * F, POSITIONS * <int>F)
    # 3. out = f(A^T M A + b) for every tile
    q = 0
    for i in range(s0, s1):
        for ty in range(p.tiles_h):
            for tx in range(p.tiles_w):
                _output_tile(M + q * POSITIONS * F, p, ty, tx, b, activation,
                             out + i * out_size, scratch)
                q += 1


cdef void _backward_block(const floating *x, const floating *A, floating *grad,
                          const floating *U, Plan p, Py_ssize_t s0, Py_ssize_t s1,
                          int activation, floating *V, floating *dM, floating *scratch,
                          floating *dU, floating beta, floating *db,
                          floating *dx) noexcept nogil:
    """The backward pass of samples ``[s0, s1)``: ``dU (+)= ...``, ``db += ...``; ``dx`` or NULL."""
    cdef Py_ssize_t C = p.C, F = p.F, k, i, ty, tx, q
    cdef Py_ssize_t P = (s1 - s0) * p.tiles_h * p.tiles_w
    cdef Py_ssize_t in_size = p.H * p.W * C, out_size = p.Ho * p.Wo * F
    # 1. G *= f'(A); db += the sums of G over pixels
    activation_backward_sum_rows(grad + s0 * out_size, A + s0 * out_size,
                                 (s1 - s0) * p.Ho * p.Wo, F, db, activation)
    # 2. dM = A G A^T and (again) V = B^T d B for every tile
    q = 0
    for i in range(s0, s1):
        for ty in range(p.tiles_h):
            for tx in range(p.tiles_w):
                _output_tile_adjoint(grad + i * out_size, p, ty, tx, dM + q * POSITIONS * F,
                                     scratch)
                _input_tile(x + i * in_size, p, ty, tx, V + q * POSITIONS * C, scratch)
                q += 1
    # 3. dU[xi, nu] (+)= V[xi, nu]^T @ dM[xi, nu]
    for k in range(POSITIONS):
        gemm(True, False, <int>C, <int>F, <int>P, <floating>1, V + k * C, POSITIONS * <int>C,
             dM + k * F, POSITIONS * <int>F, beta, dU + k * C * F, <int>F)
    if dx == NULL:
        return
    # 4. dV[xi, nu] = dM[xi, nu] @ U[xi, nu]^T, written over V
    for k in range(POSITIONS):
        gemm(False, True, <int>P, <int>C, <int>F, <floating>1, dM + k * F, POSITIONS * <int>F,
             U + k * C * F, <int>F, <floating>0, V + k * C, POSITIONS * <int>C)
    # 5. dX = the sum over tiles of B dV B^T
    memset(dx + s0 * in_size, 0, (s1 - s0) * in_size * sizeof(floating))
    q = 0
    for i in range(s0, s1):
        for ty in range(p.tiles_h):
            for tx in range(p.tiles_w):
                _input_tile_adjoint(V + q * POSITIONS * C, p, ty, tx, dx + i * in_size,
                                    scratch)
                q += 1


# ---------------------------------------------------------------- sizes and checks
cdef Py_ssize_t _block_samples(Py_ssize_t tiles_per_sample, int block_tiles) noexcept nogil:
    """How many samples make a block of about ``block_tiles`` tiles (at least one)."""
    if tiles_per_sample >= block_tiles:
        return 1
    return block_tiles // tiles_per_sample


cdef struct Blocks:
    # samples per block, blocks in the batch, threads taking them
    Py_ssize_t S, n_blocks
    int T


cdef Blocks _blocks(Py_ssize_t n, Plan p, int n_threads, int block_tiles):
    """How a batch of ``n`` samples is cut into blocks of about ``block_tiles``
    tiles, and how many threads take them (one if the work is small, never
    more than there are blocks)."""
    cdef Blocks blocks
    cdef Py_ssize_t work = n * p.tiles_h * p.tiles_w * POSITIONS * p.C * p.F
    blocks.S = min(_block_samples(p.tiles_h * p.tiles_w, block_tiles), max(n, 1))
    blocks.n_blocks = (max(n, 1) + blocks.S - 1) // blocks.S
    blocks.T = <int>min(<Py_ssize_t>threads_for(work, n_threads), blocks.n_blocks)
    return blocks


cdef Py_ssize_t _parts(Py_ssize_t n_blocks, int T) noexcept nogil:
    """How many parts the backward pass cuts the samples into (see its comments)."""
    return 1 if T == 1 else min(n_blocks, PARTS_PER_THREAD * T)


cdef Py_ssize_t _per_thread(Plan p, Py_ssize_t S):
    """Values of one thread's scratch for blocks of ``S`` samples: ``V`` and ``M``
    (or ``dM``) and a tile's scratch."""
    cdef Py_ssize_t P = S * p.tiles_h * p.tiles_w
    return POSITIONS * P * (p.C + p.F) + 2 * POSITIONS * max(p.C, p.F)


cdef Plan _check(Py_ssize_t[8] x, Py_ssize_t[8] W, Py_ssize_t[8] out, Py_ssize_t b_size,
                 int pad_top, int pad_left, str name) except *:
    """The plan of a 3x3 stride-1 convolution of ``x`` into ``out`` (their shapes), or ValueError."""
    cdef Py_ssize_t n = x[0], H = x[1], Wd = x[2], C = x[3], Ho = out[1], Wo = out[2], F = out[3]
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
    cdef Plan p
    p.H, p.W, p.C, p.Ho, p.Wo, p.F = H, Wd, C, Ho, Wo, F
    p.pad_top, p.pad_left = pad_top, pad_left
    p.tiles_h = (Ho + TILE_OUT - 1) // TILE_OUT
    p.tiles_w = (Wo + TILE_OUT - 1) // TILE_OUT
    return p


def workspace_size(Py_ssize_t n, Py_ssize_t H, Py_ssize_t W, Py_ssize_t C, Py_ssize_t F,
                   int pad_top, int pad_left, int n_threads=1, int block_tiles=128,
                   bint backward=True):
    """Values of scratch that one :func:`winograd_backward` call allocates
    (:func:`winograd_forward`'s with ``backward=False``).

    For a batch of ``n`` (H, W, C) images and ``F`` filters with "same"
    (``pad = 1``) or "valid" (``pad = 0``) padding: the transformed filters
    ``U`` and their transform's scratch (``(36 + 18) * C * F``); per
    thread, ``V`` and ``M`` for one block of about ``block_tiles`` tiles and
    a tile's scratch; backward, each part's ``dU`` and ``db`` (at most
    ``PARTS_PER_THREAD`` parts per thread). It grows with the threads and the
    block, not with ``n`` (beyond a few blocks per thread).
    """
    cdef Py_ssize_t ho = H + 2 * pad_top - 2, wo = W + 2 * pad_left - 2
    cdef Py_ssize_t[8] xs = [n, H, W, C, 0, 0, 0, 0]
    cdef Py_ssize_t[8] ws = [9 * C, F, 0, 0, 0, 0, 0, 0]
    cdef Py_ssize_t[8] os = [n, ho, wo, F, 0, 0, 0, 0]
    cdef Plan p = _check(xs, ws, os, F, pad_top, pad_left, "workspace_size")
    cdef Blocks blocks = _blocks(n, p, n_threads, block_tiles)
    return (54 * C * F + blocks.T * _per_thread(p, blocks.S)
            + (_parts(blocks.n_blocks, blocks.T) * (POSITIONS * C * F + F) if backward else 0))


# ---------------------------------------------------------------- the layer passes
def winograd_forward(const floating[:, :, :, ::1] x, const floating[:, ::1] W,
                     const floating[::1] b, floating[:, :, :, ::1] out, int pad_top,
                     int pad_left, int activation, int n_threads=1, int block_tiles=128):
    """``out = f(conv3x3(x, W) + b)`` by Winograd's F(4x4, 3x3), block by block.

    Parameters
    ----------
    x : (n, H, W, C) input images.
    W : (9 * C, F) weights, row ``(ky * 3 + kx) * C + c`` (as in ``_conv.pyx``);
        ``b`` : (F,) biases.
    out : (n, Ho, Wo, F) output, written. ``pad_top`` and ``pad_left`` are the
        zero padding at the top and left; ``Ho`` and ``Wo`` then say how much
        the bottom and right have (0 to 2 each): ``Ho = H`` with pad 1 is
        "same", ``Ho = H - 2`` with pad 0 is "valid".
    activation : activation code (see ``_activations.pxd``).
    n_threads : OpenMP threads (BLAS must run single-threaded, see ``_gemm.pxd``).
    block_tiles : tiles per block of samples; the per-thread scratch grows with it.
    """
    cdef Plan p = _check(x.shape, W.shape, out.shape, b.shape[0], pad_top, pad_left,
                         "winograd_forward")
    cdef Py_ssize_t n = x.shape[0], C = p.C, F = p.F, CF = p.C * p.F
    if n == 0 or F == 0:
        return
    dtype = np.float32 if floating is float else np.float64
    cdef Blocks blocks = _blocks(n, p, n_threads, block_tiles)
    cdef Py_ssize_t S = blocks.S, n_blocks = blocks.n_blocks
    cdef int T = blocks.T
    cdef Py_ssize_t P = S * p.tiles_h * p.tiles_w
    cdef floating[::1] U = np.empty(POSITIONS * CF, dtype)
    cdef floating[::1] filter_tmp = np.empty(18 * CF, dtype)
    cdef floating[:, ::1] work = np.empty((T, _per_thread(p, S)), dtype)
    cdef Py_ssize_t blk, s0, s1
    cdef floating *V
    cdef floating *M
    with nogil:
        _filters(&W[0, 0], &U[0], CF, &filter_tmp[0], threads_for(POSITIONS * 9 * CF, n_threads))
        # blocks go to whichever thread is free: a thread slowed by the machine
        # does fewer of them (the blocks' outputs do not overlap)
        for blk in prange(n_blocks, schedule="dynamic", num_threads=T):
            V = &work[threadid(), 0]                 # V, M, then a tile's scratch
            M = V + POSITIONS * P * C
            s0 = blk * S
            s1 = min(s0 + S, n)
            _forward_block(&x[0, 0, 0, 0], &U[0], &b[0], &out[0, 0, 0, 0], p, s0, s1,
                           activation, V, M, M + POSITIONS * P * F)


def winograd_backward(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] out,
                      floating[:, :, :, ::1] grad, const floating[:, ::1] W,
                      floating[:, ::1] dW, floating[::1] db, floating[:, :, :, ::1] dx,
                      int pad_top, int pad_left, int activation, int n_threads=1,
                      int block_tiles=128):
    """The backward pass of :func:`winograd_forward`, block by block.

    Parameters
    ----------
    x : (n, H, W, C) the forward input; ``out`` : (n, Ho, Wo, F) its output ``A``.
    grad : (n, Ho, Wo, F) ``dL/dA``; overwritten with ``dL/dZ``.
    W : (9 * C, F) weights. ``dW`` (9 * C, F) and ``db`` (F,): gradients, written.
    dx : (n, H, W, C) ``dL/dX``, written; or None to skip it (first layer).
    The other arguments are those of the forward call.
    """
    cdef Plan p = _check(x.shape, W.shape, out.shape, db.shape[0], pad_top, pad_left,
                         "winograd_backward")
    cdef Py_ssize_t n = x.shape[0], C = p.C, F = p.F, CF = p.C * p.F
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
    cdef Blocks blocks = _blocks(n, p, n_threads, block_tiles)
    cdef Py_ssize_t S = blocks.S, n_blocks = blocks.n_blocks
    cdef int T = blocks.T
    cdef Py_ssize_t n_parts = _parts(n_blocks, T)
    cdef Py_ssize_t P = S * p.tiles_h * p.tiles_w
    cdef floating[::1] U = np.empty(POSITIONS * CF, dtype)
    cdef floating[::1] filter_tmp = np.empty(18 * CF, dtype)
    # a thread's scratch: V, dM, a tile's scratch; a part's sums: dU, then db
    cdef floating[:, ::1] work = np.empty((T, _per_thread(p, S)), dtype)
    cdef floating[:, ::1] sums = np.empty((n_parts, POSITIONS * CF + F), dtype)
    cdef int t, T_filters = threads_for(POSITIONS * 9 * CF, n_threads)
    cdef Py_ssize_t part, u, i0, i1, s0, s1, j0, j1, k, f
    cdef floating *V
    cdef floating *dM
    cdef floating *dU
    cdef floating *dx_ptr = &dx[0, 0, 0, 0] if need_dx else NULL
    cdef floating beta
    with nogil:
        _filters(&W[0, 0], &U[0], CF, &filter_tmp[0], T_filters)
        # the samples are cut into parts, each with its own dU and db, which
        # go to whichever thread is free (a thread slowed by the machine does
        # fewer); the parts' sums are added in part order, so the result does
        # not depend on which thread did which
        for part in prange(n_parts, schedule="dynamic", num_threads=T):
            V = &work[threadid(), 0]
            dM = V + POSITIONS * P * C
            dU = &sums[part, 0]
            memset(dU + POSITIONS * CF, 0, F * sizeof(floating))     # the part's db
            beta = 0                                # the first block overwrites dU
            i0 = n * part // n_parts
            i1 = n * (part + 1) // n_parts
            s0 = i0
            while s0 < i1:
                s1 = min(s0 + S, i1)
                _backward_block(&x[0, 0, 0, 0], &out[0, 0, 0, 0], &grad[0, 0, 0, 0], &U[0],
                                p, s0, s1, activation, V, dM, dM + POSITIONS * P * F, dU,
                                beta, dU + POSITIONS * CF, dx_ptr)
                beta = 1
                s0 = s1
        # add the parts' dU in part order, then dW = G^T dU G
        for t in prange(T_filters, schedule="static", num_threads=T_filters):
            j0 = CF * t // T_filters
            j1 = CF * (t + 1) // T_filters
            dU = &sums[0, 0]
            for u in range(1, n_parts):
                for k in range(POSITIONS):
                    add_row(dU + k * CF + j0, &sums[u, k * CF + j0], j1 - j0)
            _filter_transform_adjoint(dU, &dW[0, 0], CF, j0, j1, &filter_tmp[0] + 18 * j0)
    for u in range(n_parts):                        # db, in part order
        for f in range(F):
            db[f] += sums[u, POSITIONS * CF + f]

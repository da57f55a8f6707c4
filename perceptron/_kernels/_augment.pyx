"""Data augmentation: gather a mini-batch and transform each image, in one pass.

:func:`augment_batch` writes ``out[k] = transformed(X[rows[k]])`` for every
image ``k`` of a batch: the gather of the training loop and the random
transform are one pass over the batch, and each output pixel is read from
the source image where the transform sends it.

Coordinates
-----------
Pixel ``(i, j)`` (row, column) of an ``h x w`` image sits at the point
``p = (x, y) = (j, i)``: ``x`` to the right, ``y`` down, the centre of the
image at ``c = ((w - 1) / 2, (h - 1) / 2)``. Every transform turns the image
about its centre.

The affine part: one 2x3 matrix per image
-----------------------------------------
Image ``k`` is flipped (``F``), zoomed (``S``), sheared (``H``), rotated
(``R``) and shifted (``t``), in that order; a point ``q`` of the source
image lands at ::

    T(q) = c + t + R H S F (q - c)

    F = [[f, 0], [0, 1]]          f = -1 (mirrored left-right) or 1
    S = [[s, 0], [0, s]]          s: the zoom factor, > 1 enlarges
    H = [[1, tan(phi)], [0, 1]]   phi: the shear angle (x moves with y)
    R = [[cos(a), sin(a)], [-sin(a), cos(a)]]
                                  a: the angle, counter-clockwise on screen
                                  (with y pointing down)

Output pixel ``p`` takes its value from the source point ``q = T^-1(p)``.
Inverting each factor (``F^-1 = F``, ``S^-1 = I / s``, ``H^-1`` shears by
``-tan(phi)``, ``R^-1`` rotates back) gives ::

    q = M p + b,    M = F S^-1 H^-1 R^-1
                      = (1 / s) [[f (cos a - tau sin a), -f (sin a + tau cos a)],
                                 [sin a,                  cos a             ]]
                    b = c - M (c + t),   tau = tan(phi)

so the whole affine transform is the six numbers ``M, b`` per image
(:func:`_inverse_map`), computed once, and a pixel costs two multiply-adds.
With every magnitude 0, ``M = I`` and ``b = 0``: the identity, exactly.

The elastic part (Simard, Steinkraus and Platt, 2003)
------------------------------------------------------
Two fields of independent numbers uniform in ``[-1, 1)``, ``u_x`` and
``u_y``, one per pixel, smoothed by a Gaussian of standard deviation
``sigma`` and scaled by ``alpha`` give a smooth random displacement ::

    d(p) = alpha * (G_sigma * u)(p),       q = M p + b + d(p)

A small ``sigma`` makes the field nearly random (the strokes crumble), a
large one nearly uniform (a shift); Simard et al. used ``sigma = 4``,
``alpha = 34`` for 28x28 digits. The Gaussian is truncated at
``r = int(4 sigma + 0.5)`` pixels and normalised to sum to 1 (as
``scipy.ndimage.gaussian_filter`` does) and, being separable, is applied as
two 1-D passes (:func:`_elastic_field`): along the rows, then along the
columns, ``(2 r + 1)`` multiply-adds per value each instead of
``(2 r + 1)^2``. The noise is drawn on the image grown by ``r`` pixels on
each side, so that every pixel's field is the smoothing of
``(2 r + 1)^2`` fresh numbers, up to the border: no padding rule thins or
repeats the noise there.

Bilinear sampling, zero outside
-------------------------------
The value at ``q = (x0 + fx, y0 + fy)`` (``x0, y0`` integers, ``fx, fy`` in
``[0, 1)``) is the blend of its four neighbours ::

    (1 - fy) ((1 - fx) v[y0, x0]     + fx v[y0, x0 + 1])
    +    fy  ((1 - fx) v[y0 + 1, x0] + fx v[y0 + 1, x0 + 1])

with pixels outside the image counted as 0 (the background of a digit or
a garment), so an image shifted out of the frame fades to black instead of
smearing its border (``scipy.ndimage.map_coordinates(order=1,
mode="grid-constant")`` and PyTorch's ``grid_sample(padding_mode="zeros")``
do the same). Channels share the transform.

Random numbers, and threads
---------------------------
A seed per batch (drawn from the estimator's random stream) and the hash of
``(seed, counter)`` of the dropout kernel (``_dropout_mask.pxd``). Image
``k`` of the batch owns the counters ``k S ... k S + S - 1``, where
``S = 8 + (h + 2 r) (w + 2 r)``:

* counter ``k S + j``, ``j = 0 .. 5``: shift ``x``, shift ``y``, angle,
  zoom, shear and flip, each ``u = (hash >> 11) / 2^53`` in ``[0, 1)``; a
  magnitude ``m`` makes ``m (2 u - 1)``, uniform in ``[-m, m)``; the zoom
  factor is ``1 + zoom (2 u - 1)``, and the image is flipped when ``u < 1/2``;
* counter ``k S + 8 + g``: the elastic noise at point ``g`` of the grown
  grid (row-major), ``u_x`` from the hash's high 32 bits and ``u_y`` from
  its low 32 bits, each ``bits / 2^31 - 1``.

So an image's transform depends on the seed and its place in the batch
alone: the threads share the batch in blocks of images, and the batch is
the same for any number of threads, in any order. Each thread keeps its own
scratch for the elastic field.

Everything is fused float32/float64 (``floating``); the coordinates and the
field are computed in double precision.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport cos, exp, sin, tan
from libc.stdlib cimport calloc, free, malloc
from libc.stdint cimport uint32_t, uint64_t

from ._dropout_mask cimport counter_hash
from ._openmp cimport threads_for


cdef enum:
    # counters of an image before its elastic noise (six are drawn)
    DRAWS_PER_IMAGE = 8

cdef double DEGREE = 0.017453292519943295  # pi / 180


cdef struct Plan:
    # image shape, and the strides of row, column and channel in a row of X
    Py_ssize_t h, w, c, sy, sx, sc
    # the centre
    double cx, cy
    # magnitudes: pixels, radians, fraction, radians; whether to flip
    double shift, rotation, zoom, shear
    bint flip
    # elastic: scale, Gaussian radius (0: no field), the grown grid
    double alpha
    Py_ssize_t radius, hp, wp
    # the batch's seed and the counters per image
    uint64_t seed, stride


cdef struct Affine:
    # source point of pixel (x, y): (m00 x + m01 y + b0, m10 x + m11 y + b1)
    double m00, m01, m10, m11, b0, b1


cdef inline double uniform(uint64_t seed, uint64_t i) noexcept nogil:
    """Counter ``i`` of stream ``seed`` as a number in [0, 1) (its top 53 bits)."""
    return <double>(counter_hash(seed, i) >> 11) * (1.0 / 9007199254740992.0)


cdef inline double symmetric(uint64_t seed, uint64_t i, double magnitude) noexcept nogil:
    """Counter ``i`` as a number in [-magnitude, magnitude)."""
    return magnitude * (2.0 * uniform(seed, i) - 1.0)


cdef Affine _inverse_map(const Plan *p, Py_ssize_t k) noexcept nogil:
    """``M, b`` of image ``k``: where each output pixel reads the source."""
    cdef uint64_t first = <uint64_t>k * p.stride
    cdef double tx = symmetric(p.seed, first, p.shift)
    cdef double ty = symmetric(p.seed, first + 1, p.shift)
    cdef double angle = symmetric(p.seed, first + 2, p.rotation)
    cdef double s = 1.0 + symmetric(p.seed, first + 3, p.zoom)
    cdef double tau = tan(symmetric(p.seed, first + 4, p.shear))
    cdef double f = -1.0 if p.flip and uniform(p.seed, first + 5) < 0.5 else 1.0
    cdef double ca = cos(angle), sa = sin(angle)
    cdef Affine a
    a.m00 = f * (ca - tau * sa) / s
    a.m01 = -f * (sa + tau * ca) / s
    a.m10 = sa / s
    a.m11 = ca / s
    a.b0 = p.cx - (a.m00 * (p.cx + tx) + a.m01 * (p.cy + ty))
    a.b1 = p.cy - (a.m10 * (p.cx + tx) + a.m11 * (p.cy + ty))
    return a


cdef void _elastic_field(const Plan *p, Py_ssize_t k, const floating *gauss, floating *dx,
                         floating *dy, floating *scratch) noexcept nogil:
    """Image ``k``'s displacement field: ``dx`` and ``dy``, ``h x w`` each.

    The noise on the grown ``hp x wp`` grid, then the Gaussian along each row
    (into ``hp x w`` values), then along each column (into ``h x w``),
    times ``alpha``.
    """
    cdef Py_ssize_t h = p.h, w = p.w, hp = p.hp, wp = p.wp, taps = 2 * p.radius + 1
    cdef Py_ssize_t i, g
    cdef floating *rx = scratch
    cdef floating *ry = rx + hp * w
    cdef floating *nx = ry + hp * w
    cdef floating *ny = nx + hp * wp
    cdef floating alpha = <floating>p.alpha
    cdef uint64_t bits, first = <uint64_t>k * p.stride + DRAWS_PER_IMAGE
    for g in range(hp * wp):
        bits = counter_hash(p.seed, first + <uint64_t>g)
        nx[g] = <floating>(<double>(bits >> 32) * (1.0 / 2147483648.0) - 1.0)
        ny[g] = <floating>(<double>(<uint32_t>bits) * (1.0 / 2147483648.0) - 1.0)
    # along the rows: r[i, j] = sum_t gauss[t] * n[i, j + t]
    _smooth(nx, rx, gauss, hp, w, wp, 1, taps)
    _smooth(ny, ry, gauss, hp, w, wp, 1, taps)
    # along the columns: d[i, j] = sum_t gauss[t] * r[i + t, j]
    _smooth(rx, dx, gauss, h, w, w, w, taps)
    _smooth(ry, dy, gauss, h, w, w, w, taps)
    for i in range(h * w):
        dx[i] *= alpha
        dy[i] *= alpha


cdef inline void _smooth(const floating *src, floating *dst, const floating *gauss,
                         Py_ssize_t rows, Py_ssize_t w, Py_ssize_t row_stride,
                         Py_ssize_t tap_stride, Py_ssize_t taps) noexcept nogil:
    """``dst[i, j] = sum_t gauss[t] * src[i * row_stride + t * tap_stride + j]``.

    One pass of the separable Gaussian, ``rows x w`` values: along the rows
    of ``src`` with ``tap_stride`` 1, along its columns with ``tap_stride``
    its row length. One weight at a time over a contiguous row, so that the
    compiler vectorises the inner loop.
    """
    cdef Py_ssize_t i, j, t
    cdef const floating *s
    cdef floating *d
    cdef floating gt
    for i in range(rows):
        d = dst + i * w
        for j in range(w):
            d[j] = 0
        for t in range(taps):
            gt = gauss[t]
            s = src + i * row_stride + t * tap_stride
            for j in range(w):
                d[j] += gt * s[j]


cdef void _augment_image(const floating *src, floating *dst, Py_ssize_t k, const Plan *p,
                         const floating *gauss, floating *work, int *offset) noexcept nogil:
    """``dst`` = image ``k`` of the batch, transformed from ``src``.

    The image is first copied, channel by channel, into ``work``'s planes
    of ``(h + 3) x (w + 3)`` values whose border (one row and column before
    the image, two after) the caller has zeroed: every source point,
    clamped to ``[-1, w] x [-1, h]``, then has its four neighbours in the
    plane, and those off the image are the zeros around it. Each output row
    is then two loops: the source points, their neighbours' place in the
    plane (``offset``) and their fractions ``fx, fy``, without a branch
    (the compiler vectorises it); and for each channel the blend of the
    four neighbours.
    """
    cdef Affine a = _inverse_map(p, k)
    cdef int i, j, ch, h = p.h, w = p.w, c = p.c, wp = p.w + 3
    cdef Py_ssize_t plane = (h + 3) * wp, sy = p.sy, sx = p.sx, sc = p.sc
    cdef bint elastic = p.radius > 0
    cdef floating *padded = work
    cdef floating *fx = padded + c * plane
    cdef floating *fy = fx + w
    cdef floating *dx = fy + w
    cdef floating *dy = dx + h * w
    cdef floating m00 = <floating>a.m00, m10 = <floating>a.m10, x_i, y_i, x, y
    cdef floating low = -1, right = w, bottom = h, one = 1  # (literals would be doubles)
    cdef floating top_row, bottom_row
    cdef const floating *s
    cdef floating *o
    for ch in range(c):
        for i in range(h):
            for j in range(w):
                padded[ch * plane + (i + 1) * wp + j + 1] = src[i * sy + j * sx + ch * sc]
    if elastic:
        _elastic_field(p, k, gauss, dx, dy, dy + h * w)
    for i in range(h):
        x_i = <floating>(a.m01 * i + a.b0)
        y_i = <floating>(a.m11 * i + a.b1)
        for j in range(w):
            x = m00 * j + x_i
            y = m10 * j + y_i
            if elastic:
                x = x + dx[i * w + j]
                y = y + dy[i * w + j]
            x = low if x < low else x
            x = right if x > right else x
            y = low if y < low else y
            y = bottom if y > bottom else y
            # in the plane's coordinates, >= 0: truncation is the floor
            x = x + one
            y = y + one
            offset[j] = <int>y * wp + <int>x
            fx[j] = x - <int>x
            fy[j] = y - <int>y
        for ch in range(c):
            o = dst + i * sy + ch * sc
            for j in range(w):
                s = padded + ch * plane + offset[j]
                top_row = s[0] + fx[j] * (s[1] - s[0])
                bottom_row = s[wp] + fx[j] * (s[wp + 1] - s[wp])
                o[j * sx] = top_row + fy[j] * (bottom_row - top_row)


cdef inline Py_ssize_t gaussian_radius(double sigma) noexcept nogil:
    """Half-width of the truncated Gaussian of ``sigma`` (scipy's default, 4 sigma)."""
    return <Py_ssize_t>(4.0 * sigma + 0.5)


def augment_batch(const floating[:, ::1] X, const Py_ssize_t[::1] rows, floating[:, ::1] out,
                  image_shape, bint channels_last, double shift=0.0, double rotation=0.0,
                  double zoom=0.0, double shear=0.0, bint flip=False, double alpha=0.0,
                  double sigma=1.0, uint64_t seed=0, int n_threads=1):
    """``out[k] = X[rows[k]]`` moved by image ``k``'s random transform.

    Parameters
    ----------
    X : ndarray of shape (n_samples, channels * height * width)
        The images, one per row.
    rows : ndarray of shape (m,), dtype intp
        The batch: indices into ``X``.
    out : ndarray of shape (m, channels * height * width)
        Same dtype as ``X``; written entirely.
    image_shape : (channels, height, width)
    channels_last : bool
        How a row holds an image: ``(height, width, channels)`` (the CNN's
        NHWC input) or ``(channels, height, width)``.
    shift : float
        Each image moves by up to ``shift`` pixels along each axis.
    rotation, shear : float
        The largest angle, in degrees, of the rotation and of the shear.
    zoom : float in [0, 1)
        The zoom factor lies in ``[1 - zoom, 1 + zoom)``.
    flip : bool
        Mirror half the images left-right.
    alpha, sigma : float
        The elastic field's scale (pixels) and smoothness (0 alpha: none).
    seed : int
        The batch's seed: with it, the batch is the same for any ``n_threads``.
    n_threads : int
    """
    cdef Py_ssize_t n = rows.shape[0], n_rows = X.shape[0], d = X.shape[1], k, j
    cdef Py_ssize_t c, h, w
    cdef Plan p
    cdef int t, team
    c, h, w = image_shape
    if c < 1 or h < 1 or w < 1 or c * h * w != d or d >= 2**31:
        raise ValueError(f"augment_batch: image_shape {image_shape!r} does not hold the "
                         f"{d} values of a row of X")
    if out.shape[0] != n or out.shape[1] != d:
        raise ValueError("augment_batch: out must have shape (len(rows), X.shape[1])")
    if not (0 <= zoom < 1 and 0 <= rotation and 0 <= shear < 90 and 0 <= shift
            and 0 <= alpha and sigma > 0):
        raise ValueError("augment_batch: a magnitude is out of its range")
    for k in range(n):
        if rows[k] < 0 or rows[k] >= n_rows:
            raise IndexError(f"augment_batch: row {rows[k]} out of range [0, {n_rows})")
    if n == 0:
        return
    p.h, p.w, p.c = h, w, c
    if channels_last:
        p.sy, p.sx, p.sc = w * c, c, 1
    else:
        p.sy, p.sx, p.sc = w, 1, h * w
    p.cx, p.cy = (w - 1) / 2.0, (h - 1) / 2.0
    p.shift, p.rotation, p.zoom, p.shear = shift, rotation * DEGREE, zoom, shear * DEGREE
    p.flip, p.alpha = flip, alpha
    p.radius = gaussian_radius(sigma) if alpha > 0 else 0
    p.hp, p.wp = h + 2 * p.radius, w + 2 * p.radius
    p.seed, p.stride = seed, DRAWS_PER_IMAGE + p.hp * p.wp
    # per thread: the padded planes (c (h + 3) (w + 3)), a row's fractions
    # (2 w) and, for the elastic field, the field (2 h w), its first pass
    # (2 hp w) and its noise (2 hp wp); a row's offsets (w)
    cdef Py_ssize_t size = c * (h + 3) * (w + 3) + 2 * w + (
        2 * (h * w + p.hp * w + p.hp * p.wp) if p.radius else 0)
    cdef floating *work
    cdef int *offset
    cdef floating *gauss = NULL
    cdef double total = 0
    cdef bint failed = False
    # the Gaussian's weights, normalised to sum to 1 (as scipy.ndimage's)
    if p.radius:
        gauss = <floating *>malloc((2 * p.radius + 1) * sizeof(floating))
        if gauss == NULL:
            raise MemoryError()
        for j in range(2 * p.radius + 1):
            total += exp(-0.5 * ((j - p.radius) / sigma) ** 2)
        for j in range(2 * p.radius + 1):
            gauss[j] = <floating>(exp(-0.5 * ((j - p.radius) / sigma) ** 2) / total)
    # work per image: each pixel's sample, plus the field's two passes
    team = min(threads_for(n * d * (2 + p.radius), n_threads), n)
    for t in prange(team, nogil=True, schedule="static", num_threads=team):
        work = <floating *>calloc(size, sizeof(floating))  # (the planes' zero border)
        offset = <int *>malloc(w * sizeof(int))
        if work == NULL or offset == NULL:
            failed |= True
        else:
            for k in range(n * t // team, n * (t + 1) // team):
                _augment_image(&X[rows[k], 0], &out[k, 0], k, &p, gauss, work, offset)
        free(work)
        free(offset)
    free(gauss)
    if failed:
        raise MemoryError()

"""Kernels of 2D max-pooling on NHWC images.

Forward: each output ``out[i, oy, ox, c]`` is the maximum of the
``pool_h x pool_w`` window of channel ``c`` whose top-left corner is
``(oy * stride, ox * stride)``. We also record *where* the maximum was
(``argmax``: the flat offset ``(y * W + x) * C + c`` inside sample ``i``'s
image), because that is all the backward pass needs::

    dx[i].flat[argmax[i, oy, ox, c]] += grad[i, oy, ox, c]     (zero elsewhere)

The gradient of a maximum flows only to the entry that won. Ties go to the
first entry in row-major window order. Both loops run over the batch with
``prange``; sample ``i`` writes only into its own image, so there are no races
(and ``+=`` makes overlapping windows, ``stride < pool``, correct too).

The forward pass makes two sweeps over each window: the maxima first (a
branch-free ``max`` per channel, which vectorizes over the channels), then
their positions (an equality test per entry, which vectorizes too). One
sweep that tracked value and position together would need a data-dependent
branch per entry, which the compiler cannot vectorize: two vectorized
sweeps cost less.

Only "valid" pooling: windows that would hang over the border are dropped,
``Ho = (H - pool_h) // stride + 1`` (Keras' default).
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memset

from ._openmp cimport threads_for


cdef void _maxpool_image(const floating *x, floating *out, int *argmax, Py_ssize_t H,
                         Py_ssize_t W, Py_ssize_t C, Py_ssize_t Ho, Py_ssize_t Wo,
                         Py_ssize_t pool_h, Py_ssize_t pool_w,
                         Py_ssize_t stride) noexcept nogil:
    """Max-pool one (H, W, C) image into (Ho, Wo, C); record the winners' offsets."""
    cdef Py_ssize_t oy, ox, py, px, c, off, corner
    cdef const floating *src
    cdef floating *m
    cdef int *arg
    for oy in range(Ho):
        for ox in range(Wo):
            m = out + (oy * Wo + ox) * C
            arg = argmax + (oy * Wo + ox) * C
            corner = (oy * stride * W + ox * stride) * C   # window's top-left pixel
            # pass 1: the maximum of each channel over the window
            for c in range(C):
                m[c] = x[corner + c]
            for py in range(pool_h):
                for px in range(pool_w):
                    src = x + corner + (py * W + px) * C
                    for c in range(C):
                        m[c] = src[c] if src[c] > m[c] else m[c]
            # pass 2: where it is -- scanning the window backwards, so that the
            # last match written is the first one in row-major order
            for c in range(C):
                arg[c] = <int>(corner + c)
            for py in range(pool_h - 1, -1, -1):
                for px in range(pool_w - 1, -1, -1):
                    off = corner + (py * W + px) * C
                    for c in range(C):
                        arg[c] = <int>(off + c) if x[off + c] == m[c] else arg[c]


def maxpool_forward(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out,
                    int[:, :, :, ::1] argmax, int pool_h, int pool_w, int stride,
                    int n_threads=1):
    """``out`` = window maxima of ``x``; ``argmax`` = their offsets in the image."""
    cdef Py_ssize_t n = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3]
    cdef Py_ssize_t Ho = out.shape[1], Wo = out.shape[2]
    if (out.shape[0] != n or out.shape[3] != C or argmax.shape[0] != n
            or argmax.shape[1] != Ho or argmax.shape[2] != Wo or argmax.shape[3] != C
            or Ho != (H - pool_h) // stride + 1 or Wo != (W - pool_w) // stride + 1):
        raise ValueError("maxpool_forward: shapes do not agree")
    if n == 0 or Ho * Wo * C == 0:
        return
    cdef Py_ssize_t i
    # one image per iteration; the loop body is a function call on raw pointers,
    # which lets the compiler vectorize the channel loops (see _conv.pyx)
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n * H * W * C, n_threads)):
        _maxpool_image(&x[i, 0, 0, 0], &out[i, 0, 0, 0], &argmax[i, 0, 0, 0], H, W, C,
                       Ho, Wo, pool_h, pool_w, stride)


cdef void _unpool_image(const floating *grad, const int *argmax, floating *dx,
                        Py_ssize_t m, Py_ssize_t size) noexcept nogil:
    cdef Py_ssize_t j
    memset(dx, 0, size * sizeof(floating))
    for j in range(m):
        dx[argmax[j]] += grad[j]


def maxpool_backward(const floating[:, :, :, ::1] grad, const int[:, :, :, ::1] argmax,
                     floating[:, :, :, ::1] dx, int n_threads=1):
    """``dx = 0``, then route each output gradient to its window's maximum."""
    cdef Py_ssize_t n = dx.shape[0], H = dx.shape[1], W = dx.shape[2], C = dx.shape[3]
    cdef Py_ssize_t Ho = grad.shape[1], Wo = grad.shape[2]
    if (grad.shape[0] != n or grad.shape[3] != C or argmax.shape[0] != n
            or argmax.shape[1] != Ho or argmax.shape[2] != Wo or argmax.shape[3] != C):
        raise ValueError("maxpool_backward: shapes do not agree")
    if n == 0 or H * W * C == 0:
        return
    if Ho * Wo * C == 0:
        dx[...] = 0
        return
    cdef Py_ssize_t i
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n * H * W * C, n_threads)):
        _unpool_image(&grad[i, 0, 0, 0], &argmax[i, 0, 0, 0], &dx[i, 0, 0, 0],
                      Ho * Wo * C, H * W * C)

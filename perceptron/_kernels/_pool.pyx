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

Only "valid" pooling: windows that would hang over the border are dropped,
``Ho = (H - pool_h) // stride + 1`` (Keras' default).
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memset


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
    cdef Py_ssize_t i, oy, ox, py, px, c, y, xx, off
    cdef floating v, m
    cdef int a
    cdef const floating *src
    cdef floating *dst
    cdef int *arg
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        for oy in range(Ho):
            for ox in range(Wo):
                dst = &out[i, oy, ox, 0]
                arg = &argmax[i, oy, ox, 0]
                # start from the window's top-left pixel, all channels at once ...
                y = oy * stride
                xx = ox * stride
                off = (y * W + xx) * C
                src = &x[i, 0, 0, 0] + off
                for c in range(C):
                    dst[c] = src[c]
                    arg[c] = <int>(off + c)
                # ... and let every other pixel of the window challenge it. The
                # comparisons are written as selects (no branch), which the
                # compiler turns into vector blends over the channels.
                for py in range(pool_h):
                    for px in range(pool_w):
                        if py == 0 and px == 0:
                            continue
                        off = ((y + py) * W + xx + px) * C
                        src = &x[i, 0, 0, 0] + off
                        for c in range(C):
                            v = src[c]
                            m = dst[c]
                            a = arg[c]
                            dst[c] = v if v > m else m
                            arg[c] = <int>(off + c) if v > m else a


def maxpool_backward(const floating[:, :, :, ::1] grad, const int[:, :, :, ::1] argmax,
                     floating[:, :, :, ::1] dx, int n_threads=1):
    """``dx = 0``, then route each output gradient to its window's maximum."""
    cdef Py_ssize_t n = dx.shape[0], H = dx.shape[1], W = dx.shape[2], C = dx.shape[3]
    cdef Py_ssize_t Ho = grad.shape[1], Wo = grad.shape[2]
    if (grad.shape[0] != n or grad.shape[3] != C or argmax.shape[0] != n
            or argmax.shape[1] != Ho or argmax.shape[2] != Wo or argmax.shape[3] != C):
        raise ValueError("maxpool_backward: shapes do not agree")
    cdef Py_ssize_t i, j, m = Ho * Wo * C
    cdef floating *img
    cdef const floating *g
    cdef const int *arg
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        img = &dx[i, 0, 0, 0]
        memset(img, 0, H * W * C * sizeof(floating))
        if m == 0:
            continue
        g = &grad[i, 0, 0, 0]
        arg = &argmax[i, 0, 0, 0]
        for j in range(m):
            img[arg[j]] += g[j]

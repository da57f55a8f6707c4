"""Kernels of 2D max-pooling on NHWC images.

Forward: each output ``out[i, oy, ox, c]`` is the maximum of channel ``c``
over the ``pool_h x pool_w`` window whose top-left corner is
``(oy * stride - pad_top, ox * stride - pad_left)``, *clipped to the image*:
a window that hangs over an edge takes the maximum of the pixels it does
cover, as if the image were padded with ``-inf`` (Keras' and TensorFlow's
``padding="same"`` pooling; PyTorch's ``ceil_mode``). Every window must
cover at least one pixel; the layer (``MaxPool2D``) chooses the output size
and the padding, and with no padding and an output of ``(H - pool_h) //
stride + 1`` rows no window hangs over (Keras' "valid" pooling).

We also record *where* the maximum was (``argmax``: the flat offset
``(y * W + x) * C + c`` inside sample ``i``'s image), because that is all
the backward pass needs::

    dx[i].flat[argmax[i, oy, ox, c]] += grad[i, oy, ox, c]     (zero elsewhere)

The gradient of a maximum flows only to the entry that won, which is always
a pixel of the image (padding never wins, so it needs no gradient). Ties go
to the first entry in row-major window order. Both loops run over the batch
with ``prange``; sample ``i`` writes only into its own image, so there are no
races (and ``+=`` makes overlapping windows, ``stride < pool``, correct too).

The forward pass makes two sweeps over each window: the maxima first (a
branch-free ``max`` per channel, which vectorizes over the channels), then
their positions (an equality test per entry, which vectorizes too). One
sweep that tracked value and position together would need a data-dependent
branch per entry, which the compiler cannot vectorize: two vectorized
sweeps cost less. Clipping costs nothing inside the sweeps: each window's
row and column bounds are computed once, before them.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memset

from ._openmp cimport threads_for


cdef inline Py_ssize_t _clip(Py_ssize_t v, Py_ssize_t hi) noexcept nogil:
    """``v`` clipped to ``[0, hi]``."""
    return 0 if v < 0 else (hi if v > hi else v)


cdef void _maxpool_image(const floating *x, floating *out, int *argmax, Py_ssize_t H,
                         Py_ssize_t W, Py_ssize_t C, Py_ssize_t Ho, Py_ssize_t Wo,
                         Py_ssize_t pool_h, Py_ssize_t pool_w, Py_ssize_t stride,
                         Py_ssize_t pad_top, Py_ssize_t pad_left) noexcept nogil:
    """Max-pool one (H, W, C) image into (Ho, Wo, C); record the winners' offsets."""
    cdef Py_ssize_t oy, ox, y, xx, y0, y1, x0, x1, c, off, first
    cdef const floating *src
    cdef floating *m
    cdef int *arg
    for oy in range(Ho):
        # the window's rows [y0, y1), clipped to the image
        y0 = _clip(oy * stride - pad_top, H)
        y1 = _clip(oy * stride - pad_top + pool_h, H)
        for ox in range(Wo):
            x0 = _clip(ox * stride - pad_left, W)
            x1 = _clip(ox * stride - pad_left + pool_w, W)
            m = out + (oy * Wo + ox) * C
            arg = argmax + (oy * Wo + ox) * C
            first = (y0 * W + x0) * C   # the window's top-left pixel in the image
            # pass 1: the maximum of each channel over the window
            for c in range(C):
                m[c] = x[first + c]
            for y in range(y0, y1):
                for xx in range(x0, x1):
                    src = x + (y * W + xx) * C
                    for c in range(C):
                        m[c] = src[c] if src[c] > m[c] else m[c]
            # pass 2: where it is -- scanning the window backwards, so that the
            # last match written is the first one in row-major order
            for c in range(C):
                arg[c] = <int>(first + c)
            for y in range(y1 - 1, y0 - 1, -1):
                for xx in range(x1 - 1, x0 - 1, -1):
                    off = (y * W + xx) * C
                    for c in range(C):
                        arg[c] = <int>(off + c) if x[off + c] == m[c] else arg[c]


cdef bint _windows_cover_pixels(Py_ssize_t size, Py_ssize_t out, Py_ssize_t pool,
                                Py_ssize_t stride, Py_ssize_t pad):
    """Whether each of ``out`` windows along an axis covers at least one of ``size`` pixels."""
    if out == 0:
        return True
    # the windows start at k * stride - pad: the first must end past pixel 0, the
    # last start inside the image (the ones between then cover a pixel too)
    return size > 0 and 0 <= pad < pool and (out - 1) * stride - pad < size


def maxpool_forward(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out,
                    int[:, :, :, ::1] argmax, int pool_h, int pool_w, int stride,
                    int pad_top=0, int pad_left=0, int n_threads=1):
    """``out`` = window maxima of ``x``; ``argmax`` = their offsets in the image.

    ``out``'s height and width give the number of windows; ``pad_top`` and
    ``pad_left`` shift them up and left (see the module docstring).
    """
    cdef Py_ssize_t n = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3]
    cdef Py_ssize_t Ho = out.shape[1], Wo = out.shape[2]
    if (out.shape[0] != n or out.shape[3] != C or argmax.shape[0] != n
            or argmax.shape[1] != Ho or argmax.shape[2] != Wo or argmax.shape[3] != C):
        raise ValueError("maxpool_forward: shapes do not agree")
    if pool_h < 1 or pool_w < 1 or stride < 1 or not (
            _windows_cover_pixels(H, Ho, pool_h, stride, pad_top)
            and _windows_cover_pixels(W, Wo, pool_w, stride, pad_left)):
        raise ValueError(
            f"maxpool_forward: {Ho}x{Wo} windows of {pool_h}x{pool_w}, stride {stride}, "
            f"padding ({pad_top}, {pad_left}) do not all cover a pixel of the {H}x{W} image")
    if n == 0 or Ho * Wo * C == 0:
        return
    cdef Py_ssize_t i
    # one image per iteration; the loop body is a function call on raw pointers,
    # which lets the compiler vectorize the channel loops (see _conv.pyx)
    for i in prange(n, nogil=True, schedule="dynamic",
                    num_threads=threads_for(n * H * W * C, n_threads)):
        _maxpool_image(&x[i, 0, 0, 0], &out[i, 0, 0, 0], &argmax[i, 0, 0, 0], H, W, C,
                       Ho, Wo, pool_h, pool_w, stride, pad_top, pad_left)


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
    for i in prange(n, nogil=True, schedule="dynamic",
                    num_threads=threads_for(n * H * W * C, n_threads)):
        _unpool_image(&grad[i, 0, 0, 0], &argmax[i, 0, 0, 0], &dx[i, 0, 0, 0],
                      Ho * Wo * C, H * W * C)

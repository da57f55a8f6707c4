"""Kernels of a dense (fully connected) layer.

A dense layer computes ``A = f(X @ W + b)``. The product goes to BLAS
(:func:`matmul`); the rest -- adding the bias, applying the activation ``f``,
its derivative, and summing the bias gradient -- are cheap element-wise loops
that we run in parallel with OpenMP ``prange``.

Activation codes (shared with :mod:`perceptron.layers`):
``0`` identity, ``1`` relu, ``2`` sigmoid, ``3`` tanh.
Every derivative is written in terms of the activation's *output* ``A``, so the
layer keeps only ``A`` for the backward pass:
relu' = [A > 0], sigmoid' = A (1 - A), tanh' = 1 - A**2.
"""

from cython cimport floating
from cython.parallel cimport prange

from ._openmp cimport threads_for
from libc.math cimport exp, expf, tanh, tanhf

from ._gemm cimport gemm_parallel



def matmul(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, ::1] c,
           bint trans_a=False, bint trans_b=False,
           double alpha=1.0, double beta=0.0, int n_threads=1):
    """``c = alpha * op(a) @ op(b) + beta * c`` through BLAS, with no copies.

    ``op(x)`` is ``x.T`` when the matching ``trans_*`` flag is set. All arrays
    are C-contiguous and share one dtype (float32 or float64). The rows of
    ``c`` are split among ``n_threads`` OpenMP threads, each making one
    single-threaded BLAS call (see ``_gemm.pxd``).
    """
    cdef int m = a.shape[1] if trans_a else a.shape[0]
    cdef int k = a.shape[0] if trans_a else a.shape[1]
    cdef int kb = b.shape[1] if trans_b else b.shape[0]
    cdef int n = b.shape[0] if trans_b else b.shape[1]
    if k != kb or c.shape[0] != m or c.shape[1] != n:
        raise ValueError(
            f"matmul shapes do not agree: op(a) is ({m}, {k}), op(b) is ({kb}, {n}), "
            f"c is ({c.shape[0]}, {c.shape[1]})")
    if m == 0 or n == 0:
        return
    if k == 0:
        # BLAS would leave c untouched with beta; make the empty sum explicit.
        scale(c, beta)
        return
    cdef floating alpha_ = <floating>alpha, beta_ = <floating>beta
    with nogil:
        gemm_parallel(trans_a, trans_b, m, n, k, alpha_, &a[0, 0], a.shape[1],
                      &b[0, 0], b.shape[1], beta_, &c[0, 0], c.shape[1], n_threads)


def take_rows(const floating[:, ::1] x, const Py_ssize_t[::1] rows,
              floating[:, ::1] out, int n_threads=1):
    """``out[k] = x[rows[k]]``: gather a shuffled mini-batch, rows in parallel."""
    cdef Py_ssize_t k, j, n = rows.shape[0], d = x.shape[1], n_rows = x.shape[0]
    if out.shape[0] != n or out.shape[1] != d:
        raise ValueError("take_rows: out must have shape (len(rows), x.shape[1])")
    for k in range(n):
        if rows[k] < 0 or rows[k] >= n_rows:
            raise IndexError(f"take_rows: row {rows[k]} out of range [0, {n_rows})")
    for k in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n * d, n_threads)):
        for j in range(d):
            out[k, j] = x[rows[k], j]


def scale(floating[:, ::1] x, double factor):
    """``x *= factor`` in place (``factor == 0`` writes exact zeros)."""
    cdef Py_ssize_t i, j
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            x[i, j] = 0 if factor == 0 else <floating>(x[i, j] * factor)


cdef inline floating _activate(floating z, int activation) noexcept nogil:
    if activation == 1:  # relu
        return z if z > 0 else 0
    if activation == 2:  # sigmoid, written to never overflow exp()
        if floating is float:
            if z >= 0:
                return 1 / (1 + expf(-z))
            return expf(z) / (1 + expf(z))
        else:
            if z >= 0:
                return 1 / (1 + exp(-z))
            return exp(z) / (1 + exp(z))
    if activation == 3:  # tanh
        if floating is float:
            return tanhf(z)
        else:
            return tanh(z)
    return z  # identity


cdef inline floating _derivative(floating a, int activation) noexcept nogil:
    """f'(z) written with the output a = f(z)."""
    if activation == 1:
        return 1 if a > 0 else 0
    if activation == 2:
        return a * (1 - a)
    if activation == 3:
        return 1 - a * a
    return 1


def bias_activation_forward(floating[:, ::1] z, const floating[::1] bias,
                            int activation, int n_threads=1):
    """In place: ``z[i, j] = f(z[i, j] + bias[j])``, one pass over ``z``.

    This is the fused "bias add + activation" step that follows ``X @ W``.
    """
    cdef Py_ssize_t i, j, n = z.shape[0], d = z.shape[1]
    if bias.shape[0] != d:
        raise ValueError(f"bias has {bias.shape[0]} entries, expected {d}")
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n * d, n_threads)):
        for j in range(d):
            z[i, j] = _activate(z[i, j] + bias[j], activation)


def activation_forward(floating[:, ::1] z, int activation, int n_threads=1):
    """In place: ``z = f(z)``."""
    cdef Py_ssize_t i, j, n = z.shape[0], d = z.shape[1]
    if activation == 0:
        return
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n * d, n_threads)):
        for j in range(d):
            z[i, j] = _activate(z[i, j], activation)


def activation_backward(const floating[:, ::1] a, floating[:, ::1] grad,
                        int activation, int n_threads=1):
    """In place: ``grad *= f'(z)``, with ``f'`` computed from the output ``a``.

    Turns dLoss/dA into dLoss/dZ (the chain rule through the activation).
    """
    cdef Py_ssize_t i, j, n = a.shape[0], d = a.shape[1]
    if grad.shape[0] != n or grad.shape[1] != d:
        raise ValueError("activation_backward: a and grad differ in shape")
    if activation == 0:
        return
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n * d, n_threads)):
        for j in range(d):
            grad[i, j] = grad[i, j] * _derivative(a[i, j], activation)


def bias_grad(const floating[:, ::1] grad, floating[::1] out, int n_threads=1):
    """``out[j] = sum_i grad[i, j]``: the gradient of the loss w.r.t. a bias.

    Each thread owns a block of columns and sums its rows in order, so the
    result does not depend on the number of threads.
    """
    cdef Py_ssize_t i, j, n = grad.shape[0], d = grad.shape[1]
    cdef floating s
    if out.shape[0] != d:
        raise ValueError(f"bias_grad: out has {out.shape[0]} entries, expected {d}")
    for j in prange(d, nogil=True, schedule="static",
                    num_threads=threads_for(n * d, n_threads)):
        s = 0
        for i in range(n):
            s = s + grad[i, j]
        out[j] = s


def activation_bias_backward(const floating[:, ::1] a, floating[:, ::1] grad,
                             floating[::1] bias_grad, int activation, int n_threads=1):
    """Both steps above in one pass: ``grad *= f'(a)``, then the bias gradient.

    ``bias_grad[j] = sum_i grad[i, j]`` (after the multiplication). Each
    thread owns a block of columns and walks the rows in order, so the sums
    are the same for any number of threads, and every element of ``grad`` is
    read and written once.
    """
    cdef Py_ssize_t i, j, j0, j1, blk, n = a.shape[0], d = a.shape[1]
    cdef int n_blocks = threads_for(n * d, n_threads)
    cdef floating g
    if grad.shape[0] != n or grad.shape[1] != d or bias_grad.shape[0] != d:
        raise ValueError("activation_bias_backward: a, grad and bias_grad do not agree")
    if n_blocks > d:
        n_blocks = <int>d
    for blk in prange(n_blocks, nogil=True, schedule="static", num_threads=n_blocks):
        j0 = blk * d // n_blocks
        j1 = (blk + 1) * d // n_blocks
        for j in range(j0, j1):
            bias_grad[j] = 0
        for i in range(n):
            for j in range(j0, j1):
                g = grad[i, j] * _derivative(a[i, j], activation)
                grad[i, j] = g
                bias_grad[j] += g


def axpy(double alpha, const floating[::1] x, floating[::1] y, int n_threads=1):
    """In place: ``y += alpha * x`` (used for the L2 penalty's gradient)."""
    cdef Py_ssize_t i, n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError("axpy: x and y differ in length")
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n, n_threads)):
        y[i] = y[i] + <floating>(alpha * x[i])


def l2_penalty(const floating[::1] w, floating[::1] grad, double scale,
               int n_threads=1):
    """In place ``grad += scale * w``; return ``sum(w**2)`` (in double).

    The L2 penalty ``0.5 * alpha * ||W||^2 / n`` in one pass: its gradient
    ``(alpha / n) * W`` is added to the weights' gradient (``scale = alpha / n``)
    while the squares are summed for the loss value. The sum is a ``prange``
    reduction, so it is reproducible for a given number of threads.
    """
    cdef Py_ssize_t i, n = w.shape[0]
    cdef double total = 0
    cdef floating c = <floating>scale
    if grad.shape[0] != n:
        raise ValueError("l2_penalty: w and grad differ in length")
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n, n_threads)):
        total += w[i] * w[i]
        grad[i] += c * w[i]
    return total

"""Output layers fused with their loss: value and gradient in one pass.

Softmax + cross-entropy
    For logits ``z`` (one row per sample) and the true class ``y``::

        p_k   = exp(z_k - max(z)) / sum_j exp(z_j - max(z))
        loss  = log(sum_j exp(z_j - max(z))) + max(z) - z_y
        dL/dz = p - onehot(y)

    Subtracting ``max(z)`` keeps every ``exp`` at most 1, so nothing overflows.

Sigmoid + binary cross-entropy (one-vs-rest, one sigmoid unit per class)
    With ``t_k = [k == y]``::

        loss_k = softplus(z_k) - t_k z_k = max(z_k, 0) - t_k z_k + log1p(exp(-|z_k|))
        dL/dz_k = sigmoid(z_k) - t_k

The gradient is multiplied by ``scale`` (``1 / batch_size`` for a mean loss).
Each row's loss goes to its own slot and the slots are summed in order, so the
total does not depend on the number of threads.
"""

from cython cimport floating
from cython.parallel cimport prange

from ._openmp cimport threads_for
from libc.math cimport exp, log, log1p, fabs

import numpy as np


def softmax_cross_entropy(const floating[:, ::1] z, const Py_ssize_t[::1] y,
                          floating[:, ::1] grad, double scale=1.0,
                          int n_threads=1):
    """Return the summed cross-entropy of ``softmax(z)``; write its gradient.

    Parameters
    ----------
    z : ndarray of shape (n_samples, n_classes)
        Logits.
    y : ndarray of shape (n_samples,), dtype intp
        Class indices in ``[0, n_classes)``.
    grad : ndarray of shape (n_samples, n_classes)
        Receives ``scale * (softmax(z) - onehot(y))``. May be ``z`` itself.
    """
    cdef Py_ssize_t i, j, n = z.shape[0], d = z.shape[1]
    cdef double zmax, total, lse
    cdef double[::1] row_loss = np.empty(n, dtype=np.float64)
    _check(z, y, grad)
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n * d, n_threads)):
        zmax = z[i, 0]
        for j in range(1, d):
            if z[i, j] > zmax:
                zmax = z[i, j]
        total = 0
        for j in range(d):
            total = total + exp(z[i, j] - zmax)
        lse = log(total) + zmax
        row_loss[i] = lse - z[i, y[i]]
        for j in range(d):
            grad[i, j] = <floating>(exp(z[i, j] - lse) * scale)
        grad[i, y[i]] = grad[i, y[i]] - <floating>scale
    return _ordered_sum(row_loss)


def sigmoid_binary_cross_entropy(const floating[:, ::1] z, const Py_ssize_t[::1] y,
                                 floating[:, ::1] grad, double scale=1.0,
                                 int n_threads=1):
    """Return the summed one-vs-rest binary cross-entropy; write its gradient.

    Same arguments as :func:`softmax_cross_entropy`; ``grad`` receives
    ``scale * (sigmoid(z) - onehot(y))``.
    """
    cdef Py_ssize_t i, j, n = z.shape[0], d = z.shape[1]
    cdef double zij, t, s, acc, e
    cdef double[::1] row_loss = np.empty(n, dtype=np.float64)
    _check(z, y, grad)
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n * d, n_threads)):
        acc = 0
        for j in range(d):
            zij = z[i, j]
            t = 1.0 if j == y[i] else 0.0
            e = exp(-fabs(zij))
            acc = acc + (zij if zij > 0 else 0.0) - t * zij + log1p(e)
            s = 1 / (1 + e) if zij >= 0 else e / (1 + e)
            grad[i, j] = <floating>((s - t) * scale)
        row_loss[i] = acc
    return _ordered_sum(row_loss)


def softmax(floating[:, ::1] z, int n_threads=1):
    """In place: each row of ``z`` becomes its softmax."""
    cdef Py_ssize_t i, j, n = z.shape[0], d = z.shape[1]
    cdef double zmax, total
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n * d, n_threads)):
        zmax = z[i, 0]
        for j in range(1, d):
            if z[i, j] > zmax:
                zmax = z[i, j]
        total = 0
        for j in range(d):
            z[i, j] = <floating>exp(z[i, j] - zmax)
            total = total + z[i, j]
        for j in range(d):
            z[i, j] = <floating>(z[i, j] / total)


cdef void _check(const floating[:, ::1] z, const Py_ssize_t[::1] y,
                 floating[:, ::1] grad) except *:
    cdef Py_ssize_t i
    if grad.shape[0] != z.shape[0] or grad.shape[1] != z.shape[1]:
        raise ValueError("loss: grad and z differ in shape")
    if y.shape[0] != z.shape[0]:
        raise ValueError("loss: y and z differ in length")
    for i in range(y.shape[0]):
        if y[i] < 0 or y[i] >= z.shape[1]:
            raise ValueError(f"loss: class index {y[i]} out of range [0, {z.shape[1]})")


cdef double _ordered_sum(double[::1] values) noexcept:
    cdef Py_ssize_t i
    cdef double s = 0
    for i in range(values.shape[0]):
        s += values[i]
    return s

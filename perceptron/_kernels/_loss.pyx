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

Sample weights (scikit-learn's MLPClassifier since 1.7)
    Row ``i`` of a batch ``B`` has weight ``w_i >= 0`` (1 without weights).
    The loss of the batch is the weighted mean, plus the L2 term over the
    same total weight::

        loss  = sum_i w_i loss_i / sum_i w_i  +  0.5 alpha ||W||^2 / sum_i w_i
        dL/dz_i = w_i (p_i - onehot(y_i)) / sum_i w_i
        dL/dW  += alpha W / sum_i w_i

    Without weights ``sum_i w_i`` is the batch size: the mean loss and
    scikit-learn's ``0.5 * alpha * ||W||^2 / batch_size``. A weight of 0 is
    the same as leaving the row out, an integer weight ``k`` the same as ``k``
    copies of the row in the batch. (The L2 term is added by the caller.)

At predict time the normalised sigmoids ``sigmoid(z_k) / sum_j sigmoid(z_j)``
are computed as the softmax of ``log(sigmoid(z))``: no sum of sigmoids that
underflows to 0 is ever divided by.

The kernels return ``sum_i w_i loss_i`` and write ``scale * w_i * dL/dz_i``,
``scale`` being ``1 / sum_i w_i`` for the weighted mean. Each row's loss goes
to its own slot and the slots are summed in order, so the total does not
depend on the number of threads. The rows themselves are computed by
``_loss_rows.pxd``, which the whole-step kernel (``_stack.pyx``) shares.
"""

from cython cimport floating
from cython.parallel cimport prange

from ._loss_rows cimport (count_set, ordered_sum, sigmoid_proba_row, softmax_row,
                          weighted_loss_row)
from ._openmp cimport threads_for

import numpy as np


def softmax_cross_entropy(const floating[:, ::1] z, const Py_ssize_t[::1] y,
                          floating[:, ::1] grad, double scale=1.0,
                          int n_threads=1, const double[::1] sample_weight=None):
    """Summed cross-entropy of ``softmax(z)`` and its gradient, in one pass.

    Parameters
    ----------
    z : ndarray of shape (n_samples, n_classes)
        Logits.
    y : ndarray of shape (n_samples,), dtype intp
        Class indices in ``[0, n_classes)``.
    grad : ndarray of shape (n_samples, n_classes)
        Receives ``scale * w_i * (softmax(z) - onehot(y))``. May be ``z``
        itself.
    scale : float
        ``1 / sum(w)`` for the (weighted) mean loss.
    n_threads : int
    sample_weight : ndarray of shape (n_samples,), dtype float64, optional
        The rows' weights ``w_i``; None: all 1.

    Returns
    -------
    loss : float
        The cross-entropy summed over the rows, each times its weight.
    n_correct : int
        Rows whose largest logit is at the true class (the first largest on
        ties, as ``argmax``): the training accuracy comes for free. Not
        weighted (as Keras's metrics).
    """
    return _fused_loss(True, z, y, grad, scale, n_threads, sample_weight)


def sigmoid_binary_cross_entropy(const floating[:, ::1] z, const Py_ssize_t[::1] y,
                                 floating[:, ::1] grad, double scale=1.0,
                                 int n_threads=1, const double[::1] sample_weight=None):
    """Summed one-vs-rest binary cross-entropy and its gradient, in one pass.

    Same arguments and returns as :func:`softmax_cross_entropy`; ``grad``
    receives ``scale * w_i * (sigmoid(z) - onehot(y))``.
    """
    return _fused_loss(False, z, y, grad, scale, n_threads, sample_weight)


cdef tuple _fused_loss(bint softmax, const floating[:, ::1] z, const Py_ssize_t[::1] y,
                       floating[:, ::1] grad, double scale, int n_threads,
                       const double[::1] sample_weight):
    cdef Py_ssize_t i, n = z.shape[0], d = z.shape[1]
    cdef double[::1] row_loss = np.empty(n, dtype=np.float64)
    cdef unsigned char[::1] hit = np.empty(n, dtype=np.uint8)
    cdef const double *w = NULL
    _check(z, y, grad)
    if sample_weight is not None:
        if sample_weight.shape[0] != n:
            raise ValueError("loss: sample_weight and z differ in length")
        if n > 0:
            w = &sample_weight[0]
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n * d, n_threads)):
        row_loss[i] = weighted_loss_row(softmax, &z[i, 0], y[i], &grad[i, 0], d, scale,
                                        1.0 if w == NULL else w[i], &hit[i])
    return ordered_sum(&row_loss[0], n), count_set(&hit[0], n)


def probabilities(floating[:, ::1] z, int output, int n_threads=1):
    """In place: each row of logits ``z`` becomes probabilities.

    ``output`` 1: softmax; 2: one sigmoid per class, normalised to sum to one
    (the codes of :func:`perceptron._kernels._stack.dense_stack_predict`).
    Every row comes out finite and summing to one, whatever its logits
    (infinite or NaN ones included: ``softmax_row`` in ``_loss_rows.pxd``
    says how they count).
    """
    cdef Py_ssize_t i, n = z.shape[0], d = z.shape[1]
    if output not in (1, 2):
        raise ValueError(f"probabilities: output must be 1 or 2, got {output}")
    if d == 0:
        return
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n * d, n_threads)):
        if output == 1:
            softmax_row(&z[i, 0], d)
        else:
            sigmoid_proba_row(&z[i, 0], d)


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

"""Output layers fused with their loss: value and gradient in one pass.

The targets are a 0/1 matrix ``T`` with one column per output unit: one-hot
rows for classes (``t_k = [k == y]``), any pattern for multi-label targets,
and one column for the single logistic unit of a binary problem (1 for the
second class).

Softmax + cross-entropy
    For logits ``z`` (one row per sample) and a one-hot target row ``t``::

        p_k   = exp(z_k - max(z)) / sum_j exp(z_j - max(z))
        loss  = log(sum_j exp(z_j - max(z))) + max(z) - z . t
        dL/dz = p - t

    Subtracting ``max(z)`` keeps every ``exp`` at most 1, so nothing overflows.

Sigmoid + binary cross-entropy (one sigmoid unit per column of ``T``)
    ::

        loss_k = softplus(z_k) - t_k z_k = max(z_k, 0) - t_k z_k + log1p(exp(-|z_k|))
        dL/dz_k = sigmoid(z_k) - t_k

    One-vs-rest for classes, and the loss of multi-label targets and of the
    binary unit.

Sample weights (scikit-learn's MLPClassifier since 1.7)
    Row ``i`` of a batch ``B`` has weight ``w_i >= 0`` (1 without weights).
    The loss of the batch is the weighted mean, plus the L2 term over the
    same total weight::

        loss  = sum_i w_i loss_i / sum_i w_i  +  0.5 alpha ||W||^2 / sum_i w_i
        dL/dz_i = w_i (p_i - t_i) / sum_i w_i
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

from ._loss_rows cimport (count_set, ordered_sum, sigmoid_proba_row, sigmoid_row, softmax_row,
                          weighted_loss_row)
from ._openmp cimport threads_for

import numpy as np


def softmax_cross_entropy(const floating[:, ::1] z, const unsigned char[:, ::1] T,
                          floating[:, ::1] grad, double scale=1.0,
                          int n_threads=1, const double[::1] sample_weight=None, *,
                          unsigned char[::1] hit=None):
    """Summed cross-entropy of ``softmax(z)`` and its gradient, in one pass.

    Parameters
    ----------
    z : ndarray of shape (n_samples, n_classes)
        Logits.
    T : ndarray of shape (n_samples, n_classes), dtype uint8
        One-hot targets: ``T[i, y_i] = 1``.
    grad : ndarray of shape (n_samples, n_classes)
        Receives ``scale * w_i * (softmax(z) - T)``. May be ``z`` itself.
    scale : float
        ``1 / sum(w)`` for the (weighted) mean loss.
    n_threads : int
    sample_weight : ndarray of shape (n_samples,), dtype float64, optional
        The rows' weights ``w_i``; None: all 1.
    hit : ndarray of shape (n_samples,), dtype uint8, optional
        Receives whether each row is predicted right.

    Returns
    -------
    loss : float
        The cross-entropy summed over the rows, each times its weight.
    n_correct : int
        Rows whose largest logit is at the true class (the first largest on
        ties, as ``argmax``): the training accuracy comes for free. Not
        weighted (as Keras's metrics).
    """
    return _fused_loss(1, z, T, grad, scale, n_threads, sample_weight, hit)


def sigmoid_binary_cross_entropy(const floating[:, ::1] z, const unsigned char[:, ::1] T,
                                 floating[:, ::1] grad, double scale=1.0,
                                 int n_threads=1, const double[::1] sample_weight=None, *,
                                 bint independent=False, unsigned char[::1] hit=None):
    """Summed binary cross-entropy of one sigmoid per unit and its gradient, in one pass.

    Same arguments and returns as :func:`softmax_cross_entropy`; ``T`` is
    any 0/1 matrix and ``grad`` receives ``scale * w_i * (sigmoid(z) - T)``.

    Parameters
    ----------
    independent : bool, default=False
        How a row counts as right: False (one class per row, one-vs-rest)
        when its largest logit is at its class; True (multi-label targets,
        the binary unit) when every unit is on the side of 0 its target says.
    """
    return _fused_loss(3 if independent else 2, z, T, grad, scale, n_threads, sample_weight,
                       hit)


cdef tuple _fused_loss(int output, const floating[:, ::1] z, const unsigned char[:, ::1] T,
                       floating[:, ::1] grad, double scale, int n_threads,
                       const double[::1] sample_weight, unsigned char[::1] hit):
    cdef Py_ssize_t i, n = z.shape[0], d = z.shape[1]
    cdef double[::1] row_loss = np.empty(n, dtype=np.float64)
    cdef const double *w = NULL
    _check(z, T, grad)
    if hit is None:
        hit = np.empty(n, dtype=np.uint8)
    elif hit.shape[0] != n:
        raise ValueError("loss: hit and z differ in length")
    if sample_weight is not None:
        if sample_weight.shape[0] != n:
            raise ValueError("loss: sample_weight and z differ in length")
        if n > 0:
            w = &sample_weight[0]
    if n == 0:
        return 0.0, 0
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n * d, n_threads)):
        row_loss[i] = weighted_loss_row(output, &z[i, 0], &T[i, 0], &grad[i, 0], d, scale,
                                        1.0 if w == NULL else w[i], &hit[i])
    return ordered_sum(&row_loss[0], n), count_set(&hit[0], n)


def probabilities(floating[:, ::1] z, int output, int n_threads=1):
    """In place: each row of logits ``z`` becomes probabilities.

    ``output`` 1: softmax; 2: one sigmoid per class, normalised to sum to one;
    3: one sigmoid per unit, each its own probability (the codes of
    :func:`perceptron._kernels._stack.dense_stack_predict`). Every row of
    codes 1 and 2 comes out finite and summing to one, whatever its logits
    (infinite or NaN ones included: ``softmax_row`` in ``_loss_rows.pxd``
    says how they count); every value of code 3 is a probability (a NaN
    logit, which says nothing, gives 0.5).
    """
    cdef Py_ssize_t i, n = z.shape[0], d = z.shape[1]
    if output not in (1, 2, 3):
        raise ValueError(f"probabilities: output must be 1, 2 or 3, got {output}")
    if d == 0:
        return
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n * d, n_threads)):
        if output == 1:
            softmax_row(&z[i, 0], d)
        elif output == 2:
            sigmoid_proba_row(&z[i, 0], d)
        else:
            sigmoid_row(&z[i, 0], d)


cdef void _check(const floating[:, ::1] z, const unsigned char[:, ::1] T,
                 floating[:, ::1] grad) except *:
    if grad.shape[0] != z.shape[0] or grad.shape[1] != z.shape[1]:
        raise ValueError("loss: grad and z differ in shape")
    if T.shape[0] != z.shape[0] or T.shape[1] != z.shape[1]:
        raise ValueError("loss: the targets T and z differ in shape")

"""Python-visible wrappers for the tests and the kernels tutorial only.

The product kernels (``_dense.pyx``, ``_conv.pyx``, ``_stack.pyx``...) fuse
several steps of a layer in one call. Each wrapper here runs *one* of those
steps over a whole array, on the same ``cdef`` helpers the product kernels
use (``_gemm.pxd``, ``_layer_rows.pxd``), so that the tests can check a fused
kernel against the steps it fuses, and the tutorial can run the equations of
a dense layer one line at a time. Nothing in the package calls them (as
scikit-learn keeps the Python wrappers of its Cython BLAS for its tests).
"""

from cython cimport floating
from cython.parallel cimport prange

from ._fpenv cimport perc_get_flush
from ._gemm cimport gemm_parallel
from ._layer_rows cimport activation_backward_row, bias_activation_row, column_sums
from ._openmp cimport perc_omp_get_thread_num, threads_for


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
    cdef Py_ssize_t i, j
    if k != kb or c.shape[0] != m or c.shape[1] != n:
        raise ValueError(
            f"matmul shapes do not agree: op(a) is ({m}, {k}), op(b) is ({kb}, {n}), "
            f"c is ({c.shape[0]}, {c.shape[1]})")
    if m == 0 or n == 0:
        return
    if k == 0:
        # BLAS would leave c untouched with beta; make the empty sum explicit
        # (beta == 0 writes exact zeros, as BLAS does).
        for i in range(m):
            for j in range(n):
                c[i, j] = 0 if beta == 0 else <floating>(c[i, j] * beta)
        return
    cdef floating alpha_ = <floating>alpha, beta_ = <floating>beta
    with nogil:
        gemm_parallel(trans_a, trans_b, m, n, k, alpha_, &a[0, 0], a.shape[1],
                      &b[0, 0], b.shape[1], beta_, &c[0, 0], c.shape[1], n_threads)


def bias_activation_forward(floating[:, ::1] z, const floating[::1] bias,
                            int activation, int n_threads=1):
    """In place: ``z[i, j] = f(z[i, j] + bias[j])``, one pass over ``z``.

    This is the fused "bias add + activation" step that follows ``X @ W``.
    """
    cdef Py_ssize_t i, n = z.shape[0], d = z.shape[1]
    if bias.shape[0] != d:
        raise ValueError(f"bias has {bias.shape[0]} entries, expected {d}")
    if n == 0 or d == 0:
        return
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n * d, n_threads)):
        bias_activation_row(&z[i, 0], &bias[0], d, activation)


def activation_backward(const floating[:, ::1] a, floating[:, ::1] grad,
                        int activation, int n_threads=1):
    """In place: ``grad *= f'(z)``, with ``f'`` computed from the output ``a``.

    Turns dLoss/dA into dLoss/dZ (the chain rule through the activation).
    """
    cdef Py_ssize_t i, n = a.shape[0], d = a.shape[1]
    if grad.shape[0] != n or grad.shape[1] != d:
        raise ValueError("activation_backward: a and grad differ in shape")
    if activation == 0 or n == 0 or d == 0:
        return
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n * d, n_threads)):
        activation_backward_row(&a[i, 0], &grad[i, 0], d, activation)


def bias_grad(const floating[:, ::1] grad, floating[::1] out, int n_threads=1):
    """``out[j] = sum_i grad[i, j]``: the gradient of the loss w.r.t. a bias.

    Each thread owns a block of columns and sums its rows in order, so the
    result does not depend on the number of threads.
    """
    cdef Py_ssize_t t, j0, j1, n = grad.shape[0], d = grad.shape[1]
    cdef int n_blocks = threads_for(n * d, n_threads)
    if out.shape[0] != d:
        raise ValueError(f"bias_grad: out has {out.shape[0]} entries, expected {d}")
    if d == 0:
        return
    if n == 0:
        out[:] = 0
        return
    if n_blocks > d:
        n_blocks = <int>d
    for t in prange(n_blocks, nogil=True, schedule="static", num_threads=n_blocks):
        j0 = t * d // n_blocks
        j1 = (t + 1) * d // n_blocks
        column_sums(&grad[0, j0], &out[j0], n, j1 - j0, d)


def team_flush(int n_threads):
    """Each OpenMP team thread's flush-to-zero mode, by thread number.

    What :func:`perceptron._kernels._fpenv.set_flush` changed, seen from the
    threads that run the kernels.
    """
    cdef int t
    cdef int[64] modes
    n_threads = max(1, min(n_threads, 64))
    for t in range(n_threads):
        modes[t] = -1
    for t in prange(n_threads, nogil=True, schedule="static", num_threads=n_threads):
        modes[perc_omp_get_thread_num()] = perc_get_flush()
    return [modes[t] for t in range(n_threads)]

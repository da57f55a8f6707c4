# Row-major GEMM on top of scipy's Fortran (column-major) BLAS.
#
# NumPy arrays here are C-ordered (row-major). A row-major matrix M is, to
# Fortran, the column-major matrix M^T. So to compute C = op(A) @ op(B) with
# row-major arrays we ask BLAS for C^T = op(B)^T @ op(A)^T, which it stores in
# column-major order -- exactly the bytes of row-major C. No copies, no
# transposes in memory: only the roles of A and B and their lda/ldb swap.
#
# The kernels call ``gemm`` from inside their OpenMP threads, one
# single-threaded BLAS call per thread and block: BLAS must then run with one
# thread (the estimators set this with threadpoolctl while they work).

from cython cimport floating
from cython.parallel cimport prange
from scipy.linalg.cython_blas cimport sgemm, dgemm


cdef inline void gemm(bint trans_a, bint trans_b, int m, int n, int k,
                      floating alpha, const floating *a, int lda,
                      const floating *b, int ldb,
                      floating beta, floating *c, int ldc) noexcept nogil:
    """C[m, n] = alpha * op(A)[m, k] @ op(B)[k, n] + beta * C, all row-major.

    lda, ldb, ldc are the row strides (in elements) of A, B, C as stored.
    """
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    if floating is float:
        sgemm(&tb, &ta, &n, &m, &k, &alpha, <float*>b, &ldb, <float*>a, &lda,
              &beta, c, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &alpha, <double*>b, &ldb, <double*>a, &lda,
              &beta, c, &ldc)


cdef inline int gemm_blocks(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                            int n_threads) noexcept nogil:
    """How many row blocks (threads) an ``(m, k) @ (k, n)`` product is worth.

    One below 262144 multiply-adds (waking a thread costs more than it saves),
    and never fewer than 8 rows per block.
    """
    if m * n * k < 262144 or n_threads < 1:
        return 1
    if n_threads > m // 8:
        return max(1, <int>(m // 8))
    return n_threads


cdef inline Py_ssize_t feature_split(Py_ssize_t d, Py_ssize_t t, Py_ssize_t n_blocks) noexcept nogil:
    """Start of block ``t`` when ``d`` input features are cut into ``n_blocks``.

    The forward product of a training batch (split by input features) and
    the weight gradient (split by rows of ``dW``, i.e. by input features) cut
    here, so a thread computes the gradient of the rows of ``W`` it
    multiplied. Rounded down to a multiple of 16 so that two threads never
    write into the same 64-byte cache line of ``dW``.
    """
    if t >= n_blocks:
        return d
    return (d * t // n_blocks) // 16 * 16


cdef inline void gemm_parallel(bint trans_a, bint trans_b, int m, int n, int k,
                               floating alpha, const floating *a, int lda,
                               const floating *b, int ldb,
                               floating beta, floating *c, int ldc,
                               int n_threads) noexcept nogil:
    """Same as :func:`gemm`, with the rows of C shared among OpenMP threads.

    Thread ``t`` computes the block of rows ``[m * t / T, m * (t + 1) / T)``
    of C with one single-threaded BLAS call. All parallelism comes from the
    one OpenMP team, so BLAS must run with one thread (the estimators set
    this with threadpoolctl): two thread pools fighting over two cores, each
    busy-waiting for the other, is far slower than either alone.

    Row ``r`` of ``op(A)`` starts at ``a + r * lda`` when A is not transposed
    and at ``a + r`` (a column of the stored A) when it is.
    """
    cdef int t, r0, r1, n_blocks = gemm_blocks(m, n, k, n_threads)
    if n_blocks <= 1:
        gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    for t in prange(n_blocks, schedule="static", num_threads=n_blocks):
        r0 = <int>((<long long>m * t) // n_blocks)
        r1 = <int>((<long long>m * (t + 1)) // n_blocks)
        gemm(trans_a, trans_b, r1 - r0, n, k, alpha,
             a + (r0 if trans_a else <long long>r0 * lda), lda, b, ldb,
             beta, c + <long long>r0 * ldc, ldc)

"""Kernels of a dense (fully connected) layer.

A dense layer computes ``A = f(X @ W + b)``. :func:`dense_forward` and
:func:`dense_backward` are what :class:`perceptron.layers.Dense` calls: each
is one kernel call and one parallel region, the products going to BLAS and
the rest -- adding the bias, applying the activation ``f``, its derivative,
summing the bias gradient -- done by the same threads on the rows (or
columns) they own, while those are in their cache. :func:`take_rows`
gathers a shuffled mini-batch (:func:`take_csr_rows` from a sparse CSR
matrix, densifying its rows) and :func:`l2_penalty` adds the L2 term to the
gradient (the layer-by-layer training path calls both).

Each of those steps on its own over a whole array (``matmul``,
``bias_activation_forward``, ``activation_backward``, ``bias_grad``) lives
in ``_testing.pyx``, on the same row helpers: the documentation's kernel
tutorial runs them one by one, and the tests check the fused kernels
against them.

Activation codes (shared with :mod:`perceptron.layers`):
``0`` identity, ``1`` relu, ``2`` sigmoid, ``3`` tanh.
Every derivative is written in terms of the activation's *output* ``A``, so the
layer keeps only ``A`` for the backward pass:
relu' = [A > 0], sigmoid' = A (1 - A), tanh' = 1 - A**2
(``_layer_rows.pxd``).
"""

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdint cimport int32_t, int64_t
from libc.string cimport memcpy, memset

from ._finite cimport chunk_finite
from ._gemm cimport feature_split, gemm, gemm_blocks
from ._layer_rows cimport activation_backward_row, bias_activation_row, column_sums
from ._openmp cimport barrier, threads_for
from ._update_rules cimport l2_chunk

import numpy as np

# A batch of at most this many rows may be shared by input features (see
# dense_forward); larger ones (predict) are shared by rows.
cdef enum:
    SPLIT_INPUTS_MAX_ROWS = 2048


def take_rows(const floating[:, ::1] x, const Py_ssize_t[::1] rows,
              floating[:, ::1] out, int n_threads=1):
    """``out[k] = x[rows[k]]``: gather a shuffled mini-batch, rows in parallel."""
    cdef Py_ssize_t k, n = rows.shape[0], d = x.shape[1], n_rows = x.shape[0]
    if out.shape[0] != n or out.shape[1] != d:
        raise ValueError("take_rows: out must have shape (len(rows), x.shape[1])")
    for k in range(n):
        if rows[k] < 0 or rows[k] >= n_rows:
            raise IndexError(f"take_rows: row {rows[k]} out of range [0, {n_rows})")
    if n == 0 or d == 0:
        return
    for k in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n * d, n_threads)):
        memcpy(&out[k, 0], &x[rows[k], 0], d * sizeof(floating))


ctypedef fused csr_index:
    # scipy's CSR matrices index with int32, or int64 when they are large
    int32_t
    int64_t


def take_csr_rows(const floating[::1] data, const csr_index[::1] indices,
                  const csr_index[::1] indptr, const Py_ssize_t[::1] rows,
                  floating[:, ::1] out, int n_threads=1):
    """``out[k] = X[rows[k]]`` densified, for a CSR matrix ``X = (data, indices, indptr)``.

    Each thread clears its rows of ``out`` and scatters their stored values
    into them (duplicate entries add up, as ``X.toarray()`` does): a sparse
    mini-batch becomes the dense batch the layers take, without ever
    densifying the whole of ``X``. Every index is checked against the
    array bounds.
    """
    cdef Py_ssize_t k, p, j, r, n = rows.shape[0], d = out.shape[1]
    cdef Py_ssize_t n_rows = indptr.shape[0] - 1, nnz = data.shape[0]
    cdef unsigned char[::1] bad = np.zeros(max(n, 1), dtype=np.uint8)
    if out.shape[0] != n or n_rows < 0 or indices.shape[0] != nnz:
        raise ValueError("take_csr_rows: out must have shape (len(rows), n_features), "
                         "and indices as many entries as data")
    for k in range(n):
        if rows[k] < 0 or rows[k] >= n_rows:
            raise IndexError(f"take_csr_rows: row {rows[k]} out of range [0, {n_rows})")
        if not 0 <= indptr[rows[k]] <= indptr[rows[k] + 1] <= nnz:
            raise ValueError(f"take_csr_rows: indptr of row {rows[k]} is not a valid range")
    if n == 0 or d == 0:
        return
    for k in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n * d, n_threads)):
        r = rows[k]
        memset(&out[k, 0], 0, d * sizeof(floating))
        for p in range(indptr[r], indptr[r + 1]):
            j = indices[p]
            if 0 <= j < d:
                out[k, j] += data[p]
            else:
                bad[k] = 1
    if not _none_set(bad):
        raise ValueError(f"take_csr_rows: a column index is out of range [0, {d})")


# Each kernel below works row by row (or on a block of columns) through the
# small ``cdef inline`` functions of ``_layer_rows.pxd``; ``prange`` shares the
# rows (or column blocks) among threads.

cdef bint _none_set(const unsigned char[::1] flags) noexcept:
    """True when no flag is set (no thread found a NaN or an infinity)."""
    cdef Py_ssize_t i
    for i in range(flags.shape[0]):
        if flags[i]:
            return False
    return True


def dense_forward(const floating[:, ::1] x, const floating[:, ::1] w,
                  const floating[::1] b, floating[:, ::1] out, int activation,
                  int n_threads=1, bint check_finite=False):
    """``out = f(x @ w + b)``: a dense layer's forward pass in one call.

    How the threads share the product depends on its shape:

    - *By rows* (the usual case): one BLAS call per block of rows of ``x``,
      then the same thread adds the bias and applies ``f`` to those rows
      while they are still in its cache. A large predict batch makes blocks
      of 1024 rows that the threads take in turn (dynamic schedule), so that
      a thread slowed down by another process on its core does less of the
      work instead of holding the others up.
    - *By input features*, for a training batch through a layer with more
      inputs than outputs (the first layer: 784 pixels -> 100 units): thread
      ``t`` multiplies its block of columns of ``x`` by the same block of
      rows of ``w`` into a partial product of its own; after the barrier,
      each thread adds the partial products (in thread order) for its rows,
      then the bias and ``f``. Each thread so reads only its own share of
      ``w`` -- the share whose gradient it computes in :func:`dense_backward`
      and (mostly) updates in the optimizer step -- instead of fetching all
      of ``w`` from the other cores' caches at every step. For the first
      layer of an MLP, ``w`` is most of the model.

    With ``check_finite``, each thread also checks that its rows of ``x``
    hold no NaN or infinity just before it multiplies them (blocks of 256
    rows, which fit in its cache, so BLAS then reads them from there): the
    input validation of a prediction costs almost no extra pass over memory.

    Returns
    -------
    finite : bool
        False when ``check_finite`` found a NaN or an infinity in ``x`` (then
        ``out`` is garbage); True otherwise.
    """
    cdef Py_ssize_t m = x.shape[0], k = x.shape[1], n = w.shape[1]
    cdef Py_ssize_t t, s, i, j, r0, r1, rows, n_blocks
    cdef int team
    cdef floating[:, :, ::1] partial
    cdef unsigned char[::1] bad = None  # one flag per block, made only with check_finite
    if w.shape[0] != k or b.shape[0] != n or out.shape[0] != m or out.shape[1] != n:
        raise ValueError(
            f"dense_forward shapes do not agree: x ({m}, {k}), w ({w.shape[0]}, "
            f"{w.shape[1]}), b ({b.shape[0]},), out ({out.shape[0]}, {out.shape[1]})")
    if m == 0 or n == 0 or k == 0:
        out[:, :] = 0
        if n:  # an empty product: out = f(b)
            for i in range(m):
                bias_activation_row(&out[i, 0], &b[0], n, activation)
        return True
    team = gemm_blocks(m, n, k, n_threads)
    if team > 1 and m <= SPLIT_INPUTS_MAX_ROWS and k >= 2 * n and k >= 8 * team:
        partial = np.empty((team, m, n), dtype=np.float32 if floating is float else np.float64)
        if check_finite:
            bad = np.zeros(team, dtype=np.uint8)
        with nogil, parallel(num_threads=team):
            for t in prange(team, schedule="static"):
                r0 = t * m // team
                r1 = (t + 1) * m // team
                if check_finite and not chunk_finite(&x[r0, 0], (r1 - r0) * k):
                    bad[t] = 1
                r0 = feature_split(k, t, team)  # this thread's block of input features
                r1 = feature_split(k, t + 1, team)
                gemm(False, False, m, n, r1 - r0, 1, &x[0, r0], k, &w[r0, 0], n,
                     0, &partial[t, 0, 0], n)
            barrier()  # every partial product is complete
            for t in prange(team, schedule="static"):
                for i in range(t * m // team, (t + 1) * m // team):
                    for j in range(n):
                        out[i, j] = partial[0, i, j]
                    for s in range(1, team):
                        for j in range(n):
                            out[i, j] += partial[s, i, j]
                    bias_activation_row(&out[i, 0], &b[0], n, activation)
        return not check_finite or _none_set(bad)
    rows = min((m + team - 1) // team, 256 if check_finite else 1024)
    n_blocks = (m + rows - 1) // rows
    if check_finite:
        bad = np.zeros(n_blocks, dtype=np.uint8)
    for t in prange(n_blocks, nogil=True, schedule="dynamic", num_threads=team):
        r0 = t * rows
        r1 = min(r0 + rows, m)
        if check_finite and not chunk_finite(&x[r0, 0], (r1 - r0) * k):
            bad[t] = 1
        gemm(False, False, r1 - r0, n, k, 1, &x[r0, 0], k, &w[0, 0], n,
             0, &out[r0, 0], n)
        for i in range(r0, r1):
            bias_activation_row(&out[i, 0], &b[0], n, activation)
    return not check_finite or _none_set(bad)


def dense_backward(const floating[:, ::1] x, const floating[:, ::1] a,
                   floating[:, ::1] g, const floating[:, ::1] w,
                   floating[:, ::1] dw, floating[::1] db, floating[:, ::1] dx=None,
                   int activation=0, int n_threads=1):
    """A dense layer's backward pass in one call, given ``g = dL/dA``.

    With ``A = f(x @ w + b)`` the output of the forward pass::

        g  *= f'(A)        dL/dZ, in place
        dx  = g @ w.T      dL/dx (skipped when ``dx`` is None: first layer)
        dw  = x.T @ g      dL/dw
        db  = g.sum(0)     dL/db

    Two phases inside one parallel region. First each thread takes a block
    of rows of ``g``: it multiplies them by ``f'`` and, from those same rows,
    computes its rows of ``dx`` with one BLAS call. Then, after a barrier
    (``dw`` needs every row of ``g``: no thread goes on before all have
    finished the first phase), each thread takes
    a block of rows of ``dw`` -- a block of columns of ``x``, cut where
    :func:`dense_forward` cuts the input features, so that a thread computes
    the gradient of the rows of ``w`` it multiplies -- with one BLAS call,
    and a block of columns of ``db``, summed in row order so that the result
    does not depend on the number of threads.
    """
    cdef Py_ssize_t m = x.shape[0], k = x.shape[1], n = g.shape[1]
    cdef Py_ssize_t t, i, r0, r1, j0, j1
    cdef bint need_dx = dx is not None
    cdef floating *dx_ptr = NULL
    cdef int n_blocks
    if (a.shape[0] != m or a.shape[1] != n or g.shape[0] != m or w.shape[0] != k
            or w.shape[1] != n or dw.shape[0] != k or dw.shape[1] != n
            or db.shape[0] != n):
        raise ValueError("dense_backward: x, a, g, w, dw and db do not agree")
    if need_dx and (dx.shape[0] != m or dx.shape[1] != k):
        raise ValueError(f"dense_backward: dx must have shape ({m}, {k})")
    if n == 0 or k == 0 or m == 0:
        dw[:, :] = 0
        db[:] = 0
        if need_dx:
            dx[:, :] = 0
        return
    if need_dx:
        dx_ptr = &dx[0, 0]
    n_blocks = gemm_blocks(m, n, k, n_threads)
    with nogil, parallel(num_threads=n_blocks):
        # phase 1: rows of g -> dL/dZ, and the same rows of dx
        for t in prange(n_blocks, schedule="static"):
            r0 = t * m // n_blocks
            r1 = (t + 1) * m // n_blocks
            for i in range(r0, r1):
                activation_backward_row(&a[i, 0], &g[i, 0], n, activation)
            if need_dx:
                gemm(False, True, r1 - r0, k, n, 1, &g[r0, 0], n, &w[0, 0], n,
                     0, dx_ptr + r0 * k, k)
        barrier()  # every row of g is now dL/dZ
        # phase 2: rows of dw (columns of x), columns of db
        for t in prange(n_blocks, schedule="static"):
            r0 = feature_split(k, t, n_blocks)
            r1 = feature_split(k, t + 1, n_blocks)
            gemm(True, False, r1 - r0, n, m, 1, &x[0, r0], k, &g[0, 0], n,
                 0, &dw[r0, 0], n)
            j0 = t * n // n_blocks
            j1 = (t + 1) * n // n_blocks
            column_sums(&g[0, j0], &db[j0], m, j1 - j0, n)


def l2_penalty(const floating[::1] w, floating[::1] grad, double scale,
               int n_threads=1):
    """In place ``grad += scale * w``; return ``sum(w**2)`` (in double).

    The L2 penalty ``0.5 * alpha * ||W||^2 / n`` in one pass: its gradient
    ``(alpha / n) * W`` is added to the weights' gradient (``scale = alpha / n``)
    while the squares are summed for the loss value. Each thread sums its own
    chunk and the partial sums are added in chunk order, so the value is
    reproducible for a given number of threads.
    """
    cdef Py_ssize_t c, i0, i1, n = w.shape[0]
    cdef int n_chunks = threads_for(n, n_threads)
    cdef double[8] partial
    cdef double total = 0
    if grad.shape[0] != n:
        raise ValueError("l2_penalty: w and grad differ in length")
    if n == 0:
        return 0.0
    if n_chunks > 8:
        n_chunks = 8
    for c in prange(n_chunks, nogil=True, schedule="static", num_threads=n_chunks):
        i0 = c * n // n_chunks
        i1 = (c + 1) * n // n_chunks
        partial[c] = l2_chunk(&w[i0], &grad[i0], i1 - i0, <floating>scale)
    for c in range(n_chunks):
        total += partial[c]
    return total

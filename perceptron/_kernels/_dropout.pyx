"""Inverted dropout with a counter-based random generator.

During training each activation is kept with probability ``1 - rate`` and
scaled by ``1 / (1 - rate)``; at predict time the layer does nothing. The
mask for element ``i`` comes from hashing ``(seed, i)`` with SplitMix64
(``_dropout_mask.pxd``), so it is the same whatever the number of threads and
the order they run in.
"""

from cython cimport floating
from cython.parallel cimport prange

from libc.stdint cimport uint64_t

from ._dropout_mask cimport dropout_keeps, dropout_threshold
from ._openmp cimport threads_for


def dropout_forward(floating[:, ::1] x, floating[:, ::1] mask, double rate,
                    unsigned long long seed, int n_threads=1):
    """In place: ``x *= mask`` with a fresh ``mask`` of 0 and ``1/(1-rate)``."""
    cdef Py_ssize_t i, j, n = x.shape[0], d = x.shape[1]
    cdef uint64_t threshold
    cdef floating keep_scale = <floating>(1.0 / (1.0 - rate))
    if mask.shape[0] != n or mask.shape[1] != d:
        raise ValueError("dropout: x and mask differ in shape")
    if not 0 <= rate < 1:
        raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
    threshold = dropout_threshold(rate)
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n * d, n_threads)):
        for j in range(d):
            if dropout_keeps(seed, <uint64_t>(i * d + j), threshold):
                mask[i, j] = keep_scale
            else:
                mask[i, j] = 0
            x[i, j] = x[i, j] * mask[i, j]


def multiply(floating[:, ::1] x, const floating[:, ::1] mask, int n_threads=1):
    """In place: ``x *= mask`` (dropout's backward pass)."""
    cdef Py_ssize_t i, j, n = x.shape[0], d = x.shape[1]
    if mask.shape[0] != n or mask.shape[1] != d:
        raise ValueError("dropout: x and mask differ in shape")
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n * d, n_threads)):
        for j in range(d):
            x[i, j] = x[i, j] * mask[i, j]

"""Inverted dropout with a counter-based random generator.

During training each activation is kept with probability ``1 - rate`` and
scaled by ``1 / (1 - rate)``; at predict time the layer does nothing. The
mask for element ``i`` comes from hashing ``(seed, i)`` with SplitMix64, so it
is the same whatever the number of threads and the order they run in.
"""

from cython cimport floating
from cython.parallel cimport prange

from ._openmp cimport threads_for
from libc.stdint cimport uint64_t


cdef inline uint64_t _splitmix64(uint64_t x) noexcept nogil:
    x = x + <uint64_t>0x9E3779B97F4A7C15
    x = (x ^ (x >> 30)) * <uint64_t>0xBF58476D1CE4E5B9
    x = (x ^ (x >> 27)) * <uint64_t>0x94D049BB133111EB
    return x ^ (x >> 31)


def dropout_forward(floating[:, ::1] x, floating[:, ::1] mask, double rate,
                    unsigned long long seed, int n_threads=1):
    """In place: ``x *= mask`` with a fresh ``mask`` of 0 and ``1/(1-rate)``."""
    cdef Py_ssize_t i, j, n = x.shape[0], d = x.shape[1]
    cdef uint64_t threshold, h
    cdef floating keep_scale = <floating>(1.0 / (1.0 - rate))
    if mask.shape[0] != n or mask.shape[1] != d:
        raise ValueError("dropout: x and mask differ in shape")
    if not 0 <= rate < 1:
        raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
    # keep when the top 53 bits, read as a fraction of 1, are >= rate
    threshold = <uint64_t>(rate * 9007199254740992.0)
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n * d, n_threads)):
        for j in range(d):
            h = _splitmix64(seed ^ <uint64_t>(i * d + j) * <uint64_t>0xD1B54A32D192ED03)
            if (h >> 11) >= threshold:
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

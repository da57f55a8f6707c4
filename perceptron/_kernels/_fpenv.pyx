"""Flush subnormal floats to zero on the threads that run the kernels.

See ``_fpenv.h`` for why: a subnormal operand costs ~25 times a normal one,
and training makes thousands of them per step. TensorFlow flushes them on
its compute threads for the same reason. Only values smaller than the
smallest normal number (1.2e-38 in float32, 2.2e-308 in float64) change:
they read and write as zero.
"""

from cython.parallel cimport prange

from ._openmp cimport perc_omp_get_thread_num

cdef extern from "_fpenv.h":
    int perc_flush_supported() nogil
    int perc_get_flush() nogil
    void perc_set_flush(int on) nogil


def flush_supported():
    """Return True when this CPU's flush-to-zero mode can be set."""
    return bool(perc_flush_supported())


def get_flush():
    """Return True when the calling thread flushes subnormals to zero."""
    return bool(perc_get_flush())


def set_flush(bint on, int n_threads=1):
    """Turn flushing on or off for the calling thread and the OpenMP team.

    ``n_threads`` must be the team size the kernels use: OpenMP keeps the
    threads of a team of that size and hands them the kernels' loops later,
    so setting the mode once on each of them covers every kernel call.

    Returns
    -------
    previous : bool
        The calling thread's mode before the call (to restore it later).
    """
    cdef int t, previous = perc_get_flush()
    if n_threads > 1:
        for t in prange(n_threads, nogil=True, schedule="static", num_threads=n_threads):
            perc_set_flush(on)
    perc_set_flush(on)
    return bool(previous)


def team_flush(int n_threads):
    """Return each team thread's mode, by thread number (for the tests)."""
    cdef int t
    cdef int[64] modes
    n_threads = max(1, min(n_threads, 64))
    for t in range(n_threads):
        modes[t] = -1
    for t in prange(n_threads, nogil=True, schedule="static", num_threads=n_threads):
        modes[perc_omp_get_thread_num()] = perc_get_flush()
    return [modes[t] for t in range(n_threads)]

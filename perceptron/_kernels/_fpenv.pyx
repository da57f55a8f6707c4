"""Flush subnormal floats to zero on the threads that run the kernels.

See ``_fpenv.h`` for why: an operation on a subnormal operand takes the
CPU's slow path, and training makes them steadily. TensorFlow flushes them
on its compute threads for the same reason. Only values smaller than the
smallest normal number (1.2e-38 in float32, 2.2e-308 in float64) change:
they read and write as zero.
"""

from cython.parallel cimport prange

# perc_flush_supported, perc_get_flush and perc_set_flush: declared in _fpenv.pxd


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

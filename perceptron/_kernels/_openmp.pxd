cdef extern from "_omp_compat.h":
    int perc_omp_enabled() nogil
    int perc_omp_get_max_threads() nogil
    int perc_omp_get_thread_num() nogil
    # threads of the current team (inside a parallel region)
    int perc_omp_get_num_threads() nogil
    # every thread of the team waits here for the others (see _omp_compat.h)
    void barrier "perc_omp_barrier"() nogil


# Below this many element operations a loop runs on one thread: waking the
# other threads and waiting for them at the end costs more than it saves,
# and on a busy machine a descheduled thread can stall the whole team.
cdef enum:
    MIN_PARALLEL_WORK = 32768


cdef inline int threads_for(Py_ssize_t work, int n_threads) noexcept nogil:
    """``n_threads`` when ``work`` (element operations) is worth sharing, else 1."""
    if work < MIN_PARALLEL_WORK or n_threads < 1:
        return 1
    return n_threads


# A sum over the batch (a convolution's weight gradient) is kept per part of
# the batch, this many parts per thread: the parts go to whichever thread is
# free, so a thread slowed by the machine does fewer, and their sums are added
# in part order, so the result does not depend on which thread did which.
cdef enum:
    PARTS_PER_THREAD = 4

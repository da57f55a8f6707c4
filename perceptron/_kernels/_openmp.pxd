cdef extern from "_omp_compat.h":
    int perc_omp_enabled() nogil
    int perc_omp_get_max_threads() nogil
    int perc_omp_get_thread_num() nogil

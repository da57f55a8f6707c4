"""What the compiled kernels know about OpenMP."""

from ._openmp cimport perc_omp_enabled, perc_omp_get_max_threads


def openmp_enabled():
    """Return True when the kernels were compiled with OpenMP."""
    return bool(perc_omp_enabled())


def omp_max_threads():
    """Return ``omp_get_max_threads()``: honours OMP_NUM_THREADS and threadpoolctl."""
    return perc_omp_get_max_threads()

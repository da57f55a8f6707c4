/* OpenMP shims so the kernels compile with or without OpenMP.
 * Without OpenMP, prange loops run serially and these report one thread. */
#ifndef PERCEPTRON_OMP_COMPAT_H
#define PERCEPTRON_OMP_COMPAT_H
#ifdef _OPENMP
#include <omp.h>
static inline int perc_omp_enabled(void) { return 1; }
static inline int perc_omp_get_max_threads(void) { return omp_get_max_threads(); }
static inline int perc_omp_get_thread_num(void) { return omp_get_thread_num(); }
#else
static inline int perc_omp_enabled(void) { return 0; }
static inline int perc_omp_get_max_threads(void) { return 1; }
static inline int perc_omp_get_thread_num(void) { return 0; }
#endif
#endif

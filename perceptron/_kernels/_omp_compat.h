/* OpenMP shims so the kernels compile with or without OpenMP.
 * Without OpenMP, prange loops run serially and these report one thread. */
#ifndef PERCEPTRON_OMP_COMPAT_H
#define PERCEPTRON_OMP_COMPAT_H
#ifdef _OPENMP
#include <omp.h>
static inline int perc_omp_enabled(void) { return 1; }
static inline int perc_omp_get_max_threads(void) { return omp_get_max_threads(); }
static inline int perc_omp_get_thread_num(void) { return omp_get_thread_num(); }
static inline int perc_omp_get_num_threads(void) { return omp_get_num_threads(); }
/* Wait until every thread of the current team gets here. Cython emits each
 * prange of a `with parallel()` block as `omp for nowait`: without this, a
 * thread may start the next loop while another is still in the previous one. */
static inline void perc_omp_barrier(void) {
    _Pragma("omp barrier")
}
#else
static inline int perc_omp_enabled(void) { return 0; }
static inline int perc_omp_get_max_threads(void) { return 1; }
static inline int perc_omp_get_thread_num(void) { return 0; }
static inline int perc_omp_get_num_threads(void) { return 1; }
static inline void perc_omp_barrier(void) { }
#endif
#endif

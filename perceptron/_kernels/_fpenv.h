/* Subnormal ("denormal") floats, flushed to zero or not, per thread.
 *
 * A value below the smallest normal float (1.2e-38 in float32) is stored
 * "subnormal", and on x86 every instruction that reads or writes one takes a
 * slow microcode path, many times the cost of a normal operation. Training
 * produces them steadily (Adam's first moment of a dead unit decays by
 * beta_1 each step and passes through the subnormal range; softmax
 * probabilities of very unlikely classes underflow into it), and a step
 * that meets thousands of them spends much of its time on them.
 *
 * Two bits of the SSE control register (MXCSR) make the hardware treat them
 * as zero: FTZ (flush results to zero, bit 15) and DAZ (read inputs as zero,
 * bit 6). ARM64 has one bit, FZ (bit 24 of FPCR). The register is per
 * thread, so the caller sets it on every thread that runs kernels.
 * Elsewhere these functions do nothing and report 0. */
#ifndef PERCEPTRON_FPENV_H
#define PERCEPTRON_FPENV_H

#if defined(__SSE__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 1)
#include <xmmintrin.h>
#define PERC_FLUSH_BITS 0x8040u  /* FTZ | DAZ */
static inline int perc_flush_supported(void) { return 1; }
static inline int perc_get_flush(void) {
    return (_mm_getcsr() & PERC_FLUSH_BITS) == PERC_FLUSH_BITS;
}
static inline void perc_set_flush(int on) {
    unsigned int csr = _mm_getcsr();
    _mm_setcsr(on ? (csr | PERC_FLUSH_BITS) : (csr & ~PERC_FLUSH_BITS));
}
#elif defined(__aarch64__) && defined(__GNUC__)
#define PERC_FZ_BIT (1ull << 24)
static inline int perc_flush_supported(void) { return 1; }
static inline int perc_get_flush(void) {
    unsigned long long fpcr;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
    return (fpcr & PERC_FZ_BIT) != 0;
}
static inline void perc_set_flush(int on) {
    unsigned long long fpcr;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
    fpcr = on ? (fpcr | PERC_FZ_BIT) : (fpcr & ~PERC_FZ_BIT);
    __asm__ __volatile__("msr fpcr, %0" : : "r"(fpcr));
}
#else
static inline int perc_flush_supported(void) { return 0; }
static inline int perc_get_flush(void) { return 0; }
static inline void perc_set_flush(int on) { (void)on; }
#endif
#endif

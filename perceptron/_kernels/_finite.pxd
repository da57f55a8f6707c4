# Is every value finite? The loop shared by the validation kernel
# (_isfinite.pyx) and the check fused into the dense forward pass (_dense.pyx).
#
# ``0 * x`` is ``0`` for every finite ``x`` and NaN for ``x`` = NaN or +-inf,
# so summing ``0 * x`` over an array gives 0 exactly when the array is
# finite. Sixteen running sums (one per SIMD lane, so that the compiler can
# vectorise without reordering float additions) make it a pass at memory
# speed.

from cython cimport floating


cdef inline bint chunk_finite(const floating *x, Py_ssize_t n) noexcept nogil:
    """True when none of ``x[0:n]`` is NaN or infinite."""
    cdef Py_ssize_t i, k, n16 = n - n % 16
    cdef floating acc[16]
    cdef floating total = 0, zero = 0  # a typed zero: a literal 0 would be a double
    for k in range(16):
        acc[k] = 0
    for i in range(0, n16, 16):
        for k in range(16):
            acc[k] += zero * x[i + k]
    for i in range(n16, n):
        total += zero * x[i]
    for k in range(16):
        total += acc[k]
    return total == 0

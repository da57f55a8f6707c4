# What a layer does to one row of its output, element by element: the
# activation (forward and derivative), the bias added before it, and the
# sums over rows that make the bias gradient.
#
# Shared by every kernel that runs a layer: the dense layer (``_dense.pyx``),
# the convolution (``_conv.pyx``: its output ``Z`` is rows of ``F`` channels,
# a dense layer's in all but name), the whole-step dense stack
# (``_stack.pyx``) and the one-step test wrappers (``_testing.pyx``). The
# kernels decide which thread runs which rows (``prange``); these functions
# only say what happens to one row.
#
# Each is a ``cdef inline`` function over raw pointers: a plain
# ``for j in range(d)`` loop with one branch-free body per case, which the C
# compiler turns into SIMD instructions.
#
# Activation codes (the layers map names to them): 0 identity, 1 relu,
# 2 sigmoid, 3 tanh. Each derivative is written in terms of the activation's
# *output* a = f(z), so a layer keeps only its output for the backward pass:
# relu' = [a > 0], sigmoid' = a (1 - a), tanh' = 1 - a**2.

from cython cimport floating
from libc.math cimport exp, expf, tanh, tanhf


cdef inline floating activate(floating z, int activation) noexcept nogil:
    """f(z) for one value."""
    if activation == 1:  # relu
        return z if z > 0 else 0
    if activation == 2:  # sigmoid, written so that exp() never overflows
        if floating is float:
            return 1 / (1 + expf(-z)) if z >= 0 else expf(z) / (1 + expf(z))
        else:
            return 1 / (1 + exp(-z)) if z >= 0 else exp(z) / (1 + exp(z))
    if activation == 3:  # tanh
        if floating is float:
            return tanhf(z)
        else:
            return tanh(z)
    return z  # identity


cdef inline floating derivative(floating a, int activation) noexcept nogil:
    """f'(z), computed from the output a = f(z)."""
    if activation == 1:
        return 1 if a > 0 else 0
    if activation == 2:
        return a * (1 - a)
    if activation == 3:
        return 1 - a * a
    return 1


cdef inline void bias_activation_rows(floating *z, const floating *b, Py_ssize_t n,
                                      Py_ssize_t d, int activation) noexcept nogil:
    """z[i, j] = f(z[i, j] + b[j]) for ``n`` contiguous rows of ``d`` values.

    The activation is chosen once for the whole block, not once per row: a
    narrow layer (a convolution with a few channels) has rows of one or two
    SIMD vectors.
    """
    cdef Py_ssize_t i, j
    cdef floating v
    if activation == 1:  # relu: the common case, vectorised
        for i in range(n):
            for j in range(d):
                v = z[i * d + j] + b[j]
                z[i * d + j] = v if v > 0 else 0
    elif activation == 0:
        for i in range(n):
            for j in range(d):
                z[i * d + j] = z[i * d + j] + b[j]
    else:
        for i in range(n):
            for j in range(d):
                z[i * d + j] = activate(z[i * d + j] + b[j], activation)


cdef inline void bias_activation_row(floating *z, const floating *b, Py_ssize_t d,
                                     int activation) noexcept nogil:
    """z[j] = f(z[j] + b[j]) for one row."""
    bias_activation_rows(z, b, 1, d, activation)


cdef inline void activation_backward_row(const floating *a, floating *g, Py_ssize_t d,
                                         int activation) noexcept nogil:
    """g[j] *= f'(z[j]) for one row, with f' computed from the output a."""
    cdef Py_ssize_t j
    if activation == 1:  # relu' is 0 or 1: a select, vectorised
        for j in range(d):
            g[j] = g[j] if a[j] > 0 else 0
    elif activation != 0:
        for j in range(d):
            g[j] = g[j] * derivative(a[j], activation)


cdef inline void add_row(floating *out, const floating *g, Py_ssize_t d) noexcept nogil:
    """out[j] += g[j] for one row."""
    cdef Py_ssize_t j
    for j in range(d):
        out[j] += g[j]


cdef inline void column_sums(const floating *g, floating *out, Py_ssize_t n,
                             Py_ssize_t width, Py_ssize_t ld) noexcept nogil:
    """out[j] = sum_i g[i, j] over ``width`` columns, rows added in order.

    ``ld`` is the row stride of ``g``. Adding whole rows in row order, rather
    than summing each column on its own, keeps the loop contiguous; the order
    of the additions into each ``out[j]`` is the same either way, so the sum
    does not depend on how the columns are shared among threads.
    """
    cdef Py_ssize_t i, j
    for j in range(width):
        out[j] = 0
    for i in range(n):
        add_row(out, g, width)
        g += ld


cdef inline void activation_backward_sum_rows(floating *g, const floating *a, Py_ssize_t n,
                                              Py_ssize_t d, floating *out,
                                              int activation) noexcept nogil:
    """g[i, j] *= f'(z[i, j]) and out[j] += g[i, j] for ``n`` contiguous rows of ``d``
    values: a convolution's ``dL/dZ``, in place, and its bias gradient.

    Row by row, so that each row is added to ``out`` while it is in cache.
    """
    cdef Py_ssize_t i
    for i in range(n):
        activation_backward_row(a + i * d, g + i * d, d, activation)
        add_row(out, g + i * d, d)

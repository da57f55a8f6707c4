# Element-wise activations shared by the dense and convolution kernels.
#
# Codes (the layers map names to them): 0 identity, 1 relu, 2 sigmoid,
# 3 tanh. Each derivative is written in terms of the activation's *output*
# a = f(z), so a layer keeps only its output for the backward pass:
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

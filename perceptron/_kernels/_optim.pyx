"""Optimizer updates, one ``prange`` pass over *all* parameters at once.

The network stores every weight and bias in one flat vector (each layer's
arrays are views into it), and the gradients in another of the same length.
So one loop here updates the whole model.

SGD with momentum ``mu`` (sklearn's convention)::

    v = mu * v - lr * g
    w += v                         (classical)
    w += mu * v - lr * g           (Nesterov)

Adam (Kingma & Ba), with the bias corrections folded into ``lr_t`` by the
caller: ``lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t)``::

    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g**2
    w -= lr_t * m / (sqrt(v) + eps)

RMSprop (Hinton; Keras' convention)::

    s = rho * s + (1 - rho) * g**2
    w -= lr * g / (sqrt(s) + eps)
"""

from cython cimport floating
from cython.parallel cimport prange

from ._openmp cimport threads_for
from libc.math cimport sqrt, sqrtf


cdef inline floating _sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


def sgd_update(floating[::1] w, const floating[::1] g, floating[::1] velocity,
               double lr, double momentum, bint nesterov, int n_threads=1):
    """One SGD step (with optional momentum / Nesterov momentum), in place."""
    cdef Py_ssize_t i, n = w.shape[0]
    cdef floating v, mu = <floating>momentum, eta = <floating>lr
    _check(w, g, velocity)
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n, n_threads)):
        v = mu * velocity[i] - eta * g[i]
        velocity[i] = v
        if nesterov:
            w[i] += mu * v - eta * g[i]
        else:
            w[i] += v


def adam_update(floating[::1] w, const floating[::1] g, floating[::1] m,
                floating[::1] v, double lr_t, double beta1, double beta2,
                double eps, int n_threads=1):
    """One Adam step, in place. ``lr_t`` already holds the bias correction."""
    cdef Py_ssize_t i, n = w.shape[0]
    cdef floating gi, mi, vi
    cdef floating b1 = <floating>beta1, b2 = <floating>beta2
    cdef floating c1 = <floating>(1 - beta1), c2 = <floating>(1 - beta2)
    cdef floating eta = <floating>lr_t, e = <floating>eps
    _check(w, g, m)
    _check(w, g, v)
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n, n_threads)):
        gi = g[i]
        mi = b1 * m[i] + c1 * gi
        vi = b2 * v[i] + c2 * gi * gi
        m[i] = mi
        v[i] = vi
        w[i] -= eta * mi / (_sqrt(vi) + e)


def rmsprop_update(floating[::1] w, const floating[::1] g, floating[::1] sq,
                   double lr, double rho, double eps, int n_threads=1):
    """One RMSprop step, in place."""
    cdef Py_ssize_t i, n = w.shape[0]
    cdef floating gi, si
    cdef floating r = <floating>rho, c = <floating>(1 - rho)
    cdef floating eta = <floating>lr, e = <floating>eps
    _check(w, g, sq)
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=threads_for(n, n_threads)):
        gi = g[i]
        si = r * sq[i] + c * gi * gi
        sq[i] = si
        w[i] -= eta * gi / (_sqrt(si) + e)


cdef void _check(floating[::1] w, const floating[::1] g, floating[::1] state) except *:
    if g.shape[0] != w.shape[0] or state.shape[0] != w.shape[0]:
        raise ValueError("optimizer: parameters, gradients and state differ in length")

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
from ._update_rules cimport SOLVER_ADAM, SOLVER_RMSPROP, SOLVER_SGD, update_range

#: the ``solver`` codes of :func:`perceptron._kernels._stack.dense_stack_step`
#: (0: no update), defined in ``_update_rules.pxd``
SGD = SOLVER_SGD
ADAM = SOLVER_ADAM
RMSPROP = SOLVER_RMSPROP


# Each update is a plain loop over a contiguous chunk of the flat vectors
# (``update_range`` of ``_update_rules.pxd``, which the compiler vectorises);
# ``prange`` hands one chunk to each thread, which then checks the chunk it
# wrote. The chunk bounds are assigned in the loop body itself: that is how
# Cython knows that each thread needs its own copy of them (a variable only
# written through a pointer would be shared by all threads).

def sgd_update(floating[::1] w, const floating[::1] g, floating[::1] velocity,
               double lr, double momentum, bint nesterov, int n_threads=1):
    """One SGD step (with optional momentum / Nesterov momentum), in place.

    Returns whether every parameter is finite after it (as do the others).
    """
    _check(w, g, velocity)
    return _update(SOLVER_SGD, &w[0], &g[0], &velocity[0], NULL, w.shape[0], lr, momentum,
                   0, 0, nesterov, n_threads)


def adam_update(floating[::1] w, const floating[::1] g, floating[::1] m,
                floating[::1] v, double lr_t, double beta1, double beta2,
                double eps, int n_threads=1):
    """One Adam step, in place. ``lr_t`` already holds the bias correction."""
    _check(w, g, m)
    _check(w, g, v)
    return _update(SOLVER_ADAM, &w[0], &g[0], &m[0], &v[0], w.shape[0], lr_t, beta1, beta2,
                   eps, False, n_threads)


def rmsprop_update(floating[::1] w, const floating[::1] g, floating[::1] sq,
                   double lr, double rho, double eps, int n_threads=1):
    """One RMSprop step, in place."""
    _check(w, g, sq)
    return _update(SOLVER_RMSPROP, &w[0], &g[0], &sq[0], NULL, w.shape[0], lr, rho, 0, eps,
                   False, n_threads)


cdef bint _update(int solver, floating *w, const floating *g, floating *s1, floating *s2,
                  Py_ssize_t n, double lr, double decay1, double decay2, double eps,
                  bint nesterov, int n_threads) noexcept:
    """``solver``'s step over the ``n`` parameters, one chunk per thread;
    whether every parameter is finite after it. ``s2``: NULL but for Adam."""
    cdef Py_ssize_t c, i0, i1
    cdef int n_chunks = min(threads_for(n, n_threads), 64)
    cdef unsigned char[64] ok
    if n == 0:
        return True
    for c in prange(n_chunks, nogil=True, schedule="static", num_threads=n_chunks):
        i0 = c * n // n_chunks
        i1 = (c + 1) * n // n_chunks
        ok[c] = update_range(solver, w, g, s1, s2, i0, i1, lr, decay1, decay2, eps,
                             nesterov)
    for c in range(n_chunks):
        if not ok[c]:
            return False
    return True


cdef void _check(floating[::1] w, const floating[::1] g, floating[::1] state) except *:
    if g.shape[0] != w.shape[0] or state.shape[0] != w.shape[0]:
        raise ValueError("optimizer: parameters, gradients and state differ in length")

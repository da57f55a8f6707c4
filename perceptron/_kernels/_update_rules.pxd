# The optimizers' update rules over one chunk of the flat parameter vector,
# the codes that name them, and the L2 penalty's term of the gradient.
#
# The network keeps every weight and bias in one flat vector, its gradient
# in another and each optimizer's state in vectors of the same length, so an
# update is a plain loop over a contiguous chunk of them that the compiler
# vectorises. The optimizer kernels (``_optim.pyx``) hand one chunk to each
# thread; the whole-step dense stack (``_stack.pyx``) updates, at the end of
# its step, the chunks whose gradient each thread has just computed (and
# adds the L2 term to them just before). The rules are derived in
# ``_optim.pyx``'s docstring.
#
# The solver codes are the ``solver`` argument of ``update_range`` and of
# ``_stack.dense_stack_step``; ``_optim.pyx`` exposes them to Python.

from cython cimport floating
from libc.math cimport sqrt, sqrtf

from ._finite cimport chunk_finite


cdef enum:  # the solver codes
    NO_UPDATE = 0
    SOLVER_SGD = 1
    SOLVER_ADAM = 2
    SOLVER_RMSPROP = 3


cdef inline double l2_chunk(const floating *w, floating *g, Py_ssize_t n,
                            floating c) noexcept nogil:
    """g += c * w over the chunk; return sum(w**2).

    Eight running sums, one per SIMD lane: a single running sum would force
    the additions into one serial chain that the compiler may not reorder.
    """
    cdef Py_ssize_t i, k, n8 = n - n % 8
    cdef floating acc[8]
    cdef double total = 0
    for k in range(8):
        acc[k] = 0
    for i in range(0, n8, 8):
        for k in range(8):
            acc[k] += w[i + k] * w[i + k]
            g[i + k] += c * w[i + k]
    for i in range(n8, n):
        total += w[i] * w[i]
        g[i] += c * w[i]
    for k in range(8):
        total += acc[k]
    return total


cdef inline floating sqrt_(floating x) noexcept nogil:
    """``sqrt`` in the precision of ``x``."""
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline void sgd_chunk(floating *w, const floating *g, floating *vel, Py_ssize_t n,
                           floating mu, floating eta, bint nesterov) noexcept nogil:
    """SGD with momentum ``mu`` (and Nesterov's) on ``n`` parameters."""
    cdef Py_ssize_t i
    cdef floating v
    if nesterov:
        for i in range(n):
            v = mu * vel[i] - eta * g[i]
            vel[i] = v
            w[i] += mu * v - eta * g[i]
    else:
        for i in range(n):
            v = mu * vel[i] - eta * g[i]
            vel[i] = v
            w[i] += v


cdef inline void adam_chunk(floating *w, const floating *g, floating *m, floating *v,
                            Py_ssize_t n, floating b1, floating b2, floating eta,
                            floating eps) noexcept nogil:
    """Adam on ``n`` parameters; ``eta`` holds the bias corrections."""
    cdef Py_ssize_t i
    cdef floating gi, mi, vi
    for i in range(n):
        gi = g[i]
        mi = b1 * m[i] + (1 - b1) * gi
        vi = b2 * v[i] + (1 - b2) * gi * gi
        m[i] = mi
        v[i] = vi
        w[i] -= eta * mi / (sqrt_(vi) + eps)


cdef inline void rmsprop_chunk(floating *w, const floating *g, floating *sq, Py_ssize_t n,
                               floating rho, floating eta, floating eps) noexcept nogil:
    """RMSprop on ``n`` parameters."""
    cdef Py_ssize_t i
    cdef floating gi, si
    for i in range(n):
        gi = g[i]
        si = rho * sq[i] + (1 - rho) * gi * gi
        sq[i] = si
        w[i] -= eta * gi / (sqrt_(si) + eps)


cdef inline bint update_range(int solver, floating *w, const floating *g, floating *s1,
                              floating *s2, Py_ssize_t lo, Py_ssize_t hi, double lr,
                              double decay1, double decay2, double eps,
                              bint nesterov) noexcept nogil:
    """Solver ``solver``'s step on parameters ``[lo, hi)``; whether they (and
    the state that can overflow) are all finite after it.

    ``s1``, ``s2``: its state vectors (SGD's velocity; Adam's two moments;
    RMSprop's mean square). ``decay1`` is the decay rate of ``s1`` (SGD's
    momentum, Adam's beta_1, RMSprop's rho), ``decay2`` that of ``s2``
    (Adam's beta_2).

    The check is one more pass over a chunk just written, while it is in
    cache. It catches a step that overflowed and a NaN or infinite gradient,
    which always leaves a NaN or an infinity behind (the learning rate is
    positive): in the parameters, or in the mean of squared gradients of
    Adam and RMSprop, which overflows first and would otherwise freeze its
    parameters for good (``m / sqrt(inf)`` is 0). An infinite SGD velocity
    makes its parameter infinite too, and Adam's ``m`` is a mean of the
    gradients: neither needs a pass of its own.
    """
    if hi <= lo:
        return True
    w += lo
    g += lo
    s1 += lo
    if solver == SOLVER_SGD:
        sgd_chunk(w, g, s1, hi - lo, <floating>decay1, <floating>lr, nesterov and decay1 > 0)
        return chunk_finite(w, hi - lo)
    if solver == SOLVER_ADAM:
        adam_chunk(w, g, s1, s2 + lo, hi - lo, <floating>decay1, <floating>decay2,
                   <floating>lr, <floating>eps)
        return chunk_finite(w, hi - lo) and chunk_finite(s2 + lo, hi - lo)
    if solver == SOLVER_RMSPROP:
        rmsprop_chunk(w, g, s1, hi - lo, <floating>decay1, <floating>lr, <floating>eps)
        return chunk_finite(w, hi - lo) and chunk_finite(s1, hi - lo)
    return True

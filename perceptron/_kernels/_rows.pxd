# The per-row (and per-chunk) loops the kernels are made of, shared by the
# one-step kernels (``_dense.pyx``, ``_loss.pyx``, ``_dropout.pyx``,
# ``_optim.pyx``) and the whole-network training step (``_stack.pyx``).
#
# Each is a ``cdef inline`` function over raw pointers: a plain
# ``for j in range(d)`` loop with one branch-free body per case, which the C
# compiler turns into SIMD instructions. The kernels decide which thread runs
# which rows (``prange``); these functions only say what happens to one row.

from cython cimport floating
from libc.math cimport exp, expf, log, log1p, fabs, sqrt, sqrtf
from libc.stdint cimport uint64_t

from ._activations cimport activate, derivative


# -- dense layers ---------------------------------------------------------------

cdef inline void bias_activation_row(floating *z, const floating *b, Py_ssize_t d,
                                     int activation) noexcept nogil:
    """z[j] = f(z[j] + b[j]) for one row."""
    cdef Py_ssize_t j
    cdef floating v
    if activation == 1:  # relu: the common case, vectorised
        for j in range(d):
            v = z[j] + b[j]
            z[j] = v if v > 0 else 0
    elif activation == 0:
        for j in range(d):
            z[j] = z[j] + b[j]
    else:
        for j in range(d):
            z[j] = activate(z[j] + b[j], activation)


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


cdef inline void column_sums(const floating *g, floating *out, Py_ssize_t n,
                             Py_ssize_t width, Py_ssize_t ld) noexcept nogil:
    """out[j] = sum_i g[i, j] over ``width`` columns, rows added in order."""
    cdef Py_ssize_t i, j
    for j in range(width):
        out[j] = 0
    for i in range(n):
        for j in range(width):
            out[j] += g[j]
        g += ld


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


# -- output layers fused with their loss -------------------------------------

cdef inline double softmax_ce_row(const floating *z, Py_ssize_t y, floating *g,
                                  Py_ssize_t d, double scale,
                                  unsigned char *hit) noexcept nogil:
    """One row: ``g = scale * (softmax(z) - onehot(y))``; return its loss.

    One ``exp`` per class: ``e_j = exp(z_j - max)`` goes into ``g`` and is
    rescaled by ``scale / sum(e)`` once the sum is known. ``g`` may be ``z``,
    so ``z_y`` is read before anything is written.
    """
    cdef Py_ssize_t j, best = 0
    cdef floating zmax = z[0], zy = z[y], total = 0, inv
    for j in range(1, d):
        if z[j] > zmax:
            zmax = z[j]
            best = j
    hit[0] = best == y
    for j in range(d):
        g[j] = exp_(z[j] - zmax)
        total += g[j]
    inv = <floating>(scale / total)
    for j in range(d):
        g[j] *= inv
    g[y] -= <floating>scale
    return log(total) + zmax - zy


cdef inline floating exp_(floating x) noexcept nogil:
    if floating is float:
        return expf(x)
    else:
        return exp(x)

cdef inline double sigmoid_bce_row(const floating *z, Py_ssize_t y, floating *g,
                                   Py_ssize_t d, double scale,
                                   unsigned char *hit) noexcept nogil:
    """One row: ``g = scale * (sigmoid(z) - onehot(y))``; return its loss.

    ``loss_k = softplus(z_k) - t_k z_k``, written as
    ``max(z_k, 0) - t_k z_k + log1p(exp(-|z_k|))`` so that nothing overflows.
    ``g`` may be ``z``: each ``z_k`` is read before ``g_k`` is written.
    """
    cdef Py_ssize_t j, best = 0
    cdef double zj, zbest = z[0], t, s, e, acc = 0
    for j in range(d):
        zj = z[j]
        if zj > zbest:
            zbest = zj
            best = j
        t = 1.0 if j == y else 0.0
        e = exp(-fabs(zj))
        acc = acc + (zj if zj > 0 else 0.0) - t * zj + log1p(e)
        s = 1 / (1 + e) if zj >= 0 else e / (1 + e)
        g[j] = <floating>((s - t) * scale)
    hit[0] = best == y
    return acc


cdef inline void softmax_row(floating *z, Py_ssize_t d) noexcept nogil:
    """In place: ``z = softmax(z)`` for one row (``exp`` in the data's precision)."""
    cdef Py_ssize_t j
    cdef floating zmax = z[0], total = 0, inv
    for j in range(1, d):
        if z[j] > zmax:
            zmax = z[j]
    for j in range(d):
        z[j] = exp_(z[j] - zmax)
        total += z[j]
    inv = 1 / total
    for j in range(d):
        z[j] *= inv


cdef inline void sigmoid_proba_row(floating *z, Py_ssize_t d) noexcept nogil:
    """In place: one sigmoid per class, normalised to sum to one (one-vs-rest)."""
    cdef Py_ssize_t j
    cdef floating total = 0, e
    for j in range(d):
        e = exp_(-z[j] if z[j] >= 0 else z[j])  # exp(-|z|) never overflows
        z[j] = 1 / (1 + e) if z[j] >= 0 else e / (1 + e)
        total += z[j]
    for j in range(d):
        z[j] /= total


cdef inline double ordered_sum(const double *values, Py_ssize_t n) noexcept nogil:
    """The rows' losses added in row order: the same total for any thread count."""
    cdef Py_ssize_t i
    cdef double total = 0
    for i in range(n):
        total += values[i]
    return total


cdef inline Py_ssize_t count_set(const unsigned char *flags, Py_ssize_t n) noexcept nogil:
    """How many of ``flags[0:n]`` are set (the rows predicted right)."""
    cdef Py_ssize_t i, c = 0
    for i in range(n):
        c += flags[i]
    return c


# -- dropout ------------------------------------------------------------------

cdef inline uint64_t splitmix64(uint64_t x) noexcept nogil:
    x = x + <uint64_t>0x9E3779B97F4A7C15
    x = (x ^ (x >> 30)) * <uint64_t>0xBF58476D1CE4E5B9
    x = (x ^ (x >> 27)) * <uint64_t>0x94D049BB133111EB
    return x ^ (x >> 31)


cdef inline uint64_t dropout_threshold(double rate) noexcept nogil:
    """Element ``i`` is kept when the top 53 bits of its hash are >= this."""
    return <uint64_t>(rate * 9007199254740992.0)


cdef inline bint dropout_keeps(uint64_t seed, uint64_t i, uint64_t threshold) noexcept nogil:
    """Whether dropout keeps element ``i`` (row-major index in the batch).

    A hash of ``(seed, i)`` (SplitMix64), not a stream of random numbers: the
    mask is the same whichever thread draws which element, in any order.
    """
    return (splitmix64(seed ^ i * <uint64_t>0xD1B54A32D192ED03) >> 11) >= threshold


# -- optimizer updates over a chunk of the flat vectors (see _optim.pyx) ----

cdef inline floating sqrt_(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline void sgd_chunk(floating *w, const floating *g, floating *vel, Py_ssize_t n,
                           floating mu, floating eta, bint nesterov) noexcept nogil:
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
    cdef Py_ssize_t i
    cdef floating gi, si
    for i in range(n):
        gi = g[i]
        si = rho * sq[i] + (1 - rho) * gi * gi
        sq[i] = si
        w[i] -= eta * gi / (sqrt_(si) + eps)

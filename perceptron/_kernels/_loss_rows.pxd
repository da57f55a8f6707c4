# One row of the output layer fused with its loss: the loss value, the
# gradient ``dL/dz`` and whether the row is predicted right, in one pass over
# the logits; the probabilities at predict time; and the ordered sums that
# turn the rows' losses and hits into the batch's.
#
# Shared by the loss kernels of the layer-by-layer path (``_loss.pyx``) and
# the whole-step dense stack (``_stack.pyx``), so that both paths compute
# each row's loss and gradient with the same arithmetic. The derivations are
# in ``_loss.pyx``'s docstring.
#
# Each row's loss goes to a slot of its own and the slots are added in row
# order (``ordered_sum``): the total does not depend on which thread did
# which row.
#
# Sample weights enter one row at a time (``weighted_loss_row``): the row's
# loss is multiplied by its weight ``w_i`` and its gradient by
# ``scale * w_i``; the caller makes ``scale`` one over the batch's total
# weight (``gathered_sum``), so that the batch's loss is the weighted mean.
# Without weights every ``w_i`` is 1.0, and multiplying by 1.0 changes no
# bit: one code path, the unweighted results unchanged.

from cython cimport floating
from libc.math cimport (INFINITY, exp, expf, fabs, fabsf, isnan, log, log1p,
                        log1pf)


cdef inline floating exp_(floating x) noexcept nogil:
    """``exp`` in the precision of ``x``."""
    if floating is float:
        return expf(x)
    else:
        return exp(x)


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


cdef inline double weighted_loss_row(bint softmax, const floating *z, Py_ssize_t y,
                                     floating *g, Py_ssize_t d, double scale, double weight,
                                     unsigned char *hit) noexcept nogil:
    """One row of either loss, weighted: ``g = scale * weight * dL/dz``; return
    ``weight * loss``.

    ``softmax``: softmax + cross-entropy, else one sigmoid per class + binary
    cross-entropy. A weight of 0 gives a zero gradient and a zero loss (for
    a finite loss), as if the row were not in the batch.
    """
    if softmax:
        return weight * softmax_ce_row(z, y, g, d, scale * weight, hit)
    return weight * sigmoid_bce_row(z, y, g, d, scale * weight, hit)


cdef inline void softmax_row(floating *z, Py_ssize_t d) noexcept nogil:
    """In place: ``z = softmax(z)`` for one row, finite and summing to one for
    any logits (``exp`` in the data's precision).

    Logits that overflowed in the layers before (huge inputs) are taken at
    their limits: the classes at ``+inf`` share the whole probability, a
    ``-inf`` one gets 0. A NaN logit (``inf - inf`` in a matrix product)
    says nothing about its class: it gets 0. A row with no logit above
    ``-inf`` (all ``-inf`` or NaN) is uniform.
    """
    cdef Py_ssize_t j
    cdef floating zmax = -INFINITY, total = 0, inv
    for j in range(d):
        if z[j] > zmax:  # never true for a NaN
            zmax = z[j]
    if zmax == -INFINITY:
        for j in range(d):
            z[j] = <floating>1.0 / d
        return
    for j in range(d):
        if isnan(z[j]):
            z[j] = 0
        elif zmax == INFINITY:
            z[j] = 1 if z[j] == INFINITY else 0
        else:
            z[j] = exp_(z[j] - zmax)
        total += z[j]
    inv = 1 / total  # total >= 1: the largest logit's term is 1
    for j in range(d):
        z[j] *= inv


cdef inline floating log_sigmoid(floating z) noexcept nogil:
    """``log(sigmoid(z)) = min(z, 0) - log1p(exp(-|z|))``: never overflows, and
    keeps apart large logits whose sigmoids all round to 1."""
    if floating is float:
        return (z if z < 0 else 0) - log1pf(expf(-fabsf(z)))
    else:
        return (z if z < 0 else 0) - log1p(exp(-fabs(z)))


cdef inline void sigmoid_proba_row(floating *z, Py_ssize_t d) noexcept nogil:
    """In place: one sigmoid per class, normalised to sum to one (one-vs-rest).

    ``p_k = sigmoid(z_k) / sum_j sigmoid(z_j)`` is the softmax of the
    log-sigmoids, which :func:`softmax_row` computes without dividing by a
    sum that underflows: when every logit is very negative, each sigmoid is
    about ``exp(z_k)`` and ``p`` tends to ``softmax(z)`` (where dividing the
    sigmoids themselves gives 0 / 0).
    """
    cdef Py_ssize_t j
    for j in range(d):
        z[j] = log_sigmoid(z[j])
    softmax_row(z, d)


cdef inline double ordered_sum(const double *values, Py_ssize_t n) noexcept nogil:
    """The rows' losses added in row order: the same total for any thread count."""
    cdef Py_ssize_t i
    cdef double total = 0
    for i in range(n):
        total += values[i]
    return total


cdef inline double gathered_sum(const double *values, const Py_ssize_t *rows,
                                Py_ssize_t n) noexcept nogil:
    """``values[rows[0]] + values[rows[1]] + ...`` in row order: a batch's
    total weight, gathered from the whole set's weights."""
    cdef Py_ssize_t i
    cdef double total = 0
    for i in range(n):
        total += values[rows[i]]
    return total


cdef inline Py_ssize_t count_set(const unsigned char *flags, Py_ssize_t n) noexcept nogil:
    """How many of ``flags[0:n]`` are set (the rows predicted right)."""
    cdef Py_ssize_t i, c = 0
    for i in range(n):
        c += flags[i]
    return c

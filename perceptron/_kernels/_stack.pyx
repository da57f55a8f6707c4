"""A whole training step of a stack of dense layers in one parallel region.

The layer kernels (``_dense.pyx``) share each product of a step among the
threads, so the threads meet at every layer, forward and back -- nine
times per step for a 784-100-100-10 network, optimizer included -- while
the small last layer, the loss and the Python between the calls run on one
thread. This kernel
runs the whole step, optimizer update included, in one parallel region with
three meetings (barriers). Each part is shared the way that keeps a thread's
data in its own cache:

Phase A, by input features (the first layer, the widest product)
    Thread ``t`` takes a block ``F_t`` of the input features (pixels): it
    gathers those columns of the batch's rows from ``X``, and multiplies them
    by the same rows ``W1[F_t]`` of the first weight matrix into a partial
    product of its own (``Z1 = sum over t of X[:, F_t] @ W1[F_t]``).
Phase B, by rows of the batch (data parallelism: every other layer)
    Thread ``t`` takes a block of rows: adds up the partial products of those
    rows, then bias and activation (and dropout), and runs the rows forward
    through the other layers, the loss, and back down to ``dL/dZ1``. The
    weight gradients of layers 2.. are summed over its rows only, into a
    gradient vector of its own (thread 0's is the network's ``grads``).
Phase C, by blocks of the parameter vector
    Thread ``t`` computes ``dW1[F_t] = X[:, F_t].T @ dL/dZ1`` (the block it
    gathered in phase A, still in its cache), a block of columns of ``db1``,
    adds the threads' gradients of layers 2.. over its block of them in
    thread order, adds the L2 term, and checks that its blocks of the
    gradient are finite.
Phase D, the same blocks
    Unless the loss or a block of the gradient is not finite (the threads
    meet once more, to agree on that), thread ``t`` applies the optimizer to
    exactly its blocks, and checks that the parameters it wrote are finite.

A thread so reads and writes only its own rows of ``W1`` (most of the
model), step after step, and its own share of the optimizer's state. The
arithmetic is the layers' (see :class:`perceptron.layers.Dense`)::

    forward   A = f(X @ W + b)            (then the dropout mask, if any)
    backward  G <- G * mask * f'(A);  dW = X.T @ G;  db = G.sum(0);  G_below = G @ W.T

Scratch: ``work[t]`` is thread ``t``'s (its block of input columns for all
rows, its partial product, then for its rows each layer's output from layer
2 on -- and the dropped output after a dropout -- and two buffers for the
gradient flowing down); ``shared`` holds the first layer's output (and its
dropped output) and ``dL/dZ1``, each thread writing its own rows.
"""

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport isfinite
from libc.stdint cimport uint64_t
from libc.string cimport memcpy, memset

from ._dropout_mask cimport dropout_keeps, dropout_threshold
from ._finite cimport chunk_finite
from ._gemm cimport feature_split, gemm, gemm_blocks
from ._layer_rows cimport activation_backward_row, add_row, bias_activation_row, column_sums
from ._loss_rows cimport (count_set, gathered_sum, ordered_sum, sigmoid_proba_row,
                          softmax_row, weighted_loss_row)
from ._openmp cimport barrier, perc_omp_get_num_threads, perc_omp_get_thread_num
from ._update_rules cimport (NO_UPDATE, SOLVER_ADAM, SOLVER_RMSPROP, SOLVER_SGD, l2_chunk,
                             update_range)

import numpy as np

cdef enum:
    # deepest stack handled (pointer arrays on each thread's stack); deeper
    # networks train layer by layer
    MAX_LAYERS = 32
    # most threads (one slot each for the L2 penalty's partial sums)
    MAX_TEAM = 64
    # rows per block at predict time: a block's activations stay in cache
    PREDICT_ROWS = 512

#: the deepest stack :func:`dense_stack_step` takes
MAX_DENSE_LAYERS = MAX_LAYERS


def stack_team(Py_ssize_t m, const Py_ssize_t[::1] widths, int n_threads):
    """How many threads share a step of ``m`` rows through layers ``widths``.

    ``widths`` holds the input width, then each layer's number of units. The
    rule of one product (``gemm_blocks``), applied to the whole step.
    """
    return min(gemm_blocks(m, 1, _macs_per_row(&widths[0], widths.shape[0] - 1), n_threads),
               MAX_TEAM)


cdef Py_ssize_t _macs_per_row(const Py_ssize_t *widths, Py_ssize_t n_layers) noexcept nogil:
    """Multiply-adds of one row through every layer."""
    cdef Py_ssize_t l, macs = 0
    for l in range(n_layers):
        macs += widths[l] * widths[l + 1]
    return macs


cdef Py_ssize_t _partial_offset(Py_ssize_t m, Py_ssize_t d, int team) noexcept nogil:
    """Where a thread's partial product starts in its scratch: after its block
    of ``m`` rows by (at most) the widest block of the ``d`` input columns."""
    cdef Py_ssize_t t, widest = 0
    for t in range(team):
        widest = max(widest, feature_split(d, t + 1, team) - feature_split(d, t, team))
    return m * widest


cdef Py_ssize_t _widest_hidden(const Py_ssize_t *widths, Py_ssize_t n_layers) noexcept nogil:
    """Widest layer below the last: the gradient buffers' width."""
    cdef Py_ssize_t l, widest = 0
    for l in range(1, n_layers):
        widest = max(widest, widths[l])
    return widest


def work_size(Py_ssize_t m, int team, const Py_ssize_t[::1] widths,
              const double[::1] drop):
    """Length of one thread's scratch (``work[t]``) for a batch of ``m`` rows."""
    return _work_size(m, team, &widths[0], widths.shape[0] - 1, &drop[0])


def shared_size(Py_ssize_t m, const Py_ssize_t[::1] widths, const double[::1] drop):
    """Length of the scratch all threads share (``shared``)."""
    return m * widths[1] * (3 if drop[0] > 0 else 2)


cdef Py_ssize_t _work_size(Py_ssize_t m, int team, const Py_ssize_t *widths,
                           Py_ssize_t n_layers, const double *drop) noexcept nogil:
    cdef Py_ssize_t l, rows = (m + team - 1) // team
    cdef Py_ssize_t size = _partial_offset(m, widths[0], team)
    if team > 1:
        size += m * widths[1]
    for l in range(2, n_layers + 1):
        size += rows * widths[l] * (2 if drop[l - 1] > 0 else 1)
    size += 2 * rows * _widest_hidden(widths, n_layers)
    return _whole_lines(size)


cdef inline Py_ssize_t _whole_lines(Py_ssize_t n) noexcept nogil:
    """``n`` rounded up to a multiple of 16 values: a thread's scratch or
    gradient vector then fills whole 64-byte cache lines, and two threads
    never write into the same one."""
    return (n + 15) // 16 * 16


def grad_stride(Py_ssize_t n_params):
    """Row length of ``private`` in :func:`dense_stack_step` for ``n_params``
    parameters: each thread's gradient vector padded to whole cache lines."""
    return _whole_lines(n_params)


def dense_stack_step(const floating[:, ::1] X, const Py_ssize_t[::1] rows,
                     const Py_ssize_t[::1] y, floating[::1] params,
                     floating[::1] grads, floating[:, ::1] private,
                     floating[:, ::1] work, floating[::1] shared,
                     const Py_ssize_t[::1] widths, const int[::1] activations,
                     const double[::1] drop, const unsigned long long[::1] seeds,
                     bint softmax, double alpha, double[::1] row_loss,
                     unsigned char[::1] hit, int team, *,
                     const double[::1] sample_weight=None, int solver=NO_UPDATE,
                     floating[::1] state1=None, floating[::1] state2=None,
                     double lr=0, double decay1=0, double decay2=0, double eps=0,
                     bint nesterov=False):
    """Forward, loss, backward (and update) for ``X[rows]`` through a dense stack.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The whole training set; the step gathers its rows itself.
    rows : ndarray of shape (m,), dtype intp
        The mini-batch: indices into ``X`` and ``y``.
    y : ndarray of shape (n_samples,), dtype intp
        Class indices.
    params, grads : ndarray of shape (n_params,)
        The network's flat vectors: for each layer ``W`` (``(k, n)``,
        row-major) then ``b`` (``(n,)``). ``grads`` receives the gradient of
        the (weighted) mean loss plus ``0.5 * alpha * ||W||^2 / sum(w)``
        (see :mod:`perceptron._kernels._loss` for the definition).
    private : ndarray of shape (team - 1, >= n_params)
        The other threads' gradient vectors; rows of ``grad_stride(n_params)``
        values keep each in cache lines of its own.
    work : ndarray of shape (team, >= work_size(m, team, widths, drop))
    shared : ndarray of shape (>= shared_size(m, widths, drop),)
        Scratch (see the module's documentation).
    widths : ndarray of shape (n_layers + 1,), dtype intp
        Input width, then each layer's units.
    activations : ndarray of shape (n_layers,), dtype int32
        Activation code of each layer; the last must be 0 (identity: the
        loss takes the logits).
    drop, seeds : ndarray of shape (n_layers,)
        Dropout rate after each layer (0: none; the last must be 0) and the
        seed of its mask. Element ``(i, j)`` of the batch is kept exactly as
        :func:`perceptron._kernels._dropout.dropout_forward` keeps it.
    softmax : bool
        Softmax + cross-entropy; otherwise one sigmoid per class + binary
        cross-entropy.
    alpha : float
        L2 penalty.
    row_loss, hit : ndarray of shape (>= m,)
        Receive each row's loss and whether its arg-max logit is its class.
    team : int
        Threads (see :func:`stack_team`).

    The sample weights and the optimizer's arguments, keyword-only:

    sample_weight : ndarray of shape (n_samples,), dtype float64, optional
        The weight of every row of ``X`` (the step gathers its rows' weights
        as it gathers ``y``); None: all 1, the batch's total weight is ``m``.
        When the batch's total weight is 0, the gradient is 0 and the
        optimizer is not applied.

    solver : int
        Optimizer to apply after the gradient: ``_optim.SGD``, ``_optim.ADAM``
        or ``_optim.RMSPROP``; 0: none. It is skipped when the loss or the
        gradient is not finite.
    state1, state2 : ndarray of shape (n_params,)
        The optimizer's state: SGD's velocity; Adam's two moments; RMSprop's
        mean square.
    lr : float
        Learning rate (Adam: with its bias corrections folded in).
    decay1, decay2 : float
        Decay rates of ``state1`` (SGD's momentum, Adam's beta_1, RMSprop's
        rho) and of ``state2`` (Adam's beta_2).
    eps, nesterov
        Adam's and RMSprop's epsilon; SGD's Nesterov momentum.

    Returns
    -------
    loss : float
        The loss summed over the rows (in row order), each times its weight,
        without the penalty.
    n_correct : int
        Rows whose largest logit is at their class (not weighted).
    penalty : float
        ``sum(W**2)`` over every layer's weights (0 when ``alpha`` is 0).
    updated : bool
        Whether the optimizer step was applied.
    weight_sum : float
        The batch's total weight ``sum(w)`` (``m`` without weights), added in
        row order: the mean loss is ``(loss + 0.5 * alpha * penalty) /
        weight_sum``.
    finite : bool
        Whether the loss, the gradient and (when the step was applied) the
        updated parameters are all finite: False means training diverged.
    """
    cdef Py_ssize_t m = rows.shape[0], n_layers = widths.shape[0] - 1
    cdef Py_ssize_t n_params = 0, l, t, i
    cdef int me, running
    cdef double penalty_parts[MAX_TEAM]
    # per part of phases C and D: its blocks of the gradient, then of the
    # updated parameters, are finite
    cdef unsigned char grad_ok[MAX_TEAM]
    cdef unsigned char params_ok[MAX_TEAM]
    cdef bint step
    cdef double penalty = 0, loss, weight_sum = m, scale
    cdef const double *sw = NULL
    cdef Py_ssize_t n_correct = 0
    cdef floating *priv = NULL
    cdef floating *s1 = NULL
    cdef floating *s2 = NULL
    cdef Py_ssize_t ld_private = private.shape[1] if private is not None else 0
    for l in range(n_layers):
        n_params += widths[l] * widths[l + 1] + widths[l + 1]
    _check(X, rows, y, params, grads, private, work, shared, widths, activations, drop,
           seeds, row_loss, hit, team, n_params, m)
    if solver != NO_UPDATE:
        if (solver not in (SOLVER_SGD, SOLVER_ADAM, SOLVER_RMSPROP) or state1 is None
                or state1.shape[0] != n_params
                or (solver == SOLVER_ADAM and (state2 is None or state2.shape[0] != n_params))):
            raise ValueError("dense_stack_step: solver state does not match the parameters")
        s1 = &state1[0]
        if solver == SOLVER_ADAM:
            s2 = &state2[0]
    if sample_weight is not None:
        if sample_weight.shape[0] != X.shape[0]:
            raise ValueError("dense_stack_step: sample_weight and X differ in length")
        if m > 0:
            sw = &sample_weight[0]
            weight_sum = gathered_sum(sw, &rows[0], m)
    if m == 0:
        grads[:] = 0
        return 0.0, 0, 0.0, False, 0.0, True
    # the gradient of the weighted mean loss; a batch of weight 0 has none
    scale = 1.0 / weight_sum if weight_sum > 0 else 0.0
    if team > 1:
        priv = &private[0, 0]
    with nogil, parallel(num_threads=team):
        # Thread ``me`` does part ``t = me`` of each phase (and ``me + running``,
        # ... should the runtime start fewer threads than asked for). Plain
        # loops, not prange: Cython makes a prange's index both firstprivate
        # and lastprivate, and GCC then makes the threads wait for each other
        # at the start of the loop -- three more meetings per step on top of
        # the barriers below, which are all the phases need.
        me = perc_omp_get_thread_num()
        running = perc_omp_get_num_threads()
        t = me
        while t < team:
            _phase_a(&X[0, 0], &rows[0], m, t, team, &params[0], &work[t, 0], &shared[0],
                     &widths[0], &drop[0])
            t = t + running
        barrier()  # every partial product of the first layer is complete
        t = me
        while t < team:
            _phase_b(&rows[0], &y[0], sw, scale, m, t, team, &params[0],
                     &grads[0] if t == 0 else priv + (t - 1) * ld_private,
                     work, &shared[0], n_layers, &widths[0], &activations[0],
                     &drop[0], &seeds[0], softmax, &row_loss[0], &hit[0])
            t = t + running
        barrier()  # every row of dL/dZ1 and every thread's gradients are complete
        t = me
        while t < team:
            penalty_parts[t] = _phase_c(m, t, team, &params[0], &grads[0], priv,
                                        ld_private, work, &shared[0], n_layers,
                                        &widths[0], &drop[0], alpha, weight_sum,
                                        &grad_ok[t])
            params_ok[t] = True
            t = t + running
        barrier()  # every block of the gradient is complete and checked
        # the update: skipped for a batch of weight 0, or when the loss or
        # the gradient is not finite
        step = solver != NO_UPDATE and weight_sum > 0 and _all_set(grad_ok, team) \
            and isfinite(ordered_sum(&row_loss[0], m))
        t = me
        while step and t < team:
            params_ok[t] = _phase_d(t, team, &params[0], &grads[0], n_layers, &widths[0],
                                    solver, s1, s2, lr, decay1, decay2, eps, nesterov)
            t = t + running
    for t in range(team):
        penalty += penalty_parts[t]
    n_correct = count_set(&hit[0], m)
    loss = ordered_sum(&row_loss[0], m)
    step = solver != NO_UPDATE and weight_sum > 0 and _all_set(grad_ok, team) \
        and isfinite(loss)
    return (loss, n_correct, penalty, step, weight_sum,
            isfinite(loss) and _all_set(grad_ok, team) and _all_set(params_ok, team))


cdef inline bint _all_set(const unsigned char *flags, int n) noexcept nogil:
    return count_set(flags, n) == n


cdef void _check(const floating[:, ::1] X, const Py_ssize_t[::1] rows,
                 const Py_ssize_t[::1] y, floating[::1] params, floating[::1] grads,
                 floating[:, ::1] private, floating[:, ::1] work, floating[::1] shared,
                 const Py_ssize_t[::1] widths, const int[::1] activations,
                 const double[::1] drop, const unsigned long long[::1] seeds,
                 double[::1] row_loss, unsigned char[::1] hit, int team,
                 Py_ssize_t n_params, Py_ssize_t m) except *:
    cdef Py_ssize_t i, n_layers = widths.shape[0] - 1
    if not 1 <= n_layers <= MAX_LAYERS:
        raise ValueError(f"dense_stack_step: 1 to {MAX_LAYERS} layers, got {n_layers}")
    if not 1 <= team <= MAX_TEAM or team > max(m, 1):
        raise ValueError(f"dense_stack_step: team must be in [1, min({MAX_TEAM}, m)], "
                         f"got {team}")
    if (params.shape[0] != n_params or grads.shape[0] != n_params
            or X.shape[1] != widths[0] or y.shape[0] != X.shape[0]
            or activations.shape[0] != n_layers or drop.shape[0] != n_layers
            or seeds.shape[0] != n_layers or activations[n_layers - 1] != 0
            or drop[n_layers - 1] != 0 or row_loss.shape[0] < m or hit.shape[0] < m
            or work.shape[0] < team
            or work.shape[1] < _work_size(m, team, &widths[0], n_layers, &drop[0])
            or shared.shape[0] < m * widths[1] * (3 if drop[0] > 0 else 2)
            or (team > 1 and (private is None or private.shape[0] < team - 1
                              or private.shape[1] < n_params))):
        raise ValueError("dense_stack_step: arrays do not agree with the layer widths")
    for i in range(m):
        if rows[i] < 0 or rows[i] >= X.shape[0]:
            raise IndexError(f"dense_stack_step: row {rows[i]} out of range [0, {X.shape[0]})")
        if y[rows[i]] < 0 or y[rows[i]] >= widths[n_layers]:
            raise ValueError(f"dense_stack_step: class index {y[rows[i]]} out of range "
                             f"[0, {widths[n_layers]})")


cdef void _phase_a(const floating *X, const Py_ssize_t *rows, Py_ssize_t m, Py_ssize_t t,
                   int team, const floating *params, floating *work, floating *shared,
                   const Py_ssize_t *widths, const double *drop) noexcept nogil:
    """Thread ``t``: gather columns ``F_t`` of the batch, multiply by ``W1[F_t]``."""
    cdef Py_ssize_t i, d = widths[0], n = widths[1]
    cdef Py_ssize_t f0 = feature_split(d, t, team), f1 = feature_split(d, t + 1, team)
    cdef Py_ssize_t width = f1 - f0
    cdef floating *xb = work
    # one thread: the product is the first layer's output itself
    cdef floating *z = shared if team == 1 else work + _partial_offset(m, d, team)
    for i in range(m):
        memcpy(xb + i * width, X + rows[i] * d + f0, width * sizeof(floating))
    if width > 0:
        gemm(False, False, m, n, width, 1, xb, width, params + f0 * n, n, 0, z, n)
    else:
        memset(z, 0, m * n * sizeof(floating))


cdef inline void _apply_dropout(floating *out, const floating *a, Py_ssize_t m,
                                Py_ssize_t n, Py_ssize_t first_row, double rate,
                                uint64_t seed) noexcept nogil:
    """``out = a * mask`` for rows ``first_row ...`` of the batch (``a`` may be ``out``)."""
    cdef Py_ssize_t i, j
    cdef uint64_t threshold = dropout_threshold(rate)
    cdef floating keep_scale = <floating>(1.0 / (1.0 - rate))
    for i in range(m):
        for j in range(n):
            if dropout_keeps(seed, <uint64_t>((first_row + i) * n + j), threshold):
                out[i * n + j] = a[i * n + j] * keep_scale
            else:
                out[i * n + j] = 0


cdef void _phase_b(const Py_ssize_t *rows, const Py_ssize_t *y, const double *sw,
                   double scale, Py_ssize_t m_total,
                   Py_ssize_t t, int team, const floating *params, floating *grads,
                   floating[:, ::1] work, floating *shared, Py_ssize_t n_layers,
                   const Py_ssize_t *widths, const int *activations, const double *drop,
                   const unsigned long long *seeds, bint softmax, double *row_loss,
                   unsigned char *hit) noexcept nogil:
    """Thread ``t``: its rows forward from ``Z1``, loss, and back to ``dL/dZ1``."""
    cdef Py_ssize_t r0 = t * m_total // team, r1 = (t + 1) * m_total // team
    cdef Py_ssize_t m = r1 - r0, capacity = (m_total + team - 1) // team
    cdef Py_ssize_t i, j, s, l, k, n, o, n1 = widths[1]
    cdef Py_ssize_t widest = _widest_hidden(widths, n_layers)
    cdef Py_ssize_t partial_offset = _partial_offset(m_total, widths[0], team)
    # outs[l]: output of layer l (this thread's rows); ins[l]: the input of
    # layer l + 1, which is outs[l] times the dropout mask after a dropout
    cdef floating *outs[MAX_LAYERS + 1]
    cdef floating *ins[MAX_LAYERS + 1]
    cdef Py_ssize_t offset[MAX_LAYERS]
    cdef floating *p = &work[t, 0] + partial_offset + (m_total * n1 if team > 1 else 0)
    cdef floating *a1 = shared
    cdef floating *g1 = shared + m_total * n1 * (2 if drop[0] > 0 else 1)
    cdef floating *below
    cdef floating *g
    cdef floating *nxt
    cdef const floating *w

    # where each layer's W starts in the flat vector; this thread's buffers
    o = 0
    for l in range(n_layers):
        offset[l] = o
        o += widths[l] * widths[l + 1] + widths[l + 1]
    outs[1] = a1 + r0 * n1
    ins[1] = outs[1] if drop[0] == 0 else a1 + (m_total + r0) * n1
    for l in range(2, n_layers + 1):
        outs[l] = ins[l] = p
        p += capacity * widths[l]
        if drop[l - 1] > 0:
            ins[l] = p
            p += capacity * widths[l]
    below = p  # two buffers of capacity * widest: the gradient flowing down

    # first layer, these rows: add up the threads' partial products, then b1, f, dropout
    if team > 1:
        for i in range(r0, r1):
            memcpy(a1 + i * n1, &work[0, partial_offset + i * n1], n1 * sizeof(floating))
            for s in range(1, team):
                add_row(a1 + i * n1, &work[s, partial_offset + i * n1], n1)
    for i in range(m):
        bias_activation_row(outs[1] + i * n1, params + widths[0] * n1, n1, activations[0])
    if drop[0] > 0:
        _apply_dropout(ins[1], outs[1], m, n1, r0, drop[0], seeds[0])

    # the other layers forward
    for l in range(2, n_layers + 1):
        k = widths[l - 1]
        n = widths[l]
        w = params + offset[l - 1]
        gemm(False, False, m, n, k, 1, ins[l - 1], k, w, n, 0, outs[l], n)
        for i in range(m):
            bias_activation_row(outs[l] + i * n, w + k * n, n, activations[l - 1])
        if drop[l - 1] > 0:
            _apply_dropout(ins[l], outs[l], m, n, r0, drop[l - 1], seeds[l - 1])

    # loss: dL/dlogits (weighted mean over the whole batch: scale is one over
    # its total weight) in place of the logits, or into dL/dZ1 when the first
    # layer is the only one
    n = widths[n_layers]
    g = g1 + r0 * n1 if n_layers == 1 else outs[n_layers]
    for i in range(m):
        row_loss[r0 + i] = weighted_loss_row(softmax, outs[n_layers] + i * n,
                                             y[rows[r0 + i]], g + i * n, n, scale,
                                             1.0 if sw == NULL else sw[rows[r0 + i]],
                                             &hit[r0 + i])

    # backward through layers n_layers .. 2; g is dL/d(output of layer l) on entry
    for l in range(n_layers, 1, -1):
        k = widths[l - 1]
        n = widths[l]
        w = params + offset[l - 1]
        if l < n_layers:
            if drop[l - 1] > 0:
                _apply_dropout(g, g, m, n, r0, drop[l - 1], seeds[l - 1])
            for i in range(m):
                activation_backward_row(outs[l] + i * n, g + i * n, n, activations[l - 1])
        # dW = X.T @ G and db = G.sum(0) over these rows
        gemm(True, False, k, n, m, 1, ins[l - 1], k, g, n, 0, grads + offset[l - 1], n)
        column_sums(g, grads + offset[l - 1] + k * n, m, n, n)
        # G of the layer below, G @ W.T: into dL/dZ1's rows for the first layer
        nxt = g1 + r0 * n1 if l == 2 else below + ((n_layers - l) % 2) * capacity * widest
        gemm(False, True, m, k, n, 1, g, n, w, n, 0, nxt, k)
        g = nxt
    if n_layers > 1:  # first layer: dL/dA1 -> dL/dZ1 on these rows
        if drop[0] > 0:
            _apply_dropout(g, g, m, n1, r0, drop[0], seeds[0])
        for i in range(m):
            activation_backward_row(outs[1] + i * n1, g + i * n1, n1, activations[0])


cdef void _owned_blocks(Py_ssize_t t, int team, Py_ssize_t n_layers,
                        const Py_ssize_t *widths, Py_ssize_t *lo,
                        Py_ssize_t *hi) noexcept nogil:
    """The three blocks ``[lo[b], hi[b])`` of the flat vector that thread ``t``
    owns in phases C and D: the rows ``F_t`` of ``W1``, a block of ``b1``,
    and a block of the other layers' parameters (whole cache lines)."""
    cdef Py_ssize_t d = widths[0], n1 = widths[1], l
    cdef Py_ssize_t rest = d * n1 + n1, n_params = rest
    for l in range(1, n_layers):
        n_params += widths[l] * widths[l + 1] + widths[l + 1]
    lo[0] = feature_split(d, t, team) * n1
    hi[0] = feature_split(d, t + 1, team) * n1
    lo[1] = d * n1 + t * n1 // team
    hi[1] = d * n1 + (t + 1) * n1 // team
    lo[2] = rest + ((n_params - rest) * t // team) // 16 * 16
    hi[2] = n_params if t == team - 1 else \
        rest + ((n_params - rest) * (t + 1) // team) // 16 * 16


cdef double _phase_c(Py_ssize_t m, Py_ssize_t t, int team, const floating *params,
                     floating *grads, const floating *priv, Py_ssize_t ld_private,
                     floating[:, ::1] work, const floating *shared, Py_ssize_t n_layers,
                     const Py_ssize_t *widths, const double *drop, double alpha,
                     double weight_sum, unsigned char *finite) noexcept nogil:
    """Thread ``t``: gradient of ``W1[F_t]``, of a block of ``b1`` and of the
    other layers' parameters, L2 term included. Sets ``finite`` to whether
    these blocks of the gradient are finite; returns this thread's part of
    ``sum(W**2)``."""
    cdef Py_ssize_t d = widths[0], n1 = widths[1], l, o, b, s, w0, w1
    cdef Py_ssize_t lo[3]
    cdef Py_ssize_t hi[3]
    cdef const floating *g1 = shared + m * n1 * (2 if drop[0] > 0 else 1)
    # the L2 term's gradient, alpha W / sum(w) (none for a batch of weight 0)
    cdef floating l2_scale = <floating>(alpha / weight_sum) if weight_sum > 0 else 0
    cdef double penalty = 0
    _owned_blocks(t, team, n_layers, widths, lo, hi)
    # dW1[F_t] = X[:, F_t].T @ dL/dZ1, from the columns gathered in phase A
    if hi[0] > lo[0]:
        gemm(True, False, (hi[0] - lo[0]) // n1, n1, m, 1, &work[t, 0],
             (hi[0] - lo[0]) // n1, g1, n1, 0, grads + lo[0], n1)
    column_sums(g1 + lo[1] - d * n1, grads + lo[1], m, hi[1] - lo[1], n1)
    # layers 2..: this thread's block of their parameters, every thread's
    # gradient added in thread order
    for s in range(1, team):
        add_row(grads + lo[2], priv + (s - 1) * ld_private + lo[2], hi[2] - lo[2])
    if alpha != 0:
        penalty += l2_chunk(params + lo[0], grads + lo[0], hi[0] - lo[0], l2_scale)
        o = d * n1 + n1
        for l in range(1, n_layers):  # the weights of layer l + 1: [o, o + k n)
            w0 = max(o, lo[2])
            w1 = min(o + widths[l] * widths[l + 1], hi[2])
            if w0 < w1:
                penalty += l2_chunk(params + w0, grads + w0, w1 - w0, l2_scale)
            o += widths[l] * widths[l + 1] + widths[l + 1]
    finite[0] = True
    for b in range(3):
        finite[0] = finite[0] and chunk_finite(grads + lo[b], hi[b] - lo[b])
    return penalty


cdef bint _phase_d(Py_ssize_t t, int team, floating *params, const floating *grads,
                   Py_ssize_t n_layers, const Py_ssize_t *widths, int solver,
                   floating *s1, floating *s2, double lr, double decay1, double decay2,
                   double eps, bint nesterov) noexcept nogil:
    """Thread ``t``: the optimizer on its blocks; whether the parameters it
    wrote are finite."""
    cdef Py_ssize_t b
    cdef Py_ssize_t lo[3]
    cdef Py_ssize_t hi[3]
    cdef bint finite = True
    _owned_blocks(t, team, n_layers, widths, lo, hi)
    for b in range(3):
        finite = update_range(solver, params, grads, s1, s2, lo[b], hi[b], lr, decay1,
                              decay2, eps, nesterov) and finite
    return finite


def predict_work_size(const Py_ssize_t[::1] widths):
    """Length of one thread's scratch (``work[t]``) for :func:`dense_stack_predict`."""
    return _predict_work_size(&widths[0], widths.shape[0] - 1)


cdef Py_ssize_t _predict_work_size(const Py_ssize_t *widths, Py_ssize_t n_layers) noexcept nogil:
    """Two blocks of rows of the widest hidden layer, used in turn."""
    return 2 * PREDICT_ROWS * max(1, _widest_hidden(widths, n_layers))


def dense_stack_predict(const floating[:, ::1] X, const floating[::1] params,
                        floating[:, ::1] out, floating[:, ::1] work,
                        const Py_ssize_t[::1] widths, const int[::1] activations,
                        int output, bint check_finite, int n_threads):
    """The network's output for every row of ``X``, block of rows by block.

    Each thread takes blocks of :data:`PREDICT_ROWS` rows in turn (dynamic
    schedule, so that a thread slowed down by another program does fewer)
    and runs each block through every layer and the output function, its
    activations in its own scratch ``work[t]``, while they are in its cache:
    no layer's output for the whole of ``X`` is ever written out.

    Parameters
    ----------
    X : ndarray of shape (n_samples, widths[0])
    params : ndarray
        The flat parameter vector (see :func:`dense_stack_step`).
    out : ndarray of shape (n_samples, widths[-1])
    work : ndarray of shape (n_threads, >= predict_work_size(widths))
    widths, activations
        As :func:`dense_stack_step` (dropout does nothing at predict time).
    output : int
        0: the logits; 1: softmax; 2: one sigmoid per class, normalised.
    check_finite : bool
        Check each block of ``X`` for NaN and infinity just before its
        product.

    Returns
    -------
    finite : bool
        False when ``check_finite`` found a NaN or an infinity (``out`` is
        then garbage).
    """
    cdef Py_ssize_t m = X.shape[0], n_layers = widths.shape[0] - 1
    cdef Py_ssize_t n_blocks = (m + PREDICT_ROWS - 1) // PREDICT_ROWS
    cdef Py_ssize_t n_params = 0, l, blk
    cdef int team
    cdef unsigned char[::1] bad = np.zeros(max(n_blocks, 1), dtype=np.uint8)
    for l in range(n_layers):
        n_params += widths[l] * widths[l + 1] + widths[l + 1]
    if (not 1 <= n_layers <= MAX_LAYERS or params.shape[0] != n_params
            or X.shape[1] != widths[0] or out.shape[0] != m
            or out.shape[1] != widths[n_layers] or activations.shape[0] != n_layers
            or activations[n_layers - 1] != 0 or not 0 <= output <= 2):
        raise ValueError("dense_stack_predict: arrays do not agree with the layer widths")
    team = <int>min(gemm_blocks(m, 1, _macs_per_row(&widths[0], n_layers), n_threads),
                    n_blocks)
    if m == 0:
        return True
    if (work.shape[0] < team
            or work.shape[1] < _predict_work_size(&widths[0], n_layers)):
        raise ValueError("dense_stack_predict: work is too small")
    for blk in prange(n_blocks, nogil=True, schedule="dynamic", num_threads=team):
        bad[blk] = not _predict_block(&X[0, 0], &params[0], &out[0, 0],
                                      &work[perc_omp_get_thread_num(), 0], blk * PREDICT_ROWS,
                                      min((blk + 1) * PREDICT_ROWS, m), n_layers, &widths[0],
                                      &activations[0], output, check_finite)
    for blk in range(n_blocks):
        if bad[blk]:
            return False
    return True


cdef bint _predict_block(const floating *X, const floating *params, floating *out,
                         floating *work, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n_layers,
                         const Py_ssize_t *widths, const int *activations, int output,
                         bint check_finite) noexcept nogil:
    """Rows ``[r0, r1)`` through every layer; False if they hold a NaN or inf."""
    cdef Py_ssize_t m = r1 - r0, i, l, k, n, o = 0
    cdef Py_ssize_t half = _predict_work_size(widths, n_layers) // 2
    cdef const floating *inp = X + r0 * widths[0]
    cdef floating *dst
    if check_finite and not chunk_finite(inp, m * widths[0]):
        return False
    for l in range(n_layers):
        k = widths[l]
        n = widths[l + 1]
        # the last layer writes straight into out; the others into the two
        # halves of this thread's scratch in turn
        dst = out + r0 * n if l == n_layers - 1 else work + (l % 2) * half
        gemm(False, False, m, n, k, 1, inp, k, params + o, n, 0, dst, n)
        for i in range(m):
            bias_activation_row(dst + i * n, params + o + k * n, n, activations[l])
        inp = dst
        o += k * n + n
    n = widths[n_layers]
    if output == 1:
        for i in range(m):
            softmax_row(out + (r0 + i) * n, n)
    elif output == 2:
        for i in range(m):
            sigmoid_proba_row(out + (r0 + i) * n, n)
    return True

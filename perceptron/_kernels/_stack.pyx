"""A whole training step of a stack of dense layers in one parallel region.

The layer kernels (``_dense.pyx``) share each product of a step among the
threads, so the threads meet at every layer, forward and back -- nine
times per step for a 784-100-100-10 network, optimizer included -- while
the small last layer, the loss and the Python between the calls run on one
thread. This kernel runs the whole step, optimizer update included, in one
parallel region with three meetings (barriers).

The step is cut into ``K`` parts (``parts``): the batch's ``m`` rows into
``K`` chunks, the ``d`` input features into ``F = min(K, d // 16)`` blocks.
Each thread takes whole parts -- thread ``t`` of a team of ``T`` takes
chunks ``[t K / T, (t + 1) K / T)``, and feature blocks likewise -- and
each phase shares them the way that keeps a thread's data in its own cache:

Phase A, by input features (the first layer, the widest product)
    For each of its blocks ``F_b`` of the input features (pixels), a thread
    gathers those columns of the batch's rows from ``X`` and multiplies them
    by the same rows ``W1[F_b]`` of the first weight matrix into a partial
    product of the block's own: ``Z1 = P_0 + P_1 + ... + P_{F-1}`` with
    ``P_b = X[:, F_b] @ W1[F_b]``.
Phase B, by chunks of rows of the batch (data parallelism: every other layer)
    For each of its chunks, a thread adds up the partial products of the
    chunk's rows (in block order), then bias and activation (and dropout),
    and runs the rows forward through the other layers, the loss, and back
    down to ``dL/dZ1``. The weight gradients of layers 2.. are summed over
    the chunk's rows only, into a gradient vector of the chunk's own (chunk
    0's is the network's ``grads``).
Phase C, by blocks of the parameter vector
    For each of its feature blocks, a thread computes
    ``dW1[F_b] = X[:, F_b].T @ dL/dZ1`` (from the columns it gathered in
    phase A, still in its cache); for each of its chunks ``p``, block ``p``
    of ``db1`` and block ``p`` of the other layers' parameters, whose
    gradient is the chunks' gradients added in chunk order. It adds the L2
    term and checks that its blocks of the gradient are finite.
Phase D, the same blocks
    Unless the loss or a block of the gradient is not finite (the threads
    meet once more, to agree on that), each thread applies the optimizer to
    exactly its blocks, and checks that the parameters it wrote are finite.

A thread so reads and writes only its own rows of ``W1`` (most of the
model), step after step, and its own share of the optimizer's state. The
arithmetic is the layers' (see :class:`perceptron.layers.Dense`)::

    forward   A = f(X @ W + b)            (then the dropout mask, if any)
    backward  G <- G * mask * f'(A);  dW = X.T @ G;  db = G.sum(0);  G_below = G @ W.T

The same bits on any number of threads: the result depends on ``K``, never
on the team, because which thread does a part changes nothing in it. Each
product is one BLAS call per block or chunk, the same call whoever makes it
(a BLAS may round an element of a product differently when the product is
cut otherwise -- OpenBLAS takes another kernel for small products -- so it
never is); each sum across parts -- the partial products, the chunks'
gradients, the L2 penalty -- is added in block or chunk order, never in
thread order; and the rest is element by element (the dropout mask is a
hash of the element's index). :func:`stack_parts` chooses ``K`` from the
shapes and the machine's CPU count alone, so a step on 1, 2 or ``K``
threads gives bit-identical results; only its time differs.

Scratch: ``shared`` holds the first layer's output ``A1`` (where ``P_0`` is
computed, and its dropped output after a dropout), ``dL/dZ1``, the batch's
gathered columns (block by block) and the partial products ``P_1 ...``,
each thread writing its own blocks or rows; ``work[t]`` is thread ``t``'s
(for the chunk it is on, each layer's output from layer 2 on -- and the
dropped output after a dropout -- and two buffers for the gradient flowing
down); ``private`` holds chunks ``1 ... K - 1``'s gradients of layers 2...
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
                          sigmoid_row, softmax_row, weighted_loss_row)
from ._openmp cimport barrier, perc_omp_get_num_threads, perc_omp_get_thread_num
from ._update_rules cimport (NO_UPDATE, SOLVER_ADAM, SOLVER_RMSPROP, SOLVER_SGD, l2_chunk,
                             update_range)

import numpy as np

cdef enum:
    # deepest stack handled (pointer arrays on each thread's stack); deeper
    # networks train layer by layer
    MAX_LAYERS = 32
    # most parts the kernel takes: the most threads that can share a step
    MAX_PARTS = 8
    # the parts stack_parts cuts a step worth sharing into unless told more
    STEP_PARTS = 2
    # rows per block at predict time: a block's activations stay in cache
    PREDICT_ROWS = 512

#: the deepest stack :func:`dense_stack_step` takes
MAX_DENSE_LAYERS = MAX_LAYERS
#: the most parts :func:`stack_parts` cuts a step into
MAX_STEP_PARTS = MAX_PARTS


cdef struct SharedLayout:
    # where each buffer starts in ``shared``: the first layer's output (and
    # P_0), its dropped output, dL/dZ1, the gathered columns, P_1 ... P_{F-1}
    Py_ssize_t a1, dropped, g1, columns, partials
    # length of one m-by-n1 buffer (whole cache lines), and of them all
    Py_ssize_t block, size


def stack_parts(Py_ssize_t m, const Py_ssize_t[::1] widths, int most=STEP_PARTS):
    """``K``: the parts a step of ``m`` rows through layers ``widths`` is cut
    into, and so the most threads that can share it.

    From the shapes and ``most`` alone, never from the team, so that the
    step's result is the same on any number of threads: one part for a step
    too small to share, else ``most`` (at most ``MAX_PARTS``), with at least
    8 rows per part (the rule of one product, ``gemm_blocks``). Each part
    costs BLAS calls of its own, repacks the operands its products share
    with the other parts' (the weights, ``dL/dZ1``) and adds a gradient
    vector of its own, on one thread as on many: a step cut into more parts
    than it has threads is slower. The estimators pass the machine's CPU
    count (``_dense_stack.MOST_PARTS``), so a fit is the same on one thread
    as on every core of the machine, and can use them all.
    """
    most = max(1, min(most, MAX_PARTS))
    return gemm_blocks(m, 1, _macs_per_row(&widths[0], widths.shape[0] - 1), most)


cdef inline int _n_blocks(int parts, Py_ssize_t d) noexcept nogil:
    """``F``: blocks of the ``d`` input features, each at least 16 wide."""
    return <int>max(1, min(<Py_ssize_t>parts, d // 16))


cdef inline Py_ssize_t _first(Py_ssize_t t, int team, Py_ssize_t n) noexcept nogil:
    """First of the ``n`` chunks (or blocks) thread ``t`` takes; its last is
    the next thread's first, minus one."""
    return t * n // team


def stack_team(Py_ssize_t m, const Py_ssize_t[::1] widths, int n_threads,
               int most=STEP_PARTS):
    """How many threads share a step of ``m`` rows through layers ``widths``.

    ``widths`` holds the input width, then each layer's number of units. The
    rule of one product (``gemm_blocks``), applied to the whole step, and at
    most one thread per part (:func:`stack_parts` with ``most``).
    """
    return min(gemm_blocks(m, 1, _macs_per_row(&widths[0], widths.shape[0] - 1), n_threads),
               stack_parts(m, widths, most))


cdef Py_ssize_t _macs_per_row(const Py_ssize_t *widths, Py_ssize_t n_layers) noexcept nogil:
    """Multiply-adds of one row through every layer."""
    cdef Py_ssize_t l, macs = 0
    for l in range(n_layers):
        macs += widths[l] * widths[l + 1]
    return macs


cdef Py_ssize_t _widest_hidden(const Py_ssize_t *widths, Py_ssize_t n_layers) noexcept nogil:
    """Widest layer below the last: the gradient buffers' width."""
    cdef Py_ssize_t l, widest = 0
    for l in range(1, n_layers):
        widest = max(widest, widths[l])
    return widest


cdef inline Py_ssize_t _whole_lines(Py_ssize_t n) noexcept nogil:
    """``n`` rounded up to a multiple of 16 values: a buffer or a gradient
    vector then fills whole 64-byte cache lines, and two threads never
    write into the same one."""
    return (n + 15) // 16 * 16


cdef SharedLayout _shared_layout(Py_ssize_t m, int parts, const Py_ssize_t *widths,
                                 const double *drop) noexcept nogil:
    cdef SharedLayout at
    at.block = _whole_lines(m * widths[1])
    at.a1 = 0
    at.dropped = at.a1 + at.block
    at.g1 = at.dropped + (at.block if drop[0] > 0 else 0)
    at.columns = at.g1 + at.block
    at.partials = at.columns + _whole_lines(m * widths[0])
    at.size = at.partials + (_n_blocks(parts, widths[0]) - 1) * at.block
    return at


cdef inline floating *_partial(floating *shared, SharedLayout at, Py_ssize_t b) noexcept nogil:
    """``P_b``, the partial product of feature block ``b``; ``P_0`` is computed
    in place of the first layer's output."""
    return shared + (at.a1 if b == 0 else at.partials + (b - 1) * at.block)


def shared_size(Py_ssize_t m, int parts, const Py_ssize_t[::1] widths,
                const double[::1] drop):
    """Length of the scratch all threads share (``shared``)."""
    return _shared_layout(m, parts, &widths[0], &drop[0]).size


def work_size(Py_ssize_t m, int parts, const Py_ssize_t[::1] widths,
              const double[::1] drop):
    """Length of one thread's scratch (``work[t]``) for a batch of ``m`` rows."""
    return _work_size(m, parts, &widths[0], widths.shape[0] - 1, &drop[0])


cdef Py_ssize_t _work_size(Py_ssize_t m, int parts, const Py_ssize_t *widths,
                           Py_ssize_t n_layers, const double *drop) noexcept nogil:
    """Each layer's output from layer 2 on (twice after a dropout) and two
    gradient buffers, for the largest chunk."""
    cdef Py_ssize_t l, rows = (m + parts - 1) // parts
    cdef Py_ssize_t size = 2 * rows * _widest_hidden(widths, n_layers)
    for l in range(2, n_layers + 1):
        size += rows * widths[l] * (2 if drop[l - 1] > 0 else 1)
    return _whole_lines(max(size, 1))


def chunk_grad_size(const Py_ssize_t[::1] widths):
    """Row length of ``private`` in :func:`dense_stack_step`: a chunk's
    gradient of layers 2.., padded to whole cache lines."""
    cdef Py_ssize_t n_params = _n_params(&widths[0], widths.shape[0] - 1)
    return _whole_lines(n_params - _first_layer_size(&widths[0]))


cdef inline Py_ssize_t _first_layer_size(const Py_ssize_t *widths) noexcept nogil:
    """Parameters of the first layer, ``W1`` and ``b1``: where layer 2's start."""
    return widths[0] * widths[1] + widths[1]


cdef Py_ssize_t _n_params(const Py_ssize_t *widths, Py_ssize_t n_layers) noexcept nogil:
    """Length of the flat parameter vector."""
    cdef Py_ssize_t l, n = 0
    for l in range(n_layers):
        n += widths[l] * widths[l + 1] + widths[l + 1]
    return n


def dense_stack_step(const floating[:, ::1] X, const Py_ssize_t[::1] rows,
                     const unsigned char[:, ::1] T, floating[::1] params,
                     floating[::1] grads, floating[:, ::1] private,
                     floating[:, ::1] work, floating[::1] shared,
                     const Py_ssize_t[::1] widths, const int[::1] activations,
                     const double[::1] drop, const unsigned long long[::1] seeds,
                     int output, double alpha, double[::1] row_loss,
                     unsigned char[::1] hit, int parts, int team, *,
                     const double[::1] sample_weight=None, int solver=NO_UPDATE,
                     floating[::1] state1=None, floating[::1] state2=None,
                     double lr=0, double decay1=0, double decay2=0, double eps=0,
                     bint nesterov=False):
    """Forward, loss, backward (and update) for ``X[rows]`` through a dense stack.

    The result depends on ``parts``, and is the same, bit for bit, for any
    ``team``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The whole training set; the step gathers its rows itself.
    rows : ndarray of shape (m,), dtype intp
        The mini-batch: indices into ``X`` and ``T``.
    T : ndarray of shape (n_samples, widths[-1]), dtype uint8
        The 0/1 targets, one column per output unit (see ``_loss.pyx``).
    params, grads : ndarray of shape (n_params,)
        The network's flat vectors: for each layer ``W`` (``(k, n)``,
        row-major) then ``b`` (``(n,)``). ``grads`` receives the gradient of
        the (weighted) mean loss plus ``0.5 * alpha * ||W||^2 / sum(w)``
        (see :mod:`perceptron._kernels._loss` for the definition).
    private : ndarray of shape (parts - 1, >= chunk_grad_size(widths))
        The gradients of layers 2.. of chunks ``1 ... parts - 1``; rows of
        ``chunk_grad_size(widths)`` values keep each in cache lines of its
        own.
    work : ndarray of shape (team, >= work_size(m, parts, widths, drop))
    shared : ndarray of shape (>= shared_size(m, parts, widths, drop),)
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
    output : int
        The output function and its loss: 1, softmax + cross-entropy; 2, one
        sigmoid per class + binary cross-entropy, one class per row; 3, the
        same loss with each unit its own label (multi-label, the binary
        unit), which only changes how a row counts as right. The codes of
        :func:`dense_stack_predict`.
    alpha : float
        L2 penalty.
    row_loss, hit : ndarray of shape (>= m,)
        Receive each row's loss and whether it is predicted right.
    parts : int
        The parts the step is cut into, at most ``min(MAX_PARTS, m)`` (see
        :func:`stack_parts`).
    team : int
        Threads, at most ``parts`` (see :func:`stack_team`).

    The sample weights and the optimizer's arguments, keyword-only:

    sample_weight : ndarray of shape (n_samples,), dtype float64, optional
        The weight of every row of ``X`` (the step gathers its rows' weights
        as it gathers ``T``); None: all 1, the batch's total weight is ``m``.
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
        Rows predicted right (see ``output``; not weighted).
    penalty : float
        ``sum(W**2)`` over every layer's weights (0 when ``alpha`` is 0),
        added block by block in a fixed order.
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
    cdef Py_ssize_t n_params = _n_params(&widths[0], n_layers), l, t, i, c, b
    cdef int me, running, n_blocks = _n_blocks(parts, widths[0])
    cdef SharedLayout at = _shared_layout(m, parts, &widths[0], &drop[0])
    # sum(W**2) of each block of W1, then of each part of layers 2..
    cdef double penalty_parts[2 * MAX_PARTS]
    # per thread: its blocks of the gradient, then of the updated
    # parameters, are finite
    cdef unsigned char grad_ok[MAX_PARTS]
    cdef unsigned char params_ok[MAX_PARTS]
    cdef bint step
    cdef double penalty = 0, loss, weight_sum = m, scale
    cdef const double *sw = NULL
    cdef Py_ssize_t n_correct = 0
    cdef floating *priv = NULL
    cdef floating *s1 = NULL
    cdef floating *s2 = NULL
    cdef Py_ssize_t ld_private = private.shape[1] if private is not None else 0
    _check(X, rows, T, params, grads, private, work, shared, widths, activations, drop,
           seeds, output, row_loss, hit, parts, team, n_params, m)
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
    if ld_private > 0 and private.shape[0] > 0:
        priv = &private[0, 0]
    with nogil, parallel(num_threads=team):
        # Thread ``me`` does share ``t = me`` of each phase (and ``me + running``,
        # ... should the runtime start fewer threads than asked for): whole
        # chunks and blocks, from ``_first(t)`` to ``_first(t + 1) - 1``. Plain
        # loops, not prange: Cython makes a prange's index both firstprivate
        # and lastprivate, and GCC then makes the threads wait for each other
        # at the start of the loop -- three more meetings per step on top of
        # the barriers below, which are all the phases need.
        me = perc_omp_get_thread_num()
        running = perc_omp_get_num_threads()
        t = me
        while t < team:
            for b in range(_first(t, team, n_blocks), _first(t + 1, team, n_blocks)):
                _phase_a(&X[0, 0], &rows[0], m, b, n_blocks, &params[0], &shared[0], at,
                         &widths[0])
            t = t + running
        barrier()  # every partial product of the first layer is complete
        t = me
        while t < team:
            for c in range(_first(t, team, parts), _first(t + 1, team, parts)):
                _phase_b(&rows[0], &T[0, 0], sw, scale, m, c, parts, n_blocks,
                         &params[0], _chunk_grads(&grads[0], priv, ld_private, c, &widths[0]),
                         &work[t, 0], &shared[0], at, n_layers, &widths[0],
                         &activations[0], &drop[0], &seeds[0], output, &row_loss[0],
                         &hit[0])
            t = t + running
        barrier()  # every row of dL/dZ1 and every chunk's gradients are complete
        t = me
        while t < team:
            grad_ok[t] = True
            for b in range(_first(t, team, n_blocks), _first(t + 1, team, n_blocks)):
                penalty_parts[b] = _phase_c_block(m, b, n_blocks, &params[0], &grads[0],
                                                  &shared[0], at, &widths[0], alpha,
                                                  weight_sum, &grad_ok[t])
            for c in range(_first(t, team, parts), _first(t + 1, team, parts)):
                penalty_parts[n_blocks + c] = _phase_c_part(
                    m, c, parts, &params[0], &grads[0], priv, ld_private, &shared[0], at,
                    n_layers, &widths[0], alpha, weight_sum, &grad_ok[t])
            params_ok[t] = True
            t = t + running
        barrier()  # every block of the gradient is complete and checked
        # the update: skipped for a batch of weight 0, or when the loss or
        # the gradient is not finite
        step = solver != NO_UPDATE and weight_sum > 0 and _all_set(grad_ok, team) \
            and isfinite(ordered_sum(&row_loss[0], m))
        t = me
        while step and t < team:
            params_ok[t] = _phase_d(t, team, parts, n_blocks, &params[0], &grads[0],
                                    n_layers, &widths[0], solver, s1, s2, lr, decay1,
                                    decay2, eps, nesterov)
            t = t + running
    for b in range(n_blocks + parts):  # in block order, then chunk order
        penalty += penalty_parts[b]
    n_correct = count_set(&hit[0], m)
    loss = ordered_sum(&row_loss[0], m)
    step = solver != NO_UPDATE and weight_sum > 0 and _all_set(grad_ok, team) \
        and isfinite(loss)
    return (loss, n_correct, penalty, step, weight_sum,
            isfinite(loss) and _all_set(grad_ok, team) and _all_set(params_ok, team))


cdef inline bint _all_set(const unsigned char *flags, int n) noexcept nogil:
    return count_set(flags, n) == n


cdef inline floating *_chunk_grads(floating *grads, floating *priv, Py_ssize_t ld_private,
                                   Py_ssize_t c, const Py_ssize_t *widths) noexcept nogil:
    """Where chunk ``c`` sums its gradient of layers 2..: in ``grads`` itself
    for chunk 0, in row ``c - 1`` of ``private`` for the others."""
    if c == 0:
        return grads + _first_layer_size(widths)
    return priv + (c - 1) * ld_private


cdef void _check(const floating[:, ::1] X, const Py_ssize_t[::1] rows,
                 const unsigned char[:, ::1] T, floating[::1] params, floating[::1] grads,
                 floating[:, ::1] private, floating[:, ::1] work, floating[::1] shared,
                 const Py_ssize_t[::1] widths, const int[::1] activations,
                 const double[::1] drop, const unsigned long long[::1] seeds, int output,
                 double[::1] row_loss, unsigned char[::1] hit, int parts, int team,
                 Py_ssize_t n_params, Py_ssize_t m) except *:
    cdef Py_ssize_t i, n_layers = widths.shape[0] - 1
    cdef Py_ssize_t chunk_grads = n_params - _first_layer_size(&widths[0])
    if not 1 <= n_layers <= MAX_LAYERS:
        raise ValueError(f"dense_stack_step: 1 to {MAX_LAYERS} layers, got {n_layers}")
    if not 1 <= parts <= min(MAX_PARTS, max(m, 1)):
        raise ValueError(f"dense_stack_step: parts must be in [1, min({MAX_PARTS}, m)], "
                         f"got {parts}")
    if not 1 <= team <= parts:
        raise ValueError(f"dense_stack_step: team must be in [1, parts], got {team} for "
                         f"{parts} parts")
    if (params.shape[0] != n_params or grads.shape[0] != n_params
            or X.shape[1] != widths[0] or T.shape[0] != X.shape[0]
            or T.shape[1] != widths[n_layers] or not 1 <= output <= 3
            or activations.shape[0] != n_layers or drop.shape[0] != n_layers
            or seeds.shape[0] != n_layers or activations[n_layers - 1] != 0
            or drop[n_layers - 1] != 0 or row_loss.shape[0] < m or hit.shape[0] < m
            or work.shape[0] < team
            or work.shape[1] < _work_size(m, parts, &widths[0], n_layers, &drop[0])
            or shared.shape[0] < _shared_layout(m, parts, &widths[0], &drop[0]).size
            or (parts > 1 and chunk_grads > 0
                and (private is None or private.shape[0] < parts - 1
                     or private.shape[1] < chunk_grads))):
        raise ValueError("dense_stack_step: arrays do not agree with the layer widths")
    for i in range(m):
        if rows[i] < 0 or rows[i] >= X.shape[0]:
            raise IndexError(f"dense_stack_step: row {rows[i]} out of range [0, {X.shape[0]})")


cdef void _phase_a(const floating *X, const Py_ssize_t *rows, Py_ssize_t m, Py_ssize_t b,
                   int n_blocks, const floating *params, floating *shared, SharedLayout at,
                   const Py_ssize_t *widths) noexcept nogil:
    """Feature block ``b``: gather its columns of the batch, ``P_b = X[:, F_b] @ W1[F_b]``."""
    cdef Py_ssize_t i, d = widths[0], n = widths[1]
    cdef Py_ssize_t f0 = feature_split(d, b, n_blocks), f1 = feature_split(d, b + 1, n_blocks)
    cdef Py_ssize_t width = f1 - f0
    cdef floating *xb = shared + at.columns + m * f0  # the block's m-by-width columns
    cdef floating *z = _partial(shared, at, b)
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


cdef void _phase_b(const Py_ssize_t *rows, const unsigned char *T, const double *sw,
                   double scale, Py_ssize_t m_total, Py_ssize_t c, int parts,
                   int n_blocks, const floating *params, floating *chunk_grads,
                   floating *work, floating *shared, SharedLayout at, Py_ssize_t n_layers,
                   const Py_ssize_t *widths, const int *activations, const double *drop,
                   const unsigned long long *seeds, int output, double *row_loss,
                   unsigned char *hit) noexcept nogil:
    """Chunk ``c``: its rows forward from the partial products, loss, and back
    to ``dL/dZ1``; the gradient of layers 2.. over its rows into
    ``chunk_grads`` (laid out as they are in ``grads``)."""
    cdef Py_ssize_t r0 = c * m_total // parts, r1 = (c + 1) * m_total // parts
    cdef Py_ssize_t m = r1 - r0, capacity = (m_total + parts - 1) // parts
    cdef Py_ssize_t i, b, l, k, n, o, n1 = widths[1]
    cdef Py_ssize_t widest = _widest_hidden(widths, n_layers)
    # outs[l]: output of layer l (this chunk's rows); ins[l]: the input of
    # layer l + 1, which is outs[l] times the dropout mask after a dropout
    cdef floating *outs[MAX_LAYERS + 1]
    cdef floating *ins[MAX_LAYERS + 1]
    # offset[l]: where layer l + 1's W starts in the flat vector; in
    # chunk_grads, which starts with layer 2's, at offset[l] - offset[1]
    cdef Py_ssize_t offset[MAX_LAYERS]
    cdef floating *p = work
    cdef floating *a1 = shared + at.a1
    cdef floating *g1 = shared + at.g1
    cdef floating *below
    cdef floating *g
    cdef floating *nxt
    cdef floating *dw
    cdef const floating *w

    # where each layer's W starts; this chunk's buffers in the thread's scratch
    o = 0
    for l in range(n_layers):
        offset[l] = o
        o += widths[l] * widths[l + 1] + widths[l + 1]
    outs[1] = a1 + r0 * n1
    ins[1] = outs[1] if drop[0] == 0 else shared + at.dropped + r0 * n1
    for l in range(2, n_layers + 1):
        outs[l] = ins[l] = p
        p += capacity * widths[l]
        if drop[l - 1] > 0:
            ins[l] = p
            p += capacity * widths[l]
    below = p  # two buffers of capacity * widest: the gradient flowing down

    # first layer, these rows: P_0 (in place) plus the other partial products
    # in block order, then b1, f, dropout
    for i in range(r0, r1):
        for b in range(1, n_blocks):
            add_row(a1 + i * n1, _partial(shared, at, b) + i * n1, n1)
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
        row_loss[r0 + i] = weighted_loss_row(output, outs[n_layers] + i * n,
                                             T + rows[r0 + i] * n, g + i * n, n, scale,
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
        dw = chunk_grads + offset[l - 1] - offset[1]
        gemm(True, False, k, n, m, 1, ins[l - 1], k, g, n, 0, dw, n)
        column_sums(g, dw + k * n, m, n, n)
        # G of the layer below, G @ W.T: into dL/dZ1's rows for the first layer
        nxt = g1 + r0 * n1 if l == 2 else below + ((n_layers - l) % 2) * capacity * widest
        gemm(False, True, m, k, n, 1, g, n, w, n, 0, nxt, k)
        g = nxt
    if n_layers > 1:  # first layer: dL/dA1 -> dL/dZ1 on these rows
        if drop[0] > 0:
            _apply_dropout(g, g, m, n1, r0, drop[0], seeds[0])
        for i in range(m):
            activation_backward_row(outs[1] + i * n1, g + i * n1, n1, activations[0])


cdef double _phase_c_block(Py_ssize_t m, Py_ssize_t b, int n_blocks, const floating *params,
                           floating *grads, const floating *shared, SharedLayout at,
                           const Py_ssize_t *widths, double alpha, double weight_sum,
                           unsigned char *finite) noexcept nogil:
    """Feature block ``b``: the gradient of ``W1[F_b]``, L2 term included.
    Clears ``finite`` unless it is finite; returns ``sum(W1[F_b]**2)``."""
    cdef Py_ssize_t d = widths[0], n1 = widths[1]
    cdef Py_ssize_t f0 = feature_split(d, b, n_blocks), f1 = feature_split(d, b + 1, n_blocks)
    cdef Py_ssize_t width = f1 - f0
    # the L2 term's gradient, alpha W / sum(w) (none for a batch of weight 0)
    cdef floating l2_scale = <floating>(alpha / weight_sum) if weight_sum > 0 else 0
    cdef double penalty = 0
    if width == 0:
        return 0
    # dW1[F_b] = X[:, F_b].T @ dL/dZ1, from the columns gathered in phase A
    gemm(True, False, width, n1, m, 1, shared + at.columns + m * f0, width, shared + at.g1,
         n1, 0, grads + f0 * n1, n1)
    if alpha != 0:
        penalty = l2_chunk(params + f0 * n1, grads + f0 * n1, width * n1, l2_scale)
    finite[0] = finite[0] and chunk_finite(grads + f0 * n1, width * n1)
    return penalty


cdef void _part_ranges(Py_ssize_t p, int parts, Py_ssize_t n_layers,
                       const Py_ssize_t *widths, Py_ssize_t *lo, Py_ssize_t *hi) noexcept nogil:
    """Part ``p`` of the vector besides ``W1``: ``[lo[0], hi[0])`` in ``b1``
    and ``[lo[1], hi[1])`` in the other layers' parameters (whole cache lines)."""
    cdef Py_ssize_t n1 = widths[1], rest = _first_layer_size(widths)
    cdef Py_ssize_t n_params = _n_params(widths, n_layers)
    lo[0] = rest - n1 + p * n1 // parts
    hi[0] = rest - n1 + (p + 1) * n1 // parts
    lo[1] = rest + ((n_params - rest) * p // parts) // 16 * 16
    hi[1] = n_params if p == parts - 1 else \
        rest + ((n_params - rest) * (p + 1) // parts) // 16 * 16


cdef double _phase_c_part(Py_ssize_t m, Py_ssize_t p, int parts, const floating *params,
                          floating *grads, const floating *priv, Py_ssize_t ld_private,
                          const floating *shared, SharedLayout at, Py_ssize_t n_layers,
                          const Py_ssize_t *widths, double alpha, double weight_sum,
                          unsigned char *finite) noexcept nogil:
    """Part ``p``: the gradient of a block of ``b1`` and of a block of the other
    layers' parameters, L2 term included. Clears ``finite`` unless they are
    finite; returns the block's part of ``sum(W**2)``."""
    cdef Py_ssize_t d = widths[0], n1 = widths[1], rest = _first_layer_size(widths)
    cdef Py_ssize_t l, o, c, w0, w1
    cdef Py_ssize_t lo[2]
    cdef Py_ssize_t hi[2]
    cdef floating l2_scale = <floating>(alpha / weight_sum) if weight_sum > 0 else 0
    cdef double penalty = 0
    _part_ranges(p, parts, n_layers, widths, lo, hi)
    column_sums(shared + at.g1 + lo[0] - d * n1, grads + lo[0], m, hi[0] - lo[0], n1)
    # the other layers (if any): chunk 0's gradient is in grads already; the
    # others' are added in chunk order
    if hi[1] > lo[1]:
        for c in range(1, parts):
            add_row(grads + lo[1], priv + (c - 1) * ld_private + lo[1] - rest, hi[1] - lo[1])
    if alpha != 0:
        o = rest
        for l in range(1, n_layers):  # the weights of layer l + 1: [o, o + k n)
            w0 = max(o, lo[1])
            w1 = min(o + widths[l] * widths[l + 1], hi[1])
            if w0 < w1:
                penalty += l2_chunk(params + w0, grads + w0, w1 - w0, l2_scale)
            o += widths[l] * widths[l + 1] + widths[l + 1]
    finite[0] = finite[0] and chunk_finite(grads + lo[0], hi[0] - lo[0]) \
        and chunk_finite(grads + lo[1], hi[1] - lo[1])
    return penalty


cdef bint _phase_d(Py_ssize_t t, int team, int parts, int n_blocks, floating *params,
                   const floating *grads, Py_ssize_t n_layers, const Py_ssize_t *widths,
                   int solver, floating *s1, floating *s2, double lr, double decay1,
                   double decay2, double eps, bint nesterov) noexcept nogil:
    """Thread ``t``: the optimizer on the blocks it owned in phase C; whether
    the parameters it wrote are finite."""
    cdef Py_ssize_t b, p, n1 = widths[1]
    cdef Py_ssize_t lo[2]
    cdef Py_ssize_t hi[2]
    cdef bint finite = True
    # its rows of W1, in one range
    finite = update_range(solver, params, grads, s1, s2,
                          feature_split(widths[0], _first(t, team, n_blocks), n_blocks) * n1,
                          feature_split(widths[0], _first(t + 1, team, n_blocks), n_blocks) * n1,
                          lr, decay1, decay2, eps, nesterov)
    for p in range(_first(t, team, parts), _first(t + 1, team, parts)):
        _part_ranges(p, parts, n_layers, widths, lo, hi)
        for b in range(2):
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
        0: the logits; 1: softmax; 2: one sigmoid per class, normalised; 3: one
        sigmoid per unit, each its own probability.
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
            or activations[n_layers - 1] != 0 or not 0 <= output <= 3):
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
    elif output == 3:
        for i in range(m):
            sigmoid_row(out + (r0 + i) * n, n)
    return True

"""The fused engine of dense stacks: a whole training step in one kernel call.

A perceptron or an MLP is a plain stack of :class:`~perceptron.layers.Dense`
layers, with :class:`~perceptron.layers.Dropout` allowed between them. Such a
network trains through ``_kernels/_stack.pyx``: gather, forward, loss,
backward and the optimizer's update run in one parallel region in which the
threads meet three times per step, instead of several times per layer, and
prediction takes blocks of rows through every layer while they are in
cache. The arithmetic is the layers' own (``Dense.forward``/``backward``,
``Dropout``'s masks, the optimizer's update): :class:`DenseStackNetwork`
gives the same results as the layer-by-layer :class:`~perceptron._network.Network`
up to the order of floating-point sums, which the tests check. The step is
cut into parts chosen from the shapes and the machine's CPU count alone
(``_stack.stack_parts``, :data:`MOST_PARTS`), which the threads share out:
on one machine its result is the same, bit for bit, on any number of
threads.
"""

import math
import os
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._kernels import _stack
from ._network import OUTPUT_CODES, Network, mean_loss, raise_not_finite, take_rows
from .layers import Dense, Dropout

#: The most parts a training step is cut into: the machine's CPUs (not the
#: threads a fit is given, which change with ``n_threads``, joblib's or
#: Dask's workers), at most the kernel's limit. Fixed per machine, so a fit
#: on one thread (a Dask or loky worker) is bit for bit the fit on every
#: core, which can all share its steps.
MOST_PARTS = max(1, min(os.cpu_count() or 1, _stack.MAX_STEP_PARTS))


@dataclass
class StepPlan:
    """What :func:`_stack.dense_stack_step` needs for batches of one size.

    Made once per batch size (and thread count) and reused step after step.
    """

    #: input width, then each layer's units
    widths: np.ndarray
    #: activation code of each dense layer
    activations: np.ndarray
    #: dropout rate after each dense layer (0: none)
    drop: np.ndarray
    #: the Dropout layers, by the index of the dense layer they follow
    dropouts: list
    #: seed of each layer's dropout mask for the coming step
    seeds: np.ndarray
    #: the parts the step is cut into (from the shapes alone) and the
    #: threads sharing them
    parts: int
    team: int
    #: per-thread scratch, shared scratch, the other chunks' gradient vectors
    work: np.ndarray
    shared: np.ndarray
    private: np.ndarray
    #: each row's loss and whether it was predicted right
    row_loss: np.ndarray
    hit: np.ndarray


class DenseStackNetwork(Network):
    """A dense stack trained and run by one kernel call per step or prediction.

    Same construction, parameters and state as :class:`Network`; only
    :meth:`train_batch` and the predict path differ. Build one with
    :func:`perceptron._engine.make_network`, which picks this engine when
    :meth:`supports` the layers.
    """

    @staticmethod
    def supports(layers):
        """Whether ``layers`` is a plain dense stack this engine can run.

        Dense layers, a Dropout allowed after any but the last, the last one
        with the identity activation (the loss takes the logits), and at most
        ``_stack.MAX_DENSE_LAYERS`` dense layers.
        """
        if not layers or type(layers[-1]) is not Dense or layers[-1].activation_code != 0:
            return False
        previous = None
        n_dense = 0
        for layer in layers:
            if type(layer) is Dense:
                n_dense += 1
            elif not (type(layer) is Dropout and type(previous) is Dense):
                return False
            previous = layer
        return n_dense <= _stack.MAX_DENSE_LAYERS

    def build(self, input_shape, rng):
        super().build(input_shape, rng)
        widths, codes, self._dropouts = [int(np.prod(self.input_shape))], [], []
        for layer in self.layers:
            if type(layer) is Dense:
                widths.append(layer.units)
                codes.append(layer.activation_code)
            elif layer.rate > 0:
                self._dropouts.append((len(codes) - 1, layer))
        self._widths = np.array(widths, dtype=np.intp)
        self._activations = np.array(codes, dtype=np.int32)
        return self

    def train_batch(self, X, T, rows, alpha=0.0, optimizer=None, learning_rate=None,
                    sample_weight=None, augment=None):
        """One training step on ``X[rows]``, ``T[rows]``, in one kernel call.

        Parameters and results as :meth:`Network.train_batch` (NaN for the
        loss of a step that diverged); the gradients are the same, summed in
        another order. The kernel gathers the batch's rows of ``X``, ``T``
        and ``sample_weight`` itself (with ``augment``, or a sparse ``X``, it
        is handed the transformed or densified batch and its rows in order
        instead).
        """
        m = rows.shape[0]
        if augment is not None or sp.issparse(X):
            X, T = self._gather(X, rows, augment), np.ascontiguousarray(T[rows])
            if sample_weight is not None:
                sample_weight = np.ascontiguousarray(sample_weight[rows])
            rows = self._batch_rows(m)
        plan = self._plan(m)
        for i, layer in plan.dropouts:  # the mask seeds, drawn as Dropout.forward draws them
            plan.seeds[i] = layer.next_seed()
        update = {} if optimizer is None else optimizer.fused_step(learning_rate)._asdict()
        loss, n_correct, penalty, updated, weight_sum, finite = _stack.dense_stack_step(
            X.reshape(X.shape[0], -1), rows, T, self.params, self.grads, plan.private,
            plan.work, plan.shared, plan.widths, plan.activations, plan.drop, plan.seeds,
            OUTPUT_CODES[self.output], alpha, plan.row_loss, plan.hit, plan.parts, plan.team,
            sample_weight=sample_weight, **update)
        if updated:
            optimizer.count_step()
        if not finite:
            return math.nan, n_correct
        return mean_loss(loss, penalty, alpha, weight_sum), n_correct

    def _batch_rows(self, m):
        """``0, 1, ..., m - 1``: the rows of a batch gathered beforehand (kept)."""
        rows = self._scratch.get("rows")
        if rows is None or rows.shape[0] != m:
            rows = self._scratch["rows"] = np.arange(m, dtype=np.intp)
        return rows

    def _plan(self, m):
        """The :class:`StepPlan` of batches of ``m`` rows on the current threads."""
        plans = self._scratch.setdefault("plans", {})
        key = (m, self.n_threads)
        if key in plans:
            return plans[key]
        widths = self._widths
        parts = _stack.stack_parts(m, widths, MOST_PARTS)
        team = _stack.stack_team(m, widths, self.n_threads, MOST_PARTS)
        drop = np.zeros(len(self._activations))
        for i, layer in self._dropouts:
            drop[i] = layer.rate
        plan = StepPlan(
            widths=widths, activations=self._activations, drop=drop,
            dropouts=self._dropouts, seeds=np.zeros(len(drop), dtype=np.uint64),
            parts=parts, team=team,
            work=np.empty((team, _stack.work_size(m, parts, widths, drop)), self.dtype),
            shared=np.empty(_stack.shared_size(m, parts, widths, drop), self.dtype),
            private=np.empty((parts - 1, _stack.chunk_grad_size(widths)), self.dtype),
            row_loss=np.empty(m), hit=np.empty(m, dtype=np.uint8))
        # keep two batch sizes: the full batches' and the last one's
        if len(plans) >= 2:
            del plans[next(iter(plans))]
        plans[key] = plan
        return plan

    def _outputs(self, X, check_finite, output):
        """All rows through every layer in one kernel call, block by block.

        Its scratch is a few blocks of rows per thread
        (``_stack.predict_work_size``), allocated for the call: nothing
        shared is written, so several threads may predict at once.
        """
        n = X.shape[0]
        out = np.empty((n, int(self._widths[-1])), dtype=self.dtype)
        work = np.empty((self.n_threads, _stack.predict_work_size(self._widths)),
                        dtype=self.dtype)
        if not _stack.dense_stack_predict(X.reshape(n, self._widths[0]), self.params, out,
                                          work, self._widths, self._activations, output,
                                          check_finite, self.n_threads):
            raise_not_finite(X)
        return out


"""A stack of layers trained layer by layer: the generic engine, and the reference.

:class:`Network` runs any stack of layers: each layer's ``forward`` in turn,
the loss fused with the output function, each layer's ``backward`` in
reverse, then the optimizer's kernel. It trains the CNN, and it is the
reference that the fused engine of dense stacks
(:class:`perceptron._dense_stack.DenseStackNetwork`) is tested against.
Which engine trains which model is decided once, in
:func:`perceptron._engine.make_network`.
"""

import math
import os

import numpy as np
import scipy.sparse as sp

from ._kernels import _dense, _isfinite, _loss
from .layers import Buffers

#: the output functions (and their losses) an estimator's ``output_activation`` names
OUTPUTS = ("softmax", "sigmoid", "logistic")

#: a network's output -> the code of its output function in the kernels: softmax;
#: one sigmoid per class, one class per row (one-vs-rest: "logistic" is the same);
#: one sigmoid per unit, each its own label (multi-label, and a binary problem's
#: one logistic unit). Code 0 is the raw logits.
OUTPUT_CODES = {"softmax": 1, "sigmoid": 2, "logistic": 2, "independent": 3}
_LOGITS = 0

#: Bytes of scratch one prediction may take: the layers' outputs (and a
#: convolution's patches, Winograd's workspace) for one batch of rows, which
#: :meth:`Network.predict_batch_size` sizes to fit, at least one row. The
#: buffers belong to the call and are released when it returns; the input
#: and the result are not counted.
PREDICT_SCRATCH_BYTES = 32 * 2**20

#: Rows of one predict batch, at most (a narrow network reaches it long before
#: the budget: its products are then large enough)
MAX_PREDICT_ROWS = 16384


def take_rows(X, rows, out, n_threads):
    """``out[k] = X[rows[k]]``: gather a mini-batch, densifying it when ``X`` is sparse.

    ``X`` is a C-contiguous array of shape ``(n, *input_shape)`` or a CSR
    matrix; ``out`` is ``(len(rows), n_features)``.
    """
    if sp.issparse(X):
        indices, indptr = X.indices, X.indptr
        if indices.dtype != indptr.dtype:
            indices, indptr = indices.astype(np.int64), indptr.astype(np.int64)
        _dense.take_csr_rows(X.data, indices, indptr, rows, out, n_threads)
    else:
        _dense.take_rows(X.reshape(X.shape[0], -1), rows, out, n_threads)


def mean_loss(loss_sum, penalty, alpha, weight_sum):
    """The batch's loss from the kernels' sums: the weighted mean plus the L2 term.

    ``(loss_sum + 0.5 * alpha * penalty) / weight_sum``, scikit-learn's
    definition (see :mod:`perceptron._kernels._loss`), written as two
    divisions so that an unweighted batch (``weight_sum`` its size) keeps the
    historical rounding. A batch of total weight 0 has a loss of 0.
    """
    if weight_sum <= 0:
        return 0.0
    loss = loss_sum / weight_sum
    if alpha:
        loss += 0.5 * alpha * penalty / weight_sum
    return loss


def raise_not_finite(X):
    """Raise scikit-learn's ValueError for an ``X`` known to hold NaN or inf."""
    what = "NaN" if np.isnan(X).any() else f"infinity or a value too large for {X.dtype!r}"
    raise ValueError(f"Input X contains {what}.")


def count_params(layers, input_shape, dtype):
    """Build the shapes of ``layers`` for inputs of ``input_shape``; return
    how many parameters they have.

    Shapes only, in Python integers: nothing is allocated, so a model file's
    hyper-parameters can be compared with its saved parameter vector before
    any network is built (:meth:`Network.build` counts with it too).
    """
    shape = tuple(input_shape)
    for layer in layers:
        shape = layer.build(shape, dtype)
    return sum(math.prod(s) for layer in layers for s in layer.param_shapes.values())


def _physical_memory():
    """Bytes of memory of this machine, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


class Network:
    """Layers + fused output loss; owns the flat parameter and gradient vectors.

    Every parameter of every layer is a view into ``self.params`` (one
    contiguous vector), and every gradient a view into ``self.grads``. The
    optimizer can therefore update the whole model in one kernel call, and
    saving or copying the model is copying one array.

    Memory: training keeps its batch's activations in the layers' buffers
    from one step to the next, until :meth:`release_scratch` (called when
    ``fit`` ends; ``partial_fit`` keeps them for its next call). Prediction
    (:meth:`decision_function`, :meth:`predict_proba`, :meth:`evaluate`,
    :meth:`feature_maps`) takes buffers of its own for the call, within
    :data:`PREDICT_SCRATCH_BYTES`, and writes nothing on the network or its
    layers: several threads may predict with one network at once (not while
    it trains).

    Parameters
    ----------
    layers : list of Layer
        The last layer must produce one logit per output unit (identity
        activation); the loss applies the output function.
    output : {"softmax", "sigmoid", "logistic", "independent"}
        ``"softmax"``: softmax + cross-entropy. ``"sigmoid"``/``"logistic"``:
        one sigmoid per class + binary cross-entropy (one-vs-rest; the
        probabilities are normalised to sum to one). ``"independent"``: one
        sigmoid per unit + binary cross-entropy, each unit its own label
        (multi-label targets; with one unit, a binary classifier).
    dtype : {np.float32, np.float64}

    The targets of every loss are a 0/1 matrix ``T`` with one column per
    output unit (one-hot rows for classes; see ``_kernels/_loss.pyx``).
    """

    def __init__(self, layers, output="softmax", dtype=np.float32):
        if output not in OUTPUT_CODES:
            raise ValueError(f"output must be one of {sorted(OUTPUT_CODES)}, got {output!r}")
        self.layers = list(layers)
        self.output = output
        self.dtype = np.dtype(dtype)
        self.n_threads = 1
        self._scratch = {}

    # -- construction -------------------------------------------------------
    def build(self, input_shape, rng):
        """Build every layer, allocate the flat vectors and initialise them."""
        self.input_shape = tuple(input_shape)
        n_params = count_params(self.layers, self.input_shape, self.dtype)
        need, memory = 2 * n_params * self.dtype.itemsize, _physical_memory()
        if memory is not None and need > memory:  # refused before numpy tries
            raise ValueError(
                f"these layers have {n_params:,} parameters: {need / 2**30:,.1f} GiB for "
                f"them and their gradients alone, more than this machine's "
                f"{memory / 2**30:,.1f} GiB of memory; use smaller layers")
        self.output_shape = self.layers[-1].output_shape if self.layers else self.input_shape
        self.params = np.zeros(n_params, dtype=self.dtype)
        self.grads = np.zeros(n_params, dtype=self.dtype)
        self._bind()
        for layer in self.layers:
            layer.init_params(rng)
        return self

    def _bind(self):
        """Give each layer its views into the flat vectors (also after unpickling)."""
        offset = 0
        self._decay_slices = []
        for layer in self.layers:
            params, grads = {}, {}
            for name, shape in layer.param_shapes.items():
                size = math.prod(shape)
                params[name] = self.params[offset:offset + size].reshape(shape)
                grads[name] = self.grads[offset:offset + size].reshape(shape)
                if name in layer.decay_params:
                    self._decay_slices.append(slice(offset, offset + size))
                offset += size
            layer.bind(params, grads)
            layer.n_threads = self.n_threads

    def set_n_threads(self, n_threads):
        """Threads for every kernel the network and its layers call."""
        self.n_threads = int(n_threads)
        for layer in self.layers:
            layer.n_threads = self.n_threads

    # -- state --------------------------------------------------------------
    def state(self):
        """What a saved model needs: the parameters and each layer's random stream.

        Returns
        -------
        state : dict
            ``"params"`` (the flat vector, not a copy) and ``"layers"``: for
            each layer that keeps a state (:meth:`perceptron.layers.Layer.state`),
            its index -> that state.
        """
        layers = {i: layer.state() for i, layer in enumerate(self.layers)}
        return {"params": self.params, "layers": {i: s for i, s in layers.items() if s}}

    def load_state(self, state):
        """Set what :meth:`state` returned (the network must be built alike).

        Raises
        ------
        ValueError
            When the parameters' shape or dtype differ from this network's,
            or the layers' states are not those of this network's layers.
        """
        params = state["params"]
        if params.shape != self.params.shape or params.dtype != self.params.dtype:
            raise ValueError(
                f"saved parameters have shape {params.shape} and dtype {params.dtype}; "
                f"the model needs {self.params.shape} {self.params.dtype}")
        layers = state["layers"]
        expected = {i for i, layer in enumerate(self.layers) if layer.state()}
        if set(layers) != expected:
            raise ValueError(f"saved state has the layer states {sorted(layers)}; the "
                             f"model's layers {sorted(expected)} keep one")
        for i, layer_state in layers.items():
            self.layers[i].load_state(layer_state)
        self.params[...] = params

    # -- training -----------------------------------------------------------
    def forward(self, X, training=False):
        """Logits for a batch ``X`` of shape ``(n, *input_shape)``.

        ``training=True`` writes them in the layers' own buffers, ready for
        the backward pass; ``training=False`` in new arrays.
        """
        out = X
        for layer in self.layers:
            out = layer.forward(out, training)
        return out

    def train_step(self, X, T, alpha=0.0, sample_weight=None):
        """Forward, fused loss + gradient, backward; fills ``self.grads``.

        Parameters
        ----------
        X : ndarray of shape (n, *input_shape)
        T : ndarray of shape (n, n_units), dtype uint8
            The 0/1 targets.
        alpha : float
            L2 penalty, scikit-learn's convention: ``0.5 * alpha * ||W||^2 / n``
            is added to the mean loss (``/ sum(sample_weight)`` with weights).
        sample_weight : ndarray of shape (n,), dtype float64, optional
            The rows' weights: the loss is their weighted mean (the
            definition is in :mod:`perceptron._kernels._loss`). A batch of
            total weight 0 gives a zero gradient.

        Returns
        -------
        loss : float
            Mean (weighted mean) loss over the batch, penalty included.
        n_correct : int
            Number of samples predicted right (read before the update: the
            running training accuracy Keras reports).
        """
        weight_sum = X.shape[0] if sample_weight is None else float(np.sum(sample_weight))
        scale = 1.0 / weight_sum if weight_sum > 0 else 0.0
        logits = self.forward(X, training=True)
        # the loss kernel writes dL/dlogits over the logits (they are not needed
        # again) and counts the rows predicted right
        loss, n_correct = self._loss(logits, T, logits, scale, sample_weight)
        grad = logits
        for i in range(len(self.layers) - 1, -1, -1):
            grad = self.layers[i].backward(grad, need_input_grad=i > 0)
        penalty = 0.0
        if alpha:
            l2_scale = alpha / weight_sum if weight_sum > 0 else 0.0
            for sl in self._decay_slices:
                penalty += _dense.l2_penalty(self.params[sl], self.grads[sl], l2_scale,
                                             self.n_threads)
        return mean_loss(loss, penalty, alpha, weight_sum), n_correct

    def _loss(self, logits, T, grad, scale, sample_weight=None, hit=None):
        """The output function fused with its loss (``_loss.pyx``): the (weighted)
        loss sum and the rows predicted right (each row's in ``hit``, if given)."""
        code = OUTPUT_CODES[self.output]
        if code == 1:
            return _loss.softmax_cross_entropy(logits, T, grad, scale, self.n_threads,
                                               sample_weight, hit=hit)
        return _loss.sigmoid_binary_cross_entropy(logits, T, grad, scale, self.n_threads,
                                                  sample_weight, independent=code == 3,
                                                  hit=hit)

    @property
    def decay_slices(self):
        """The slices of :attr:`params` the L2 penalty acts on (the weights)."""
        return self._decay_slices

    def squared_norm(self):
        """``||W||^2``, the sum of the squared weights the L2 penalty acts on."""
        return sum(float(np.dot(self.params[sl], self.params[sl]))
                   for sl in self._decay_slices)

    def evaluate(self, X, T, sample_weight=None):
        """Mean loss and accuracy on ``(X, T)``, without training.

        The logits come from the predict path (:meth:`decision_function`,
        batch by batch, dropout off), then the loss kernel of training turns
        them into each row's loss and whether it is right. The L2 penalty is
        not included (the training loop adds it, as it does to the training
        loss).

        Parameters
        ----------
        X : ndarray of shape (n_samples, *input_shape) or CSR matrix
        T : ndarray of shape (n_samples, n_units), dtype uint8
            The 0/1 targets.
        sample_weight : ndarray of shape (n_samples,), dtype float64, optional
            The rows' weights (not all 0): both figures are then weighted
            means, as scikit-learn's ``score(X, y, sample_weight)``.

        Returns
        -------
        loss : float
            Mean loss over the rows.
        accuracy : float
            Fraction of the rows predicted right.
        """
        n = X.shape[0]
        logits = self.decision_function(X)
        # the gradient (scale 0) goes over the logits: only the loss and hits are wanted
        hits = None if sample_weight is None else np.empty(n, dtype=np.uint8)
        loss, n_correct = self._loss(logits, T, logits, 0.0, sample_weight, hits)
        if sample_weight is None:
            return loss / n, n_correct / n
        total = float(np.sum(sample_weight))
        return loss / total, float(np.dot(hits, sample_weight)) / total

    def train_batch(self, X, T, rows, alpha=0.0, optimizer=None, learning_rate=None,
                    sample_weight=None, augment=None):
        """One training step on the mini-batch ``X[rows]``, ``T[rows]``.

        Gathers the batch (transformed by ``augment``, if given), runs
        :meth:`train_step` on it and then, given an ``optimizer``, its step
        -- unless the loss or the gradient is not finite, to leave the
        parameters as they were, or the batch's total weight is 0.

        Parameters
        ----------
        X : ndarray of shape (n_samples, *input_shape), or CSR matrix
            The whole training set, C-contiguous (a sparse one is densified
            batch by batch, as the batch is gathered).
        T : ndarray of shape (n_samples, n_units), dtype uint8
            The 0/1 targets.
        rows : ndarray of shape (m,), dtype intp
            The batch: indices into ``X`` and ``T``.
        alpha : float
        optimizer : SGD, Adam or RMSprop, optional
        learning_rate : float
            The optimizer's step size; required with ``optimizer``.
        sample_weight : ndarray of shape (n_samples,), dtype float64, optional
            The weight of every row of ``X``; the batch's are ``sample_weight[rows]``.
        augment : perceptron._augment.Augmentation, optional
            Random transforms of the images, drawn afresh for this batch.

        Returns
        -------
        loss, n_correct
            As :meth:`train_step`, but the loss is NaN when the step diverged:
            its loss or its gradient is not finite (the step is then not
            applied), or the step left a parameter NaN or infinite. A
            ReLU maps NaN to 0, so a model can reach NaN parameters while
            its loss stays finite: the loss alone does not say.
        """
        xb = self._gather(X, rows, augment)
        weights = None
        if sample_weight is not None:
            if sample_weight.shape[0] != X.shape[0]:
                raise ValueError("train_batch: sample_weight and X differ in length")
            weights = sample_weight[rows]
        loss, n_correct = self.train_step(xb, T[rows], alpha, weights)
        if not (math.isfinite(loss) and _isfinite.all_finite(self.grads, self.n_threads)):
            return math.nan, n_correct
        if (optimizer is not None and (weights is None or weights.any())
                and not optimizer.step(self.params, self.grads, learning_rate,
                                       self.n_threads)):
            return math.nan, n_correct
        return loss, n_correct

    def release_scratch(self):
        """Drop what training keeps between steps: the layers' buffers, the batch.

        Called when ``fit`` ends: a fitted network holds its parameters,
        their gradients (and the optimizer its state), not a batch's
        activations. The next training call allocates them again.
        """
        self._scratch = {}
        for layer in self.layers:
            layer.release_scratch()

    def _gather(self, X, rows, augment=None):
        """The mini-batch ``X[rows]``, through ``augment`` if given (or densified, for
        a sparse ``X``), in a buffer kept while its shape is. ``augment`` is
        called as ``_dense.take_rows`` is: it gathers the rows and transforms
        them in one pass."""
        m = rows.shape[0]
        xb = self._scratch.get("batch")
        if xb is None or xb.shape != (m,) + self.input_shape:
            xb = self._scratch["batch"] = np.empty((m,) + self.input_shape, dtype=self.dtype)
        if augment is None:
            take_rows(X, rows, xb.reshape(m, -1), self.n_threads)
        else:
            augment(X.reshape(X.shape[0], -1), rows, xb.reshape(m, -1), self.n_threads)
        return xb

    # -- prediction ---------------------------------------------------------
    def predict_batch_size(self, densify=False):
        """Rows per forward pass at predict time, within :data:`PREDICT_SCRATCH_BYTES`.

        A batch's scratch is every layer's (all are kept for the next batch
        of the call): per row, each layer's output, and a convolution's
        patch matrix (:meth:`~perceptron.layers.Layer.scratch_per_sample`);
        besides, the largest workspace a layer's kernel allocates for the
        time of its call, Winograd's
        (:meth:`~perceptron.layers.Layer.scratch_per_call`). As many rows as
        fit, at least 1 and at most :data:`MAX_PREDICT_ROWS`: narrow layers
        take 16384 images in one pass, so each GEMM is one large product; a
        CNN takes a hundred or so. Full-batch L-BFGS trains in blocks of the
        same size.

        Parameters
        ----------
        densify : bool, default=False
            The rows are densified first (a sparse ``X``): count that block too.
        """
        per_row = sum(layer.scratch_per_sample() for layer in self.layers)
        if densify:
            per_row += math.prod(self.input_shape)
        per_call = max((layer.scratch_per_call() for layer in self.layers), default=0)
        itemsize = self.dtype.itemsize
        rows = (PREDICT_SCRATCH_BYTES - per_call * itemsize) // (max(per_row, 1) * itemsize)
        return int(min(max(rows, 1), MAX_PREDICT_ROWS))

    def decision_function(self, X, check_finite=False):
        """Raw logits for ``X`` (an array, or a CSR matrix), computed batch by batch.

        With ``check_finite``, a ValueError is raised if ``X`` holds NaN or
        infinity: the first layer checks each batch as it reads it
        (:meth:`~perceptron.layers.Layer.forward_checked`).

        The batches (:meth:`predict_batch_size` rows) go through the layers
        in buffers made for this call, one :class:`~perceptron.layers.Buffers`
        per layer reused from batch to batch and dropped on return: the
        call's scratch stays within :data:`PREDICT_SCRATCH_BYTES`, and
        nothing shared is written, so calls from several threads do not
        meet.
        """
        return self._predict(X, check_finite, _LOGITS)

    def predict_proba(self, X, check_finite=False):
        """Probabilities for ``X``: the output function of the logits.

        One column per output unit; a single ``"independent"`` unit (the
        logistic unit of a binary problem) gives two, ``[1 - p, p]``, the
        probabilities of its two classes, computed as ``softmax([0, z])``.
        """
        code = OUTPUT_CODES[self.output]
        if code == 3 and self.output_shape == (1,):
            z = self.decision_function(X, check_finite)
            proba = np.zeros((z.shape[0], 2), dtype=self.dtype)
            proba[:, 1] = z[:, 0]
            _loss.probabilities(proba, OUTPUT_CODES["softmax"], self.n_threads)
            return proba
        return self._predict(X, check_finite, code)

    def _predict(self, X, check_finite, output):
        """:meth:`_outputs` of ``X``; a sparse ``X`` block by block of densified rows."""
        if not sp.issparse(X):
            return self._outputs(X, check_finite, output)
        n = X.shape[0]
        out = np.empty((n, math.prod(self.output_shape)), dtype=self.dtype)
        block = self.predict_batch_size(densify=True)
        dense = np.empty((min(block, n), math.prod(self.input_shape)), dtype=self.dtype)
        for start in range(0, n, block):
            rows = np.arange(start, min(start + block, n), dtype=np.intp)
            take_rows(X, rows, dense[:rows.shape[0]], self.n_threads)
            out[start:start + rows.shape[0]] = self._outputs(dense[:rows.shape[0]],
                                                             check_finite, output)
        return out

    def _outputs(self, X, check_finite, output):
        """Logits, softmax or normalised sigmoids of ``X`` (``output`` code)."""
        n = X.shape[0]
        out = np.empty((n, math.prod(self.output_shape)), dtype=self.dtype)
        batch_size = self.predict_batch_size()
        buffers = [Buffers() for _ in self.layers]  # this call's: dropped on return
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            if check_finite:
                h = self.layers[0].forward_checked(X[start:stop], buffers[0])
                if h is None:
                    raise_not_finite(X[start:stop])
            else:
                h = self.layers[0].forward(X[start:stop], False, buffers[0])
            for layer, layer_buffers in zip(self.layers[1:], buffers[1:]):
                h = layer.forward(h, False, layer_buffers)
            out[start:stop] = h
        if output != _LOGITS:
            _loss.probabilities(out, output, self.n_threads)
        return out

    def feature_maps(self, X, layer):
        """Output of ``self.layers[layer]`` for ``X``, computed batch by batch.

        Parameters
        ----------
        X : ndarray of shape (n, *input_shape)
        layer : int
            Index into :attr:`layers`.

        Returns
        -------
        out : ndarray of shape (n, *layers[layer].output_shape)
        """
        target = self.layers[layer]
        out = np.empty((X.shape[0],) + tuple(target.output_shape), dtype=self.dtype)
        batch_size = self.predict_batch_size()
        buffers = [Buffers() for _ in self.layers[:layer + 1]]  # as in decision_function
        for start in range(0, X.shape[0], batch_size):
            h = X[start:start + batch_size]
            for lay, lay_buffers in zip(self.layers[:layer + 1], buffers):
                h = lay.forward(h, False, lay_buffers)
            out[start:start + h.shape[0]] = h
        return out

    # -- pickling -----------------------------------------------------------
    def __getstate__(self):
        state = self.__dict__.copy()
        state["grads"] = None  # scratch space: re-made on load
        state["_scratch"] = {}
        state.pop("_decay_slices", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.__dict__.setdefault("_scratch", {})
        if getattr(self, "params", None) is not None:
            self.grads = np.zeros_like(self.params)
            self._bind()

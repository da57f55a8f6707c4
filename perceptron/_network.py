"""A stack of layers with one flat parameter vector, a fused loss, and batching."""

import math

import numpy as np

from ._kernels import _dense, _loss, _stack
from .layers import Dense, Dropout

#: output activation name -> (fused loss kernel, probability kernel)
OUTPUTS = ("softmax", "sigmoid", "logistic")


def raise_not_finite(X):
    """Raise scikit-learn's ValueError for an ``X`` known to hold NaN or inf."""
    what = "NaN" if np.isnan(X).any() else f"infinity or a value too large for {X.dtype!r}"
    raise ValueError(f"Input X contains {what}.")


class Network:
    """Layers + fused output loss; owns the flat parameter and gradient vectors.

    Every parameter of every layer is a view into ``self.params`` (one
    contiguous vector), and every gradient a view into ``self.grads``. The
    optimizer can therefore update the whole model in one kernel call, and
    saving or copying the model is copying one array.

    Parameters
    ----------
    layers : list of Layer
        The last layer must produce one logit per output unit (identity
        activation); the loss applies the output function.
    output : {"softmax", "sigmoid", "logistic"}
        ``"softmax"``: softmax + cross-entropy. ``"sigmoid"``/``"logistic"``:
        one sigmoid per class + binary cross-entropy (one-vs-rest).
    dtype : {np.float32, np.float64}
    """

    def __init__(self, layers, output="softmax", dtype=np.float32):
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        self.layers = list(layers)
        self.output = output
        self.dtype = np.dtype(dtype)
        self.n_threads = 1
        self._scratch = {}

    # -- construction -------------------------------------------------------
    def build(self, input_shape, rng):
        """Build every layer, allocate the flat vectors and initialise them."""
        shape = tuple(input_shape)
        self.input_shape = shape
        for layer in self.layers:
            shape = layer.build(shape, self.dtype)
        self.output_shape = shape
        n_params = sum(int(np.prod(s)) for layer in self.layers
                       for s in layer.param_shapes.values())
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
                size = int(np.prod(shape))
                params[name] = self.params[offset:offset + size].reshape(shape)
                grads[name] = self.grads[offset:offset + size].reshape(shape)
                if name in layer.decay_params:
                    self._decay_slices.append(slice(offset, offset + size))
                offset += size
            layer.bind(params, grads)
            layer.n_threads = self.n_threads

    def set_n_threads(self, n_threads):
        self.n_threads = int(n_threads)
        for layer in self.layers:
            layer.n_threads = self.n_threads

    # -- computation --------------------------------------------------------
    def forward(self, X, training=False):
        """Logits for a batch ``X`` of shape ``(n, *input_shape)``."""
        out = X
        for layer in self.layers:
            out = layer.forward(out, training)
        return out

    def train_step(self, X, y, alpha=0.0):
        """Forward, fused loss + gradient, backward; fills ``self.grads``.

        Parameters
        ----------
        X : ndarray of shape (n, *input_shape)
        y : ndarray of shape (n,), dtype intp
            Class indices.
        alpha : float
            L2 penalty, scikit-learn's convention: ``0.5 * alpha * ||W||^2 / n``
            is added to the mean loss.

        Returns
        -------
        loss : float
            Mean loss over the batch, penalty included.
        n_correct : int
            Number of samples whose arg-max logit was the true class (read
            before the update: the running training accuracy Keras reports).
        """
        n = X.shape[0]
        logits = self.forward(X, training=True)
        # the loss kernel writes dL/dlogits over the logits (they are not needed
        # again) and counts the rows whose arg-max logit is the true class
        kernel = (_loss.softmax_cross_entropy if self.output == "softmax"
                  else _loss.sigmoid_binary_cross_entropy)
        loss, n_correct = kernel(logits, y, logits, 1.0 / n, self.n_threads)
        loss /= n
        grad = logits
        for i in range(len(self.layers) - 1, -1, -1):
            grad = self.layers[i].backward(grad, need_input_grad=i > 0)
        if alpha:
            penalty = 0.0
            for sl in self._decay_slices:
                penalty += _dense.l2_penalty(self.params[sl], self.grads[sl], alpha / n,
                                             self.n_threads)
            loss += 0.5 * alpha * penalty / n
        return loss, n_correct

    def train_batch(self, X, y, rows, alpha=0.0, optimizer=None, learning_rate=None):
        """One training step on the mini-batch ``X[rows]``, ``y[rows]``.

        :meth:`train_step` on the gathered batch, then, given an
        ``optimizer``, its step -- unless the loss is not finite, to leave
        the parameters as they were. A plain stack of dense layers (with
        dropout between them) runs all of it in one kernel call
        (``_kernels/_stack.pyx``), which shares the work among the threads
        with two meetings per step instead of several per layer; the
        gradients are :meth:`train_step`'s, summed in another order.

        Parameters
        ----------
        X : ndarray of shape (n_samples, *input_shape)
            The whole training set, C-contiguous.
        y : ndarray of shape (n_samples,), dtype intp
        rows : ndarray of shape (m,), dtype intp
            The batch: indices into ``X`` and ``y``.
        alpha : float
        optimizer : SGD, Adam or RMSprop, optional
        learning_rate : float
            The optimizer's step size; required with ``optimizer``.

        Returns
        -------
        loss, n_correct
            As :meth:`train_step`.
        """
        m = rows.shape[0]
        plan = self._stack_plan(m)
        if plan is None:
            xb = self._batch_buffer((m,) + X.shape[1:])
            _dense.take_rows(X.reshape(X.shape[0], -1), rows, xb.reshape(m, -1),
                             self.n_threads)
            loss, n_correct = self.train_step(xb, y[rows], alpha)
            if optimizer is not None and math.isfinite(loss):
                optimizer.step(self.params, self.grads, learning_rate, self.n_threads)
            return loss, n_correct
        for i, layer in plan["dropouts"]:  # the masks' seeds, drawn as Dropout.forward does
            plan["seeds"][i] = layer.rng.integers(2**63)
        update = {} if optimizer is None else optimizer.fused_step_args(learning_rate)
        loss, n_correct, penalty, updated = _stack.dense_stack_step(
            X.reshape(X.shape[0], -1), rows, y, self.params, self.grads, plan["private"],
            plan["work"], plan["shared"], plan["widths"], plan["activations"], plan["drop"],
            plan["seeds"], self.output == "softmax", alpha, plan["row_loss"], plan["hit"],
            plan["team"], **update)
        if updated:
            optimizer.step_taken()
        loss /= m
        if alpha:
            loss += 0.5 * alpha * penalty / m
        return loss, n_correct

    def _stack_plan(self, m):
        """What :func:`_stack.dense_stack_step` needs for batches of ``m`` rows:
        the layers' widths, activations and dropout rates, the threads sharing
        the step, and the scratch arrays (made once per batch size). None
        when the network is not a plain dense stack."""
        plans = self._scratch.setdefault("plans", {})
        key = (m, self.n_threads)
        plan = plans.get(key)
        if plan is not None:
            return plan
        stack = self._dense_stack()
        if stack is None:
            return None
        widths, activations, dropouts = stack
        team = _stack.stack_team(m, widths, self.n_threads)
        drop = np.zeros(len(activations))
        for i, layer in dropouts:
            drop[i] = layer.rate
        plan = dict(
            widths=widths, activations=activations, dropouts=dropouts, drop=drop,
            seeds=np.zeros(len(activations), dtype=np.uint64), team=team,
            work=np.empty((team, _stack.work_size(m, team, widths, drop)), self.dtype),
            shared=np.empty(_stack.shared_size(m, widths, drop), self.dtype),
            private=np.empty((team - 1, _stack.grad_stride(self.params.shape[0])), self.dtype),
            row_loss=np.empty(m), hit=np.empty(m, dtype=np.uint8))
        # keep two batch sizes: the full batches' and the last one's
        if len(plans) >= 2:
            del plans[next(iter(plans))]
        plans[key] = plan
        return plan

    def _dense_stack(self):
        """``(widths, activation codes, [(index, Dropout)])`` of a plain dense
        stack, or None when the network is anything else (see :meth:`train_batch`)."""
        if "stack" not in self._scratch:
            self._scratch["stack"] = self._find_dense_stack()
        return self._scratch["stack"]

    def _find_dense_stack(self):
        widths, codes, dropouts = [int(np.prod(self.input_shape))], [], []
        after_dense = False
        for layer in self.layers:
            if type(layer) is Dense:
                widths.append(layer.units)
                codes.append(layer._code)
                after_dense = True
            elif type(layer) is Dropout and after_dense:
                if layer.rate > 0:
                    dropouts.append((len(codes) - 1, layer))
                after_dense = False
            else:
                return None
        if (type(self.layers[-1]) is not Dense or codes[-1] != 0
                or len(codes) > _stack.MAX_DENSE_LAYERS):
            return None
        return (np.array(widths, dtype=np.intp), np.array(codes, dtype=np.int32), dropouts)

    def _batch_buffer(self, shape):
        """The gathered mini-batch of the layer-by-layer path (kept while its shape is)."""
        buf = self._scratch.get("batch")
        if buf is None or buf.shape != tuple(shape):
            buf = self._scratch["batch"] = np.empty(shape, dtype=self.dtype)
        return buf

    #: memory the layers' scratch buffers may take at predict time
    PREDICT_SCRATCH_BYTES = 32 * 2**20

    def predict_batch_size(self):
        """Rows per forward pass at predict time, layer by layer.

        As many as fit the widest layer's scratch (its output, plus the patch
        matrix of a convolution) in :attr:`PREDICT_SCRATCH_BYTES`, between
        1024 and 16384: narrow layers take 10,000 images in one pass, so each
        GEMM is one large product; a CNN keeps to 1024 and its memory in
        check. (A plain dense stack does not pass layer by layer: see
        :meth:`decision_function`.)
        """
        widest = max([layer.scratch_per_sample() for layer in self.layers] + [1])
        rows = self.PREDICT_SCRATCH_BYTES // (widest * self.dtype.itemsize)
        return int(min(max(rows, 1024), 16384))

    def decision_function(self, X, batch_size=None, check_finite=False):
        """Raw logits for ``X``, computed batch by batch.

        ``batch_size=None`` takes :meth:`predict_batch_size`. With
        ``check_finite``, a ValueError is raised if ``X`` holds NaN or
        infinity: the first layer checks each batch as it reads it
        (:meth:`~perceptron.layers.Layer.forward_checked`).

        A plain dense stack (see :meth:`train_batch`) runs in one kernel
        call instead, which takes blocks of rows through every layer
        (``_stack.dense_stack_predict``); ``batch_size`` is then unused.
        """
        return self._outputs(X, batch_size, check_finite, output=0)

    def predict_proba(self, X, batch_size=None, check_finite=False):
        """Class probabilities for ``X``: the output function of the logits."""
        return self._outputs(X, batch_size, check_finite,
                             output=1 if self.output == "softmax" else 2)

    def _outputs(self, X, batch_size, check_finite, output):
        """Logits (``output=0``), softmax (1) or normalised sigmoids (2) of ``X``."""
        n = X.shape[0]
        out = np.empty((n, int(np.prod(self.output_shape))), dtype=self.dtype)
        stack = self._dense_stack()
        if stack is not None:
            widths, activations, _ = stack
            work = self._scratch.get("predict")
            if work is None or work.shape[0] < self.n_threads:
                work = self._scratch["predict"] = np.empty(
                    (self.n_threads, _stack.predict_work_size(widths)), dtype=self.dtype)
            if not _stack.dense_stack_predict(X.reshape(n, widths[0]), self.params, out, work,
                                              widths, activations, output, check_finite,
                                              self.n_threads):
                raise_not_finite(X)
            return out
        if batch_size is None:
            batch_size = self.predict_batch_size()
        first, rest = self.layers[0], self.layers[1:]
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            if check_finite:
                h = first.forward_checked(X[start:stop])
                if h is None:
                    raise_not_finite(X[start:stop])
            else:
                h = first.forward(X[start:stop], training=False)
            for layer in rest:
                h = layer.forward(h, training=False)
            out[start:stop] = h
        if output:
            _loss.probabilities(out, output, self.n_threads)
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

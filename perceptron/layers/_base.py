"""The layer abstraction every model is built from."""

import numpy as np

from .._kernels import _isfinite


class Layer:
    """Base class of a layer: parameters, buffers, forward and backward.

    Life cycle, driven by :class:`perceptron._network.Network`:

    1. ``build(input_shape, dtype)`` gets the per-sample input shape (no batch
       axis), records the parameter shapes in ``self.param_shapes`` (a dict
       name -> shape, empty for layers without parameters) and returns the
       per-sample output shape.
    2. The network allocates one flat vector for all parameters of all layers
       (and one for their gradients) and hands each layer its views with
       ``bind(params, grads)``; ``init_params(rng)`` then fills them.
    3. ``forward(X, training)`` maps a batch ``X`` of shape
       ``(n, *input_shape)`` to ``(n, *output_shape)``; ``backward(grad,
       need_input_grad)`` receives dLoss/dOutput, writes dLoss/dParams into
       ``self.grads`` and returns dLoss/dInput (or None when not needed).

    Outputs and input gradients live in buffers the layer owns and reuses
    across batches of the same size (see :meth:`_buffer`); a caller must copy
    what it wants to keep past the next call.

    Attributes
    ----------
    param_shapes : dict of str -> tuple
    params, grads : dict of str -> ndarray
        Views into the network's flat parameter and gradient vectors.
    decay_params : tuple of str
        Names of the parameters the L2 penalty applies to (weights, not biases).
    n_threads : int
        Threads for this layer's kernels; set by the network.

    Examples
    --------
    A layer without parameters that doubles its input:

    >>> import numpy as np
    >>> from perceptron.layers import Layer
    >>> class Double(Layer):
    ...     def forward(self, X, training=False):
    ...         return 2 * X
    ...     def backward(self, grad, need_input_grad=True):
    ...         return 2 * grad if need_input_grad else None
    >>> layer = Double()
    >>> layer.build((2,), np.float32)
    (2,)
    >>> layer.forward(np.array([[1.0, 3.0]]))
    array([[2., 6.]])
    """

    decay_params = ()

    def __init__(self):
        self.param_shapes = {}
        self.params = {}
        self.grads = {}
        self.n_threads = 1
        self._buffers = {}

    # -- construction -------------------------------------------------------
    def build(self, input_shape, dtype):
        """Record shapes and dtype; return the per-sample output shape."""
        self.input_shape = tuple(input_shape)
        self.dtype = np.dtype(dtype)
        self.output_shape = self._build(self.input_shape)
        return self.output_shape

    def _build(self, input_shape):
        return input_shape

    def bind(self, params, grads):
        """Attach views into the network's flat parameter/gradient vectors."""
        self.params = params
        self.grads = grads

    def init_params(self, rng):
        """Fill ``self.params`` with initial values drawn from ``rng``."""

    # -- state beyond the parameters -------------------------------------------
    def state(self):
        """What a saved model needs besides the parameters (a JSON-friendly dict).

        Empty for most layers; a layer with a random stream (``Dropout``)
        returns the stream's state, so that training resumes exactly.
        """
        return {}

    def load_state(self, state):
        """Set what :meth:`state` returned; a ValueError when it does not fit."""
        if state:
            raise ValueError(f"{type(self).__name__} keeps no state, got {sorted(state)}")

    # -- computation --------------------------------------------------------
    def forward(self, X, training=False):
        raise NotImplementedError

    def backward(self, grad, need_input_grad=True):
        raise NotImplementedError

    def forward_checked(self, X):
        """Predict-time ``forward``, after checking that ``X`` holds no NaN or inf.

        Returns
        -------
        out : ndarray or None
            ``forward(X)``; None when ``X`` is not finite.

        A layer may fuse the check into its own pass over ``X`` (``Dense``
        does); this default makes one parallel pass before ``forward``.
        """
        if not _isfinite.all_finite(X.reshape(-1), self.n_threads):
            return None
        return self.forward(X, training=False)

    def scratch_per_sample(self):
        """Values the forward pass keeps per sample (its output, by default).

        The network sizes its predict batches with it.
        """
        return int(np.prod(self.output_shape))

    # -- helpers ------------------------------------------------------------
    def _buffer(self, name, shape):
        """A reusable C-contiguous array: allocated once per (name, shape)."""
        key = (name, tuple(shape))
        buf = self._buffers.get(key)
        if buf is None:
            # keep at most two batch sizes per name (full batches and the last one)
            stale = [k for k in self._buffers if k[0] == name]
            if len(stale) >= 2:
                del self._buffers[stale[0]]
            buf = np.empty(shape, dtype=self.dtype)
            self._buffers[key] = buf
        return buf

    def __getstate__(self):
        state = self.__dict__.copy()
        # buffers are scratch space; params/grads are re-bound by the network
        state["_buffers"] = {}
        state["params"] = {}
        state["grads"] = {}
        for key in ("_input", "_output"):
            state.pop(key, None)
        return state

    def get_config(self):
        """A JSON-friendly description of the layer (for ``repr`` and saving)."""
        return {"name": type(self).__name__}

    def __repr__(self):
        cfg = self.get_config()
        args = ", ".join(f"{k}={v!r}" for k, v in cfg.items() if k != "name")
        return f"{cfg['name']}({args})"

"""The layer abstraction every model is built from, and the buffers a pass writes into."""

import numpy as np

from .._kernels import _isfinite


class Buffers:
    """Named arrays reused from one batch to the next: one array per name.

    A pass asks for its arrays by name and shape (:meth:`get`); the array
    kept under that name is handed out again while it is large enough, as a
    view of its leading rows when the batch is smaller (the last batch of an
    epoch, of a prediction), and replaced by a new one when it is not. So a
    set of buffers holds, per name, one array of the largest batch it served.

    Who owns the set decides how long the arrays live: each layer owns one
    for training (``Layer._buffers``: its outputs and gradients, kept from
    step to step and read by ``backward``, released when ``fit`` ends), and
    the network makes a new one per layer for each prediction, dropped when
    the call returns (see :meth:`perceptron._network.Network.decision_function`).

    Examples
    --------
    >>> import numpy as np
    >>> from perceptron.layers import Buffers
    >>> buffers = Buffers()
    >>> full = buffers.get("out", (128, 10), np.float32)
    >>> last = buffers.get("out", (40, 10), np.float32)  # the first 40 rows of ``full``
    >>> np.shares_memory(full, last), last.shape, buffers.nbytes
    (True, (40, 10), 5120)
    """

    def __init__(self):
        self._arrays = {}

    def get(self, name, shape, dtype):
        """A C-contiguous array of ``shape`` and ``dtype``, kept under ``name``.

        Its contents are whatever the last user left: the caller overwrites it.
        """
        shape, dtype = tuple(shape), np.dtype(dtype)
        buf = self._arrays.get(name)
        if (buf is None or buf.dtype != dtype or buf.ndim != len(shape)
                or buf.shape[1:] != shape[1:] or buf.shape[0] < shape[0]):
            buf = self._arrays[name] = np.empty(shape, dtype=dtype)
        return buf[:shape[0]] if shape else buf

    @property
    def nbytes(self):
        """Bytes of the arrays held."""
        return sum(buf.nbytes for buf in self._arrays.values())

    def __len__(self):
        return len(self._arrays)


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
    3. ``forward(X, training, buffers)`` maps a batch ``X`` of shape
       ``(n, *input_shape)`` to ``(n, *output_shape)``; ``backward(grad,
       need_input_grad)`` receives dLoss/dOutput, writes dLoss/dParams into
       ``self.grads`` and returns dLoss/dInput (or None when not needed).
    4. ``release_scratch()`` drops the training buffers when ``fit`` ends.

    Where the arrays live:

    - **training** (``forward(X, training=True)`` and ``backward``): the
      outputs and input gradients go into buffers the layer owns
      (``self._buffers``, a :class:`Buffers`), reused from batch to batch,
      and the layer records what ``backward`` reads (its input, its output:
      the attributes named in ``_recorded``). A caller must copy what it
      wants to keep past the next call.
    - **prediction** (``training=False``): the output goes into ``buffers``,
      a :class:`Buffers` of the caller's (one per layer and per call: the
      network's predict path makes them), or a new array without one, and
      nothing is written on the layer. Several threads may therefore predict
      with the same layers at once.

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
    ...     def forward(self, X, training=False, buffers=None):
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

    #: attributes ``forward(training=True)`` records for ``backward``
    _recorded = ("_input", "_output")

    def __init__(self):
        self.param_shapes = {}
        self.params = {}
        self.grads = {}
        self.n_threads = 1
        self._buffers = Buffers()

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
    def forward(self, X, training=False, buffers=None):
        """``X`` of shape ``(n, *input_shape)`` -> the output ``(n, *output_shape)``.

        Parameters
        ----------
        X : ndarray
        training : bool, default=False
            True: the output goes into the layer's own buffers and what
            ``backward`` needs is recorded. False: nothing is written on the
            layer.
        buffers : Buffers, optional
            Where the output goes when not training (a new array without).
        """
        raise NotImplementedError

    def backward(self, grad, need_input_grad=True):
        raise NotImplementedError

    def forward_checked(self, X, buffers=None):
        """Predict-time ``forward``, after checking that ``X`` holds no NaN or inf.

        Returns
        -------
        out : ndarray or None
            ``forward(X, buffers=buffers)``; None when ``X`` is not finite.

        A layer may fuse the check into its own pass over ``X`` (``Dense``
        does); this default makes one parallel pass before ``forward``.
        """
        if not _isfinite.all_finite(X.reshape(-1), self.n_threads):
            return None
        return self.forward(X, training=False, buffers=buffers)

    def scratch_per_sample(self):
        """Values a predict-time forward pass writes per sample (its output, by default).

        The network sizes its predict batches with it and
        :meth:`scratch_per_call` to keep within its budget
        (:data:`perceptron._network.PREDICT_SCRATCH_BYTES`).
        """
        return int(np.prod(self.output_shape))

    def scratch_per_call(self):
        """Values a predict-time forward pass allocates whatever its number of rows.

        Nothing by default; a kernel with a workspace of its own (Winograd's)
        says how large it can be.
        """
        return 0

    def release_scratch(self):
        """Drop the training buffers and what was recorded for ``backward``.

        The network calls it when ``fit`` ends: a fitted layer keeps its
        parameters, not a batch's activations.
        """
        self._buffers = Buffers()
        for key in self._recorded:
            self.__dict__.pop(key, None)

    # -- helpers ------------------------------------------------------------
    def _buffer(self, name, shape, dtype=None):
        """A training buffer of the layer's own (see :class:`Buffers`), in its dtype."""
        return self._buffers.get(name, shape, self.dtype if dtype is None else dtype)

    def _output_buffers(self, training, buffers):
        """Where a forward pass writes: the layer's own buffers when training
        (``backward`` reads them), else the caller's ``buffers`` (new ones
        without): predicting writes nothing on the layer."""
        if training:
            return self._buffers
        return Buffers() if buffers is None else buffers

    def __getstate__(self):
        state = self.__dict__.copy()
        # buffers are scratch space; params/grads are re-bound by the network
        state.pop("_buffers", None)
        state["params"] = {}
        state["grads"] = {}
        for key in self._recorded:
            state.pop(key, None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._buffers = Buffers()  # also replaces the dict of older pickles

    def get_config(self):
        """A JSON-friendly description of the layer (for ``repr`` and saving)."""
        return {"name": type(self).__name__}

    def __repr__(self):
        cfg = self.get_config()
        args = ", ".join(f"{k}={v!r}" for k, v in cfg.items() if k != "name")
        return f"{cfg['name']}({args})"

"""Fully connected layer and inverted dropout."""

import math

import numpy as np

from .._kernels import _dense, _dropout
from .._validation import check_rng_state
from ._base import Layer

#: activation name -> kernel code (see ``perceptron/_kernels/_dense.pyx``)
ACTIVATIONS = {"identity": 0, "relu": 1, "logistic": 2, "sigmoid": 2, "tanh": 3}


def activation_code(name):
    """Return the kernel code of an activation name, or raise ValueError.

    Examples
    --------
    >>> from perceptron.layers import activation_code
    >>> activation_code("relu"), activation_code("sigmoid"), activation_code("logistic")
    (1, 2, 2)
    """
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}"
        ) from None


class Dense(Layer):
    """``A = f(X @ W + b)``: a fully connected layer with a fused activation.

    Parameters
    ----------
    units : int
        Number of output units.
    activation : {"identity", "relu", "sigmoid", "logistic", "tanh"}
        The element-wise function ``f``; ``"identity"`` for an output layer
        whose loss takes the logits.

    Attributes
    ----------
    activation_code : int
        The kernel code of ``activation`` (see :data:`ACTIVATIONS`): what the
        kernels, and the dense-stack engine, are told.

    Notes
    -----
    Forward, one kernel call (``_dense.dense_forward``): ``Z = X @ W`` by
    BLAS, each thread then applying ``A = f(Z + b)`` to its own rows.
    Backward, given ``G = dL/dA``, one kernel call (``_dense.dense_backward``)::

        G  <- G * f'(A)          (in place: now dL/dZ)
        dX  = G @ W.T            (skipped for the first layer)
        dW  = X.T @ G            (GEMM with a transposed A operand, no copy)
        db  = G.sum(axis=0)

    Weights start Glorot-uniform (``sqrt(6 / (fan_in + fan_out))``, ``2``
    instead of ``6`` for sigmoid units, as scikit-learn does); biases at zero.

    Examples
    --------
    A layer on its own, outside a network: build it, give it parameter and
    gradient arrays, run a batch forward and back.

    >>> import numpy as np
    >>> from perceptron.layers import Dense
    >>> layer = Dense(3, activation="relu")
    >>> layer.build((4,), np.float64)
    (3,)
    >>> layer.bind({"W": np.ones((4, 3)), "b": np.zeros(3)},
    ...            {"W": np.empty((4, 3)), "b": np.empty(3)})
    >>> X = np.array([[1.0, 2.0, 3.0, -7.0]])
    >>> layer.forward(X, training=True)
    array([[0., 0., 0.]])
    >>> X = np.array([[1.0, 2.0, 3.0, 4.0]])
    >>> layer.forward(X, training=True)
    array([[10., 10., 10.]])
    >>> dX = layer.backward(np.ones((1, 3)))
    >>> layer.grads["b"], dX
    (array([1., 1., 1.]), array([[3., 3., 3., 3.]]))
    """

    decay_params = ("W",)

    def __init__(self, units, activation="identity"):
        super().__init__()
        self.units = int(units)
        self.activation = activation
        self.activation_code = activation_code(activation)

    def _build(self, input_shape):
        self.n_inputs = math.prod(input_shape)  # exact: no int64 overflow
        self.param_shapes = {"W": (self.n_inputs, self.units), "b": (self.units,)}
        return (self.units,)

    def init_params(self, rng):
        factor = 2.0 if self.activation_code == 2 else 6.0
        bound = np.sqrt(factor / (self.n_inputs + self.units))
        self.params["W"][...] = rng.uniform(-bound, bound, self.param_shapes["W"])
        self.params["b"][...] = 0

    def forward(self, X, training=False, buffers=None):
        return self._forward(X, training, buffers, check_finite=False)

    def forward_checked(self, X, buffers=None):
        # the NaN/inf check runs inside the kernel, on each block of rows just
        # before its product (see _dense.dense_forward)
        return self._forward(X, False, buffers, check_finite=True)

    def _forward(self, X, training, buffers, check_finite):
        X2 = X.reshape(X.shape[0], self.n_inputs)
        out = self._output_buffers(training, buffers).get("out", (X.shape[0], self.units),
                                                          self.dtype)
        finite = _dense.dense_forward(X2, self.params["W"], self.params["b"], out,
                                      self.activation_code, self.n_threads, check_finite)
        if training:  # what backward reads
            self._input, self._output = X2, out
        return out if finite else None

    def backward(self, grad, need_input_grad=True):
        dX = self._buffer("dX", (grad.shape[0], self.n_inputs)) if need_input_grad else None
        _dense.dense_backward(self._input, self._output, grad, self.params["W"],
                              self.grads["W"], self.grads["b"], dX, self.activation_code,
                              self.n_threads)
        if dX is None:
            return None
        return dX.reshape((grad.shape[0],) + self.input_shape)

    def get_config(self):
        return {"name": "Dense", "units": self.units, "activation": self.activation}


class Dropout(Layer):
    """Inverted dropout: zero a fraction ``rate`` of inputs while training.

    Kept values are scaled by ``1 / (1 - rate)`` so that nothing changes at
    predict time, when the layer passes its input through untouched.

    Parameters
    ----------
    rate : float in [0, 1)
        Fraction of the inputs to drop.

    Examples
    --------
    >>> import numpy as np
    >>> from perceptron.layers import Dropout
    >>> layer = Dropout(0.5)
    >>> layer.build((1000,), np.float64)
    (1000,)
    >>> layer.init_params(np.random.default_rng(0))
    >>> out = layer.forward(np.ones((1, 1000)), training=True)
    >>> sorted(set(out.ravel().tolist()))  # dropped, or kept and scaled by 2
    [0.0, 2.0]
    >>> layer.forward(np.ones((1, 3)), training=False)  # identity at predict time
    array([[1., 1., 1.]])
    """

    _recorded = ("_mask",)

    def __init__(self, rate):
        super().__init__()
        rate = float(rate)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        self.rate = rate

    def init_params(self, rng):
        # the layer's own stream of mask seeds, derived from the network's rng
        self.rng = np.random.default_rng(rng.integers(2**63))

    def next_seed(self):
        """The seed of the next training batch's mask (one draw from the layer's stream).

        The mask itself is a hash of this seed and each element's index
        (``_kernels/_dropout.pyx``), the same whichever thread draws it.
        """
        return int(self.rng.integers(2**63))

    def state(self):
        return {"rng": self.rng.bit_generator.state}

    def load_state(self, state):
        if set(state) != {"rng"}:
            raise ValueError(f"Dropout state must have the entry 'rng', got {sorted(state)}")
        self.rng.bit_generator.state = check_rng_state("Dropout state", state["rng"])

    def forward(self, X, training=False, buffers=None):
        if not training:
            return X
        self._active = self.rate > 0
        if not self._active:
            return X
        X2 = X.reshape(X.shape[0], -1)
        out = self._buffer("out", X2.shape)
        mask = self._buffer("mask", X2.shape)
        np.copyto(out, X2)
        _dropout.dropout_forward(out, mask, self.rate, self.next_seed(), self.n_threads)
        self._mask = mask
        return out.reshape(X.shape)

    def backward(self, grad, need_input_grad=True):
        if not self._active:
            return grad
        g2 = grad.reshape(grad.shape[0], -1)
        _dropout.multiply(g2, self._mask, self.n_threads)
        return grad

    def scratch_per_sample(self):
        return 0  # the identity at predict time: its input passes through

    def get_config(self):
        return {"name": "Dropout", "rate": self.rate}

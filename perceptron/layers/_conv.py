"""Convolution, max-pooling and flatten layers, on NHWC images.

Layout
------
A batch of images is a C-contiguous array of shape ``(n, height, width,
channels)`` -- NHWC, channels innermost (Keras' ``channels_last``). With it,
a convolution is ``im2col`` followed by ONE matrix product for the whole
batch, ``cols @ W`` with ``cols`` of shape ``(n * Ho * Wo, kh * kw * C)`` and
``W`` of shape ``(kh * kw * C, filters)``, and the product *is* the NHWC output
``(n, Ho, Wo, filters)``: no transposes anywhere, the bias and activation are
the dense layer's fused kernel on that matrix, and :class:`Flatten` is a free
reshape. The kernels, with the derivation of the backward pass, are in
``perceptron/_kernels/_conv.pyx`` and ``_pool.pyx``; 3x3, stride-1
convolutions of 8 channels or more use Winograd's algorithm instead
(``_winograd.pyx``).
"""

import math

import numpy as np

from .._kernels import _conv, _pool, _winograd
from .._validation import check_pair, check_positive_int
from ._base import Layer
from ._dense import activation_code


#: "auto" takes the Winograd path for a 3x3, stride-1 convolution of at least this
#: many input channels; with fewer, its transforms cost more than they save and
#: im2col is faster (measured on 7x7 to 28x28 images with 8 to 64 filters).
WINOGRAD_MIN_CHANNELS = 8


def _check_image(layer, input_shape):
    if len(input_shape) != 3:
        raise ValueError(f"{layer.name} expects (height, width, channels) images, "
                         f"got per-sample shape {input_shape}")
    return input_shape


def _same_geometry(size, window, stride):
    """``(outputs, pad_before)`` of "same" windows along one axis of ``size`` pixels:
    ``ceil(size / stride)`` windows, and the padding that reaches them split
    with the extra pixel at the bottom/right (as Keras and TensorFlow do)."""
    out = -(-size // stride)
    return out, max((out - 1) * stride + window - size, 0) // 2


class Conv2D(Layer):
    """2D convolution ``A = f(conv(X, W) + b)`` with a fused activation.

    Parameters
    ----------
    filters : int
        Number of output channels ``F``.
    kernel_size : int or (int, int), default=3
        ``(kh, kw)``.
    stride : int, default=1
        Step between two output pixels, the same along both axes.
    padding : {"valid", "same"}, default="valid"
        "valid": no padding, ``Ho = (H - kh) // stride + 1``. "same": zero
        padding so that ``Ho = ceil(H / stride)``; the extra row/column goes to
        the bottom/right when the total is odd (TensorFlow's rule).
    activation : {"relu", "identity", "sigmoid", "logistic", "tanh"}, default="relu"
    algorithm : {"auto", "im2col", "winograd"}, default="auto"
        How the convolution is computed. "auto": Winograd's F(4x4, 3x3) for
        a 3x3 kernel with stride 1 and at least ``WINOGRAD_MIN_CHANNELS`` (8)
        input channels, im2col otherwise. "im2col": always im2col (the
        reference). "winograd": Winograd for any number of channels; the
        layer must be 3x3 with stride 1.
    name : str, optional
        Used in error messages (the estimator passes e.g. ``"conv_layers[1]"``).

    Attributes
    ----------
    path : {"im2col", "winograd"}
        The computation this layer uses, chosen by ``build`` from ``algorithm``
        and the input's channels.

    Notes
    -----
    ``W`` has shape ``(kh * kw * C, F)``: row ``(ky * kw + kx) * C + c`` holds
    the weights that input pixel ``(ky, kx)`` of the patch, channel ``c``,
    gives to each filter. Forward, for a batch ``X`` of shape ``(n, H, W, C)``::

        cols = im2col(X)             # (n * Ho * Wo, kh * kw * C)
        Z    = cols @ W              # (n * Ho * Wo, F) == (n, Ho, Wo, F)
        A    = f(Z + b)              # fused, in place

    Backward, given ``G = dL/dA``::

        G     <- G * f'(A)           # in place: now dL/dZ
        db     = G.sum(axis=0)
        dW     = cols.T @ G
        dcols  = G @ W.T             # written over cols, which is no longer needed
        dX     = col2im(dcols)       # skipped for the first layer

    Both passes are one kernel call each (``_conv.conv_forward`` and
    ``_conv.conv_backward``) that runs these steps block by block of samples,
    so each block's patches are still in cache for the GEMMs (see the
    docstring of ``perceptron/_kernels/_conv.pyx``).

    A 1x1 convolution with stride 1 needs no ``im2col``: ``cols`` is ``X``
    itself, seen as ``(n * H * W, C)``.

    On the Winograd path (``path == "winograd"``) the same ``Z``, ``dW``,
    ``db`` and ``dX`` come from ``_winograd.winograd_forward`` and
    ``winograd_backward`` instead: 4x4 output tiles computed with 4x fewer
    multiplications, and no ``cols`` (see the docstring of
    ``perceptron/_kernels/_winograd.pyx``). In float32 its results differ
    from im2col's by rounding, a few 1e-7 of their scale.

    Weights start Glorot-uniform with Keras' fans for convolutions
    (``fan_in = kh * kw * C``, ``fan_out = kh * kw * F``); biases at zero.
    """

    decay_params = ("W",)
    _recorded = ("_input", "_cols", "_output")

    def __init__(self, filters, kernel_size=3, stride=1, padding="valid",
                 activation="relu", algorithm="auto", name=None):
        super().__init__()
        self.name = name or "Conv2D"
        self.filters = check_positive_int(f"{self.name}: filters", filters)
        self.kernel_size = check_pair(f"{self.name}: kernel_size", kernel_size)
        self.stride = check_positive_int(f"{self.name}: stride", stride)
        if padding not in ("valid", "same"):
            raise ValueError(f"{self.name}: padding must be 'valid' or 'same', got {padding!r}")
        self.padding = padding
        self.activation = activation
        self.activation_code = activation_code(activation)
        if algorithm not in ("auto", "im2col", "winograd"):
            raise ValueError(f"{self.name}: algorithm must be 'auto', 'im2col' or "
                             f"'winograd', got {algorithm!r}")
        if algorithm == "winograd" and (self.kernel_size != (3, 3) or self.stride != 1):
            raise ValueError(f"{self.name}: algorithm='winograd' needs a 3x3 kernel with "
                             f"stride 1, got kernel_size={self.kernel_size}, "
                             f"stride={self.stride}")
        self.algorithm = algorithm
        self.path = None

    def _build(self, input_shape):
        H, W, C = _check_image(self, input_shape)
        kh, kw = self.kernel_size
        s = self.stride
        if self.padding == "same":
            (Ho, self.pad_top), (Wo, self.pad_left) = (_same_geometry(H, kh, s),
                                                       _same_geometry(W, kw, s))
        else:
            self.pad_top = self.pad_left = 0
            Ho, Wo = _conv.conv_output_size(H, kh, s, 0), _conv.conv_output_size(W, kw, s, 0)
            if kh > H or kw > W:
                raise ValueError(
                    f"{self.name}: a {kh}x{kw} kernel with padding='valid' does not fit "
                    f"the {H}x{W} image ({C} channels) it receives; use padding='same', "
                    "smaller kernels, or less pooling before it")
        self.out_hw = (Ho, Wo)
        self.n_cols = kh * kw * C
        # a 1x1 kernel with stride 1 takes no padding in either mode
        self._pointwise = kh == 1 and kw == 1 and s == 1
        winograd = (kh, kw) == (3, 3) and s == 1
        if self.algorithm == "auto":
            winograd = winograd and C >= WINOGRAD_MIN_CHANNELS
        self.path = "winograd" if winograd and self.algorithm != "im2col" else "im2col"
        self.param_shapes = {"W": (self.n_cols, self.filters), "b": (self.filters,)}
        return (Ho, Wo, self.filters)

    def init_params(self, rng):
        kh, kw = self.kernel_size
        factor = 2.0 if self.activation_code == 2 else 6.0
        fan_in, fan_out = self.n_cols, kh * kw * self.filters
        bound = np.sqrt(factor / (fan_in + fan_out))
        self.params["W"][...] = rng.uniform(-bound, bound, self.param_shapes["W"])
        self.params["b"][...] = 0

    @property
    def kernel(self):
        """The weights as ``(filters, kh, kw, channels)`` (a view into the model)."""
        kh, kw = self.kernel_size
        C = self.input_shape[2]
        return self.params["W"].reshape(kh, kw, C, self.filters).transpose(3, 0, 1, 2)

    def _im2col_args(self):
        kh, kw = self.kernel_size
        return (kh, kw, self.stride, self.pad_top, self.pad_left)

    def scratch_per_sample(self):
        """The output and the patch matrix (im2col), per sample.

        The Winograd path keeps no patches: its scratch is per block of
        samples, not per sample (:meth:`scratch_per_call`).
        """
        Ho, Wo = self.out_hw
        patches = 0 if self._pointwise or self.path == "winograd" else Ho * Wo * self.n_cols
        return Ho * Wo * self.filters + patches

    def scratch_per_call(self):
        """The Winograd forward pass's workspace, at most (``_winograd.workspace_size``)."""
        if self.path != "winograd":
            return 0
        return _winograd.workspace_size(2**20, *self.input_shape, self.filters, self.pad_top,
                                        self.pad_left, self.n_threads, backward=False)

    def forward(self, X, training=False, buffers=None):
        n = X.shape[0]
        X = np.ascontiguousarray(X)
        Ho, Wo = self.out_hw
        buffers = self._output_buffers(training, buffers)
        out = buffers.get("out", (n, Ho, Wo, self.filters), self.dtype)
        if self.path == "winograd":
            cols = None
            _winograd.winograd_forward(X, self.params["W"], self.params["b"], out,
                                       self.pad_top, self.pad_left, self.activation_code,
                                       self.n_threads)
        else:
            # a 1x1 kernel's patches are the pixels themselves: no im2col buffer
            cols = (None if self._pointwise
                    else buffers.get("cols", (n * Ho * Wo, self.n_cols), self.dtype))
            _conv.conv_forward(X, cols, self.params["W"], self.params["b"], out,
                               *self._im2col_args(), self.activation_code, self.n_threads)
        if training:  # what backward reads
            self._input, self._cols, self._output = X, cols, out
        return out

    def backward(self, grad, need_input_grad=True):
        n = grad.shape[0]
        grad = np.ascontiguousarray(grad).reshape(self._output.shape)
        dX = self._buffer("dX", (n,) + self.input_shape) if need_input_grad else None
        if self.path == "winograd":  # overwrites grad with dL/dZ
            _winograd.winograd_backward(self._input, self._output, grad, self.params["W"],
                                        self.grads["W"], self.grads["b"], dX, self.pad_top,
                                        self.pad_left, self.activation_code, self.n_threads)
            return dX
        # overwrites grad with dL/dZ and self._cols (if any) with dcols
        _conv.conv_backward(self._input, self._output, grad, self._cols, self.params["W"],
                            self.grads["W"], self.grads["b"], dX,
                            *self._im2col_args(), self.activation_code, self.n_threads)
        return dX

    def get_config(self):
        return {"name": "Conv2D", "filters": self.filters, "kernel_size": self.kernel_size,
                "stride": self.stride, "padding": self.padding,
                "activation": self.activation, "algorithm": self.algorithm}


def pool_geometry(size, pool, stride, padding):
    """``(outputs, pad_before)`` of max-pooling along one axis of ``size`` pixels.

    "valid": ``(size - pool) // stride + 1`` windows inside the image, no
    padding; an axis shorter than the window is pooled whole (one window,
    clipped to it). "same": ``ceil(size / stride)`` windows, the padding
    needed to reach them split as in :class:`Conv2D` (the extra pixel at the
    bottom/right).

    Examples
    --------
    >>> from perceptron.layers._conv import pool_geometry
    >>> pool_geometry(7, 2, 2, "valid"), pool_geometry(7, 2, 2, "same")
    ((3, 0), (4, 0))
    >>> pool_geometry(1, 2, 2, "valid"), pool_geometry(1, 2, 2, "same")
    ((1, 0), (1, 0))
    """
    if padding == "same":
        return _same_geometry(size, pool, stride)
    return (size - pool) // stride + 1 if pool <= size else 1, 0


class MaxPool2D(Layer):
    """Max-pooling over ``pool_size`` windows.

    Parameters
    ----------
    pool_size : int or (int, int), default=2
    stride : int, optional
        Defaults to the pool height (non-overlapping windows, as in Keras).
    padding : {"valid", "same"}, default="valid"
        "valid" (Keras' default): the windows that fit inside the image,
        ``Ho = (H - ph) // stride + 1``; a remainder at the bottom/right
        border is dropped (a 7x7 map gives 3x3 with 2x2 windows). A side
        shorter than the window is pooled whole, in one window clipped to it:
        a 1x5 strip gives 1x2, a 1x1 map 1x1, so pooling never makes a map
        vanish. "same" (Keras' ``padding="same"``; with 2x2 windows also
        PyTorch's ``ceil_mode``): ``Ho = ceil(H / stride)``, the border
        remainder kept: windows that hang over the edge take the maximum of
        the pixels they cover (7x7 gives 4x4). The overhang is split as
        :class:`Conv2D` splits its padding, the extra pixel at the
        bottom/right.
    name : str, optional
        Used in error messages.

    Notes
    -----
    Forward keeps, for every output, the offset of the winning input
    (``argmax``); backward sends each output gradient there and nowhere else.
    See ``perceptron/_kernels/_pool.pyx``.
    """

    _recorded = ("_argmax",)

    def __init__(self, pool_size=2, stride=None, padding="valid", name=None):
        super().__init__()
        self.name = name or "MaxPool2D"
        self.pool_size = check_pair(f"{self.name}: pool_size", pool_size)
        self.stride = (self.pool_size[0] if stride is None
                       else check_positive_int(f"{self.name}: stride", stride))
        if padding not in ("valid", "same"):
            raise ValueError(f"{self.name}: padding must be 'valid' or 'same', got {padding!r}")
        self.padding = padding

    def _build(self, input_shape):
        H, W, C = _check_image(self, input_shape)
        (ph, pw), s = self.pool_size, self.stride
        Ho, self.pad_top = pool_geometry(H, ph, s, self.padding)
        Wo, self.pad_left = pool_geometry(W, pw, s, self.padding)
        return (Ho, Wo, C)

    def scratch_per_sample(self):
        return 2 * int(np.prod(self.output_shape))  # the output and its argmax

    def forward(self, X, training=False, buffers=None):
        X = np.ascontiguousarray(X)
        shape = (X.shape[0],) + self.output_shape
        buffers = self._output_buffers(training, buffers)
        out = buffers.get("out", shape, self.dtype)
        argmax = buffers.get("argmax", shape, np.int32)
        _pool.maxpool_forward(X, out, argmax, *self.pool_size, self.stride, self.pad_top,
                              self.pad_left, self.n_threads)
        if training:  # what backward reads
            self._argmax = argmax
        return out

    def backward(self, grad, need_input_grad=True):
        if not need_input_grad:
            return None
        dX = self._buffer("dX", (grad.shape[0],) + self.input_shape)
        _pool.maxpool_backward(np.ascontiguousarray(grad), self._argmax, dX, self.n_threads)
        return dX

    def get_config(self):
        return {"name": "MaxPool2D", "pool_size": self.pool_size, "stride": self.stride,
                "padding": self.padding}


class Flatten(Layer):
    """``(n, H, W, C) -> (n, H * W * C)``: a free reshape of the NHWC buffer."""

    _recorded = ()

    def _build(self, input_shape):
        return (math.prod(input_shape),)  # exact: no int64 overflow

    def forward(self, X, training=False, buffers=None):
        return X.reshape(X.shape[0], -1)

    def scratch_per_sample(self):
        return 0  # a view of its input

    def backward(self, grad, need_input_grad=True):
        if not need_input_grad:
            return None
        return grad.reshape((grad.shape[0],) + self.input_shape)

"""Convolutional network: conv + pooling blocks, then dense layers."""

import numbers

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._augment import AUGMENT_DOC, check_augment
from ._base import (FITTED_ATTRIBUTES_DOC, TRAINING_PARAMS_DOC, AugmentMixin,
                    BaseDigitClassifier, DenseWeightsMixin)
from ._validation import check_image_shape, check_layer_sizes, check_param
from .layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D, activation_code

_SPEC_KEYS = ("filters", "kernel_size", "stride", "padding", "pool", "pool_padding",
              "algorithm")


class ConvDigitClassifier(AugmentMixin, DenseWeightsMixin, BaseDigitClassifier):
    __doc__ = """Convolutional neural network classifier on the Cython/OpenMP engine.

    The default is the network of the Keras/TensorFlow CNN tutorial: three
    3x3 convolutions with ReLU (32, 64 and 64 filters), each followed by 2x2
    max-pooling, then a dense ReLU layer of 64 units and a softmax output,
    trained with RMSprop. The convolutions pad with zeros ("same"), so on
    28x28 images the feature maps go 28 -> 14 -> 7 -> 3 and the dense layer
    sees 3x3x64 features. (With ``padding="valid"``, the tutorial's choice,
    they shrink 28 -> 26 -> 13 -> 11 -> 5 -> 3 -> 1 and the dense layer sees
    only 64 numbers: faster, and less accurate on Fashion-MNIST; the
    benchmarks page has the figures.)

    Images are given flattened, one per row of ``X`` (as every scikit-learn
    estimator takes them); ``image_shape`` says how to fold the rows back.
    Inside, activations are NHWC ``(n, height, width, channels)``, so each
    convolution is im2col plus one matrix product for the whole batch, or,
    for a 3x3 convolution with stride 1 of 8 channels or more (the default
    network's second and third), Winograd's F(4x4, 3x3) algorithm with 4x
    fewer multiplications (see :mod:`perceptron.layers._conv`).

    Parameters
    ----------
    conv_layers : sequence, default=((32, 3), (64, 3), (64, 3))
        One entry per convolution, input side first. Each is either
        ``(filters, kernel_size)`` or a dict with keys ``"filters"``
        (required), ``"kernel_size"`` (default 3; an int or ``(kh, kw)``),
        ``"stride"`` (default 1), ``"padding"`` (default: ``padding``),
        ``"pool"`` (default True: pool with ``pool_size`` after this layer;
        False: no pooling; an int: that pool size), ``"pool_padding"``
        (default "valid"; "same" keeps the border remainder, see below) and
        ``"algorithm"`` (default "auto": Winograd for a 3x3, stride-1
        convolution of 8 channels or more, else im2col; "im2col" or
        "winograd" to choose, see :class:`~perceptron.layers.Conv2D`).
    pool_size : int or None, default=2
        Size (and stride) of the square max-pooling after each convolution;
        None or 1 means no pooling unless an entry asks for it. The pooling
        is "valid", as in Keras: a map of odd size loses its last row or
        column (7x7 -> 3x3), and a side shorter than the window is pooled
        whole (a 1 x 5 map -> 1 x 2, 1 x 1 -> 1 x 1), so no map ever
        vanishes. With ``"pool_padding": "same"`` a layer's pooling keeps
        the remainder instead (7x7 -> 4x4): a window hanging over the edge
        takes the maximum of the pixels it covers (Keras'
        ``MaxPooling2D(padding="same")``).
    padding : {{"same", "valid"}}, default="same"
        Default padding of the convolutions: "same" (zeros, output size =
        input size at stride 1) or "valid" (none; each 3x3 layer trims a
        1-pixel border).
    dense_layers : tuple of int, default=(64,)
        Units of the dense hidden layers after the convolutions.
    activation : {{"relu", "tanh", "logistic", "sigmoid", "identity"}}, default="relu"
        Activation of the convolutions and the dense hidden layers.
    output_activation : {{"softmax", "sigmoid", "logistic"}}, default="softmax"
        Output function and its loss.
    dropout : float, default=0.0
        Fraction of each dense hidden layer's outputs dropped while training.
    image_shape : tuple of int or None, default=None
        ``(height, width)`` or ``(channels, height, width)`` of one image; the
        rows of ``X`` are then ``X.reshape(n, channels, height, width)``
        (channel-major). None infers it from ``n_features``: a square
        single-channel image when ``n_features`` is a perfect square (784 ->
        28x28, 64 -> 8x8, 4 -> 2x2), else a ``1 x n_features`` strip (10 ->
        1x10). The default network fits any such image, down to one pixel
        ("same" convolutions keep its size, pooling never makes it vanish),
        so it takes any tabular data, as scikit-learn's estimator checks
        feed it. A shape that does not match ``n_features``, or a layer
        stack that cannot fit the image (a "valid" convolution wider than
        its input), raises a ValueError naming the layer and the sizes.
{augment}
{params}

    Attributes
    ----------
    filters_ : list of ndarray
        ``filters_[i]`` has shape ``(n_filters, kernel_h, kernel_w,
        in_channels)``: the kernels of convolution ``i`` (views into the model).
    conv_intercepts_ : list of ndarray
        ``conv_intercepts_[i]`` has shape ``(n_filters,)``.
    coefs_ : list of ndarray
        Weights of the dense layers, ``(n_inputs_i, n_units_i)``; the first
        one's rows follow the NHWC flattening of the last feature maps.
    intercepts_ : list of ndarray
        Biases of the dense layers.
    image_shape_ : tuple of int
        ``(channels, height, width)`` of the input images.
{attributes}

    See Also
    --------
    MLPDigitClassifier : Dense layers only.

    Examples
    --------
    >>> from perceptron import ConvDigitClassifier
    >>> from perceptron.datasets import load_digits
    >>> X_train, y_train = load_digits(subset="train", return_X_y=True)
    >>> X_test, y_test = load_digits(subset="test", return_X_y=True)
    >>> clf = ConvDigitClassifier(conv_layers=((16, 3),), early_stopping=True,
    ...                           max_iter=100, random_state=0)
    >>> clf = clf.fit(X_train, y_train)  # until validation stalls
    >>> [f.shape for f in clf.filters_]
    [(16, 3, 3, 1)]
    >>> clf.feature_maps(X_test[:5]).shape
    (5, 8, 8, 16)
    >>> clf.score(X_test, y_test) > 0.9
    True
    """.format(
        augment=AUGMENT_DOC,
        params=TRAINING_PARAMS_DOC.format(solver="rmsprop", alpha=0.0, batch_size=128,
                                          learning_rate_init=0.001, max_iter=10, tol=1e-3,
                                          tol_note=""),
        attributes=FITTED_ATTRIBUTES_DOC,
    )

    def __init__(self, conv_layers=((32, 3), (64, 3), (64, 3)), pool_size=2,
                 padding="same", dense_layers=(64,), activation="relu", *,
                 output_activation="softmax", dropout=0.0, image_shape=None, augment=None,
                 solver="rmsprop", alpha=0.0, class_weight=None, batch_size=128,
                 learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=10, shuffle=True,
                 random_state=None, tol=1e-3, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000, rho=0.9, dtype="float32", n_threads=None,
                 callbacks=None):
        self.conv_layers = conv_layers
        self.pool_size = pool_size
        self.padding = padding
        self.dense_layers = dense_layers
        self.activation = activation
        self.output_activation = output_activation
        self.dropout = dropout
        self.image_shape = image_shape
        self.augment = augment
        self.solver = solver
        self.alpha = alpha
        self.class_weight = class_weight
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.rho = rho
        self.dtype = dtype
        self.n_threads = n_threads
        self.callbacks = callbacks

    # ------------------------------------------------------------ parameters
    def _conv_specs(self):
        """``conv_layers`` as a list of complete dicts (raise ValueError if malformed)."""
        check_param("padding", self.padding, None, options={"valid", "same"})
        if self.pool_size is not None:
            check_param("pool_size", self.pool_size, "int", 1)
        default_pool = self.pool_size if self.pool_size is not None else 1
        try:
            entries = list(self.conv_layers)
        except TypeError:
            raise ValueError(
                f"conv_layers must be a sequence of (filters, kernel_size) pairs or dicts, "
                f"got {self.conv_layers!r}") from None
        specs = []
        for i, entry in enumerate(entries):
            where = f"conv_layers[{i}]"
            if isinstance(entry, dict):
                unknown = set(entry) - set(_SPEC_KEYS)
                if unknown or "filters" not in entry:
                    raise ValueError(
                        f"{where} must have a 'filters' key and only keys from "
                        f"{_SPEC_KEYS}, got {entry!r}")
                spec = dict(entry)
            else:
                try:
                    filters, kernel_size = entry
                except (TypeError, ValueError):
                    raise ValueError(
                        f"{where} must be (filters, kernel_size) or a dict, got {entry!r}"
                    ) from None
                spec = {"filters": filters, "kernel_size": kernel_size}
            spec.setdefault("kernel_size", 3)
            spec.setdefault("stride", 1)
            spec.setdefault("padding", self.padding)
            pool = spec.get("pool", True)
            if isinstance(pool, (bool, np.bool_)):
                pool = default_pool if pool else 1
            elif pool is None:
                pool = 1
            elif not isinstance(pool, numbers.Integral) or pool < 1:
                raise ValueError(f"{where}: pool must be a bool or a positive int, got {pool!r}")
            spec["pool"] = int(pool)
            spec.setdefault("pool_padding", "valid")
            spec.setdefault("algorithm", "auto")
            specs.append(spec)
        return specs

    def _dense_sizes(self):
        return check_layer_sizes("dense_layers", self.dense_layers)

    def _validate_extra_params(self):
        # building the layers checks filters, kernel sizes, strides and paddings
        self._make_conv_stack()
        self._dense_sizes()
        activation_code(self.activation)
        self._check_dropout()
        if self.image_shape is not None:
            self._image_shape(None)
        check_augment(self.augment)

    def _image_shape(self, n_features):
        """``(channels, height, width)`` for ``n_features`` pixels (None: only check).

        Without ``image_shape``, a row that is not a square image is read as
        a ``1 x n_features`` strip, so that any tabular data fits.
        """
        return check_image_shape(self.image_shape, n_features, channels=True, strip=True)

    # ------------------------------------------------------------ hooks
    _CHANNELS_LAST = True  # the network's input is NHWC (see _network_input)

    def _make_conv_stack(self):
        layers = []
        for i, spec in enumerate(self._conv_specs()):
            layers.append(Conv2D(spec["filters"], spec["kernel_size"], stride=spec["stride"],
                                 padding=spec["padding"], activation=self.activation,
                                 algorithm=spec["algorithm"], name=f"conv_layers[{i}]"))
            if spec["pool"] > 1:
                layers.append(MaxPool2D(spec["pool"], padding=spec["pool_padding"],
                                        name=f"the pooling after conv_layers[{i}]"))
        return layers

    def _make_layers(self, n_features, n_outputs):
        layers = self._make_conv_stack()
        layers.append(Flatten())
        for size in self._dense_sizes():
            layers.append(Dense(size, activation=self.activation))
            if self.dropout > 0:
                layers.append(Dropout(self.dropout))
        layers.append(Dense(n_outputs, activation="identity"))
        return layers

    def _input_shape(self, n_features):
        self.image_shape_ = self._image_shape(n_features)
        c, h, w = self.image_shape_
        return (h, w, c)

    def _network_input(self, X):
        c, h, w = self.image_shape_
        if c == 1:
            return X.reshape(X.shape[0], h, w, 1)  # a free view
        # channel-major rows -> NHWC, one copy
        return np.ascontiguousarray(X.reshape(X.shape[0], c, h, w).transpose(0, 2, 3, 1))

    # ------------------------------------------------------------ extras
    def _conv_layers(self):
        if not hasattr(self, "_network"):
            raise AttributeError("the estimator is not fitted yet; call fit first")
        return [layer for layer in self._network.layers if isinstance(layer, Conv2D)]

    @property
    def filters_(self):
        return [layer.kernel for layer in self._conv_layers()]

    @property
    def conv_intercepts_(self):
        return [layer.params["b"] for layer in self._conv_layers()]

    def feature_maps(self, X, layer=0):
        """Activations of convolution ``layer`` (after its activation, before pooling).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        layer : int, default=0
            Index into ``conv_layers`` (negative counts from the end).

        Returns
        -------
        maps : ndarray of shape (n_samples, height, width, n_filters)
        """
        check_is_fitted(self, "_network")
        convs = self._conv_layers()
        if not isinstance(layer, numbers.Integral) or not -len(convs) <= layer < len(convs):
            raise ValueError(
                f"layer must be an int in [-{len(convs)}, {len(convs)}), got {layer!r}")
        X = self._validate_input(X, reset=False, dtype=self._network.dtype.type)
        with self._thread_limits():
            return self._network.feature_maps(self._network_input(X),
                                              self._network.layers.index(convs[layer]))

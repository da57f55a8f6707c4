"""Multi-layer perceptron: dense hidden layers between pixels and classes."""

from ._augment import AUGMENT_DOC, check_augment
from ._base import (FITTED_ATTRIBUTES_DOC, TRAINING_PARAMS_DOC, AugmentMixin,
                    BaseDigitClassifier, DenseWeightsMixin)
from ._validation import check_image_shape, check_layer_sizes
from .layers import Dense, Dropout, activation_code


class MLPDigitClassifier(AugmentMixin, DenseWeightsMixin, BaseDigitClassifier):
    __doc__ = """Multi-layer perceptron classifier on the Cython/OpenMP engine.

    A stack of dense layers ``f(X @ W + b)`` with optional inverted dropout
    after each hidden layer, and a softmax (or one-vs-rest sigmoid) output.
    Parameter names follow :class:`sklearn.neural_network.MLPClassifier`, so
    one can replace the other.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
        Units of each hidden layer, input side first.
    activation : {{"relu", "tanh", "logistic", "sigmoid", "identity"}}, default="relu"
        Activation of the hidden layers ("logistic" and "sigmoid" are the same).
    output_activation : {{"softmax", "sigmoid", "logistic"}}, default="softmax"
        Output function and its loss: softmax + cross-entropy, or one sigmoid
        per class + binary cross-entropy.
    dropout : float, default=0.0
        Fraction of each hidden layer's outputs dropped while training
        (inverted dropout; nothing is dropped at predict time).
{augment}
    image_shape : tuple of int or None, default=None
        ``(height, width)`` or ``(channels, height, width)`` of one image,
        used only by ``augment`` to fold the rows of ``X`` back into images
        (channel-major); None means square single-channel images.
{params}

    Attributes
    ----------
    coefs_ : list of ndarray
        ``coefs_[i]`` has shape ``(n_inputs_i, n_units_i)``: the weights of
        layer ``i`` (views into the model: editing them edits the model).
    intercepts_ : list of ndarray
        ``intercepts_[i]`` has shape ``(n_units_i,)``.
{attributes}

    See Also
    --------
    PerceptronClassifier : No hidden layer.
    ConvDigitClassifier : Convolutional network.
    sklearn.neural_network.MLPClassifier : The NumPy reference implementation.

    Examples
    --------
    >>> from perceptron import MLPDigitClassifier
    >>> from perceptron.datasets import load_digits
    >>> X_train, y_train = load_digits(subset="train", return_X_y=True)
    >>> X_test, y_test = load_digits(subset="test", return_X_y=True)
    >>> clf = MLPDigitClassifier((64,), max_iter=400, random_state=0)
    >>> clf = clf.fit(X_train, y_train)
    >>> [w.shape for w in clf.coefs_]
    [(64, 64), (64, 10)]
    >>> clf.score(X_test, y_test) > 0.9
    True
    """.format(
        augment=AUGMENT_DOC,
        params=TRAINING_PARAMS_DOC.format(solver="adam", alpha=0.0001, batch_size=128,
                                          learning_rate_init=0.001, max_iter=200, tol=1e-4,
                                          tol_note="(scikit-learn's MLPClassifier's value.) "),
        attributes=FITTED_ATTRIBUTES_DOC,
    )

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *,
                 output_activation="softmax", solver="adam", alpha=0.0001, class_weight=None,
                 batch_size=128, learning_rate="constant", learning_rate_init=0.001,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4,
                 verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True,
                 early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000, rho=0.9,
                 dropout=0.0, augment=None, image_shape=None, dtype="float32",
                 n_threads=None, callbacks=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.output_activation = output_activation
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
        self.dropout = dropout
        self.augment = augment
        self.image_shape = image_shape
        self.dtype = dtype
        self.n_threads = n_threads
        self.callbacks = callbacks

    _accept_sparse = True  # a dense stack: sparse batches are densified as they are gathered

    def _hidden_sizes(self):
        return check_layer_sizes("hidden_layer_sizes", self.hidden_layer_sizes)

    def _validate_extra_params(self):
        self._hidden_sizes()
        activation_code(self.activation)
        self._check_dropout()
        check_augment(self.augment)
        check_image_shape(self.image_shape, channels=True)

    def _image_shape(self, n_features):
        """``(channels, height, width)`` of an image of ``n_features`` pixels."""
        return check_image_shape(self.image_shape, n_features, channels=True)

    def _make_layers(self, n_features, n_outputs):
        layers = []
        for size in self._hidden_sizes():
            layers.append(Dense(size, activation=self.activation))
            if self.dropout > 0:
                layers.append(Dropout(self.dropout))
        layers.append(Dense(n_outputs, activation="identity"))
        return layers

"""The single-layer perceptron: pixels straight to one unit per class."""

from ._base import (FITTED_ATTRIBUTES_DOC, TRAINING_PARAMS_DOC, BaseDigitClassifier,
                    DenseWeightsMixin)
from .layers import Dense


class PerceptronClassifier(DenseWeightsMixin, BaseDigitClassifier):
    __doc__ = """Single-layer perceptron: one dense layer from pixels to classes.

    Every pixel connects to one output unit per class; there are no hidden
    layers. With ``activation="softmax"`` this is multinomial logistic
    regression trained by mini-batch gradient descent; with ``"sigmoid"`` it is
    the classic one-unit-per-digit perceptron with sigmoid outputs trained
    one-vs-rest with binary cross-entropy.

    Its default step size, ``learning_rate_init=0.003``, is three times the
    MLP's: a single layer takes it safely, and with 0.001 it would still be
    learning when the 200 epochs of ``max_iter`` run out on the digits.

    Parameters
    ----------
    activation : {{"softmax", "sigmoid", "logistic"}}, default="softmax"
        Output function and its loss: softmax + cross-entropy, or one sigmoid
        per class + binary cross-entropy ("logistic" is an alias of "sigmoid").
{params}

    Attributes
    ----------
    coefs_ : list of one ndarray of shape (n_features, n_classes)
        The weights; ``coefs_[0][:, k]`` reshaped to the image is the template
        of class ``k``.
    intercepts_ : list of one ndarray of shape (n_classes,)
        The biases.
{attributes}

    See Also
    --------
    MLPDigitClassifier : Adds hidden layers.
    ConvDigitClassifier : Convolutional network.

    Examples
    --------
    >>> from perceptron import PerceptronClassifier
    >>> from perceptron.datasets import load_digits
    >>> X_train, y_train = load_digits(subset="train", return_X_y=True)
    >>> X_test, y_test = load_digits(subset="test", return_X_y=True)
    >>> clf = PerceptronClassifier(random_state=0)
    >>> clf = clf.fit(X_train, y_train)
    >>> clf.coefs_[0].shape
    (64, 10)
    >>> clf.score(X_test, y_test) > 0.9
    True
    """.format(
        params=TRAINING_PARAMS_DOC.format(solver="adam", alpha=0.0, batch_size=128,
                                          learning_rate_init=0.003, max_iter=200, tol=1e-3,
                                          tol_note="(scikit-learn's SGDClassifier's value, with "
                                          "which the default converges on the digits.) "),
        attributes=FITTED_ATTRIBUTES_DOC,
    )

    def __init__(self, activation="softmax", *, solver="adam", alpha=0.0, class_weight=None,
                 batch_size=128,
                 learning_rate="constant", learning_rate_init=0.003, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-3, verbose=False,
                 warm_start=False, momentum=0.9, nesterovs_momentum=True,
                 early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, max_fun=15000, rho=0.9, dtype="float32",
                 n_threads=None, callbacks=None):
        self.activation = activation
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

    _accept_sparse = True  # a dense stack: sparse batches are densified as they are gathered

    def _output_activation(self):
        return self.activation

    def _make_layers(self, n_features, n_outputs):
        return [Dense(n_outputs, activation="identity")]

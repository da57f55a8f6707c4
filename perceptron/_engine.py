"""Which engine trains a network: the one choice, made when the network is built.

- ``PerceptronClassifier`` and ``MLPDigitClassifier`` (plain dense stacks) train
  on :class:`~perceptron._dense_stack.DenseStackNetwork`: one kernel call per
  training step (``_kernels/_stack.pyx``).
- ``ConvDigitClassifier``, and any other stack of layers, train on
  :class:`~perceptron._network.Network`: layer by layer (each
  ``Layer.forward``, the loss, each ``Layer.backward``, then the optimizer).

Both have the same interface (``build``, ``train_batch``,
``decision_function``, ``predict_proba``, ``evaluate``, ``feature_maps``,
``state``, ``load_state``), so the training loop and the estimators never ask which one
they hold.
"""

from ._dense_stack import DenseStackNetwork
from ._network import Network


def make_network(layers, output="softmax", dtype="float32"):
    """The engine for ``layers``: the fused dense stack when it can run them.

    Parameters
    ----------
    layers : list of Layer
    output : {"softmax", "sigmoid", "logistic"}
    dtype : {np.float32, np.float64}

    Returns
    -------
    network : Network or DenseStackNetwork
        Not built yet: call ``build(input_shape, rng)``.

    Examples
    --------
    >>> from perceptron._engine import make_network
    >>> from perceptron.layers import Conv2D, Dense, Flatten
    >>> type(make_network([Dense(10, "relu"), Dense(3)])).__name__
    'DenseStackNetwork'
    >>> type(make_network([Conv2D(4), Flatten(), Dense(3)])).__name__
    'Network'
    """
    engine = DenseStackNetwork if DenseStackNetwork.supports(layers) else Network
    return engine(layers, output=output, dtype=dtype)

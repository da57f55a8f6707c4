"""perceptron: scikit-learn neural-network digit classifiers on Cython/OpenMP kernels.

From a single-layer perceptron to an MLP to a CNN, on one engine of readable
kernels in :mod:`perceptron._kernels`.
"""

__version__ = "0.1.0"

from ._cnn import ConvDigitClassifier
from .compare import compare
from ._config import show_config
from ._mlp import MLPDigitClassifier
from ._perceptron import PerceptronClassifier
from ._persistence import load_model as load

__all__ = [
    "ConvDigitClassifier",
    "MLPDigitClassifier",
    "PerceptronClassifier",
    "compare",
    "load",
    "show_config",
]

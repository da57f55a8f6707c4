"""Layers: each owns its parameters and buffers and calls the kernels.

The models in :mod:`perceptron` are stacks of these layers driven by
:class:`perceptron._network.Network`.
"""

from ._base import Buffers, Layer
from ._conv import Conv2D, Flatten, MaxPool2D
from ._dense import ACTIVATIONS, Dense, Dropout, activation_code

__all__ = ["ACTIVATIONS", "Buffers", "Conv2D", "Dense", "Dropout", "Flatten", "Layer",
           "MaxPool2D", "activation_code"]

"""Datasets: scikit-learn's 8x8 digits, MNIST and Fashion-MNIST.

Loaders follow :mod:`sklearn.datasets`: they return a
:class:`~sklearn.utils.Bunch` (or ``(X, y)`` with ``return_X_y=True``) and
keep downloads under :func:`get_data_home`. ``load_digits`` needs no network;
MNIST and Fashion-MNIST are read from local IDX files (Fashion-MNIST also from
Debian's ``dataset-fashion-mnist`` package) or downloaded from mirrors with
SHA-256 verification.
"""

from ._digits import load_digits
from ._fetch import DownloadError
from ._home import get_data_home
from ._idx import read_idx, write_idx
from ._mnist import load_fashion_mnist, load_mnist
from ._registry import DATASET_NAMES, load_dataset

__all__ = [
    "DATASET_NAMES",
    "DownloadError",
    "get_data_home",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "read_idx",
    "write_idx",
]

"""scikit-learn's bundled 8x8 digits, with the project's fixed split."""

import numpy as np
import sklearn.datasets
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch

from . import _descr

SUBSETS = ("train", "test", "all")
TEST_SIZE = 0.2
RANDOM_STATE = 0


def load_digits(*, subset="all", return_X_y=False, normalize=True):
    """Load scikit-learn's 8x8 handwritten digits (no download needed).

    ``subset="train"`` and ``subset="test"`` give the project's standard
    split, fixed and stratified:
    ``train_test_split(test_size=0.2, random_state=0, stratify=target)``
    on the 1797 images, i.e. 1437 training and 360 test images.

    =================   ==============
    Classes                         10
    Samples total                 1797
    Dimensionality                  64
    Features            integers 0..16
    =================   ==============

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="all"
        Which part of the fixed split to return; "all" keeps sklearn's order.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    normalize : bool, default=True
        Scale pixels to float32 in [0, 1] (divided by 16); when False keep
        the raw values 0..16 as float64, exactly as scikit-learn gives them.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : ndarray of shape (n_samples, 64)
            Flattened images.
        images : ndarray of shape (n_samples, 8, 8)
            The same pixels as images (shares memory with ``data``).
        target : ndarray of shape (n_samples,), dtype int64
            Digit labels 0..9.
        target_names : ndarray of shape (10,)
            The integers 0 to 9.
        DESCR : str
            Description of the dataset.

    (data, target) : tuple if ``return_X_y`` is True

    See Also
    --------
    load_dataset : Train and test arrays of a dataset by name.
    sklearn.datasets.load_digits : The source of the data.

    Examples
    --------
    >>> from perceptron.datasets import load_digits
    >>> digits = load_digits()
    >>> digits.data.shape, digits.data.dtype, float(digits.data.max())
    ((1797, 64), dtype('float32'), 1.0)
    >>> X_train, y_train = load_digits(subset="train", return_X_y=True)
    >>> X_test, y_test = load_digits(subset="test", return_X_y=True)
    >>> len(X_train), len(X_test)
    (1437, 360)
    """
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {SUBSETS}, got {subset!r}")
    raw = sklearn.datasets.load_digits()
    images = raw.images
    target = raw.target.astype(np.int64)
    if subset != "all":
        index = dict(zip(("train", "test"), split_indices(target)))[subset]
        images, target = images[index], target[index]
    if normalize:
        images = images.astype(np.float32)
        images /= 16
    data = images.reshape(len(images), -1)
    if return_X_y:
        return data, target
    return Bunch(data=data, images=images, target=target,
                 target_names=np.arange(10), DESCR=_descr.DIGITS)


def split_indices(target):
    """Train and test indices of the project's fixed stratified digits split."""
    return train_test_split(np.arange(len(target)), test_size=TEST_SIZE,
                            random_state=RANDOM_STATE, stratify=target)

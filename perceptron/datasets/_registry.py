"""Load any of the project's datasets by name, as train and test arrays."""

from ._digits import load_digits
from ._mnist import load_fashion_mnist, load_mnist

DATASET_NAMES = ("digits", "mnist", "fashion-mnist")
_ALIASES = {"fashion_mnist": "fashion-mnist"}


def load_dataset(name, *, data_home=None, download=True, normalize=True):
    """Return ``(X_train, X_test, y_train, y_test)`` for a dataset name.

    The split is each dataset's standard one: the project's fixed stratified
    80/20 split for ``"digits"`` (see :func:`load_digits`), the official
    60000/10000 split for ``"mnist"`` and ``"fashion-mnist"``.

    Parameters
    ----------
    name : {"digits", "mnist", "fashion-mnist"}
        The dataset; ``"fashion_mnist"`` is accepted too, and case is ignored.
    data_home : str or path-like, default=None
        Folder for downloaded data; see :func:`get_data_home`. Unused for
        ``"digits"``.
    download : bool, default=True
        Download missing files. Unused for ``"digits"``.
    normalize : bool, default=True
        Scale pixels to float32 in [0, 1]; else keep the raw values (uint8
        for MNIST and Fashion-MNIST, float64 0..16 for digits).

    Returns
    -------
    X_train, X_test : ndarray of shape (n_samples, n_features)
        Flattened images.
    y_train, y_test : ndarray of shape (n_samples,), dtype int64
        Labels 0..9.

    Raises
    ------
    ValueError
        If ``name`` is not a known dataset.

    See Also
    --------
    load_digits, load_mnist, load_fashion_mnist

    Examples
    --------
    >>> from perceptron.datasets import load_dataset
    >>> X_train, X_test, y_train, y_test = load_dataset("digits")
    >>> X_train.shape, X_test.shape, y_train.dtype
    ((1437, 64), (360, 64), dtype('int64'))
    """
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key == "digits":
        X_train, y_train = load_digits(subset="train", return_X_y=True, normalize=normalize)
        X_test, y_test = load_digits(subset="test", return_X_y=True, normalize=normalize)
        return X_train, X_test, y_train, y_test
    loaders = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist}
    if key not in loaders:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASET_NAMES)}")
    kwargs = dict(data_home=data_home, download=download, normalize=normalize,
                  return_X_y=True)
    X_train, y_train = loaders[key](subset="train", **kwargs)
    X_test, y_test = loaders[key](subset="test", **kwargs)
    return X_train, X_test, y_train, y_test

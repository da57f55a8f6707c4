"""Loaders for MNIST and Fashion-MNIST, which share the IDX file layout."""

import numpy as np
from sklearn.utils import Bunch

from . import _descr, _sources
from ._idx import read_idx
from ._locate import locate_files

SUBSETS = ("train", "test", "all")


def load_mnist(*, subset="train", data_home=None, download=True, return_X_y=False,
               normalize=True):
    """Load the MNIST handwritten digits (28x28 grayscale, 10 classes).

    The four standard files are looked up in ``data_home/mnist/``, then in
    ``data_home`` itself when ``data_home`` is given, and downloaded into
    ``<data home>/mnist/`` when missing and ``download`` is true. Downloads
    try several mirrors and are verified against pinned SHA-256 digests.

    =================   ======================
    Classes                                 10
    Samples total       70000 (60000 + 10000)
    Dimensionality                         784
    Features            uint8 0..255, or float32 0..1
    =================   ======================

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        The 60000 training images, the 10000 test images, or both (training
        images first).
    data_home : str or path-like, default=None
        Folder for the data; see :func:`get_data_home`.
    download : bool, default=True
        Download missing files. When False, a missing file raises
        FileNotFoundError.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    normalize : bool, default=True
        Scale pixels to float32 in [0, 1]; when False keep the raw uint8
        values 0..255.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : ndarray of shape (n_samples, 784)
            Flattened images, float32 in [0, 1] or uint8.
        images : ndarray of shape (n_samples, 28, 28)
            The same pixels as images (shares memory with ``data``).
        target : ndarray of shape (n_samples,), dtype int64
            Digit labels 0..9.
        target_names : ndarray of shape (10,)
            The strings ``"0"`` to ``"9"``.
        DESCR : str
            Description of the dataset.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        If the files are missing and ``download`` is False.
    DownloadError
        If the download fails on every mirror; the message names the files
        to place by hand and where.
    ValueError
        If a file is not a valid MNIST-format IDX file.

    See Also
    --------
    load_fashion_mnist : The same loader for Fashion-MNIST.
    load_dataset : Train and test arrays of a dataset by name.

    Examples
    --------
    Make a tiny MNIST-format folder (real MNIST is downloaded the same way
    into ``~/perceptron_data/mnist``):

    >>> import os, tempfile
    >>> import numpy as np
    >>> from perceptron.datasets import load_mnist, write_idx
    >>> folder = tempfile.mkdtemp()
    >>> for prefix, n in [("train", 6), ("t10k", 4)]:
    ...     write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"),
    ...               np.full((n, 28, 28), 255, dtype=np.uint8))
    ...     write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"),
    ...               np.arange(n, dtype=np.uint8))
    >>> mnist = load_mnist(data_home=folder, download=False)
    >>> mnist.data.shape, mnist.data.dtype, float(mnist.data.max())
    ((6, 784), dtype('float32'), 1.0)
    >>> mnist.images.shape
    (6, 28, 28)
    >>> X, y = load_mnist(subset="all", data_home=folder, download=False,
    ...                   return_X_y=True, normalize=False)
    >>> X.shape, X.dtype, y.tolist()
    ((10, 784), dtype('uint8'), [0, 1, 2, 3, 4, 5, 0, 1, 2, 3])
    """
    return _load(subset=subset, data_home=data_home, download=download,
                 return_X_y=return_X_y, normalize=normalize, title="MNIST",
                 subdir="mnist", system_dir=None, mirrors=_sources.MNIST_MIRRORS,
                 sha256=_sources.MNIST_SHA256, descr=_descr.MNIST,
                 target_names=[str(i) for i in range(10)])


def load_fashion_mnist(*, subset="train", data_home=None, download=True,
                       return_X_y=False, normalize=True):
    """Load Fashion-MNIST (28x28 grayscale Zalando articles, 10 classes).

    The four standard files are looked up in ``data_home/fashion-mnist/``,
    then in ``data_home`` itself when ``data_home`` is given, then in Debian's
    ``/usr/share/datasets/fashion-mnist`` (package ``dataset-fashion-mnist``,
    used in place), and downloaded into ``<data home>/fashion-mnist/`` when
    missing and ``download`` is true. Downloads try several mirrors and are
    verified against pinned SHA-256 digests.

    =================   ======================
    Classes                                 10
    Samples total       70000 (60000 + 10000)
    Dimensionality                         784
    Features            uint8 0..255, or float32 0..1
    =================   ======================

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        The 60000 training images, the 10000 test images, or both (training
        images first).
    data_home : str or path-like, default=None
        Folder for the data; see :func:`get_data_home`.
    download : bool, default=True
        Download missing files. When False, a missing file raises
        FileNotFoundError.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    normalize : bool, default=True
        Scale pixels to float32 in [0, 1]; when False keep the raw uint8
        values 0..255.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : ndarray of shape (n_samples, 784)
            Flattened images, float32 in [0, 1] or uint8.
        images : ndarray of shape (n_samples, 28, 28)
            The same pixels as images (shares memory with ``data``).
        target : ndarray of shape (n_samples,), dtype int64
            Class labels 0..9.
        target_names : ndarray of shape (10,)
            ``"T-shirt/top"``, ``"Trouser"``, ``"Pullover"``, ``"Dress"``,
            ``"Coat"``, ``"Sandal"``, ``"Shirt"``, ``"Sneaker"``, ``"Bag"``,
            ``"Ankle boot"``.
        DESCR : str
            Description of the dataset.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        If the files are missing and ``download`` is False.
    DownloadError
        If the download fails on every mirror; the message names the files
        to place by hand and where.
    ValueError
        If a file is not a valid MNIST-format IDX file.

    See Also
    --------
    load_mnist : The same loader for MNIST.
    load_dataset : Train and test arrays of a dataset by name.

    Examples
    --------
    With a tiny Fashion-MNIST-format folder of test files:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from perceptron.datasets import load_fashion_mnist, write_idx
    >>> folder = tempfile.mkdtemp()
    >>> write_idx(os.path.join(folder, "t10k-images-idx3-ubyte.gz"),
    ...           np.zeros((3, 28, 28), dtype=np.uint8))
    >>> write_idx(os.path.join(folder, "t10k-labels-idx1-ubyte.gz"),
    ...           np.array([9, 0, 8], dtype=np.uint8))
    >>> fashion = load_fashion_mnist(subset="test", data_home=folder,
    ...                              download=False)
    >>> fashion.data.shape
    (3, 784)
    >>> fashion.target_names[fashion.target].tolist()
    ['Ankle boot', 'T-shirt/top', 'Bag']
    """
    return _load(subset=subset, data_home=data_home, download=download,
                 return_X_y=return_X_y, normalize=normalize, title="Fashion-MNIST",
                 subdir="fashion-mnist", system_dir=_sources.DEBIAN_FASHION_MNIST_DIR,
                 mirrors=_sources.FASHION_MNIST_MIRRORS,
                 sha256=_sources.FASHION_MNIST_SHA256, descr=_descr.FASHION_MNIST,
                 target_names=list(_sources.FASHION_MNIST_CLASSES))


def _load(*, subset, data_home, download, return_X_y, normalize, title, subdir,
          system_dir, mirrors, sha256, descr, target_names):
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {SUBSETS}, got {subset!r}")
    parts = ("train", "test") if subset == "all" else (subset,)
    filenames = [name for part in parts for name in _sources.FILENAMES[part]]
    paths = locate_files(filenames, title=title, subdir=subdir, data_home=data_home,
                         download=download, system_dir=system_dir, mirrors=mirrors,
                         sha256=sha256, all_filenames=_sources.ALL_FILENAMES)
    pairs = [read_images_and_labels(paths[i], paths[i + 1]) for i in range(0, len(paths), 2)]
    images = np.concatenate([p[0] for p in pairs]) if len(pairs) > 1 else pairs[0][0]
    target = np.concatenate([p[1] for p in pairs]) if len(pairs) > 1 else pairs[0][1]
    if normalize:
        images = images.astype(np.float32)
        images /= 255
    data = images.reshape(len(images), -1)
    if return_X_y:
        return data, target
    return Bunch(data=data, images=images, target=target,
                 target_names=np.array(target_names), DESCR=descr)


def read_images_and_labels(images_path, labels_path):
    """Read and check one images/labels pair of MNIST-format IDX files.

    Returns ``(images, labels)``: uint8 of shape (n, 28, 28) and int64 of
    shape (n,). Raises ValueError naming the file when anything is off.
    """
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{images_path}: expected uint8 images of shape (n, 28, 28), "
                         f"got {images.dtype} array of shape {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(f"{labels_path}: expected a 1-d uint8 array of labels, "
                         f"got {labels.dtype} array of shape {labels.shape}")
    if len(images) == 0:
        raise ValueError(f"{images_path}: the file holds 0 images (its IDX header says "
                         f"shape {images.shape}); the file is damaged, get it again")
    if len(labels) != len(images):
        raise ValueError(f"{labels_path} has {len(labels)} labels but {images_path} "
                         f"has {len(images)} images")
    if labels.size and labels.max() > 9:
        raise ValueError(f"{labels_path}: labels must be in 0..9, found {labels.max()}")
    return images, labels.astype(np.int64)

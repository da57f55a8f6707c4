"""Where downloaded datasets are kept."""

import os

DATA_HOME_ENV = "PERCEPTRON_DATA"
DEFAULT_DATA_HOME = os.path.join("~", "perceptron_data")


def resolve_data_home(data_home=None):
    """Return the data folder's absolute path without creating it."""
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or DEFAULT_DATA_HOME
    return os.path.abspath(os.path.expanduser(os.fspath(data_home)))


def get_data_home(data_home=None):
    """Return the folder where perceptron keeps its datasets, creating it.

    Like :func:`sklearn.datasets.get_data_home`. Each dataset lives in its own
    subfolder (``mnist/``, ``fashion-mnist/``).

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use. When None, the environment variable
        ``PERCEPTRON_DATA`` is used if set, else ``~/perceptron_data``.
        A leading ``~`` is expanded.

    Returns
    -------
    data_home : str
        Absolute path of the folder, which exists on return.

    Examples
    --------
    >>> import os, tempfile
    >>> from perceptron.datasets import get_data_home
    >>> folder = os.path.join(tempfile.mkdtemp(), "cache")
    >>> get_data_home(folder) == folder
    True
    >>> os.path.isdir(folder)
    True
    """
    path = resolve_data_home(data_home)
    os.makedirs(path, exist_ok=True)
    return path

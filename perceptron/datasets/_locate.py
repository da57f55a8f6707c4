"""Find a dataset's files on disk, downloading them when allowed.

Lookup order:

1. ``data_home/<subdir>``, then ``data_home`` itself when the user passed
   ``data_home`` (so it may point straight at a folder holding the files);
   ``<default data home>/<subdir>`` otherwise;
2. a system folder such as Debian's ``/usr/share/datasets/fashion-mnist``,
   used in place;
3. a download into ``<data home>/<subdir>``, if ``download`` is true.

A folder is used only if it holds every requested file, each either gzipped
(the standard name) or uncompressed (the name without ``.gz``).
"""

import os

from . import _fetch
from ._home import get_data_home, resolve_data_home


def locate_files(filenames, *, title, subdir, data_home=None, download=True,
                 system_dir=None, mirrors=(), sha256=None, all_filenames=None):
    """Return the paths of ``filenames`` (standard ``.gz`` names), in order.

    Raises :class:`DataFilesNotFoundError` (a FileNotFoundError) when the
    files are not on disk and ``download`` is false, and
    :class:`~perceptron.datasets.DownloadError` when the download fails.
    """
    cache = os.path.join(resolve_data_home(data_home), subdir)
    folders = [cache]
    if data_home is not None:
        folders.append(resolve_data_home(data_home))
    if system_dir:
        folders.append(os.fspath(system_dir))
    for folder in folders:
        paths = [_find(folder, name) for name in filenames]
        if all(paths):
            return paths

    all_filenames = tuple(all_filenames or filenames)
    if not download:
        raise DataFilesNotFoundError(title, filenames, folders, cache, all_filenames)
    cache = os.path.join(get_data_home(data_home), subdir)
    os.makedirs(cache, exist_ok=True)
    present = {name: _find(cache, name) for name in filenames}
    fetched = _fetch.fetch_files([name for name, path in present.items() if path is None],
                                 cache, mirrors=mirrors, sha256=sha256 or {}, title=title,
                                 manual_files=all_filenames)
    fetched = iter(fetched)
    return [present[name] or next(fetched) for name in filenames]


def _find(folder, name):
    """Path of ``name`` or of its uncompressed twin in ``folder``, else None."""
    candidates = [name, name[:-3]] if name.endswith(".gz") else [name]
    for candidate in candidates:
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            return path
    return None


class DataFilesNotFoundError(FileNotFoundError):
    """A data set's files are not on disk, and downloading is not allowed.

    Attributes: ``title`` (the data set), ``filenames`` (the files looked
    for), ``folders`` (where), ``folder`` (where to place them) and
    ``all_filenames`` (every file of the data set, the ones to place).
    """

    def __init__(self, title, filenames, folders, folder, all_filenames):
        self.title = title
        self.filenames = tuple(filenames)
        self.folders = tuple(folders)
        self.folder = folder
        self.all_filenames = tuple(all_filenames)
        super().__init__(self.describe())

    def describe(self, *, forbidden="download=False", allow="pass download=True",
                 other_folder="pass data_home= a folder"):
        """The message, with the options named as the caller names them.

        The command line says ``forbidden="--no-download"``,
        ``allow="drop --no-download"``, ``other_folder="give --data-home a
        folder"``.
        """
        lines = [f"{self.title} not found, and {forbidden} forbids a download.",
                 "Looked in"]
        lines += [f"  {folder}" for folder in self.folders]
        lines += [f"To get them, {allow}, or place these {len(self.all_filenames)} files",
                  "(gzipped, or uncompressed without .gz) in",
                  f"  {self.folder}"]
        lines += [f"    {name}" for name in self.all_filenames]
        lines.append(f"or {other_folder} that already holds them.")
        return "\n".join(lines)

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

    Raises FileNotFoundError when the files are not on disk and ``download``
    is false, and :class:`~perceptron.datasets.DownloadError` when the
    download fails.
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
        raise FileNotFoundError(_not_found_message(title, filenames, folders, cache,
                                                   all_filenames))
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


def _not_found_message(title, filenames, folders, cache, all_filenames):
    lines = [f"{title} files not found and download=False. Looked for "
             f"{', '.join(filenames)} (or uncompressed, without .gz) in:"]
    lines += [f"  {folder}" for folder in folders]
    lines.append(f"Pass download=True, or place these {len(all_filenames)} files in")
    lines.append(f"  {cache}")
    lines += [f"    {name}" for name in all_filenames]
    lines.append("or pass data_home= a folder that already holds them.")
    return "\n".join(lines)

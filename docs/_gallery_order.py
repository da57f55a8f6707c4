"""The order of the tutorials in the gallery: by their number, ``plot_<n>_...``.

Sphinx-gallery's ``FileNameSortKey`` compares names as text, which puts
``plot_10_...`` before ``plot_2_...``; this key compares the numbers.
"""

import re
from pathlib import Path

from sphinx_gallery.sorting import FileNameSortKey


class TutorialNumber(FileNameSortKey):
    """Sort key: ``(n, file name)`` for ``plot_<n>_...``; other names after them."""

    def __call__(self, filename):
        match = re.match(r"plot_(\d+)_", Path(filename).name)
        return (int(match.group(1)) if match else float("inf"), str(filename))

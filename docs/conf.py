"""Sphinx configuration of the perceptron documentation.

Build (from the repository root, after ``python setup.py build_ext --inplace``
or ``pip install -e ".[docs]"``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The gallery in ``docs/examples/`` is executed during the build.
"""

import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# Use the checkout the docs live in (with its in-place compiled kernels) when
# perceptron is not installed, or is installed from somewhere else.
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS))  # _gallery_order, named in sphinx_gallery_conf

import perceptron  # noqa: E402

# -- project -----------------------------------------------------------------
project = "perceptron"
author = "the perceptron developers"
copyright = "the perceptron developers, BSD-3-Clause"
version = release = perceptron.__version__

# -- extensions ---------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "examples/README.txt", "**/README.md",
                    "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5",
                    "auto_examples/*.pickle", "auto_examples/*.codeobj.json"]
templates_path = ["_templates"]
default_role = "literal"
pygments_style = "sphinx"
highlight_language = "python3"

# -- autodoc / autosummary / numpydoc ----------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
autoclass_content = "class"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False



def _skip_scikit_learn_members(app, what, name, obj, skip, options):
    """Leave out the methods estimators inherit from scikit-learn itself.

    ``get_params``, ``set_params``, ``score``, ``set_output`` and the
    ``set_*_request`` methods are documented by scikit-learn; their docstrings
    refer to labels of scikit-learn's own documentation. The class template
    names them in one sentence instead.
    """
    module = getattr(obj, "__module__", None) or ""
    if what == "class" and module.startswith("sklearn."):
        return True
    return None


# -- MyST (benchmark reports are Markdown) -----------------------------------
myst_enable_extensions = []
myst_heading_anchors = 2
suppress_warnings = ["myst.header"]

# -- sphinx-gallery ----------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",      # every plot_*.py is executed
    # by the tutorial's number: plot_10_... after plot_9_... (_gallery_order.py)
    "within_subsection_order": "_gallery_order.TutorialNumber",
    "doc_module": ("perceptron",),
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"perceptron": None},
    "remove_config_comments": True,
    "show_memory": False,
    "download_all_examples": False,
    "plot_gallery": "True",
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "write_computation_times": True,
}

# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"perceptron {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
}
html_sidebars = {"index": [], "getting_started": [], "benchmarks": []}
html_show_sourcelink = True

# -- benchmark reports -----------------------------------------------------------
# benchmarks/report.py writes benchmarks/results/<name>.md (measured on a real
# machine, with the command and the machine in the header). Copy whichever
# exist into docs/benchmark_results/ so the benchmarks page can list them;
# when none exists yet, write a page that says so. Nothing is ever made up.
RESULTS_SRC = ROOT / "benchmarks" / "results"
RESULTS_DST = DOCS / "benchmark_results"

_NOT_RUN = """\
# No benchmark has been run yet

The benchmark reports in `benchmarks/results/` did not exist when these
pages were built, so there are no numbers to show. Run a benchmark and its
report (see `benchmarks/README.md`), for example

    python -m pytest benchmarks/test_bench_mlp.py --full --benchmark-json=mlp.json
    python benchmarks/report.py mlp.json

and rebuild the documentation: its report will appear here.
"""


def _write_if_changed(path, text):
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _copy_benchmark_results():
    RESULTS_DST.mkdir(exist_ok=True)
    reports = sorted(RESULTS_SRC.glob("*.md")) if RESULTS_SRC.is_dir() else []
    wanted = set()
    for src in reports:
        name = re.sub(r"[^A-Za-z0-9_-]", "_", src.stem) + ".md"
        text = src.read_text(encoding="utf-8")
        if not text.lstrip().startswith("# "):  # every page needs a title
            text = f"# Benchmark: {src.stem}\n\n{text}"
        _write_if_changed(RESULTS_DST / name, text)
        wanted.add(name)
    if not wanted:
        _write_if_changed(RESULTS_DST / "not_run.md", _NOT_RUN)
        wanted.add("not_run.md")
    for old in RESULTS_DST.glob("*.md"):
        if old.name not in wanted:
            old.unlink()


_copy_benchmark_results()


def setup(app):
    app.connect("autodoc-skip-member", _skip_scikit_learn_members)

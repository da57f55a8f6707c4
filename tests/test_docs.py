"""The documentation covers the public API, with runnable examples.

* every public class and function has an ``Examples`` section with at least
  one ``>>>`` line (pytest runs them as doctests: see ``--doctest-modules``);
* every public name appears in the API reference, ``docs/api.rst``.

Building the HTML pages themselves is CI's job (``.ci/run``):
``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
"""

import importlib
import inspect
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"

#: public modules and the names they export
PUBLIC_MODULES = (
    "perceptron",
    "perceptron.callbacks",
    "perceptron.compare",
    "perceptron.datasets",
    "perceptron.layers",
    "perceptron.metrics",
    "perceptron.plotting",
    "perceptron.preprocessing",
    "perceptron.web",
)

#: names in ``perceptron.compare`` that are public but not in an ``__all__``
COMPARE_PUBLIC = ("compare", "format_comparison", "make_estimator")

#: public objects whose docstring has no runnable example yet, and why.
#: Remove a name once its docstring gains an ``Examples`` section with ``>>>``.
KNOWN_MISSING_EXAMPLES = {
    "perceptron.layers.Conv2D": "engine internals, documented for readers of the code",
    "perceptron.layers.MaxPool2D": "engine internals, documented for readers of the code",
    "perceptron.layers.Flatten": "engine internals, documented for readers of the code",
}


def _public_objects():
    """``(qualified name, object)`` of every public class and function."""
    found = {}
    for modname in PUBLIC_MODULES:
        module = importlib.import_module(modname)
        names = COMPARE_PUBLIC if modname == "perceptron.compare" else module.__all__
        for name in names:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                found[f"{modname}.{name}"] = obj
    return sorted(found.items())


PUBLIC = _public_objects()


def _has_runnable_examples(doc):
    match = re.search(r"^\s*Examples\n\s*-{8,}\n(.*?)(?=^\s*\S[^\n]*\n\s*-{3,}\n|\Z)",
                      doc, flags=re.M | re.S)
    return bool(match and ">>>" in match.group(1))


@pytest.mark.parametrize("name,obj", PUBLIC, ids=[name for name, _ in PUBLIC])
def test_public_docstring_has_examples(name, obj):
    if name in KNOWN_MISSING_EXAMPLES:
        pytest.xfail(f"no Examples yet: {KNOWN_MISSING_EXAMPLES[name]}")
    doc = inspect.getdoc(obj) or ""
    assert _has_runnable_examples(doc), (
        f"{name}: the docstring needs an 'Examples' section with a >>> doctest")


def test_known_missing_list_is_current():
    """A name in KNOWN_MISSING_EXAMPLES must still be public and still lack examples."""
    public = dict(PUBLIC)
    stale = [name for name in KNOWN_MISSING_EXAMPLES
             if name not in public or _has_runnable_examples(inspect.getdoc(public[name]) or "")]
    assert not stale, f"remove from KNOWN_MISSING_EXAMPLES: {stale}"


def _api_reference_names():
    """Names listed in the autosummary tables of docs/api.rst, fully qualified."""
    names, current = set(), None
    for line in (DOCS / "api.rst").read_text(encoding="utf-8").splitlines():
        if m := re.match(r"\.\. currentmodule:: (\S+)", line):
            current = m.group(1)
        elif (m := re.match(r"   ([A-Za-z_][A-Za-z0-9_]*)\s*$", line)) and current:
            names.add(f"{current}.{m.group(1)}")
    return names


def test_api_reference_lists_every_public_name():
    listed = _api_reference_names()
    public = {name for name, _ in PUBLIC}
    # perceptron.compare.compare is documented as perceptron.compare
    public.discard("perceptron.compare.compare")
    missing = sorted(public - listed)
    assert not missing, f"add to docs/api.rst: {missing}"

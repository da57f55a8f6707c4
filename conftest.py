"""pytest configuration shared by the tests and the doctests."""

import importlib.util

import matplotlib

matplotlib.use("Agg")  # tests and docstring examples never open windows

# `python -m perceptron` runs the CLI when imported: not a module to doctest.
collect_ignore = ["perceptron/__main__.py"]

# the web app's modules import Starlette and uvicorn (the "web" extra); without
# them there is nothing to doctest there (tests/test_web*.py skip, saying why)
if not all(importlib.util.find_spec(name) for name in ("starlette", "uvicorn")):
    collect_ignore_glob = ["perceptron/web/*"]

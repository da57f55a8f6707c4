"""pytest configuration shared by the tests and the doctests."""

import matplotlib

matplotlib.use("Agg")  # tests and docstring examples never open windows

# `python -m perceptron` runs the CLI when imported: not a module to doctest.
collect_ignore = ["perceptron/__main__.py"]

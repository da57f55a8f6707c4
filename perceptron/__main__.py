"""``python -m perceptron``: the command line (see :mod:`perceptron.cli`)."""

import sys

from .cli import main

sys.exit(main())

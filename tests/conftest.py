"""Fixtures shared by the test modules."""

import pytest

from perceptron.datasets import load_digits


@pytest.fixture(scope="session")
def digits_split():
    """The project's fixed digits split, ``X_train, X_test, y_train, y_test``:
    1437 training and 360 test images, pixels in [0, 1]."""
    X_train, y_train = load_digits(subset="train", return_X_y=True)
    X_test, y_test = load_digits(subset="test", return_X_y=True)
    return X_train, X_test, y_train, y_test

"""Subnormal floats are flushed to zero on the kernels' threads, and only there."""

import numpy as np
import pytest

from perceptron import MLPDigitClassifier
from perceptron._config import flush_denormals
from perceptron._kernels import _fpenv, _testing

pytestmark = pytest.mark.skipif(not _fpenv.flush_supported(),
                                reason="no flush-to-zero mode on this CPU")

TINY = np.float32(1e-39)  # subnormal in float32


def _flushes():
    """Does the calling thread flush? (2 * subnormal reads as 0 when it does)."""
    return float(np.float32(2) * TINY) == 0.0


def test_flush_on_inside_and_restored_after():
    assert not _flushes() and not _fpenv.get_flush()
    with flush_denormals(2):
        assert _flushes()
        assert _testing.team_flush(2) == [1, 1]
    assert not _flushes()
    assert _testing.team_flush(2) == [0, 0]


def test_restored_after_an_exception():
    with pytest.raises(RuntimeError):
        with flush_denormals(2):
            raise RuntimeError("boom")
    assert not _flushes() and _testing.team_flush(2) == [0, 0]


def test_a_mode_set_before_is_kept():
    _fpenv.set_flush(True, 1)
    try:
        with flush_denormals(1):
            pass
        assert _fpenv.get_flush()
    finally:
        _fpenv.set_flush(False, 1)


def test_fit_and_predict_leave_the_caller_mode_alone():
    rng = np.random.default_rng(0)
    X = rng.random((200, 16)).astype(np.float32)
    y = rng.integers(0, 3, 200)
    clf = MLPDigitClassifier(hidden_layer_sizes=(8,), max_iter=2, n_threads=2,
                             random_state=0)
    with pytest.warns(Warning):
        clf.fit(X, y)
    clf.predict_proba(X)
    assert not _flushes() and _testing.team_flush(2) == [0, 0]


def test_flushing_reaches_the_kernels():
    """A subnormal in the data reads as zero during training (DAZ)."""
    a = np.full((4, 4), TINY, dtype=np.float32)
    out = np.empty_like(a)
    b = np.full(4, 0, dtype=np.float32)
    with flush_denormals(1):
        np.copyto(out, a)
        _testing.bias_activation_forward(out, b, 0, 1)  # identity: out = out + 0
    assert np.all(out == 0)
    np.copyto(out, a)
    _testing.bias_activation_forward(out, b, 0, 1)
    assert np.all(out == TINY)

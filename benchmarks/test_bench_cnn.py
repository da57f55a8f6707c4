"""CNN: perceptron's ConvDigitClassifier vs PyTorch-CPU (groups ``cnn: ...``).

ConvDigitClassifier's default network (the Keras tutorial's), trained the same way by both
(:data:`harness.CNN_WORK`) on Fashion-MNIST in interleaved rounds at N and 1 threads, then
their ``predict_proba`` on the test images, then the peak RSS of one epoch, in a fresh process
per library. ``--cnn-padding valid`` gives the groups ``cnn-valid: ...``::

    python -m pytest benchmarks/test_bench_cnn.py --full --benchmark-json=cnn.json
"""

import functools

import pytest

import harness as H

LIBRARIES = ("ours", "torch")
pytestmark = pytest.mark.benchmark(timer=H.REPLAY)


def family(settings):
    return "cnn" if settings.padding == "same" else f"cnn-{settings.padding}"


def n_train(settings):
    return None if settings.full else 10_000


@pytest.fixture(scope="module")
def race(request, settings, data):
    return H.race(functools.partial(H.cnn, padding=settings.padding), H.selected(request),
                  data, settings, work=H.CNN_WORK.format(padding=settings.padding))


@pytest.mark.parametrize("what", ["epoch", "predict_proba"])
def test_cnn(benchmark, race, settings, what, library, threads):
    H.report_race(benchmark, race, family(settings), what, library, threads)


def epoch_rss(library, threads, n, padding):
    """In a fresh process: the data, the contestant, then one epoch's peak RSS."""
    X_train, _, y_train, _ = H.load_data(n_train=n)
    return H.peak_rss(H.cnn(library, threads, X_train, y_train, padding).epoch)


@functools.cache
def measured_rss(library, threads, n, padding):
    if H.RSS_SKIP or H.missing(library):
        pytest.skip(H.RSS_SKIP or H.missing(library))
    return H.in_child(epoch_rss, library, threads, n, padding)


@pytest.mark.parametrize("library", LIBRARIES)
def test_peak_rss(benchmark, settings, library):
    """One epoch in a fresh process: its RSS high-water mark over the RSS before it."""
    args = (settings.threads[0], n_train(settings), settings.padding)
    rss = dict(measured_rss(library, *args))
    H.report(benchmark, f"{family(settings)}: peak RSS of an epoch", [rss.pop("seconds")],
             library=library, threads=args[0], n_train=args[1], **rss)

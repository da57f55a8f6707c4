"""CNN: perceptron's ConvDigitClassifier vs PyTorch-CPU (groups ``cnn: ...``).

The Keras tutorial network that is ConvDigitClassifier's default, trained the
same way by both (:data:`harness.CNN_WORK`), in interleaved rounds; the
1-thread (scaling) contestants run the first :data:`SCALING_ROUNDS` rounds
only. With ``--cnn-padding valid`` the groups are ``cnn-valid: ...``.
"""

import os

import pytest

import harness as H

LIBRARIES = ("ours", "torch")
SCALING_ROUNDS = 2
pytestmark = pytest.mark.benchmark(timer=H.REPLAY)


def family(settings):
    return "cnn" if settings.padding == "same" else f"cnn-{settings.padding}"


@pytest.fixture(scope="module")
def race(request, settings, data):
    def build(library, threads, X, y):
        return H.cnn(library, threads, X, y, padding=settings.padding)

    return H.race(build, H.selected(request), data, settings.epochs, settings.predict_rounds,
                  SCALING_ROUNDS, work=H.CNN_WORK.format(padding=settings.padding))


def test_epoch(benchmark, race, settings, library, threads):
    H.report_epoch(benchmark, race, family(settings), library, threads)


def test_predict_proba(benchmark, race, settings, library, threads):
    H.report_predict(benchmark, race, family(settings), library, threads)


@pytest.mark.benchmark()  # timed by pytest-benchmark itself: one fresh process each
@pytest.mark.parametrize("library", LIBRARIES)
def test_peak_rss(benchmark, settings, library):
    """One epoch in a fresh process: its RSS high-water mark over the RSS before it."""
    reason = H.missing(library)
    if reason is None and not os.path.exists("/proc/self/clear_refs"):
        reason = "measuring peak RSS needs Linux's /proc/self/clear_refs"
    if reason:
        pytest.skip(reason)
    benchmark.group = f"{family(settings)}: peak RSS of an epoch"
    threads = settings.threads[0]
    rss = benchmark.pedantic(H.peak_rss, args=("cnn", library, threads, settings.n_train),
                             kwargs={"padding": settings.padding}, rounds=1)
    benchmark.extra_info.update(library=library, threads=threads, **rss,
                                timed="the whole child process: start, data, model, one epoch",
                                epoch_increase_mib=rss["peak_rss_mib"] - rss["rss_before_mib"])

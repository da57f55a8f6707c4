"""CNN: ConvDigitClassifier vs PyTorch-CPU, Winograd vs im2col (groups ``cnn: ...``).

ConvDigitClassifier's default network (the Keras tutorial's), trained the same way by all
(:data:`harness.CNN_WORK`) on 12000 Fashion-MNIST images (quick: 2000), in interleaved rounds
at N and 1 threads: ``ours`` (the default: Winograd's F(4x4, 3x3) for the 3x3 convolutions of
>= 8 channels), ``ours-im2col`` (every convolution by im2col, ``conv_layers`` entries with
``"algorithm": "im2col"``) and PyTorch; then ``predict_proba`` on the test images (10000;
quick: 2000); then the peak RSS of one epoch, in a fresh process per contestant. Issue #14's
targets are in the records: PyTorch's epoch / ours >= 1.6 and predict_proba >= 2.5 (per round),
ours 1 -> 2 threads >= 1.8, ours' RSS increase <= PyTorch's. The accuracy after 10 epochs,
Winograd vs im2col, is ``cnn-fashion`` in test_bench_accuracy.py. ``--cnn-padding valid``
gives the groups ``cnn-valid: ...``::

    python -m pytest benchmarks/test_bench_cnn.py --full --benchmark-json=cnn.json
"""

import functools

import pytest

import harness as H

LIBRARIES = ("ours", "ours-im2col", "torch")
TARGETS = {"epoch": 1.6, "predict_proba": 2.5, "speedup_from_1_thread": 1.8}
pytestmark = pytest.mark.benchmark(timer=H.REPLAY)


def family(settings):
    return "cnn" if settings.padding == "same" else f"cnn-{settings.padding}"


def n_train(settings):
    return 12_000 if settings.full else 2_000


@pytest.fixture(scope="module")
def race(request, settings, data):
    X_train, X_test, y_train, y_test = data
    n = n_train(settings)
    return H.race(functools.partial(H.cnn, padding=settings.padding), H.selected(request),
                  (X_train[:n], X_test, y_train[:n], y_test), settings,
                  work=H.CNN_WORK.format(padding=settings.padding))


@pytest.mark.parametrize("what", ["epoch", "predict_proba"])
def test_cnn(benchmark, race, settings, what, library, threads):
    seconds, top, extra = race.seconds[what], settings.threads[0], {}
    if library == "torch" and threads == top and {("ours", top), ("torch", top)} <= set(seconds):
        extra = H.target("PyTorch / ours per round", H.paired(
            seconds["torch", top], seconds["ours", top]), TARGETS[what])
    if top > 1 and (library, threads, what) == ("ours", top, "epoch") and ("ours", 1) in seconds:
        extra = H.target(f"1 -> {top} threads per round", H.paired(
            seconds["ours", 1], seconds["ours", top]), TARGETS["speedup_from_1_thread"])
    H.report_race(benchmark, race, family(settings), what, library, threads, **extra)


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
    rss, extra = dict(measured_rss(library, *args)), {}
    if library == "ours" and not H.missing("torch"):
        extra = H.target("increase (bound: PyTorch's)", rss["increase_mib"],
                         measured_rss("torch", *args)["increase_mib"], at_most=True,
                         fmt="{:.0f} MiB")
    H.report(benchmark, f"{family(settings)}: peak RSS of an epoch", [rss.pop("seconds")],
             library=library, threads=args[0], n_train=args[1], **rss, **extra)

"""Shared pieces of the benchmarks: data, contestants, interleaved rounds, records, children.

A *contestant* is one library training one network at one thread count: ``epoch()``
makes one shuffled pass and returns the training loss, ``predict_proba(X)`` the
probabilities. :func:`mlp` and :func:`cnn` build the same network for every library
(``"ours"``, ``"sklearn"``, ``"torch"``): same layers, optimizer, batch size, float32
data, Glorot-uniform weights and zero biases.

:func:`interleave` times steps in rounds in this one process (round r runs each step
once, in an order rotated by r), so that load from other programs hits all alike;
:func:`report` hands one step's per-round seconds to pytest-benchmark through the timer
:data:`REPLAY`, which plays them back.
"""

import contextlib
import functools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

CLASSES = np.arange(10)
BATCH_SIZE = 128
#: seconds of sleep before each timed step: after a call, OpenBLAS's threads (scikit-learn's
#: products) spin ~0.12 s waiting for work, and would share the cores with whoever runs next
PAUSE = 0.2
LABELS = {"ours": "perceptron (ours)", "ours-im2col": "perceptron (ours), im2col",
          "ours-float64": "perceptron (ours), float64", "sklearn": "scikit-learn",
          "torch": "PyTorch-CPU"}
RSS_SKIP = (None if os.path.exists("/proc/self/clear_refs")
            else "measuring peak RSS needs Linux's /proc/self/clear_refs")


@functools.cache
def load_data(name="fashion-mnist", n_train=None, n_test=None, seed=0):
    """``(X_train, X_test, y_train, y_test)``, float32 in [0, 1] and int64; ``n_train`` and
    ``n_test`` keep seeded random subsets (None: the whole split)."""
    from perceptron.datasets import load_dataset

    rng = np.random.default_rng(seed)
    X_train, X_test, y_train, y_test = load_dataset(name)

    def subset(X, y, n):
        keep = np.sort(rng.choice(len(y), n, replace=False)) if n and n < len(y) else slice(None)
        return np.ascontiguousarray(X[keep], np.float32), np.ascontiguousarray(y[keep], np.int64)

    (X_train, y_train), (X_test, y_test) = subset(X_train, y_train, n_train), subset(
        X_test, y_test, n_test)
    return X_train, X_test, y_train, y_test


@functools.cache
def missing(library):
    """Why ``library`` cannot run here (a skip reason), or None."""
    if library == "torch":
        try:
            import torch  # noqa: F401
        except Exception as exc:  # ImportError, or a broken install raising anything
            return (f"PyTorch is not installed ({type(exc).__name__}: {exc}); for the CPU build: "
                    "pip install torch==2.13.0 (a plain `pip install torch` pulls CUDA)")
    if library == "ours-im2col":  # ConvDigitClassifier's choice of the convolution algorithm
        X = np.zeros((2, 784), np.float32)
        try:
            cnn("ours-im2col", 1, X, CLASSES[:2]).clf.set_params(max_iter=1).fit(X, CLASSES[:2])
        except ValueError as exc:
            return f"ConvDigitClassifier cannot choose the algorithm of a convolution: {exc}"
    return None


# --------------------------------------------------------------------------- contestants
@functools.cache
def blas():
    """threadpoolctl's controller of the BLAS libraries (scikit-learn's thread limit)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


class Estimator:
    """A scikit-learn-style classifier: ``epoch`` is one ``partial_fit``, ``fit`` a whole
    ``fit`` of a fresh clone. Ours takes ``n_threads``; scikit-learn's BLAS is limited to
    ``threads`` around each call. ``fit_params`` go to both (``sample_weight``)."""

    def __init__(self, library, clf, threads, X, y, **fit_params):
        self.library, self.clf, self.threads, self.X, self.y = library, clf, threads, X, y
        self.fit_params = fit_params

    def limits(self):
        if self.library.startswith("ours"):
            return contextlib.nullcontext()
        return blas().limit(limits=self.threads, user_api="blas")

    def epoch(self):
        with self.limits():
            self.clf.partial_fit(self.X, self.y, classes=CLASSES, **self.fit_params)
        return float(self.clf.loss_)

    def fit(self):
        from sklearn.base import clone

        self.clf = clone(self.clf)
        with self.limits():
            self.clf.fit(self.X, self.y, **self.fit_params)
        return float(self.clf.loss_)

    def predict_proba(self, X):
        with self.limits():
            return self.clf.predict_proba(X)

    def score(self, X, y):
        return float(np.mean(self.predict_proba(X).argmax(axis=1) == y))

    @property
    def dtype(self):
        return str(self.clf.coefs_[0].dtype)


class Torch:
    """The same network in PyTorch eager mode, batches sliced from a ``torch.randperm`` per
    epoch (no DataLoader), ``torch.set_num_threads(threads)`` before each call."""

    dtype = "float32"

    def __init__(self, model, optimizer, threads, X, y, shape, predict_batch=None):
        import torch

        self.torch, self.model, self.optimizer, self.threads = torch, model, optimizer, threads
        self.shape, self.predict_batch = shape, predict_batch
        self.X, self.y = torch.from_numpy(X).reshape(shape), torch.from_numpy(y)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.generator = torch.Generator().manual_seed(0)

    def epoch(self):
        self.torch.set_num_threads(self.threads)
        self.model.train()
        perm = self.torch.randperm(len(self.y), generator=self.generator)
        total = 0.0
        for start in range(0, len(perm), BATCH_SIZE):
            idx = perm[start:start + BATCH_SIZE]
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.loss_fn(self.model(self.X[idx]), self.y[idx])
            loss.backward()
            self.optimizer.step()
            total += loss.item() * len(idx)
        return total / len(perm)

    def predict_proba(self, X):
        torch = self.torch
        torch.set_num_threads(self.threads)
        self.model.eval()
        X = torch.from_numpy(X).reshape(self.shape)
        step = self.predict_batch or len(X)
        with torch.inference_mode():
            return torch.cat([torch.softmax(self.model(X[i:i + step]), dim=1)
                              for i in range(0, len(X), step)]).numpy()

    score = Estimator.score


def _glorot(layers):
    """``nn.Sequential(*layers)`` with Glorot-uniform weights and zero biases, as ours."""
    import torch

    torch.manual_seed(0)
    for layer in layers:
        if isinstance(layer, (torch.nn.Linear, torch.nn.Conv2d)):
            torch.nn.init.xavier_uniform_(layer.weight)  # conv fans include the kernel, as Keras'
            torch.nn.init.zeros_(layer.bias)
    return torch.nn.Sequential(*layers)


MLP_WORK = ("784-100-100-10 ReLU, softmax cross-entropy, Adam lr 1e-3 betas (0.9, 0.999) "
            "eps 1e-8, batch 128, alpha 0, float32; one `partial_fit` per epoch (PyTorch: "
            "fused Adam, manual batching)")
MLP_PARAMS = dict(hidden_layer_sizes=(100, 100), activation="relu", solver="adam", alpha=0.0,
                  learning_rate_init=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                  batch_size=BATCH_SIZE, shuffle=True, random_state=0)


def mlp(library, threads, X, y):
    """A contestant of the MLP comparison (see :data:`MLP_WORK`)."""
    if library == "ours":
        from perceptron import MLPDigitClassifier

        clf = MLPDigitClassifier(**MLP_PARAMS, dtype="float32", n_threads=threads)
        return Estimator(library, clf, threads, X, y)
    if library == "sklearn":
        from sklearn.neural_network import MLPClassifier  # float32 X: it computes in float32

        return Estimator(library, MLPClassifier(**MLP_PARAMS), threads, X, y)
    import torch

    sizes = [X.shape[1], *MLP_PARAMS["hidden_layer_sizes"], len(CLASSES)]
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    model = _glorot(layers[:-1])
    adam = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                            fused=True)  # its fastest CPU implementation
    return Torch(model, adam, threads, X, y, shape=(-1, X.shape[1]))


CNN_CONV, CNN_DENSE = ((32, 3), (64, 3), (64, 3)), (64,)
CNN_WORK = ("ConvDigitClassifier's default network: conv 3x3 32-64-64 ({padding} padding), "
            "each ReLU + 2x2 max-pool, dense 64 ReLU, 10 softmax; RMSprop lr 1e-3 rho 0.9 "
            "eps 1e-8, batch 128, float32; PyTorch in NCHW, manual batching")


def cnn(library, threads, X, y, padding="same"):
    """A contestant of the CNN comparison (see :data:`CNN_WORK`); ``"ours"`` is the default
    (Winograd for the 3x3 convolutions of >= 8 channels), ``"ours-im2col"`` im2col only."""
    if library.startswith("ours"):
        from perceptron import ConvDigitClassifier

        conv = CNN_CONV if library == "ours" else [
            {"filters": f, "kernel_size": k, "algorithm": "im2col"} for f, k in CNN_CONV]
        clf = ConvDigitClassifier(
            conv_layers=conv, pool_size=2, padding=padding, dense_layers=CNN_DENSE,
            activation="relu", solver="rmsprop", learning_rate_init=1e-3, rho=0.9, epsilon=1e-8,
            batch_size=BATCH_SIZE, alpha=0.0, dtype="float32", n_threads=threads, random_state=0)
        return Estimator(library, clf, threads, X, y)
    import torch

    layers, channels, size = [], 1, 28
    for filters, k in CNN_CONV:
        layers += [torch.nn.Conv2d(channels, filters, k, padding=padding), torch.nn.ReLU(),
                   torch.nn.MaxPool2d(2)]
        channels, size = filters, (size if padding == "same" else size - k + 1) // 2
    layers.append(torch.nn.Flatten())
    fan_in = channels * size * size
    for units in CNN_DENSE:
        layers += [torch.nn.Linear(fan_in, units), torch.nn.ReLU()]
        fan_in = units
    model = _glorot(layers + [torch.nn.Linear(fan_in, len(CLASSES))])
    # alpha is RMSprop's rho: s = rho s + (1 - rho) g^2; w -= lr g / (sqrt(s) + eps), as ours
    rmsprop = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-8)
    # predicts in batches of 1024, as ConvDigitClassifier does
    return Torch(model, rmsprop, threads, X, y, shape=(-1, 1, 28, 28), predict_batch=1024)


# --------------------------------------------------------------------------- interleaved rounds
def interleave(steps, rounds):
    """Call ``steps`` (name -> callable) in ``rounds`` interleaved rounds.

    Round r calls every step, starting with the (r mod k)-th, each after a :data:`PAUSE`.
    Returns ``(seconds, last)``: name -> seconds per round, name -> the last result.
    """
    seconds, last, names = {name: [] for name in steps}, {}, list(steps)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            time.sleep(PAUSE)
            start = time.perf_counter()
            last[name] = steps[name]()
            seconds[name].append(time.perf_counter() - start)
    return seconds, last


def race(build, keys, data, settings, work=""):
    """Train ``keys`` (``(library, threads)`` pairs) in interleaved rounds, then time
    ``predict_proba`` on the test set the same way (after one untimed call each).

    ``build(library, threads, X_train, y_train)`` makes each contestant. Returns a namespace:
    ``seconds["epoch"]`` and ``seconds["predict_proba"]``, ``loss``, ``proba``, ``accuracy``
    and ``dtype``, each keyed by ``(library, threads)``, and ``info`` shared by the records.
    """
    X_train, X_test, y_train, y_test = data
    runners = {key: build(*key, X_train, y_train) for key in keys}
    epoch, loss = interleave({key: r.epoch for key, r in runners.items()}, settings.epochs)
    accuracy = {key: r.score(X_test, y_test) for key, r in runners.items()}
    predict, proba = interleave({k: functools.partial(r.predict_proba, X_test)
                                 for k, r in runners.items()}, settings.predict_rounds)
    return SimpleNamespace(seconds={"epoch": epoch, "predict_proba": predict}, loss=loss,
                           proba=proba, accuracy=accuracy,
                           dtype={k: r.dtype for k, r in runners.items()},
                           info={"n_train": len(y_train), "n_test": len(y_test), "work": work})


def selected(request):
    """``(library, threads)`` of the requesting module's selected tests whose library is here."""
    keys = {(item.callspec.params["library"], item.callspec.params["threads"])
            for item in request.session.items
            if item.module is request.module
            and "threads" in getattr(getattr(item, "callspec", None), "params", {})}
    return sorted((key for key in keys if missing(key[0]) is None), key=lambda k: (-k[1], k[0]))


def report_race(benchmark, race, group, what, library, threads, **extra):
    """Record contestant ``(library, threads)``'s ``what`` ("epoch" or "predict_proba")."""
    key = (library, threads)
    if key not in race.seconds[what]:
        pytest.skip(missing(library) or "not in this run")
    seconds = race.seconds[what]
    info = dict(library=library, threads=threads, dtype=race.dtype[key], **race.info)
    if threads > 1 and (library, 1) in seconds:  # per round: 1 thread / N threads
        info["speedup_from_1_thread"] = f"{paired(seconds[library, 1], seconds[key]):.2f}x"
    if what == "epoch":
        assert np.isfinite(race.loss[key])
        info.update(epochs=len(seconds[key]), test_accuracy=race.accuracy[key],
                    final_loss=race.loss[key])
    else:
        np.testing.assert_allclose(race.proba[key].sum(axis=1), 1.0, atol=1e-4)
    report(benchmark, f"{group}: {what}", seconds[key], **info, **extra)


# --------------------------------------------------------------------------- records
class Replay:
    """A pytest-benchmark timer playing back durations measured beforehand: the clock moves
    forward by the next queued duration at every second reading (the end of a round)."""

    def __init__(self):
        self.now, self.readings, self.queue = 0.0, 0, []

    def __call__(self):
        self.readings += 1
        if self.readings % 2 == 0:
            self.now += self.queue.pop(0)
        return self.now

    def __repr__(self):
        return "replay of the interleaved rounds"


#: the timer of every record: ``@pytest.mark.benchmark(timer=REPLAY)``
REPLAY = Replay()


def report(benchmark, group, seconds, **info):
    """Record per-round ``seconds`` in ``group``, with ``info`` as extra_info."""
    benchmark.group = group
    benchmark.extra_info.update(info)
    REPLAY.now, REPLAY.readings, REPLAY.queue = 0.0, 0, list(seconds)
    benchmark.pedantic(lambda: None, rounds=len(seconds))


def paired(theirs, ours):
    """Median over rounds of their seconds / our seconds in the same round."""
    return statistics.median(t / o for t, o in zip(theirs, ours))


def target(what, value, bound, at_most=False, fmt="{:.2f}x", key="target"):
    """A record's target: ``what`` is ``value``, wanted at least (at most) ``bound``."""
    met = value <= bound if at_most else value >= bound
    return {key: f"{what}: {fmt.format(value)}, target {'<=' if at_most else '>='} "
                 f"{fmt.format(bound)}", f"{key}_met": "yes" if met else "**no**"}


# --------------------------------------------------------------------------- fresh processes
def in_child(function, *args, env=None, timeout=900):
    """``function(*args)`` in a fresh Python process (``function`` lives at the top of a
    module of this folder; its arguments and result are JSON); returns its result."""
    import perceptron

    paths = [str(Path(__file__).resolve().parent), str(Path(perceptron.__file__).parents[1])]
    code = (f"import json, sys, warnings; sys.path[:0] = {paths!r}; "
            f"warnings.simplefilter('ignore'); import {function.__module__} as m; "
            f"print(json.dumps(m.{function.__name__}(*{list(args)!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=timeout)
    if out.returncode:
        raise RuntimeError(f"child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.splitlines()[-1])


def peak_rss(function, *args):
    """Call ``function(*args)`` after resetting the RSS high-water mark to the current RSS
    (Linux): ``{"rss_before_mib", "peak_rss_mib", "increase_mib", "seconds"}``."""
    def status_mib(field):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith(field))

    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # VmHWM := VmRSS
    before, start = status_mib("VmRSS:"), time.perf_counter()
    function(*args)
    seconds, peak = time.perf_counter() - start, status_mib("VmHWM:")
    return {"rss_before_mib": before, "peak_rss_mib": peak, "increase_mib": peak - before,
            "seconds": seconds}

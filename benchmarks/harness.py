"""Shared pieces of the benchmarks: data, contestants, interleaved rounds, peak RSS.

A *contestant* is one library training one network at one thread count:
``epoch()`` makes one shuffled pass over the training set and returns the mean
training loss; ``predict_proba(X)`` returns the class probabilities. :func:`mlp`
and :func:`cnn` build the same network for every library (``"ours"``,
``"sklearn"``, ``"torch"``): same layers, optimizer, batch size, float32 data,
Glorot-uniform weights and zero biases.

:func:`race` trains the contestants of one comparison in *interleaved rounds*
in this one process (round r runs every contestant's epoch r, in an order
rotated by r), so that load from other programs hits all of them alike, then
times ``predict_proba`` the same way. A comparison test hands one contestant's
per-round seconds to pytest-benchmark with :func:`report`, through the timer
:data:`REPLAY` that plays them back.
"""

import contextlib
import functools
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

CLASSES = np.arange(10)
BATCH_SIZE = 128
#: seconds of sleep before each timed step. After a call, OpenBLAS's worker
#: threads (scikit-learn's products) spin for ~0.12 s waiting for more work;
#: whoever ran in that window would share its cores with them.
PAUSE = 0.2
LABELS = {"ours": "perceptron (ours)", "sklearn": "scikit-learn", "torch": "PyTorch-CPU"}


@dataclass(frozen=True)
class Settings:
    """What one run measures: thread counts (the comparison's first), epochs, data size."""

    threads: tuple
    epochs: int
    n_train: int | None  # None: the whole training set
    n_test: int | None  # None: the whole test set
    predict_rounds: int
    padding: str  # the CNN's convolutions: "same" or "valid"


@functools.cache
def load_data(name="fashion-mnist", n_train=None, n_test=None, seed=0):
    """``(X_train, X_test, y_train, y_test)``: flat float32 images in [0, 1], int64 labels.

    ``n_train`` and ``n_test`` keep seeded random subsets (the same on every
    run); None keeps the whole split.
    """
    from perceptron.datasets import load_dataset

    rng = np.random.default_rng(seed)
    X_train, X_test, y_train, y_test = load_dataset(name)

    def subset(X, y, n):
        keep = np.sort(rng.choice(len(y), n, replace=False)) if n and n < len(y) else slice(None)
        return np.ascontiguousarray(X[keep], np.float32), np.ascontiguousarray(y[keep], np.int64)

    (X_train, y_train), (X_test, y_test) = subset(X_train, y_train, n_train), subset(
        X_test, y_test, n_test)
    return X_train, X_test, y_train, y_test


def missing(library):
    """Why ``library`` cannot run here (a skip reason), or None."""
    if library == "torch":
        try:
            import torch  # noqa: F401
        except Exception as exc:  # ImportError, or a broken install raising anything
            return (f"PyTorch is not installed ({type(exc).__name__}: {exc}); for the CPU build: "
                    "pip install torch==2.13.0 (a plain `pip install torch` pulls CUDA)")
    return None


# --------------------------------------------------------------------------- contestants
@functools.cache
def _blas():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


class Estimator:
    """A scikit-learn-style classifier trained with one ``partial_fit`` per epoch.

    Ours takes ``n_threads=``; scikit-learn's BLAS is limited to ``threads``
    with threadpoolctl around each call.
    """

    def __init__(self, library, clf, threads, X, y):
        self.library, self.clf, self.threads, self.X, self.y = library, clf, threads, X, y

    def _limits(self):
        if self.library == "ours":
            return contextlib.nullcontext()
        return _blas().limit(limits=self.threads, user_api="blas")

    def epoch(self):
        with self._limits():
            self.clf.partial_fit(self.X, self.y, classes=CLASSES)
        return float(self.clf.loss_)

    def predict_proba(self, X):
        with self._limits():
            return self.clf.predict_proba(X)

    @property
    def dtype(self):
        return str(self.clf.coefs_[0].dtype)


class Torch:
    """The same network in PyTorch eager mode, batches sliced from a ``torch.randperm``
    per epoch (no DataLoader), ``torch.set_num_threads(threads)`` before each call."""

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


def _glorot(layers):
    """``nn.Sequential(*layers)`` with Glorot-uniform weights and zero biases, as ours."""
    import torch

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

    torch.manual_seed(0)
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
    """A contestant of the CNN comparison (see :data:`CNN_WORK`)."""
    if library == "ours":
        from perceptron import ConvDigitClassifier

        clf = ConvDigitClassifier(
            conv_layers=CNN_CONV, pool_size=2, padding=padding, dense_layers=CNN_DENSE,
            activation="relu", solver="rmsprop", learning_rate_init=1e-3, rho=0.9, epsilon=1e-8,
            batch_size=BATCH_SIZE, alpha=0.0, dtype="float32", n_threads=threads, random_state=0)
        return Estimator(library, clf, threads, X, y)
    import torch

    torch.manual_seed(0)
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
    """Call ``steps`` (name -> callable) round-robin; return their seconds and last results.

    Round r calls every step with ``rounds[name] > r``, starting with the
    (r mod k)-th of them, each after a :data:`PAUSE`. Returns
    ``(seconds, last)``: name -> list of seconds per round, name -> last result.
    """
    seconds, last = {name: [] for name in steps}, {}
    for r in range(max(rounds.values(), default=0)):
        names = [name for name in steps if rounds[name] > r]
        k = r % len(names)
        for name in names[k:] + names[:k]:
            time.sleep(PAUSE)
            start = time.perf_counter()
            last[name] = steps[name]()
            seconds[name].append(time.perf_counter() - start)
    return seconds, last


@dataclass
class Race:
    """The outcome of :func:`race`; every dict is keyed by ``(library, threads)``."""

    epoch: dict  # seconds per epoch, round by round
    predict: dict  # seconds per predict_proba call on the test set, round by round
    accuracy: dict  # test accuracy after the epochs
    loss: dict  # training loss of the last epoch
    proba: dict  # the last predict_proba output
    dtype: dict  # the dtype the library computed in
    info: dict  # what every contestant's record shares: the data sizes
    work: str  # the network and training, in words


def race(build, keys, data, epochs, predict_rounds, scaling_rounds=None, work=""):
    """Train ``keys`` (``(library, threads)`` pairs) in interleaved rounds; time predict_proba.

    ``build(library, threads, X_train, y_train)`` makes each contestant. Every
    contestant at the top thread count runs ``epochs`` rounds; those on fewer
    threads (the scaling rows) run ``min(epochs, scaling_rounds)`` when it is
    given. Then one untimed ``predict_proba`` on the test set each (it gives
    the accuracy) and ``predict_rounds`` interleaved timed ones.
    """
    X_train, X_test, y_train, y_test = data
    runners = {key: build(*key, X_train, y_train) for key in keys}
    top = max((threads for _, threads in keys), default=1)
    rounds = {key: epochs if key[1] == top else min(epochs, scaling_rounds or epochs)
              for key in keys}
    epoch, loss = interleave({key: r.epoch for key, r in runners.items()}, rounds)
    accuracy = {key: float(np.mean(r.predict_proba(X_test).argmax(axis=1) == y_test))
                for key, r in runners.items()}
    predict, proba = interleave({k: functools.partial(r.predict_proba, X_test)
                                 for k, r in runners.items()}, dict.fromkeys(keys, predict_rounds))
    return Race(epoch, predict, accuracy, loss, proba, {k: r.dtype for k, r in runners.items()},
                {"n_train": len(y_train), "n_test": len(y_test)}, work)


def selected(request):
    """``(library, threads)`` of the requesting module's selected tests whose library is here."""
    keys = {(item.callspec.params["library"], item.callspec.params["threads"])
            for item in request.session.items
            if item.module is request.module
            and "threads" in getattr(getattr(item, "callspec", None), "params", {})}
    return sorted((key for key in keys if missing(key[0]) is None), key=lambda k: (-k[1], k[0]))


# --------------------------------------------------------------------------- pytest-benchmark
class Replay:
    """A pytest-benchmark timer that plays back durations measured beforehand.

    pytest-benchmark times a round as the timer's reading after the call minus
    its reading before; this clock moves forward by the next queued duration at
    every second reading, so ``benchmark.pedantic`` records exactly the queue.
    """

    def __init__(self):
        self.now, self.readings, self.queue = 0.0, 0, []

    def __call__(self):
        self.readings += 1
        if self.readings % 2 == 0:
            self.now += self.queue.pop(0)
        return self.now

    def __repr__(self):
        return "replay of the interleaved rounds"


#: the timer of every comparison test: ``@pytest.mark.benchmark(timer=REPLAY)``
REPLAY = Replay()


def report(benchmark, group, seconds, **info):
    """Record one contestant's per-round ``seconds`` in ``group``, with ``info`` as extra_info."""
    benchmark.group = group
    benchmark.extra_info.update(info)
    REPLAY.now, REPLAY.readings, REPLAY.queue = 0.0, 0, list(seconds)
    benchmark.pedantic(lambda: None, rounds=len(seconds))


def _contestant(race, library, threads):
    key = (library, threads)
    if key not in race.epoch:
        pytest.skip(missing(library) or "not in this run")
    return key, dict(library=library, threads=threads, dtype=race.dtype[key], **race.info)


def report_epoch(benchmark, race, family, library, threads):
    """Record one contestant's epochs in ``<family>: epoch``, with its test accuracy."""
    key, common = _contestant(race, library, threads)
    assert np.isfinite(race.loss[key])
    report(benchmark, f"{family}: epoch", race.epoch[key], epochs=len(race.epoch[key]),
           test_accuracy=race.accuracy[key], final_loss=race.loss[key], work=race.work, **common)


def report_predict(benchmark, race, family, library, threads):
    """Record one contestant's ``predict_proba`` calls in ``<family>: predict_proba``."""
    key, common = _contestant(race, library, threads)
    np.testing.assert_allclose(race.proba[key].sum(axis=1), 1.0, atol=1e-4)
    report(benchmark, f"{family}: predict_proba", race.predict[key], **common)


# --------------------------------------------------------------------------- peak RSS
def peak_rss(family, library, threads, n_train, **options):
    """Peak RSS of one training epoch, in a fresh Python process (Linux).

    The child loads the data, builds the contestant, resets its RSS high-water
    mark (``VmHWM``) to the current RSS through ``/proc/self/clear_refs``, runs
    one epoch and reports ``rss_before_mib`` (data loaded, model built),
    ``peak_rss_mib`` and ``epoch_seconds``.
    """
    import perceptron

    paths = [str(Path(__file__).resolve().parent), str(Path(perceptron.__file__).parents[1])]
    code = (f"import sys; sys.path[:0] = {paths!r}; import harness; "
            f"harness.rss_child({family!r}, {library!r}, {threads}, {n_train!r}, {options!r})")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"peak-RSS child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.splitlines()[-1])


def rss_child(family, library, threads, n_train, options):
    X_train, _, y_train, _ = load_data(n_train=n_train)
    runner = {"mlp": mlp, "cnn": cnn}[family](library, threads, X_train, y_train, **options)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # VmHWM := VmRSS
    before = _status_mib("VmRSS")
    start = time.perf_counter()
    runner.epoch()
    seconds = time.perf_counter() - start
    print(json.dumps({"rss_before_mib": before, "peak_rss_mib": _status_mib("VmHWM"),
                      "epoch_seconds": seconds}))


def _status_mib(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith(field + ":"))


# --------------------------------------------------------------------------- machine
def machine():
    """CPU model and count, library versions and threading variables, for the results."""
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), cpu)
    versions = {}
    for name in ("perceptron", "numpy", "scipy", "scikit-learn", "torch", "threadpoolctl",
                 "Pillow", "starlette", "uvicorn"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    env = {k: v for k, v in os.environ.items() if k.startswith(("OMP_", "GOMP_", "OPENBLAS_",
                                                                "MKL_"))}
    return {"cpu_model": cpu, "cpu_count": os.cpu_count(), "versions": versions,
            "thread_env": env}

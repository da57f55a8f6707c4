"""Shared helpers for the side-by-side benchmarks in ``benchmarks/``.

Every ``bench_*.py`` script (MLP, CNN, ...) compares ``perceptron`` with other
libraries *in one process, interleaved*, on a machine that may be shared with
other jobs. This module holds everything that is not specific to one model, so
that the scripts report the same way:

Data
    :func:`load_data` -- a dataset by name, optionally a seeded random subset,
    as C-contiguous float32 / int64 arrays. :func:`import_perceptron` retries
    when the compiled kernels are being rebuilt while the benchmark starts.

Timing
    :func:`measure` -- wall time, process CPU time and the CPU used by *other*
    processes meanwhile (see :class:`CpuLoadProbe`) for one call.
    :func:`run_interleaved` -- run several contestants' steps in turn, round
    after round, so that machine load hits all of them alike.
    :func:`summarize` -- median / min / max of a list of timings;
    :func:`quiet_only` -- the calls made while the rest of the machine was idle.

Threads
    :func:`blas_threads` (threadpoolctl, for NumPy/scikit-learn code),
    :func:`torch_threads` (``torch.set_num_threads``), :func:`clamp_threads`.

PyTorch (optional)
    :func:`optional_torch` -- the module or ``None`` plus a message saying why.
    :func:`make_torch_adam`, :func:`torch_train_epoch`,
    :func:`torch_predict_proba`, :func:`torch_accuracy` -- a DataLoader-free
    training loop (one shuffled permutation per epoch, manual slicing) that
    works for any ``nn.Module`` and any input shape.

Reporting
    :func:`machine_info` (CPU, load, versions, thread settings, git state),
    :func:`command_line` (the exact command, with the environment that
    matters), :func:`markdown_table`, :func:`fmt_seconds`, :func:`fmt_ratio`,
    :func:`verdict`, :func:`write_results` (``results/NAME.md`` + ``.json``).

Conventions
-----------
- A *ratio* is always ``other_time / ours_time``: ``3.0x`` means ours is three
  times faster, ``0.5x`` means ours takes twice as long.
- Times are seconds (``float``); JSON holds raw per-call numbers, the markdown
  holds medians.
- Nothing here imports ``perceptron`` or ``torch`` at module import time, so the
  helpers work (and ``--help`` is fast) without them.

Example (a new benchmark)::

    import _common as C
    X_tr, X_te, y_tr, y_te = C.load_data("fashion-mnist", n_train=10_000)
    torch, why = C.optional_torch()
    steps = {"ours": lambda: clf.partial_fit(X_tr, y_tr, classes=classes)}
    timings = C.run_interleaved(steps, n_rounds=5)
    print(C.summarize(timings["ours"])["median"])
    C.write_results("cnn", markdown_text, {"timings": timings, "machine": C.machine_info()})
"""

from __future__ import annotations

import contextlib
import datetime
import importlib
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: folder of this file (``benchmarks/``)
BENCH_DIR = Path(__file__).resolve().parent
#: repository root (the folder holding the ``perceptron`` package)
REPO_ROOT = BENCH_DIR.parent
#: where :func:`write_results` writes by default
RESULTS_DIR = BENCH_DIR / "results"

#: environment variables that change threading; recorded by :func:`machine_info`
#: and shown by :func:`command_line` when set
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_PROC_BIND",
                   "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "KMP_BLOCKTIME")


# --------------------------------------------------------------------------- imports / data
def import_perceptron(attempts=10, delay=3.0):
    """Import and return the ``perceptron`` package, retrying transient failures.

    Another engineer may rebuild the compiled kernels in place
    (``python setup.py build_ext --inplace``) while a benchmark starts; a
    half-written ``.so`` then fails to import. Each failed attempt drops the
    partly imported ``perceptron*`` modules and tries again after ``delay``
    seconds. The repository root is put on ``sys.path`` if missing.

    Raises the last ``ImportError``/``OSError`` after ``attempts`` failures.
    """
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    for attempt in range(1, attempts + 1):
        try:
            return importlib.import_module("perceptron")
        except (ImportError, OSError) as exc:
            for name in [m for m in sys.modules if m == "perceptron" or m.startswith("perceptron.")]:
                del sys.modules[name]
            if attempt == attempts:
                raise
            print(f"[bench] import perceptron failed ({exc!r}); retry {attempt}/{attempts - 1} "
                  f"in {delay:g}s", file=sys.stderr)
            time.sleep(delay)
    raise AssertionError("unreachable")


def load_data(name="fashion-mnist", n_train=None, n_test=None, seed=0):
    """Return ``(X_train, X_test, y_train, y_test)`` ready for every library.

    Parameters
    ----------
    name : str
        Any name :func:`perceptron.datasets.load_dataset` knows
        (``"fashion-mnist"``, ``"mnist"``, ``"digits"``).
    n_train, n_test : int or None
        Keep a random subset of that many samples (seeded by ``seed``, same
        subset every run); ``None`` keeps the whole split.
    seed : int
        Seed of the subset choice.

    Returns
    -------
    X_train, X_test : ndarray, float32, C-contiguous, shape (n, n_features)
        Flattened images in [0, 1] (reshape them yourself for a CNN).
    y_train, y_test : ndarray, int64
    """
    import numpy as np

    import_perceptron()
    from perceptron.datasets import load_dataset

    X_train, X_test, y_train, y_test = load_dataset(name)
    rng = np.random.default_rng(seed)

    def _subset(X, y, n):
        if n is None or n >= X.shape[0]:
            return X, y
        idx = np.sort(rng.choice(X.shape[0], size=int(n), replace=False))
        return X[idx], y[idx]

    X_train, y_train = _subset(X_train, y_train, n_train)
    X_test, y_test = _subset(X_test, y_test, n_test)
    as_x = lambda X: np.ascontiguousarray(X, dtype=np.float32)  # noqa: E731
    as_y = lambda y: np.ascontiguousarray(y, dtype=np.int64)  # noqa: E731
    return as_x(X_train), as_x(X_test), as_y(y_train), as_y(y_test)


def optional_torch():
    """Return ``(torch, None)``, or ``(None, message)`` when PyTorch is unusable.

    The message says how to install the CPU build; benchmarks print it and
    leave the torch column out.
    """
    try:
        import torch
    except Exception as exc:  # ImportError, or a broken install raising anything
        return None, (f"PyTorch not available ({type(exc).__name__}: {exc}); skipping the torch "
                      "column. Install the CPU build with `pip install torch==2.13.0` "
                      "(a plain `pip install torch` pulls the multi-GB CUDA build).")
    return torch, None


# --------------------------------------------------------------------------- threads
def clamp_threads(n):
    """``n`` limited to ``[1, os.cpu_count()]`` (a warning is printed when cut)."""
    cpus = os.cpu_count() or 1
    if n > cpus:
        print(f"[bench] {n} threads requested but only {cpus} CPUs; using {cpus}", file=sys.stderr)
    return max(1, min(int(n), cpus))


@contextlib.contextmanager
def blas_threads(n):
    """Limit every BLAS library loaded in the process to ``n`` threads (threadpoolctl).

    This is how scikit-learn code (NumPy matmul on OpenBLAS) gets ``n`` threads.
    ``perceptron`` sets its own limits inside ``fit``/``predict`` and needs none.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=int(n), user_api="blas"):
        yield


@contextlib.contextmanager
def torch_threads(torch, n):
    """Run the block with ``torch.set_num_threads(n)``, restoring the old count after."""
    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


# --------------------------------------------------------------------------- timing
def _read_cpu_jiffies():
    """(busy jiffies of the whole machine, jiffies of this process, total jiffies) or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        with open("/proc/self/stat") as f:
            own = f.read().rsplit(")", 1)[1].split()
        # /proc/stat cpu line: user nice system idle iowait irq softirq steal guest guest_nice
        # (guest time is already counted in user/nice)
        total = sum(fields[:8])
        busy = total - fields[3] - fields[4]
        mine = int(own[11]) + int(own[12])  # utime + stime of every thread of this process
        return busy, mine, total
    except (OSError, ValueError, IndexError):
        return None


class CpuLoadProbe:
    """CPU used by *other* processes while a block runs, in cores (Linux only).

    Reads ``/proc/stat`` (all CPUs) and ``/proc/self/stat`` (this process) at
    start and stop: ``others = (machine busy - this process) / wall``. ``0.0``
    means the rest of the machine was idle; ``1.0`` means one whole core was
    taken by someone else for the whole block. The resolution is one clock
    tick (usually 10 ms), so it is rough for blocks shorter than ~0.2 s.
    ``others`` is ``None`` where /proc is unavailable.
    """

    def __init__(self):
        self.others = None

    def __enter__(self):
        self._start = _read_cpu_jiffies()
        return self

    def __exit__(self, *exc):
        end = _read_cpu_jiffies()
        if self._start is None or end is None:
            return False
        busy = end[0] - self._start[0]
        mine = end[1] - self._start[1]
        total = end[2] - self._start[2]
        cpus = os.cpu_count() or 1
        if total > 0:
            wall_ticks = total / cpus  # total counts every CPU's ticks
            self.others = max(0.0, (busy - mine) / wall_ticks)
        return False


def others_load(window=2.0):
    """Cores used by other processes over the next ``window`` seconds (sleeps meanwhile)."""
    probe = CpuLoadProbe()
    with probe:
        time.sleep(window)
    return probe.others


def wait_for_quiet(max_wait, threshold=0.3, window=2.0):
    """Wait up to ``max_wait`` seconds for other processes to use < ``threshold`` cores.

    Polls :func:`others_load` every ``window`` seconds. Returns a dict with
    the last ``others`` reading, ``waited`` seconds and ``quiet`` (bool).
    ``max_wait=0`` takes one reading and returns at once. Use it before a
    run on a shared machine; the run itself still records the load.
    """
    t0 = time.perf_counter()
    while True:
        others = others_load(window)
        waited = time.perf_counter() - t0
        quiet = others is not None and others < threshold
        if quiet or others is None or waited >= max_wait:
            return {"others": others, "waited": waited, "quiet": quiet}
        print(f"[bench] other processes use {others:.2f} cores; waiting for < {threshold} "
              f"({waited:.0f}/{max_wait:.0f} s)", file=sys.stderr, flush=True)


def measure(fn, *args, **kwargs):
    """Call ``fn(*args, **kwargs)`` once; return ``(timing, result)``.

    ``timing`` is a dict: ``wall`` (s, ``time.perf_counter``), ``cpu`` (s of
    process CPU time, all threads: ``cpu / wall`` near the thread count means
    the threads had their cores), ``others`` (cores used by other processes
    meanwhile, see :class:`CpuLoadProbe`).
    """
    probe = CpuLoadProbe()
    with probe:
        c0, t0 = time.process_time(), time.perf_counter()
        result = fn(*args, **kwargs)
        t1, c1 = time.perf_counter(), time.process_time()
    return {"wall": t1 - t0, "cpu": c1 - c0, "others": probe.others}, result


def settle(max_wait=1.0, window=0.01, threshold=0.05):
    """Sleep until no thread of this process is busy any more (at most ``max_wait`` s).

    After a call returns, a library's worker threads may go on spinning,
    waiting for more work: OpenBLAS's (scikit-learn's GEMMs, through NumPy)
    burn a core for ~0.12 s, OpenMP teams for a few ms. A library timed in
    that window shares its cores with them and loses up to half its speed.
    Sleeping in windows of ``window`` s until the process uses less than
    ``threshold`` of a core while the main thread sleeps starts every timed
    step on idle cores, whoever ran before.

    Returns
    -------
    waited : float
        Seconds spent waiting.
    """
    start = time.perf_counter()
    while time.perf_counter() - start < max_wait:
        c0, t0 = time.process_time(), time.perf_counter()
        time.sleep(window)
        if (time.process_time() - c0) / (time.perf_counter() - t0) < threshold:
            break
    return time.perf_counter() - start


def run_interleaved(steps, n_rounds, rotate=True, on_step=None):
    """Run each contestant's step in turn, ``n_rounds`` times; return their timings.

    Parameters
    ----------
    steps : dict of name -> callable
        One unit of work each (an epoch, a predict call...). Called with no
        argument; its return value is kept in the timing as ``"result"`` when
        it is a number or a dict of numbers (e.g. the epoch's loss).
    n_rounds : int
        How many times each step runs.
    rotate : bool
        Start each round with the next contestant (round ``r`` runs them in
        the order shifted by ``r``), so no library always runs right after
        the same neighbour. Each step also starts after :func:`settle`, once
        the previous library's threads have stopped spinning.
    on_step : callable(round, name, timing) or None
        Called after every step (progress printing).

    Returns
    -------
    timings : dict of name -> list of timing dicts (see :func:`measure`),
        each with an added ``"round"``.
    """
    names = list(steps)
    timings = {name: [] for name in names}
    for r in range(n_rounds):
        shift = r % len(names) if rotate and names else 0
        for name in names[shift:] + names[:shift]:
            settle()
            timing, result = measure(steps[name])
            timing["round"] = r
            if isinstance(result, (int, float)) or (
                    isinstance(result, dict)
                    and all(isinstance(v, (int, float)) for v in result.values())):
                timing["result"] = result
            timings[name].append(timing)
            if on_step is not None:
                on_step(r, name, timing)
    return timings


#: a call counts as "quiet" when other processes used fewer cores than this meanwhile
QUIET_OTHERS = 0.25


def quiet_only(timings, threshold=QUIET_OTHERS):
    """The timings during which other processes used < ``threshold`` cores.

    Selection is on the *measured machine load* (``others``), never on the
    time itself, so it cannot favour a library; report it next to the
    all-calls summary, with its count.
    """
    return [t for t in timings if t.get("others") is not None and t["others"] < threshold]


def summarize(timings, key="wall"):
    """Median, min, max, mean and count of ``timing[key]`` over a list of timings.

    ``others`` and ``cpu`` medians are included too (``None`` when unknown).
    """
    values = [t[key] for t in timings if t.get(key) is not None]
    if not values:
        return {"median": None, "min": None, "max": None, "mean": None, "n": 0}
    out = {"median": statistics.median(values), "min": min(values), "max": max(values),
           "mean": statistics.fmean(values), "n": len(values)}
    for extra in ("cpu", "others"):
        vals = [t[extra] for t in timings if t.get(extra) is not None]
        out[f"median_{extra}"] = statistics.median(vals) if vals else None
    return out


# --------------------------------------------------------------------------- torch
def make_torch_adam(torch, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                    impl="fused"):
    """``torch.optim.Adam`` with the requested implementation, falling back if unsupported.

    ``impl`` is ``"fused"`` (one kernel for all tensors; fastest on CPU in
    torch >= 2.4), ``"foreach"`` or ``"default"`` (torch's own choice).
    ``params`` may be an iterable of tensors or of param-group dicts.
    Returns ``(optimizer, impl_used)``.
    """
    params = list(params)
    kwargs = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    if impl in ("fused", "foreach"):
        try:
            return torch.optim.Adam(params, **kwargs, **{impl: True}), impl
        except (RuntimeError, TypeError, ValueError):
            pass
    return torch.optim.Adam(params, **kwargs), "default"


def torch_train_epoch(torch, model, optimizer, loss_fn, X, y, batch_size, generator):
    """One epoch of mini-batch training, without a DataLoader.

    A fresh ``torch.randperm`` (from ``generator``) orders the samples; batch
    ``i`` gathers rows ``perm[i*bs:(i+1)*bs]`` of ``X``/``y`` (tensors of any
    shape, samples first), then forward, loss, backward, ``optimizer.step``.
    Returns the mean training loss over the epoch (a float).
    """
    model.train()
    n = X.shape[0]
    perm = torch.randperm(n, generator=generator)
    total = 0.0
    for start in range(0, n, batch_size):
        idx = perm[start:start + batch_size]
        xb, yb = X[idx], y[idx]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * idx.shape[0]
    return total / n


def torch_predict_proba(torch, model, X, batch_size=None):
    """Softmax probabilities of ``model`` on ``X`` (ndarray or tensor) as a NumPy array.

    Runs under ``torch.inference_mode()`` in eval mode; ``batch_size=None``
    does one forward pass over all of ``X``.
    """
    model.eval()
    Xt = torch.from_numpy(X) if not isinstance(X, torch.Tensor) else X
    with torch.inference_mode():
        if batch_size is None:
            out = torch.softmax(model(Xt), dim=1)
        else:
            out = torch.cat([torch.softmax(model(Xt[s:s + batch_size]), dim=1)
                             for s in range(0, Xt.shape[0], batch_size)])
    return out.numpy()


def torch_accuracy(torch, model, X, y):
    """Fraction of ``X`` whose arg-max class equals ``y`` (NumPy labels)."""
    import numpy as np

    return float(np.mean(torch_predict_proba(torch, model, X).argmax(axis=1) == y))


# --------------------------------------------------------------------------- machine / command
def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average():
    """``(1, 5, 15)``-minute load averages, or ``None`` where unsupported."""
    try:
        return tuple(round(x, 2) for x in os.getloadavg())
    except (OSError, AttributeError):
        return None


def _uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def _git_state():
    def git(*args):
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--", "perceptron", "setup.py")
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit or None,
            "uncommitted_library_changes": [line for line in dirty.splitlines() if line]}


def _version(module_name):
    try:
        module = importlib.import_module(module_name)
    except Exception:
        return None
    return getattr(module, "__version__", "unknown")


def machine_info(libraries=("perceptron", "numpy", "scipy", "sklearn", "torch", "threadpoolctl")):
    """Describe the machine and software for a results file.

    Returns a dict: date, host CPU model, ``cpu_count``, ``uptime`` line and
    ``load_average``, Python and platform, ``versions`` of ``libraries``
    (``None`` if not installed), ``thread_env`` (the set variables of
    :data:`THREAD_ENV_VARS`), ``threadpools`` (threadpoolctl's view: each
    BLAS/OpenMP library with its default thread count), torch's thread
    defaults when torch is imported, perceptron's OpenMP build flag, and
    ``git`` (commit and uncommitted changes under ``perceptron/``).
    Call it at the start (and again at the end for the load) of a run.
    """
    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "uptime": _uptime(),
        "load_average": load_average(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {name: _version(name) for name in libraries},
        "thread_env": {k: os.environ[k] for k in THREAD_ENV_VARS if k in os.environ},
    }
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [
            {k: lib.get(k) for k in ("user_api", "internal_api", "prefix", "version",
                                     "num_threads")}
            for lib in threadpool_info()]
    except Exception:
        info["threadpools"] = None
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "get_num_threads"):
        info["torch_threads"] = {"intra_op": torch.get_num_threads(),
                                 "inter_op": torch.get_num_interop_threads()}
    if "perceptron" in sys.modules:
        try:
            from perceptron._config import effective_n_threads, openmp_enabled

            info["perceptron_openmp"] = openmp_enabled()
            info["perceptron_default_threads"] = effective_n_threads(None)
        except Exception:
            pass
    info["git"] = _git_state()
    return info


def command_line():
    """The command that started this process, as one shell line.

    Relevant environment variables that are set (``PYTHONPATH`` and
    :data:`THREAD_ENV_VARS`) are prefixed, so the line can be pasted to
    rerun the benchmark the same way.
    """
    env = [f"{k}={shlex.quote(os.environ[k])}" for k in ("PYTHONPATH", *THREAD_ENV_VARS)
           if k in os.environ]
    argv = list(sys.argv)
    if argv and argv[0].endswith(".py"):
        try:
            argv[0] = str(Path(argv[0]).resolve().relative_to(Path.cwd()))
        except ValueError:
            pass
    return " ".join(env + ["python", shlex.join(argv)])


# --------------------------------------------------------------------------- formatting
def fmt_seconds(s):
    """Seconds with about 3 significant digits and a unit: ``1.23 s``, ``45.6 ms``, ``—`` for None."""
    if s is None:
        return "—"
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if s >= scale or unit == "µs":
            v = s / scale
            return f"{v:.2f} {unit}" if v < 10 else f"{v:.1f} {unit}" if v < 100 else f"{v:.0f} {unit}"


def fmt_ratio(x):
    """A speed ratio as ``2.51x`` (``—`` for None)."""
    return "—" if x is None else f"{x:.2f}x"


def fmt_pct(x, digits=2):
    """A fraction as a percentage: ``0.8812 -> 88.12%`` (``—`` for None)."""
    return "—" if x is None else f"{100 * x:.{digits}f}%"


def ratio(other, ours):
    """``other / ours`` (how many times faster ours is), or None if either is missing."""
    if other is None or ours is None or ours <= 0:
        return None
    return other / ours


def verdict(ok):
    """``"met"`` / ``"NOT met"`` / ``"n/a"`` (for ``None``) for a target table."""
    return "n/a" if ok is None else ("met" if ok else "NOT met")


def markdown_table(headers, rows, align=None):
    """A GitHub-markdown table as a string.

    Parameters
    ----------
    headers : list of str
    rows : list of list
        Cells are converted with ``str`` (``None`` becomes ``—``).
    align : str or None
        One character per column: ``l``, ``r`` or ``c``; default: first
        column left, the others right.
    """
    if align is None:
        align = "l" + "r" * (len(headers) - 1)
    cells = [[("—" if c is None else str(c)) for c in row] for row in rows]
    widths = [max([len(str(h))] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    marks = {"l": lambda w: ":" + "-" * (w - 1), "r": lambda w: "-" * (w - 1) + ":",
             "c": lambda w: ":" + "-" * (w - 2) + ":"}

    def line(values):
        out = []
        for v, w, a in zip(values, widths, align):
            out.append(v.rjust(w) if a == "r" else v.ljust(w))
        return "| " + " | ".join(out) + " |"

    lines = [line([str(h) for h in headers]),
             "| " + " | ".join(marks[a](max(w, 3)) for w, a in zip(widths, align)) + " |"]
    lines += [line(r) for r in cells]
    return "\n".join(lines)


def _jsonable(obj):
    """Convert NumPy scalars/arrays, tuples and paths for ``json.dump``."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if np is not None:
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _atomic_write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are ordinary readable files
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_results(name, markdown, data, out_dir=None):
    """Write ``<out_dir>/<name>.md`` (the report) and ``<name>.json`` (raw numbers).

    Both files are replaced atomically. ``data`` may hold NumPy scalars or
    arrays. Returns the two paths.
    """
    out_dir = Path(out_dir) if out_dir is not None else RESULTS_DIR
    md_path, json_path = out_dir / f"{name}.md", out_dir / f"{name}.json"
    _atomic_write(md_path, markdown if markdown.endswith("\n") else markdown + "\n")
    _atomic_write(json_path, json.dumps(_jsonable(data), indent=2) + "\n")
    return md_path, json_path


def record_contestant(benchmark, contestant):
    """Attach a contestant's library, thread count and the load to a pytest-benchmark run."""
    benchmark.extra_info["threads"] = contestant.n_threads
    benchmark.extra_info["library"] = contestant.library
    benchmark.extra_info["load_average"] = load_average()

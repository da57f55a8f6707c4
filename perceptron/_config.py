"""Build and threading configuration: how many threads the kernels use."""

import contextlib
import functools
import os
import sys
import threading

from ._kernels import WAIT_POLICY, _fpenv, _openmp_info
from ._validation import check_n_threads


def openmp_enabled():
    """Return True when the compiled kernels were built with OpenMP."""
    return _openmp_info.openmp_enabled()


@functools.cache
def available_cpus():
    """CPUs this process may run on, counted once per process.

    The smallest of the machine's CPU count, the process's affinity mask
    (``taskset``, a batch scheduler's allocation) and a container's CPU
    quota, as joblib counts them (:func:`joblib.cpu_count`), so that the
    kernels and joblib agree on the machine.
    """
    from joblib import cpu_count

    return max(1, int(cpu_count(only_physical_cores=False)))


def _dask_worker_threads():
    """Threads of the ``dask.distributed`` workers of this process, when this
    code runs in one of them; else None.

    ``distributed`` is looked up in ``sys.modules``, never imported: a process
    that does not use Dask pays nothing and needs no Dask installed. A
    worker process (a nanny's) holds one worker; a
    ``LocalCluster(processes=False)`` holds all of them in the client's
    process, where they share its CPUs.
    """
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        worker = distributed.get_worker()
    except ValueError:  # "No worker found": not in a worker
        return None
    workers = {w for w in getattr(distributed.Worker, "_instances", ())
               if w.status.name in ("running", "paused")}
    return sum(w.state.nthreads for w in workers | {worker})


def thread_budget():
    """Threads ``n_threads=None`` gets where this code runs, and why.

    The budget of the process is OpenMP's ``omp_get_max_threads()`` (which
    honours ``OMP_NUM_THREADS`` and :func:`threadpoolctl.threadpool_limits`),
    at most the CPUs available (:func:`available_cpus`). Then:

    - in a ``dask.distributed`` worker, it is shared by the worker's threads:
      a worker of ``threads_per_worker=k`` runs ``k`` tasks at once, so each
      fit gets ``budget // k`` threads (at least 1), and the fits add up to
      the budget. Dask's nanny starts worker processes with
      ``OMP_NUM_THREADS=1``: one thread per fit, unless the workers are
      configured otherwise;
    - joblib's loky workers start with ``OMP_NUM_THREADS = cpus // n_jobs``,
      which the budget already is: ``n_jobs`` fits share the CPUs instead of
      each taking all of them.

    Returns
    -------
    threads : int
    source : str
        Where the number came from, for :func:`show_config`.
    """
    if not openmp_enabled():
        return 1, "built without OpenMP"
    cpus = available_cpus()
    threads = _openmp_info.omp_max_threads()
    source = "OpenMP's limit (OMP_NUM_THREADS, threadpoolctl or joblib)"
    if threads >= cpus:
        threads, source = cpus, "the CPUs available to the process"
    dask_threads = _dask_worker_threads()
    if dask_threads:
        return (max(1, threads // dask_threads),
                f"{source}, shared by {dask_threads} Dask worker thread(s)")
    return threads, source


def effective_n_threads(n_threads=None):
    """Resolve an ``n_threads`` parameter to the number of threads to use.

    - ``None``: the budget of where the fit runs (:func:`thread_budget`):
      OpenMP's limit, at most the CPUs available, shared by the threads of a
      Dask worker;
    - a positive int: that many threads, capped by the CPUs available to
      the process (:func:`available_cpus`): more threads than CPUs only make
      the kernels' threads wait for each other at every barrier, and asking
      for them must not exhaust the machine;
    - a negative int: ``cpus + 1 + n_threads`` (``-1`` means all CPUs), at
      least 1.

    Without OpenMP the answer is always 1. ``n_threads`` is checked first
    (:func:`perceptron._validation.check_n_threads`).

    Examples
    --------
    >>> from perceptron._config import available_cpus, effective_n_threads
    >>> effective_n_threads(1)
    1
    >>> effective_n_threads(10**3) <= available_cpus()
    True
    """
    check_n_threads(n_threads)
    if n_threads is None:
        return thread_budget()[0]
    if not openmp_enabled():
        return 1
    cpus = available_cpus()
    if n_threads < 0:
        return max(1, cpus + 1 + int(n_threads))
    return min(int(n_threads), cpus)


@contextlib.contextmanager
def flush_denormals(n_threads):
    """Flush subnormal floats to zero on the kernels' threads while inside.

    Subnormals (floats below 1.2e-38 in float32) take a slow path through
    the CPU, many times the cost of a normal operation, and training makes
    them steadily: Adam's moment of a weight that stopped learning decays
    through them, and softmax probabilities of very unlikely classes
    underflow into them. Flushing them (the CPU's FTZ/DAZ modes, as
    TensorFlow does on its compute threads) keeps every operation on the
    fast path. Only numbers that small change: they are read and written as
    zero.

    The mode is per thread: it is set on the calling thread and on the
    OpenMP team of ``n_threads`` threads, and the previous mode is restored
    on exit, also after an exception.

    Parameters
    ----------
    n_threads : int
        Team size of the kernels that will run inside the block.

    Examples
    --------
    >>> import numpy as np
    >>> from perceptron._config import flush_denormals
    >>> tiny = np.float32(1e-39)  # subnormal
    >>> with flush_denormals(1):
    ...     float(np.float32(2) * tiny) == 0.0 or not _fpenv.flush_supported()
    True
    >>> float(np.float32(2) * tiny) > 0  # the previous mode is back
    True
    """
    n_threads = max(1, int(n_threads))
    previous = _fpenv.set_flush(True, n_threads)
    try:
        yield
    finally:
        _fpenv.set_flush(previous, n_threads)


_CONTROLLER = []


def _blas_controller():
    """One threadpoolctl controller of the process's BLAS libraries (building one
    is not free).

    It is made on first use, after SciPy's BLAS (which the kernels call) is
    loaded, so that BLAS is among the libraries it limits.
    """
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController().select(user_api="blas"))
    return _CONTROLLER[0]


def _and_hand_back(change):
    """Run ``change`` (a change of BLAS's limits) and leave BLAS to any thread.

    With a process-wide pool (OpenBLAS on pthreads), threadpoolctl lets one
    thread at a time change the limits: the first to do so, until a ``with``
    block of its ends; the changes of other threads do nothing. A limit set
    in one thread may have to be undone in another (see
    :class:`_SingleThreadedBlas`): after each change an empty ``with`` block
    hands the control back.
    """
    result = change()
    with _blas_controller().limit(limits=None):
        pass
    return result


class _SingleThreadedBlas:
    """BLAS limited to one thread while any kernel call of the process runs.

    The limit is process-wide, and calls may overlap (several threads
    predicting with one model): the first call in sets it, the last one out
    puts back what was there before, whichever threads they run in.
    Overlapping ``threadpoolctl`` limits of their own would not do: each
    puts back what it found when it began, so a call ending while another
    runs would give BLAS its threads back under the other's kernels, and the
    last to end could leave BLAS at one thread for good.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._active = 0
        self._limiter = None

    @contextlib.contextmanager
    def __call__(self):
        with self._lock:
            if self._active == 0:
                self._limiter = _and_hand_back(lambda: _blas_controller().limit(limits=1))
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0:
                    _and_hand_back(self._limiter.restore_original_limits)
                    self._limiter = None


_single_threaded_blas = _SingleThreadedBlas()


@contextlib.contextmanager
def kernel_threads(n_threads):
    """Set the threads up for ``n_threads``-thread kernels while inside.

    The kernels share each GEMM among their own OpenMP threads (one BLAS
    call per thread, see ``_kernels/_gemm.pxd``), so BLAS must not start
    threads of its own: that would oversubscribe the cores. The kernels'
    threads also flush subnormal floats to zero (:func:`flush_denormals`).

    Safe to enter from several threads at once: the BLAS limit holds until
    the last of them leaves, and the flush mode is each thread's own (each
    Python thread that runs a kernel has its own OpenMP team).
    """
    with _single_threaded_blas(), flush_denormals(n_threads):
        yield


def show_config(file=None):
    """Print how the kernels were built and how many threads they will use.

    Parameters
    ----------
    file : file-like, default=None
        Where to print; standard output when None.

    Returns
    -------
    info : dict
        ``openmp`` (bool), ``threads`` (int, for ``n_threads=None``),
        ``threads_source`` (str, where that number comes from, see
        :func:`thread_budget`), ``cpus`` (int, the CPUs available to the
        process), ``wait_policy`` (str, how idle kernel threads wait: see
        :mod:`perceptron._kernels`), ``omp_num_threads_env`` (str or None),
        ``blas`` (list of dicts from threadpoolctl describing the BLAS
        libraries in use).

    Examples
    --------
    >>> import io
    >>> import perceptron
    >>> info = perceptron.show_config(file=io.StringIO())
    >>> sorted(info)
    ['blas', 'cpus', 'omp_num_threads_env', 'openmp', 'threads', 'threads_source', 'version',
     'wait_policy']
    """
    from threadpoolctl import threadpool_info

    from . import __version__

    blas = [
        {k: lib.get(k) for k in ("internal_api", "version", "num_threads", "filepath")}
        for lib in threadpool_info()
        if lib.get("user_api") == "blas"
    ]
    threads, source = thread_budget()
    info = {
        "version": __version__,
        "openmp": openmp_enabled(),
        "threads": threads,
        "threads_source": source,
        "cpus": available_cpus(),
        "wait_policy": WAIT_POLICY,
        "omp_num_threads_env": os.environ.get("OMP_NUM_THREADS"),
        "blas": blas,
    }
    out = file if file is not None else sys.stdout
    print(f"perceptron {info['version']}", file=out)
    print(f"  OpenMP kernels : {'on' if info['openmp'] else 'off (single-threaded)'}", file=out)
    print(f"  kernel threads : {threads} ({source}; OMP_NUM_THREADS="
          f"{info['omp_num_threads_env']})", file=out)
    print(f"  CPUs available : {info['cpus']}", file=out)
    print(f"  thread waiting : {WAIT_POLICY}", file=out)
    for lib in blas:
        print(f"  BLAS           : {lib['internal_api']} {lib['version']} "
              f"({lib['num_threads']} threads)", file=out)
    return info

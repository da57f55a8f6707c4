"""Build and threading configuration: how many threads the kernels use."""

import contextlib
import os
import sys

from ._kernels import _fpenv, _openmp_info
from ._validation import check_n_threads


def openmp_enabled():
    """Return True when the compiled kernels were built with OpenMP."""
    return _openmp_info.openmp_enabled()


def effective_n_threads(n_threads=None):
    """Resolve an ``n_threads`` parameter to a positive thread count.

    Follows scikit-learn's convention for OpenMP code:

    - ``None``: ``omp_get_max_threads()``, which honours ``OMP_NUM_THREADS``
      and :func:`threadpoolctl.threadpool_limits`, capped by the CPU count;
    - a positive int: that many threads;
    - a negative int: ``cpu_count + 1 + n_threads`` (``-1`` means all CPUs).

    Without OpenMP the answer is always 1.

    Examples
    --------
    >>> from perceptron._config import effective_n_threads
    >>> effective_n_threads(1)
    1
    """
    check_n_threads(n_threads)
    if not openmp_enabled():
        return 1
    cpus = os.cpu_count() or 1
    if n_threads is None:
        return max(1, min(_openmp_info.omp_max_threads(), cpus))
    if n_threads < 0:
        return max(1, cpus + 1 + int(n_threads))
    return int(n_threads)


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
    """One threadpoolctl controller for the process (building one is not free).

    It is made on first use, after SciPy's BLAS (which the kernels call) is
    loaded, so that BLAS is among the libraries it limits.
    """
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


@contextlib.contextmanager
def kernel_threads(n_threads):
    """Set the threads up for ``n_threads``-thread kernels while inside.

    The kernels share each GEMM among their own OpenMP threads (one BLAS
    call per thread, see ``_kernels/_gemm.pxd``), so BLAS must not start
    threads of its own: that would oversubscribe the cores. The kernels'
    threads also flush subnormal floats to zero (:func:`flush_denormals`).
    """
    with _blas_controller().limit(limits=1, user_api="blas"), flush_denormals(n_threads):
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
        ``omp_num_threads_env`` (str or None), ``blas`` (list of dicts from
        threadpoolctl describing the BLAS libraries in use).

    Examples
    --------
    >>> import io
    >>> import perceptron
    >>> info = perceptron.show_config(file=io.StringIO())
    >>> sorted(info)
    ['blas', 'omp_num_threads_env', 'openmp', 'threads', 'version']
    """
    from threadpoolctl import threadpool_info

    from . import __version__

    blas = [
        {k: lib.get(k) for k in ("internal_api", "version", "num_threads", "filepath")}
        for lib in threadpool_info()
        if lib.get("user_api") == "blas"
    ]
    info = {
        "version": __version__,
        "openmp": openmp_enabled(),
        "threads": effective_n_threads(None),
        "omp_num_threads_env": os.environ.get("OMP_NUM_THREADS"),
        "blas": blas,
    }
    out = file if file is not None else sys.stdout
    print(f"perceptron {info['version']}", file=out)
    print(f"  OpenMP kernels : {'on' if info['openmp'] else 'off (single-threaded)'}", file=out)
    print(f"  kernel threads : {info['threads']} (OMP_NUM_THREADS={info['omp_num_threads_env']})",
          file=out)
    for lib in blas:
        print(f"  BLAS           : {lib['internal_api']} {lib['version']} "
              f"({lib['num_threads']} threads)", file=out)
    return info

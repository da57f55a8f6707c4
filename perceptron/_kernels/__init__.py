"""The compiled kernels (Cython, OpenMP), and how their threads wait.

A team of OpenMP threads meets at barriers several times per mini-batch, and
between two kernels its threads wait for the next one. GNU's OpenMP runtime
(libgomp) lets a waiting thread *spin* for 300,000 rounds (milliseconds)
before it sleeps. On a quiet machine that only burns idle cores; when another
process holds one of the cores, it is a disaster: the thread everybody waits
for is not running, and the ones waiting spin on through their time slices.
A 2-thread MLP fit then runs many times slower than on one thread.

So before the first kernel loads libgomp (which reads its settings once,
when it loads), this package sets ``GOMP_SPINCOUNT`` to :data:`SPIN_COUNT`
rounds (tens of microseconds): longer than the kernels' threads wait for each
other on a quiet machine, short enough that a thread whose partner lost its
core soon sleeps and gives its own core back. The variable is then removed
again, so that other libraries and child processes see the environment as it
was. A user's own ``GOMP_SPINCOUNT`` or ``OMP_WAIT_POLICY`` is kept as it is.
:func:`perceptron.show_config` says which setting is in force.
"""

import os
import sys

#: rounds a waiting kernel thread spins before it sleeps (libgomp's
#: ``GOMP_SPINCOUNT``; a round is one ``pause`` instruction, from a few to
#: about 150 CPU cycles depending on the processor: about 25 microseconds in
#: all on a current x86 server core, against a few microseconds of Python
#: between two training steps)
SPIN_COUNT = 1000


def _libgomp_loaded():
    """Whether the GNU OpenMP runtime is already in this process (Linux only)."""
    try:
        with open("/proc/self/maps") as maps:
            return any(line.rstrip().endswith("/libgomp.so.1") for line in maps)
    except OSError:
        return False


def _set_wait_policy():
    """Set ``GOMP_SPINCOUNT`` for libgomp's start; return what was done, in words."""
    for name in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY"):
        if os.environ.get(name):
            return f"{name}={os.environ[name]} (from the environment)"
    if not sys.platform.startswith("linux"):
        return "the OpenMP runtime's default"
    if _libgomp_loaded():
        return "libgomp's default (it was loaded before perceptron)"
    os.environ["GOMP_SPINCOUNT"] = str(SPIN_COUNT)
    try:
        from . import _openmp_info  # noqa: F401  (loads libgomp, which reads it now)
    finally:
        del os.environ["GOMP_SPINCOUNT"]
    return f"GOMP_SPINCOUNT={SPIN_COUNT} (set by perceptron)"


#: how the kernels' idle threads wait, for :func:`perceptron.show_config`
WAIT_POLICY = _set_wait_policy()

"""Build script: compiles every ``perceptron/_kernels/*.pyx`` with OpenMP when available.

The OpenMP flag is probed by compiling a tiny program. When the compiler has no
OpenMP (Apple clang without libomp, for instance) the build still succeeds and
the ``prange`` loops run serially; ``perceptron.show_config()`` reports which.
"""

import os
import sys
import tempfile
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNELS = Path("perceptron") / "_kernels"

OMP_TEST = r"""
#include <omp.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 ? 0 : 1;
}
"""


def _openmp_flags(compiler):
    """Return (compile_args, link_args) that enable OpenMP, or empty lists."""
    if os.environ.get("PERCEPTRON_NO_OPENMP"):
        return [], []
    if sys.platform == "win32":
        candidates = [(["/openmp"], [])]
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"]), (["-Xpreprocessor", "-fopenmp"], ["-lomp"])]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "omp_test.c"
        src.write_text(OMP_TEST)
        for cflags, lflags in candidates:
            try:
                objs = compiler.compile([str(src)], output_dir=tmp, extra_postargs=cflags)
                compiler.link_executable(objs, "omp_test", output_dir=tmp, extra_postargs=lflags)
            except Exception:  # noqa: BLE001 - any compiler failure means "no OpenMP"
                continue
            return cflags, lflags
    print("perceptron: the compiler has no OpenMP; kernels will run single-threaded")
    return [], []


SIMD_TEST = r"""
int main(void) {
    __builtin_cpu_init();
    return (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 0 : 1;
}
"""


def _simd_flags(compiler):
    """``-mavx2 -mfma`` when this machine (where the package will run) has them.

    A source build is compiled for the machine it is built on, so the element-wise
    loops can use 8-wide AVX2 instructions. Set ``PERCEPTRON_PORTABLE=1`` to
    build for any x86-64 CPU (e.g. when building a wheel for others).
    """
    if os.environ.get("PERCEPTRON_PORTABLE") or sys.platform == "win32":
        return []
    import platform
    import subprocess

    if platform.machine().lower() not in ("x86_64", "amd64"):
        return []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "simd_test.c"
        src.write_text(SIMD_TEST)
        try:
            objs = compiler.compile([str(src)], output_dir=tmp)
            compiler.link_executable(objs, "simd_test", output_dir=tmp)
            ok = subprocess.run([str(Path(tmp) / "simd_test")]).returncode == 0
        except Exception:  # noqa: BLE001 - no compiler support means no flags
            return []
    return ["-mavx2", "-mfma"] if ok else []


class BuildExt(build_ext):
    """build_ext that adds OpenMP and optimisation flags after probing the compiler."""

    def build_extensions(self):
        cflags, lflags = _openmp_flags(self.compiler)
        simd = _simd_flags(self.compiler)
        # -fno-math-errno lets sqrt/exp loops vectorise; it changes no result.
        # -ffp-contract=off: no fused multiply-adds, so ``a * b + c`` is rounded
        # twice everywhere, as written in the .pyx and as NumPy computes it,
        # whether a value falls in a loop's SIMD body or in its scalar tail.
        opt = [] if sys.platform == "win32" else [
            "-O3", "-fno-math-errno", "-fno-strict-aliasing", "-ffp-contract=off"]
        for ext in self.extensions:
            ext.extra_compile_args = opt + simd + cflags
            ext.extra_link_args = lflags
            if cflags:
                ext.define_macros.append(("PERCEPTRON_OPENMP", "1"))
        super().build_extensions()


def _extensions():
    from Cython.Build import cythonize

    exts = [
        Extension(
            "perceptron._kernels." + pyx.stem,
            [str(pyx)],
            include_dirs=[str(KERNELS)],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        )
        for pyx in sorted(KERNELS.glob("*.pyx"))
    ]
    return cythonize(
        exts,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
        include_path=[str(KERNELS)],
    )


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExt})

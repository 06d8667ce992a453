"""Run a block of dense linear algebra with one BLAS thread.

The dense path of :mod:`mlmice.mixed.lmm` (several grouping factors) makes many
LAPACK/BLAS calls on matrices of a few hundred rows. A multithreaded OpenBLAS
parallelises each of them, which on a machine shared with other jobs costs far
more in thread wake-ups than it gains (measured here: 300 ms instead of 3 ms
per deviance evaluation for a 110 x 110 problem with the machine loaded).
:func:`single_threaded_blas` sets NumPy's bundled OpenBLAS to one thread for
the duration of a ``with`` block and restores the previous setting; where that
library is not found (another BLAS, another wheel layout) it does nothing.
Setting ``OPENBLAS_NUM_THREADS=1`` in the environment has the same effect
process-wide.
"""

from __future__ import annotations

import ctypes
import glob
import os
from contextlib import contextmanager

import numpy as np

_LIB = None
_LOADED = False


def _openblas():
    global _LIB, _LOADED
    if not _LOADED:
        _LOADED = True
        pattern = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs",
                               "*openblas*")
        for path in sorted(glob.glob(pattern)):
            try:
                lib = ctypes.CDLL(path)
                get = lib.scipy_openblas_get_num_threads64_
                _ = lib.scipy_openblas_set_num_threads64_
            except (OSError, AttributeError):
                continue
            get.restype = ctypes.c_int
            _LIB = lib
            break
    return _LIB


@contextmanager
def single_threaded_blas():
    """Context manager: NumPy's OpenBLAS uses one thread inside the block."""
    lib = _openblas()
    if lib is None:
        yield
        return
    before = int(lib.scipy_openblas_get_num_threads64_())
    if before == 1:
        yield
        return
    lib.scipy_openblas_set_num_threads64_(ctypes.c_int(1))
    try:
        yield
    finally:
        lib.scipy_openblas_set_num_threads64_(ctypes.c_int(before))

"""One BLAS thread inside the engine's loops, whatever the environment says.

The engine's linear algebra is many small problems: per-cluster ``q x q`` blocks,
``p x p`` fixed-effects systems, a Gibbs sweep's draws. A multithreaded BLAS
(NumPy's and SciPy's bundled OpenBLAS start one thread per core) parallelises each
call, which on such sizes costs more in thread wake-ups than it gains: the tutorial
job took 10.4 CPU s for 5.4 s wall with the default threads on 2 cores, and 5.3 CPU s
for 5.3 s wall with one (`bench/bench_impute.py`, ``--threads``), and parallel chains
oversubscribe the cores on top. So the sampler, every model fit and pooling's
likelihoods run inside :func:`one_blas_thread`, which limits every BLAS library loaded
in the process to one thread for the duration of a ``with`` block and restores the
previous setting (threadpoolctl; Pedregosa-style ``threadpool_limits``). Parallelism
comes from chains in separate processes (``n_jobs``, or one pipeline job per chain).
"""

from __future__ import annotations

from contextlib import contextmanager

__all__ = ["one_blas_thread"]

_CONTROLLER = None


def _controller():
    global _CONTROLLER
    if _CONTROLLER is None:   # created once: inspecting the loaded libraries costs ~1 ms
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


@contextmanager
def one_blas_thread():
    """Context manager: every loaded BLAS library uses one thread inside the block."""
    with _controller().limit(limits=1, user_api="blas"):
        yield

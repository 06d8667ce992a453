"""Batched Cholesky factorisation and triangular solves for many small ``q x q`` blocks.

The two-level methods factor one ``q x q`` matrix per cluster (``q`` = number
of random effects, usually 1-3) thousands of times per imputation run.
NumPy's batched LAPACK calls carry a fixed overhead per call that dominates at
this size, so for ``q <= 4`` the loops run over the ``q`` indices and are
vectorised over the clusters; larger blocks use NumPy's LAPACK routines.
"""

from __future__ import annotations

import numpy as np

_SMALL = 4


def cholesky(A: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of a stack of SPD matrices, ``A[j] = L[j] L[j]^T``.

    Raises ``numpy.linalg.LinAlgError`` when a block is not positive definite.
    """
    q = A.shape[-1]
    if q > _SMALL:
        return np.linalg.cholesky(A)
    if q == 2:
        return _cholesky_2(A)
    L = np.zeros_like(A)
    for i in range(q):
        d = A[:, i, i] - np.sum(L[:, i, :i] ** 2, axis=1)
        if not np.all(d > 0):
            raise np.linalg.LinAlgError("matrix is not positive definite")
        L[:, i, i] = np.sqrt(d)
        for r in range(i + 1, q):
            L[:, r, i] = (A[:, r, i] - np.sum(L[:, r, :i] * L[:, i, :i], axis=1)) / L[:, i, i]
    return L


def _cholesky_2(A: np.ndarray) -> np.ndarray:
    """:func:`cholesky` for ``2 x 2`` blocks in closed form (the same arithmetic)."""
    L = np.zeros_like(A)
    a00 = A[:, 0, 0]
    if not np.all(a00 > 0):
        raise np.linalg.LinAlgError("matrix is not positive definite")
    L[:, 0, 0] = l00 = np.sqrt(a00)
    L[:, 1, 0] = l10 = A[:, 1, 0] / l00
    d = A[:, 1, 1] - l10 * l10
    if not np.all(d > 0):
        raise np.linalg.LinAlgError("matrix is not positive definite")
    L[:, 1, 1] = np.sqrt(d)
    return L


def solve_lower(L: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Solve ``L[j] X[j] = B[j]`` for lower-triangular ``L`` (J, q, q); ``B`` (J, q, m)."""
    q = L.shape[-1]
    if q > _SMALL:
        return np.linalg.solve(L, B)
    X = np.empty(_solution_shape(L, B))
    for i in range(q):
        acc = B[:, i, :]
        for k in range(i):
            acc = acc - L[:, i, k, None] * X[:, k, :]
        X[:, i, :] = acc / L[:, i, i, None]
    return X


def solve_lower_t(L: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Solve ``L[j]^T X[j] = B[j]`` for lower-triangular ``L`` (J, q, q); ``B`` (J, q, m)."""
    q = L.shape[-1]
    if q > _SMALL:
        return np.linalg.solve(np.swapaxes(L, -1, -2), B)
    X = np.empty(_solution_shape(L, B))
    for i in range(q - 1, -1, -1):
        acc = B[:, i, :]
        for k in range(i + 1, q):
            acc = acc - L[:, k, i, None] * X[:, k, :]
        X[:, i, :] = acc / L[:, i, i, None]
    return X


def _solution_shape(L: np.ndarray, B: np.ndarray) -> tuple[int, ...]:
    """Shape of ``X`` in ``L X = B``: the batch of both, then ``B``'s last two axes."""
    if L.shape[:-2] == B.shape[:-2]:
        return B.shape
    return np.broadcast_shapes(L.shape[:-1], B.shape[:-1]) + B.shape[-1:]

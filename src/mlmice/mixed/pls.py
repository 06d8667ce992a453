r"""Penalised least squares and the profiled deviance of a linear mixed model.

The second layer of lme4's model (Bates, Maechler, Bolker and Walker 2015, JSS 67(1),
sections 3-5). For

.. math::

    y = X\beta + Z b + \varepsilon,\quad b = \Lambda_\theta u,\quad
    u \sim N(0, \sigma^2 I_Q),\quad \varepsilon \sim N(0, \sigma^2 I_n),

and given :math:`\theta`, the penalised least squares problem
:math:`\min_{u,\beta} \|y - X\beta - Z\Lambda u\|^2 + \|u\|^2` is solved through the
blocks of

.. math::

    M = \begin{pmatrix} A & \Lambda^\top Z^\top X \\ X^\top Z\Lambda & X^\top X\end{pmatrix},
    \quad A = \Lambda^\top Z^\top Z \Lambda + I,

with :math:`S = X^\top X - X^\top Z\Lambda A^{-1}\Lambda^\top Z^\top X` (:math:`= R_X^\top
R_X`) and :math:`r^2` the minimum penalised residual sum of squares. The profiled
deviances are (JSS eqs. 34 and 41)

.. math::

    d_{ML}(\theta) = \log|A| + n\,[1 + \log(2\pi r^2/n)],\qquad
    d_{REML}(\theta) = \log|A| + \log|S| + (n-p)\,[1 + \log(2\pi r^2/(n-p))],

and the log-likelihood at any :math:`(\beta, \theta, \sigma)` is
:math:`-\tfrac12[n\log(2\pi\sigma^2) + \log|A| + r^2_\theta(\beta)/\sigma^2]`.

One grouping factor makes :math:`A` block diagonal, one :math:`q \times q` block
:math:`A_j = \Lambda^\top Z_j^\top Z_j \Lambda + I` per cluster: :func:`solve_blocks` does
one evaluation from the clusters' cross-products :math:`Z_j^\top Z_j`, :math:`Z_j^\top X_j`,
:math:`Z_j^\top y_j` in :math:`O(Jq^3 + Jq^2p + p^3)`, independent of :math:`n`. It is
the one implementation behind ``lmer`` (:class:`mlmice.mixed.model.LmerModel`) and
the imputation methods' fits (:mod:`mlmice.impute.methods._lmm_fit`); several grouping
factors go through the Schur complement of :mod:`mlmice.mixed.schur`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CANCEL", "BlockSolution", "PlsEval", "block_solve", "gaussian_loglik",
           "profiled_deviance", "solve_blocks", "solve_fixed"]

_LOG2PI = np.log(2 * np.pi)
#: Recompute r2 from the residuals when r2 < CANCEL * y'y (cancellation in y'y - ...).
CANCEL = 1e-4


@dataclass
class PlsEval:
    """Quantities of one profiled-deviance evaluation at theta."""

    theta: np.ndarray
    deviance: float
    grad: np.ndarray | None
    beta: np.ndarray
    u: np.ndarray          # (J, q), or (1, Q) for several grouping factors
    r2: float
    logdet_a: float
    logdet_s: float
    sinv: np.ndarray       # S^{-1}
    lam: np.ndarray        # (q, q)


@dataclass
class BlockSolution:
    """The PLS solution for one grouping factor (:func:`solve_blocks`).

    ``G = A^{-1}B`` (J, q, p), ``g = A^{-1}v`` (J, q), ``B = \\Lambda' Z_j' X_j``,
    ``v = \\Lambda' Z_j' y_j``, ``S = X'X - B'A^{-1}B`` (:math:`R_X^\\top R_X`),
    ``LtC = \\Lambda' Z_j' Z_j`` and ``H = A^{-1} LtC`` (the gradient's trace term;
    None unless asked for).
    """

    logdet_a: float
    G: np.ndarray
    g: np.ndarray
    B: np.ndarray
    v: np.ndarray
    LtC: np.ndarray
    H: np.ndarray | None
    beta: np.ndarray
    S: np.ndarray
    sinv: np.ndarray | None
    logdet_s: float
    r2: float
    u: np.ndarray


def solve_blocks(L: np.ndarray, C: np.ndarray, D: np.ndarray, XtX: np.ndarray,
                 Zty: np.ndarray, Xty: np.ndarray, yty: float, *, want_inverse: bool,
                 want_h: bool = False) -> BlockSolution:
    r"""Solve the PLS problem for one grouping factor from cluster cross-products.

    Parameters
    ----------
    L : ndarray (q, q)
        :math:`\Lambda_\theta` of one cluster.
    C, D : ndarray (J, q, q), (J, q, p)
        :math:`Z_j^\top Z_j` and :math:`Z_j^\top X_j`.
    XtX, Zty, Xty, yty
        :math:`X^\top X`, :math:`Z_j^\top y_j` (J, q), :math:`X^\top y`, :math:`y^\top y`.
    want_inverse : bool
        Also :math:`S^{-1}` and :math:`\log|S|` (REML, standard errors).
    want_h : bool
        Also :math:`A_j^{-1}\Lambda^\top Z_j^\top Z_j` (for the gradient), in the same solve.

    Returns
    -------
    BlockSolution
        :math:`\hat\beta = S^{-1}c`, :math:`c = X^\top y - B^\top A^{-1} v`,
        :math:`\hat u_j = A_j^{-1}(v_j - B_j\hat\beta)` and
        :math:`r^2 = y^\top y - v^\top A^{-1} v - c^\top\hat\beta`.
    """
    J, q, p = D.shape
    LtC = np.matmul(L.T, C)                       # (J, q, q)
    A = np.matmul(LtC, L)
    A += np.eye(q)
    B = np.matmul(L.T, D)                         # (J, q, p)
    v = Zty @ L                                   # (J, q): Lambda' Z_j' y_j
    parts = [B, v[:, :, None]] + ([LtC] if want_h else [])
    logdet_a, sol = block_solve(A, np.concatenate(parts, axis=2))
    G = sol[:, :, :p]
    g = sol[:, :, p]
    Bf = B.reshape(J * q, p)
    S = XtX - Bf.T @ G.reshape(J * q, p)
    c = Xty - Bf.T @ g.reshape(J * q)
    beta, sinv, logdet_s = solve_fixed(S, c, want_inverse=want_inverse)
    r2 = yty - float((v * g).sum()) - float(c @ beta)
    u = g - G @ beta                              # (J, q)
    return BlockSolution(logdet_a=logdet_a, G=G, g=g, B=B, v=v, LtC=LtC,
                         H=sol[:, :, p + 1:] if want_h else None, beta=beta, S=S, sinv=sinv,
                         logdet_s=logdet_s, r2=r2, u=u)


def profiled_deviance(r2: float, logdet_a: float, logdet_s: float, *, n: int, p: int,
                      reml: bool) -> tuple[float, float, int]:
    r"""The profiled deviance from its pieces (module docstring): ``(dev, r2, m)``.

    :math:`d = \log|A| + m\,[1 + \log(2\pi r^2/m)]` (+ :math:`\log|S|` for REML) with
    :math:`m = n` (ML) or :math:`n - p` (REML); ``r2`` is returned floored at the
    smallest positive float (a perfect fit).
    """
    if not r2 > 0:
        r2 = np.finfo(float).tiny
    m = n - p if reml else n
    dev = logdet_a + m * (1.0 + _LOG2PI + np.log(r2 / m))
    if reml:
        dev += logdet_s
    return dev, r2, m


def gaussian_loglik(n: int, sigma: float, logdet_a: float, r2: float) -> float:
    r""":math:`-\tfrac12[n\log(2\pi\sigma^2) + \log|A| + r^2/\sigma^2]`, the LMM log-density."""
    return float(-0.5 * (n * np.log(2 * np.pi * sigma**2) + logdet_a + r2 / sigma**2))


def solve_fixed(S: np.ndarray, c: np.ndarray, *,
                want_inverse: bool) -> tuple[np.ndarray, np.ndarray | None, float]:
    r"""The fixed effects :math:`\hat\beta = S^{-1}c` of the PLS solution.

    Returns ``(beta, S^{-1}, log|S|)``.

    With ``want_inverse`` (REML needs :math:`\log|S|`, the final fit
    :math:`S^{-1}`) by the Cholesky factor of :math:`S`; otherwise a plain
    solve, :math:`S^{-1}` None and :math:`\log|S|` 0. No fixed effects (p = 0):
    empty arrays and 0.
    """
    if len(c) == 0:
        return np.zeros(0), np.zeros((0, 0)), 0.0
    if not want_inverse:
        return np.linalg.solve(S, c), None, 0.0
    cs = np.linalg.cholesky(S)
    ci = np.linalg.inv(cs)
    sinv = ci.T @ ci
    return sinv @ c, sinv, 2.0 * float(np.log(np.diag(cs)).sum())


def block_solve(A: np.ndarray, rhs: np.ndarray) -> tuple[float, np.ndarray]:
    """log|A| summed over blocks and A^{-1} rhs for stacked SPD blocks A (J, q, q).

    Closed forms for q = 1 and q = 2 (the common random-intercept and
    random-slope cases) avoid LAPACK's per-call overhead; larger blocks use
    batched Cholesky and LU solves.
    """
    q = A.shape[1]
    if q == 1:
        d = A[:, 0, 0]
        return float(np.log(d).sum()), rhs / A
    if q == 2:
        a, b, c = A[:, 0, 0], A[:, 0, 1], A[:, 1, 1]
        det = a * c - b * b
        r0, r1 = rhs[:, 0, :], rhs[:, 1, :]
        inv_det = (1.0 / det)[:, None]
        sol = np.empty_like(rhs)
        sol[:, 0, :] = (c[:, None] * r0 - b[:, None] * r1) * inv_det
        sol[:, 1, :] = (a[:, None] * r1 - b[:, None] * r0) * inv_det
        return float(np.log(det).sum()), sol
    chol = np.linalg.cholesky(A)
    logdet = 2.0 * float(np.log(np.diagonal(chol, axis1=1, axis2=2)).sum())
    return logdet, np.linalg.solve(A, rhs)

"""Conditional draws for the Gibbs samplers of ``2l.pan`` and ``2l.norm``.

Model (standardised target, see :mod:`._two_level_stats`):

.. math::

    y_j = X_j \\beta + Z_j b_j + e_j, \\quad b_j \\sim N_q(0, \\Psi), \\quad
    e_j \\sim N(0, \\sigma_j^2 I_{n_j}),

with :math:`w_j = 1/\\sigma_j^2` (all equal for ``2l.pan``). One block draws
:math:`(\\beta, b)` jointly from :math:`p(\\beta, b \\mid \\Psi, \\sigma^2, y)`
under a flat prior on :math:`\\beta`:

1. :math:`\\beta` from its distribution with the random effects integrated out
   (generalised least squares), using per cluster
   :math:`M_j = w_j Z_j^\\top Z_j + \\Psi^{-1}` and Woodbury's identity
   :math:`X_j^\\top V_j^{-1} X_j = w_j X_j^\\top X_j - w_j^2 X_j^\\top Z_j M_j^{-1}
   Z_j^\\top X_j`;
2. :math:`b_j \\mid \\beta \\sim N(M_j^{-1} w_j Z_j^\\top (y_j - X_j\\beta),
   M_j^{-1})`, all clusters at once.

Drawing :math:`\\beta` with :math:`b` integrated out (instead of
:math:`\\beta \\mid b`) removes the strong posterior correlation between the
fixed intercept and the random intercepts, so the chain mixes in a few
iterations (Schafer and Yucel 2002 use the same blocking in pan). Clusters
without observed values have zero statistics and draw :math:`b_j` from
:math:`N(0, \\Psi)`.

Also here: Wishart draws by Bartlett's decomposition and the per-cluster
residual sums of squares.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from mlmice.impute.methods import _batched as batched
from mlmice.impute.methods._lapack import cholesky, inverse_2, solve_triangular
from mlmice.impute.methods._two_level_stats import ClusterStats


def _bartlett(df: float, q: int, rng: np.random.Generator) -> np.ndarray:
    """Lower-triangular Bartlett factor: :math:`A A^\\top \\sim W_q(\\nu, I)`.

    :math:`A_{ii}^2 \\sim \\chi^2_{\\nu - i}` (i = 0..q-1) and :math:`A_{ik} \\sim
    N(0, 1)` below the diagonal (Bartlett 1933). Requires :math:`\\nu > q - 1`.
    """
    A = np.zeros((q, q))
    A.flat[:: q + 1] = np.sqrt(rng.chisquare(df - np.arange(q)))
    if q > 1:
        A[_below_diagonal(q)] = rng.standard_normal(q * (q - 1) // 2)
    return A


@lru_cache(maxsize=8)
def _below_diagonal(q: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.tril_indices(q, -1)``, made once per ``q`` (it costs more than a draw)."""
    return np.tril_indices(q, -1)


def draw_wishart(df: float, scale: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw from the Wishart distribution :math:`W_q(\\nu, S)` (mean :math:`\\nu S`).

    With :math:`S = C C^\\top` (Cholesky) and :math:`A` from :func:`_bartlett`,
    :math:`W = C A A^\\top C^\\top`.
    """
    CA = np.linalg.cholesky(scale) @ _bartlett(df, scale.shape[0], rng)
    return CA @ CA.T


def draw_inverse_wishart(df: float, scale: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """:math:`\\Psi \\sim W^{-1}_q(\\nu, T)`, i.e. :math:`\\Psi^{-1} \\sim W_q(\\nu, T^{-1})`.

    With :math:`T = L L^\\top`, :math:`C = L^{-\\top}` is a square root of
    :math:`T^{-1}`, so :math:`\\Psi^{-1} = C A A^\\top C^\\top` and
    :math:`\\Psi = G^\\top G` with :math:`G = A^{-1} L^\\top` (one Cholesky factor
    and one triangular solve; no matrix inverse).
    """
    if scale.shape == (1, 1):
        return scale / rng.chisquare(df)
    L = cholesky(scale)
    G = solve_triangular(_bartlett(df, scale.shape[0], rng), np.ascontiguousarray(L.T))
    return G.T @ G


def draw_beta_b(stats: ClusterStats, w: np.ndarray, psi: np.ndarray,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Joint draw of :math:`(\\beta, b)` given residual precisions ``w`` (J,) and ``psi``.

    Returns
    -------
    beta : ndarray (p,)
    b : ndarray (J, q)
    """
    ztz, ztx, zty = stats.ztz, stats.ztx, stats.zty
    J, q = zty.shape
    if q == 1:
        return _draw_beta_b_intercept(stats, w, float(psi[0, 0]), rng)
    psi_inv = inverse_2(psi) if q == 2 else np.linalg.inv(psi)
    p = ztx.shape[2]
    M = w[:, None, None] * ztz + psi_inv                       # (J, q, q)
    L = batched.cholesky(M)                                    # M = L L'
    K = batched.solve_lower(L, w[:, None, None] * ztx)         # L^{-1} w Z'X  (J, q, p)
    k = batched.solve_lower(L, (w[:, None] * zty)[:, :, None])[..., 0]   # (J, q)
    flat = K.reshape(-1, p)
    if np.all(w == w[0]):
        prec = w[0] * stats.xtx_total - flat.T @ flat
        rhs = w[0] * stats.xty_total - flat.T @ k.reshape(-1)
    else:
        prec = np.einsum("j,jab->ab", w, stats.xtx) - flat.T @ flat
        rhs = w @ stats.xty - flat.T @ k.reshape(-1)
    beta = _draw_gaussian_precision(prec, rhs, rng)
    # b_j | beta: mean M^{-1} w Z'(y - X beta) = L^{-T} (k - K beta); noise L^{-T} z
    r = k - K @ beta + rng.standard_normal((J, q))
    b = batched.solve_lower_t(L, r[:, :, None])[..., 0]
    return beta, b


def _draw_gaussian_precision(prec: np.ndarray, rhs: np.ndarray,
                             rng: np.random.Generator) -> np.ndarray:
    """Draw from :math:`N(P^{-1} r, P^{-1})` via the Cholesky factor of ``P``.

    With :math:`P = R R^\\top`: :math:`R^{-\\top}(R^{-1} r + z)`, :math:`z \\sim N(0, I)`,
    has mean :math:`P^{-1} r` and covariance :math:`R^{-\\top} R^{-1} = P^{-1}`.
    """
    R = cholesky(prec)
    z = rng.standard_normal(rhs.size)
    return solve_triangular(R, solve_triangular(R, rhs) + z, transpose=True)


def _draw_beta_b_intercept(stats: ClusterStats, w: np.ndarray, psi: float,
                           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """:func:`draw_beta_b` for a random intercept only (``q = 1``): scalar blocks."""
    ztz = stats.ztz[:, 0, 0]
    ztx = stats.ztx[:, 0, :]
    zty = stats.zty[:, 0]
    L = np.sqrt(w * ztz + 1.0 / psi)                           # (J,)
    K = (w / L)[:, None] * ztx                                 # (J, p)
    k = w * zty / L
    if np.all(w == w[0]):
        prec = w[0] * stats.xtx_total - K.T @ K
        rhs = w[0] * stats.xty_total - K.T @ k
    else:
        prec = np.einsum("j,jab->ab", w, stats.xtx) - K.T @ K
        rhs = w @ stats.xty - K.T @ k
    beta = _draw_gaussian_precision(prec, rhs, rng)
    b = (k - K @ beta + rng.standard_normal(L.size)) / L
    return beta, b[:, None]


def draw_b(stats: ClusterStats, w: np.ndarray, psi: np.ndarray, beta: np.ndarray,
           rng: np.random.Generator) -> np.ndarray:
    """Draw every :math:`b_j \\mid \\beta, \\Psi, w_j, y_j` (J, q).

    :math:`b_j \\sim N(M_j^{-1} w_j Z_j^\\top (y_j - X_j \\beta), M_j^{-1})` with
    :math:`M_j = w_j Z_j^\\top Z_j + \\Psi^{-1}`; the prior :math:`N(0, \\Psi)` for
    clusters without observed rows.
    """
    q = psi.shape[0]
    M = w[:, None, None] * stats.ztz + np.linalg.inv(psi)
    L = batched.cholesky(M)
    r = w[:, None] * (stats.zty - stats.ztx @ beta)                  # (J, q)
    k = batched.solve_lower(L, r[:, :, None])[..., 0]
    noise = rng.standard_normal((r.shape[0], q))
    return batched.solve_lower_t(L, (k + noise)[:, :, None])[..., 0]


def draw_gaussian(mean: np.ndarray, cov: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw from :math:`N(\\mu, \\Sigma)` via a Cholesky factor (eigen-based if semidefinite)."""
    try:
        C = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh((cov + cov.T) / 2.0)
        C = vecs * np.sqrt(np.clip(vals, 0.0, None))
    return mean + C @ rng.standard_normal(mean.size)


def draw_gaussian_batched(mean: np.ndarray, cov: np.ndarray, rng: np.random.Generator,
                          ridge: float = 1e-10) -> np.ndarray:
    """Draw one vector per row of ``mean`` (J, q) from :math:`N(mean_j, cov_j)` (J, q, q)."""
    q = mean.shape[1]
    L = batched.cholesky(cov + ridge * np.eye(q))
    z = rng.standard_normal(mean.shape)
    return mean + np.einsum("jab,jb->ja", L, z)


def residual_ss(stats: ClusterStats, beta: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-cluster :math:`\\|y_j - X_j\\beta - Z_j b_j\\|^2` from the cross-products (J,)."""
    zi = stats.z_index
    full = np.zeros((b.shape[0], stats.xtx.shape[1]))
    full += beta
    full[:, zi] += b                     # cluster coefficients: beta + b_j on the Z columns
    xtx_c = np.einsum("jab,jb->ja", stats.xtx, full)
    ss = stats.yty - 2.0 * np.einsum("ja,ja->j", stats.xty, full) + np.einsum("ja,ja->j",
                                                                              full, xtx_c)
    return np.maximum(ss, 0.0)

r"""Marginal log-likelihood of a linear (mixed) model at given parameters.

For D3 (Meng and Rubin 1992) the log-likelihood of every imputed data set is
evaluated at the *pooled* parameters, not at that data set's own estimates.
For the linear mixed model

.. math::

    y = X\beta + Z b + \varepsilon, \quad b \sim N(0, G), \quad
    \varepsilon \sim N(0, \sigma^2 I), \quad V = \sigma^2 I + Z G Z^\top,

    \ell(\beta, G, \sigma^2) = -\tfrac12 \left(n \log 2\pi + \log|V|
        + r^\top V^{-1} r\right), \quad r = y - X\beta.

With :math:`G = L L^\top` (``L`` from the eigen-decomposition, so a singular
``G`` is fine) and :math:`M = I + L^\top Z^\top Z L / \sigma^2`, the matrix
determinant lemma and the Woodbury identity give

.. math::

    \log|V| = n \log\sigma^2 + \log|M|, \qquad
    r^\top V^{-1} r = \frac{1}{\sigma^2}\left(r^\top r -
        \frac{w^\top M^{-1} w}{\sigma^2}\right), \quad w = L^\top Z^\top r.

With one grouping factor ``V`` is block diagonal by cluster and both terms
are sums of ``q x q`` problems, solved for all clusters at once. This is the
quantity lme4's ``devfun2`` returns (as ``-2 log L``) for an ML fit, and the
one ``mitml:::.getUserLL.lmerMod`` evaluates for D3; for a linear model
(no ``Z``) it is :math:`-\tfrac n2 \log(2\pi\sigma^2) - r^\top r / (2\sigma^2)`
(``mitml:::.logLik_lm``).

References
----------
Meng, X.-L. and Rubin, D. B. (1992). Performing likelihood ratio tests with
multiply-imputed data sets. *Biometrika* 79(1), 103-111.
Bates, D., Maechler, M., Bolker, B. and Walker, S. (2015). Fitting linear
mixed-effects models using lme4. *JSS* 67(1), section 3.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Largest total number of random effects for the dense path (several grouping factors).
MAX_DENSE_EFFECTS = 6000


def _factor(G: np.ndarray) -> np.ndarray:
    """``L`` with ``L L' = G`` for a symmetric positive semi-definite ``G``."""
    vals, vecs = np.linalg.eigh((G + G.T) / 2.0)
    if vals.min(initial=0.0) < -1e-10 * max(1.0, abs(vals).max(initial=0.0)):
        raise ValueError(f"random-effects covariance matrix is not positive semi-definite "
                         f"(eigenvalues {vals})")
    return vecs * np.sqrt(np.clip(vals, 0.0, None))


def lm_loglik(y: np.ndarray, X: np.ndarray, beta: np.ndarray, sigma2: float) -> float:
    """Normal linear-model log-likelihood at ``(beta, sigma2)``."""
    r = np.asarray(y, float) - np.asarray(X, float) @ np.asarray(beta, float)
    n = r.size
    return float(-0.5 * n * np.log(2.0 * np.pi * sigma2) - (r @ r) / (2.0 * sigma2))


def lmm_loglik(y: np.ndarray, X: np.ndarray, beta: np.ndarray, blocks: Sequence,
               covariances: Sequence[np.ndarray], sigma2: float) -> float:
    """Marginal log-likelihood of a linear mixed model at given parameters.

    Parameters
    ----------
    y : ndarray (n,)
    X : ndarray (n, p)
    beta : ndarray (p,)
    blocks : sequence of objects with ``Z`` (n, q_b) and ``codes`` (n,) int
        One per random-effects term (:class:`mlmice.design.RandomBlock`).
    covariances : sequence of ndarray (q_b, q_b)
        Covariance matrix of each term's random effects, in the order of
        ``blocks`` (absolute scale, e.g. the ``VarCorr`` matrices).
    sigma2 : float
        Residual variance.
    """
    if len(blocks) != len(covariances):
        raise ValueError(f"{len(blocks)} random-effects terms but {len(covariances)} "
                         "covariance matrices")
    if not sigma2 > 0:
        raise ValueError(f"sigma2 == {sigma2}, must be > 0")
    r = np.asarray(y, float) - np.asarray(X, float) @ np.asarray(beta, float)
    n = r.size
    if not blocks:
        return lm_loglik(y, X, beta, sigma2)
    codes0 = np.asarray(blocks[0].codes)
    if all(np.array_equal(np.asarray(b.codes), codes0) for b in blocks[1:]):
        Z = np.hstack([np.asarray(b.Z, float) for b in blocks])
        G = _block_diag([np.atleast_2d(np.asarray(c, float)) for c in covariances])
        logdet_m, quad_m = _one_factor(r, Z, codes0, G, sigma2)
    else:
        logdet_m, quad_m = _dense(r, blocks, covariances, sigma2)
    logdet = n * np.log(sigma2) + logdet_m
    quad = (r @ r - quad_m / sigma2) / sigma2
    return float(-0.5 * (n * np.log(2.0 * np.pi) + logdet + quad))


def _block_diag(mats: list[np.ndarray]) -> np.ndarray:
    q = sum(m.shape[0] for m in mats)
    out = np.zeros((q, q))
    i = 0
    for mat in mats:
        k = mat.shape[0]
        out[i:i + k, i:i + k] = mat
        i += k
    return out


def _one_factor(r, Z, codes, G, sigma2) -> tuple[float, float]:
    """``log|M|`` and ``w' M^-1 w`` summed over the clusters of one grouping factor."""
    codes = np.asarray(codes, dtype=np.intp)
    J = int(codes.max()) + 1
    q = Z.shape[1]
    L = _factor(G)
    ZL = Z @ L                                            # (n, q)
    A = np.zeros((J, q, q))
    np.add.at(A, codes, ZL[:, :, None] * ZL[:, None, :])
    w = np.zeros((J, q))
    np.add.at(w, codes, ZL * r[:, None])
    M = np.eye(q)[None, :, :] + A / sigma2
    C = np.linalg.cholesky(M)
    logdet = 2.0 * np.log(np.diagonal(C, axis1=1, axis2=2)).sum()
    u = np.linalg.solve(C, w[:, :, None])[:, :, 0]        # C u = w
    return float(logdet), float((u * u).sum())


def _dense(r, blocks, covariances, sigma2) -> tuple[float, float]:
    """Same as :func:`_one_factor` for crossed or nested grouping factors (dense)."""
    cols = []
    for b, G in zip(blocks, covariances, strict=True):
        codes = np.asarray(b.codes, dtype=np.intp)
        J = int(codes.max()) + 1
        ZL = np.asarray(b.Z, float) @ _factor(np.atleast_2d(np.asarray(G, float)))
        q = ZL.shape[1]
        full = np.zeros((r.size, J * q))
        rows = np.arange(r.size)
        for k in range(q):
            full[rows, codes * q + k] = ZL[:, k]
        cols.append(full)
    ZL = np.hstack(cols)
    if ZL.shape[1] > MAX_DENSE_EFFECTS:
        raise ValueError(f"{ZL.shape[1]} random effects over several grouping factors: too "
                         f"many for the dense log-likelihood (limit {MAX_DENSE_EFFECTS})")
    M = np.eye(ZL.shape[1]) + ZL.T @ ZL / sigma2
    C = np.linalg.cholesky(M)
    u = np.linalg.solve(C, ZL.T @ r)
    return float(2.0 * np.log(np.diag(C)).sum()), float(u @ u)

r"""Logistic regression by iteratively reweighted least squares (R's ``glm.fit``).

The single-level model behind the ``logreg`` imputation method and the start of
``glmer``'s fixed effects: :math:`\Pr(y_i = 1) = \operatorname{logit}^{-1}(x_i^\top\beta)`,
fitted by Fisher scoring with step halving (McCullagh and Nelder 1989, section 2.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg
from scipy.special import expit, log_expit

__all__ = ["LogisticFit", "bernoulli_deviance", "fit_logistic"]


def bernoulli_deviance(y: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Per-observation deviance ``-2 log p(y | eta)`` for 0/1 ``y``, computed stably."""
    return -2.0 * log_expit((2.0 * y - 1.0) * eta)


@dataclass(frozen=True)
class LogisticFit:
    """Weighted maximum-likelihood logistic regression.

    Attributes
    ----------
    coef : ndarray (p,)
    cov_unscaled : ndarray (p, p)
        :math:`(X^\\top W X)^{-1}` at ``coef`` (R's ``summary.glm()$cov.unscaled``).
    converged : bool
    iterations : int
    """

    coef: np.ndarray
    cov_unscaled: np.ndarray
    converged: bool
    iterations: int


def _binomial_deviance(y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> float:
    mu = np.clip(mu, 1e-300, 1 - 1e-16)
    return float(-2.0 * np.sum(w * (y * np.log(mu) + (1.0 - y) * np.log1p(-mu))))


def fit_logistic(X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None, *,
                 max_iter: int = 25, tol: float = 1e-8) -> LogisticFit:
    r"""Logistic regression by IRLS with step halving (as R's ``glm.fit``).

    Start :math:`\mu = (w y + 1/2) / (w + 1)`; iterate the weighted least
    squares step on the working response
    :math:`z = \eta + (y - \mu) / (\mu(1 - \mu))` with weights
    :math:`w \mu (1 - \mu)` until the relative change in deviance is below
    ``tol``; halve a step that increases the deviance.

    Parameters
    ----------
    X : ndarray (n, p), full column rank
    y : ndarray (n,) of 0/1 (fractions allowed)
    weights : ndarray (n,), optional prior weights (default 1)
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float)
    mu = (w * y + 0.5) / (w + 1.0)
    eta = np.log(mu / (1.0 - mu))
    beta = np.linalg.lstsq(X, eta, rcond=None)[0]
    eta = X @ beta
    mu = expit(eta)
    dev = _binomial_deviance(y, mu, w)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - iteration count reported
        var = np.clip(mu * (1.0 - mu), 1e-10, None)
        ww = w * var
        zz = eta + (y - mu) / var
        sw = np.sqrt(ww)
        new = np.linalg.lstsq(X * sw[:, None], zz * sw, rcond=None)[0]
        step = new - beta
        for _ in range(30):
            cand = beta + step
            eta_c = X @ cand
            mu_c = expit(eta_c)
            dev_c = _binomial_deviance(y, mu_c, w)
            if np.isfinite(dev_c) and dev_c <= dev + 1e-10 * (abs(dev) + 1):
                break
            step = step / 2.0
        beta, eta, mu = cand, eta_c, mu_c
        done = abs(dev_c - dev) / (abs(dev_c) + 0.1) < tol
        dev = dev_c
        if done:
            converged = True
            break
    var = np.clip(mu * (1.0 - mu), 1e-10, None)
    info = X.T @ (X * (w * var)[:, None])
    cov = _spd_inverse(info)
    return LogisticFit(coef=beta, cov_unscaled=cov, converged=converged, iterations=it)


def _spd_inverse(a: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive (semi)definite matrix, jittered if needed."""
    if a.shape[0] == 0:
        return a.copy()
    a = 0.5 * (a + a.T)
    jitter = 0.0
    scale = float(np.mean(np.abs(np.diag(a)))) or 1.0
    for _ in range(12):
        try:
            c = linalg.cho_factor(a + jitter * np.eye(a.shape[0]), lower=True)
            return linalg.cho_solve(c, np.eye(a.shape[0]))
        except linalg.LinAlgError:
            jitter = scale * 1e-10 if jitter == 0.0 else jitter * 100.0
    raise linalg.LinAlgError("information matrix is not positive definite")  # pragma: no cover

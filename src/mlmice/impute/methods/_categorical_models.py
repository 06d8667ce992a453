r"""Weighted maximum-likelihood fits for a categorical target: multinomial and ordinal logit.

What ``nnet::multinom`` and ``MASS::polr`` compute for mice's ``polyreg`` and
``polr`` (Venables and Ripley 2002, sections 7.3 and 16.3), on the observed rows
plus the augmentation of :mod:`._augment`.

Multinomial logit (baseline category 0, as ``multinom``): for classes
:math:`c = 0, \dots, C-1`,

.. math:: \Pr(y_i = c \mid x_i) = \frac{\exp(x_i^\top \beta_c)}{\sum_{d} \exp(x_i^\top
          \beta_d)}, \qquad \beta_0 = 0,

fitted by Newton-Raphson with step halving on the weighted log-likelihood
(:math:`x_i` includes the intercept). Its Hessian is
:math:`-\sum_i w_i (\operatorname{diag}(\pi_i) - \pi_i\pi_i^\top) \otimes x_i x_i^\top`
over the non-baseline classes; the fit returns its inverse as the covariance.

Proportional odds (``polr`` with the logit link): for ordered classes,

.. math:: \Pr(y_i \le c \mid x_i) = F(\zeta_c - x_i^\top \beta), \qquad
          \zeta_0 < \zeta_1 < \dots < \zeta_{C-2},

:math:`F` the logistic distribution function and :math:`x_i` without an
intercept. Like ``polr`` the cut-points are optimised as
:math:`\zeta_0 = \alpha`, :math:`\zeta_c = \alpha + \sum_{m \le c} e^{\delta_m}`, so
they stay ordered; minimised by BFGS (:func:`mlmice.mixed.optim.bfgs`) with the
analytic gradient, from :math:`\beta = 0` and the cut-points of the marginal
proportions. The covariance of :math:`(\beta, \zeta)` is the inverse of the
observed information (central differences of the gradient, mapped to
:math:`\zeta`).

References
----------
Venables, W. N. and Ripley, B. D. (2002). *Modern Applied Statistics with S*, 4th
ed. Springer.
McCullagh, P. (1980). Regression models for ordinal data. JRSS B 42(2), 109-142.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, log_expit

from mlmice.mixed.optim import bfgs

__all__ = ["MultinomialFit", "OrdinalFit", "fit_multinomial", "fit_ordinal"]


@dataclass
class MultinomialFit:
    """``coef`` (p, C-1): the non-baseline classes' coefficients; ``cov`` of their
    column-wise stacking (class by class); ``converged``, ``iterations``."""

    coef: np.ndarray
    cov: np.ndarray
    converged: bool
    iterations: int

    def probabilities(self, X: np.ndarray, coef: np.ndarray | None = None) -> np.ndarray:
        """Class probabilities ``(n, C)`` at ``X`` (intercept included)."""
        return _softmax(X @ (self.coef if coef is None else coef))


@dataclass
class OrdinalFit:
    """``beta`` (p,), ``zeta`` (C-1,) ordered cut-points, ``cov`` of ``(beta, zeta)``."""

    beta: np.ndarray
    zeta: np.ndarray
    cov: np.ndarray
    converged: bool
    iterations: int

    def probabilities(self, x: np.ndarray, beta: np.ndarray | None = None,
                      zeta: np.ndarray | None = None) -> np.ndarray:
        """Class probabilities ``(n, C)`` at ``x`` (no intercept)."""
        beta = self.beta if beta is None else beta
        zeta = np.sort(self.zeta if zeta is None else zeta)
        cum = expit(zeta[None, :] - (x @ beta)[:, None])
        cum = np.hstack([np.zeros((cum.shape[0], 1)), cum, np.ones((cum.shape[0], 1))])
        return np.clip(np.diff(cum, axis=1), 0.0, 1.0)


def _softmax(eta: np.ndarray) -> np.ndarray:
    full = np.hstack([np.zeros((eta.shape[0], 1)), eta])
    full -= full.max(axis=1, keepdims=True)
    e = np.exp(full)
    return e / e.sum(axis=1, keepdims=True)


def fit_multinomial(X: np.ndarray, y: np.ndarray, w: np.ndarray, *, n_classes: int,
                    max_iter: int = 100, tol: float = 1e-10) -> MultinomialFit:
    """Weighted multinomial logit by Newton-Raphson (module docstring).

    Parameters
    ----------
    X : ndarray (n, p), intercept included
    y : ndarray (n,) of int classes 0 .. n_classes-1
    w : ndarray (n,) weights
    n_classes : int
    """
    n, p = X.shape
    C1 = n_classes - 1
    Y = (np.asarray(y)[:, None] == np.arange(1, n_classes)[None, :]).astype(float)
    rows = np.arange(n)
    y = np.asarray(y, dtype=int)

    def loglik(B):
        P = _softmax(X @ B)
        return float(w @ np.log(np.maximum(P[rows, y], 1e-300))), P

    B = np.zeros((p, C1))
    ll, P = loglik(B)
    converged, it = False, 0
    H = np.zeros((p * C1, p * C1))
    for it in range(1, max_iter + 1):  # noqa: B007
        Pk = P[:, 1:]
        g = (X.T @ (w[:, None] * (Y - Pk))).T.ravel()          # class by class
        for k in range(C1):
            for m in range(k, C1):
                v = w * Pk[:, k] * ((k == m) - Pk[:, m])
                block = X.T @ (v[:, None] * X)
                H[k * p:(k + 1) * p, m * p:(m + 1) * p] = block
                H[m * p:(m + 1) * p, k * p:(k + 1) * p] = block
        step = np.linalg.solve(H, g).reshape(C1, p).T
        t = 1.0
        while True:
            new_ll, new_P = loglik(B + t * step)
            if new_ll >= ll - 1e-12 * abs(ll) or t < 1e-8:
                break
            t *= 0.5
        B = B + t * step
        done = abs(new_ll - ll) <= tol * (abs(ll) + tol)
        ll, P = new_ll, new_P
        if done and np.max(np.abs(g)) < 1e-5 * max(1.0, float(w.sum())):
            converged = True
            break
    cov = np.linalg.inv(H)
    return MultinomialFit(coef=B, cov=0.5 * (cov + cov.T), converged=converged, iterations=it)


def _zeta(theta_cuts: np.ndarray) -> np.ndarray:
    return theta_cuts[0] + np.concatenate([[0.0], np.cumsum(np.exp(theta_cuts[1:]))])


def fit_ordinal(x: np.ndarray, y: np.ndarray, w: np.ndarray, *, n_classes: int
                ) -> OrdinalFit:
    """Weighted proportional-odds logit (module docstring).

    Parameters
    ----------
    x : ndarray (n, p), no intercept
    y : ndarray (n,) of int ordered classes 0 .. n_classes-1
    w : ndarray (n,) weights
    n_classes : int, at least 2
    """
    n, p = x.shape
    y = np.asarray(y, dtype=int)
    C1 = n_classes - 1
    lower, upper = y - 1, y                        # the class's cut-points (-inf/inf at ends)

    def negloglik(theta):
        beta, zeta = theta[:p], _zeta(theta[p:])
        eta = x @ beta
        zl = np.where(lower >= 0, zeta[np.clip(lower, 0, C1 - 1)] - eta, -np.inf)
        zu = np.where(upper < C1, zeta[np.clip(upper, 0, C1 - 1)] - eta, np.inf)
        Fu, Fl = expit(zu), expit(zl)
        prob = np.maximum(Fu - Fl, 1e-300)
        # log P via the better-conditioned tail where one bound is infinite
        logp = np.where(np.isinf(zl), log_expit(zu),
                        np.where(np.isinf(zu), log_expit(-zl), np.log(prob)))
        fu, fl = Fu * (1 - Fu), Fl * (1 - Fl)
        d_eta = -(fu - fl) / prob                  # d log P / d eta
        g_beta = x.T @ (w * d_eta)
        g_zeta = np.zeros(C1)
        np.add.at(g_zeta, upper[upper < C1], (w * fu / prob)[upper < C1])
        np.add.at(g_zeta, lower[lower >= 0], -(w * fl / prob)[lower >= 0])
        # chain rule to (alpha, delta): zeta_c = alpha + sum_{m <= c} exp(delta_m)
        g_alpha = g_zeta.sum()
        g_delta = np.exp(theta[p + 1:]) * np.cumsum(g_zeta[::-1])[::-1][1:]
        grad = np.concatenate([g_beta, [g_alpha], g_delta])
        return -float(w @ logp), -grad

    cum = np.cumsum(np.bincount(y, weights=w, minlength=n_classes))[:-1] / w.sum()
    cum = np.clip(cum, 1e-4, 1 - 1e-4)
    zeta0 = np.maximum.accumulate(np.log(cum / (1 - cum)))
    gaps = np.maximum(np.diff(zeta0), 1e-3)
    theta0 = np.concatenate([np.zeros(p), [zeta0[0]], np.log(gaps)])
    res = bfgs(negloglik, theta0, gtol=1e-8, ftol=1e-14, maxiter=500)
    theta = res.x
    # observed information of (beta, alpha, delta) by central differences, then to zeta
    k = theta.size
    info = np.empty((k, k))
    for j in range(k):
        h = 1e-5 * max(1.0, abs(theta[j]))
        e = np.zeros(k)
        e[j] = h
        info[:, j] = (negloglik(theta + e)[1] - negloglik(theta - e)[1]) / (2 * h)
    info = 0.5 * (info + info.T)
    J = np.zeros((p + C1, k))                      # d(beta, zeta) / d(beta, alpha, delta)
    J[:p, :p] = np.eye(p)
    J[p:, p] = 1.0
    for m in range(1, C1):
        J[p + m:, p + m] = np.exp(theta[p + m])
    cov = J @ np.linalg.inv(info) @ J.T
    return OrdinalFit(beta=theta[:p], zeta=_zeta(theta[p:]), cov=0.5 * (cov + cov.T),
                      converged=bool(res.success), iterations=int(res.nit))

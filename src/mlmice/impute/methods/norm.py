"""``norm``: Bayesian linear regression imputation (mice's ``norm``).

Model: :math:`y = X\\beta + \\varepsilon`, :math:`\\varepsilon \\sim N(0, \\sigma^2)`,
with the non-informative prior :math:`p(\\beta, \\sigma^2) \\propto \\sigma^{-2}`.
One proper draw (Rubin 1987, *Multiple Imputation for Nonresponse in
Surveys*, p. 167; van Buuren 2018, *Flexible Imputation of Missing Data*,
algorithm 3.1):

1. :math:`\\hat\\beta = (X_o'X_o + \\kappa\\,\\mathrm{diag}(X_o'X_o))^{-1} X_o' y_o`
   with a tiny ridge :math:`\\kappa = 10^{-5}` (as mice) for stability;
2. :math:`\\sigma_*^2 = \\hat e'\\hat e / g`, :math:`g \\sim \\chi^2_{n_o - p}`;
3. :math:`\\beta_* = \\hat\\beta + \\sigma_* R^{-1} z`, :math:`z \\sim N(0, I_p)`,
   where :math:`R'R = X_o'X_o` (so :math:`\\mathrm{cov}(\\beta_*) = \\sigma_*^2 (X_o'X_o)^{-1}`);
4. :math:`\\dot y_{mis} = X_m \\beta_* + \\sigma_* \\dot z`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve, solve_triangular

from mlmice.impute.methods.base import ImputationMethod, MethodInput, MethodResult, register_method

__all__ = ["BayesDraw", "bayes_linear_draw", "Norm", "with_intercept"]


@dataclass(frozen=True)
class BayesDraw:
    """Result of :func:`bayes_linear_draw`: point estimate and one posterior draw."""

    beta_hat: np.ndarray
    beta_star: np.ndarray
    sigma_star: float


def with_intercept(x: np.ndarray) -> np.ndarray:
    """``[1, x]``."""
    x = np.asarray(x, dtype=float)
    return np.hstack([np.ones((x.shape[0], 1)), x.reshape(x.shape[0], -1)])


def bayes_linear_draw(X: np.ndarray, y: np.ndarray, rng: np.random.Generator, *,
                      ridge: float = 1e-5) -> BayesDraw:
    """Draw :math:`(\\beta_*, \\sigma_*)` from the posterior of a normal linear model.

    Parameters
    ----------
    X : ndarray of shape (n, p)
        Design including the intercept column (rows = observed cases).
    y : ndarray of shape (n,)
    rng : numpy.random.Generator
        Consumes one chi-square and ``p`` standard normal draws, in that order.
    ridge : float
        :math:`\\kappa` in the module docstring.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, p = X.shape
    xtx = X.T @ X
    xtx[np.diag_indices(p)] *= 1.0 + ridge
    factor = cho_factor(xtx, lower=False, check_finite=False)
    beta_hat = cho_solve(factor, X.T @ y, check_finite=False)
    resid = y - X @ beta_hat
    df = max(n - p, 1)
    sigma_star = float(np.sqrt((resid @ resid) / rng.chisquare(df)))
    upper = np.triu(factor[0])
    z = rng.standard_normal(p)
    beta_star = beta_hat + sigma_star * solve_triangular(upper, z, lower=False,
                                                         check_finite=False)
    return BayesDraw(beta_hat=beta_hat, beta_star=beta_star, sigma_star=sigma_star)


@register_method("norm")
class Norm(ImputationMethod):
    """Bayesian linear regression imputation (see the module docstring)."""

    options = {"ridge": (1e-5, "ridge penalty of the Bayesian regression draw")}

    level = "1"

    def impute(self, data: MethodInput, rng: np.random.Generator) -> MethodResult:
        X = with_intercept(data.x)
        draw = bayes_linear_draw(X[data.ry], data.y[data.ry], rng,
                                 ridge=data.options.get("ridge", 1e-5))
        xm = X[data.wy]
        values = xm @ draw.beta_star + draw.sigma_star * rng.standard_normal(xm.shape[0])
        return MethodResult(values=values)

r"""Ordinary least squares with the fit-result API of :func:`mlmice.lmer`.

``lm("y ~ x", data)`` is R's ``lm``: :math:`\hat\beta = (X^\top X)^{-1}X^\top y`
through a QR decomposition :math:`X = QR`, residual variance
:math:`\hat\sigma^2 = \mathrm{RSS}/(n - p)`,
:math:`\mathrm{vcov}(\hat\beta) = \hat\sigma^2 (R^\top R)^{-1}` and R's
``logLik.lm``

.. math:: \ell = -\tfrac n2\left[\log(2\pi) + 1 - \log n + \log \mathrm{RSS}\right]

with ``df = p + 1`` parameters for AIC and BIC. ``tidy()`` follows
``broom::tidy(lm, conf.int = TRUE)`` (t statistics, p-values and t intervals
on ``n - p`` degrees of freedom) with the mixed models' ``effect`` and
``group`` columns added, so tables from ``lm`` and ``lmer`` stack.

Rows with missing values are dropped (``na.omit``); rank-deficient columns are
dropped with a warning naming them (R keeps them as ``NA`` coefficients).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import linalg

from mlmice._distributions import t_ppf, t_sf
from mlmice._results import FitResultMixin, coef_vector, residual_sd
from mlmice.design import model_frame

__all__ = ["LmResult", "lm", "ols"]


@dataclass
class LmResult(FitResultMixin):
    """A fitted linear model (what R's ``lm`` returns), same API as ``LmerResult``.

    ``fixef``, ``se``, ``vcov``, ``dfcom``, ``aic`` and ``bic`` come from
    :class:`~mlmice._results.FitResultMixin`; ``df_residual`` is :math:`n - p`.
    """

    beta: np.ndarray
    x_names: list[str]
    y: np.ndarray
    fitted: np.ndarray
    rss: float
    xtx_inv: np.ndarray
    formula: str | None = None
    n_dropped: int = 0
    index: pd.Index | None = None
    extras: dict = field(default_factory=dict)
    X: np.ndarray | None = None

    converged: bool = True
    singular: bool = False
    reml: bool = False

    @property
    def nobs(self) -> int:
        return len(self.y)

    @property
    def n_fixed(self) -> int:
        return len(self.beta)

    @property
    def df_residual(self) -> int:
        """n - p (R's ``df.residual``; mice's ``dfcom``)."""
        return self.nobs - self.n_fixed

    @property
    def sigma(self) -> float:
        """Residual standard error ``sqrt(RSS / (n - p))`` (R's ``sigma(fit)``)."""
        return float(np.sqrt(self.rss / self.df_residual))

    @property
    def residual_var(self) -> float:
        return self.sigma**2

    @cached_property
    def vcov_beta(self) -> np.ndarray:
        return self.sigma**2 * self.xtx_inv

    @property
    def residuals(self) -> np.ndarray:
        return self.y - self.fitted

    @cached_property
    def varcorr(self) -> pd.DataFrame:
        """The residual variance in the layout of ``as.data.frame(VarCorr(fit))``."""
        return pd.DataFrame([("Residual", None, None, self.sigma**2, self.sigma)],
                            columns=["grp", "var1", "var2", "vcov", "sdcor"])

    @property
    def ngroups(self) -> dict[str, int]:
        return {}

    @property
    def df(self) -> int:
        """Number of parameters, ``attr(logLik(fit), "df")`` = p + 1."""
        return self.n_fixed + 1

    @property
    def loglik(self) -> float:
        """R's ``logLik.lm`` (ML, sigma^2 = RSS / n)."""
        n = self.nobs
        return float(-0.5 * n * (np.log(2 * np.pi) + 1.0 - np.log(n) + np.log(self.rss)))

    @property
    def deviance(self) -> float:
        """R's ``deviance(lm)``: the residual sum of squares."""
        return self.rss

    def tidy(self, conf_int: bool = True, conf_level: float = 0.95) -> pd.DataFrame:
        """``broom::tidy(fit, conf.int = TRUE)`` plus ``effect``/``group`` columns.

        Columns: effect ("fixed"), group (missing), term, estimate, std_error,
        statistic (t), p_value, conf_low, conf_high (t intervals, n - p df).
        """
        est = self.beta
        se = self.se.to_numpy()
        t = est / se
        df = self.df_residual
        out = pd.DataFrame({"effect": "fixed", "group": None, "term": self.x_names,
                            "estimate": est, "std_error": se, "statistic": t,
                            "p_value": 2 * t_sf(np.abs(t), df)})
        if conf_int:
            q = t_ppf((1 + conf_level) / 2, df)
            out["conf_low"] = est - q * se
            out["conf_high"] = est + q * se
        out["group"] = out["group"].astype(object)
        return out

    def loglik_at(self, fixef=None, covariances=None, sigma2: float | None = None, *,
                  beta=None, sigma: float | None = None) -> float:
        """Gaussian log-likelihood of this fit's data at other parameters (mitml's D3).

        :math:`-\\tfrac n2 \\log(2\\pi\\sigma^2) - \\|y - X\\beta\\|^2 / (2\\sigma^2)`;
        ``covariances`` must be empty (a linear model has no random effects).
        """
        if covariances:
            raise ValueError("a linear model has no random-effects covariances")
        b = coef_vector(fixef if beta is None else beta, self.x_names, argument="fixef")
        b = np.asarray(b, dtype=float)
        sigma = residual_sd(sigma, sigma2)
        if self.X is None:
            raise ValueError("this result keeps no design matrix")
        e = self.y - self.X @ b
        n = self.nobs
        return float(-0.5 * n * np.log(2 * np.pi * sigma**2) - 0.5 * (e @ e) / sigma**2)

    def __repr__(self) -> str:
        return f"<LmResult nobs={self.nobs} loglik={self.loglik:.4f}>"


def ols(X, y, *, x_names=None) -> LmResult:
    """OLS on raw arrays (no formula): ``X`` of shape (n, p) incl. any intercept column.

    Raises
    ------
    ValueError
        If ``n <= p`` or ``X`` is rank deficient.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, p = X.shape
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},), got {y.shape}")
    if n <= p:
        raise ValueError(f"{n} observations for {p} coefficients: no residual degrees of "
                         "freedom")
    names = list(x_names) if x_names is not None else [f"x{i}" for i in range(p)]
    if p == 0:
        return LmResult(beta=np.zeros(0), x_names=names, y=y, fitted=np.zeros(n),
                        rss=float(y @ y), xtx_inv=np.zeros((0, 0)), X=X)
    Q, R = linalg.qr(X, mode="economic")
    d = np.abs(np.diag(R))
    if d.min() <= 1e-10 * d.max():
        raise ValueError("X is rank deficient; drop the aliased columns "
                         "(mlmice.design.drop_rank_deficient)")
    beta = linalg.solve_triangular(R, Q.T @ y)
    rinv = linalg.solve_triangular(R, np.eye(p))
    fitted = X @ beta
    resid = y - fitted
    return LmResult(beta=beta, x_names=names, y=y, fitted=fitted, rss=float(resid @ resid),
                    xtx_inv=rinv @ rinv.T, X=X)


def lm(formula: str, data: pd.DataFrame, *, factors=None) -> LmResult:
    """Fit a linear model as R's ``lm(formula, data)``.

    Parameters
    ----------
    formula : str
        Formula without random terms, e.g. ``"popularity ~ 1"`` or ``"y ~ a*b + I(x^2)"``.
    data : pandas.DataFrame
        Rows missing any variable of the formula are dropped (``result.n_dropped``).
    factors : str or iterable of str, optional
        Numeric columns to treat as factors.

    Returns
    -------
    LmResult
    """
    mf = model_frame(formula, data, factors=factors)
    if mf.random:
        raise ValueError(f"formula {formula!r} has random-effects terms "
                         f"({', '.join(b.term.text for b in mf.random)}); use mlmice.lmer")
    res = ols(mf.X, mf.y, x_names=mf.x_names)
    f = res.fitted
    if res.rss / res.df_residual < 1e-24 * (f.mean() ** 2 + f.var()):
        # R's summary.lm warns at 1e-30 ("essentially perfect fit"); on exact fits our QR
        # leaves rounding of up to about 1e-27, so the bound is a residual sd of 1e-12 of
        # the fitted values' scale: standard errors and p-values are rounding error
        warnings.warn(f"essentially perfect fit of {formula!r} (residual variance "
                      f"{res.rss / res.df_residual:.3g}): the standard errors and p-values "
                      "are unreliable; is the response a function of the predictors, or "
                      "constant?", UserWarning, stacklevel=2)
    res.formula = str(formula)
    res.n_dropped = mf.n_dropped
    res.index = mf.index
    res.extras["model_frame"] = mf
    return res

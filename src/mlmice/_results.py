"""The fit-result API shared by :func:`mlmice.lm`, :func:`mlmice.lmer` and :func:`mlmice.glmer`.

Every fit result (``LmResult``, ``LmerResult``, ``GlmerResult``) exposes

* ``fixef`` -- fixed-effect estimates, a Series by R term name (``coef(fit)``,
  ``fixef(fit)``);
* ``se`` -- their standard errors ``sqrt(diag(vcov(fit)))``;
* ``vcov`` -- their covariance matrix, a DataFrame (``vcov(fit)``);
* ``df`` -- the number of parameters, ``attr(logLik(fit), "df")``;
* ``df_residual`` -- R's ``df.residual(fit)``: :math:`n - p` for ``lm``,
  :math:`n` minus all parameters (``df``) for lme4 fits;
* ``dfcom`` -- the same number, by the name ``mice::pool`` gives it;
* ``aic`` = :math:`-2\\ell + 2k`, ``bic`` = :math:`-2\\ell + k\\log n`
  (:math:`\\ell` = ``loglik``, :math:`k` = ``df``, :math:`n` = ``nobs``), as R's
  ``AIC()`` and ``BIC()``;
* ``loglik``, ``deviance``, ``varcorr``, ``nobs``, ``ngroups``, ``converged``,
  ``formula`` and ``tidy(conf_int=True)``, defined by each class.

:class:`FitResultMixin` implements the part that is the same formula for all
three from the raw pieces each class keeps; mixed models add
:class:`mlmice.mixed.results.MixedResultMixin`.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

__all__ = ["FitResultMixin", "coef_vector", "residual_sd"]


def coef_vector(values, names: list[str], *, argument: str):
    """Coefficients in the order of ``names`` (for ``loglik_at``-style arguments).

    A Series is aligned by R term name; one lacking a name raises a
    ValueError naming ``argument`` and the missing terms. Anything else is
    returned unchanged (taken to be in the order of ``names``).
    """
    if not isinstance(values, pd.Series):
        return values
    missing = [nm for nm in names if nm not in values.index]
    if missing:
        raise ValueError(f"{argument} has no value for {missing}")
    return values.reindex(names).to_numpy(dtype=float)


def residual_sd(sigma: float | None, sigma2: float | None) -> float:
    """``sigma`` if given, else ``sqrt(sigma2)``; a ValueError when neither is."""
    if sigma is not None:
        return sigma
    if sigma2 is None:
        raise ValueError("give sigma2= (or sigma=)")
    return float(np.sqrt(sigma2))


class FitResultMixin:
    """``fixef``, ``se``, ``vcov``, ``dfcom``, ``aic`` and ``bic`` from the raw pieces.

    A class using it provides ``beta`` (ndarray of shape (p,)), ``vcov_beta``
    (ndarray (p, p)), ``x_names`` (the p R term names), ``nobs``, ``df``,
    ``df_residual`` and ``loglik``; see the module docstring for the meaning
    of each attribute.
    """

    @cached_property
    def fixef(self) -> pd.Series:
        """Fixed-effect estimates by R term name (``fixef(fit)``, ``coef(fit)``)."""
        return pd.Series(self.beta, index=self.x_names, name="estimate")

    @cached_property
    def se(self) -> pd.Series:
        """Standard errors ``sqrt(diag(vcov(fit)))``."""
        return pd.Series(np.sqrt(np.diag(self.vcov_beta)), index=self.x_names, name="std_error")

    @cached_property
    def vcov(self) -> pd.DataFrame:
        """Covariance matrix of the fixed effects (``vcov(fit)``)."""
        return pd.DataFrame(self.vcov_beta, index=self.x_names, columns=self.x_names)

    @property
    def dfcom(self) -> int:
        """Complete-data degrees of freedom for ``mice::pool``: :attr:`df_residual`."""
        return self.df_residual

    @property
    def aic(self) -> float:
        """``AIC(fit)``: ``-2 loglik + 2 df``."""
        return -2.0 * self.loglik + 2 * self.df

    @property
    def bic(self) -> float:
        """``BIC(fit)``: ``-2 loglik + log(nobs) df``."""
        return -2.0 * self.loglik + np.log(self.nobs) * self.df

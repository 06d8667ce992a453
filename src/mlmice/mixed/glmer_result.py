"""The result of ``glmer``: a fitted logistic mixed model, read-only."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from mlmice._distributions import norm_sf
from mlmice.mixed.logistic import bernoulli_deviance
from mlmice.mixed.results import CovarianceTerm, MixedResultMixin

__all__ = ["ConditionalModes", "GlmerResult"]


@dataclass
class ConditionalModes:
    """Conditional modes and the Laplace pieces at (theta, beta)."""

    u: np.ndarray           # (J, q)
    eta: np.ndarray         # (n,)
    g: np.ndarray           # (J,) g_j at the mode
    A: np.ndarray           # (J, q, q) at the mode
    logdet: np.ndarray      # (J,) log|A_j|


@dataclass
class GlmerResult(MixedResultMixin):
    """A fitted logistic mixed model (what ``lme4::glmer(family = binomial)`` returns).

    Shares the result API of :class:`~mlmice.mixed.lmm.LmerResult` (documented in
    :mod:`mlmice._results`; the common part from
    :class:`~mlmice.mixed.results.MixedResultMixin`): ``fixef``,
    ``se``, ``vcov``, ``varcorr`` (no residual row: a binomial model has
    none), ``loglik``, ``deviance`` (``-2 loglik``; R's ``deviance()`` of a
    glmer fit is the conditional deviance, here :attr:`conditional_deviance`),
    ``aic``, ``bic``, ``nobs``, ``ngroups``, ``df_residual``/``dfcom``,
    ``converged``, ``formula`` and ``tidy()``. Standard errors come from the
    Hessian of the deviance (lme4's default, ``vcov_beta``).
    """

    model: Any               # the fitted mlmice.mixed.glmm.GlmerModel
    theta: np.ndarray
    beta: np.ndarray
    dev: float
    nagq: int
    mode: ConditionalModes   # at the estimates
    vcov_beta: np.ndarray
    hessian: np.ndarray
    gradient: np.ndarray
    converged: bool
    singular: bool
    messages: list[str]
    formula: str | None = None
    optimizer: dict = field(default_factory=dict)
    n_dropped: int = 0
    index: pd.Index | None = None

    family = "binomial"
    #: a binomial model has no residual variance (no Residual row in varcorr or tidy)
    _residual_sd = None

    @cached_property
    def cov_re(self) -> np.ndarray:
        """Covariance matrix of the random effects, :math:`\\Lambda\\Lambda^\\top`."""
        L = self.model.lam(self.theta)
        return L @ L.T

    def covariance_terms(self) -> list[CovarianceTerm]:
        m = self.model
        out = []
        off = 0
        for k, size in enumerate(m.term_sizes):
            sl = slice(off, off + size)
            name = m.group if k == 0 else f"{m.group}.{k}"
            out.append(CovarianceTerm(group=name, names=m.z_names[sl], cov=self.cov_re[sl, sl]))
            off += size
        return out

    @cached_property
    def ranef(self) -> pd.DataFrame:
        """Conditional modes of the random effects, rows = clusters (``ranef(fit)``)."""
        b = self.mode.u @ self.model.lam(self.theta).T
        return pd.DataFrame(b, index=pd.Index(self.model.levels, name=self.model.group),
                            columns=self.model.z_names)

    @cached_property
    def fitted(self) -> np.ndarray:
        """Conditional fitted probabilities (``fitted(fit)``)."""
        return expit(self.mode.eta)

    @property
    def ngroups(self) -> dict[str, int]:
        return {self.model.group: self.model.J}

    @property
    def df(self) -> int:
        """Number of parameters (``attr(logLik(fit), "df")``)."""
        return self.model.p + self.model.ntheta

    @property
    def loglik(self) -> float:
        """Laplace (``nagq = 1``) or quadrature log-likelihood at the estimates."""
        return -0.5 * self.dev

    @property
    def deviance(self) -> float:
        """``-2 loglik`` (the project-wide meaning; see :attr:`conditional_deviance`)."""
        return self.dev

    @property
    def conditional_deviance(self) -> float:
        """R's ``deviance(glmer_fit)``: the sum of deviance residuals at the conditional modes."""
        return float(bernoulli_deviance(self.model.y, self.mode.eta).sum())

    def tidy(self, conf_int: bool = True, conf_level: float = 0.95) -> pd.DataFrame:
        """broom.mixed's ``tidy(fit, conf.int = TRUE)``: fixed effects (with ``p_value``,
        the Wald z test, as broom.mixed reports for glmer), then ran_pars."""
        out = super().tidy(conf_int=conf_int, conf_level=conf_level)
        pv = 2.0 * norm_sf(np.abs(out["statistic"].to_numpy(dtype=float)))
        out.insert(out.columns.get_loc("statistic") + 1, "p_value", pv)
        return out

    def summary(self) -> str:
        how = "Laplace" if self.nagq == 1 else f"adaptive Gauss-Hermite ({self.nagq} nodes)"
        lines = [f"Generalized linear mixed model fit by maximum likelihood ({how}), "
                 "family binomial (logit)"]
        if self.formula:
            lines.append(f"Formula: {self.formula}")
        lines.append(f"logLik {self.loglik:.4f}  AIC {self.aic:.4f}  nobs {self.nobs}")
        lines.append(self.varcorr.to_string(index=False))
        lines.append(self.tidy(conf_int=False).query("effect == 'fixed'")[
            ["term", "estimate", "std_error", "statistic", "p_value"]].to_string(index=False))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<GlmerResult binomial nagq={self.nagq} nobs={self.nobs} "
                f"loglik={self.loglik:.4f} converged={self.converged}>")

"""The result of ``lmer``: a fitted linear mixed model, read-only."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from mlmice._results import coef_vector, residual_sd
from mlmice.mixed.pls import PlsEval
from mlmice.mixed.results import CovarianceTerm, MixedResultMixin

__all__ = ["LmerResult"]


@dataclass
class LmerResult(MixedResultMixin):
    """A fitted linear mixed model (what ``lme4::lmer`` returns, in Python).

    Raw arrays (cheap, for inner loops): ``beta``, ``theta``, ``sigma``,
    ``vcov_beta``, ``b`` (per term, ``(n_levels, q)``), ``cond_cov`` (per
    grouping factor, ``(n_levels, q, q)``), ``fitted``, ``residuals``.
    Pandas views (R names): ``fixef``, ``se``, ``vcov``, ``varcorr``,
    ``ranef``, ``tidy()``. Fit statistics: ``loglik``, ``deviance``, ``aic``,
    ``bic``, ``nobs``, ``ngroups``, ``df_residual``/``dfcom``, ``converged``,
    ``singular``, ``messages`` (lme4's convergence messages), ``optimizer``.
    The API shared with ``lm`` and ``glmer`` is documented once, in
    :mod:`mlmice._results`; :class:`~mlmice.mixed.results.MixedResultMixin`
    implements its common part.
    From :func:`lmer`: ``formula``, ``n_dropped``, ``index`` (rows used) and
    ``extras["model_frame"]`` (the :class:`~mlmice.design.ModelFrame`).
    """

    model: Any               # the fitted mlmice.mixed.model.LmerModel
    y: np.ndarray
    reml: bool
    ev: PlsEval
    beta_offset: np.ndarray
    optimizer: dict
    converged: bool
    singular: bool
    messages: list[str]
    hessian: np.ndarray | None = None
    formula: str | None = None
    n_dropped: int = 0
    index: pd.Index | None = None
    extras: dict = field(default_factory=dict)

    # ---- raw arrays
    @property
    def theta(self) -> np.ndarray:
        """Relative covariance parameters (lme4's ``getME(fit, "theta")``)."""
        return self.ev.theta

    @cached_property
    def beta(self) -> np.ndarray:
        """Fixed effects as an array."""
        return self.ev.beta + self.beta_offset

    @property
    def n_fixed(self) -> int:
        return self.model.p

    @cached_property
    def sigma(self) -> float:
        """Residual standard deviation (lme4's ``sigma()``: pwrss / n or / (n - p))."""
        m = self.model.n - self.model.p if self.reml else self.model.n
        return float(np.sqrt(self.ev.r2 / m))

    @cached_property
    def vcov_beta(self) -> np.ndarray:
        """:math:`\\hat\\sigma^2 S^{-1} = (X^\\top \\hat V^{-1} X)^{-1}`."""
        return self.sigma**2 * self.ev.sinv

    @cached_property
    def u(self) -> np.ndarray:
        """Spherical random effects (J, q) (single factor) or (1, Q)."""
        return self.ev.u

    @cached_property
    def b(self) -> list[np.ndarray]:
        """Conditional modes per term, each of shape (n_levels, q_k)."""
        m = self.model
        bfull = m.lam_times(self.theta, self.ev.u)      # (J, q) or (1, Q)
        out = []
        for t, off in zip(m.terms, m.u_offsets, strict=True):
            if m.single:
                out.append(bfull[:, off:off + t.q])
            else:
                out.append(bfull[0, off:off + t.q * t.n_levels].reshape(t.n_levels, t.q))
        return out

    @cached_property
    def cond_cov(self) -> dict[str, np.ndarray]:
        """Conditional covariance of the random effects per grouping factor (lme4's condVar).

        :math:`\\sigma^2 \\Lambda A_j^{-1} \\Lambda^\\top` for each level ``j``: an array of
        shape ``(n_levels, q, q)`` per grouping factor, its effects in the
        order of :attr:`ranef`'s columns (terms on the same factor merged).
        As in lme4, the uncertainty of the fixed effects is not included.
        """
        m = self.model
        s2 = self.sigma**2
        if m.single:
            L = m.lam(self.theta)
            ainv = m.ainv_blocks(self.theta, None)
            return {m.terms[0].group: s2 * np.matmul(np.matmul(L, ainv), L.T)}
        out: dict[str, np.ndarray] = {}
        for grp, idx in self._factor_index().items():
            # Lambda restricted to one level of this factor: its terms' blocks
            terms = [(t, sl) for t, sl in zip(m.terms, m.theta_slices, strict=True)
                     if t.group == grp]
            k = idx.shape[1]
            Lf = np.zeros((k, k))
            off = 0
            for t, sl in terms:
                Lf[off:off + t.q, off:off + t.q] = t.lam(self.theta[sl])
                off += t.q
            ainv = m.ainv_blocks(self.theta, idx)
            out[grp] = s2 * np.matmul(np.matmul(Lf, ainv), Lf.T)
        return out

    def _factor_index(self) -> dict[str, np.ndarray]:
        """Per grouping factor: (n_levels, q_factor) positions in the full u vector."""
        m = self.model
        out: dict[str, list] = {}
        for t, off in zip(m.terms, m.u_offsets, strict=True):
            pos = off + np.arange(t.n_levels)[:, None] * t.q + np.arange(t.q)[None, :]
            out.setdefault(t.group, []).append(pos)
        return {g: np.hstack(v) for g, v in out.items()}

    # ---- R-named views (fixef, se, vcov, varcorr, tidy(): MixedResultMixin)
    @property
    def _residual_sd(self) -> float:
        return self.sigma

    def covariance_terms(self) -> list[CovarianceTerm]:
        """Per random term: :math:`\\sigma^2 \\Lambda_k \\Lambda_k^\\top` with names."""
        out = []
        m = self.model
        for t, sl, name in zip(m.terms, m.theta_slices, m.group_names, strict=True):
            Lk = t.lam(self.theta[sl])
            out.append(CovarianceTerm(group=name, names=list(t.names),
                                      cov=self.sigma**2 * Lk @ Lk.T))
        return out

    @cached_property
    def ranef(self) -> dict[str, pd.DataFrame]:
        """Conditional modes per grouping factor (``ranef(fit)``), rows = levels."""
        m = self.model
        out: dict[str, pd.DataFrame] = {}
        for t, bk in zip(m.terms, self.b, strict=True):
            df = pd.DataFrame(bk, index=pd.Index(t.levels, name=t.group), columns=t.names)
            if t.group in out:
                out[t.group] = pd.concat([out[t.group], df], axis=1)
            else:
                out[t.group] = df
        return out

    @cached_property
    def fitted(self) -> np.ndarray:
        """Conditional fitted values :math:`X\\hat\\beta + Z\\hat b` (``fitted(fit)``)."""
        m = self.model
        f = m.X @ self.beta
        for t, bk in zip(m.terms, self.b, strict=True):
            f = f + np.einsum("nq,nq->n", t.Z, bk[t.codes])
        return f

    @property
    def residuals(self) -> np.ndarray:
        """Response residuals ``y - fitted`` (``residuals(fit)``)."""
        return self.y - self.fitted

    @property
    def ngroups(self) -> dict[str, int]:
        """Number of levels per grouping factor (``ngrps(fit)``)."""
        return {t.group: t.n_levels for t in self.model.terms}

    @property
    def df(self) -> int:
        """Number of parameters (``attr(logLik(fit), "df")``)."""
        return self.model.p + self.model.ntheta + 1

    @property
    def reml_criterion(self) -> float | None:
        """lme4's ``REMLcrit(fit)`` for REML fits, else None."""
        return self.ev.deviance if self.reml else None

    @property
    def deviance(self) -> float:
        """``-2 logLik``: the ML deviance, or the REML criterion for REML fits."""
        return self.ev.deviance

    @property
    def loglik(self) -> float:
        """``logLik(fit)`` (the restricted log-likelihood for REML fits, as lme4)."""
        return -0.5 * self.ev.deviance

    def loglik_at(self, fixef=None, covariances=None, sigma2: float | None = None, *,
                  beta=None, theta=None, sigma: float | None = None) -> float:
        """Log-likelihood of this fit's data at other parameters (for mitml's D3).

        Give either ``fixef`` (Series by term, or array), ``covariances``
        (dict: ``VarCorr`` group name such as ``"g"`` / ``"g.1"`` -> covariance
        matrix, a DataFrame indexed by effect names or an array in the
        term's order) and ``sigma2`` (residual variance); or ``beta``,
        ``theta`` and ``sigma`` on lme4's scale. The value is the ML
        log-density (also for a REML fit), see :meth:`LmerModel.loglik_at`.
        """
        m = self.model
        b = fixef if beta is None else beta
        if b is None:
            raise ValueError("give fixef= (or beta=)")
        b = coef_vector(b, m.x_names, argument="fixef")
        sigma = residual_sd(sigma, sigma2)
        if theta is None:
            if covariances is None:
                raise ValueError("give covariances= (or theta=)")
            covs = []
            for t, name in zip(m.terms, m.group_names, strict=True):
                if name not in covariances:
                    raise ValueError(f"covariances has no entry {name!r} "
                                     f"(have {list(covariances)})")
                cov = covariances[name]
                if isinstance(cov, pd.DataFrame):
                    cov = cov.loc[t.names, t.names].to_numpy(dtype=float)
                covs.append(np.atleast_2d(np.asarray(cov, dtype=float)))
            theta = m.theta_from_cov(covs, sigma)
        return m.loglik_at(self.y, b, theta, sigma)

    def summary(self) -> str:
        lines = [f"Linear mixed model fit by {'REML' if self.reml else 'maximum likelihood'}"]
        if self.formula:
            lines.append(f"Formula: {self.formula}")
        lines.append(f"logLik {self.loglik:.4f}  AIC {self.aic:.4f}  nobs {self.nobs}"
                     + (f" ({self.n_dropped} dropped: missing values)" if self.n_dropped
                        else ""))
        lines.append(self.varcorr.to_string(index=False))
        lines.append(self.tidy(conf_int=False).query("effect == 'fixed'")[
            ["term", "estimate", "std_error", "statistic"]].to_string(index=False))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<LmerResult {'REML' if self.reml else 'ML'} nobs={self.nobs} "
                f"loglik={self.loglik:.4f} converged={self.converged}>")

"""Fit results of mixed models: variance components, tidy tables, warnings.

Shared by :func:`mlmice.lmer` (this package's ``lmm`` module) and
:func:`mlmice.glmer` (``glmm``): :class:`MixedResultMixin` gives both result
classes the API of :mod:`mlmice._results` plus the tables, which follow R's
``as.data.frame(VarCorr(fit))`` and ``broom.mixed::tidy(fit, conf.int = TRUE)``
(columns in snake_case).

Warnings are typed so that a user (or an imputation loop) can filter them::

    import warnings
    from mlmice.mixed.results import ConvergenceWarning
    warnings.simplefilter("ignore", ConvergenceWarning)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from mlmice._distributions import norm_ppf
from mlmice._results import FitResultMixin

__all__ = ["ConvergenceWarning", "SingularFitWarning", "CovarianceTerm", "MixedResultMixin",
           "convergence_messages", "varcorr_frame", "ran_pars_frame", "tidy_frame",
           "unique_group_names"]

GRAD_TOL = 2e-3          # lme4: check.conv.grad tol (lmerControl and glmerControl)
HESS_TOL = 1e-6          # lme4: check.conv.hess tol


class ConvergenceWarning(UserWarning):
    """The optimiser's result fails lme4's convergence checks (gradient, Hessian)."""


class SingularFitWarning(UserWarning):
    """A boundary (singular) fit: a variance is ~0 or a correlation is +-1 (lme4's isSingular)."""


def convergence_messages(grad: np.ndarray, hessian: np.ndarray, *,
                         conditioning: bool = True) -> list[str]:
    r"""lme4's ``checkConv`` messages: the scaled-gradient test and ``checkHess``.

    With the Cholesky factor :math:`R^\top R = H` of the Hessian of the
    deviance, the scaled gradient is :math:`R^{-\top} g`; the fit fails the
    check when ``max(min(|scaled|, |g|)) > GRAD_TOL``. Then the eigenvalues
    of the (symmetrised) Hessian: any below ``-HESS_TOL`` fail it (degenerate
    Hessian). With ``conditioning`` (``lmer``; ``glmer`` reports only the
    negative eigenvalues) also the notes on a numerically singular Hessian
    and on very large eigenvalues or eigenvalue ratios.

    Parameters
    ----------
    grad : ndarray of shape (k,)
        Gradient of the deviance at the estimates.
    hessian : ndarray of shape (k, k)
        Hessian of the deviance at the estimates.
    conditioning : bool, default True
        Add lme4's singular / nearly-unidentifiable notes.

    Returns
    -------
    list of str
        lme4's texts; a failed fit's start with ``"Model failed"`` or
        ``"unable"``. Empty when all checks pass.
    """
    msgs = []
    try:
        R = np.linalg.cholesky(hessian).T        # R'R = H, as R's chol()
        scgrad = np.linalg.solve(R, grad)
    except np.linalg.LinAlgError:
        scgrad = None
    if scgrad is None or np.any(~np.isfinite(scgrad)):
        msgs.append("unable to evaluate scaled gradient")
    else:
        mingrad = np.minimum(np.abs(scgrad), np.abs(grad))
        if mingrad.max() > GRAD_TOL:
            msgs.append(f"Model failed to converge with max|grad| = {mingrad.max():.6g} "
                        f"(tol = {GRAD_TOL:g}, component {int(np.argmax(mingrad)) + 1})")
    ev = np.linalg.eigvalsh(0.5 * (hessian + hessian.T))
    neg = int(np.sum(ev < -HESS_TOL))
    if neg:
        msgs.append(f"Model failed to converge: degenerate  Hessian with {neg} negative "
                    "eigenvalues")
    elif conditioning and np.any(np.abs(ev) < HESS_TOL):
        msgs.append(" Hessian is numerically singular: parameters are not uniquely determined")
    elif conditioning:
        if ev.max() * HESS_TOL > 1:
            msgs.append("Model is nearly unidentifiable: very large eigenvalue\n"
                        " - Rescale variables?")
        if ev.min() / ev.max() < HESS_TOL:
            msgs.append("Model is nearly unidentifiable: large eigenvalue ratio\n"
                        " - Rescale variables?")
    return msgs


@dataclass
class CovarianceTerm:
    """The covariance matrix of one random-effects term.

    Attributes
    ----------
    group : str
        Name as ``VarCorr`` prints it (``"g"``, ``"g.1"`` for a second term on ``g``).
    names : list of str
        Effect names (``"(Intercept)"``, ``"x"``).
    cov : ndarray of shape (q, q)
        Covariance matrix of the term's random effects.
    """

    group: str
    names: list[str]
    cov: np.ndarray


def unique_group_names(groups: list[str]) -> list[str]:
    """R's ``make.unique`` as lme4 applies it to the names of ``VarCorr``: g, g.1, g.2."""
    seen: dict[str, int] = {}
    out = []
    for g in groups:
        if g in seen:
            seen[g] += 1
            out.append(f"{g}.{seen[g]}")
        else:
            seen[g] = 0
            out.append(g)
    return out


def _sd_cor(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sd = np.sqrt(np.maximum(np.diag(cov), 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        cor = cov / np.outer(sd, sd)
    return sd, cor


def varcorr_frame(terms: list[CovarianceTerm], sigma: float | None) -> pd.DataFrame:
    """R's ``as.data.frame(VarCorr(fit))``.

    Per term: one row per variance (``var2`` missing), then one per
    covariance in the order (1,2), (1,3), ..., (2,3), ...; then the residual
    row (``grp`` = "Residual") when ``sigma`` is given.

    Returns
    -------
    DataFrame with columns grp, var1, var2, vcov, sdcor (missing = None).
    """
    rows = []
    for t in terms:
        sd, cor = _sd_cor(t.cov)
        q = len(t.names)
        for i in range(q):
            rows.append((t.group, t.names[i], None, float(t.cov[i, i]), float(sd[i])))
        for i in range(q):
            for j in range(i + 1, q):
                rows.append((t.group, t.names[i], t.names[j], float(t.cov[i, j]),
                             float(cor[i, j])))
    if sigma is not None:
        rows.append(("Residual", None, None, float(sigma) ** 2, float(sigma)))
    return pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])


def ran_pars_frame(terms: list[CovarianceTerm], sigma: float | None) -> pd.DataFrame:
    """broom.mixed's ``ran_pars`` rows: sd__x and cor__x.y per term, then sd__Observation.

    Within a term the order is sd of effect 1, its correlations with effects
    2..q, sd of effect 2, its correlations with 3..q, and so on.
    """
    rows = []
    for t in terms:
        sd, cor = _sd_cor(t.cov)
        q = len(t.names)
        for i in range(q):
            rows.append((t.group, f"sd__{t.names[i]}", float(sd[i])))
            for j in range(i + 1, q):
                rows.append((t.group, f"cor__{t.names[i]}.{t.names[j]}", float(cor[i, j])))
    if sigma is not None:
        rows.append(("Residual", "sd__Observation", float(sigma)))
    return pd.DataFrame(rows, columns=["group", "term", "estimate"])


def tidy_frame(fixef: pd.Series, se: pd.Series, ran_pars: pd.DataFrame | None, *,
               conf_int: bool = True, conf_level: float = 0.95) -> pd.DataFrame:
    """broom.mixed's ``tidy(fit, conf.int = TRUE)`` for lme4 fits.

    Fixed effects get ``statistic = estimate / std_error`` and Wald intervals
    ``estimate +- qnorm((1 + conf_level) / 2) * std_error`` (broom.mixed's
    default ``conf.method = "Wald"``); random-effect parameters have missing
    standard errors, statistics and intervals, as in broom.mixed.

    Columns: effect, group, term, estimate, std_error, statistic, and
    conf_low, conf_high when ``conf_int``.
    """
    est = fixef.to_numpy(dtype=float)
    s = se.to_numpy(dtype=float)
    fixed = pd.DataFrame({
        "effect": "fixed", "group": None, "term": list(fixef.index), "estimate": est,
        "std_error": s, "statistic": est / s,
    })
    if conf_int:
        z = norm_ppf((1 + conf_level) / 2)
        fixed["conf_low"] = est - z * s
        fixed["conf_high"] = est + z * s
    parts = [fixed]
    if ran_pars is not None and len(ran_pars):
        rp = ran_pars.assign(effect="ran_pars", std_error=np.nan, statistic=np.nan)
        if conf_int:
            rp = rp.assign(conf_low=np.nan, conf_high=np.nan)
        parts.append(rp[fixed.columns])
    out = pd.concat(parts, ignore_index=True)
    out["group"] = out["group"].astype(object)
    return out


class MixedResultMixin(FitResultMixin):
    """The result API of an lme4 fit (``LmerResult``, ``GlmerResult``).

    On top of :class:`~mlmice._results.FitResultMixin`: ``x_names`` and
    ``nobs`` from the model (``model.x_names``, ``model.n``),
    ``df_residual`` (lme4's ``df.residual``), ``varcorr`` and ``tidy()``.
    A class using it provides ``model``, ``beta``, ``vcov_beta``, ``df``,
    ``loglik``, ``covariance_terms()`` (list of :class:`CovarianceTerm`) and
    ``_residual_sd``: the residual standard deviation, or None for a family
    without a residual variance (binomial).
    """

    @property
    def x_names(self) -> list[str]:
        return self.model.x_names

    @property
    def nobs(self) -> int:
        return self.model.n

    @property
    def df_residual(self) -> int:
        """lme4's ``df.residual(fit)``: n minus all parameters (:attr:`df`).

        This is the complete-data df that ``mice::pool`` uses (``dfcom``, via
        broom.mixed's ``glance(fit)$df.residual``): 1992 for the tutorial's
        random-slope model on 2000 pupils, not n - p = 1996.
        """
        return self.nobs - self.df

    @cached_property
    def varcorr(self) -> pd.DataFrame:
        """R's ``as.data.frame(VarCorr(fit))``: grp, var1, var2, vcov, sdcor."""
        return varcorr_frame(self.covariance_terms(), self._residual_sd)

    def tidy(self, conf_int: bool = True, conf_level: float = 0.95) -> pd.DataFrame:
        """broom.mixed's ``tidy(fit, conf.int = TRUE)``: fixed effects, then ran_pars."""
        return tidy_frame(self.fixef, self.se,
                          ran_pars_frame(self.covariance_terms(), self._residual_sd),
                          conf_int=conf_int, conf_level=conf_level)

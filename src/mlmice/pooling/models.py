r"""``test_models``: model comparisons after multiple imputation (``mitml::testModels``).

Three pooled tests of a model against a nested null model, each an F
statistic with ``df1 = k`` (number of parameters tested), ``df2`` and the
average relative increase in variance ``r`` (RIV); ``m`` imputations.

**D1**, multiparameter Wald test (Li, Raghunathan and Rubin 1991). For the
``k`` fixed effects of ``model`` absent from ``null_model``:

.. math::

    r = (1 + 1/m)\,\mathrm{tr}(B \bar U^{-1}) / k, \qquad
    D_1 = \bar Q^\top \left[(1 + r)\bar U\right]^{-1} \bar Q / k,

    t = k(m-1), \quad \nu_2 = 4 + (t - 4)\left(1 + (1 - 2/t)/r\right)^2
    \ (t > 4), \quad \text{else}\ t (1 + 1/k) (1 + 1/r)^2 / 2;

with ``df_com`` given, :math:`\nu_2` is Reiter's (2007) small-sample value.

**D2**, combination of the ``m`` chi-square statistics :math:`d_\ell`
(Li, Meng, Raghunathan and Rubin 1991): Wald statistics
:math:`\hat Q_\ell^\top U_\ell^{-1} \hat Q_\ell` (``use="wald"``) or
likelihood-ratio statistics :math:`-2(\ell_{0\ell} - \ell_{1\ell})`
(``use="likelihood"``):

.. math::

    r = (1 + 1/m)\,\mathrm{var}(\sqrt{d_\ell}), \qquad
    D_2 = \frac{\bar d / k - r (m + 1)/(m - 1)}{1 + r}, \qquad
    \nu_2 = k^{-3/m} (m - 1) (1 + 1/r)^2.

**D3**, pooled likelihood-ratio test (Meng and Rubin 1992). With
:math:`\bar d_L` the mean LR statistic at each data set's own estimates and
:math:`\tilde d_L` the mean LR statistic with both models' log-likelihoods
evaluated at their parameters averaged over imputations (fixed effects,
random-effects covariance matrices and residual variance, as mitml averages
them; the residual variance of a linear model is the ML value RSS/n):

.. math::

    r = \frac{m + 1}{k (m - 1)} (\bar d_L - \tilde d_L), \qquad
    D_3 = \frac{\tilde d_L}{k (1 + r)},

``df2`` as for D1 without ``df_com``; ``k`` is the difference in the number
of model parameters (fixed effects, variance components and residual
variance, as ``attr(logLik(fit), "df")``).

The p-value is :math:`P(F_{k, \nu_2} > D)` (1 for a negative D2).

Where R is not the truth: Reiter's ``df2`` divides by ``t - 4``, so with
``k (m - 1) = 4`` (one parameter, five imputations) it is undefined; mitml's
arithmetic then gives ``df2 = 4`` exactly, whatever the data, and so does
this implementation, to match R. Prefer ``df_com=None`` in that case.

**mice's D1/D2/D3** (``convention="mice"``). ``mice::D1(fit1, fit0)`` is
mitml's D1 with ``df.com`` set to the first fit's complete-data df (for lme4
fits ``df.residual``, which is n minus *all* model parameters);
``mice::D2`` is mitml's D2. ``mice::D3`` differs from mitml's in two ways:

* :math:`\tilde d_L` comes from refitting each model with the pooled fixed
  effects as an offset (``mice:::fix.coef``), which re-estimates an
  intercept on top of the offset and the variance parameters (ML), instead
  of evaluating the likelihood at the pooled parameters. A model whose only
  fixed effect is the intercept thus has :math:`\tilde d_L` equal to its own
  deviance.
* ``k`` is the difference in the number of *fixed effects*, so mice's D3
  cannot compare random-effects structures (``k = 0``: R returns NaN; here it
  is an error).

References
----------
Li, K. H., Raghunathan, T. E. and Rubin, D. B. (1991). *JASA* 86, 1065-1073.
Li, K. H., Meng, X.-L., Raghunathan, T. E. and Rubin, D. B. (1991).
*Statistica Sinica* 1, 65-92.
Meng, X.-L. and Rubin, D. B. (1992). *Biometrika* 79(1), 103-111.
Reiter, J. P. (2007). Small-sample degrees of freedom for multi-component
significance tests with multiple imputation. *Biometrika* 94(2), 502-508.
Grund, S., Luedtke, O. and Robitzsch, A. (2016). Pooling ANOVA results from
multiply imputed datasets. *Methodology* 12, 75-88.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd

from mlmice._distributions import f_sf
from mlmice.pooling.extract import as_fit_list, fit_dfcom, stack_fits
from mlmice.pooling.params import (
    check_ml,
    fit_loglik,
    fit_loglik_at,
    likelihood_parameters,
    n_parameters,
    offset_refit_loglik,
    pooled_likelihood_parameters,
)

#: mitml's column names of the test table.
MITML_COLUMNS = ["F.value", "df1", "df2", "P(>F)", "RIV"]


class SameFixedEffectsError(ValueError):
    """D1/D2 (Wald) between models with the same fixed effects: nothing to test.

    The models differ in their random effects only; D3 (or D2 with
    ``use="likelihood"``) compares them.
    """


class TestModels:
    """Result of :func:`test_models` (R: ``mitml.testModels``).

    Attributes
    ----------
    test : pandas.DataFrame
        One row with mitml's columns ``F.value, df1, df2, P(>F), RIV``.
    method : {"D1", "D2", "D3"}
    use : {"wald", "likelihood"}
    convention : {"mitml", "mice"}
    m : int
    df_com : float or None
    parameters : list of str
        The fixed effects tested (D1, D2 with ``use="wald"``).
    loglik : pandas.DataFrame or None
        For D3 (and D2 with ``use="likelihood"``): per imputation the
        log-likelihoods of both models at their own estimates (``model``,
        ``null_model``) and, for D3, at the pooled parameters
        (``model_pooled``, ``null_model_pooled``).
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, *, statistic: float, df1: float, df2: float, riv: float, method: str,
                 use: str, m: int, df_com: float | None, parameters: list[str],
                 loglik: pd.DataFrame | None = None, convention: str = "mitml"):
        p_value = float(f_sf(statistic, df1, df2))
        self.test = pd.DataFrame([[statistic, df1, df2, p_value, riv]],
                                 columns=MITML_COLUMNS, index=["1 vs 2"])
        self.method = method
        self.use = use
        self.m = int(m)
        self.df_com = df_com
        self.parameters = list(parameters)
        self.loglik = loglik
        self.convention = convention

    @property
    def statistic(self) -> float:
        return float(self.test["F.value"].iloc[0])

    @property
    def p_value(self) -> float:
        return float(self.test["P(>F)"].iloc[0])

    def to_frame(self) -> pd.DataFrame:
        """One row, snake_case: ``method, use, m, df_com, f_value, df1, df2, p_value, riv``."""
        t = self.test.iloc[0]
        return pd.DataFrame([{
            "method": self.method, "use": self.use, "m": self.m,
            "df_com": np.nan if self.df_com is None else float(self.df_com),
            "f_value": float(t["F.value"]), "df1": float(t["df1"]), "df2": float(t["df2"]),
            "p_value": float(t["P(>F)"]), "riv": float(t["RIV"]),
        }])

    def __repr__(self) -> str:
        extra = "" if self.df_com is None else f"; df_com = {self.df_com:g}"
        src = "mitml::testModels" if self.convention == "mitml" else f"mice::{self.method}"
        head = (f"TestModels ({src}; method {self.method}, use {self.use}; "
                f"m = {self.m}{extra})")
        body = self.test.to_string(float_format="{:.4g}".format)
        tail = f"parameters tested: {', '.join(self.parameters)}" if self.parameters else ""
        return "\n".join(x for x in (head, body, tail) if x)


def test_models(model, null_model, method: str = "D1", use: str = "wald",
                df_com: float | None = None, ariv: str = "default",
                convention: str = "mitml") -> TestModels:
    """Compare nested models fitted to each imputed data set, as ``mitml::testModels``.

    Parameters
    ----------
    model, null_model : lists of fit results
        The larger and the nested model, one fit per imputation (same
        number), e.g. ``imp.fit("y ~ x + (1 | g)")`` and
        ``imp.fit("y ~ 1 + (1 | g)")``.
    method : {"D1", "D2", "D3"}
        D1: Wald test of the fixed effects of ``model`` absent from
        ``null_model``. D2: pooled chi-square statistics. D3: pooled
        likelihood-ratio test (needs fits that can evaluate their
        log-likelihood at given parameters; ML fits).
    use : {"wald", "likelihood"}
        For D2: combine Wald statistics (default) or likelihood-ratio
        statistics.
    df_com : float, optional
        Complete-data df for D1 (Reiter 2007); mice's ``D1`` passes the
        fit's residual df here.
    ariv : {"default", "positive"}
        "positive" truncates a negative RIV at 0 (D2 and D3), as mitml.
    convention : {"mitml", "mice"}
        "mitml": ``mitml::testModels``. "mice": ``mice::D1`` (``df_com``
        defaults to the fit's complete-data df), ``mice::D2`` (same as
        mitml's) and ``mice::D3`` (offset refits; see the module docstring).

    Returns
    -------
    TestModels
    """
    if method not in ("D1", "D2", "D3"):
        raise ValueError(f"method == {method!r}, must be 'D1', 'D2' or 'D3'")
    if use not in ("wald", "likelihood"):
        raise ValueError(f"use == {use!r}, must be 'wald' or 'likelihood'")
    if ariv not in ("default", "positive"):
        raise ValueError(f"ariv == {ariv!r}, must be 'default' or 'positive'")
    if convention not in ("mitml", "mice"):
        raise ValueError(f"convention == {convention!r}, must be 'mitml' or 'mice'")
    if df_com is not None:
        if isinstance(df_com, bool) or not isinstance(df_com, numbers.Real) or not df_com > 0:
            raise ValueError(f"df_com == {df_com!r}, must be a positive number or None")
        df_com = float(df_com)
        if method != "D1":
            warnings.warn(f"df_com is only used by D1 and was ignored for {method}",
                          UserWarning, stacklevel=2)
    if use == "likelihood" and method != "D2":
        warnings.warn(f"use='likelihood' applies to D2 only and was ignored for {method}",
                      UserWarning, stacklevel=2)
    full = as_fit_list(model, name="model")
    null = as_fit_list(null_model, name="null_model")
    if len(full) != len(null):
        raise ValueError(f"model has {len(full)} fits but null_model has {len(null)}: need "
                         "one fit of each per imputation")
    m = len(full)
    if m < 2:
        raise ValueError(f"m == {m}: the pooled tests need at least two imputations")
    if method == "D3" or use == "likelihood":
        _check_same_rows(full, null)
        for i, (f1, f0) in enumerate(zip(full, null, strict=True), start=1):
            check_ml(f1, imputation=i)
            check_ml(f0, imputation=i)
    if method == "D3":
        if convention == "mice":
            return _d3_mice(full, null)
        return _d3(full, null, ariv=ariv)
    if method == "D1" and convention == "mice" and df_com is None:
        df_com = fit_dfcom(full[0])
    if method == "D2" and use == "likelihood":
        ll1 = np.array([fit_loglik(f, imputation=i) for i, f in enumerate(full, 1)])
        ll0 = np.array([fit_loglik(f, imputation=i) for i, f in enumerate(null, 1)])
        k = n_parameters(full[0]) - n_parameters(null[0])
        diff = ll0 - ll1
        diff[np.isclose(ll0, ll1, rtol=1.5e-8, atol=0.0)] = 0.0   # R's all.equal
        d = -2.0 * diff
        stat, v, r = d2(d, k)
        if ariv == "positive":
            r = max(0.0, r)
        loglik = pd.DataFrame({"imputation": np.arange(1, m + 1), "model": ll1,
                               "null_model": ll0})
        return TestModels(statistic=stat, df1=k, df2=v, riv=r, method="D2", use=use, m=m,
                          df_com=None, parameters=[], loglik=loglik, convention=convention)
    qhat, uhat, names = _tested_parameters(full, null)
    if method == "D1":
        stat, k, v, r = d1(qhat, uhat, df_com=df_com)
        return TestModels(statistic=stat, df1=k, df2=v, riv=r, method="D1", use="wald", m=m,
                          df_com=df_com, parameters=names, convention=convention)
    d = np.array([q @ np.linalg.solve(u, q) for q, u in zip(qhat, uhat, strict=True)])
    stat, v, r = d2(d, len(names))
    if ariv == "positive":
        r = max(0.0, r)
    return TestModels(statistic=stat, df1=len(names), df2=v, riv=r, method="D2", use="wald",
                      m=m, df_com=None, parameters=names, convention=convention)


test_models.__test__ = False  # keep pytest from collecting the imported function


def _check_same_rows(full: list, null: list) -> None:
    """Likelihood ratios need both models fitted to the same rows (R's anova checks this)."""
    for i, (f1, f0) in enumerate(zip(full, null, strict=True), start=1):
        n1, n0 = getattr(f1, "nobs", None), getattr(f0, "nobs", None)
        if n1 is not None and n0 is not None and not callable(n1) and int(n1) != int(n0):
            raise ValueError(f"imputation {i}: model was fitted to {int(n1)} rows but "
                             f"null_model to {int(n0)}; likelihoods are not comparable "
                             "(different missing-data deletion?)")


def _tested_parameters(full: list, null: list) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Estimates (m, k) and covariances (m, k, k) of the parameters ``null`` lacks."""
    s1 = stack_fits(full)
    s0 = stack_fits(null)
    extra = [t for t in s0.terms if t not in set(s1.terms)]
    if extra:
        raise ValueError(f"null_model has fixed effect(s) {', '.join(extra)} that model lacks: "
                         "the models are not nested (null_model must be the smaller one; "
                         "are the arguments swapped?)")
    idx = [j for j, t in enumerate(s1.terms) if t not in set(s0.terms)]
    if not idx:
        raise SameFixedEffectsError("model and null_model have the same fixed effects "
                         f"({s1.terms}): not nested, nothing for D1/D2 to test (use D3 or "
                         "D2 with use='likelihood' to compare random-effects structures)")
    names = [s1.terms[j] for j in idx]
    qhat = s1.qhat[:, idx]
    uhat = s1.uhat[:, idx][:, :, idx]
    return qhat, uhat, names


def _reduced_df(t: float, k: float, r: float) -> float:
    """Li, Raghunathan and Rubin's (1991) denominator df (shared by D1 and D3)."""
    t, k, r = np.float64(t), np.float64(k), np.float64(r)   # 1/0 -> inf, as in R
    with np.errstate(divide="ignore"):
        if t > 4:
            return float(4.0 + (t - 4.0) * (1.0 + (1.0 - 2.0 / t) / r) ** 2)
        return float(t * (1.0 + 1.0 / k) * (1.0 + 1.0 / r) ** 2 / 2.0)


def d1(qhat: np.ndarray, uhat: np.ndarray, *, df_com: float | None = None
       ) -> tuple[float, int, float, float]:
    """D1 statistic, ``df1``, ``df2`` and RIV (``mitml:::.D1``).

    Parameters
    ----------
    qhat : ndarray (m, k)
        Estimates of the tested parameters (null hypothesis: all zero).
    uhat : ndarray (m, k, k)
        Their covariance matrices.
    df_com : float, optional
        Complete-data df; when given, ``df2`` is Reiter's (2007).
    """
    m, k = qhat.shape
    qbar = qhat.mean(axis=0)
    ubar = uhat.mean(axis=0)
    b = np.cov(qhat, rowvar=False, ddof=1).reshape(k, k)
    r = float((1.0 + 1.0 / m) * np.trace(np.linalg.solve(ubar, b)) / k)
    stat = float(qbar @ np.linalg.solve((1.0 + r) * ubar, qbar) / k)
    t = k * (m - 1.0)
    if df_com is None:
        v = _reduced_df(t, k, r)
    else:
        # Reiter (2007), term by term as mitml writes it; at t = k (m - 1) = 4 the
        # factor c0 = 1 / (t - 4) is infinite, z too, and df2 = 4 (as in R)
        a, t_, dfc = np.float64(r * t / (t - 2.0)), np.float64(t), np.float64(df_com)
        with np.errstate(divide="ignore", invalid="ignore"):
            vstar = (dfc + 1.0) / (dfc + 3.0) * dfc
            c0 = 1.0 / (t_ - 4.0)
            c1 = vstar - 2.0 * (1.0 + a)
            c2 = vstar - 4.0 * (1.0 + a)
            z = (1.0 / c2 + c0 * (a**2 * c1 / ((1.0 + a) ** 2 * c2))
                 + c0 * (8.0 * a**2 * c1 / ((1.0 + a) * c2**2) + 4.0 * a**2 / ((1.0 + a) * c2))
                 + c0 * (4.0 * a**2 / (c2 * c1) + 16.0 * a**2 * c1 / c2**3)
                 + c0 * (8.0 * a**2 / c2**2))
            v = 4.0 + 1.0 / z
    return stat, k, float(v), r


def d2(d: np.ndarray, k: int) -> tuple[float, float, float]:
    """D2 statistic, ``df2`` and RIV from ``m`` chi-square statistics (``mitml:::.D2``)."""
    d = np.asarray(d, dtype=float)
    m = d.size
    if np.any(d < 0):
        bad = int(np.argmax(d < 0)) + 1
        raise ValueError(f"chi-square statistic of imputation {bad} is negative ({d[bad - 1]}):"
                         " is null_model really nested in model?")
    r = float((1.0 + 1.0 / m) * np.var(np.sqrt(d), ddof=1))
    stat = float((d.mean() / k - (m + 1.0) / (m - 1.0) * r) / (1.0 + r))
    with np.errstate(divide="ignore"):
        v = float(k ** (-3.0 / m) * (m - 1.0) * (1.0 + 1.0 / np.float64(r)) ** 2)
    return stat, v, r


def _d3(full: list, null: list, *, ariv: str) -> TestModels:
    k = n_parameters(full[0]) - n_parameters(null[0])
    if k <= 0:
        raise ValueError(f"model has {n_parameters(full[0])} parameters and null_model "
                         f"{n_parameters(null[0])}: null_model must have fewer (nested)")
    ll1 = np.array([fit_loglik(f, imputation=i) for i, f in enumerate(full, 1)])
    ll0 = np.array([fit_loglik(f, imputation=i) for i, f in enumerate(null, 1)])
    par1 = pooled_likelihood_parameters(
        [likelihood_parameters(f, imputation=i) for i, f in enumerate(full, 1)])
    par0 = pooled_likelihood_parameters(
        [likelihood_parameters(f, imputation=i) for i, f in enumerate(null, 1)])
    lp1 = np.array([fit_loglik_at(f, par1, imputation=i) for i, f in enumerate(full, 1)])
    lp0 = np.array([fit_loglik_at(f, par0, imputation=i) for i, f in enumerate(null, 1)])
    return _d3_from_logliks(ll1, ll0, lp1, lp0, k=k, ariv=ariv, convention="mitml")


def _d3_mice(full: list, null: list) -> TestModels:
    """``mice::D3``: offset refits at the pooled fixed effects; k counts fixed effects."""
    s1, s0 = stack_fits(full), stack_fits(null)
    k = len(s1.terms) - len(s0.terms)
    if k <= 0:
        raise ValueError(f"mice's D3 counts fixed effects only: model has {len(s1.terms)} and "
                         f"null_model {len(s0.terms)} (k = {k}); to compare random-effects "
                         "structures use convention='mitml'")
    qbar1 = pd.Series(s1.qhat.mean(axis=0), index=s1.terms)
    qbar0 = pd.Series(s0.qhat.mean(axis=0), index=s0.terms)
    ll1 = np.array([fit_loglik(f, imputation=i) for i, f in enumerate(full, 1)])
    ll0 = np.array([fit_loglik(f, imputation=i) for i, f in enumerate(null, 1)])
    lp1 = np.array([offset_refit_loglik(f, qbar1, imputation=i) for i, f in enumerate(full, 1)])
    lp0 = np.array([offset_refit_loglik(f, qbar0, imputation=i) for i, f in enumerate(null, 1)])
    return _d3_from_logliks(ll1, ll0, lp1, lp0, k=k, ariv="default", convention="mice")


def _d3_from_logliks(ll1, ll0, lp1, lp0, *, k: int, ariv: str, convention: str) -> TestModels:
    """Meng and Rubin's D3 from log-likelihoods at own and at pooled parameters."""
    m = len(ll1)
    d_bar = float(np.mean(-2.0 * (ll0 - ll1)))
    d_tilde = float(np.mean(-2.0 * (lp0 - lp1)))
    r = (m + 1.0) / (k * (m - 1.0)) * (d_bar - d_tilde)
    if ariv == "positive":
        r = max(0.0, r)
    stat = d_tilde / (k * (1.0 + r))
    v = _reduced_df(k * (m - 1.0), k, r)
    loglik = pd.DataFrame({"imputation": np.arange(1, m + 1), "model": ll1, "null_model": ll0,
                           "model_pooled": lp1, "null_model_pooled": lp0})
    return TestModels(statistic=stat, df1=k, df2=v, riv=r, method="D3", use="likelihood",
                      m=m, df_com=None, parameters=[], loglik=loglik, convention=convention)

r"""``test_estimates``: ``mitml::testEstimates`` (mitml 0.4.4).

Per parameter: :math:`\bar Q`, :math:`\text{se} = \sqrt{T}`,
:math:`t = \bar Q / \text{se}`, the df, the two-sided p-value, the relative
increase in variance :math:`r` and the fraction of missing information
:math:`(r + 2/(\nu + 3)) / (1 + r)`. mitml's df is Rubin's (1987)
:math:`(m - 1)(1 + 1/r)^2` unless ``df_com`` is given, then Barnard and
Rubin's (1999) small-sample value (see :mod:`mlmice.pooling.rubin`); mice's
``pool`` always uses the latter with ``dfcom`` from the fit, so the two
packages report different df and FMI for the same estimates.

With ``extra_pars=True`` the variance components and the ICC are averaged
over imputations and named as mitml names them
(:mod:`mlmice.pooling.varcomp`); they carry no standard errors. mitml
averages them as they are; ``varcomp_scale="log"`` averages them on the log
scale instead (geometric means), which that module explains and measures.

Where R is not the truth: mitml computes the p-value as ``2 * (1 - pt(|t|,
df))``, which rounds p-values below about 1e-16 to 0 and loses relative
precision below about 1e-10; here it comes from the survival function.

References
----------
Grund, S., Luedtke, O. and Robitzsch, A. (2016). Multiple imputation of
multilevel missing data: an introduction to the R package pan. *SAGE Open*.
mitml: ``testEstimates``, ``mitml:::.pool.estimates``, ``mitml:::.getMisc``.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd

from mlmice._validation import check_bool
from mlmice.pooling.extract import as_fit_list, stack_fits, stack_raw
from mlmice.pooling.rubin import (
    fraction_missing_information,
    mitml_df,
    rubin_parts,
    t_p_value,
)
from mlmice.pooling.varcomp import SCALES, pooled_misc_parameters

#: mitml's column names of the estimates table.
MITML_COLUMNS = ["Estimate", "Std.Error", "t.value", "df", "P(>|t|)", "RIV", "FMI"]
_SNAKE = dict(zip(MITML_COLUMNS, ["estimate", "std_error", "t_value", "df", "p_value", "riv",
                                  "fmi"], strict=True))


class TestEstimates:
    """Result of :func:`test_estimates` (R: ``mitml.testEstimates``).

    Attributes
    ----------
    estimates : pandas.DataFrame
        Index: parameter names; columns as mitml: ``Estimate, Std.Error,
        t.value, df, P(>|t|), RIV, FMI``.
    extra_pars : pandas.DataFrame or None
        Index: mitml's names (``Intercept~~Intercept|cluster_id``, ...,
        ``Residual~~Residual``, ``ICC|cluster_id``); one column ``Estimate``.
    vcov : pandas.DataFrame or None
        The pooled total covariance matrix :math:`\\bar U + (1 + 1/m) B`
        (mitml's ``vcov()``), when full covariance matrices were pooled.
    m : int
    df_com : float or None
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, estimates: pd.DataFrame, extra_pars: pd.DataFrame | None, *, m: int,
                 df_com: float | None, vcov: pd.DataFrame | None):
        self.estimates = estimates
        self.extra_pars = extra_pars
        self.m = int(m)
        self.df_com = df_com
        self.vcov = vcov

    def to_frame(self) -> pd.DataFrame:
        """Both tables in one long frame with snake_case columns (for Parquet).

        Columns: ``term, kind ("estimate" | "extra_par"), estimate,
        std_error, t_value, df, p_value, riv, fmi`` (NaN where mitml reports
        nothing, i.e. for the extra parameters).
        """
        est = self.estimates.rename(columns=_SNAKE).rename_axis("term").reset_index()
        est.insert(1, "kind", "estimate")
        parts = [est]
        if self.extra_pars is not None and len(self.extra_pars):
            ext = pd.DataFrame({"term": list(self.extra_pars.index), "kind": "extra_par",
                                "estimate": self.extra_pars["Estimate"].to_numpy()})
            parts.append(ext)
        out = pd.concat(parts, ignore_index=True)
        cols = ["term", "kind"] + list(_SNAKE.values())
        return out.reindex(columns=cols)

    def __repr__(self) -> str:
        df_txt = "Rubin (1987)" if self.df_com is None else \
            f"Barnard-Rubin (1999), df_com = {self.df_com:g}"
        lines = [f"TestEstimates (mitml::testEstimates; m = {self.m}; df: {df_txt})",
                 self.estimates.to_string(float_format="{:.4g}".format)]
        if self.extra_pars is not None and len(self.extra_pars):
            lines += ["", "Extra parameters (averaged over imputations, no inference):",
                      self.extra_pars.to_string(float_format="{:.4g}".format)]
        return "\n".join(lines)


def test_estimates(fits=None, extra_pars: bool = True, df_com: float | None = None, *,
                   estimates=None, covariances=None, varcomp_scale: str = "raw") -> TestEstimates:
    """Pool estimates as ``mitml::testEstimates(model, extra.pars=, df.com=)``.

    Parameters
    ----------
    fits : list of fit results, optional
        One fitted model per imputation (``imp.fit(...)``).
    extra_pars : bool, default True
        Also average the variance components and the ICC (mitml's
        ``extra.pars``; R's default is FALSE). Ignored with raw
        ``estimates``, which carry none.
    df_com : float, optional
        Complete-data df. None (mitml's default): Rubin's (1987) df; given:
        Barnard and Rubin's (1999).
    estimates, covariances : lists, optional
        Instead of ``fits``: per-imputation estimates and covariance
        matrices or variances (mitml's ``qhat``/``uhat``).
    varcomp_scale : {"raw", "log"}, default "raw"
        Scale on which the extra parameters are averaged: ``"raw"`` as mitml,
        ``"log"`` geometric means of the variances and Fisher-z means of the
        correlations (:func:`mlmice.pooling.varcomp.pooled_misc_parameters`).

    Returns
    -------
    TestEstimates
    """
    if (fits is None) == (estimates is None):
        raise TypeError("pass either fits or estimates= (with covariances=), not both or "
                        "neither")
    if varcomp_scale not in SCALES:
        raise ValueError(f"varcomp_scale == {varcomp_scale!r}; choose one of {list(SCALES)}")
    check_bool(extra_pars, "extra_pars")
    if df_com is not None:
        if isinstance(df_com, bool) or not isinstance(df_com, numbers.Real) or not df_com > 0:
            raise ValueError(f"df_com == {df_com!r}, must be a positive number or None")
        df_com = float(df_com)
    fit_list = None
    if fits is not None:
        fit_list = as_fit_list(fits)
        stacked = stack_fits(fit_list)
    else:
        stacked = stack_raw(estimates, covariances)
    m = stacked.m
    if m < 2:
        raise ValueError(f"m == {m}: testEstimates needs at least two imputations (the "
                         "between-imputation variance is undefined with one)")
    table = mitml_table(stacked.qhat, stacked.variances, df_com=df_com, terms=stacked.terms)
    vcov = None
    if not stacked.diagonal_only:
        dev = stacked.qhat - stacked.qhat.mean(axis=0)
        b = dev.T @ dev / (m - 1)
        tmat = stacked.uhat.mean(axis=0) + (1.0 + 1.0 / m) * b
        vcov = pd.DataFrame(tmat, index=stacked.terms, columns=stacked.terms)
    extra = None
    if extra_pars and fit_list is not None:
        try:
            extra = pooled_misc_parameters(fit_list, scale=varcomp_scale).to_frame("Estimate")
        except TypeError as err:      # as mitml: warn, and report the estimates only
            warnings.warn(f"no extra parameters: {err}", UserWarning, stacklevel=2)
    return TestEstimates(table, extra, m=m, df_com=df_com, vcov=vcov)


def mitml_table(qhat: np.ndarray, uhat: np.ndarray, *, df_com: float | None,
                terms: list[str]) -> pd.DataFrame:
    """mitml's estimates table from per-imputation estimates and variances, shape (m, p)."""
    parts = rubin_parts(qhat, uhat)
    se = np.sqrt(parts.t)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = parts.qbar / se
    df = mitml_df(parts.m, parts.riv, df_com)
    fmi = fraction_missing_information(parts.riv, df)
    return pd.DataFrame({
        "Estimate": parts.qbar, "Std.Error": se, "t.value": stat, "df": df,
        "P(>|t|)": t_p_value(stat, df), "RIV": parts.riv, "FMI": fmi,
    }, index=pd.Index(terms, name=None))


test_estimates.__test__ = False  # keep pytest from collecting the imported function

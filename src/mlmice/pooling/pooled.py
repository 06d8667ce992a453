r"""``pool``: mice's ``pool()`` and ``summary(pool(fit), conf.int = TRUE)``.

For every term, Rubin's rules give :math:`\bar Q, \bar U, B, T, r, \lambda`
(see :mod:`mlmice.pooling.rubin`); the degrees of freedom are Barnard and
Rubin's (1999) small-sample value with the complete-data df taken from the
fit (``n - p`` for ``lm``; lme4's ``df.residual``, ``n`` minus all model
parameters, for ``lmer``), exactly as ``mice:::barnard.rubin`` computes them,
and the fraction of missing information is
:math:`(r + 2/(\nu + 3)) / (1 + r)`. The summary adds
:math:`\text{se} = \sqrt{T}`, :math:`t = \bar Q / \text{se}`, the two-sided
p-value from :math:`t_\nu` (``df`` floored at 0.001 as mice does) and the
interval :math:`\bar Q \pm t_{\nu, (1+\text{level})/2}\,\text{se}`.

References
----------
van Buuren, S. and Groothuis-Oudshoorn, K. (2011). mice: Multivariate
Imputation by Chained Equations in R. *JSS* 45(3). ``mice::pool``,
``mice:::barnard.rubin``, ``mice:::summary.mipo`` (mice 3.15.0).
Barnard, J. and Rubin, D. B. (1999). *Biometrika* 86(4), 948-955.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
import pandas as pd

from mlmice._validation import check_scalar
from mlmice.pooling.extract import Stacked, as_fit_list, fit_dfcom, stack_fits, stack_raw
from mlmice.pooling.rubin import (
    barnard_rubin_df,
    fraction_missing_information,
    rubin_parts,
    t_interval,
    t_p_value,
)

#: ``mice::pool(...)$pooled`` columns.
POOLED_COLUMNS = ["term", "m", "estimate", "ubar", "b", "t", "dfcom", "df", "riv", "lambda",
                  "fmi"]
#: ``summary(pool(fit), conf.int = TRUE)`` (type "tests") columns, snake_case.
SUMMARY_COLUMNS = ["term", "estimate", "std_error", "statistic", "df", "p_value", "conf_low",
                   "conf_high"]
#: The pipeline's ``pooled/{model}.parquet`` columns (DESIGN.md, data contracts).
FRAME_COLUMNS = POOLED_COLUMNS + ["std_error", "statistic", "p_value", "conf_low", "conf_high"]


class Pooled:
    """Result of :func:`pool` (R: an object of class ``mipo``).

    Attributes
    ----------
    pooled : pandas.DataFrame
        One row per term with mice's columns ``term, m, estimate, ubar, b, t,
        dfcom, df, riv, lambda, fmi``.
    m : int
        Number of imputations.
    dfcom : float
        Complete-data degrees of freedom used for the Barnard-Rubin df.
    """

    def __init__(self, pooled: pd.DataFrame, *, m: int, dfcom: float):
        self._pooled = pooled
        self.m = int(m)
        self.dfcom = float(dfcom)

    @property
    def pooled(self) -> pd.DataFrame:
        return self._pooled.copy()

    @property
    def estimate(self) -> pd.Series:
        """Pooled estimates by term (mice's ``getqbar``)."""
        return pd.Series(self._pooled["estimate"].to_numpy(), index=self._pooled["term"],
                         name="estimate")

    def summary(self, conf_int: bool = True, conf_level: float = 0.95,
                type: str = "tests") -> pd.DataFrame:
        """Tests per term, as ``summary(pool(fit), conf.int=, conf.level=, type=)``.

        Parameters
        ----------
        conf_int : bool, default True
            Add ``conf_low`` and ``conf_high`` (R's default is FALSE).
        conf_level : float, default 0.95
        type : {"tests", "all"}
            "tests": ``term, estimate, std_error, statistic, df, p_value``
            (and the interval); "all" also keeps ``m, riv, lambda, fmi, ubar,
            b, t, dfcom``, in mice's order.
        """
        if type not in ("tests", "all"):
            raise ValueError(f"type == {type!r}, must be 'tests' or 'all'")
        check_scalar(conf_level, "conf_level", min_val=0.0, max_val=1.0, include_min=False,
                     include_max=False)
        full = self._tests(conf_level=conf_level)
        cols = ["term"] + (["m"] if type == "all" else []) + [
            "estimate", "std_error", "statistic", "df", "p_value"]
        if conf_int:
            cols += ["conf_low", "conf_high"]
        if type == "all":
            cols += ["riv", "lambda", "fmi", "ubar", "b", "t", "dfcom"]
        return full[cols]

    def to_frame(self, conf_level: float = 0.95) -> pd.DataFrame:
        """The pooled table with the tests, in DESIGN.md's ``pooled/{model}`` column order.

        Columns: ``term, m, estimate, ubar, b, t, dfcom, df, riv, lambda, fmi,
        std_error, statistic, p_value, conf_low, conf_high`` (R's
        ``tidy(pool(fit), conf.int = TRUE)`` content, snake_case). Plain
        columns only, so it writes to Parquet as is.
        """
        return self._tests(conf_level=conf_level)[FRAME_COLUMNS]

    def _tests(self, *, conf_level: float) -> pd.DataFrame:
        z = self._pooled.copy()
        se = np.sqrt(z["t"].to_numpy())
        est = z["estimate"].to_numpy()
        df = z["df"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = est / se
        z["std_error"] = se
        z["statistic"] = stat
        z["p_value"] = t_p_value(stat, np.maximum(df, 0.001))
        z["conf_low"], z["conf_high"] = t_interval(est, se, df, conf_level)
        return z

    def __repr__(self) -> str:
        head = f"Pooled (Rubin's rules; m = {self.m}, dfcom = {self.dfcom:g})"
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            body = self.summary(conf_int=True).to_string(index=False, float_format="{:.4g}".format)
        tail = self._pooled[["term", "riv", "lambda", "fmi"]].to_string(
            index=False, float_format="{:.4g}".format)
        return f"{head}\n{body}\n\n{tail}"


def pool(fits=None, dfcom: float | None = None, *, estimates=None, covariances=None):
    """Pool analyses of multiply-imputed data by Rubin's rules, as ``mice::pool``.

    Parameters
    ----------
    fits : list of fit results, optional
        One fitted model per imputation, as ``imp.fit(...)`` returns
        (anything with ``.fixef`` or ``.params`` and ``.vcov`` or
        ``.cov_params()``; see :mod:`mlmice.pooling.extract`).
    dfcom : float, optional
        Complete-data degrees of freedom. Default: taken from the first fit
        (``.dfcom``, ``.df_residual``, or ``nobs - p``), else infinite with a
        warning, as mice's ``get.dfcom``. Values below 1 become 1.
    estimates, covariances : lists, optional
        Instead of ``fits``: per-imputation estimates (Series or dicts by
        term, or arrays) and their covariance matrices or variances (squared
        standard errors). Works for any model. Without ``dfcom`` the df is
        Rubin's large-sample value (``dfcom = inf``), as ``mice::pool.scalar``
        with its default ``n = Inf``.

    Returns
    -------
    Pooled or the single fit
        With one imputation (``m = 1``) there is no between-imputation
        variance: like mice, ``pool`` warns and returns the single fit
        unchanged (for raw ``estimates`` it returns a :class:`Pooled` whose
        ``b``, ``riv``, ``lambda`` and ``fmi`` are NaN, with ``t = ubar`` and
        ``df = dfcom``, i.e. complete-data inference).

    Notes
    -----
    When the estimates agree exactly between imputations (``b = 0``, e.g. a
    model whose variables were all complete), ``riv = lambda = 0`` and mice's
    floor ``lambda >= 1e-4`` in the df formula gives ``df`` close to
    ``dfcom``; a ``UserWarning`` names the terms.

    Examples
    --------
    >>> fits = imp.fit("popularity_ij ~ gender_ij + (1 | cluster_id)", reml=False)
    >>> mm.pool(fits).summary(conf_int=True)            # doctest: +SKIP
    """
    if (fits is None) == (estimates is None):
        raise TypeError("pass either fits or estimates= (with covariances=), not both or "
                        "neither")
    if dfcom is not None:
        if isinstance(dfcom, bool) or not isinstance(dfcom, numbers.Real) or math.isnan(dfcom):
            raise TypeError(f"dfcom must be a real number or None, got {dfcom!r}")
        dfcom = max(float(dfcom), 1.0)
    if fits is not None:
        fit_list = as_fit_list(fits)
        if len(fit_list) == 1:
            warnings.warn("Number of multiple imputations m = 1: no between-imputation "
                          "variance, no pooling done; returning the single fit",
                          UserWarning, stacklevel=2)
            return fit_list[0]
        stacked = stack_fits(fit_list)
        if dfcom is None:
            dfcom = fit_dfcom(fit_list[0])
    else:
        stacked = stack_raw(estimates, covariances)
        if dfcom is None:
            dfcom = math.inf
        if stacked.m == 1:
            warnings.warn("Number of multiple imputations m = 1: no between-imputation "
                          "variance; b, riv, lambda and fmi are NaN and the tests use the "
                          "complete-data variance and df", UserWarning, stacklevel=2)
    return Pooled(pool_stacked(stacked, dfcom=dfcom), m=stacked.m, dfcom=dfcom)


def pool_stacked(stacked: Stacked, *, dfcom: float) -> pd.DataFrame:
    """mice's ``pool.fitlist`` table (rule "rubin1987") from stacked estimates."""
    parts = rubin_parts(stacked.qhat, stacked.variances)
    m = parts.m
    if m > 1:
        df = barnard_rubin_df(m, parts.b, parts.t, dfcom)
        fmi = fraction_missing_information(parts.riv, df)
        zero = [t for t, b in zip(stacked.terms, parts.b, strict=True) if b == 0]
        if zero:
            warnings.warn(f"between-imputation variance b = 0 for {zero}: the estimates are "
                          "identical in every imputation (riv = lambda = 0; df from mice's "
                          "floor lambda >= 1e-4)", UserWarning, stacklevel=3)
    else:
        df = np.full(len(stacked.terms), dfcom)
        fmi = np.full(len(stacked.terms), np.nan)
    t = parts.t if m > 1 else parts.ubar
    return pd.DataFrame({
        "term": stacked.terms, "m": m, "estimate": parts.qbar, "ubar": parts.ubar,
        "b": parts.b, "t": t, "dfcom": dfcom, "df": df, "riv": parts.riv,
        "lambda": parts.lam, "fmi": fmi,
    })

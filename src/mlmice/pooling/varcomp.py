"""Variance components of a fit under mitml's names (``mitml:::.getMisc``).

For a mixed model with ``as.data.frame(VarCorr(fit))``-style rows (``grp,
var1, var2, vcov, sdcor``; mlmice fits expose them as ``.varcorr``), mitml
names, per grouping factor ``g`` in the order they appear:

* variances ``a~~a|g`` (``(Intercept)`` written ``Intercept``), then
* covariances ``a~~b|g`` for the upper triangle of the covariance matrix,
  column by column (pairs (1,2), (1,3), (2,3), ...), then
* ``Residual~~Residual`` (the residual variance, sigma^2), then
* ``ICC|g`` = tau_00 / (tau_00 + sigma^2) when there is exactly one grouping
  factor and it has a random intercept.

For a linear model (no grouping factor) mitml reports only
``Residual~~Residual`` = RSS / (n - p), the unbiased residual variance.

These are point estimates averaged over imputations, with no standard error
or test: Rubin's rules need the sampling variance of each estimate, which
lme4 does not provide for variance components (Grund, Luedtke and Robitzsch
2016, mitml documentation).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

REQUIRED = ("grp", "var1", "var2", "vcov")


def _label(var: str) -> str:
    return "Intercept" if var == "(Intercept)" else var


def _missing(x) -> bool:
    return not isinstance(x, str) and pd.isna(x)


def covariance_matrices(vc: pd.DataFrame) -> tuple[dict[str, pd.DataFrame], float | None]:
    """Random-effects covariance matrices and residual variance from ``.varcorr`` rows.

    Parameters
    ----------
    vc : pandas.DataFrame
        Rows of R's ``as.data.frame(VarCorr(fit))``: columns ``grp``,
        ``var1``, ``var2`` (missing for a variance), ``vcov``.

    Returns
    -------
    covariances : dict of str -> pandas.DataFrame
        Per grouping factor, in order of appearance, the covariance matrix
        with rows and columns named by effect in the order of its variances;
        covariances not listed are 0 (uncorrelated terms).
    residual : float or None
        The ``Residual`` row's variance, if there is one.

    Raises
    ------
    ValueError
        When a covariance row names an effect that has no variance row.
    """
    covs: dict[str, pd.DataFrame] = {}
    residual = None
    for grp in pd.unique(vc["grp"]):
        rows = vc[vc["grp"] == grp]
        if str(grp) == "Residual":
            residual = float(rows["vcov"].iloc[0])
            continue
        var_rows = rows[[_missing(v) for v in rows["var2"]]]
        names = [str(v) for v in var_rows["var1"]]
        mat = pd.DataFrame(np.diag(var_rows["vcov"].to_numpy(dtype=float)), index=names,
                           columns=names)
        for v1, v2, val in zip(rows["var1"], rows["var2"], rows["vcov"], strict=True):
            if _missing(v2):
                continue
            unknown = [str(v) for v in (v1, v2) if str(v) not in names]
            if unknown:
                raise ValueError(f"varcorr: covariance {v1}~~{v2} of group {grp!r} names "
                                 f"{unknown} without a variance row")
            mat.loc[str(v1), str(v2)] = mat.loc[str(v2), str(v1)] = float(val)
        covs[str(grp)] = mat
    return covs, residual


def misc_parameters(fit, *, imputation: int = 1) -> pd.Series:
    """mitml's extra parameters of one fit: variance components and ICC.

    Parameters
    ----------
    fit : fit result
        With ``.varcorr`` (DataFrame with columns grp, var1, var2, vcov), or,
        for a model without random effects, ``.sigma`` (residual SD with the
        ``n - p`` divisor) or ``.scale`` (statsmodels: the residual variance).
    imputation : int
        For error messages only.

    Returns
    -------
    pandas.Series
        Values by mitml name, in mitml's order.
    """
    vc = getattr(fit, "varcorr", None)
    if vc is None:
        sigma = getattr(fit, "sigma", None)
        scale = getattr(fit, "scale", None)          # statsmodels OLS: RSS / df_resid
        if sigma is not None and not callable(sigma):
            return pd.Series({"Residual~~Residual": float(sigma) ** 2})
        if scale is not None and not callable(scale):
            return pd.Series({"Residual~~Residual": float(scale)})
        raise TypeError(f"fit of imputation {imputation} ({type(fit).__name__}) has no "
                        "'.varcorr', '.sigma' or '.scale'; cannot report variance components")
    if not isinstance(vc, pd.DataFrame) or any(c not in vc.columns for c in REQUIRED):
        raise TypeError(f"'.varcorr' of imputation {imputation} must be a DataFrame with "
                        f"columns {list(REQUIRED)} (R's as.data.frame(VarCorr(fit)))")
    return varcorr_parameters(vc)


def varcorr_parameters(vc: pd.DataFrame) -> pd.Series:
    """mitml's names and values for the rows of a ``.varcorr`` frame (see the module docstring).

    Parameters
    ----------
    vc : pandas.DataFrame
        Columns ``grp``, ``var1``, ``var2``, ``vcov`` (R's
        ``as.data.frame(VarCorr(fit))``).

    Returns
    -------
    pandas.Series
        Variances, covariances, residual variance and (one grouping factor
        with a random intercept) the ICC, in mitml's order.
    """
    covs, residual = covariance_matrices(vc)
    groups = list(covs)
    out: dict[str, float] = {}
    for grp, mat in covs.items():
        names = list(mat.index)
        for nm in names:
            out[f"{_label(nm)}~~{_label(nm)}|{grp}"] = float(mat.loc[nm, nm])
        for j in range(len(names)):
            for i in range(j):
                out[f"{_label(names[i])}~~{_label(names[j])}|{grp}"] = float(mat.iloc[i, j])
    if residual is not None:
        out["Residual~~Residual"] = residual
        if len(groups) == 1:
            key = f"Intercept~~Intercept|{groups[0]}"
            if key in out:
                out[f"ICC|{groups[0]}"] = out[key] / (out[key] + residual)
    return pd.Series(out, dtype=float)


def pooled_misc_parameters(fits: list) -> pd.Series:
    """Average of :func:`misc_parameters` over imputations (``mitml:::.pool.estimates``).

    Every imputation must report the same names; the error names the first
    imputation that does not.
    """
    per = [misc_parameters(f, imputation=i) for i, f in enumerate(fits, start=1)]
    names = list(per[0].index)
    for i, s in enumerate(per[1:], start=2):
        if list(s.index) != names:
            diff = sorted(set(s.index) ^ set(names))
            raise ValueError(f"variance components of imputation {i} differ from imputation "
                             f"1 in {diff}")
    mat = np.vstack([s.to_numpy() for s in per])
    return pd.Series(mat.mean(axis=0), index=names, name="Estimate")

r"""Variance components of a fit under mitml's names (``mitml:::.getMisc``).

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

Two scales of averaging (:func:`pooled_misc_parameters`, ``scale=``):

``"raw"`` (default, mitml)
    Every parameter, the ICC included, is the arithmetic mean of its m
    estimates.
``"log"``
    Rubin's rules average point estimates on a scale where their sampling
    distribution is close to normal (van Buuren 2018, chapter 5: Fisher's
    z for correlations, logs for ratios). A weakly
    identified variance is right-skewed across imputations, and its plain
    mean is pulled up by the long tail: ``bench/slope_reliability.py``
    measures +8.4 % and +36.6 % against the complete data for 2l.smc at slope
    reliabilities 0.28 and 0.09, against +2.5 % and +17.6 % for the geometric
    mean (the observed-data ML estimate itself: +0.6 % and +14.1 %). So:

    * each variance (and ``Residual~~Residual``) is
      :math:`\exp(\overline{\log \hat\tau})`, its geometric mean;
    * each covariance is :math:`\tanh(\bar z) \sqrt{\tilde\tau_{aa}
      \tilde\tau_{bb}}`, with :math:`\bar z` the mean of Fisher's
      :math:`z = \operatorname{artanh} r` of the per-imputation correlation
      and :math:`\tilde\tau` the pooled variances;
    * the ICC is computed from the pooled intercept and residual variances,
      which equals the inverse logit of the mean logit ICC, so the ICC is
      pooled on its own logit scale.

    A variance estimated as 0 in some imputation (lme4's boundary fit) has no
    logarithm: that variance falls back to the arithmetic mean, with a
    warning naming it. A correlation of +-1 (a singular fit) likewise makes
    its covariance use the mean correlation. With three or more random
    effects the Fisher-z correlations need not form a positive semi-definite
    matrix; then the group's correlations are the mean correlation matrix
    (always valid), with a warning.

References
----------
van Buuren, S. (2018). *Flexible Imputation of Missing Data*, 2nd ed. CRC.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

REQUIRED = ("grp", "var1", "var2", "vcov")
#: Scales on which :func:`pooled_misc_parameters` averages (see the module docstring).
SCALES = ("raw", "log")


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


def pooled_misc_parameters(fits: list, *, scale: str = "raw") -> pd.Series:
    """Variance components and ICC pooled over imputations.

    Parameters
    ----------
    fits : list of fit results
        One per imputation; every one must report the same names (the error
        names the first that does not).
    scale : {"raw", "log"}, default "raw"
        ``"raw"``: arithmetic means, as ``mitml:::.pool.estimates``.
        ``"log"``: geometric means of the variances, Fisher-z means of the
        correlations, the ICC from the pooled components (module docstring).

    Returns
    -------
    pandas.Series
        Pooled values by mitml name, in mitml's order, named ``Estimate``.
    """
    if scale not in SCALES:
        raise ValueError(f"scale == {scale!r}; the variance components are averaged on one "
                         f"of the scales {list(SCALES)}")
    per = [misc_parameters(f, imputation=i) for i, f in enumerate(fits, start=1)]
    names = list(per[0].index)
    for i, s in enumerate(per[1:], start=2):
        if list(s.index) != names:
            diff = sorted(set(s.index) ^ set(names))
            raise ValueError(f"variance components of imputation {i} differ from imputation "
                             f"1 in {diff}")
    values = pd.DataFrame(np.vstack([s.to_numpy() for s in per]), columns=names)
    pooled = values.mean(axis=0) if scale == "raw" else log_scale_means(values)
    return pd.Series(pooled.to_numpy(dtype=float), index=names, name="Estimate")


def split_name(name: str) -> tuple[str, str, str]:
    """A mitml name's parts: ``"a~~b|g"`` -> ``("a", "b", "g")``, ``"ICC|g"`` -> ``("ICC",
    "", "g")``, ``"Residual~~Residual"`` -> ``("Residual", "Residual", "")``.

    A variance has ``a == b``; a covariance has ``b`` and ``a != b``.
    """
    left, _, group = name.partition("|")
    a, _, b = left.partition("~~")
    return a, b, group


def log_scale_means(values: pd.DataFrame) -> pd.Series:
    """Pool per-imputation variance components on the log / Fisher-z scale.

    Parameters
    ----------
    values : pandas.DataFrame
        One row per imputation, one column per mitml name (variances,
        covariances, ``Residual~~Residual``, ``ICC|g``).

    Returns
    -------
    pandas.Series
        The pooled values, same names; see the module docstring for the rules
        and their fall-backs (each of which warns).
    """
    out = values.mean(axis=0)
    variances = [c for c in values.columns if split_name(c)[0] == split_name(c)[1]]
    for name in variances:
        col = values[name].to_numpy(dtype=float)
        if np.all(col > 0) and np.all(np.isfinite(col)):
            out[name] = float(np.exp(np.mean(np.log(col))))
        else:
            warnings.warn(f"{name}: {int(np.sum(~(col > 0)))} of {len(col)} imputations "
                          "estimate it at 0 (a boundary fit), which has no logarithm; it is "
                          "pooled as the plain average", UserWarning, stacklevel=3)
    by_group: dict[str, list[str]] = {}
    for name in values.columns:
        a, b, group = split_name(name)
        if b and a != b:
            by_group.setdefault(group, []).append(name)
    for group, covs in by_group.items():
        _pool_correlations(values, out, group=group, covariances=covs)
    for name in values.columns:
        a, _, group = split_name(name)
        if a == "ICC":
            tau, sigma2 = out[f"Intercept~~Intercept|{group}"], out["Residual~~Residual"]
            out[name] = float(tau / (tau + sigma2))
    return out


def _pool_correlations(values: pd.DataFrame, out: pd.Series, *, group: str,
                       covariances: list[str]) -> None:
    """Fisher-z mean of each correlation of ``group``, times the pooled SDs, into ``out``."""
    effects = list(dict.fromkeys(e for name in covariances for e in split_name(name)[:2]))
    sd = {e: np.sqrt(values[f"{e}~~{e}|{group}"].to_numpy(dtype=float).clip(min=0))
          for e in effects}
    corr: dict[str, float] = {}
    plain: dict[str, float] = {}
    for name in covariances:
        a, b, _ = split_name(name)
        denom = sd[a] * sd[b]
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(denom > 0, values[name].to_numpy(dtype=float) / denom, 0.0)
        r = r.clip(-1.0, 1.0)
        plain[name] = float(np.mean(r))
        if np.all(np.abs(r) < 1.0 - 1e-10):
            corr[name] = float(np.tanh(np.mean(np.arctanh(r))))
        else:
            corr[name] = plain[name]
            warnings.warn(f"{name}: a correlation of +-1 (a singular fit) in some imputation "
                          "has no Fisher z; its covariance uses the mean correlation",
                          UserWarning, stacklevel=4)
    if len(effects) > 2 and not _positive_semidefinite(corr, effects):
        warnings.warn(f"the Fisher-z mean correlations of group {group!r} do not form a "
                      "positive semi-definite matrix; its covariances use the mean "
                      "correlations instead", UserWarning, stacklevel=4)
        corr = plain
    for name in covariances:
        a, b, _ = split_name(name)
        out[name] = corr[name] * float(np.sqrt(out[f"{a}~~{a}|{group}"]
                                               * out[f"{b}~~{b}|{group}"]))


def _positive_semidefinite(corr: dict[str, float], effects: list[str]) -> bool:
    mat = np.eye(len(effects))
    index = {e: i for i, e in enumerate(effects)}
    for name, r in corr.items():
        a, b, _ = split_name(name)
        mat[index[a], index[b]] = mat[index[b], index[a]] = r
    return bool(np.linalg.eigvalsh(mat).min() >= -1e-12)

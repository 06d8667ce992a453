r"""Performance measures of a simulation study, each with its Monte Carlo SE.

For one arm, model and term, let :math:`\hat\theta_i` be the estimate of
replicate :math:`i = 1..n`, :math:`\widehat{SE}_i` its model standard error,
:math:`[l_i, u_i]` its confidence interval, :math:`\theta` the true value
and :math:`\hat\theta^{c}_i` the estimate of the complete data of the same
replicate (before values were deleted). With :math:`\bar\theta` the mean
estimate and :math:`s^2 = \sum (\hat\theta_i - \bar\theta)^2 / (n-1)`
(Morris, White and Crowther 2019, table 6):

- bias :math:`\bar\theta - \theta`, MC SE :math:`s / \sqrt n`;
- relative bias :math:`(\bar\theta - \theta)/\theta`, MC SE
  :math:`s / (\sqrt n\, |\theta|)`;
- empirical SE :math:`s`, MC SE :math:`s / \sqrt{2(n-1)}`;
- model SE :math:`M = \sqrt{\overline{SE^2}}`, MC SE
  :math:`\sqrt{\mathrm{Var}(SE^2) / (4 n M^2)}`;
- relative error of the model SE :math:`M / s - 1`, MC SE
  :math:`(M/s)\sqrt{\mathrm{Var}(SE^2) / (4 n M^4) + 1 / (2(n-1))}`;
- coverage :math:`C = \frac1n\sum_i 1\{l_i \le \theta \le u_i\}`, MC SE
  :math:`\sqrt{C(1-C)/n}`;
- CI width :math:`\overline{u - l}`, MC SE :math:`\mathrm{sd}(u - l)/\sqrt n`;
- RMSE :math:`\sqrt{\overline{(\hat\theta - \theta)^2}}`, MC SE
  :math:`\mathrm{SE}(\mathrm{MSE}) / (2\,\mathrm{RMSE})` (delta method);

and, against the complete-data fit of the same replicate (paired, which
removes the sampling error that MI and the complete data share),
:math:`d_i = \hat\theta_i - \hat\theta^c_i`: ``bias_vs_complete`` =
:math:`\bar d` with MC SE :math:`\mathrm{sd}(d)/\sqrt n`, and
``relative_bias_vs_complete`` = :math:`\bar d / \bar\theta^c` with MC SE
:math:`\mathrm{sd}(d) / (\sqrt n\, |\bar\theta^c|)`.

Variance components have no model SE in lme4 and mitml pools them as plain
averages, so their SE, coverage and CI columns are NaN; their bias is what
the study shows.

Reference
---------
Morris, T. P., White, I. R. and Crowther, M. J. (2019). Using simulation
studies to evaluate statistical methods. Statistics in Medicine, 38(11),
2074-2102.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["ESTIMATE_COLUMNS", "SUMMARY_COLUMNS", "correlation_scale",
           "covariances_in_correlation_units", "performance_measures"]

#: Columns of the per-replicate estimates table (one row per replicate, arm, model, term).
ESTIMATE_COLUMNS = ("replicate", "arm", "model", "kind", "term", "estimate", "std_error",
                    "conf_low", "conf_high", "true_value", "complete_estimate")

#: Columns of :func:`performance_measures` (``summary.parquet``).
SUMMARY_COLUMNS = ("arm", "model", "kind", "term", "true_value", "n_replicates",
                   "mean_estimate", "bias", "bias_mcse", "relative_bias",
                   "relative_bias_mcse", "bias_vs_complete", "bias_vs_complete_mcse",
                   "relative_bias_vs_complete", "relative_bias_vs_complete_mcse", "emp_se",
                   "emp_se_mcse", "model_se", "model_se_mcse", "model_se_rel_error",
                   "model_se_rel_error_mcse", "coverage", "coverage_mcse", "ci_width",
                   "ci_width_mcse", "rmse", "rmse_mcse")


def _ratio(num: float, den: float) -> float:
    return num / den if den != 0 and np.isfinite(den) else np.nan


def _measures(block: pd.DataFrame) -> dict:
    est = block["estimate"].to_numpy(dtype=float)
    n = est.size
    theta = float(block["true_value"].iloc[0])
    out = {"true_value": theta, "n_replicates": n, "mean_estimate": est.mean()}
    s = est.std(ddof=1) if n > 1 else np.nan
    bias = est.mean() - theta
    # without a known truth there is no bias, so no MC SE of it either
    bias_mcse = s / np.sqrt(n) if np.isfinite(theta) else np.nan
    out.update(bias=bias, bias_mcse=bias_mcse, relative_bias=_ratio(bias, theta),
               relative_bias_mcse=_ratio(bias_mcse, abs(theta)), emp_se=s,
               emp_se_mcse=s / np.sqrt(2.0 * (n - 1)) if n > 1 else np.nan)
    comp = block["complete_estimate"].to_numpy(dtype=float)
    if np.all(np.isfinite(comp)):
        d = est - comp
        sd_d = d.std(ddof=1) if n > 1 else np.nan
        out.update(bias_vs_complete=d.mean(), bias_vs_complete_mcse=sd_d / np.sqrt(n),
                   relative_bias_vs_complete=_ratio(d.mean(), comp.mean()),
                   relative_bias_vs_complete_mcse=_ratio(sd_d / np.sqrt(n), abs(comp.mean())))
    se = block["std_error"].to_numpy(dtype=float)
    if np.all(np.isfinite(se)) and n > 1:
        v = se ** 2
        mod = np.sqrt(v.mean())
        var_v = v.var(ddof=1)
        out.update(model_se=mod, model_se_mcse=np.sqrt(var_v / (4.0 * n * v.mean())),
                   model_se_rel_error=_ratio(mod, s) - 1.0,
                   model_se_rel_error_mcse=_ratio(mod, s) * np.sqrt(
                       var_v / (4.0 * n * mod ** 4) + 1.0 / (2.0 * (n - 1))))
    lo = block["conf_low"].to_numpy(dtype=float)
    hi = block["conf_high"].to_numpy(dtype=float)
    if np.all(np.isfinite(lo) & np.isfinite(hi)):
        width = hi - lo                     # needs no truth
        out.update(ci_width=width.mean(),
                   ci_width_mcse=width.std(ddof=1) / np.sqrt(n) if n > 1 else np.nan)
        if np.isfinite(theta):
            cover = ((lo <= theta) & (theta <= hi)).mean()
            out.update(coverage=cover, coverage_mcse=np.sqrt(cover * (1.0 - cover) / n))
    if np.isfinite(theta):
        sq = (est - theta) ** 2
        mse = sq.mean()
        rmse = np.sqrt(mse)
        mse_se = np.sqrt(np.sum((sq - mse) ** 2) / (n * (n - 1))) if n > 1 else np.nan
        out.update(rmse=rmse, rmse_mcse=_ratio(mse_se, 2.0 * rmse))
    return out


def performance_measures(estimates: pd.DataFrame) -> pd.DataFrame:
    """Bias, empirical and model SE, coverage, CI width and RMSE with their MC SEs.

    Parameters
    ----------
    estimates : DataFrame
        One row per replicate, arm, model and term, with the columns of
        :data:`ESTIMATE_COLUMNS` (``std_error``, ``conf_low``, ``conf_high``
        NaN for variance components; ``complete_estimate`` the same term's
        estimate on the replicate's complete data; ``true_value`` NaN where
        unknown).

    Returns
    -------
    DataFrame
        One row per arm, model and term with the columns of
        :data:`SUMMARY_COLUMNS`; a measure that cannot be computed (fewer than
        two replicates, no SE, no truth) is NaN.

    Raises
    ------
    ValueError
        When a column is missing or a term has more than one true value.
    """
    absent = [c for c in ESTIMATE_COLUMNS if c not in estimates.columns]
    if absent:
        raise ValueError(f"estimates lack the columns {absent}")
    rows = []
    keys = ["arm", "model", "kind", "term"]
    for key, block in estimates.groupby(keys, sort=False, dropna=False):
        truths = block["true_value"].dropna().unique()
        if truths.size > 1:
            raise ValueError(f"term {key[3]!r} of model {key[1]!r} has several true values "
                             f"{sorted(truths)}")
        rows.append({**dict(zip(keys, key, strict=True)), **_measures(block)})
    out = pd.DataFrame(rows)
    for col in SUMMARY_COLUMNS:
        if col not in out:
            out[col] = np.nan
    return out[list(SUMMARY_COLUMNS)].astype({"n_replicates": "int64"})


def correlation_scale(complete_means: pd.Series, model: str, term: str) -> float | None:
    r""":math:`\sqrt{\bar\tau_{aa}\bar\tau_{bb}}` for a covariance ``a~~b|g``, else ``None``.

    Parameters
    ----------
    complete_means : Series
        The complete-data arm's mean estimate per ``(model, term)``.
    model, term : str
        The row; ``None`` when ``term`` is not a covariance or either variance has no
        complete-data mean.
    """
    from mlmice.pooling.varcomp import split_name

    a, b, group = split_name(str(term))
    if not group or not b or a == b:
        return None
    try:
        return float(np.sqrt(complete_means[(model, f"{a}~~{a}|{group}")]
                             * complete_means[(model, f"{b}~~{b}|{group}")]))
    except KeyError:
        return None


def covariances_in_correlation_units(summary: pd.DataFrame) -> pd.DataFrame:
    r"""Relative bias of each covariance against :math:`\sqrt{\tau_{aa}\tau_{bb}}`, not itself.

    A covariance ``a~~b|g`` is often near 0 (0 in a design without one), where a
    bias divided by the covariance means nothing (+230 % was printed once). Its
    paired bias against the complete data is divided instead by
    :math:`\sqrt{\bar\tau_{aa} \bar\tau_{bb}}`, the complete-data arm's mean
    variances of the same model: a bias in correlation units (0.1 = a tenth of the
    largest covariance the variances allow), and its MC SE likewise. The term is
    relabelled ``a~~b|g (corr.)``. Other rows, and covariances whose variances have
    no complete-data row, are returned unchanged.

    Parameters
    ----------
    summary : DataFrame
        :func:`performance_measures` of a study with a ``complete`` arm.

    Returns
    -------
    DataFrame
        A copy of ``summary`` with those rows changed.
    """
    out = summary.copy()
    complete = summary[summary["arm"] == "complete"].set_index(["model", "term"])["mean_estimate"]
    for k, r in out.iterrows():
        scale = (None if r["kind"] == "fixed"
                 else correlation_scale(complete, r["model"], r["term"]))
        if scale is None:
            continue
        out.loc[k, "relative_bias_vs_complete"] = r["bias_vs_complete"] / scale
        out.loc[k, "relative_bias_vs_complete_mcse"] = r["bias_vs_complete_mcse"] / scale
        out.loc[k, "term"] = f"{r['term']} (corr.)"
    return out

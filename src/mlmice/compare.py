r"""Truth, complete-case analysis and multiple imputation side by side.

The last step of the tutorial "Imputation of incomplete multilevel data"
(Oberman and Vink, section 4.8) sets the estimates of each analysis model on
the imputed data (pooled by Rubin's rules) beside the estimates on the
complete data (the truth, when the incomplete data were made by amputation)
and on the complete cases (CCA, listwise deletion), and asks which of the two
incomplete-data analyses lands closer to the truth.

For every term :math:`k` of a model the table holds the three estimates
:math:`\hat\theta_k^{\text{true}}, \hat\theta_k^{\text{CCA}},
\hat\theta_k^{\text{MI}}` with their standard errors and 95% intervals (fixed
effects), the errors :math:`\hat\theta_k^{\text{CCA}} -
\hat\theta_k^{\text{true}}` and :math:`\hat\theta_k^{\text{MI}} -
\hat\theta_k^{\text{true}}`, and which absolute error is smaller. Variance
components and the ICC are compared as point estimates under mitml's names
(``Intercept~~Intercept|cluster``, ``Residual~~Residual``, ``ICC|cluster``);
for MI they are averages over the imputations without standard errors
(mitml's ``testEstimates(extra.pars = TRUE)``, see
:mod:`mlmice.pooling.varcomp`).

One data set's difference from the truth is not a bias: it is one draw of
the estimator's error. "Closer" describes this data set, not the methods in
general.

References
----------
Oberman, H. I. and Vink, G. Imputation of incomplete multilevel data
(tutorial, section 4.8).
van Buuren, S. (2018). *Flexible Imputation of Missing Data* (2nd ed.),
section 2.5 (evaluation against the complete data).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlmice.pooling.varcomp import varcorr_parameters

__all__ = ["COMPARE_COLUMNS", "closer_sentences", "compare_estimates"]

SOURCES = ("truth", "cca", "mi")
#: Columns of :func:`compare_estimates` (and of ``compare/estimates.parquet``).
COMPARE_COLUMNS = (["model", "kind", "term"]
                   + [f"{s}{suffix}" for s in SOURCES
                      for suffix in ("", "_se", "_low", "_high")]
                   + ["cca_error", "mi_error", "closer"])
_LABEL = {"truth": "truth", "cca": "CCA", "mi": "MI"}


def _fixed(estimates: pd.DataFrame, dataset: str) -> pd.DataFrame:
    rows = estimates[(estimates["dataset"] == dataset) & (estimates["effect"] == "fixed")]
    return rows.set_index("term")[["estimate", "std_error", "conf_low", "conf_high"]]


def _variances(varcorr: pd.DataFrame, dataset: str) -> pd.Series:
    rows = varcorr[varcorr["dataset"] == dataset]
    if rows.empty:
        return pd.Series(dtype=float)
    vc = rows[["grp", "var1", "var2", "vcov"]].astype({"vcov": float}).reset_index(drop=True)
    return varcorr_parameters(vc)


def compare_estimates(estimates: pd.DataFrame, varcorr: pd.DataFrame, pooled: pd.DataFrame,
                      extra_pars: pd.DataFrame | None = None, *, model: str) -> pd.DataFrame:
    """Truth, CCA and MI estimates of one model, term by term.

    Parameters
    ----------
    estimates : DataFrame
        Tidy fits per data set (the pipeline's ``analysis/{model}/estimates``):
        columns ``dataset`` ("truth", "cca", "imputation"), ``effect``,
        ``term``, ``estimate``, ``std_error``, ``conf_low``, ``conf_high``.
        Without "truth" rows the truth columns are NaN.
    varcorr : DataFrame
        Variance components per data set (``analysis/{model}/varcorr``):
        ``dataset``, ``grp``, ``var1``, ``var2``, ``vcov``.
    pooled : DataFrame
        The pooled fixed effects, ``mlmice.pool(fits).to_frame()`` or the
        ``kind == "fixed"`` rows of :func:`mlmice.pooling.pooled_table`:
        ``term``, ``estimate``, ``std_error``, ``conf_low``, ``conf_high``.
    extra_pars : DataFrame, optional
        ``mlmice.test_estimates(fits).to_frame()``; its rows with ``kind ==
        "extra_par"`` are the pooled variance components and ICC.
    model : str
        The model's name (first column of the result).

    Returns
    -------
    DataFrame
        Columns :data:`COMPARE_COLUMNS`: ``model``, ``kind`` ("fixed" or
        "variance"), ``term``, then for ``truth``, ``cca`` and ``mi`` the
        estimate, ``_se``, ``_low``, ``_high``; ``cca_error`` and
        ``mi_error`` (estimate minus truth) and ``closer`` ("MI", "CCA",
        "equal", or "" without a truth).
    """
    for name, frame, cols in (("estimates", estimates, ("dataset", "effect", "term", "estimate",
                                                        "std_error", "conf_low", "conf_high")),
                              ("pooled", pooled, ("term", "estimate", "std_error", "conf_low",
                                                  "conf_high"))):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} lacks column(s) {missing}")
    has_truth = bool((estimates["dataset"] == "truth").any())
    if "kind" in pooled.columns:
        pooled = pooled[pooled["kind"] == "fixed"]
    mi = pooled.set_index("term")[["estimate", "std_error", "conf_low", "conf_high"]]
    fixed = {"cca": _fixed(estimates, "cca"), "mi": mi}
    fixed["truth"] = _fixed(estimates, "truth") if has_truth else mi.iloc[:0]
    rows = []
    for term in mi.index:
        row = {"model": model, "kind": "fixed", "term": str(term)}
        for src in SOURCES:
            tab = fixed[src]
            vals = tab.loc[term] if term in tab.index else pd.Series(np.nan, index=tab.columns)
            row[src] = float(vals["estimate"])
            row[f"{src}_se"] = float(vals["std_error"])
            row[f"{src}_low"] = float(vals["conf_low"])
            row[f"{src}_high"] = float(vals["conf_high"])
        rows.append(row)
    if extra_pars is not None and len(extra_pars):
        extra = extra_pars[extra_pars["kind"] == "extra_par"].set_index("term")["estimate"]
        variances = {"cca": _variances(varcorr, "cca"), "mi": extra,
                     "truth": _variances(varcorr, "truth") if has_truth else pd.Series(dtype=float)}
        for term in extra.index:
            row = {"model": model, "kind": "variance", "term": str(term)}
            for src in SOURCES:
                row[src] = float(variances[src].get(term, np.nan))
                row[f"{src}_se"] = row[f"{src}_low"] = row[f"{src}_high"] = np.nan
            rows.append(row)
    out = pd.DataFrame(rows, columns=COMPARE_COLUMNS[:-3])
    out["cca_error"] = out["cca"] - out["truth"]
    out["mi_error"] = out["mi"] - out["truth"]
    a, b = out["cca_error"].abs(), out["mi_error"].abs()
    closer = np.where(b < a, "MI", np.where(a < b, "CCA", "equal"))
    out["closer"] = np.where(a.isna() | b.isna(), "", closer)
    return out.astype({c: float for c in COMPARE_COLUMNS[3:-1]})


def _fmt(x: float) -> str:
    return "NA" if not np.isfinite(x) else f"{x:.4g}"


def closer_sentences(table: pd.DataFrame) -> list[str]:
    """One sentence per row of :func:`compare_estimates`: which estimate is closer to the truth."""
    out = []
    for row in table.itertuples(index=False):
        what = f"{row.model}, {row.term}"
        if row.closer == "":
            out.append(f"{what}: no truth to compare with (MI {_fmt(row.mi)}, CCA "
                       f"{_fmt(row.cca)}).")
            continue
        if row.closer == "equal":
            out.append(f"{what}: MI ({_fmt(row.mi)}) and CCA ({_fmt(row.cca)}) are equally "
                       f"close to the truth ({_fmt(row.truth)}).")
            continue
        win, lose = ("mi", "cca") if row.closer == "MI" else ("cca", "mi")
        v = row._asdict()
        out.append(f"{what}: {_LABEL[win]} ({_fmt(v[win])}, off by {_fmt(v[win + '_error'])}) "
                   f"is closer to the truth ({_fmt(row.truth)}) than {_LABEL[lose]} "
                   f"({_fmt(v[lose])}, off by {_fmt(v[lose + '_error'])}).")
    return out

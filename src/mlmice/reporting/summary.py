r"""The results in plain words: what multiple imputation changed, and what to check.

:func:`findings` reads the comparison table of :mod:`mlmice.compare` (truth,
complete-case analysis and MI side by side) and returns the report's summary
as short statements, each marked as a *flag* (something to look at before
using the results) or not. The rules are deliberately simple and written
here so that a reader can check them:

- **MI and CCA disagree** on a fixed effect when they differ by more than the
  larger of their two standard errors, :math:`|\hat\theta^{MI} -
  \hat\theta^{CCA}| > \max(SE^{MI}, SE^{CCA})`. The two analyses share the
  observed data, so their difference has a smaller SE than either; a
  difference of one SE is therefore already notable, and it is where the
  choice between them matters for a reader.
- **The truth** (the complete-data fit, known only for data made incomplete
  by amputation) **outside MI's 95 % interval**, and the same for CCA.
- **Variance components** (variances, the ICC) have no standard errors after
  pooling (:mod:`mlmice.pooling.varcomp`); one differs notably when MI is
  more than 10 % above or below the truth (or, without a truth, CCA), the
  validity study's measure. Covariances are left out: they are often near 0,
  where relative differences mean nothing.
- A random-slope variance whose cluster slopes have a mean **reliability**
  below 0.3 (:mod:`mlmice.reporting.identification`): weakly identified,
  and after imputation biased upwards (+8 % to +37 % at reliabilities 0.28 to
  0.09 in ``bench/slope_reliability.py``; +3 % to +19 % pooled on the log scale),
  as is its covariance with the intercept.
- Specifications known to be **incompatible** with an analysis model (FCS
  with random slopes or products; :mod:`mlmice.compatibility`) and chains
  **flagged by the convergence diagnostics** are flags too.

A difference on one data set is one draw of an estimator's error, not a bias;
the statements say "on these data". What the methods do on average is in
``docs/validity.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from mlmice.pooling.varcomp import split_name
from mlmice.reporting.formatting import fmt
from mlmice.reporting.identification import LOW_RELIABILITY

__all__ = ["Finding", "findings", "headline_table", "RELATIVE_VARIANCE_DIFFERENCE"]

#: Relative difference of a variance component that the summary points out.
RELATIVE_VARIANCE_DIFFERENCE = 0.10


@dataclass(frozen=True)
class Finding:
    """One statement of the summary; ``flag`` marks those to act on."""

    text: str
    flag: bool = False
    model: str = ""


def _interval(row, source: str) -> str:
    est, lo, hi = row[source], row[f"{source}_low"], row[f"{source}_high"]
    if pd.isna(lo) or pd.isna(hi):
        return fmt(est)
    return f"{fmt(est)} [{fmt(lo)}, {fmt(hi)}]"


def _is_covariance(term: str) -> bool:
    a, b, _group = split_name(term)
    return bool(b) and a != b


def _fixed_findings(model: str, rows: pd.DataFrame, has_truth: bool) -> list[Finding]:
    out = []
    for _, r in rows.iterrows():
        if any(pd.isna(r[c]) for c in ("mi", "cca", "mi_se", "cca_se")):
            continue
        gap = abs(r["mi"] - r["cca"])
        se = max(r["mi_se"], r["cca_se"])
        truth = f"; the truth is {fmt(r['truth'])}" if has_truth else ""
        if gap > se:
            out.append(Finding(
                f"Model {model}, {r['term']}: MI and CCA disagree by {fmt(gap / se, 2)} "
                f"standard errors: MI {_interval(r, 'mi')}, CCA {_interval(r, 'cca')}{truth}.",
                flag=True, model=model))
        if has_truth and not pd.isna(r["truth"]):
            for source, label in (("mi", "MI"), ("cca", "CCA")):
                low, high = r[f"{source}_low"], r[f"{source}_high"]
                if pd.isna(low) or pd.isna(high):
                    continue                # no interval (a failed fit): nothing to say
                if not low <= r["truth"] <= high:
                    out.append(Finding(
                        f"Model {model}, {r['term']}: the truth {fmt(r['truth'])} lies outside "
                        f"{label}'s 95 % interval {_interval(r, source)}.",
                        flag=True, model=model))
    return out


def _variance_findings(model: str, rows: pd.DataFrame, has_truth: bool) -> list[Finding]:
    out = []
    ref, ref_label = ("truth", "the truth") if has_truth else ("cca", "CCA")
    for _, r in rows.iterrows():
        if _is_covariance(r["term"]) or pd.isna(r["mi"]) or pd.isna(r[ref]):
            continue
        if r[ref] == 0:
            continue
        # relative to the reference, as the finding prints it and docs/validity.md measures
        rel = (r["mi"] - r[ref]) / abs(r[ref])
        if abs(rel) > RELATIVE_VARIANCE_DIFFERENCE:
            direction = "above" if rel > 0 else "below"
            extra = (f" (CCA {fmt(r['cca'])})" if has_truth and not pd.isna(r["cca"]) else "")
            out.append(Finding(
                f"Model {model}, {r['term']}: MI gives {fmt(r['mi'])}, {fmt(100 * abs(rel), 3)} % "
                f"{direction} {ref_label} {fmt(r[ref])}{extra}.", flag=True, model=model))
    return out


#: What the reliability flag says, per pooling scale (bench/slope_reliability.py, 2l.smc
#: and 2l.pan imputing the outcome from the analysis model, docs/validity.md).
_EXCESS = {
    "raw": ("(+8 % to +37 % at reliabilities 0.28 to 0.09 in docs/validity.md). Averaged "
            "on the log scale (pooling.varcomp_scale: log) the excess is about halved when "
            "the imputation model is the analysis model (2l.smc)."),
    "log": ("(pooled on the log scale: +3 % to +19 % at reliabilities 0.28 to 0.09 in "
            "docs/validity.md, against 0 % to +13 % for the observed-data estimate)."),
}
#: ... and what it says when the model's specification is flagged as incompatible: the
#: excess above is 2l.smc's; fully conditional methods erred either way in the validity
#: study's random-slope designs (docs/validity.md, designs a, b and d).
_INCOMPATIBLE_EXCESS = ("its imputation is not compatible with this model (above), so the "
                        "direction of its error is not known in advance: fully conditional "
                        "methods gave -33 % to +32 % in docs/validity.md.")

#: ... and of the slope's covariance with the intercept (docs/validity.md, design b).
_COVARIANCE_EXCESS = (" (2l.smc at reliability 0.09: -15 % of the largest covariance its "
                      "variances allow, -7 % pooled on the log scale; docs/validity.md)")


def findings(compare: pd.DataFrame, *, has_truth: bool,
             compatibility: Sequence[Mapping] = (),
             convergence_flags: Sequence[str] = (),
             reliability: pd.DataFrame | None = None,
             varcomp_scale: str = "raw") -> list[Finding]:
    """The summary's statements (see the module docstring for the rules).

    Parameters
    ----------
    compare : DataFrame
        :func:`mlmice.compare.compare_estimates` (``compare/estimates.parquet``).
    has_truth : bool
        Whether the ``truth`` columns hold the complete-data fit.
    compatibility : sequence of dict
        :func:`mlmice.compatibility.compatibility_notes`.
    convergence_flags : sequence of str
        Variables flagged by :func:`mlmice.diagnostics.rhat`.
    reliability : DataFrame, optional
        ``model`` and the columns of
        :func:`mlmice.reporting.identification.slope_reliability`.
    varcomp_scale : {"raw", "log"}, default "raw"
        How the variance components were pooled (``pooling.varcomp_scale``):
        the reliability flag quotes the excess measured for that pooling.

    Returns
    -------
    list of Finding
        Compatibility and convergence first, then per model (in the order of
        ``compare``) its fixed effects and variance components. When nothing
        is flagged, one unflagged statement says so.
    """
    out = [Finding(f"Specification: {c['note']}", flag=True, model=c["model"])
           for c in compatibility]
    if len(convergence_flags):
        out.append(Finding("Convergence: the diagnostics flag "
                           + ", ".join(convergence_flags)
                           + "; look at their trace plots and consider more iterations.",
                           flag=True))
    if reliability is not None:
        incompatible = {c["model"] for c in compatibility}
        for r in reliability.itertuples(index=False):
            if r.reliability < LOW_RELIABILITY:
                fcs = r.model in incompatible
                error = (_INCOMPATIBLE_EXCESS if fcs else
                         "after imputation it tends to come out too large "
                         + _EXCESS[varcomp_scale])
                out.append(Finding(
                    f"Model {r.model}, {r.term}: the cluster slopes of {r.variable} have a "
                    f"mean reliability of {fmt(r.reliability, 2)}, below {LOW_RELIABILITY}: "
                    f"the data identify this slope variance weakly, and {error}"
                    " Its covariance with the intercept is weakly identified too"
                    + ("" if fcs else _COVARIANCE_EXCESS)
                    + ". Report both with that caution.", flag=True, model=r.model))
    for model, rows in compare.groupby("model", sort=False):
        out += _fixed_findings(model, rows[rows["kind"] == "fixed"], has_truth)
        out += _variance_findings(model, rows[rows["kind"] == "variance"], has_truth)
    if not any(f.flag for f in out):
        against = "the truth and CCA" if has_truth else "CCA"
        out.append(Finding(f"MI agrees with {against} on every fixed effect (within a standard "
                           "error) and every variance component (within 10 %)."))
    return out


def headline_table(compare: pd.DataFrame, model: str, *, has_truth: bool) -> pd.DataFrame:
    """One model's estimates as text: truth, CCA and MI, fixed effects with 95 % intervals.

    Returns
    -------
    DataFrame with columns ``term``, (``truth``), ``CCA``, ``MI``, ``MI - CCA``:
    strings formatted by :func:`mlmice.reporting.formatting.fmt`.
    """
    rows = compare[compare["model"] == model]
    out = pd.DataFrame({"term": rows["term"].to_numpy()})
    if has_truth:
        out["truth"] = [fmt(x) for x in rows["truth"]]
    out["CCA"] = [_interval(r, "cca") for _, r in rows.iterrows()]
    out["MI"] = [_interval(r, "mi") for _, r in rows.iterrows()]
    out["MI - CCA"] = [fmt(a - b) for a, b in zip(rows["mi"], rows["cca"], strict=True)]
    return out

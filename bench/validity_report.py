"""Tables and figures of docs/validity.md from the batches of bench/validity.py.

Writes, per design, ``<out>/<design>/summary.parquet`` (all measures with their
MC SEs) and ``docs/validity_<design>.png`` (:func:`mlmice.plots.plot_performance`),
and replaces the block between ``<!-- tables:start -->`` and ``<!-- tables:end -->``
in ``docs/validity.md`` with the tables. With a second run pooled on the log scale
(``bench/validity.py --varcomp-scale log --out <out>_log``), the block between
``<!-- scales:start -->`` and ``<!-- scales:end -->`` compares the two poolings.
The prose around the blocks is written by hand from these numbers.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from mlmice.compatibility import compatibility_notes
from mlmice.plots import plot_performance
from mlmice.reporting.identification import LOW_RELIABILITY, slope_reliability
from mlmice.simulation import (
    collect_batches,
    correlation_scale,
    covariances_in_correlation_units,
)

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "validity.md"
START, END = "<!-- tables:start -->", "<!-- tables:end -->"
SCALES_START, SCALES_END = "<!-- scales:start -->", "<!-- scales:end -->"
TARGETS_START, TARGETS_END = "<!-- targets:start -->", "<!-- targets:end -->"
ARMS = ["complete", "cca", "2l.pan", "2l.norm", "2l.lmer", "2l.pmm", "2l.smc"]


def _cell(value: float, mcse: float, scale: float = 1.0, digits: int = 1) -> str:
    if not np.isfinite(value):
        return ""
    return f"{scale * value:.{digits}f} ({scale * mcse:.{digits}f})"


def _markdown(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    # a pipe inside a cell (``a~~b|g``) must be escaped, code spans included (GFM tables)
    rows = ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |"
            for row in frame.to_numpy()]
    return "\n".join([head, rule, *rows])


def _by_arm(summary: pd.DataFrame, value: str, mcse: str, scale: float,
            kind: str | None = None, digits: int = 1) -> pd.DataFrame:
    tab = summary if kind is None else summary[summary["kind"] == kind]
    terms = list(dict.fromkeys(tab["term"]))
    arms = [a for a in ARMS if a in set(tab["arm"])]
    rows = []
    for term in terms:
        row = {"term": f"`{term}`"}
        for arm in arms:
            hit = tab[(tab["term"] == term) & (tab["arm"] == arm)]
            row[arm] = (_cell(float(hit[value].iloc[0]), float(hit[mcse].iloc[0]), scale,
                              digits) if len(hit) else "")
        rows.append(row)
    return pd.DataFrame(rows)


def _fixed_detail(summary: pd.DataFrame) -> pd.DataFrame:
    tab = summary[summary["kind"] == "fixed"]
    rows = []
    for arm in [a for a in ARMS if a in set(tab["arm"])]:
        for r in tab[tab["arm"] == arm].itertuples(index=False):
            rows.append({"arm": arm, "term": f"`{r.term}`", "truth": f"{r.true_value:.4g}",
                         "bias (MC SE)": f"{r.bias:.4f} ({r.bias_mcse:.4f})",
                         "emp. SE": f"{r.emp_se:.4f}",
                         "model SE rel. error %": _cell(r.model_se_rel_error,
                                                        r.model_se_rel_error_mcse, 100),
                         "coverage %": _cell(r.coverage, r.coverage_mcse, 100),
                         "CI width": f"{r.ci_width:.4f}"})
    return pd.DataFrame(rows)


def added_variance(estimates: pd.DataFrame) -> pd.DataFrame:
    r"""Does each arm's SE account for what the missing data cost? Paired per replicate.

    For a fixed effect with estimate :math:`\hat\theta_r` and SE :math:`s_r` in
    replicate :math:`r`, and the complete-data fit's :math:`\hat\theta_{c,r}`,
    :math:`s_{c,r}`: the variance the arm's interval adds,
    :math:`\overline{s^2 - s_c^2}` (for MI, :math:`(1 + 1/m)B` plus the gap between
    :math:`\bar W` and the complete-data variance), divided by the arm's mean squared
    error against the complete data, :math:`\overline{(\hat\theta - \hat\theta_c)^2}`.
    1 means the intervals carry exactly the imputation's error; below 1 they are too
    narrow for it (a bias counts in the denominator). Pairing removes the sampling
    error of the complete data, so this separates the imputation's part of a coverage
    shortfall from the analysis model's own (the complete data's Wald SEs). The MC SE
    is the delta method's for a ratio of two means.
    """
    fixed = estimates[estimates["kind"] == "fixed"]
    keys = ["replicate", "model", "term"]
    complete = fixed[fixed["arm"] == "complete"].set_index(keys)[["estimate", "std_error"]]
    rows = []
    for arm in [a for a in ARMS if a != "complete" and a in set(fixed["arm"])]:
        j = fixed[fixed["arm"] == arm].set_index(keys)[["estimate", "std_error"]].join(
            complete, rsuffix="_c", how="inner")
        j["added"] = j["std_error"] ** 2 - j["std_error_c"] ** 2
        j["err2"] = (j["estimate"] - j["estimate_c"]) ** 2
        for (_, term), g in j.groupby(level=["model", "term"], sort=False):
            a, b, n = g["added"].mean(), g["err2"].mean(), len(g)
            ratio = a / b
            rel = (g["added"].var() / a ** 2 + g["err2"].var() / b ** 2
                   - 2 * g["added"].cov(g["err2"]) / (a * b)) / n
            rows.append({"arm": arm, "term": term, "kind": "fixed", "ratio": ratio,
                         "ratio_mcse": abs(ratio) * np.sqrt(max(rel, 0.0))})
    return pd.DataFrame(rows)


#: The validity standard's targets (docs/validity.md, "The targets"): a variance
#: component within 10 % of the complete-data fit (a covariance in correlation units)
#: or within 2 MC SEs of it; a fixed effect's 95 % interval covering 93-97 %.
VARIANCE_TARGET = 0.10
COVERAGE_TARGET = (0.93, 0.97)


def design_reliability(spec: dict, name: str, *, replicates: int = 100) -> float | None:
    """Mean slope reliability of a design's random slope, from its true parameters.

    :func:`mlmice.reporting.identification.slope_reliability` on the complete data of
    the first ``replicates`` replicates (the study's seeds), averaged; ``None`` for a
    design without a random slope.
    """
    from validity import study_config  # bench/validity.py

    from mlmice.simulation import Study

    study = Study.from_config(study_config(name, spec))
    truth = study.generator.truth()
    formula = spec["designs"][name]["models"][0]["formula"]
    values = []
    for r in range(replicates):
        data = study.generator.generate(study.seed_for(r, 0))
        rel = slope_reliability(data, formula, pd.Series(truth))
        if rel.empty:
            return None
        values.append(float(rel["reliability"].iloc[0]))
    return float(np.mean(values))


def target_check(summary: pd.DataFrame, *, formula: str, reliability: float | None
                 ) -> pd.DataFrame:
    """Each imputation arm of one design against the targets, with the report's flags.

    A variance component misses its target when its relative bias against the complete
    data (a covariance in correlation units) exceeds 10 % and 2 MC SEs; a fixed effect
    when its coverage lies outside 93-97 %. The flags are the report's
    (:mod:`mlmice.reporting.summary`): an FCS specification incompatible with the model
    (:func:`mlmice.compatibility.compatibility_notes`), and a slope whose mean
    reliability is below ``LOW_RELIABILITY``.
    """
    summary = covariances_in_correlation_units(summary)
    rows = []
    for arm in [a for a in ARMS if a not in ("complete", "cca") and a in set(summary["arm"])]:
        tab = summary[summary["arm"] == arm]
        var = tab[tab["kind"] == "variance"]
        rb, se = var["relative_bias_vs_complete"], var["relative_bias_vs_complete_mcse"]
        miss = var[(rb.abs() > VARIANCE_TARGET) & (rb.abs() > 2 * se)]
        fixed = tab[tab["kind"] == "fixed"]
        lo, hi = COVERAGE_TARGET
        under = fixed[(fixed["coverage"] < lo) | (fixed["coverage"] > hi)]
        flags = []
        method = {"popularity_ij": arm, "extraversion_ij": arm}
        if compatibility_notes([{"name": "m", "formula": formula}], method,
                               {v: 1 for v in method}):
            flags.append("incompatible specification")
        if reliability is not None and reliability < LOW_RELIABILITY:
            flags.append(f"slope reliability {reliability:.2f}")
        rows.append({
            "arm": arm,
            "variance components missing 10 %": "; ".join(
                f"`{t}` {_cell(v, e, 100)}" for t, v, e in
                zip(miss["term"], miss["relative_bias_vs_complete"],
                    miss["relative_bias_vs_complete_mcse"], strict=True)) or "none",
            "coverage outside 93-97 %": "; ".join(
                f"`{r.term}` {_cell(r.coverage, r.coverage_mcse, 100)}"
                for r in under.itertuples(index=False)) or "none",
            "the report flags": ", ".join(flags) or "nothing"})
    return pd.DataFrame(rows)


def summarise(out: Path) -> None:
    import yaml
    spec = yaml.safe_load((REPO / "bench" / "validity.yaml").read_text())
    blocks, targets = [], []
    for folder in sorted(p for p in Path(out).iterdir() if p.is_dir()):
        batches = sorted(folder.glob("batch_[0-9][0-9][0-9][0-9].parquet"))
        if not batches:
            continue
        fails = sorted(folder.glob("batch_*_failures.parquet"))
        estimates, failures, summary = collect_batches(batches, fails)
        summary.to_parquet(folder / "summary.parquet", index=False)
        figure = REPO / "docs" / f"validity_{folder.name}.png"
        # the figure shows what the table shows: covariances in correlation units
        plot_performance(covariances_in_correlation_units(summary), path=figure)
        n = estimates["replicate"].nunique()
        blocks.append(f"### Design `{folder.name}`: {n} replicates, {len(failures)} failed "
                      f"arm runs\n\n![bias and coverage](validity_{folder.name}.png)\n\n"
                      "Relative bias against the complete-data fit of the same replicate, "
                      "in % (MC SE); a covariance (corr.) in % of the square root of the "
                      "product of its two variances:\n\n"
                      + _markdown(_by_arm(covariances_in_correlation_units(summary),
                                          "relative_bias_vs_complete",
                                          "relative_bias_vs_complete_mcse", 100))
                      + "\n\nCoverage of the 95 % intervals, in % (MC SE):\n\n"
                      + _markdown(_by_arm(summary, "coverage", "coverage_mcse", 100,
                                          kind="fixed"))
                      + "\n\nThe variance each arm's interval adds to the complete data's, "
                      "divided by its mean squared difference from the complete-data "
                      "estimate, paired by replicate (1: the interval carries the "
                      "missing data's cost; below 1: too narrow for it; "
                      "`validity_report.added_variance`):\n\n"
                      + _markdown(_by_arm(added_variance(estimates), "ratio", "ratio_mcse",
                                          1.0, digits=2))
                      + "\n\nFixed effects in detail:\n\n" + _markdown(_fixed_detail(summary)))
        print(f"{folder.name}: {n} replicates, {len(failures)} failures", file=sys.stderr)
        if folder.name in spec["designs"]:
            rho = design_reliability(spec, folder.name)
            formula = spec["designs"][folder.name]["models"][0]["formula"]
            targets.append(f"#### Design `{folder.name}`: {n} replicates"
                           + (f", mean slope reliability {rho:.2f}" if rho is not None else
                              ", no random slope") + "\n\n"
                           + _markdown(target_check(summary, formula=formula,
                                                    reliability=rho)))
    text = DOC.read_text()
    a, b = text.index(START) + len(START), text.index(END)
    text = text[:a] + "\n\n" + "\n\n".join(blocks) + "\n\n" + text[b:]
    a, b = text.index(TARGETS_START) + len(TARGETS_START), text.index(TARGETS_END)
    DOC.write_text(text[:a] + "\n\n" + "\n\n".join(targets) + "\n\n" + text[b:])


def _load(folder: Path) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(b) for b in
                      sorted(folder.glob("batch_[0-9][0-9][0-9][0-9].parquet"))],
                     ignore_index=True)


def scale_comparison(raw: pd.DataFrame, log: pd.DataFrame) -> pd.DataFrame:
    r"""Variance components pooled as mitml does against the log scale, paired.

    ``raw`` and ``log`` are the estimates of the same replicates, seeds and
    imputations, pooled on the two scales. Per imputation arm and variance
    term: the relative bias against the complete-data fit under each pooling,
    and their paired difference (log minus raw) with its MC SE
    :math:`\mathrm{sd}(d)/(\sqrt n |\bar\theta^c|)`; a covariance in units of
    the square root of the product of its complete-data variances, as in the
    main tables.
    """
    key = ["replicate", "arm", "model", "term"]
    both = raw[raw["kind"] == "variance"].merge(
        log[log["kind"] == "variance"][key + ["estimate"]], on=key, suffixes=("", "_log"))
    both = both[~both["arm"].isin(["complete", "cca"])]
    complete = (raw[(raw["arm"] == "complete") & (raw["kind"] == "variance")]
                .groupby(["model", "term"])["estimate"].mean())
    rows = []
    for (arm, model, term), g in both.groupby(["arm", "model", "term"], sort=False):
        scale = correlation_scale(complete, model, term)
        if scale is not None:
            label = f"`{term}` (corr.)"
        else:
            scale = abs(g["complete_estimate"].mean())
            label = f"`{term}`"
        n = len(g)
        d_raw = g["estimate"] - g["complete_estimate"]
        d_log = g["estimate_log"] - g["complete_estimate"]
        diff = g["estimate_log"] - g["estimate"]
        rows.append({"arm": arm, "term": label,
                     "raw (mitml)": _cell(d_raw.mean() / scale,
                                          d_raw.std(ddof=1) / np.sqrt(n) / scale, 100),
                     "log scale": _cell(d_log.mean() / scale,
                                        d_log.std(ddof=1) / np.sqrt(n) / scale, 100),
                     "log minus raw": _cell(diff.mean() / scale,
                                            diff.std(ddof=1) / np.sqrt(n) / scale, 100)})
    out = pd.DataFrame(rows)
    order = {a: i for i, a in enumerate(ARMS)}
    return out.sort_values("arm", key=lambda c: c.map(order), kind="stable")


def summarise_scales(out: Path, log_out: Path) -> None:
    """Write the raw-against-log block of docs/validity.md from two runs' batches."""
    blocks = []
    for folder in sorted(p for p in Path(out).iterdir() if p.is_dir()):
        other = Path(log_out) / folder.name
        if not other.is_dir():
            continue
        raw, log = _load(folder), _load(other)
        n = len(set(raw["replicate"]) & set(log["replicate"]))
        blocks.append(f"#### Design `{folder.name}`: {n} replicates\n\n"
                      + _markdown(scale_comparison(raw, log)))
    text = DOC.read_text()
    a, b = text.index(SCALES_START) + len(SCALES_START), text.index(SCALES_END)
    DOC.write_text(text[:a] + "\n\n" + "\n\n".join(blocks) + "\n\n" + text[b:])

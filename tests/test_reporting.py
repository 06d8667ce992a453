"""mlmice.reporting: number formats, the study's description, the summary's rules, the
methods paragraph."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlmice as mm
from mlmice.reporting import (
    complete_cases,
    complete_cases_text,
    data_source,
    describe_clusters,
    filled_only_variables,
    findings,
    fmt,
    fmt_df,
    fmt_p,
    format_frame,
    headline_table,
    icc_table,
    level2_fill,
    methods_paragraph,
    missingness_text,
    provenance,
)
from mlmice.reporting.formatting import column_kind

# ---------------------------------------------------------------------- formatting


@pytest.mark.parametrize("x, digits, want", [
    (0.00008652, 3, "0.0000865"), (0.0002214, 3, "0.000221"), (-0.0231404, 3, "-0.0231"),
    (1234.567, 3, "1235"), (4.795682, 3, "4.80"), (0.0, 3, "0"), (1e-9, 2, "1.0e-09"),
    (2.5e8, 3, "2.50e+08"), (np.nan, 3, ""), (np.inf, 3, "∞"), (None, 3, ""),
    (0.0004, 1, "0.0004"), (-0.00000001, 3, "-1.00e-08")])
def test_fmt(x, digits, want):
    assert fmt(x, digits) == want


def test_fmt_p_and_df():
    assert [fmt_p(p) for p in (0.0, 7.7e-15, 0.000999, 0.001, 0.0421, 1.0, np.nan)] == [
        "< 0.001", "< 0.001", "< 0.001", "0.001", "0.042", "1.000", ""]
    assert [fmt_df(d) for d in (644085.312, 21.7, np.inf, np.nan)] == [
        "644,085.3", "21.7", "∞", ""]


def test_format_frame_by_column_kind():
    frame = pd.DataFrame({"term": ["a", "b"], "estimate": [1.23456, 0.0000865],
                          "df": [6.441e5, 3.0], "p_value": [0.0, 0.5], "m": [5, 5],
                          "flag": [True, False]})
    assert [column_kind(c, frame[c]) for c in frame] == ["text", "number", "df", "p", "int",
                                                         "text"]
    out = format_frame(frame)
    assert out.to_dict("list") == {"term": ["a", "b"], "estimate": ["1.23", "0.0000865"],
                                   "df": ["644,100", "3"], "p_value": ["< 0.001", "0.500"],
                                   "m": ["5", "5"], "flag": ["True", "False"]}
    # one notation per column: a value below 1e-6 makes the whole column scientific
    small = format_frame(pd.DataFrame({"ubar": [6.44e-6, 2.1e-4], "b": [9.5e-7, 0.0]}))
    assert small.to_dict("list") == {"ubar": ["0.00000644", "0.000210"],
                                     "b": ["9.50e-07", "0"]}
    assert format_frame(pd.DataFrame({"b": [9.5e-7, 2.1e-4]}))["b"].tolist() == [
        "9.50e-07", "2.10e-04"]
    # a column the names do not reveal can be told
    assert format_frame(frame[["estimate"]], kinds={"estimate": "p"})["estimate"].tolist() == [
        "1.235", "< 0.001"]


# ---------------------------------------------------------------------- the study


def test_icc_matches_the_anova_estimator_and_lmer():
    """Balanced data: (MSB - MSW) / (MSB + (n - 1) MSW); close to lmer's REML ICC."""
    rng = np.random.default_rng(1)
    J, n = 40, 6
    g = np.repeat(np.arange(J), n)
    y = rng.normal(size=J)[g] * 0.8 + rng.normal(size=J * n)
    frame = pd.DataFrame({"g": g, "y": y, "z": np.repeat(rng.normal(size=J), n)})
    means = frame.groupby("g")["y"].mean().to_numpy()
    msb = n * np.sum((means - y.mean()) ** 2) / (J - 1)
    msw = np.sum((y - means[g]) ** 2) / (J * n - J)
    want = (msb - msw) / (msb + (n - 1) * msw)
    table = icc_table(frame, "g", variables=["y", "z"], level2=["z"])
    assert table["icc"].iloc[0] == pytest.approx(want, rel=1e-12)
    assert np.isnan(table["icc"].iloc[1]) and table["level"].tolist() == [1, 2]
    fit = mm.lmer("y ~ (1 | g)", data=frame, reml=True)
    vc = fit.varcorr.set_index("grp")["vcov"]
    assert want == pytest.approx(vc["g"] / (vc["g"] + vc["Residual"]), abs=0.03)
    # with missing values: the observed values only, both counts reported
    frame.loc[[0, 7], "y"] = np.nan
    part = icc_table(frame, "g", variables=["y"])
    assert part[["observed", "missing"]].iloc[0].tolist() == [J * n - 2, 2]
    assert part["icc"].iloc[0] == pytest.approx(want, abs=0.02)


def test_clusters_complete_cases_and_level2_fill():
    frame = pd.DataFrame({"g": [1, 1, 1, 2, 2, 3], "x": [1.0, np.nan, 2.0, np.nan, 3.0, 4.0],
                          "w": [5.0, np.nan, 5.0, np.nan, np.nan, np.nan]})
    assert describe_clusters(frame, "g") == {"n_rows": 6, "n_clusters": 3, "size_min": 1,
                                            "size_median": 2.0, "size_mean": 2.0,
                                            "size_max": 3}
    assert complete_cases(frame, "g", ["x"]) == {"n_rows": 4, "n_clusters": 3,
                                                 "n_clusters_lost": 0}
    assert complete_cases(frame, "g", ["x", "w"]) == {"n_rows": 2, "n_clusters": 1,
                                                      "n_clusters_lost": 2}
    # each model deletes on its own variables: the text gives the range and the worst model
    text = complete_cases_text(frame, "g", {"a": ["x"], "b": ["x", "w"]})
    assert text == ("Complete-case analysis (CCA) keeps from 2 rows (33 %, model b) to 4 (67 %, "
                    "model a), as each model deletes the rows missing one of its own "
                    "variables, and loses up to 2 whole clusters (model b).")
    assert complete_cases_text(frame, "g", {"a": ["x"]}) == (
        "Complete-case analysis (CCA) of the models keeps 4 rows (67 %); every cluster keeps "
        "some rows.")
    # w: one missing value in cluster 1 (observed there: filled), three in clusters 2-3
    assert level2_fill(frame, "g", "w") == (1, 3)
    assert filled_only_variables(frame, {"w": "2lonly.pmm", "x": "2l.pmm"}, "g") == []
    frame.loc[3:, "w"] = 6.0
    assert filled_only_variables(frame, {"w": "2lonly.pmm", "x": "2l.pmm"}, "g") == ["w"]


def test_source_missingness_and_provenance():
    assert "simulate_popularity(n_clusters=100, cluster_size=20, seed=1)" in data_source(
        {"file": None, "simulate": {"n_clusters": 100, "cluster_size": 20, "seed": 1}})
    assert data_source({"file": "my.sav"}) == "Read from the file my.sav."
    missing = pd.DataFrame({"variable": ["y", "x"], "n_missing": [20, 0]})
    assert "y 20 (10 %)" in missingness_text(None, missing, n_rows=200)
    assert "not known" in missingness_text(None, missing, n_rows=200)
    amp = {"mech": "MAR", "prop": 0.3, "patterns": [{"missing": ["y"], "weights": {"x": 1}}]}
    text = missingness_text(amp, missing, n_rows=200)
    assert "missing at random (MAR)" in text and "y depending on x" in text
    # the share asked for and the rows made incomplete differ by ampute's draws
    assert ("asked to make a share 0.300 of the rows incomplete, it made 57 rows (28.5 %) "
            "incomplete") in missingness_text(amp, missing, n_rows=200, n_incomplete=57)
    prov = provenance()
    assert prov["mlmice"] == mm.__version__ and {"numpy", "python", "commit"} <= set(prov)


# ---------------------------------------------------------------------- the summary


def _compare(**changes) -> pd.DataFrame:
    """A comparison table where MI, CCA and the truth agree; ``changes`` moves values."""
    rows = [
        {"model": "m", "kind": "fixed", "term": "x", "truth": 1.0, "truth_se": 0.1,
         "cca": 1.02, "cca_se": 0.12, "mi": 1.01, "mi_se": 0.11},
        {"model": "m", "kind": "variance", "term": "Intercept~~Intercept|g", "truth": 0.5,
         "cca": 0.48, "mi": 0.51},
        {"model": "m", "kind": "variance", "term": "Intercept~~x|g", "truth": 0.0,
         "cca": 0.2, "mi": -0.2},
    ]
    frame = pd.DataFrame(rows)
    for key, value in changes.items():
        row, col = key.split("__")
        frame.loc[int(row), col] = value
    for src in ("truth", "cca", "mi"):
        frame[f"{src}_low"] = frame[src] - 1.96 * frame.get(f"{src}_se", np.nan)
        frame[f"{src}_high"] = frame[src] + 1.96 * frame.get(f"{src}_se", np.nan)
    return frame


def test_findings_rules():
    # agreement: one unflagged sentence; the covariance never counts
    quiet = findings(_compare(), has_truth=True)
    assert [f.flag for f in quiet] == [False] and "agrees" in quiet[0].text
    # MI and CCA more than the larger SE apart (0.12): flagged, with both intervals
    split = findings(_compare(**{"0__cca": 0.85}), has_truth=True)
    assert any(f.flag and "disagree by 1.3 standard errors" in f.text for f in split)
    # the truth outside CCA's interval (1.3 +- 0.235)
    assert not any("outside CCA's 95 % interval" in f.text for f in split)
    off = findings(_compare(**{"0__cca": 1.3}), has_truth=True)
    assert any("the truth 1.00 lies outside CCA's 95 % interval" in f.text for f in off)
    # no interval (a failed CCA fit): no statement about it
    no_ci = _compare(**{"0__cca": 1.3})
    no_ci.loc[0, ["cca_low", "cca_high"]] = np.nan
    assert not any("CCA's 95 % interval" in f.text for f in findings(no_ci, has_truth=True))
    # a variance 12 % below the truth is flagged, 8 % is not
    assert any("12.0 % below the truth 0.500" in f.text
               for f in findings(_compare(**{"1__mi": 0.44}), has_truth=True))
    assert not any(f.flag for f in findings(_compare(**{"1__mi": 0.46}), has_truth=True))
    # 10.6 % above: flagged as printed (relative to the truth; the rule once divided by
    # the larger of MI and the truth, which let up to 11.1 % above pass)
    assert any("10.6 % above the truth 0.500" in f.text
               for f in findings(_compare(**{"1__mi": 0.553}), has_truth=True))
    # without a truth, variances are compared with CCA
    no_truth = findings(_compare(**{"1__mi": 0.6}), has_truth=False)
    assert any("above CCA 0.480" in f.text for f in no_truth)
    # compatibility notes and convergence flags come first
    first = findings(_compare(), has_truth=True,
                     compatibility=[{"model": "m", "note": "FCS with a slope"}],
                     convergence_flags=["y"])
    assert first[0].text == "Specification: FCS with a slope" and "flag y" in first[1].text


def test_headline_table():
    table = headline_table(_compare(), "m", has_truth=True)
    assert table.columns.tolist() == ["term", "truth", "CCA", "MI", "MI - CCA"]
    assert table["MI"].iloc[0] == "1.01 [0.794, 1.23]"
    assert table["MI"].iloc[1] == "0.510"          # no interval for a variance
    assert "truth" not in headline_table(_compare(), "m", has_truth=False).columns


# ---------------------------------------------------------------------- methods paragraph


def test_methods_paragraph():
    spec = {"cluster": "g",
            "method": {"y": "2l.pmm", "w": "2lonly.pmm", "v": "2lonly.norm", "x": "",
                       "xy": "~ I(x * y)"},
            "predictor_matrix": {"y": {"g": -2, "x": 3, "w": 1},
                                 "w": {"g": -2, "y": 1}, "v": {"g": -2, "y": 1}}}
    text = " ".join(methods_paragraph(
        spec=spec, n_missing={"y": 10, "w": 2, "v": 3, "x": 0, "xy": 10}, n_rows=100,
        n_clusters=10, incomplete_rows=14, m=20, maxit=15, seed=7, max_rhat=1.04,
        rhat_threshold=1.1, models=[{"name": "a", "reml": False}, {"name": "b", "reml": True}],
        version="9.9", filled={"w": (2, 0), "v": (1, 2)}))
    assert "in mlmice 9.9" in text
    assert "Of 100 rows in 10 clusters (g), 14 (14 %) had at least one missing value" in text
    assert ("Variable y was imputed by 2l.pmm, two-level predictive mean matching" in text
            and "predictors: x (fixed effect and cluster mean), w (fixed effect)" in text)
    assert "each of its 2 missing values lay in a cluster where it was observed" in text
    assert "1 of its 3 missing values lay in clusters where it was observed" in text
    assert "The variable xy was computed from its parts" in text
    assert "m = 20 imputed data sets, each after 15 iterations" in text
    assert "at most 1.04 (below 1.10)" in text
    assert "maximum likelihood or restricted maximum likelihood" in text
    assert "D1" in text and "Variable x" not in text
    assert "intraclass correlations were averaged over the imputations" in text
    log = " ".join(methods_paragraph(
        spec=spec, n_missing={"y": 10, "w": 2, "v": 3, "x": 0, "xy": 10}, n_rows=100,
        n_clusters=10, incomplete_rows=14, m=20, maxit=15, seed=7, max_rhat=1.04,
        rhat_threshold=1.1, models=[{"name": "a", "reml": False}], version="9.9",
        varcomp_scale="log"))
    assert "on the log scale (geometric means), their correlations on Fisher's z" in log


# ---------------------------------------------------------------------- slope reliability


def test_slope_reliability_and_its_flag():
    """rho_j = tau / (tau + sigma2 / SS_j), averaged; observed x only; flagged below 0.3."""
    from mlmice.reporting import slope_reliability
    frame = pd.DataFrame({"g": [1, 1, 1, 2, 2, 2], "x": [0.0, 1.0, 2.0, 0.0, 2.0, np.nan],
                          "y": np.arange(6.0)})
    vc = pd.Series({"x~~x|g": 0.5, "Residual~~Residual": 2.0, "Intercept~~Intercept|g": 1.0})
    table = slope_reliability(frame, "y ~ x + (1 + x | g)", vc)
    ss = np.array([2.0, 2.0])            # cluster 1: 1 + 0 + 1; cluster 2: (0, 2) -> 2
    assert table["reliability"].iloc[0] == pytest.approx(np.mean(0.5 / (0.5 + 2.0 / ss)))
    assert table[["term", "variable", "cluster"]].iloc[0].tolist() == ["x~~x|g", "x", "g"]
    assert slope_reliability(frame, "y ~ x + (1 | g)", vc).empty
    low = table.assign(model="m", reliability=0.18)
    flagged = [f for f in findings(_compare(), has_truth=True, reliability=low) if f.flag]
    assert len(flagged) == 1 and "mean reliability of 0.18, below 0.3" in flagged[0].text
    assert "pooling.varcomp_scale: log" in flagged[0].text
    assert "Its covariance with the intercept is weakly identified too (2l.smc at" in \
        flagged[0].text
    logged = [f for f in findings(_compare(), has_truth=True, reliability=low,
                                  varcomp_scale="log") if f.flag]
    assert "pooled on the log scale: +3 % to +19 %" in logged[0].text
    assert not any(f.flag for f in findings(_compare(), has_truth=True,
                                            reliability=low.assign(reliability=0.5)))
    # an incompatible specification of the same model: 2l.smc's excess does not apply
    note = [{"model": "m", "note": "x is imputed by fully conditional specification"}]
    fcs = [f.text for f in findings(_compare(), has_truth=True, reliability=low,
                                    compatibility=note) if "reliability" in f.text]
    assert len(fcs) == 1 and "too large" not in fcs[0]
    assert "weakly identified too. Report both" in fcs[0] and "2l.smc at" not in fcs[0]
    assert "not compatible with this model" in fcs[0] and "-33 % to +32 %" in fcs[0]
    other = [f.text for f in findings(_compare(), has_truth=True, reliability=low,
                                      compatibility=[{**note[0], "model": "other"}])
             if "reliability" in f.text]
    assert "tends to come out too large" in other[0]

"""mlmice.simulation: performance measures with MC SEs, replicates, seeds, failures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlmice.simulation import (
    ESTIMATE_COLUMNS,
    SUMMARY_COLUMNS,
    PopularityGenerator,
    ResampleGenerator,
    Study,
    covariances_in_correlation_units,
    make_generator,
    performance_measures,
    run_batch,
    run_replicate,
)


def _table(est, se=None, truth=1.0, complete=None, arm="a"):
    n = len(est)
    se = np.full(n, np.nan) if se is None else np.asarray(se, dtype=float)
    est = np.asarray(est, dtype=float)
    return pd.DataFrame({"replicate": np.arange(n), "arm": arm, "model": "m", "kind": "fixed",
                         "term": "x", "estimate": est, "std_error": se,
                         "conf_low": est - 1.96 * se, "conf_high": est + 1.96 * se,
                         "true_value": truth,
                         "complete_estimate": np.nan if complete is None else complete})


def test_measures_and_mcse_by_hand():
    """Morris, White and Crowther (2019) table 6, computed by hand for 6 replicates."""
    est = np.array([1.2, 0.8, 1.1, 0.9, 1.4, 1.0])
    se = np.array([0.2, 0.25, 0.2, 0.15, 0.3, 0.2])
    comp = np.array([1.1, 0.9, 1.0, 0.9, 1.2, 1.0])
    row = performance_measures(_table(est, se, truth=1.0, complete=comp)).iloc[0]
    n, s = 6, est.std(ddof=1)
    assert row["bias"] == pytest.approx(est.mean() - 1.0)
    assert row["bias_mcse"] == pytest.approx(s / np.sqrt(n))
    assert row["relative_bias"] == pytest.approx(est.mean() - 1.0)
    assert row["emp_se"] == pytest.approx(s)
    assert row["emp_se_mcse"] == pytest.approx(s / np.sqrt(2 * (n - 1)))
    mod = np.sqrt(np.mean(se ** 2))
    assert row["model_se"] == pytest.approx(mod)
    assert row["model_se_mcse"] == pytest.approx(np.sqrt(np.var(se ** 2, ddof=1)
                                                         / (4 * n * mod ** 2)))
    assert row["model_se_rel_error"] == pytest.approx(mod / s - 1)
    cover = np.mean((est - 1.96 * se <= 1) & (1 <= est + 1.96 * se))
    assert row["coverage"] == pytest.approx(cover)
    assert row["coverage_mcse"] == pytest.approx(np.sqrt(cover * (1 - cover) / n))
    assert row["ci_width"] == pytest.approx(np.mean(2 * 1.96 * se))
    assert row["rmse"] == pytest.approx(np.sqrt(np.mean((est - 1) ** 2)))
    d = est - comp
    assert row["bias_vs_complete"] == pytest.approx(d.mean())
    assert row["bias_vs_complete_mcse"] == pytest.approx(d.std(ddof=1) / np.sqrt(n))
    assert row["relative_bias_vs_complete"] == pytest.approx(d.mean() / comp.mean())
    assert list(performance_measures(_table(est, se)).columns) == list(SUMMARY_COLUMNS)


def test_mcse_is_right_by_simulation():
    """The MC SEs describe the spread of the measures over repeated studies: 400
    studies of 100 replicates of N(0.1, 1) estimates with SE 1; the sd of each measure
    over the studies matches the mean of its MC SE within 10 %."""
    rng = np.random.default_rng(3)
    rows = []
    for _ in range(400):
        est = 0.1 + rng.standard_normal(100)
        se = np.sqrt(rng.chisquare(30, 100) / 30)
        rows.append(performance_measures(_table(est, se, truth=0.0)).iloc[0])
    tab = pd.DataFrame(rows)
    for measure in ("bias", "emp_se", "model_se", "coverage", "rmse", "model_se_rel_error"):
        ratio = tab[measure].std() / tab[f"{measure}_mcse"].mean()
        assert ratio == pytest.approx(1.0, abs=0.1), (measure, ratio)


def test_without_a_truth_no_bias_but_the_interval_width():
    """A model whose truth is unknown: no bias and no MC SE beside it; the interval's
    width needs no truth and is given."""
    est, se = np.array([1.2, 0.8, 1.1]), np.array([0.2, 0.25, 0.2])
    row = performance_measures(_table(est, se, truth=np.nan)).iloc[0]
    assert np.isnan(row["bias"]) and np.isnan(row["bias_mcse"])
    assert np.isnan(row["coverage"]) and np.isnan(row["rmse"])
    assert row["ci_width"] == pytest.approx(np.mean(2 * 1.96 * se))
    assert row["emp_se"] == pytest.approx(est.std(ddof=1))


def test_variance_components_have_no_coverage():
    tab = _table([0.4, 0.5, 0.45])
    tab["kind"] = "variance"
    row = performance_measures(tab).iloc[0]
    assert np.isnan(row["coverage"]) and np.isnan(row["model_se"])
    assert row["bias"] == pytest.approx(-0.55)


def test_covariance_bias_in_correlation_units():
    # bias_vs_complete 0.02 of a covariance whose complete-data variances average 0.25 and
    # 0.04: 0.02 / sqrt(0.25 * 0.04) = 0.2; variances and fixed effects are left alone
    rows = [("complete", "Intercept~~Intercept|g", "variance", 0.25, 0.0, 0.0),
            ("complete", "x~~x|g", "variance", 0.04, 0.0, 0.0),
            ("complete", "Intercept~~x|g", "variance", -0.001, 0.0, 0.0),
            ("mi", "Intercept~~x|g", "variance", 0.019, 0.02, 0.005),
            ("mi", "x~~x|g", "variance", 0.05, 0.01, 0.002),
            ("mi", "x", "fixed", 1.0, 0.1, 0.01)]
    summary = pd.DataFrame(rows, columns=["arm", "term", "kind", "mean_estimate",
                                          "bias_vs_complete", "bias_vs_complete_mcse"])
    summary = summary.assign(model="m", relative_bias_vs_complete=9.9,
                             relative_bias_vs_complete_mcse=9.9)
    out = covariances_in_correlation_units(summary)
    cov = out[(out["arm"] == "mi") & out["term"].str.startswith("Intercept~~x")].iloc[0]
    assert cov["term"] == "Intercept~~x|g (corr.)"
    assert cov["relative_bias_vs_complete"] == pytest.approx(0.2)
    assert cov["relative_bias_vs_complete_mcse"] == pytest.approx(0.05)
    unchanged = out[~out["term"].str.contains("corr")]
    assert (unchanged["relative_bias_vs_complete"] == 9.9).all()
    assert (summary["relative_bias_vs_complete"] == 9.9).all()      # a copy


def test_several_truths_are_an_error():
    tab = _table([1.0, 2.0])
    tab.loc[1, "true_value"] = 2.0
    with pytest.raises(ValueError, match="term 'x' of model 'm' has several true values"):
        performance_measures(tab)


SMALL = {
    "seed": 7,
    "generator": {"popularity": {"n_clusters": 20, "cluster_size": [5, 12]}},
    "amputation": {"mech": "MAR", "prop": 0.3, "patterns": [
        {"missing": ["popularity_ij"], "freq": 1, "weights": {"assessment_ij": 1}}]},
    "arms": {"pan": {"method": {"popularity_ij": "2l.pan"},
                     "predictor_matrix": {"popularity_ij": {
                         "cluster_id": -2, "gender_ij": 1, "extraversion_ij": 1,
                         "experience_j": 1, "assessment_ij": 1}},
                     "m": 2, "maxit": 1}},
    "models": [{"name": "ri", "formula": "popularity_ij ~ extraversion_ij + (1 | cluster_id)"}],
}


def test_replicate_is_independent_of_the_batch():
    """Replicate 2 alone equals replicate 2 inside a batch: seeds come from
    SeedSequence(seed, spawn_key=(r, ...)), never from the batch or its order."""
    study = Study.from_config(SMALL)
    alone, fail = run_replicate(study, 2)
    assert fail.empty
    batch, _ = run_batch(study, [3, 2])
    pd.testing.assert_frame_equal(alone.reset_index(drop=True),
                                  batch[batch["replicate"] == 2].reset_index(drop=True),
                                  check_dtype=False)
    assert set(alone["arm"]) == {"complete", "cca", "pan"}
    assert list(alone.columns) == list(ESTIMATE_COLUMNS)
    # the model is not the generating model: no truth, but the complete-data fit
    assert alone["true_value"].isna().all()
    assert alone["complete_estimate"].notna().all()


def test_adding_an_arm_changes_no_other_arm():
    study = Study.from_config(SMALL)
    more = Study.from_config({**SMALL, "arms": {**SMALL["arms"], "norm": {
        **SMALL["arms"]["pan"], "method": {"popularity_ij": "2l.norm"}}}})
    a, _ = run_replicate(study, 0)
    b, _ = run_replicate(more, 0)
    pd.testing.assert_frame_equal(a.reset_index(drop=True),
                                  b[b["arm"] != "norm"].reset_index(drop=True))


def test_a_failing_arm_is_recorded_and_the_others_go_on():
    bad = {**SMALL, "arms": {**SMALL["arms"], "broken": {
        **SMALL["arms"]["pan"], "method_options": {"popularity_ij": {"prior": "nope"}}}}}
    est, fail = run_replicate(Study.from_config(bad), 0)
    assert list(fail["arm"]) == ["broken"]
    assert "option prior == 'nope'" in fail["error"].iloc[0]
    assert {"complete", "cca", "pan"} == set(est["arm"])


def test_generating_model_gets_the_true_values():
    gen = PopularityGenerator(n_clusters=10, cluster_size=5)
    fixed = ["(Intercept)", "gender_ij", "extraversion_ij", "experience_j",
             "extraversion_ij:experience_j"]
    variance = ["Intercept~~Intercept|cluster_id", "extraversion_ij~~extraversion_ij|cluster_id",
                "Intercept~~extraversion_ij|cluster_id", "Residual~~Residual", "ICC|cluster_id"]
    truth = gen.true_values("f", False, fixed, variance)
    assert truth["extraversion_ij:experience_j"] == pytest.approx(-0.0247)
    assert truth["extraversion_ij~~extraversion_ij|cluster_id"] == pytest.approx(0.0047)
    assert gen.true_values("f", False, fixed[:4], variance) == {}   # misses the product


def test_cluster_size_range_and_params():
    gen = make_generator({"popularity": {"n_clusters": 30, "cluster_size": [2, 4],
                                         "params": {"sigma2": 2.0}}})
    df = gen.generate(1)
    sizes = df.groupby("cluster_id").size()
    assert sizes.between(2, 4).all() and len(sizes) == 30
    with pytest.raises(ValueError, match=r"unknown parameters \['sigma'\]"):
        make_generator({"popularity": {"params": {"sigma": 1.0}}})
    with pytest.raises(ValueError, match="exactly one of 'popularity', 'tracks' and 'resample'"):
        make_generator({})


def test_resample_keeps_whole_clusters():
    src = PopularityGenerator(n_clusters=15, cluster_size=[3, 8]).generate(2)
    gen = ResampleGenerator(data=src, cluster="cluster_id", n_clusters=12)
    out = gen.generate(5)
    assert out["cluster_id"].nunique() == 12
    # each new cluster is one whole source cluster: its experience is one value
    assert (out.groupby("cluster_id")["experience_j"].nunique() == 1).all()
    pd.testing.assert_frame_equal(out, gen.generate(5))
    truth = gen.true_values("popularity_ij ~ extraversion_ij + (1 | cluster_id)", False,
                            [], [])
    assert "extraversion_ij" in truth and "Residual~~Residual" in truth


def test_tracks_generator_through_a_study():
    # the categorical generator in a simulation block: track and school amputed, imputed
    # by 2l.polr and 2lonly.polyreg, the truth of the generating model attached
    from mlmice.simulate_categorical import TRACKS_MODEL, tracks_truth

    cfg = {
        "seed": 3,
        "generator": {"tracks": {"n_clusters": 30, "cluster_size": 8}},
        "amputation": {"mech": "MAR", "prop": 0.3, "type": "RIGHT",
                       "patterns": [{"missing": ["track"], "freq": 1,
                                     "weights": {"y": 1}}],
                       "level2": {"school": 0.2}},
        "cluster": "cluster_id",
        "models": [{"name": "tracks", "formula": TRACKS_MODEL, "reml": False}],
        "arms": {"polr": {"method": {"track": "2l.polr", "school": "2lonly.polyreg"},
                          "predictor_matrix": {"track": {"cluster_id": -2, "x": 1, "y": 1,
                                                         "school": 1},
                                               "school": {"cluster_id": -2, "x": 1, "y": 1,
                                                          "track": 1}},
                          "m": 2, "maxit": 2}},
    }
    study = Study.from_config(cfg)
    est, fail = run_replicate(study, 0)
    assert fail.empty, fail
    mi = est[est["arm"] == "polr"].set_index("term")
    truth = tracks_truth()
    assert {"trackmiddle", "tracktop", "schoolvocational"} <= set(mi.index)
    assert mi.loc["tracktop", "true_value"] == truth["tracktop"]
    assert mi.loc["Residual~~Residual", "true_value"] == truth["Residual~~Residual"]
    assert np.isfinite(mi["estimate"]).all()
    gen = make_generator({"tracks": {"n_clusters": 5}})
    assert gen.true_values("y ~ x + (1 | cluster_id)", False, ["(Intercept)", "x"], []) == {}

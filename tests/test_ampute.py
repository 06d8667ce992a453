"""mlmice.ampute (module mlmice.amputation): mice::ampute's procedure and the multilevel extras.

Stochastic checks use fixed seeds and Monte Carlo bounds of 4 standard
errors. Given the scores (and cluster offsets), the shift is solved so that
the mean probability is exactly ``prop``, and rows are amputed independently,
so the realised proportion has standard error at most sqrt(prop (1 - prop) / n).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlmice.amputation import ampute, default_patterns
from mlmice.simulate import simulate_popularity

R_DIR = Path(__file__).resolve().parent / "r"
VARS = ["popularity_ij", "gender_ij", "extraversion_ij", "experience_j", "assessment_ij"]


@pytest.fixture(scope="module")
def sim():
    return simulate_popularity(n_clusters=250, cluster_size=20, seed=3).data  # 5000 rows


def _bound(p, n):
    return 4 * np.sqrt(p * (1 - p) / n)


def _logit_fit(y, x):
    import statsmodels.api as sm

    return sm.Logit(y.astype(float), sm.add_constant(x)).fit(disp=0)


@pytest.mark.parametrize("mech", ["MCAR", "MAR", "MNAR"])
def test_realised_proportion_of_rows_and_patterns(sim, mech):
    res = ampute(sim, prop=0.3, mech=mech, seed=1)
    n = len(sim)
    any_missing = res.amp[VARS].isna().any(axis=1).to_numpy()
    assert abs(any_missing.mean() - 0.3) < _bound(0.3, n)
    np.testing.assert_array_equal(any_missing, res.amputed)
    # each row amputed by its own pattern only; candidacy follows freq (1/5 each)
    share = np.bincount(res.candidates, minlength=5) / n
    assert np.all(np.abs(share - 0.2) < _bound(0.2, n))
    assert res.amp[VARS].isna().sum(axis=1).max() == 1
    # untouched columns and metadata
    assert res.amp["cluster_id"].equals(sim["cluster_id"])
    assert res.amp.attrs == sim.attrs
    obs = ~res.amp[VARS].isna().to_numpy()
    np.testing.assert_array_equal(res.amp[VARS].to_numpy()[obs], sim[VARS].to_numpy()[obs])
    assert abs(res.probs.mean() - 0.3) < 1e-9


def test_proportion_of_cells(sim):
    pats = [["popularity_ij", "extraversion_ij"], ["assessment_ij"]]
    res = ampute(sim, prop=0.1, patterns=pats, freq=[0.5, 0.5], bycases=False, seed=4)
    cells = res.amp[VARS].isna().to_numpy().mean()
    # 10% of the 5 x 5000 cells = 2500 cells; half the rows lose 2 cells, half 1:
    # 1667 rows -> prop of rows 1/3 (mice's conversion would give 0.375)
    assert res.prop == pytest.approx(1 / 3)
    n_cells = 5 * len(sim)
    assert abs(cells - 0.1) < 4 * np.sqrt(0.1 * 0.9 / n_cells) * np.sqrt(2)


@pytest.mark.parametrize(("typ", "slope_abs", "sign"), [("RIGHT", False, 1), ("LEFT", False, -1),
                                                        ("TAIL", True, 1), ("MID", True, -1)])
def test_mar_indicator_follows_the_weighted_sum_score(sim, typ, slope_abs, sign):
    # popularity amputed, MAR on assessment (weight 2) and extraversion (weight 1):
    # logit P(missing) = f(score) + b with slope 1 in the standardised score
    res = ampute(sim, prop=0.4, patterns=[["popularity_ij"]], mech="MAR",
                 weights=[{"assessment_ij": 2, "extraversion_ij": 1}], type=typ, seed=7)
    miss = res.amp["popularity_ij"].isna().to_numpy()
    s = res.scores
    x = np.abs(s - s.mean()) if slope_abs else s
    fit = _logit_fit(miss, x)
    slope, se = fit.params[1], fit.bse[1]
    assert sign * slope / se > 5  # positive (or negative) and significant
    assert abs(slope - sign) < 4 * se  # the specified logistic slope of 1
    # the score is the standardised 2 * z(assessment) + z(extraversion)
    z = (sim[["assessment_ij", "extraversion_ij"]] - sim[["assessment_ij", "extraversion_ij"]]
         .mean()) / sim[["assessment_ij", "extraversion_ij"]].std()
    raw = 2 * z["assessment_ij"] + z["extraversion_ij"]
    np.testing.assert_allclose(s, (raw - raw.mean()) / raw.std(), atol=1e-10)
    assert abs(miss.mean() - 0.4) < _bound(0.4, len(sim))


def test_weights_none_keeps_the_default_row(sim):
    pats = [["popularity_ij"], ["assessment_ij"]]
    res = ampute(sim, prop=0.2, patterns=pats, weights=[{"assessment_ij": 2}, None], seed=1)
    assert res.weights.loc["pattern 1"].tolist() == [0, 0, 0, 0, 2]
    assert res.weights.loc["pattern 2"].tolist() == [1, 1, 1, 1, 0]


def test_mnar_depends_on_the_amputed_value(sim):
    res = ampute(sim, prop=0.3, patterns=[["popularity_ij"]], mech="MNAR", seed=8)
    miss = res.amp["popularity_ij"].isna().to_numpy()
    fit = _logit_fit(miss, stats.zscore(sim["popularity_ij"].to_numpy(), ddof=1))
    assert abs(fit.params[1] - 1) < 4 * fit.bse[1]


def test_probabilities_match_mice_ampute():
    # tests/r/ampute_reference.R: mean missingness indicator of y over 2000 runs of
    # ampute(dat, prop = 0.4, patterns = c(0, 1, 1, 1), weights = c(0, 1, 2, 0), type = ...)
    ref = pd.read_csv(R_DIR / "ampute_reference.csv")
    dat = ref[["y", "x1", "x2", "x3"]]
    reps = int(ref["reps"].iloc[0])
    for typ in ("RIGHT", "LEFT", "MID", "TAIL"):
        res = ampute(dat, prop=0.4, patterns=[[0, 1, 1, 1]], weights=[[0, 1, 2, 0]], type=typ,
                     seed=0)
        r_p = ref[f"p_{typ.lower()}"].to_numpy()
        se = np.sqrt(res.probs * (1 - res.probs) / reps)
        # R's shift comes from a random normal test set and a 3-decimal search: allow 0.01
        assert np.all(np.abs(r_p - res.probs) < 4.5 * se + 0.01), typ
        assert abs(r_p.mean() - res.probs.mean()) < 0.01


def test_level2_variable_amputed_for_whole_clusters(sim):
    res = ampute(sim, prop=0.2, patterns=[["popularity_ij"]], cluster="cluster_id",
                 level2={"experience_j": 0.3}, seed=5)
    g = res.amp["experience_j"].isna().groupby(sim["cluster_id"])
    frac = g.mean()
    assert set(frac.unique()) <= {0.0, 1.0}  # all rows of a cluster, or none
    n_clusters = frac.size
    assert abs(frac.mean() - 0.3) < _bound(0.3, n_clusters)
    assert sorted(frac.index[frac == 1]) == sorted(res.level2_clusters["experience_j"])
    # MAR at level 2: clusters with high mean scores lose experience more often
    means = sim.groupby("cluster_id")[["popularity_ij", "gender_ij", "extraversion_ij",
                                       "assessment_ij"]].mean()
    score = np.asarray(stats.zscore(means, ddof=1)).sum(axis=1)
    fit = _logit_fit(frac.loc[means.index].to_numpy(), stats.zscore(score, ddof=1))
    assert fit.params[1] / fit.bse[1] > 3


def test_cluster_varying_rates(sim):
    cl = sim["cluster_id"]
    base = ampute(sim, prop=0.3, mech="MCAR", seed=9, cluster="cluster_id")
    varying = ampute(sim, prop=0.3, mech="MCAR", seed=9, cluster="cluster_id",
                     cluster_rates=1.5)
    for res, rejects in ((base, False), (varying, True)):
        miss = res.amputed
        table = pd.crosstab(cl, miss).to_numpy()
        p = stats.chi2_contingency(table)[1]
        assert (p < 1e-6) if rejects else (p > 1e-3)
        assert abs(miss.mean() - 0.3) < _bound(0.3, len(sim))
    # given offsets: a cluster with +4 on the logit scale loses far more rows
    offsets = {c: (4.0 if c <= 10 else 0.0) for c in cl.unique()}
    res = ampute(sim, prop=0.3, mech="MCAR", seed=2, cluster="cluster_id", cluster_rates=offsets)
    rate = pd.Series(res.amputed).groupby(cl.to_numpy()).mean()
    assert rate.loc[:10].mean() > 0.9 and rate.loc[11:].mean() < 0.3


def test_same_seed_same_result(sim):
    a = ampute(sim, prop=0.5, seed=11, cluster="cluster_id", cluster_rates=0.5)
    b = ampute(sim, prop=0.5, seed=11, cluster="cluster_id", cluster_rates=0.5)
    pd.testing.assert_frame_equal(a.amp, b.amp)
    c = ampute(sim, prop=0.5, seed=12)
    assert not a.amp.isna().equals(c.amp.isna())


def test_pattern_bookkeeping_like_mice(sim):
    pats = default_patterns(VARS)
    assert pats.shape == (5, 5) and (np.diag(pats.to_numpy()) == 0).all()
    all_ones = pd.DataFrame([[0, 1, 1, 1, 1], [1, 1, 1, 1, 1]], columns=VARS)
    with pytest.warns(UserWarning, match="prop changed from 0.4 to 0.2"):
        res = ampute(sim, prop=0.4, patterns=all_ones, seed=1)
    assert res.patterns.shape == (1, 5) and res.prop == pytest.approx(0.2)
    res = ampute(sim, prop=0.2, patterns=[[1, 1, 0, 1, 1]], mech="MCAR", seed=1)
    assert res.amp[VARS].isna().sum().to_dict()["extraversion_ij"] > 0
    assert np.isnan(res.scores).all()


def test_errors_name_the_argument(sim):
    with pytest.raises(ValueError, match="prop == 1.5, must be <= 1"):
        ampute(sim, prop=1.5)
    with pytest.raises(ValueError, match="mech == 'MNAR2'"):
        ampute(sim, mech="MNAR2")
    with pytest.raises(ValueError, match="type == 'UP'"):
        ampute(sim, type="UP")
    with pytest.raises(ValueError, match=r"patterns\[0\]: variable\(s\) \['nope'\]"):
        ampute(sim, patterns=[["nope"]])
    with pytest.raises(ValueError, match="pattern with only zeros.*cannot be MAR"):
        ampute(sim, patterns=[[0, 0, 0, 0, 0]])
    with pytest.raises(ValueError, match="patterns can only contain 0 and 1; pattern 1 has 2"):
        ampute(sim, patterns=[[2, 1, 1, 1, 1]])
    with pytest.raises(ValueError, match="freq has 2 values, patterns has 5 rows"):
        ampute(sim, freq=[1, 2])
    with pytest.raises(ValueError, match=r"weights\[0\]: variable 'nope'"):
        ampute(sim, patterns=[["popularity_ij"]], weights=[{"nope": 1}])
    with pytest.raises(ValueError, match="weights: pattern 1 has inf for 'assessment_ij'"):
        ampute(sim, patterns=[["popularity_ij"]], weights=[{"assessment_ij": np.inf}])
    inc = sim.copy()
    inc.loc[3, "gender_ij"] = np.nan
    with pytest.raises(ValueError, match=r"complete to amputate; missing values in \{'gender_ij'"):
        ampute(inc)
    with pytest.raises(ValueError, match="level2 needs cluster="):
        ampute(sim, level2=["experience_j"])
    with pytest.raises(ValueError, match="cluster_rates needs cluster="):
        ampute(sim, cluster_rates=1.0)
    with pytest.raises(ValueError, match=r"level2 variable 'popularity_ij' varies within "
                                         r"cluster 1 \(cluster_id\)"):
        ampute(sim, cluster="cluster_id", level2=["popularity_ij"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="weights are not used when mech is MCAR"):
            ampute(sim, mech="MCAR", weights=np.ones((5, 5)))

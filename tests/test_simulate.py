"""mlmice.simulate: the embedded default data and its true parameters."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from mlmice.io import infer_roles
from mlmice.simulate import TERMS, PopularityParams, simulate_popularity


def test_same_seed_same_frame_other_seed_other_frame():
    a = simulate_popularity(seed=1).data
    b = simulate_popularity(seed=1).data
    c = simulate_popularity(seed=2).data
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs == b.attrs
    assert not np.allclose(a["popularity_ij"], c["popularity_ij"])


def test_shape_columns_and_scales():
    sim = simulate_popularity(n_clusters=100, cluster_size=20, seed=1)
    df = sim.data
    assert list(df.columns) == ["unit_id", "cluster_id", "popularity_ij", "gender_ij",
                                "extraversion_ij", "experience_j", "assessment_ij"]
    assert df.shape == (2000, 7)
    assert df["cluster_id"].nunique() == 100 and df["cluster_id"].dtype == np.int64
    assert df.groupby("cluster_id")["unit_id"].agg(list).iloc[0] == list(range(1, 21))
    assert set(df["gender_ij"]) == {0.0, 1.0}
    for var, lo, hi in (("extraversion_ij", 1, 10), ("assessment_ij", 1, 10),
                        ("experience_j", 2, 25)):
        x = df[var].to_numpy()
        assert np.all(x == np.round(x)) and x.min() >= lo and x.max() <= hi, var
    roles = infer_roles(df, cluster="cluster_id", id="unit_id")
    assert roles.level2 == ("experience_j",) and roles.binary == ("gender_ij",)
    assert df.attrs["roles"]["level2"] == ["experience_j"]
    assert df.attrs["labels"] == {"gender_ij": {0: "boy", 1: "girl"}}
    assert df.notna().all().all()


def test_unequal_cluster_sizes_and_bad_arguments():
    df = simulate_popularity(n_clusters=3, cluster_size=[2, 5, 1], seed=0).data
    assert df.groupby("cluster_id").size().tolist() == [2, 5, 1]
    with pytest.raises(ValueError, match="n_clusters == 0, must be >= 1"):
        simulate_popularity(n_clusters=0)
    with pytest.raises(ValueError, match="cluster_size must be an int or 3 ints"):
        simulate_popularity(n_clusters=3, cluster_size=[2, 5])
    with pytest.raises(ValueError, match="positive semi-definite"):
        PopularityParams(tau_cov=1.0)


def test_default_parameters_are_lme4s_fit_of_the_tutorial_data(load_reference):
    # R: lmer(popularity_ij ~ gender_ij + extraversion_ij + experience_j +
    #         extraversion_ij:experience_j + (1 + extraversion_ij | cluster_id), REML = FALSE)
    ref = load_reference("lme4_popular.json")["truth"]["interaction"]
    p = PopularityParams()
    np.testing.assert_allclose(p.fixef[list(TERMS)], [ref["fixef"][t] for t in TERMS],
                               rtol=5e-3)
    vc = {(v["var1"], v["var2"]): v["vcov"] for v in ref["varcomp"]}
    np.testing.assert_allclose([p.tau_intercept, p.tau_slope, p.tau_cov, p.sigma2],
                               [vc[("(Intercept)", None)], vc[("extraversion_ij", None)],
                                vc[("(Intercept)", "extraversion_ij")], vc[(None, None)]],
                               rtol=5e-3)
    assert list(p.varcorr["vcov"]) == [p.tau_intercept, p.tau_slope, p.tau_cov, p.sigma2]


def test_parameters_are_recovered_within_sampling_error():
    # statsmodels MixedLM (ML) as the oracle on 400 x 20 pupils.
    import statsmodels.formula.api as smf

    sim = simulate_popularity(n_clusters=400, cluster_size=20, seed=11)
    df, p = sim.data, sim.params
    model = smf.mixedlm("popularity_ij ~ gender_ij + extraversion_ij * experience_j", df,
                        groups=df["cluster_id"], re_formula="~extraversion_ij")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = model.fit(reml=False, method=["lbfgs"])
    names = ["Intercept", "gender_ij", "extraversion_ij", "experience_j",
             "extraversion_ij:experience_j"]
    est, se = fit.fe_params[names].to_numpy(), fit.bse_fe[names].to_numpy()
    z = (est - np.asarray(p.gamma)) / se
    assert np.all(np.abs(z) < 4), dict(zip(TERMS, z.round(2), strict=True))
    # variance components: within 4 of statsmodels' standard errors
    cov, bse = fit.cov_re.to_numpy(), fit.bse_re.to_numpy()
    truth = np.array([p.tau_intercept, p.tau_cov, p.tau_slope])
    est_re = np.array([cov[0, 0], cov[0, 1], cov[1, 1]])
    assert np.all(np.abs(est_re - truth) < 4 * bse), (est_re, truth, bse)
    # residual variance: SE ~ sigma^2 sqrt(2 / (N - 2J)) (2 random effects per cluster)
    se_s2 = p.sigma2 * np.sqrt(2 / (len(df) - 2 * 400))
    assert abs(fit.scale - p.sigma2) < 4 * se_s2
    # the auxiliary assessment is strongly tied to popularity (tutorial's data: r = 0.84)
    r = np.corrcoef(df["assessment_ij"], df["popularity_ij"])[0, 1]
    assert 0.78 < r < 0.88

"""2l.bin: the Polya-Gamma Gibbs sampler and the imputation method.

* Exactness: on a tiny random-intercept problem the Gibbs chain's posterior
  means agree with the posterior computed by brute-force quadrature (a grid
  over the intercept and log-variance, Gauss-Hermite over each cluster's
  random effect) within 4 Monte Carlo standard errors (batch means).
* The method contract: MethodInput built by hand with codes 1/2/3/4, 0/1
  output, clear errors.
* Never fails: complete separation, a zero random-effect variance with a
  random slope, a cluster without observed values and only three missing
  values all run and give plausible proportions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import expit, log_expit

from mlmice.impute.methods import MethodInput, get_method
from mlmice.impute.methods.two_level_bin import gibbs_two_level_logistic


def _two_level_data(seed, n_clusters=40, size=15, var0=0.6, slope_var=0.0, beta=(-0.3, 0.9, 0.5)):
    rng = np.random.default_rng(seed)
    cl = np.repeat(np.arange(n_clusters), size)
    n = cl.size
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n_clusters)[cl]
    u0 = rng.normal(0, np.sqrt(var0), n_clusters)
    u1 = rng.normal(0, np.sqrt(slope_var), n_clusters)
    eta = beta[0] + beta[1] * x1 + beta[2] * x2 + u0[cl] + u1[cl] * x1
    y = (rng.random(n) < expit(eta)).astype(float)
    return y, np.column_stack([x1, x2]), cl, eta


def _input(y, ry, x, cl, codes, names=("x1", "x2"), **options):
    return MethodInput(variable="yvar", y=np.asarray(y, float), ry=np.asarray(ry),
                       wy=~np.asarray(ry), x=np.asarray(x, float), names=tuple(names),
                       codes=np.asarray(codes), cluster=np.asarray(cl),
                       n_clusters=int(np.max(cl)) + 1, binary=True, options=options)


def _batch_mean(v, n_batches=30):
    v = v[: len(v) // n_batches * n_batches].reshape(n_batches, -1).mean(axis=1)
    return v.mean(), v.std(ddof=1) / np.sqrt(n_batches)


def test_gibbs_matches_quadrature_posterior():
    # y_ij ~ Bern(expit(b0 + u_j)), u_j ~ N(0, psi), 6 clusters of 8;
    # priors b0 ~ N(0, 10^2), psi ~ IW(2, 0.1) = InvGamma(1, scale 0.05)
    n_clusters, size = 6, 8
    successes = np.array([1, 3, 4, 5, 7, 8])
    y = np.concatenate([np.r_[np.ones(k), np.zeros(size - k)] for k in successes])
    cl = np.repeat(np.arange(n_clusters), size)
    ones = np.ones((y.size, 1))
    # brute force: grid over (b0, log psi), 50-point Gauss-Hermite over each u_j
    nodes, weights = np.polynomial.hermite_e.hermegauss(50)
    weights = weights / np.sqrt(2 * np.pi)
    b0, lpsi = np.meshgrid(np.linspace(-5, 6, 221), np.linspace(-9, 6, 241), indexing="ij")
    eta = b0[..., None] + np.exp(lpsi / 2)[..., None] * nodes
    loglik = 0.0
    for k in successes:
        lc = k * log_expit(eta) + (size - k) * log_expit(-eta)
        top = lc.max(axis=-1, keepdims=True)
        loglik = loglik + np.log((np.exp(lc - top) * weights).sum(axis=-1)) + top[..., 0]
    logpost = (loglik + stats.norm.logpdf(b0, 0, 10)
               + stats.invgamma.logpdf(np.exp(lpsi), 1, scale=0.05) + lpsi)
    w = np.exp(logpost - logpost.max())
    w /= w.sum()
    exact_b0, exact_lpsi = (w * b0).sum(), (w * lpsi).sum()
    assert w[:, -3:].sum() < 1e-6  # the grid holds the posterior

    _, states = gibbs_two_level_logistic(ones, ones, y, cl, n_clusters,
                                         rng=np.random.default_rng(3), n_iter=6000,
                                         prior_sd=np.array([10.0]), psi_df=2, psi_scale=0.1,
                                         trace=True)
    draws_b0 = np.array([s.beta[0] for s in states])[500:]
    draws_lpsi = np.log(np.array([s.psi[0, 0] for s in states]))[500:]
    mean_b0, se_b0 = _batch_mean(draws_b0)
    mean_lpsi, se_lpsi = _batch_mean(draws_lpsi)
    assert abs(mean_b0 - exact_b0) < 4 * se_b0
    assert abs(mean_lpsi - exact_lpsi) < 4 * se_lpsi
    # the spread too (posterior sd of b0 is 0.59 by quadrature)
    exact_sd_b0 = np.sqrt((w * b0**2).sum() - exact_b0**2)
    assert draws_b0.std() == pytest.approx(exact_sd_b0, rel=0.1)


@pytest.mark.parametrize("codes", [[1, 1], [2, 1], [3, 1], [4, 3], [2, 2]])
def test_method_contract_for_every_code(codes):
    y, x, cl, _ = _two_level_data(1)
    rng = np.random.default_rng(2)
    ry = rng.random(y.size) > 0.3
    res = get_method("2l.bin").impute(_input(y, ry, x, cl, codes), rng)
    assert res.values.shape == ((~ry).sum(),)
    assert set(np.unique(res.values)) <= {0.0, 1.0}


def test_recovers_cluster_effects_in_the_imputations():
    # strong clustering (var 2): the imputations must carry the cluster's own
    # effect (conditional, not marginal, random effects; mice issue 686):
    # the imputed proportion per cluster follows the observed one.
    y, x, cl, eta = _two_level_data(4, n_clusters=40, size=30, var0=2.0)
    rng = np.random.default_rng(5)
    ry = rng.random(y.size) > 0.3
    method = get_method("2l.bin")
    imps = np.array([method.impute(_input(y, ry, x, cl, [1, 1]), rng).values
                     for _ in range(20)])
    n_clusters = cl.max() + 1
    imp_prop = np.bincount(cl[~ry], weights=imps.mean(axis=0), minlength=n_clusters) / \
        np.bincount(cl[~ry], minlength=n_clusters)
    true_prop = np.bincount(cl[~ry], weights=expit(eta[~ry]), minlength=n_clusters) / \
        np.bincount(cl[~ry], minlength=n_clusters)
    assert np.corrcoef(imp_prop, true_prop)[0, 1] > 0.8
    assert abs(imps.mean() - expit(eta[~ry]).mean()) < 0.05


def test_complete_separation_runs_and_follows_the_predictor():
    rng = np.random.default_rng(6)
    n_clusters, size = 30, 10
    cl = np.repeat(np.arange(n_clusters), size)
    x1 = rng.normal(size=cl.size)
    y = (x1 > 0).astype(float)  # perfectly separated by x1
    x = np.column_stack([x1, rng.normal(size=cl.size)])
    ry = rng.random(y.size) > 0.3
    method = get_method("2l.bin")
    imps = np.array([method.impute(_input(y, ry, x, cl, [2, 1]), rng).values
                     for _ in range(10)])
    far = np.abs(x1[~ry]) > 0.5
    agree = (imps[:, far] == y[~ry][far]).mean()
    assert agree > 0.95


def test_zero_variance_with_random_slope_and_empty_cluster():
    # no cluster effect at all, a random slope requested (a singular Psi for
    # glmer), and cluster 0 has no observed value
    y, x, cl, eta = _two_level_data(7, n_clusters=30, size=12, var0=0.0, slope_var=0.0)
    rng = np.random.default_rng(8)
    ry = rng.random(y.size) > 0.3
    ry[cl == 0] = False
    method = get_method("2l.bin")
    imps = np.array([method.impute(_input(y, ry, x, cl, [2, 2]), rng).values
                     for _ in range(10)])
    assert np.all(np.isin(imps, (0.0, 1.0)))
    assert abs(imps.mean() - expit(eta[~ry]).mean()) < 0.06


def test_only_three_missing_values():
    # like the tutorial's gender: all but three observed
    y, x, cl, eta = _two_level_data(9, n_clusters=30, size=15)
    ry = np.ones(y.size, dtype=bool)
    miss = np.array([3, 200, 377])
    ry[miss] = False
    rng = np.random.default_rng(10)
    method = get_method("2l.bin")
    imps = np.array([method.impute(_input(y, ry, x, cl, [1, 1]), rng).values
                     for _ in range(100)])
    assert imps.shape == (100, 3)
    # each imputed proportion is near its model probability: binomial SE
    # 0.05 at 100 draws (4 SE = 0.2) plus the posterior spread of eta
    np.testing.assert_allclose(imps.mean(axis=0), expit(eta[miss]), atol=0.25)


def test_errors_name_the_problem():
    y, x, cl, _ = _two_level_data(1)
    ry = np.arange(y.size) % 3 > 0
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown 2l.bin option"):
        get_method("2l.bin").impute(_input(y, ry, x, cl, [1, 1], n_iters=3), rng)
    with pytest.raises(ValueError, match="n_iter == 0, must be >= 1"):
        get_method("2l.bin").impute(_input(y, ry, x, cl, [1, 1], n_iter=0), rng)
    ybad = y.copy()
    ybad[1] = 0.5
    with pytest.raises(ValueError,
                       match="yvar: 2l.bin needs a 0/1 target; observed row 1 has 0.5$"):
        get_method("2l.bin").impute(_input(ybad, ry, x, cl, [1, 1]), rng)
    single = MethodInput(variable="yvar", y=y, ry=ry, wy=~ry, x=x, names=("x1", "x2"),
                         codes=np.array([1, 1]))
    with pytest.raises(ValueError, match="needs a cluster variable"):
        get_method("2l.bin").impute(single, rng)


@pytest.mark.slow
def test_recovery_with_mice_and_pooled_glmer():
    # Simulated two-level binary data: y ~ Bern(expit(-0.5 + 1.0 x1 + 0.5 x2 + u_j)),
    # u_j ~ N(0, 1), 50 clusters of 20; y is 29 % missing at random given x1.
    # Imputed m = 20 times by 2l.bin (x1, x2 fixed), analysed by glmer, pooled by
    # Rubin's rules. Checks (each a 3-standard-error interval, so a correct
    # method fails one with probability < 0.3 %; the seed is fixed):
    # * every pooled fixed effect covers the truth within 3 pooled SEs;
    # * every pooled fixed effect is within 3 SD of the complete-data estimate,
    #   where the SD of that difference is sqrt(T - U_complete) (the extra
    #   variance due to the missing values);
    # * the average random-intercept variance (pooled as an average, as
    #   mitml does) is within 3 SEs of the complete-data estimate
    #   (SE ~ sqrt(2 / J) * var = 0.2). (That imputations use each cluster's
    #   own random effect, not the marginal one of mice issue 686, is checked
    #   more sharply by test_recovers_cluster_effects_in_the_imputations.)
    import mlmice as mm

    rng = np.random.default_rng(2024)
    n_clusters, size = 50, 20
    g = np.repeat(np.arange(n_clusters), size)
    x1 = rng.normal(size=g.size)
    x2 = rng.normal(size=n_clusters)[g]
    truth = {"(Intercept)": -0.5, "x1": 1.0, "x2": 0.5}
    u = rng.normal(0, 1.0, n_clusters)
    y = (rng.random(g.size) < expit(-0.5 + x1 + 0.5 * x2 + u[g])).astype(float)
    df = pd.DataFrame({"y": y, "x1": x1, "x2": x2, "g": g})
    formula = "y ~ x1 + x2 + (1 | g)"
    full = mm.glmer(formula, df)
    miss = rng.random(g.size) < expit(-1.2 + x1)
    inc = df.copy()
    inc.loc[miss, "y"] = np.nan
    method = {"y": "2l.bin", "x1": "", "x2": "", "g": ""}
    pred = pd.DataFrame(0, index=df.columns, columns=df.columns)
    pred.loc["y", ["x1", "x2"]] = 1
    pred.loc["y", "g"] = -2
    imp = mm.mice(inc, m=20, maxit=5, method=method, predictor_matrix=pred, seed=1)
    assert set(np.unique(imp.complete(3)["y"])) == {0.0, 1.0}
    fits = imp.fit(formula, family="binomial")
    pooled = mm.pool(fits).summary().set_index("term")
    for term, value in truth.items():
        est, se = pooled.loc[term, "estimate"], pooled.loc[term, "std_error"]
        assert abs(est - value) < 3 * se, term
        sd_diff = np.sqrt(max(se**2 - full.se[term] ** 2, 1e-6))
        assert abs(est - full.fixef[term]) < 3 * sd_diff, term
    mean_var = np.mean([f.varcorr["vcov"].iloc[0] for f in fits])
    assert abs(mean_var - full.varcorr["vcov"].iloc[0]) < 3 * 0.2


def test_tutorial_gender_model_on_amputed_complete_data(popular_complete):
    # The tutorial's imputation model for gender (popularity with a random
    # slope, extraversion, experience, assessment; codes 2/1/1/1) on the
    # complete popularity data with 30 % of gender made missing at random
    # given extraversion. R's 2l.bin (glmer inside) is the step that fails on
    # this data in the tutorial. Here: five draws run, the imputed share of
    # girls is within 0.06 of the true share among the missing rows (binomial
    # SD 0.02 for 592 values, plus posterior spread), and the imputations agree
    # with the true values more often than those of single-level logreg (0.77
    # vs 0.72 on average; the classes differ a lot in their share of girls).
    df = popular_complete
    rng = np.random.default_rng(42)
    truth = df["gender_ij"].to_numpy()
    ext = df["extraversion_ij"].to_numpy()
    miss = rng.random(len(df)) < expit(-1.0 + 0.6 * (ext - ext.mean()))
    names = ("popularity_ij", "extraversion_ij", "experience_j", "assessment_ij")
    x = df[list(names)].to_numpy()
    y = truth.copy()
    y[miss] = rng.integers(0, 2, miss.sum())  # previous imputations: arbitrary
    cl = df["cluster_id"].to_numpy() - 1
    two_level = MethodInput(variable="gender_ij", y=y, ry=~miss, wy=miss, x=x, names=names,
                            codes=np.array([2, 1, 1, 1]), cluster=cl, n_clusters=100,
                            binary=True)
    single = MethodInput(variable="gender_ij", y=y, ry=~miss, wy=miss, x=x, names=names,
                         codes=np.array([1, 1, 1, 1]), binary=True)
    imps = np.array([get_method("2l.bin").impute(two_level, rng).values for _ in range(5)])
    flat = np.array([get_method("logreg").impute(single, rng).values for _ in range(5)])
    assert np.all(np.abs(imps.mean(axis=1) - truth[miss].mean()) < 0.06)
    accuracy = (imps == truth[miss]).mean()
    assert accuracy > 0.74
    assert accuracy > (flat == truth[miss]).mean() + 0.02


@pytest.mark.parametrize("method", ["2l.bin", "logreg"])
def test_binary_coding_contract_through_mice(method):
    # imputed values are 0/1 and the variable keeps its labels in the completed data
    import mlmice as mm

    y, x, cl, _ = _two_level_data(12, n_clusters=20, size=10)
    y[::7] = np.nan
    df = pd.DataFrame({"y": y, "x1": x[:, 0], "g": cl})
    df.attrs["labels"] = {"y": {0: "boy", 1: "girl"}}
    pred = pd.DataFrame(0, index=df.columns, columns=df.columns)
    pred.loc["y", "x1"] = 1
    pred.loc["y", "g"] = -2 if method == "2l.bin" else 0
    imp = mm.mice(df, m=2, maxit=2, method={"y": method, "x1": "", "g": ""},
                  predictor_matrix=pred, seed=3)
    for i in (1, 2):
        done = imp.complete(i)
        assert set(np.unique(done["y"])) <= {0.0, 1.0} and not done["y"].isna().any()
        assert done.attrs["labels"]["y"] == {0: "boy", 1: "girl"}
    assert imp.logged_events.empty or not imp.logged_events["variable"].eq("y").any()


def test_scale_move_keeps_the_posterior_with_random_slopes():
    # The group move (b, Psi) -> (C b, C Psi C) must leave the posterior
    # unchanged: long chains with and without it agree on the posterior means
    # of log psi_11, log psi_22 and the correlation (random intercept and
    # slope, q = 2, six clusters so that the prior's share is visible; the
    # q = 1 case is checked exactly by test_gibbs_matches_quadrature_posterior).
    # Tolerance: 4 combined batch-means standard errors. Power: with the
    # move's Jacobian exponent off by one the log-variances differ by 5.0 and
    # 4.3 standard errors on these chains.
    y, x, cl, _ = _two_level_data(21, n_clusters=6, size=10, var0=0.8, slope_var=0.3)
    X = np.column_stack([np.ones(y.size), x])
    Z = X[:, :2]
    out = {}
    for move in (True, False):
        _, states = gibbs_two_level_logistic(X, Z, y, cl, 6, rng=np.random.default_rng(5),
                                             n_iter=4000, scale_move=move, trace=True)
        psi = np.array([s.psi for s in states[300:]])
        stats_ = np.column_stack([np.log(psi[:, 0, 0]), np.log(psi[:, 1, 1]),
                                  psi[:, 0, 1] / np.sqrt(psi[:, 0, 0] * psi[:, 1, 1])])
        out[move] = [_batch_mean(stats_[:, k]) for k in range(3)]
    for (m1, se1), (m2, se2) in zip(out[True], out[False], strict=True):
        assert abs(m1 - m2) < 4 * np.hypot(se1, se2)

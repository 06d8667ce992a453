"""Tests of ``2l.smc`` (substantive-model-compatible two-level imputation).

1. The Metropolis-Hastings step (:mod:`._smc_metropolis`) against the exact
   full conditional computed on a grid, for a non-linear (quadratic)
   substantive model where the conditional is not normal.
2. The substantive model's design (products, random slopes) and the errors.
3. Recovery through the sampler on simulated data with a true random slope
   and cross-level interaction (``simulate_popularity``), MAR missingness in
   popularity and extraversion: pooled estimates of the interaction model
   within Monte Carlo error of the complete-data fit, and less bias in the
   interaction term than the tutorial's ``2l.pmm`` specification; and with
   missingness driven by an auxiliary variable (option ``auxiliary``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

import mlmice as mm
from mlmice import tutorial
from mlmice.impute.methods import MethodInput, get_method
from mlmice.impute.methods._smc_metropolis import metropolis_independence
from mlmice.impute.methods._smc_model import SubstantiveModel
from mlmice.impute.methods.two_level_smc import substantive_loglik

MODEL = tutorial.MODELS["interaction"]


# --------------------------------------------------------------------------- MH step

def test_metropolis_draws_follow_exact_conditional():
    """Target q(x) L(x): q = N(0.3, 1.1^2), L = N(y; 0.5 + 1.2 x - 0.4 x^2, 0.6^2), y = 0.2.

    k = 20000 independent rows, each started at a draw from q and run 40 steps,
    are compared with the CDF of the normalised density on a fine grid
    (trapezoid rule). A Kolmogorov-Smirnov distance of 1.95 / sqrt(k) is the
    0.1 % critical value for i.i.d. draws; the mean and sd are checked to
    4 Monte Carlo standard errors. The target is bimodal-ish and far from q,
    so a wrong acceptance ratio (e.g. without the likelihood, or with the
    proposal density left in) fails by a wide margin.
    """
    k, mu, sd, y, s2 = 20_000, 0.3, 1.1, 0.2, 0.36
    rng = np.random.default_rng(1)

    def loglik(x):
        return -0.5 * (y - (0.5 + 1.2 * x - 0.4 * x**2)) ** 2 / s2

    x0 = mu + sd * rng.standard_normal(k)
    draws, acc = metropolis_independence(x0, np.full(k, mu), sd, loglik, n_steps=40, rng=rng)
    assert 0.05 < acc < 0.95
    grid = np.linspace(mu - 8 * sd, mu + 8 * sd, 20_001)
    dens = np.exp(-0.5 * ((grid - mu) / sd) ** 2 + loglik(grid))
    cdf = integrate.cumulative_trapezoid(dens, grid, initial=0.0)
    cdf /= cdf[-1]
    mean = integrate.trapezoid(grid * dens, grid) / integrate.trapezoid(dens, grid)
    var = integrate.trapezoid((grid - mean) ** 2 * dens, grid) / integrate.trapezoid(dens, grid)
    xs = np.sort(draws)
    emp = np.arange(1, k + 1) / k
    ks = np.max(np.abs(emp - np.interp(xs, grid, cdf)))
    assert ks < 1.95 / np.sqrt(k), ks
    assert abs(draws.mean() - mean) < 4 * np.sqrt(var / k)
    assert abs(draws.var() - var) < 4 * var * np.sqrt(2 / k)
    # the proposal alone is far from the target: the test has power
    prior = mu + sd * rng.standard_normal(k)
    assert np.max(np.abs(emp - np.interp(np.sort(prior), grid, cdf))) > 10 / np.sqrt(k)


def test_covariate_draws_with_interaction_and_random_slope_follow_exact_conditional():
    """The tutorial's interaction model with known parameters: the MH chain on x.

    With ``x`` entering as ``beta_x x + beta_xe x e + b_1j x`` the likelihood is
    normal in ``x`` with slope :math:`d = \\beta_x + \\beta_{xe} e + b_{1j}`, so the
    exact conditional given ``y`` and the normal covariate model
    :math:`N(\\mu, s^2)` is normal with precision :math:`1/s^2 + d^2/\\sigma^2` and
    mean :math:`(\\mu/s^2 + d (y - c)/\\sigma^2)/P`. The draws, standardised by the
    exact mean and sd, must be N(0, 1): Kolmogorov-Smirnov at the 0.1 % level,
    mean and variance to 4 Monte Carlo SEs.
    """
    k = 20_000
    rng = np.random.default_rng(11)
    model = SubstantiveModel(MODEL, variable="extraversion_ij")
    beta = np.array([-1.2, 1.24, 0.80, 0.226, -0.0247])
    psi = np.array([[0.45, -0.029], [-0.029, 0.0047]])
    b = rng.multivariate_normal(np.zeros(2), psi, size=k)
    g = rng.integers(0, 2, k).astype(float)
    e = rng.integers(2, 26, k).astype(float)
    mu, s, sigma2 = 5.0 + 0.3 * g, 1.1, 0.55
    c = beta[0] + beta[1] * g + beta[3] * e + b[:, 0]
    d = beta[2] + beta[4] * e + b[:, 1]
    y = c + d * (mu + s * rng.standard_normal(k)) + np.sqrt(sigma2) * rng.standard_normal(k)
    cols = {"popularity_ij": y, "gender_ij": g, "experience_j": e}

    def loglik(x):
        return substantive_loglik(model, {**cols, "extraversion_ij": x}, beta=beta, b=b,
                                  sigma2=sigma2)

    np.testing.assert_allclose(loglik(np.full(k, 3.0)), -0.5 * (y - c - 3 * d) ** 2 / sigma2)
    x0 = mu + s * rng.standard_normal(k)
    draws, acc = metropolis_independence(x0, mu, s, loglik, n_steps=30, rng=rng)
    prec = 1 / s**2 + d**2 / sigma2
    z = (draws - (mu / s**2 + d * (y - c) / sigma2) / prec) * np.sqrt(prec)
    assert 0.3 < acc < 0.99
    assert stats.kstest(z, "norm").statistic < 1.95 / np.sqrt(k)
    assert abs(z.mean()) < 4 / np.sqrt(k) and abs(z.var() - 1) < 4 * np.sqrt(2 / k)


def test_metropolis_empty_rows():
    x, acc = metropolis_independence(np.zeros(0), np.zeros(0), 1.0, lambda v: v, n_steps=3,
                                     rng=np.random.default_rng(0))
    assert x.size == 0 and np.isnan(acc)


# --------------------------------------------------------------------------- the model

def test_substantive_model_design_has_products_and_slopes():
    model = SubstantiveModel(MODEL, variable="extraversion_ij")
    assert model.response == "popularity_ij"
    assert set(model.covariates) == {"gender_ij", "extraversion_ij", "experience_j"}
    cols = {"gender_ij": np.array([0.0, 1.0]), "extraversion_ij": np.array([2.0, 5.0]),
            "experience_j": np.array([10.0, 3.0])}
    X, names, z_index = model.design(cols)
    assert names == ["(Intercept)", "gender_ij", "extraversion_ij", "experience_j",
                     "extraversion_ij:experience_j"]
    np.testing.assert_array_equal(X, [[1, 0, 2, 10, 20], [1, 1, 5, 3, 15]])
    assert [names[k] for k in z_index] == ["(Intercept)", "extraversion_ij"]


@pytest.mark.parametrize(("formula", "message"), [
    ("popularity_ij ~ extraversion_ij", "exactly one random-effects term"),
    ("popularity_ij ~ extraversion_ij + (0 + extraversion_ij | g)", "random intercept"),
    ("popularity_ij ~ gender_ij + (1 + extraversion_ij | g)", "must also be fixed effects"),
    ("popularity_ij ~ gender_ij + (1 | g)", "does not occur in the model"),
    ("log(popularity_ij) ~ extraversion_ij + (1 | g)", "response must be a variable"),
    ("popularity_ij + ", "option 'model' of method 2l.smc"),
])
def test_substantive_model_errors_name_variable_and_option(formula, message):
    with pytest.raises(ValueError, match="extraversion_ij") as err:
        SubstantiveModel(formula, variable="extraversion_ij")
    assert message in str(err.value)


def _small_input(**changes) -> MethodInput:
    rng = np.random.default_rng(0)
    n = 60
    x = rng.standard_normal((n, 2))
    base = dict(variable="extraversion_ij", y=rng.standard_normal(n),
                ry=np.arange(n) % 4 != 0, wy=np.arange(n) % 4 == 0, x=x,
                names=("popularity_ij", "gender_ij"), codes=np.array([1, 1]),
                cluster=np.repeat(np.arange(6), 10), n_clusters=6,
                options={"model": "popularity_ij ~ gender_ij + extraversion_ij"
                                  " + (1 + extraversion_ij | g)"})
    base.update(changes)
    return MethodInput(**base)


def test_method_errors():
    method = get_method("2l.smc")
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="extraversion_ij: method 2l.smc needs the option"):
        method.impute(_small_input(options={}), rng)
    with pytest.raises(ValueError, match=r"needs \['gender_ij'\] as predictors"):
        method.impute(_small_input(x=np.ones((60, 1)), names=("popularity_ij",),
                                   codes=np.array([1])), rng)
    opts = dict(_small_input().options, modle="y ~ x")
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['modle'\] of method 2l.smc"):
        method.impute(_small_input(options=opts), rng)
    level2 = _small_input(variable="experience_j", y=np.repeat(np.arange(6.0), 10),
                          options={"model": "popularity_ij ~ gender_ij + experience_j"
                                            " + (1 | g)"})
    with pytest.raises(ValueError, match="experience_j are constant within clusters"):
        method.impute(level2, rng)
    with pytest.raises(ValueError, match="is binary"):
        method.impute(_small_input(binary=True), rng)
    with pytest.raises(ValueError, match="n_mh"):
        opts = dict(_small_input().options, n_mh=0)
        method.impute(_small_input(options=opts), rng)
    opts = dict(_small_input().options, auxiliary=["gender_ij"])
    with pytest.raises(ValueError, match=r"'auxiliary' .* names \['gender_ij'\], which are "
                                         "variables of the substantive model"):
        method.impute(_small_input(options=opts), rng)
    opts = dict(_small_input().options, auxiliary="assessment_ij")
    with pytest.raises(ValueError, match=r"names \['assessment_ij'\], which are not "
                                         "predictors of extraversion_ij"):
        method.impute(_small_input(options=opts), rng)


@pytest.mark.parametrize("auxiliary", [(), ("assessment_ij",)])
def test_method_returns_one_finite_value_per_missing_row(auxiliary):
    x = np.random.default_rng(1).standard_normal((60, 3))
    opts = dict(_small_input().options, auxiliary=list(auxiliary))
    names = ("popularity_ij", "gender_ij", "assessment_ij")
    res = get_method("2l.smc").impute(_small_input(x=x, names=names, codes=np.ones(3, int),
                                                   options=opts), np.random.default_rng(3))
    assert res.values.shape == (15,) and np.all(np.isfinite(res.values))
    out = get_method("2l.smc").impute(
        _small_input(variable="popularity_ij", x=x, codes=np.ones(3, int), options=opts,
                     names=("extraversion_ij", "gender_ij", "assessment_ij")),
        np.random.default_rng(3))
    assert out.values.shape == (15,) and np.all(np.isfinite(out.values))


# --------------------------------------------------------------------------- recovery

M = 10
SMC_TARGETS = ("popularity_ij", "extraversion_ij")


@pytest.fixture(scope="module")
def recovery():
    """Simulated tutorial-like data (true random slope and interaction), MAR amputed.

    Missingness depends on model variables only (popularity on gender, extraversion
    and experience; extraversion on popularity and gender), so the analysis model's
    variables carry the MAR information (2l.smc's outcome step uses the substantive
    model alone, without auxiliary variables).
    """
    full = mm.simulate_popularity(n_clusters=100, cluster_size=20, seed=5).data
    amp = mm.ampute(full, prop=0.5, patterns=[["popularity_ij"], ["extraversion_ij"]],
                    weights=[{"gender_ij": 1.0, "extraversion_ij": 1.0, "experience_j": 1.0},
                             {"popularity_ij": 1.0, "gender_ij": 1.0}],
                    mech="MAR", seed=6, cluster="cluster_id").amp
    data = tutorial.with_interaction(amp)
    com = mm.lmer(MODEL, data=full, reml=False).fixef
    pred = tutorial.tutorial_predictor_matrix(data)
    meth = {c: "" for c in data.columns}
    meth["extraversion_experience"] = tutorial.PASSIVE
    pmm = dict(meth, popularity_ij="2l.pmm", extraversion_ij="2l.pmm")
    smc = dict(meth, popularity_ij="2l.smc", extraversion_ij="2l.smc")
    opts = {v: {"model": MODEL} for v in SMC_TARGETS}
    out = {}
    for name, method, kw in (("pmm", pmm, {}), ("smc", smc, {"method_options": opts})):
        imp = mm.mice(data, m=M, maxit=10, method=method, predictor_matrix=pred, seed=7, **kw)
        Q = pd.DataFrame([f.fixef for f in imp.fit(MODEL, reml=False).analyses])
        out[name] = (Q.mean(), Q.var(ddof=1))
    return data, com, out


def test_smc_recovers_interaction_model(recovery):
    """Criterion of test_recovery_two_level: |Qbar - Q_com| < 4 sqrt(B (1 + 1/m)).

    For proper imputations Qbar - Q_com ~ N(0, B (1 + 1/m)) (Rubin 1987, ch. 3);
    with B on m - 1 = 9 df the ratio is about t_9, which exceeds 4 with
    probability 0.3 % per term.
    """
    data, com, out = recovery
    assert data["popularity_ij"].isna().mean() > 0.15
    assert data["extraversion_ij"].isna().mean() > 0.15
    qbar, b = out["smc"]
    ratio = (qbar - com) / np.sqrt(b * (1 + 1 / M))
    assert np.all(np.abs(ratio) < 4), ratio.round(2).to_dict()
    assert np.all(b > 0)


def test_smc_less_biased_than_tutorial_pmm_for_interaction(recovery):
    _data, com, out = recovery
    term = "extraversion_ij:experience_j"
    bias_smc = abs(out["smc"][0][term] - com[term])
    bias_pmm = abs(out["pmm"][0][term] - com[term])
    assert bias_smc < bias_pmm, (bias_smc, bias_pmm)


def test_smc_with_auxiliary_recovers_interaction_model():
    """Missingness driven by the teacher's assessment (an auxiliary outside the model).

    Popularity is missing depending on assessment and gender, extraversion on
    popularity and assessment. ``2l.smc`` with ``auxiliary=["assessment_ij"]``
    (modelled after the outcome) must meet the recovery criterion above.
    """
    full = mm.simulate_popularity(n_clusters=100, cluster_size=20, seed=5).data
    amp = mm.ampute(full, prop=0.5, patterns=[["popularity_ij"], ["extraversion_ij"]],
                    weights=[{"assessment_ij": 1.0, "gender_ij": 0.5},
                             {"popularity_ij": 1.0, "assessment_ij": 1.0}],
                    mech="MAR", seed=6, cluster="cluster_id").amp
    data = tutorial.with_interaction(amp)
    com = mm.lmer(MODEL, data=full, reml=False).fixef
    meth = {c: "" for c in data.columns}
    meth.update(extraversion_experience=tutorial.PASSIVE, popularity_ij="2l.smc",
                extraversion_ij="2l.smc")
    opts = {v: {"model": MODEL, "auxiliary": ["assessment_ij"]} for v in SMC_TARGETS}
    imp = mm.mice(data, m=M, maxit=10, method=meth, seed=7, method_options=opts,
                  predictor_matrix=tutorial.tutorial_predictor_matrix(data))
    Q = pd.DataFrame([f.fixef for f in imp.fit(MODEL, reml=False).analyses])
    ratio = (Q.mean() - com) / np.sqrt(Q.var(ddof=1) * (1 + 1 / M))
    assert np.all(np.abs(ratio) < 4), ratio.round(2).to_dict()
    assert not imp.complete("long")[list(SMC_TARGETS)].isna().any().any()

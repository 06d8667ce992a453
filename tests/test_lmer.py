"""mlmice.lmer against lme4.

References:
* ../shared/reference/lme4_popular.json (lme4 1.1-31 default optimiser, ML; the
  R code is lme4_reference.R beside it);
* tests/r/lme4_tight.json and tests/r/lme4_reml.json (ML and REML fits with a
  tight optimiser; R code tests/r/lme4_tight.R and lme4_reml.R), e.g.
  ``lmer(f, data, REML = FALSE, control = lmerControl(optimizer = "nloptwrap",
  optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-15, xtol_rel = 0, ftol_rel = 0)))``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from mlmice.design import model_frame
from mlmice.mixed.lmm import LmerModel, lmer, loglik_at
from mlmice.mixed.results import ConvergenceWarning, SingularFitWarning
from mlmice.tutorial import MODELS

HERE = Path(__file__).resolve().parent
TIGHT = json.loads((HERE / "r" / "lme4_tight.json").read_text())
REML = json.loads((HERE / "r" / "lme4_reml.json").read_text())

# the tutorial's four mixed models (its first model, "null_single", is an lm)
TUTORIAL = {name: formula for name, formula in MODELS.items() if "|" in formula}
SINGULAR = {"uncorrelated", "two_terms", "three_effects"}


@pytest.fixture(scope="module")
def popular(popular_complete, popular_mar):
    # gender 0 = boy, 1 = girl in both (conftest's session fixtures, mlmice.tutorial.read_popular)
    return {"truth": popular_complete, "complete_case": popular_mar}


def _fit(formula, data, reml):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        return lmer(formula, data, reml=reml)


def _compare_fixed(fit, ref, *, rtol, atol, se_rtol):
    """nobs, fixed effects, standard errors and varcorr groups vs lme4; the varcomp frame."""
    assert fit.nobs == ref["n"]
    assert list(fit.fixef.index) == list(ref["fixef"])
    assert_allclose(fit.fixef.to_numpy(), list(ref["fixef"].values()), rtol=rtol, atol=atol)
    assert_allclose(fit.se.to_numpy(), list(ref["se"].values()), rtol=se_rtol)
    vc = pd.DataFrame(ref["varcomp"])
    assert list(fit.varcorr["grp"]) == list(vc["grp"])
    return vc


@pytest.mark.shared
@pytest.mark.parametrize("data_key", ["truth", "complete_case"])
@pytest.mark.parametrize("model", list(TUTORIAL))
def test_against_lme4_default_fits(popular, load_reference, data_key, model):
    # R: lmer(f, data, REML = FALSE)  (lme4_reference.R)
    ref = load_reference("lme4_popular.json")[data_key][model]
    fit = _fit(TUTORIAL[model], popular[data_key], reml=False)
    # lme4's default optimiser stops up to 5e-4 (relative, variance components)
    # short of the optimum; hence these tolerances (issue 4)
    vc = _compare_fixed(fit, ref, rtol=1e-4, atol=1e-6, se_rtol=2e-4)
    assert_allclose(fit.varcorr["vcov"], vc["vcov"], rtol=1e-3)
    assert abs(fit.loglik - ref["loglik"]) < 1e-4
    assert fit.loglik >= ref["loglik"] - 1e-7
    assert fit.converged


def _compare_tight(fit, ref, singular):
    vc = _compare_fixed(fit, ref, rtol=1e-6, atol=1e-9, se_rtol=1e-6)
    assert list(fit.varcorr["var1"].fillna("-")) == list(vc["var1"].fillna("-"))
    assert list(fit.varcorr["var2"].fillna("-")) == list(vc["var2"].fillna("-"))
    # variances at the boundary (~1e-16 in lme4) are compared absolutely
    assert_allclose(fit.varcorr["vcov"], vc["vcov"], rtol=1e-5, atol=1e-7)
    assert_allclose(fit.sigma, ref["sigma"], rtol=1e-6)
    assert_allclose(fit.loglik, ref["loglik"], rtol=0, atol=1e-6)
    assert_allclose(fit.aic, ref["aic"], rtol=0, atol=1e-6)
    assert_allclose(fit.bic, ref["bic"], rtol=0, atol=1e-6)
    assert fit.singular is singular
    assert fit.ngroups == ref["ngrps"]


@pytest.mark.shared
@pytest.mark.parametrize("data_key", ["truth", "complete_case"])
@pytest.mark.parametrize("model", list(TIGHT["formulas"]))
def test_against_tight_lme4_ml(popular, data_key, model):
    fit = _fit(TIGHT["formulas"][model], popular[data_key], reml=False)
    ref = TIGHT[data_key][model]
    _compare_tight(fit, ref, model in SINGULAR)
    assert_allclose(fit.deviance, ref["criterion"], atol=1e-6)


@pytest.mark.shared
@pytest.mark.parametrize("data_key", ["truth", "complete_case"])
@pytest.mark.parametrize("model", list(REML["formulas"]))
def test_against_tight_lme4_reml(popular, data_key, model):
    fit = _fit(REML["formulas"][model], popular[data_key], reml=True)
    ref = REML[data_key][model]
    _compare_tight(fit, ref, model in SINGULAR)
    assert_allclose(fit.reml_criterion, ref["criterion"], atol=1e-6)   # REMLcrit(fit)


@pytest.mark.shared
@pytest.mark.parametrize("reml", [False, True])
@pytest.mark.parametrize("model", list(TIGHT["formulas"]))
def test_profiled_deviance_equals_lme4_devfun(popular, reml, model):
    # R: devfun <- lmer(f, data, REML = reml, devFunOnly = TRUE); devfun(theta)
    ref = (REML if reml else TIGHT)["truth"][model]["devfun_at"]
    mf = model_frame(TIGHT["formulas"][model], popular["truth"])
    dev = LmerModel.from_frame(mf).deviance(np.atleast_1d(ref["theta"]), mf.y, reml=reml)
    assert_allclose(dev, ref["value"], rtol=1e-12, atol=1e-9)


@pytest.mark.shared
@pytest.mark.parametrize("reml", [False, True])
@pytest.mark.parametrize("model", ["random_slope", "two_terms", "crossed", "three_effects"])
def test_analytic_gradient_matches_finite_differences(popular, reml, model):
    mf = model_frame(TIGHT["formulas"][model], popular["complete_case"])
    mod = LmerModel.from_frame(mf)
    rng = np.random.default_rng(3)
    theta = mod.theta0 + 0.3 * rng.random(mod.ntheta)
    g = mod.deviance_gradient(theta, mf.y, reml=reml)
    h = 1e-5
    fd = np.array([(mod.deviance(theta + h * e, mf.y, reml=reml)
                    - mod.deviance(theta - h * e, mf.y, reml=reml)) / (2 * h)
                   for e in np.eye(mod.ntheta)])
    assert_allclose(g, fd, rtol=1e-6, atol=1e-5)


@pytest.mark.shared
def test_ranef_condvar_fitted_vcov_tidy(popular):
    # R: ranef(m, condVar = TRUE); attr(, "postVar"); fitted(m); vcov(m); tidy(m, conf.int = TRUE)
    ref = TIGHT["truth"]["random_slope"]
    fit = _fit(TUTORIAL["random_slope"], popular["truth"], reml=False)
    re = fit.ranef["cluster_id"]
    assert list(re.columns) == ["(Intercept)", "extraversion_ij"]
    assert_allclose(re.to_numpy()[:5], ref["ranef_first5"], rtol=1e-5, atol=1e-7)
    assert_allclose(fit.cond_cov["cluster_id"][0], ref["condvar_first"], rtol=1e-5)
    assert_allclose(fit.fitted[:5], ref["fitted_first5"], rtol=1e-8)
    assert_allclose(fit.residuals, fit.y - fit.fitted)
    assert_allclose(fit.vcov.to_numpy(), ref["vcov"], rtol=1e-5)
    assert_allclose(fit.theta, ref["theta"], rtol=1e-5)
    tidy = fit.tidy(conf_int=True)
    rt = pd.DataFrame(ref["tidy"])
    assert list(tidy.columns) == ["effect", "group", "term", "estimate", "std_error",
                                  "statistic", "conf_low", "conf_high"]
    assert list(tidy["term"]) == list(rt["term"])
    assert list(tidy["effect"]) == list(rt["effect"])
    assert list(tidy["group"].fillna("-")) == list(rt["group"].fillna("-"))
    assert "sd__(Intercept)" in set(tidy["term"]) and "sd__Observation" in set(tidy["term"])
    assert "cor__(Intercept).extraversion_ij" in set(tidy["term"])
    for col, rcol in [("estimate", "estimate"), ("std_error", "std.error"),
                      ("statistic", "statistic"), ("conf_low", "conf.low"),
                      ("conf_high", "conf.high")]:
        assert_allclose(tidy[col].to_numpy(float), rt[rcol].to_numpy(float), rtol=1e-5,
                        equal_nan=True)


@pytest.mark.shared
def test_listwise_deletion_reports_dropped_rows(popular):
    fit = _fit(TUTORIAL["predictors"], popular["complete_case"], reml=False)
    assert fit.nobs == 1486 and fit.n_dropped == 2000 - 1486


@pytest.mark.shared
def test_loglik_at_estimates_equals_ml_loglik(popular):
    fit = _fit(TUTORIAL["random_slope"], popular["truth"], reml=False)
    ll = loglik_at(TUTORIAL["random_slope"], popular["truth"], beta=fit.fixef,
                   theta=fit.theta, sigma=fit.sigma)
    assert_allclose(ll, fit.loglik, rtol=1e-10)
    covs = [t.cov for t in fit.covariance_terms()]
    ll2 = loglik_at(TUTORIAL["random_slope"], popular["truth"], beta=fit.fixef, covs=covs,
                    sigma=fit.sigma)
    assert_allclose(ll2, fit.loglik, rtol=1e-10)
    # the fit's own method, with the pooling engineer's argument names
    cov = {t.group: pd.DataFrame(t.cov, index=t.names, columns=t.names)
           for t in fit.covariance_terms()}
    assert_allclose(fit.loglik_at(fixef=fit.fixef, covariances=cov, sigma2=fit.sigma**2),
                    fit.loglik, rtol=1e-10)
    # away from the estimates the likelihood is lower
    assert loglik_at(TUTORIAL["random_slope"], popular["truth"], beta=fit.fixef * 1.01,
                     theta=fit.theta, sigma=fit.sigma) < fit.loglik


def test_loglik_at_equals_dense_gaussian_density():
    rng = np.random.default_rng(5)
    n, J = 40, 8
    g = np.repeat(np.arange(J), n // J)
    x = rng.normal(size=n)
    X = np.column_stack([np.ones(n), x])
    Z = X.copy()
    y = rng.normal(size=n)
    mod = LmerModel.from_arrays(X, Z, g)
    beta, theta, sigma = np.array([0.2, -0.1]), np.array([0.8, 0.3, 0.5]), 1.3
    Lam = mod.lam(theta)
    Zfull = np.zeros((n, 2 * J))
    for j in range(J):
        Zfull[g == j, 2 * j:2 * j + 2] = Z[g == j]
    Lbig = np.kron(np.eye(J), Lam)
    V = sigma**2 * (Zfull @ Lbig @ Lbig.T @ Zfull.T + np.eye(n))
    from scipy.stats import multivariate_normal
    expected = multivariate_normal(mean=X @ beta, cov=V).logpdf(y)
    assert_allclose(mod.loglik_at(y, beta, theta, sigma), expected, rtol=1e-10)


def test_from_arrays_refit_matches_formula_path():
    rng = np.random.default_rng(11)
    J, m = 30, 8
    g = np.repeat(np.arange(J), m)
    x = rng.normal(size=J * m)
    b = rng.normal(size=(J, 2)) * [0.8, 0.3]
    y = 1 + 0.5 * x + b[g, 0] + b[g, 1] * x + rng.normal(size=J * m)
    df = pd.DataFrame({"y": y, "x": x, "g": g})
    fit = lmer("y ~ x + (1 + x | g)", df, reml=True)
    X = np.column_stack([np.ones_like(x), x])
    model = LmerModel.from_arrays(X, X, g, x_names=["(Intercept)", "x"])
    fit2 = model.fit(y, reml=True)
    assert_allclose(fit2.beta, fit.beta, rtol=1e-8)
    assert_allclose(fit2.theta, fit.theta, rtol=1e-6)
    # the same structure refitted to a new response (imputation loop), warm start
    y2 = y + rng.normal(size=y.size) * 0.1
    fit3 = model.fit(y2, reml=True, theta0=fit2.theta)
    fresh = lmer("y ~ x + (1 + x | g)", df.assign(y=y2), reml=True)
    assert_allclose(fit3.beta, fresh.beta, rtol=1e-7)
    assert fit3.cond_cov["group"].shape == (J, 2, 2)
    assert fit3.b[0].shape == (J, 2)


def test_singular_fit_warns():
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"y": rng.normal(size=60), "g": np.repeat(np.arange(12), 5)})
    # no between-cluster variance in pure noise with this seed -> boundary fit
    with pytest.warns(SingularFitWarning, match="boundary \\(singular\\) fit"):
        fit = lmer("y ~ (1 | g)", df, reml=False)
    assert fit.singular and fit.theta[0] < 1e-4


def test_warning_classes_are_filterable():
    assert issubclass(ConvergenceWarning, UserWarning)
    assert issubclass(SingularFitWarning, UserWarning)


@pytest.fixture
def toy():
    rng = np.random.default_rng(4)
    n = 50
    return pd.DataFrame({"y": rng.normal(size=n), "x": rng.normal(size=n),
                         "g": np.repeat(np.arange(10), 5), "s": ["a"] * n, "one": 1})


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("y ~ x + (1 | nothere)", "'nothere'"),
        ("y ~ x + (1 | one)", "grouping factor 'one' has 1 level"),
        ("s ~ x + (1 | g)", "response 's' is not numeric"),
        ("~ x + (1 | g)", "no response"),
        ("y ~ x", "no random-effects terms"),
    ],
)
def test_bad_input(toy, formula, message):
    with pytest.raises(ValueError, match=None) as info:
        lmer(formula, toy)
    assert message in str(info.value)


def test_empty_after_na_removal(toy):
    with pytest.raises(ValueError, match="no rows left"):
        lmer("y ~ x + (1 | g)", toy.assign(x=np.nan))


def test_bfgs_minimises_rosenbrock():
    from mlmice.mixed.optim import bfgs

    def rosen(x):
        f = 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2
        g = np.array([-400 * x[0] * (x[1] - x[0] ** 2) - 2 * (1 - x[0]),
                      200 * (x[1] - x[0] ** 2)])
        return f, g

    res = bfgs(rosen, [-1.2, 1.0], gtol=1e-10)
    assert res.success
    assert_allclose(res.x, [1.0, 1.0], atol=1e-8)


def test_statsmodels_mixedlm_as_second_oracle():
    # statsmodels MixedLM (ML) on a small simulated random-slope model: same
    # optimum, so the same fixed effects, variance components and log-likelihood
    # (its standard errors follow another definition and are not compared)
    smf = pytest.importorskip("statsmodels.formula.api")
    rng = np.random.default_rng(8)
    J, m = 25, 8
    g = np.repeat(np.arange(J), m)
    x = rng.normal(size=J * m)
    b = rng.multivariate_normal([0, 0], [[0.5, 0.1], [0.1, 0.2]], size=J)
    y = 1 + 0.5 * x + b[g, 0] + b[g, 1] * x + rng.normal(size=J * m)
    df = pd.DataFrame({"y": y, "x": x, "g": g})
    fit = lmer("y ~ x + (1 + x | g)", df, reml=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sm = smf.mixedlm("y ~ x", df, groups=df["g"], re_formula="~x").fit(reml=False)
    assert fit.loglik >= sm.llf - 1e-6
    assert_allclose(fit.loglik, sm.llf, atol=1e-4)
    assert_allclose(fit.beta, sm.fe_params.to_numpy(), rtol=1e-3)
    assert_allclose(fit.covariance_terms()[0].cov, sm.cov_re.to_numpy(), rtol=1e-2, atol=1e-3)
    assert_allclose(fit.sigma**2, sm.scale, rtol=1e-3)


def test_convergence_check_messages():
    from mlmice.mixed.results import convergence_messages

    H = np.array([[4.0, 0.0], [0.0, 1.0]])
    assert convergence_messages(np.array([1e-6, 1e-6]), H) == []
    msgs = convergence_messages(np.array([0.5, 1e-6]), H)
    assert msgs and msgs[0].startswith("Model failed to converge with max|grad| = 0.25")
    msgs = convergence_messages(np.zeros(2), np.array([[1.0, 0.0], [0.0, -1.0]]))
    assert any("negative eigenvalues" in m for m in msgs)


def test_no_fixed_effects_reml_equals_ml():
    # with p = 0 the REML criterion is the ML deviance
    rng = np.random.default_rng(6)
    g = np.repeat(np.arange(10), 6)
    df = pd.DataFrame({"y": rng.normal(size=60) + rng.normal(size=10)[g], "g": g})
    ml = lmer("y ~ 0 + (1 | g)", df, reml=False)
    reml = lmer("y ~ 0 + (1 | g)", df, reml=True)
    assert ml.fixef.empty and ml.vcov.shape == (0, 0)
    assert_allclose(reml.loglik, ml.loglik, rtol=1e-12)
    assert_allclose(reml.theta, ml.theta, rtol=1e-6)


@pytest.mark.parametrize("theta0", [None, [0.0]])
def test_random_intercept_reaches_the_one_dimensional_optimum(theta0):
    # theta_11 = 0 is a stationary point of the sign-symmetric deviance; a start
    # there (or a first step landing there) must not end the optimisation
    from scipy.optimize import minimize_scalar

    rng = np.random.default_rng(24)
    J, m = 38, 14
    g = np.repeat(np.arange(J), m)
    x = rng.normal(size=J * m)
    y = 0.5 * x + 0.3 * rng.normal(size=J)[g] + rng.normal(size=J * m)
    X = np.column_stack([np.ones_like(x), x])
    model = LmerModel.from_arrays(X, np.ones((J * m, 1)), g)
    fit = model.fit(y, reml=False, theta0=theta0)
    best = minimize_scalar(lambda t: model.deviance([t], y, reml=False), bounds=(0, 5),
                           method="bounded", options={"xatol": 1e-10})
    assert best.x > 0.1
    assert_allclose(fit.theta[0], best.x, rtol=1e-5)
    assert fit.deviance <= best.fun + 1e-9


@pytest.mark.shared
def test_factor_gender_gets_r_name_and_same_fit(shared_data, popular):
    # popular.RData stores gender as a factor boy/girl: R's coefficient is gender_ijgirl
    pyreadr = pytest.importorskip("pyreadr")
    raw = pyreadr.read_r(str(shared_data / "popular.RData"))["popular"]
    f = "popularity_ij ~ gender_ij + extraversion_ij + (1 | cluster_id)"
    fac = lmer(f, raw, reml=False)
    num = lmer(f, popular["truth"], reml=False)
    assert list(fac.fixef.index) == ["(Intercept)", "gender_ijgirl", "extraversion_ij"]
    assert_allclose(fac.fixef.to_numpy(), num.fixef.to_numpy(), rtol=1e-10)
    assert_allclose(fac.loglik, num.loglik, rtol=1e-12)


def test_reml_must_be_bool(toy):
    with pytest.raises(TypeError, match="reml must be True or False"):
        lmer("y ~ x + (1 | g)", toy, reml="FALSE")


NESTED = json.loads((HERE / "r" / "lme4_nested.json").read_text())


@pytest.mark.parametrize("criterion", ["ml", "reml"])
@pytest.mark.parametrize("model", list(NESTED["formulas"]))
def test_several_grouping_factors_against_lme4(criterion, model):
    # R (tests/r/lme4_nested.R): lmer(y ~ x + (1 | school) + (1 | school:class), d,
    # REML = ..., control = <tight nloptwrap>); lme4 puts school:class (120 levels) first
    data = pd.read_csv(HERE / "r" / "lme4_nested.csv")
    ref = NESTED[criterion][model]
    fit = lmer(NESTED["formulas"][model], data, reml=criterion == "reml")
    assert fit.nobs == ref["n"] and fit.n_dropped == len(data) - ref["n"]
    assert_allclose(fit.fixef.to_numpy(), list(ref["fixef"].values()), rtol=1e-6)
    assert_allclose(fit.se.to_numpy(), list(ref["se"].values()), rtol=1e-6)
    vc = pd.DataFrame(ref["varcomp"])
    assert list(fit.varcorr["grp"]) == list(vc["grp"])
    assert_allclose(fit.varcorr["vcov"], vc["vcov"], rtol=1e-5)
    assert_allclose(fit.theta, ref["theta"], rtol=1e-5)
    assert_allclose(fit.loglik, ref["loglik"], atol=1e-6)
    assert fit.ngroups == ref["ngrps"]
    # R: ranef(m, condVar = TRUE): first three levels; postVar of the second level
    for grp, modes in ref["ranef"].items():
        assert_allclose(fit.ranef[grp].to_numpy()[:3], modes, rtol=1e-4, atol=1e-7)
        cv = np.atleast_2d(ref["condvar"][grp])
        assert_allclose(fit.cond_cov[grp][1], cv, rtol=1e-4, atol=1e-9)


def test_degenerate_responses_get_clear_errors():
    g = np.repeat(np.arange(5), 4)
    df = pd.DataFrame({"y": np.ones(20), "x": np.arange(20.0), "g": g})
    with pytest.raises(ValueError, match="zero residual variance"):
        lmer("y ~ x + (1 | g)", df)
    # constant within clusters: as lme4, a degenerate fit (sigma ~ 0) with warnings
    with pytest.warns(ConvergenceWarning):
        fit = lmer("y ~ (1 | g)", df.assign(y=np.repeat([1.0, 2, 3, 4, 5], 4)))
    assert not fit.converged and fit.sigma < 1e-6


@pytest.mark.parametrize("reml", [False, True])
@pytest.mark.parametrize("formula", [
    "y ~ x + (1 | school) + (1 | school:class)",
    "y ~ x + (1 + x | school) + (1 | school:class)",
    "y ~ 0 + (1 + x | school:class) + (1 | school)",
])
def test_schur_evaluation_equals_dense(formula, reml):
    # several grouping factors: the Schur-complement evaluation against the dense one
    data = pd.read_csv(HERE / "r" / "lme4_nested.csv")
    mf = model_frame(formula, data)
    mod = LmerModel.from_frame(mf)
    assert mod.schur
    yp = mod._y_parts(mf.y)
    theta = mod.theta0 + np.random.default_rng(1).random(mod.ntheta) * 0.5
    a = mod._evaluate_schur(theta, yp, reml, grad=True, full=True)
    mod.schur = False
    b = mod._evaluate(theta, yp, reml, grad=True, full=True)
    assert_allclose(a.deviance, b.deviance, rtol=1e-12)
    assert_allclose(a.grad, b.grad, rtol=1e-9, atol=1e-9)
    assert_allclose(a.beta, b.beta, rtol=1e-10, atol=1e-12)
    assert_allclose(a.u, b.u, rtol=1e-9, atol=1e-12)
    assert_allclose(a.sinv, b.sinv, rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("formula", [
    "y ~ x + (1 + x | school) + (1 | school:class)",
    "y ~ x + (1 | school:class) + (0 + x | school) + (1 | school)",
])
def test_schur_building_blocks_equal_dense(formula):
    data = pd.read_csv(HERE / "r" / "lme4_nested.csv")
    mf = model_frame(formula, data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        fit = LmerModel.from_frame(mf).fit(mf.y, reml=False)
    mod = fit.model
    idx = fit._factor_index()
    beta = fit.beta * 1.05
    values = {}
    for schur in (True, False):
        mod.schur = schur
        values[schur] = (
            {g: mod.ainv_blocks(fit.theta, i) for g, i in idx.items()},
            mod.loglik_at(mf.y, beta, fit.theta, fit.sigma * 1.1),
            mod.lam_times(fit.theta, fit.u),
        )
    mod.schur = True
    for g in idx:
        assert_allclose(values[True][0][g], values[False][0][g], rtol=1e-9, atol=1e-13)
    assert_allclose(values[True][1], values[False][1], rtol=1e-12)
    assert_allclose(values[True][2], values[False][2], rtol=1e-12, atol=1e-15)


def test_loglik_at_argument_errors_name_the_argument(toy):
    fit = _fit("y ~ x + (1 | g)", toy, reml=False)
    partial = pd.Series({"x": 1.0})
    with pytest.raises(ValueError, match=r"fixef has no value for \['\(Intercept\)'\]"):
        fit.loglik_at(fixef=partial, theta=fit.theta, sigma2=1.0)
    with pytest.raises(ValueError, match=r"give fixef= \(or beta=\)"):
        fit.loglik_at(theta=fit.theta, sigma=1.0)
    with pytest.raises(ValueError, match=r"give sigma2= \(or sigma=\)"):
        fit.loglik_at(fixef=fit.fixef, theta=fit.theta)
    with pytest.raises(ValueError, match=r"beta has no value for \['\(Intercept\)'\]"):
        loglik_at("y ~ x + (1 | g)", toy, beta=partial, theta=fit.theta, sigma=1.0)
    # a Series is aligned by name: reversed order, same value
    assert fit.loglik_at(fixef=fit.fixef.iloc[::-1], theta=fit.theta, sigma=fit.sigma) == (
        fit.loglik_at(beta=fit.beta, theta=fit.theta, sigma=fit.sigma))


def test_more_fixed_effects_than_rows_names_formula_and_terms():
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"y": rng.normal(size=12), "g": np.repeat([1, 2, 3], 4),
                       "pupil": [f"p{i}" for i in range(12)]})
    with pytest.raises(ValueError, match=r"12 observations for 12 fixed effects in "
                                         r"'y ~ pupil \+ \(1 \| g\)' \(\(Intercept\), pupil"
                                         r".*one dummy per value"):
        lmer("y ~ pupil + (1 | g)", data=df)

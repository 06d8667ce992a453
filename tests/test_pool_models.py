"""D1, D2 and D3 as mitml::testModels and mice::D1/D2 compute them.

Reference: tests/r/pool_tests.json, written by tests/r/pool_tests.R (R 4.2.2,
mice 3.15.0, lme4 1.1-31, mitml 0.4.4) from lm / lmer (REML = FALSE) fits of
the tutorial's models on the five data sets completed by R mice
(../shared/reference/mice_completed_long.csv). It keeps each R fit's inputs
(coefficients, full vcov, VarCorr rows, logLik), so these tests feed *R's
fits* to our tests: the statistics must then agree to rounding (1e-9
relative; the JSON keeps 15 significant digits). Fits by mlmice.lmer differ
from lme4's by lme4's optimizer tolerance; tests/test_pool_lmer.py covers
that end to end.

mice::D3 refits every model with the pooled fixed effects as an offset
(re-estimating an intercept and the variance parameters); our refits of the
random-slope models reach a deviance up to 7e-5 lower than lme4's (lme4's
optimizer stops short), which moves mice's D3 statistics by up to 3e-4.
"""

from __future__ import annotations

import json
import types
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from mlmice.design import model_frame
from mlmice.pooling import TestModels, test_models
from mlmice.pooling.loglik import lm_loglik, lmm_loglik
from mlmice.pooling.params import fit_loglik_at, likelihood_parameters, pooled_likelihood_parameters

REF_PATH = Path(__file__).parent / "r" / "pool_tests.json"
RTOL = 1e-9
PAIRS = [("lm_extraversion", "null_single"), ("intercept_only", "null_single"),
         ("predictors", "intercept_only"), ("random_slope", "predictors"),
         ("interaction", "random_slope"), ("interaction", "predictors")]


@pytest.fixture(scope="module")
def ref():
    with open(REF_PATH) as fh:
        return json.load(fh)


def _varcorr(rows) -> pd.DataFrame:
    rows = {k: (v if isinstance(v, list) else [v]) for k, v in rows.items()}
    return pd.DataFrame(rows)


def _r_fits(ref, name, completed=None):
    """Duck-typed fits carrying R's own estimates (and, with data, a model frame)."""
    formula = ref["formulas"][name]
    out = []
    for i, p in enumerate(ref["per_imputation"][name]):
        fixef = pd.Series(p["coef"], dtype=float)
        vcov = pd.DataFrame(np.asarray(p["vcov"], dtype=float).reshape(len(fixef), -1),
                            index=fixef.index, columns=fixef.index)
        fit = types.SimpleNamespace(fixef=fixef, vcov=vcov, varcorr=_varcorr(p["varcorr"]),
                                    loglik=p["loglik"], df_residual=p["df_residual"],
                                    nobs=p["nobs"], formula=formula)
        if completed is not None:
            fit.frame = model_frame(formula, completed[i])
        out.append(fit)
    return out


def _comparison(ref, model, null):
    return next(c for c in ref["comparisons"]
                if c["model"] == model and c["null_model"] == null)


def _check(res: TestModels, r: dict, rtol=RTOL):
    t = res.test.iloc[0]
    assert t["df1"] == r["df1"]
    assert_allclose([t["F.value"], t["df2"], t["RIV"]], [r["F"], r["df2"], r["RIV"]], rtol=rtol)
    # F tail probabilities: relative error ~ |F dlog p/dF| x rel. error of F
    assert_allclose(t["P(>F)"], r["p"], rtol=max(rtol, 1e-7))


@pytest.mark.parametrize("model,null", PAIRS)
def test_d1_d2_wald_match_mitml_and_mice(ref, model, null):
    c = _comparison(ref, model, null)
    full, reduced = _r_fits(ref, model), _r_fits(ref, null)
    if "error" in c["mitml"]["D1"]:
        # same fixed effects (random part differs): R stops, so do we
        with pytest.raises(ValueError, match="same fixed effects"):
            test_models(full, reduced, method="D1")
        return
    # R: testModels(fit1, fit0, method = "D1")
    _check(test_models(full, reduced, method="D1"), c["mitml"]["D1"])
    # R: testModels(fit1, fit0, method = "D1", df.com = df.residual(fit1[[1]]))
    dfc = c["mitml"]["D1_dfcom"]
    _check(test_models(full, reduced, method="D1", df_com=dfc["df_com"]), dfc)
    # R: mice::D1(fit1, fit0): mitml's D1 with df.com = the fit's residual df
    _check(test_models(full, reduced, method="D1", df_com=full[0].df_residual),
           c["mice"]["D1"])
    _check(test_models(full, reduced, method="D1", convention="mice"), c["mice"]["D1"])
    # R: testModels(fit1, fit0, method = "D2") and mice::D2(fit1, fit0)
    res = test_models(full, reduced, method="D2")
    _check(res, c["mitml"]["D2"])
    _check(res, c["mice"]["D2"])


@pytest.mark.parametrize("model,null", PAIRS)
def test_d2_likelihood_matches_mitml(ref, model, null):
    c = _comparison(ref, model, null)
    # R: testModels(fit1, fit0, method = "D2", use = "likelihood")
    res = test_models(_r_fits(ref, model), _r_fits(ref, null), method="D2", use="likelihood")
    _check(res, c["mitml"]["D2_likelihood"])
    assert res.loglik.shape == (5, 3)


@pytest.mark.parametrize("name", ["null_single", "lm_extraversion", "intercept_only",
                                  "predictors", "random_slope", "interaction"])
def test_loglik_at_pooled_parameters_matches_mitml(ref, mice_completed, name):
    """Our marginal log-likelihood at mitml's pooled parameters equals lme4's devfun2.

    R: mitml:::.evaluateUserLogLik(fits)$LL.pooled (lme4::devfun2 on the ML fit
    with the pooled fixed effects as offset; .logLik_lm for lm).
    """
    fits = _r_fits(ref, name, mice_completed)
    pooled = pooled_likelihood_parameters(
        [likelihood_parameters(f, imputation=i) for i, f in enumerate(fits, 1)])
    got = [fit_loglik_at(f, pooled, imputation=i) for i, f in enumerate(fits, 1)]
    assert_allclose(got, ref["user_loglik"][name]["LL_pooled"], rtol=1e-11)
    # at each fit's own estimates the evaluator gives the fit's own logLik
    # (lme4's optimum is what it is; the evaluation is exact)
    own = [fit_loglik_at(f, likelihood_parameters(f), imputation=1) for f in fits]
    assert_allclose(own, ref["user_loglik"][name]["LL"], rtol=1e-11)


@pytest.mark.parametrize("model,null", PAIRS)
def test_d3_matches_mitml(ref, mice_completed, model, null):
    c = _comparison(ref, model, null)
    # R: testModels(fit1, fit0, method = "D3")
    res = test_models(_r_fits(ref, model, mice_completed), _r_fits(ref, null, mice_completed),
                      method="D3")
    _check(res, c["mitml"]["D3"])
    assert list(res.loglik.columns) == ["imputation", "model", "null_model", "model_pooled",
                                        "null_model_pooled"]


@pytest.mark.parametrize("model,null", PAIRS)
def test_d3_mice_convention_matches_mice(ref, mice_completed, model, null):
    c = _comparison(ref, model, null)
    r = c["mice"]["D3"]
    full = _r_fits(ref, model, mice_completed)
    reduced = _r_fits(ref, null, mice_completed)
    if r["F"] is None:
        # same fixed effects: mice's k = 0 and R returns NaN; we say why
        with pytest.raises(ValueError, match="counts fixed effects only"):
            test_models(full, reduced, method="D3", convention="mice")
        return
    # R: mice::D3(fit1, fit0)
    res = test_models(full, reduced, method="D3", convention="mice")
    random_slope = "random_slope" in (model, null) or model == "interaction"
    _check(res, r, rtol=5e-4 if random_slope else RTOL)
    dev = r["deviances"]
    assert_allclose(-2 * res.loglik["model"], dev["dev1.M"], rtol=1e-12)
    for ours, key in [(res.loglik["model_pooled"], "dev1.L"),
                      (res.loglik["null_model_pooled"], "dev0.L")]:
        # offset refits: our optimum is never worse than lme4's, at most 1e-7 apart
        assert_allclose(-2 * ours, dev[key], rtol=1e-7)
        assert (-2 * ours <= np.asarray(dev[key]) + 1e-6).all()
    assert "mice::D3" in repr(res)


def test_d3_negative_riv_and_positive_option(ref, mice_completed):
    # random slope vs random intercept: RIV < 0 (df2 = 8349 in R); ariv="positive" floors it
    full = _r_fits(ref, "random_slope", mice_completed)
    null = _r_fits(ref, "predictors", mice_completed)
    res = test_models(full, null, method="D3")
    assert res.test["RIV"].iloc[0] < 0
    pos = test_models(full, null, method="D3", ariv="positive")
    assert pos.test["RIV"].iloc[0] == 0
    assert np.isinf(pos.test["df2"].iloc[0])


# ----------------------------------------------------------------- evaluator on its own

def test_lmm_loglik_equals_dense_normal_density():
    from scipy import stats

    rng = np.random.default_rng(3)
    n, J = 40, 6
    codes = rng.integers(0, J, size=n)
    codes[:J] = np.arange(J)
    x = rng.normal(size=n)
    X = np.column_stack([np.ones(n), x])
    Z = np.column_stack([np.ones(n), x])
    G = np.array([[1.0, 0.3], [0.3, 0.5]])
    y = rng.normal(size=n)
    beta = np.array([0.2, -0.4])
    sigma2 = 0.7
    blk = types.SimpleNamespace(Z=Z, codes=codes)
    V = sigma2 * np.eye(n)
    same = codes[:, None] == codes[None, :]
    V += (Z @ G @ Z.T) * same
    dense = stats.multivariate_normal(mean=X @ beta, cov=V).logpdf(y)
    assert lmm_loglik(y, X, beta, [blk], [G], sigma2) == pytest.approx(dense, rel=1e-12)
    # a singular G (zero slope variance) is fine
    G0 = np.array([[1.0, 0.0], [0.0, 0.0]])
    V0 = sigma2 * np.eye(n) + np.outer(np.ones(n), np.ones(n)) * same
    dense0 = stats.multivariate_normal(mean=X @ beta, cov=V0).logpdf(y)
    assert lmm_loglik(y, X, beta, [blk], [G0], sigma2) == pytest.approx(dense0, rel=1e-12)
    # crossed factors take the dense path
    codes2 = rng.integers(0, 4, size=n)
    blk2 = types.SimpleNamespace(Z=np.ones((n, 1)), codes=codes2)
    V2 = V + 0.4 * (codes2[:, None] == codes2[None, :])
    dense2 = stats.multivariate_normal(mean=X @ beta, cov=V2).logpdf(y)
    got2 = lmm_loglik(y, X, beta, [blk, blk2], [G, np.array([[0.4]])], sigma2)
    assert got2 == pytest.approx(dense2, rel=1e-12)
    # no random effects: the linear-model likelihood
    assert lmm_loglik(y, X, beta, [], [], sigma2) == pytest.approx(
        stats.norm(X @ beta, np.sqrt(sigma2)).logpdf(y).sum(), rel=1e-12)
    assert lm_loglik(y, X, beta, sigma2) == pytest.approx(
        stats.norm(X @ beta, np.sqrt(sigma2)).logpdf(y).sum(), rel=1e-12)


# ----------------------------------------------------------------- results and errors

def test_result_frame_and_repr(ref, tmp_path):
    res = test_models(_r_fits(ref, "interaction"), _r_fits(ref, "random_slope"), method="D1")
    frame = res.to_frame()
    assert list(frame.columns) == ["method", "use", "m", "df_com", "f_value", "df1", "df2",
                                   "p_value", "riv"]
    frame.to_parquet(tmp_path / "t.parquet")
    text = repr(res)
    assert "D1" in text and "extraversion_ij:experience_j" in text
    assert res.parameters == ["extraversion_ij:experience_j"]
    assert res.statistic == pytest.approx(frame["f_value"].iloc[0])
    assert 0 < res.p_value < 1


def test_bad_arguments(ref):
    full, null = _r_fits(ref, "interaction"), _r_fits(ref, "random_slope")
    with pytest.raises(ValueError, match="method == 'D4'"):
        test_models(full, null, method="D4")
    with pytest.raises(ValueError, match="use == 'lr'"):
        test_models(full, null, method="D2", use="lr")
    with pytest.raises(ValueError, match="model has 5 fits but null_model has 4"):
        test_models(full, null[:4])
    with pytest.raises(ValueError, match="m == 1"):
        test_models(full[:1], null[:1])
    with pytest.warns(UserWarning, match="df_com is only used by D1"):
        test_models(full, null, method="D2", df_com=100)
    with pytest.raises(ValueError, match="null_model must have fewer"):
        test_models(null, full, method="D3")
    with pytest.raises(ValueError, match="convention == 'R'"):
        test_models(full, null, convention="R")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        test_models(full, null, method="D1", df_com=1991)   # t = 4: df2 = 4, no warning


def test_d3_needs_a_way_to_evaluate_the_likelihood(ref):
    full, null = _r_fits(ref, "interaction"), _r_fits(ref, "random_slope")
    with pytest.raises(TypeError, match="cannot evaluate its log-likelihood"):
        test_models(full, null, method="D3")


# ----------------------------------------------------------------- extra parameters

@pytest.mark.parametrize("name", ["null_single", "intercept_only", "predictors", "random_slope",
                                  "interaction"])
def test_extra_pars_match_mitml(ref, name):
    # R: testEstimates(fits, extra.pars = TRUE)$extra.pars, same names in the same order
    from mlmice.pooling import test_estimates

    got = test_estimates(_r_fits(ref, name), extra_pars=True).extra_pars["Estimate"]
    want = pd.Series(ref["extra_pars"][name], dtype=float)
    assert list(got.index) == list(want.index)
    assert_allclose(got.to_numpy(), want.to_numpy(), rtol=RTOL)


def test_extra_pars_names_for_uncorrelated_and_several_factors():
    from mlmice.pooling.varcomp import misc_parameters

    vc = pd.DataFrame({"grp": ["g", "g", "g", "g", "g", "g", "h", "Residual"],
                       "var1": ["(Intercept)", "x", "z", "(Intercept)", "(Intercept)", "x",
                                "(Intercept)", None],
                       "var2": [None, None, None, "x", "z", "z", None, None],
                       "vcov": [1.0, 2.0, 3.0, 0.1, 0.2, 0.3, 0.5, 4.0]})
    got = misc_parameters(types.SimpleNamespace(varcorr=vc))
    assert list(got.index) == ["Intercept~~Intercept|g", "x~~x|g", "z~~z|g",
                               "Intercept~~x|g", "Intercept~~z|g", "x~~z|g",
                               "Intercept~~Intercept|h", "Residual~~Residual"]
    assert got["x~~z|g"] == 0.3     # no ICC with two grouping factors (as mitml)
    one = misc_parameters(types.SimpleNamespace(varcorr=vc[vc["grp"] != "h"]))
    assert one["ICC|g"] == pytest.approx(1.0 / 5.0)


def test_d3_refuses_models_without_residual_variance(ref):
    # a glmer-like fit: variance components but no Residual row
    fits = _r_fits(ref, "predictors")
    for f in fits:
        f.varcorr = f.varcorr[f.varcorr["grp"] != "Residual"].reset_index(drop=True)
    null = _r_fits(ref, "intercept_only")
    with pytest.raises(TypeError, match="Gaussian likelihoods only"):
        test_models(fits, null, method="D3")
    assert test_models(fits, null, method="D1").test["df1"].iloc[0] == 3


def test_likelihood_tests_need_the_same_rows(ref, mice_completed):
    full = _r_fits(ref, "predictors", mice_completed)
    null = _r_fits(ref, "intercept_only", mice_completed)
    null[2].nobs = 1990
    with pytest.raises(ValueError, match="imputation 3: model was fitted to 2000 rows but "
                                         "null_model to 1990"):
        test_models(full, null, method="D3")
    with pytest.raises(ValueError, match="imputation 3"):
        test_models(full, null, method="D2", use="likelihood")


def test_likelihood_tests_refuse_reml_fits(ref, mice_completed):
    full = _r_fits(ref, "predictors", mice_completed)
    null = _r_fits(ref, "intercept_only", mice_completed)
    full[1].reml = True                  # one REML fit among ML fits: not one analysis
    with pytest.raises(ValueError, match="reml: .not given. in imputation 1, True in imputation 2"):
        test_models(full, null, method="D1")
    for fit in full:
        fit.reml = True
    with pytest.raises(ValueError, match="imputation 1 is a REML fit"):
        test_models(full, null, method="D3")
    assert test_models(full, null, method="D1").test["df1"].iloc[0] == 3


def test_pooled_table_for_the_pipeline(ref, tmp_path):
    from mlmice.pooling import pooled_table

    fits = _r_fits(ref, "random_slope")
    table = pooled_table(fits)
    assert list(table.columns) == [
        "kind", "term", "m", "estimate", "ubar", "b", "t", "dfcom", "df", "riv", "lambda",
        "fmi", "std_error", "statistic", "p_value", "conf_low", "conf_high"]
    assert list(table["kind"]) == ["fixed"] * 4 + ["extra_par"] * 5
    extra = table[table["kind"] == "extra_par"].set_index("term")["estimate"]
    assert_allclose(extra.to_numpy(), list(ref["extra_pars"]["random_slope"].values()),
                    rtol=RTOL)
    assert table.loc[table["kind"] == "extra_par", "std_error"].isna().all()
    path = tmp_path / "pooled.parquet"
    table.to_parquet(path)
    pd.testing.assert_frame_equal(pd.read_parquet(path), table, check_dtype=False)
    with pytest.raises(ValueError, match="m == 1"):
        pooled_table(fits[:1])


def test_number_of_parameters_as_loglik_df(ref):
    from mlmice.pooling.params import n_parameters

    for name, want in [("null_single", 2), ("intercept_only", 3), ("random_slope", 8)]:
        assert n_parameters(_r_fits(ref, name)[0]) == want
        assert want == ref["per_imputation"][name][0]["df_loglik"]
    glmer_like = _r_fits(ref, "predictors")[0]
    glmer_like.varcorr = glmer_like.varcorr[glmer_like.varcorr["grp"] != "Residual"]
    assert n_parameters(glmer_like) == 5           # no sigma in a binomial GLMM
    glmer_like.df = 7                              # a fit's own count wins
    assert n_parameters(glmer_like) == 7


def test_wald_tests_refuse_non_nested_or_swapped_models():
    from mlmice import lm

    rng = np.random.default_rng(5)
    frames = [pd.DataFrame(rng.normal(size=(40, 4)), columns=["y", "a", "b", "c"])
              for _ in range(3)]
    big = [lm("y ~ a + b", data=d) for d in frames]
    small = [lm("y ~ a", data=d) for d in frames]
    other = [lm("y ~ c", data=d) for d in frames]
    assert test_models(big, small, method="D1").test.iloc[0]["df1"] == 1
    for method in ("D1", "D2"):
        with pytest.raises(ValueError, match="null_model has fixed effect.*b that model lacks.*"
                                             "swapped"):
            test_models(small, big, method=method)
        with pytest.raises(ValueError, match="null_model has fixed effect.*c that model lacks.*"
                                             "not nested"):
            test_models(big, other, method=method)

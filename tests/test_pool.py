"""Rubin's rules as mice::pool and mitml::testEstimates compute them.

Reference: ../shared/reference/pool_popular.json (R 4.2.2, mice 3.15.0,
mitml 0.4.4; pool_reference.R beside it): for the tutorial's five models on
five data sets completed by R mice, the per-imputation coefficients and
standard errors, and what

    summary(pool(fit), conf.int = TRUE)          # mice, with p$pooled
    testEstimates(as.mitml.result(fit), extra.pars = TRUE)   # mitml

report. Pooling the per-imputation numbers must reproduce every pooled
column. Tolerance 1e-8 relative: the JSON keeps 11 significant digits, and
the between variance b (a variance of numbers that agree to 2-3 digits)
inherits relative rounding errors of about 1e-9 from them (observed: up to
4e-9 in b, df, riv, lambda and fmi).
"""

from __future__ import annotations

import importlib
import math
import types
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

import mlmice
from mlmice.pooling import Pooled, pool, test_estimates
from mlmice.pooling.rubin import barnard_rubin_df, mitml_df

MODELS = ["null_single", "intercept_only", "predictors", "random_slope", "interaction"]
RTOL = 1e-8


@pytest.fixture(scope="module")
def reference(load_reference):
    return load_reference("pool_popular.json")["models"]


def _per_imputation(mod):
    est = [pd.Series(p["coef"], dtype=float) for p in mod["per_imputation"]]
    var = [pd.Series(p["se"], dtype=float) ** 2 for p in mod["per_imputation"]]
    return est, var


def _fake_fits(mod):
    """Duck-typed fits (diagonal vcov: the JSON keeps only standard errors)."""
    est, var = _per_imputation(mod)
    dfcom = mod["mice_pool"][0]["dfcom"]
    return [types.SimpleNamespace(fixef=e, vcov=pd.DataFrame(np.diag(v.to_numpy()),
                                                             index=v.index, columns=v.index),
                                  df_residual=dfcom)
            for e, v in zip(est, var, strict=True)]


@pytest.mark.parametrize("name", MODELS)
def test_pool_reproduces_mice(reference, name):
    mod = reference[name]
    # R: p <- pool(fit); s <- summary(p, conf.int = TRUE)
    got = pool(_fake_fits(mod)).to_frame()
    ref = pd.DataFrame(mod["mice_pool"])
    assert list(got["term"]) == list(ref["term"])
    assert (got["m"] == 5).all()
    for col in ["estimate", "ubar", "b", "t", "dfcom", "df", "riv", "lambda", "fmi"]:
        assert_allclose(got[col], ref[col], rtol=RTOL, err_msg=col)
    for col in ["std_error", "statistic", "conf_low", "conf_high"]:
        assert_allclose(got[col], ref[col.replace("_", ".")], rtol=RTOL, err_msg=col)
    # p-values: relative error = |t * dlog(p)/dt| * (relative error of t); with
    # t up to 160 and t's own rounding error ~1e-10 that is up to ~5e-8.
    assert_allclose(got["p_value"], ref["p.value"], rtol=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_pool_raw_estimates_equal_fits(reference, name):
    mod = reference[name]
    est, var = _per_imputation(mod)
    dfcom = mod["mice_pool"][0]["dfcom"]
    a = pool(estimates=est, covariances=var, dfcom=dfcom).to_frame()
    b = pool(_fake_fits(mod)).to_frame()
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("name", MODELS)
def test_test_estimates_reproduces_mitml(reference, name):
    mod = reference[name]
    # R: testEstimates(as.mitml.result(fit), extra.pars = TRUE)$estimates
    got = test_estimates(_fake_fits(mod), extra_pars=False)
    ref = pd.DataFrame(mod["mitml_estimates"]).set_index("term")
    assert list(got.estimates.index) == list(ref.index)
    for col in ["Estimate", "Std.Error", "t.value", "df", "RIV", "FMI"]:
        assert_allclose(got.estimates[col], ref[col], rtol=RTOL, err_msg=col)
    # mitml's 2 * (1 - pt(|t|, df)) is exact to ~1e-16 absolute only: it gives 0
    # below that, where our survival-function value is tiny but positive.
    p_ours, p_r = got.estimates["P(>|t|)"], ref["P(>|t|)"]
    assert_allclose(p_ours, p_r, rtol=1e-6, atol=1e-15)
    assert (p_ours[p_r == 0] < 1e-15).all()


def test_test_estimates_with_df_com_is_barnard_rubin(reference):
    # With df_com, mitml's df is mice's df (they differ only in mice's floor
    # lambda >= 1e-4, which no term here reaches).
    mod = reference["random_slope"]
    dfcom = mod["mice_pool"][0]["dfcom"]
    got = test_estimates(_fake_fits(mod), df_com=dfcom, extra_pars=False)
    ref = pd.DataFrame(mod["mice_pool"])
    assert_allclose(got.estimates["df"], ref["df"], rtol=RTOL)
    assert_allclose(got.estimates["FMI"], ref["fmi"], rtol=RTOL)


# ----------------------------------------------------------------- hand-computed example

def test_rubin_rules_by_hand():
    q = [pd.Series({"a": 1.0, "b": 0.5}), pd.Series({"a": 2.0, "b": 0.5}),
         pd.Series({"a": 3.0, "b": 0.8})]
    u = [pd.Series({"a": 0.5, "b": 0.01})] * 3
    p = pool(estimates=q, covariances=u, dfcom=20).pooled.set_index("term")
    m, b, ubar = 3, 1.0, 0.5                        # var(1, 2, 3) = 1
    t = ubar + (1 + 1 / m) * b                      # 1.8333
    lam = (1 + 1 / m) * b / t
    dfold = (m - 1) / lam**2
    dfobs = 21 / 23 * 20 * (1 - lam)
    df = dfold * dfobs / (dfold + dfobs)
    riv = (1 + 1 / m) * b / ubar
    assert p.loc["a", "estimate"] == pytest.approx(2.0)
    assert p.loc["a", "t"] == pytest.approx(t)
    assert p.loc["a", "df"] == pytest.approx(df)
    assert p.loc["a", "fmi"] == pytest.approx((riv + 2 / (df + 3)) / (riv + 1))
    s = pool(estimates=q, covariances=u, dfcom=20).summary().set_index("term")
    half = s.loc["a", "conf_high"] - 2.0
    from scipy import stats
    assert half == pytest.approx(stats.t.ppf(0.975, df) * math.sqrt(t))


def test_df_formulas_limits():
    # infinite dfcom: Rubin's (m - 1) / lambda^2 in both packages
    assert barnard_rubin_df(5, np.array([1.0]), np.array([2.4]), math.inf)[0] == \
        pytest.approx(4 / 0.5**2)
    assert mitml_df(5, np.array([1.0]), None)[0] == pytest.approx(4 * 2**2)
    # b = 0: mice floors lambda at 1e-4, mitml gives the observed-data df
    dfobs = 11 / 13 * 10
    assert barnard_rubin_df(5, np.array([0.0]), np.array([1.0]), 10.0)[0] == pytest.approx(
        1 / (1e-4**2 / 4 + 1 / (dfobs * (1 - 1e-4))))
    assert mitml_df(5, np.array([0.0]), 10.0)[0] == pytest.approx(dfobs)


# ----------------------------------------------------------------- results and outputs

def test_summary_and_frame_columns(reference, tmp_path):
    p = pool(_fake_fits(reference["predictors"]))
    assert isinstance(p, Pooled)
    assert list(p.summary(conf_int=True).columns) == [
        "term", "estimate", "std_error", "statistic", "df", "p_value", "conf_low", "conf_high"]
    assert list(p.summary(conf_int=False).columns) == [
        "term", "estimate", "std_error", "statistic", "df", "p_value"]
    assert list(p.summary(type="all").columns) == [
        "term", "m", "estimate", "std_error", "statistic", "df", "p_value", "conf_low",
        "conf_high", "riv", "lambda", "fmi", "ubar", "b", "t", "dfcom"]
    frame = p.to_frame()
    assert list(frame.columns) == [
        "term", "m", "estimate", "ubar", "b", "t", "dfcom", "df", "riv", "lambda", "fmi",
        "std_error", "statistic", "p_value", "conf_low", "conf_high"]
    path = tmp_path / "pooled.parquet"
    frame.to_parquet(path)
    pd.testing.assert_frame_equal(pd.read_parquet(path), frame, check_dtype=False)
    narrow = p.summary(conf_level=0.5)
    wide = p.summary(conf_level=0.99)
    assert (narrow["conf_high"] < wide["conf_high"]).all()
    text = repr(p)
    assert "m = 5" in text and "gender_ij" in text and "fmi" in text
    assert p.estimate["gender_ij"] == pytest.approx(frame.set_index("term").loc["gender_ij",
                                                                                 "estimate"])
    with pytest.raises(ValueError, match="conf_level == 1.5"):
        p.summary(conf_level=1.5)


def test_test_estimates_frame_and_repr(reference, tmp_path):
    te = test_estimates(_fake_fits(reference["random_slope"]), extra_pars=False)
    frame = te.to_frame()
    assert list(frame.columns) == ["term", "kind", "estimate", "std_error", "t_value", "df",
                                   "p_value", "riv", "fmi"]
    frame.to_parquet(tmp_path / "te.parquet")
    assert "Rubin (1987)" in repr(te)
    assert te.vcov is not None and te.vcov.shape == (4, 4)


def test_public_name_is_the_function(reference):
    fits = _fake_fits(reference["predictors"])
    # mlmice.pool is the function (lazy export from mlmice.pooling); no submodule shadows it
    importlib.import_module("mlmice.pooling")
    assert isinstance(mlmice.pool(fits), Pooled)
    assert callable(mlmice.test_estimates) and callable(mlmice.test_models)


def test_statsmodels_results_are_accepted():
    import statsmodels.api as sm

    rng = np.random.default_rng(1)
    fits = []
    for _ in range(4):
        x = rng.normal(size=50)
        y = 1 + 2 * x + rng.normal(size=50)
        fits.append(sm.OLS(y, sm.add_constant(x)).fit())
    p = pool(fits).pooled
    assert list(p["term"]) == ["const", "x1"]
    assert (p["dfcom"] == 48).all()


# ----------------------------------------------------------------- edge cases

def test_m_equal_one_warns_and_returns_the_fit(reference):
    fit = _fake_fits(reference["predictors"])[0]
    with pytest.warns(UserWarning, match="m = 1"):
        out = pool([fit])
    assert out is fit
    est, var = _per_imputation(reference["predictors"])
    with pytest.warns(UserWarning, match="m = 1"):
        p = pool(estimates=est[:1], covariances=var[:1], dfcom=100)
    frame = p.to_frame()
    assert frame["b"].isna().all() and frame["fmi"].isna().all()
    assert_allclose(frame["t"], var[0].to_numpy())
    assert (frame["df"] == 100).all()
    with pytest.raises(ValueError, match="m == 1"):
        test_estimates(estimates=est[:1], covariances=var[:1])


def test_zero_between_variance_warns():
    q = [pd.Series({"a": 1.0, "b": 2.0}), pd.Series({"a": 1.0, "b": 2.5})]
    u = [pd.Series({"a": 0.1, "b": 0.1})] * 2
    with pytest.warns(UserWarning, match=r"b = 0 for \['a'\]"):
        p = pool(estimates=q, covariances=u, dfcom=50).pooled.set_index("term")
    assert p.loc["a", "riv"] == 0 and p.loc["a", "lambda"] == 0
    assert np.isfinite(p.loc["a", "df"]) and p.loc["a", "df"] < 50
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        te = test_estimates(estimates=q, covariances=u, df_com=50)
    assert te.estimates.loc["a", "df"] == pytest.approx(51 / 53 * 50)
    assert te.estimates.loc["a", "FMI"] == pytest.approx(2 / (51 / 53 * 50 + 3))


def test_terms_differing_between_imputations_are_named():
    q = [pd.Series({"a": 1.0, "xgirl": 2.0}), pd.Series({"a": 1.1, "xgirl": 2.1}),
         pd.Series({"a": 1.2})]
    u = [pd.Series({"a": 0.1, "xgirl": 0.1})] * 2 + [pd.Series({"a": 0.1})]
    with pytest.raises(ValueError, match="'xgirl' of imputation 1 is missing from imputation 3"):
        pool(estimates=q, covariances=u)
    q[2] = pd.Series({"a": 1.2, "xboy": 0.3, "xgirl": 2.2})
    with pytest.raises(ValueError, match="'xboy' appears in imputation 3"):
        pool(estimates=q, covariances=u)


def test_fits_of_different_analyses_are_refused():
    """Rubin's rules pool one analysis: an lmer fit beside an lm fit, or REML beside ML,
    is an error naming what differs (pool took the df from the first fit silently)."""
    data = mlmice.simulate_popularity(n_clusters=20, cluster_size=10, seed=1).data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reml = mlmice.lmer("popularity_ij ~ gender_ij + (1 | cluster_id)", data=data)
        ml = mlmice.lmer("popularity_ij ~ gender_ij + (1|cluster_id)", data=data, reml=False)
        ols = mlmice.lm("popularity_ij ~ gender_ij", data=data)
    with pytest.raises(ValueError, match=r"model: 'LmerResult' in imputation 1, 'LmResult' "
                                         r"in imputation 2"):
        pool([reml, ols])
    with pytest.raises(ValueError, match="reml: True in imputation 1, False in imputation 3"):
        test_estimates([reml, reml, ml])
    with pytest.raises(ValueError, match="formula"):
        pool([ols, mlmice.lm("popularity_ij ~ gender_ij + extraversion_ij", data=data)])
    pooled = pool([reml, reml])          # the same analysis twice (spaces ignored) pools
    assert list(pooled.estimate.index) == ["(Intercept)", "gender_ij"]


def test_non_finite_standard_errors_are_named():
    q = [pd.Series({"a": 1.0, "b": 2.0}), pd.Series({"a": 1.1, "b": 2.1})]
    u = [pd.Series({"a": 0.1, "b": 0.1}), pd.Series({"a": 0.1, "b": np.nan})]
    with pytest.raises(ValueError, match="standard error of term 'b' in imputation 2"):
        pool(estimates=q, covariances=u)
    u[1] = pd.Series({"a": 0.1, "b": 0.2})
    q[0] = pd.Series({"a": np.inf, "b": 2.0})
    with pytest.raises(ValueError, match="estimate of term 'a' in imputation 1"):
        test_estimates(estimates=q, covariances=u)


def test_bad_arguments():
    with pytest.raises(TypeError, match="either fits or estimates"):
        pool()
    with pytest.raises(TypeError, match="fits must be a list"):
        pool(3)
    with pytest.raises(ValueError, match="fits is empty"):
        pool([])
    with pytest.raises(TypeError, match="neither '.fixef' nor '.params'"):
        pool([object(), object()])
    with pytest.raises(ValueError, match="estimates has 2 imputations but covariances has 1"):
        pool(estimates=[{"a": 1}, {"a": 2}], covariances=[{"a": 1}])
    with pytest.raises(TypeError, match="dfcom must be"):
        pool(estimates=[{"a": 1}, {"a": 2}], covariances=[{"a": 1}] * 2, dfcom="big")
    with pytest.raises(ValueError, match="df_com == -1"):
        test_estimates(estimates=[{"a": 1}, {"a": 2}], covariances=[{"a": 1}] * 2, df_com=-1)
    with pytest.raises(ValueError, match="covariance matrix of imputation 2 has shape"):
        pool(estimates=[[1.0, 2.0], [1.5, 2.5]], covariances=[np.eye(2), np.eye(3)])


def test_without_dfcom_mice_assumes_infinite_sample_with_a_warning():
    fits = [types.SimpleNamespace(fixef=pd.Series({"a": v}), vcov=np.array([[0.1]]))
            for v in (1.0, 1.3, 0.8)]
    with pytest.warns(UserWarning, match="infinite sample size"):
        p = pool(fits)
    assert math.isinf(p.dfcom)
    riv = (4 / 3) * np.var([1.0, 1.3, 0.8], ddof=1) / 0.1
    assert p.pooled["df"].iloc[0] == pytest.approx(2 * (1 + 1 / riv) ** 2)


def test_extra_pars_unavailable_warns_like_mitml():
    fits = [types.SimpleNamespace(fixef=pd.Series({"a": v}), vcov=np.array([[0.1]]))
            for v in (1.0, 1.3, 0.8)]
    with pytest.warns(UserWarning, match="no extra parameters"):
        te = test_estimates(fits, extra_pars=True)
    assert te.extra_pars is None
    assert list(te.to_frame()["kind"]) == ["estimate"]
    est = [pd.Series({"a": v}) for v in (1.0, 1.3, 0.8)]
    with pytest.warns(UserWarning, match="m = 1"):
        p = pool(estimates=est[:1], covariances=[{"a": 0.1}])
    assert "m = 1" in repr(p)


def test_terms_are_matched_by_name_not_position():
    # mice pools by term name; an imputation listing the terms in another order pools the same
    q = [pd.Series({"a": 1.0, "b": 2.0}), pd.Series({"b": 2.4, "a": 1.2})]
    u = [pd.Series({"a": 0.1, "b": 0.2}), pd.Series({"b": 0.2, "a": 0.1})]
    p = pool(estimates=q, covariances=u, dfcom=30).pooled.set_index("term")
    assert p.loc["a", "estimate"] == pytest.approx(1.1)
    assert p.loc["b", "estimate"] == pytest.approx(2.2)
    assert p.loc["a", "ubar"] == pytest.approx(0.1)
    fits = [types.SimpleNamespace(fixef=e, vcov=pd.DataFrame(np.diag(v), index=v.index,
                                                             columns=v.index), df_residual=30)
            for e, v in zip(q, u, strict=True)]
    pd.testing.assert_frame_equal(pool(fits).pooled, pool(estimates=q, covariances=u,
                                                           dfcom=30).pooled)
    # plain covariance arrays follow their own imputation's order of estimates
    cov = [np.array([[0.1, 0.01], [0.01, 0.2]]), np.array([[0.2, 0.01], [0.01, 0.1]])]
    got = pool(estimates=q, covariances=cov, dfcom=30).pooled.set_index("term")
    assert got.loc["a", "ubar"] == pytest.approx(0.1)
    assert got.loc["b", "ubar"] == pytest.approx(0.2)


def test_covariance_matrices_from_varcorr_rows():
    from mlmice.pooling.varcomp import covariance_matrices, misc_parameters

    vc = pd.DataFrame({"grp": ["g", "g", "g", "h", "Residual"],
                       "var1": ["(Intercept)", "x", "(Intercept)", "(Intercept)", None],
                       "var2": [None, None, "x", None, None],
                       "vcov": [2.0, 0.5, -0.3, 1.5, 4.0]})
    covs, residual = covariance_matrices(vc)
    assert residual == 4.0 and list(covs) == ["g", "h"]
    assert_allclose(covs["g"].to_numpy(), [[2.0, -0.3], [-0.3, 0.5]])
    assert list(covs["g"].index) == ["(Intercept)", "x"]
    fit = types.SimpleNamespace(varcorr=vc)
    assert misc_parameters(fit).to_dict() == {
        "Intercept~~Intercept|g": 2.0, "x~~x|g": 0.5, "Intercept~~x|g": -0.3,
        "Intercept~~Intercept|h": 1.5, "Residual~~Residual": 4.0}
    bad = vc.assign(var2=[None, None, "z", None, None])
    with pytest.raises(ValueError, match=r"covariance \(Intercept\)~~z of group 'g' names \['z'\]"):
        covariance_matrices(bad)

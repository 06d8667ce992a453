"""mlmice.lm (module mlmice.linear_model) against R's lm (and statsmodels OLS).

References: ../shared/reference/lme4_popular.json (``lm(popularity_ij ~ 1)``,
lme4_reference.R) and tests/r/lm_reference.json (tests/r/lm_reference.R).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from mlmice.linear_model import lm, ols

HERE = Path(__file__).resolve().parent
LM_REF = json.loads((HERE / "r" / "lm_reference.json").read_text())


@pytest.fixture(scope="module")
def popular(shared_data):
    pyreadr = pytest.importorskip("pyreadr")
    truth = pyreadr.read_r(str(shared_data / "popular.RData"))["popular"]
    cc = pyreadr.read_r(str(shared_data / "popular_MAR.RData"))["popular_MAR"]
    cc["gender_ij"] = cc["gender_ij"] - 1.0
    return {"truth": truth, "complete_case": cc}


@pytest.mark.shared
@pytest.mark.parametrize("data_key", ["truth", "complete_case"])
def test_null_model_against_r(popular, load_reference, data_key):
    # R: lm(popularity_ij ~ 1, data)
    ref = load_reference("lme4_popular.json")[data_key]["null_single"]
    fit = lm("popularity_ij ~ 1", popular[data_key])
    assert fit.nobs == ref["n"]
    assert_allclose(fit.fixef["(Intercept)"], ref["fixef"]["(Intercept)"], rtol=1e-10)
    assert_allclose(fit.se["(Intercept)"], ref["se"]["(Intercept)"], rtol=1e-9)
    assert_allclose(fit.residual_var, ref["residual_var"], rtol=1e-9)
    assert_allclose(fit.loglik, ref["loglik"], rtol=1e-11)
    assert fit.n_dropped == 2000 - ref["n"]
    assert fit.dfcom == ref["n"] - 1


@pytest.mark.shared
def test_factor_interaction_expression_against_r(popular):
    # R: lm(popularity_ij ~ gender_ij * extraversion_ij + I(extraversion_ij^2) + experience_j)
    fit = lm(LM_REF["formula"], popular["truth"])
    assert list(fit.fixef.index) == list(LM_REF["coef"])   # incl. gender_ijgirl
    assert_allclose(fit.fixef.to_numpy(), list(LM_REF["coef"].values()), rtol=1e-9)
    assert_allclose(fit.se.to_numpy(), list(LM_REF["se"].values()), rtol=1e-9)
    for attr in ["sigma", "loglik", "aic", "bic", "deviance"]:
        assert_allclose(getattr(fit, attr), LM_REF[attr], rtol=1e-10)
    assert fit.df_residual == LM_REF["df_residual"]
    tidy = fit.tidy(conf_int=True)
    rt = pd.DataFrame(LM_REF["tidy"])
    assert list(tidy["term"]) == list(rt["term"])
    for col, rcol in [("estimate", "estimate"), ("std_error", "std.error"),
                      ("statistic", "statistic"), ("p_value", "p.value"),
                      ("conf_low", "conf.low"), ("conf_high", "conf.high")]:
        assert_allclose(tidy[col].to_numpy(float), rt[rcol].to_numpy(float), rtol=1e-8,
                        atol=1e-300)
    assert (tidy["effect"] == "fixed").all()


def test_matches_statsmodels_ols():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(50), rng.normal(size=(50, 2))])
    y = X @ [1.0, 2.0, -1.0] + rng.normal(size=50)
    fit = ols(X, y)
    ref = sm.OLS(y, X).fit()
    assert_allclose(fit.beta, ref.params, rtol=1e-10)
    assert_allclose(fit.se.to_numpy(), ref.bse, rtol=1e-10)
    assert_allclose(fit.loglik, ref.llf, rtol=1e-12)
    assert_allclose(fit.aic, ref.aic + 2, rtol=1e-12)  # R also counts sigma


def test_bad_input():
    df = pd.DataFrame({"y": [1.0, 2.0, 3.0], "x": [1.0, 2.0, 4.0], "g": [1, 1, 2]})
    with pytest.raises(ValueError, match="use mlmice.lmer"):
        lm("y ~ x + (1 | g)", df)
    with pytest.raises(ValueError, match="'z'"):
        lm("y ~ z", df)
    with pytest.raises(ValueError, match="no residual degrees of freedom"):
        ols(np.ones((1, 1)), np.ones(1))


def test_perfect_fit_warns_as_r_does():
    """R's summary.lm warns "essentially perfect fit"; the SEs are rounding error then."""
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"x": rng.normal(size=40), "c": 5.0})
    df["y"] = 2.0 * df["x"] + 1.0
    for formula in ("y ~ x", "c ~ x"):
        with pytest.warns(UserWarning, match="essentially perfect fit"):
            lm(formula, df)
    df["y"] += rng.normal(scale=1e-6, size=40)        # tiny, but real, residual variance
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lm("y ~ x", df)


def test_a_single_factor_name_is_one_factor():
    df = pd.DataFrame({"y": [1.0, 2.0, 3.0, 5.0, 4.0], "g": [1, 2, 3, 1, 2]})
    assert list(lm("y ~ g", df, factors="g").fixef.index) == ["(Intercept)", "g2", "g3"]


def test_loglik_at_estimates_is_loglik():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"y": rng.normal(size=30), "x": rng.normal(size=30)})
    fit = lm("y ~ x", df)
    ml_sigma2 = fit.rss / fit.nobs
    assert_allclose(fit.loglik_at(fixef=fit.fixef, covariances={}, sigma2=ml_sigma2),
                    fit.loglik, rtol=1e-12)
    assert fit.loglik_at(fixef=fit.fixef * 1.1, sigma2=ml_sigma2) < fit.loglik


def test_loglik_at_argument_errors_name_the_argument():
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"y": rng.normal(size=30), "x": rng.normal(size=30)})
    fit = lm("y ~ x", df)
    with pytest.raises(ValueError, match=r"fixef has no value for \['\(Intercept\)'\]"):
        fit.loglik_at(fixef=pd.Series({"x": 1.0}), sigma2=1.0)
    with pytest.raises(ValueError, match="give sigma2= \\(or sigma=\\)"):
        fit.loglik_at(fixef=fit.fixef)
    with pytest.raises(ValueError, match="no random-effects covariances"):
        fit.loglik_at(fixef=fit.fixef, covariances={"g": np.eye(1)}, sigma2=1.0)
    # Series aligned by name; an array is taken in the order of fixef
    shuffled = fit.fixef.iloc[::-1]
    assert fit.loglik_at(fixef=shuffled, sigma=1.0) == fit.loglik_at(
        beta=fit.fixef.to_numpy(), sigma=1.0)

"""Pooling linear-model fits: the tutorial's single-level null model.

``lm(popularity_ij ~ 1)`` on the five data sets R mice completed
(../shared/reference/mice_completed_long.csv), pooled and compared with
mice::pool and mitml::testEstimates (../shared/reference/pool_popular.json,
model ``null_single``). OLS has a closed form, so the pooled numbers agree
to rounding (1e-8), including mitml's ``Residual~~Residual`` (RSS / (n - p)).
The fits come from statsmodels here (any fit with ``.params``,
``.cov_params()``, ``.df_resid`` and ``.scale`` pools) and from mlmice.lm
once that module exists.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from mlmice.pooling import pool, test_estimates, test_models


@pytest.fixture(scope="module")
def ref(load_reference):
    return load_reference("pool_popular.json")["models"]["null_single"]


def _check(fits, ref):
    got = pool(fits).to_frame()
    want = pd.DataFrame(ref["mice_pool"])
    assert list(got["term"]) == ["(Intercept)"]
    for col in ["estimate", "ubar", "b", "t", "dfcom", "df", "riv", "lambda", "fmi"]:
        assert_allclose(got[col], want[col], rtol=1e-8, err_msg=col)
    te = test_estimates(fits, extra_pars=True)
    mitml = pd.DataFrame(ref["mitml_estimates"]).set_index("term")
    for col in ["Estimate", "Std.Error", "df", "RIV", "FMI"]:
        assert_allclose(te.estimates[col], mitml[col], rtol=1e-8, err_msg=col)
    assert list(te.extra_pars.index) == ["Residual~~Residual"]
    assert_allclose(te.extra_pars["Estimate"].iloc[0],
                    ref["mitml_extra_pars"]["Residual~~Residual"], rtol=1e-9)


def test_statsmodels_ols_fits(mice_completed, ref):
    import statsmodels.api as sm

    fits = []
    for d in mice_completed:
        y = d["popularity_ij"]
        fits.append(sm.OLS(y, pd.DataFrame({"(Intercept)": np.ones(len(y))})).fit())
    _check(fits, ref)


def test_mlmice_lm_fits(mice_completed, ref):
    lm = pytest.importorskip("mlmice.linear_model").lm
    _check([lm("popularity_ij ~ 1", d) for d in mice_completed], ref)


def test_d2_likelihood_between_ols_fits(mice_completed):
    # statsmodels' llf is read as the log-likelihood; k = 1 parameter
    import statsmodels.api as sm

    full, null = [], []
    for d in mice_completed:
        y = d["popularity_ij"]
        x = pd.DataFrame({"(Intercept)": np.ones(len(y)), "extraversion_ij": d["extraversion_ij"]})
        full.append(sm.OLS(y, x).fit())
        null.append(sm.OLS(y, x[["(Intercept)"]]).fit())
    lr = test_models(full, null, method="D2", use="likelihood")
    wald = test_models(full, null, method="D2")
    assert lr.test["df1"].iloc[0] == 1 and wald.parameters == ["extraversion_ij"]
    # both tests reject clearly, and the Wald and LR statistics are close for OLS
    assert lr.p_value < 1e-10 and wald.p_value < 1e-10
    assert lr.statistic == pytest.approx(wald.statistic, rel=0.1)


def test_d3_with_mlmice_lm_fits_matches_mitml_and_mice(mice_completed):
    # R (tests/r/pool_tests.R): testModels(fit1, fit0, method = "D3") and
    # mice::D3(fit1, fit0) for lm(popularity_ij ~ extraversion_ij) vs lm(popularity_ij ~ 1);
    # OLS is closed-form, so agreement is to rounding
    import json
    from pathlib import Path

    lm = pytest.importorskip("mlmice.linear_model").lm
    with open(Path(__file__).parent / "r" / "pool_tests.json") as fh:
        comp = next(c for c in json.load(fh)["comparisons"]
                    if c["model"] == "lm_extraversion" and c["null_model"] == "null_single")
    full = [lm("popularity_ij ~ extraversion_ij", d) for d in mice_completed]
    null = [lm("popularity_ij ~ 1", d) for d in mice_completed]
    for conv, r in [("mitml", comp["mitml"]["D3"]), ("mice", comp["mice"]["D3"])]:
        t = test_models(full, null, method="D3", convention=conv).test.iloc[0]
        assert t["df1"] == r["df1"]
        assert_allclose([t["F.value"], t["df2"], t["RIV"]], [r["F"], r["df2"], r["RIV"]],
                        rtol=1e-8, err_msg=conv)
        assert_allclose(t["P(>F)"], r["p"], rtol=1e-6, err_msg=conv)

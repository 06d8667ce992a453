"""The tutorial's case: its exact method vector and predictor matrix (codes 3 and 4).

The specification of Oberman and Vink, "Imputation of incomplete multilevel
data" (``../shared/reference/r_timing.R``, specification a), with its R code,
is defined once in :mod:`mlmice.tutorial`.

R's 2lonly.pmm stops on this specification (teacher experience is missing for
one pupil of class 1 only); ours fills the class from its observed value and
logs the event.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mlmice as mm
from mlmice.impute.methods.base import available_methods
from mlmice.mixed.results import SingularFitWarning
from mlmice.tutorial import MODELS, tutorial_method, tutorial_predictor_matrix, with_interaction

LEVEL1 = ["popularity_ij", "gender_ij", "extraversion_ij", "assessment_ij"]


def _require(*methods):
    missing = [m for m in methods if m not in available_methods()]
    if missing:
        pytest.skip(f"imputation method(s) {', '.join(missing)} not registered yet "
                    "(written in the two-level methods issue)")


def test_tutorial_specification_runs(popular_mar):
    _require("2l.pmm", "2l.bin")
    df = with_interaction(popular_mar)
    pred = tutorial_predictor_matrix(df)
    assert {3, 4} <= set(np.unique(pred.to_numpy()))
    imp = mm.mice(df, m=2, maxit=2, method=tutorial_method(), predictor_matrix=pred, seed=2024)
    assert imp.cluster == "cluster_id" and imp.iteration == 2
    assert imp.predictor_matrix.loc["popularity_ij", "gender_ij"] == 3
    assert imp.predictor_matrix.loc["assessment_ij", "popularity_ij"] == 4
    for i in (1, 2):
        c = imp.complete(i)
        assert not c.isna().any().any()
        # the passive interaction equals the product of its parts in every data set
        np.testing.assert_array_equal(c.extraversion_experience,
                                      c.extraversion_ij * c.experience_j)
        # level 2 stays level 2; gender stays binary; pmm keeps observed values
        assert (c.groupby("cluster_id").experience_j.nunique() == 1).all()
        assert set(c.gender_ij.unique()) <= {0.0, 1.0}
        for name in ("popularity_ij", "extraversion_ij", "assessment_ij"):
            imputed = c.loc[df[name].isna(), name]
            assert np.isin(imputed, df[name].dropna()).all()
        # class 1's teacher experience is filled from its observed value
        assert c.experience_j[c.cluster_id == 1].unique().tolist() == [24.0]
    ev = imp.logged_events
    assert ev[ev.variable == "experience_j"].event.str.contains(
        "observed for some rows and missing for others").all()
    tr = imp.trace
    assert len(tr) == 2 * 2 * 6
    assert tr["mean"].notna().all()


def test_tutorial_specification_with_2l_pmm_for_gender(popular_mar):
    # the variant used before 2l.bin existed: gender by two-level pmm (stays 0/1)
    _require("2l.pmm")
    df = with_interaction(popular_mar)
    imp = mm.mice(df, m=1, maxit=1, method=tutorial_method(gender="2l.pmm"),
                  predictor_matrix=tutorial_predictor_matrix(df), seed=7)
    c = imp.complete(1)
    assert not c.isna().any().any() and set(c.gender_ij.unique()) <= {0.0, 1.0}


def test_pan_specification_runs(popular_mar):
    # pool_reference.R: 2l.pan / 2l.bin / 2lonly.mean, codes 1 and 2
    _require("2l.pan", "2l.bin")
    df = with_interaction(popular_mar)
    pred = tutorial_predictor_matrix(df, codes34=False)
    meth = tutorial_method(level1="2l.pan", level2="2lonly.mean")
    imp = mm.mice(df, m=1, maxit=2, method=meth, predictor_matrix=pred, seed=1)
    c = imp.complete(1)
    assert not c.isna().any().any()
    np.testing.assert_array_equal(c.extraversion_experience, c.extraversion_ij * c.experience_j)


def test_tutorial_predictor_matrix_is_validated(popular_mar):
    # with single-level methods the tutorial's codes 2/3/4 are refused, naming variable and code
    df = with_interaction(popular_mar)
    pred = tutorial_predictor_matrix(df)
    meth = tutorial_method(gender="pmm", level1="pmm")
    with pytest.raises(mm.impute.spec.SpecError,
                       match=r"popularity_ij: predictor 'gender_ij' has code 3 \(fixed effect "
                             r"plus cluster mean\) but method 'pmm' is single-level"):
        mm.mice(df, method=meth, predictor_matrix=pred)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::Warning")
def test_pooled_estimates_agree_with_r_m50(popular_mar, load_reference):
    """Our 2l.pan / 2l.bin / 2lonly.mean imputations against R mice's at m = 50.

    R (pool_reference_m50.R): mice(popular_MAR, m = 50, maxit = 20, seed = 2024) with the
    pan specification, then pool() of the five models. Ours: the same specification,
    m = 5, maxit = 5 (kept small for CI; these chains are flat after a few iterations).
    Both pooled estimates are Monte Carlo averages over imputations of the same
    posterior predictive quantity, so Qbar_ours - Qbar_R ~ N(0, B (1/5 + 1/50)), B the
    between-imputation variance (R's b). Bound: 4.5 standard errors per term (15 terms,
    not independent; a two-sided 4.5-sigma excursion has probability 7e-6 per term).
    Calibration (development runs, seeds 3-5 at m = 5 and 20241 at m = 10): all 60
    standardised differences within +-2.8, sd about 1. The seed is fixed, so the test
    is deterministic.
    """
    _require("2l.pan", "2l.bin")
    from mlmice.pooling.pooled import pool

    ref = load_reference("pool_popular_m50.json")["models"]
    df = with_interaction(popular_mar)
    m = 5
    imp = mm.mice(df, m=m, maxit=5, seed=2024,
                  method=tutorial_method(level1="2l.pan", level2="2lonly.mean"),
                  predictor_matrix=tutorial_predictor_matrix(df, codes34=False))
    for name, formula in MODELS.items():
        ours = pool(imp.fit(formula, reml=False)).pooled.set_index("term")
        for row in ref[name]["mice_pool"]:
            se = np.sqrt(row["b"] * (1 / m + 1 / 50))
            diff = ours.loc[row["term"], "estimate"] - row["estimate"]
            assert abs(diff) < 4.5 * se, (name, row["term"], diff, se)


def test_both_tutorial_files_read_to_one_gender_coding(popular_complete, popular_mar):
    # popular.RData: factor boy/girl; popular_MAR.RData: 1/2 -> both 0 = boy, 1 = girl
    for df in (popular_complete, popular_mar):
        assert df.attrs["labels"]["gender_ij"] == {0: "boy", 1: "girl"}
        assert set(df["gender_ij"].dropna()) == {0.0, 1.0}
    seen = popular_mar["gender_ij"].notna().to_numpy()
    agree = (popular_mar["gender_ij"] == popular_complete["gender_ij"]).to_numpy()[seen]
    assert agree.mean() == 1.0


def test_tutorial_module_on_simulated_data():
    # no ../shared needed: the specification and the five models on the embedded data
    df = with_interaction(mm.simulate_popularity(n_clusters=30, cluster_size=10, seed=4).data)
    pred = tutorial_predictor_matrix(df)
    assert pred.loc["popularity_ij", ["gender_ij", "extraversion_ij", "experience_j",
                                      "assessment_ij", "extraversion_experience"]].tolist() == [
        3, 4, 1, 1, 1]
    assert (pred.loc["extraversion_experience"] == 0).all()
    assert (pred["unit_id"] == 0).all()
    assert (pred.drop(index=["cluster_id", "extraversion_experience"])["cluster_id"] == -2).all()
    assert (np.diag(pred.to_numpy()) == 0).all()
    low = tutorial_predictor_matrix(df, codes34=False)
    assert set(np.unique(low.to_numpy())) == {-2, 0, 1, 2}
    meth = tutorial_method()
    assert meth["extraversion_experience"] == "~ I(extraversion_ij * experience_j)"
    assert list(MODELS) == ["null_single", "intercept_only", "predictors", "random_slope",
                            "interaction"]
    with pytest.raises(TypeError):
        MODELS["extra"] = "y ~ 1"                       # read-only
    for name, formula in MODELS.items():
        with warnings.catch_warnings():   # 300 pupils: the tiny slope variance may be singular
            warnings.simplefilter("ignore", SingularFitWarning)
            fit = (mm.lm(formula, df) if name == "null_single"
                   else mm.lmer(formula, df, reml=False))
        assert np.isfinite(fit.loglik), name

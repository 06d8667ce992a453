"""The tutorial's case: its exact method vector and predictor matrix (codes 3 and 4).

Specification of Oberman and Vink, "Imputation of incomplete multilevel data"
(as measured in ``../shared/reference/r_timing.R``, specification a)::

    meth[c("popularity_ij", "extraversion_ij", "assessment_ij")] <- "2l.pmm"
    meth["gender_ij"] <- "2l.bin"; meth["experience_j"] <- "2lonly.pmm"
    meth["extraversion_experience"] <- "~ I(extraversion_ij * experience_j)"
    pred[, "cluster_id"] <- -2; pred[, "unit_id"] <- 0
    pred[, "extraversion_experience"] <- 0; pred["extraversion_experience", ] <- 0
    pred["popularity_ij", c("gender_ij", "extraversion_ij", "experience_j",
                            "assessment_ij", "extraversion_experience")] <- c(3, 4, 1, 1, 1)
    pred["gender_ij", "popularity_ij"] <- 2; pred["extraversion_ij", "popularity_ij"] <- 2
    pred["experience_j", "popularity_ij"] <- 2; pred["assessment_ij", "popularity_ij"] <- 4

R's 2lonly.pmm stops on this specification (teacher experience is missing for
one pupil of class 1 only); ours fills the class from its observed value and
logs the event.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlmice as mm
from mlmice.impute.methods.base import available_methods

LEVEL1 = ["popularity_ij", "gender_ij", "extraversion_ij", "assessment_ij"]


def tutorial_data(shared_data) -> pd.DataFrame:
    df = mm.read_data(shared_data / "popular_MAR.RData", cluster="cluster_id")
    df["extraversion_experience"] = df["extraversion_ij"] * df["experience_j"]
    return df


def tutorial_method(gender: str = "2l.bin", level1: str = "2l.pmm",
                    level2: str = "2lonly.pmm") -> dict:
    return {"popularity_ij": level1, "gender_ij": gender, "extraversion_ij": level1,
            "assessment_ij": level1, "experience_j": level2,
            "extraversion_experience": "~ I(extraversion_ij * experience_j)"}


def tutorial_predictor_matrix(df: pd.DataFrame, *, codes34: bool = True) -> pd.DataFrame:
    pred = mm.make_predictor_matrix(df)
    pred["cluster_id"] = -2
    pred["unit_id"] = 0
    pred["extraversion_experience"] = 0
    pred.loc["extraversion_experience"] = 0
    pop = ["gender_ij", "extraversion_ij", "experience_j", "assessment_ij",
           "extraversion_experience"]
    pred.loc["popularity_ij", pop] = [3, 4, 1, 1, 1] if codes34 else [1, 2, 1, 1, 1]
    pred.loc[["gender_ij", "extraversion_ij", "experience_j"], "popularity_ij"] = 2
    pred.loc["assessment_ij", "popularity_ij"] = 4 if codes34 else 2
    for name in df.columns:
        pred.loc[name, name] = 0
    return pred


def _require(*methods):
    missing = [m for m in methods if m not in available_methods()]
    if missing:
        pytest.skip(f"imputation method(s) {', '.join(missing)} not registered yet "
                    "(written in the two-level methods issue)")


def test_tutorial_specification_runs(shared_data):
    _require("2l.pmm", "2l.bin")
    df = tutorial_data(shared_data)
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


def test_tutorial_specification_with_2l_pmm_for_gender(shared_data):
    # the variant used before 2l.bin existed: gender by two-level pmm (stays 0/1)
    _require("2l.pmm")
    df = tutorial_data(shared_data)
    imp = mm.mice(df, m=1, maxit=1, method=tutorial_method(gender="2l.pmm"),
                  predictor_matrix=tutorial_predictor_matrix(df), seed=7)
    c = imp.complete(1)
    assert not c.isna().any().any() and set(c.gender_ij.unique()) <= {0.0, 1.0}


def test_pan_specification_runs(shared_data):
    # pool_reference.R: 2l.pan / 2l.bin / 2lonly.mean, codes 1 and 2
    _require("2l.pan", "2l.bin")
    df = tutorial_data(shared_data)
    pred = tutorial_predictor_matrix(df, codes34=False)
    meth = tutorial_method(level1="2l.pan", level2="2lonly.mean")
    imp = mm.mice(df, m=1, maxit=2, method=meth, predictor_matrix=pred, seed=1)
    c = imp.complete(1)
    assert not c.isna().any().any()
    np.testing.assert_array_equal(c.extraversion_experience, c.extraversion_ij * c.experience_j)


def test_tutorial_predictor_matrix_is_validated(shared_data):
    # with single-level methods the tutorial's codes 2/3/4 are refused, naming variable and code
    df = tutorial_data(shared_data)
    pred = tutorial_predictor_matrix(df)
    meth = tutorial_method(gender="pmm", level1="pmm")
    with pytest.raises(mm.impute.spec.SpecError,
                       match=r"popularity_ij: predictor 'gender_ij' has code 3 \(fixed effect "
                             r"plus cluster mean\) but method 'pmm' is single-level"):
        mm.mice(df, method=meth, predictor_matrix=pred)


MODELS = {
    "null_single": "popularity_ij ~ 1",
    "intercept_only": "popularity_ij ~ (1 | cluster_id)",
    "predictors": "popularity_ij ~ gender_ij + extraversion_ij + experience_j + (1 | cluster_id)",
    "random_slope": "popularity_ij ~ gender_ij + extraversion_ij + experience_j"
                    " + (1 + extraversion_ij | cluster_id)",
    "interaction": "popularity_ij ~ gender_ij + extraversion_ij + experience_j"
                   " + extraversion_ij:experience_j + (1 + extraversion_ij | cluster_id)",
}


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::Warning")
def test_pooled_estimates_agree_with_r_m50(shared_data, load_reference):
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
    df = tutorial_data(shared_data)
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

"""Tests of model frames (mlmice.design): X with R's names, Z blocks, NA handling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlmice.design import RankDeficiencyWarning, drop_rank_deficient, model_frame


@pytest.fixture
def small():
    rng = np.random.default_rng(1)
    n = 24
    return pd.DataFrame({
        "y": rng.normal(size=n),
        "x": rng.normal(size=n),
        "z": rng.normal(size=n),
        "sex": pd.Categorical(np.where(np.arange(n) % 2 == 0, "boy", "girl"),
                              categories=["boy", "girl"]),
        "grade": pd.Series(np.array(["a", "b", "c"])[np.arange(n) % 3], dtype="string"),
        "g": np.repeat(np.arange(6), 4),
        "h": np.tile(["p", "q"], 12),
    })


def test_numeric_terms_and_expressions(small):
    with pytest.warns(RankDeficiencyWarning, match="x:z"):
        mf = model_frame("y ~ x*z + I(x * z) + I(x^2) + (1 + x | g)", small)
    # R: colnames(model.matrix(y ~ x*z + I(x*z) + I(x^2), d))
    assert mf.x_names == ["(Intercept)", "x", "z", "I(x * z)", "I(x^2)"]
    # x:z is dropped: it equals I(x * z)
    x, z = small["x"].to_numpy(), small["z"].to_numpy()
    np.testing.assert_allclose(mf.X[:, 3], x * z)
    np.testing.assert_allclose(mf.X[:, 4], x**2)
    np.testing.assert_allclose(mf.y, small["y"])
    (blk,) = mf.random
    assert blk.group == "g" and blk.z_names == ["(Intercept)", "x"]
    np.testing.assert_array_equal(blk.codes, small["g"].to_numpy())
    np.testing.assert_allclose(blk.Z[:, 1], x)
    assert mf.dropped_columns == ["x:z"]


def test_rank_deficient_column_warns_with_name(small):
    df = small.assign(x2=2 * small["x"])
    with pytest.warns(RankDeficiencyWarning, match="dropping 1 column / coefficient: x2"):
        mf = model_frame("y ~ x + x2", df)
    assert mf.x_names == ["(Intercept)", "x"]
    assert mf.dropped_columns == ["x2"]


def test_drop_rank_deficient_keeps_earlier_columns():
    X = np.column_stack([np.ones(5), np.arange(5.0), 1 + np.arange(5.0), np.arange(5.0) ** 2])
    kept, names, dropped = drop_rank_deficient(X, ["a", "b", "c", "d"], warn=False)
    assert names == ["a", "b", "d"] and dropped == ["c"]


def test_factors_treatment_contrasts(small):
    mf = model_frame("y ~ sex + grade + sex:x", small)
    # R: model.matrix(~ sex + grade + sex:x) with treatment contrasts
    assert mf.x_names == ["(Intercept)", "sexgirl", "gradeb", "gradec", "sexgirl:x"]
    np.testing.assert_allclose(mf.X[:, 1], (small["sex"] == "girl").astype(float))
    np.testing.assert_allclose(mf.X[:, 4], (small["sex"] == "girl") * small["x"])


def test_factor_interaction_names_first_varies_fastest(small):
    mf = model_frame("y ~ sex*grade", small)
    # R: "(Intercept)" "sexgirl" "gradeb" "gradec" "sexgirl:gradeb" "sexgirl:gradec"
    assert mf.x_names == ["(Intercept)", "sexgirl", "gradeb", "gradec", "sexgirl:gradeb",
                          "sexgirl:gradec"]


def test_no_intercept_full_dummies(small):
    mf = model_frame("y ~ 0 + grade + x", small)
    assert mf.x_names == ["gradea", "gradeb", "gradec", "x"]


def test_labelled_numeric_stays_numeric_unless_listed(small):
    df = small.assign(gender=(small["sex"] == "girl").astype(float))
    df.attrs["labels"] = {"gender": {0: "boy", 1: "girl"}}
    assert model_frame("y ~ gender", df).x_names == ["(Intercept)", "gender"]
    assert model_frame("y ~ gender", df, factors=["gender"]).x_names == [
        "(Intercept)", "gendergirl"]


def test_listwise_deletion_counts_rows(small):
    df = small.copy()
    df.loc[[0, 5], "x"] = np.nan
    df.loc[7, "g"] = np.nan
    df.loc[9, "z"] = np.nan  # z unused: row kept
    mf = model_frame("y ~ x + (1 | g)", df)
    assert mf.nobs == 21 and mf.n_dropped == 3
    assert list(mf.index[:6]) == [1, 2, 3, 4, 6, 8]


def test_grouping_levels_sorted_and_string_cluster(small):
    df = small.assign(g=small["g"].map(lambda v: f"c{5 - v}"))
    mf = model_frame("y ~ (1 | g)", df)
    blk = mf.random[0]
    assert list(blk.levels) == ["c0", "c1", "c2", "c3", "c4", "c5"]
    assert blk.codes[0] == 5


def test_interaction_grouping(small):
    mf = model_frame("y ~ (1 | g:h)", small)
    assert mf.random[0].n_levels == 12
    assert mf.random[0].group == "g:h"


def test_factor_response_for_binomial(small):
    mf = model_frame("sex ~ x", small, numeric_response=False)
    np.testing.assert_allclose(mf.y, (small["sex"] == "girl").astype(float))


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("y ~ nothere + (1 | g)", "'nothere'"),
        ("~ x", "no response"),
        ("sex ~ x", "response 'sex' is not numeric"),
        ("grade ~ x", "response 'grade' is not numeric"),
        ("y ~ x + (1 | one)", "grouping factor 'one' has 1 level"),
        ("y ~ x + (1 | unit)", "number of levels of grouping factor 'unit'"),
    ],
)
def test_bad_input(small, formula, message):
    df = small.assign(one=1, unit=np.arange(len(small)))
    with pytest.raises(ValueError, match=None) as info:
        model_frame(formula, df)
    assert message in str(info.value)


def test_empty_after_na_removal(small):
    df = small.assign(x=np.nan)
    with pytest.raises(ValueError, match="no rows left after removing rows with missing values"):
        model_frame("y ~ x", df)


def test_numeric_design_equals_model_frame():
    from mlmice.design import model_frame, numeric_design

    rng = np.random.default_rng(2)
    df = pd.DataFrame({"y": rng.normal(size=30), "x": rng.normal(size=30),
                       "w": rng.normal(size=30), "g": np.repeat(np.arange(6), 5)})
    for formula in ("y ~ x + w + x:w + (1 + x | g)", "y ~ x * w + I(x^2) + log(abs(w))",
                    "y ~ 0 + x + I(2 * w)"):
        mf = model_frame(formula, df, drop_rank=False, check_random=False)
        X, names = numeric_design(formula, {v: df[v].to_numpy() for v in ("x", "w")})
        assert names == list(mf.x_names), formula
        np.testing.assert_array_equal(X, mf.X)

"""polyreg and polr (mice's single-level categorical methods) and categorical variables
in the sampler: R's class probabilities, draws, dummies, never an unseen category."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlmice as mm
from mlmice.impute.errors import SpecError
from mlmice.impute.methods.base import MethodInput
from mlmice.impute.methods.polytomous import class_probabilities, draw_classes

R_DIR = Path(__file__).parent / "r"


@pytest.fixture(scope="module")
def reference():
    data = pd.read_csv(R_DIR / "polytomous_reference.csv")
    return data, json.loads((R_DIR / "polytomous_reference.json").read_text())


def _input(data: pd.DataFrame, target: str, levels: list[str]) -> MethodInput:
    f = data["f"]
    x = np.column_stack([data["x1"], data["x2"], (f == "b").astype(float),
                         (f == "c").astype(float)])
    codes = pd.Categorical(data[target], categories=levels).codes.astype(float)
    codes[codes < 0] = np.nan
    ry = ~np.isnan(codes)
    return MethodInput(variable=target, y=codes, ry=ry, wy=~ry, x=x,
                       names=("x1", "x2", "fb", "fc"), codes=np.ones(4, dtype=int),
                       categories=tuple(levels), ordered=target == "yo")


@pytest.mark.parametrize("method,target", [("polr", "yo"), ("polyreg", "yn")])
def test_class_probabilities_equal_mice(reference, method, target):
    # the per-row distribution of the imputations is R's: same augmentation, same model,
    # same maximum-likelihood fit (R's optimisers stop at a relative tolerance of 1e-8:
    # measured differences 4e-6 (polr) and 1e-5 (polyreg))
    data, ref = reference
    r = ref[method]
    inp = _input(data, target, r["levels"])
    classes, prob, events = class_probabilities(inp, ordinal=method == "polr", draw="mice",
                                                rng=np.random.default_rng(0), method=method)
    assert not events
    assert list(classes) == list(range(len(r["levels"])))
    np.testing.assert_array_equal(np.flatnonzero(inp.wy), r["rows"])
    np.testing.assert_allclose(prob, np.asarray(r["probs"]), atol=5e-5)


def test_draws_follow_the_probabilities():
    rng = np.random.default_rng(1)
    prob = np.tile([0.1, 0.2, 0.3, 0.4], (40_000, 1))
    counts = np.bincount(draw_classes(prob, rng), minlength=4) / 40_000
    # binomial sd of a share of 0.4 in 40,000 draws: 0.0024
    np.testing.assert_allclose(counts, [0.1, 0.2, 0.3, 0.4], atol=0.01)


def _data(seed=3, n=300):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    lat = 1.5 * x + rng.logistic(size=n)
    o = pd.Categorical.from_codes(np.searchsorted([-1.0, 0.5, 2.0], lat),
                                  categories=["low", "mid", "high", "top"], ordered=True)
    nom = pd.Categorical(rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2]),
                         categories=["a", "b", "c", "never"])
    df = pd.DataFrame({"x": x, "z": x + rng.normal(size=n), "o": o, "nom": nom})
    df.loc[rng.random(n) < 0.3, "o"] = np.nan
    df.loc[rng.random(n) < 0.3, "nom"] = np.nan
    df.loc[rng.random(n) < 0.2, "z"] = np.nan
    return df


def test_categoricals_through_mice():
    df = _data()
    method = mm.make_method(df)
    assert method.to_dict() == {"x": "", "z": "pmm", "o": "polr", "nom": "polyreg"}
    imp = mm.mice(df, m=2, maxit=3, seed=2)
    for i in (1, 2):
        done = imp.complete(i)
        assert done["o"].dtype == df["o"].dtype and done["nom"].dtype == df["nom"].dtype
        assert done[["o", "nom", "z"]].notna().all().all()
        # observed values untouched, never a category that was not observed
        keep = df["o"].notna()
        assert (done.loc[keep, "o"] == df.loc[keep, "o"]).all()
        assert "never" not in set(done["nom"].astype(str))
    # the ordinal variable is imputed from x: the imputed codes follow x
    done = imp.complete(1)
    miss = df["o"].isna()
    codes = done.loc[miss, "o"].cat.codes
    assert np.corrcoef(codes, df.loc[miss, "x"])[0, 1] > 0.5
    # a categorical predictor enters as its dummies (R's names)
    engine = imp._get_engine()
    assert engine.steps["z"].pred_names == ("x", "omid", "ohigh", "otop", "nomb", "nomc",
                                            "nomnever")


def test_two_categories_use_logreg_and_wrong_methods_are_refused():
    df = _data()
    df["sex"] = pd.Categorical(np.where(df["x"] > 0, "girl", "boy"))
    df.loc[:20, "sex"] = np.nan
    assert mm.make_method(df)["sex"] == "logreg"
    imp = mm.mice(df, m=1, maxit=2, seed=1)
    assert set(imp.complete(1)["sex"].astype(str)) <= {"boy", "girl"}
    with pytest.raises(SpecError, match="o: method 'pmm' imputes numbers, but o is "
                                           "categorical .4 categories.; use polr"):
        mm.mice(df, m=1, maxit=1, method={"o": "pmm", "nom": "polyreg", "z": "pmm",
                                           "sex": "logreg"})
    with pytest.raises(SpecError, match="z: method 'polyreg' imputes a categorical"):
        mm.mice(df, m=1, maxit=1, method={"o": "polr", "nom": "polyreg", "z": "polyreg",
                                           "sex": "logreg"})


def test_sparse_category_and_one_observed_category():
    # a category observed once, and a variable whose observed values are one category
    rng = np.random.default_rng(5)
    n = 120
    x = rng.normal(size=n)
    c = np.where(x > 0, "p", "q").astype(object)
    c[0] = "rare"
    df = pd.DataFrame({"x": x, "c": pd.Categorical(c), "d": pd.Categorical(["k"] * n)})
    df.loc[1:40, "c"] = np.nan
    df.loc[5:9, "d"] = np.nan
    for method in ("polyreg", "polr"):
        imp = mm.mice(df, m=2, maxit=3, seed=4, method={"c": "polyreg", "d": method})
        done = imp.complete(2)
        assert set(done["c"].astype(str)) <= {"p", "q", "rare"}
        assert (done["d"].astype(str) == "k").all()


@pytest.mark.parametrize("draw", ["mice", "normal"])
def test_draw_option(draw):
    df = _data()
    imp = mm.mice(df, m=1, maxit=2, seed=6, method={"o": "polr", "nom": "polyreg", "z": "pmm"},
                  method_options={"o": {"draw": draw}, "nom": {"draw": draw}})
    assert imp.complete(1)["o"].notna().all()


def test_unknown_draw_is_refused():
    df = _data()
    with pytest.raises(Exception, match="option draw of method polr must be one of mice, "
                                        "normal, got 'bayes'"):
        mm.mice(df, m=1, maxit=1, method={"o": "polr", "nom": "polyreg", "z": "pmm"},
                method_options={"o": {"draw": "bayes"}})


@pytest.mark.parametrize("method", ["2lonly.polyreg", "2lonly.polr"])
def test_level_two_categorical(method):
    # a cluster-level category (school type): one value per cluster, imputed per cluster
    rng = np.random.default_rng(8)
    G, size = 60, 8
    g = np.repeat(np.arange(G), size)
    u = rng.normal(size=G)
    kind = np.searchsorted([-0.5, 0.6], u + 0.5 * rng.logistic(size=G))
    df = pd.DataFrame({"g": g, "x": u[g] + rng.normal(size=G * size),
                       "s": pd.Categorical.from_codes(kind[g], ["low", "mid", "high"],
                                                      ordered=method.endswith("polr"))})
    gone = rng.choice(G, 15, replace=False)
    df.loc[np.isin(g, gone), "s"] = np.nan
    df.loc[(g == gone[0]) & (np.arange(G * size) % size == 0), "s"] = "mid"  # partly observed
    pred = pd.DataFrame(0, index=df.columns, columns=df.columns)
    pred.loc["s", ["g", "x"]] = [-2, 1]
    imp = mm.mice(df, m=2, maxit=2, seed=3, method={"s": method}, predictor_matrix=pred)
    done = imp.complete(1)
    per_cluster = done.groupby("g", observed=True)["s"].nunique()
    assert (per_cluster == 1).all()                        # one value per cluster
    assert (done.loc[df["g"] == gone[0], "s"] == "mid").all()   # filled from its own rows
    assert done["s"].dtype == df["s"].dtype
    events = imp.logged_events["event"]
    assert events.str.contains("observed for some rows").any()


def test_passive_expression_on_a_categorical_is_refused():
    df = _data()
    df["ox"] = np.nan
    with pytest.raises(SpecError, match="ox: passive expression .* involves the categorical "
                                        "variable.s. o; arithmetic on categories"):
        mm.mice(df, m=1, maxit=1, method={"o": "polr", "nom": "polyreg", "z": "pmm",
                                           "ox": "~ I(o * x)"})


def test_categorical_predictor_pooled_and_tested_as_one_block():
    # after imputation a categorical enters the analysis model as its dummies: pooled
    # per contrast, and D1 tests the variable as one block of K - 1 parameters
    df = mm.simulate_tracks(40, 10, seed=3)
    df.loc[::4, "track"] = np.nan
    pred = mm.make_predictor_matrix(df)
    pred.loc[:, "cluster_id"] = -2
    pred.loc["cluster_id", :] = 0
    imp = mm.mice(df, m=3, maxit=3, seed=1, method={"track": "2l.polr"},
                  predictor_matrix=pred)
    full = imp.fit("y ~ track + x + (1 | cluster_id)", reml=False)
    null = imp.fit("y ~ x + (1 | cluster_id)", reml=False)
    terms = list(mm.pool(full).summary()["term"])
    assert terms[:4] == ["(Intercept)", "trackmiddle", "trackhigh", "tracktop"]
    d1 = mm.test_models(full, null, method="D1").to_frame().iloc[0]
    assert d1["df1"] == 3 and 0 <= d1["p_value"] < 0.05

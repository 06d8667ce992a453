"""Specification: mice's defaults and every validation error (before any work)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlmice.impute.spec import (
    SpecError,
    make_method,
    make_predictor_matrix,
    validate_spec,
)


@pytest.fixture
def df():
    rng = np.random.default_rng(3)
    n = 40
    g = np.repeat(np.arange(8), 5)
    w = np.repeat(rng.normal(size=8), 5)
    x = rng.normal(size=n)
    y = x + w + rng.normal(size=n)
    b = (rng.random(n) < 0.5).astype(float)
    out = pd.DataFrame({"g": g, "x": x, "y": y, "b": b, "w": w, "full": rng.normal(size=n)})
    out.loc[[1, 7, 12], "y"] = np.nan
    out.loc[[3, 20], "x"] = np.nan
    out.loc[[5], "b"] = np.nan
    out.loc[[10, 11, 12, 13, 14], "w"] = np.nan  # cluster 2 entirely missing
    return out


def test_make_method_defaults(df):
    # mice::make.method: "" for complete columns, logreg for binary, pmm for numeric
    meth = make_method(df, cluster="g")
    assert meth.to_dict() == {"g": "", "x": "pmm", "y": "pmm", "b": "logreg", "w": "pmm",
                              "full": ""}


def test_make_method_refuses_non_numeric():
    df = pd.DataFrame({"s": ["a", None, "c"], "y": [1.0, 2.0, 3.0]})
    with pytest.raises(SpecError, match="s: cannot choose an imputation method"):
        make_method(df)


def test_make_predictor_matrix_defaults(df):
    pred = make_predictor_matrix(df, cluster="g")
    assert list(pred.index) == list(df.columns) == list(pred.columns)
    assert (np.diag(pred.to_numpy()) == 0).all()
    assert (pred.loc["x":, "g"] == -2).all()
    assert (pred.loc["g"] == 0).all()
    assert pred.loc["y", "x"] == 1
    no_cluster = make_predictor_matrix(df)
    assert no_cluster.loc["y", "g"] == 1  # without a cluster variable it is an ordinary column


def test_validate_default_spec(df):
    spec = validate_spec(df, cluster="g")
    assert spec.cluster == "g"
    assert spec.visit_sequence == ("x", "y", "b", "w")


def test_cluster_inferred_from_minus2(df):
    pred = make_predictor_matrix(df, cluster="g")
    spec = validate_spec(df, method={"w": "2lonly.pmm", "x": "pmm", "y": "pmm", "b": "pmm"},
                         predictor_matrix=pred)
    assert spec.cluster == "g"


def _meth(**over):
    meth = {"x": "pmm", "y": "pmm", "b": "pmm", "w": "2lonly.pmm"}
    meth.update(over)
    return meth


def _pred(df, cluster="g"):
    return make_predictor_matrix(df, cluster=cluster)


def test_error_two_level_without_cluster(df):
    pred = make_predictor_matrix(df)
    with pytest.raises(SpecError, match="w: method '2lonly.pmm' is two-level and needs the "
                                        "cluster variable coded -2"):
        validate_spec(df, method={"w": "2lonly.pmm"}, predictor_matrix=pred)


def test_error_two_minus2_columns(df):
    pred = _pred(df)
    pred.loc["y", "full"] = -2
    with pytest.raises(SpecError, match=r"y: predictor-matrix row has code -2 in 2 columns "
                                        r"\(g, full\)"):
        validate_spec(df, method={"y": "pmm"}, predictor_matrix=pred)


@pytest.mark.parametrize("code,meaning", [(2, "fixed and random effect"),
                                          (4, "fixed and random effect plus cluster mean"),
                                          (3, "fixed effect plus cluster mean")])
def test_error_random_code_with_single_level_method(df, code, meaning):
    pred = _pred(df)
    pred.loc["y", "x"] = code
    with pytest.raises(SpecError, match=rf"y: predictor 'x' has code {code} \({meaning}\) but "
                                        r"method 'pmm' is single-level"):
        validate_spec(df, method=_meth(), predictor_matrix=pred)


def test_error_2lonly_on_level1_variable(df):
    with pytest.raises(SpecError, match=r"y: method '2lonly.norm' needs a level-2 variable, but "
                                        r"its observed values vary within 8 cluster\(s\) of 'g'"):
        validate_spec(df, method=_meth(y="2lonly.norm"), predictor_matrix=_pred(df))


@pytest.mark.parametrize("meth", ["logreg", "2l.bin"])
def test_error_binary_method_on_non_binary_variable(df, meth):
    # caught before imputation, naming the variable and its values (not at iteration 1)
    d = df.copy()
    d.loc[0, "b"] = 2.0
    with pytest.raises(SpecError, match=rf"b: method '{meth}' needs a binary variable coded 0/1, "
                                        r"but its observed values are 0, 1, 2 \(3 distinct\)"):
        validate_spec(d, method=_meth(b=meth), predictor_matrix=_pred(d))
    validate_spec(df, method=_meth(b=meth), predictor_matrix=_pred(df))


def test_error_unknown_method_lists_known(df):
    with pytest.raises(SpecError, match=r"y: unknown imputation method 'pmmm'; known methods: "
                                        r".*2lonly.pmm.*norm, pmm"):
        validate_spec(df, method={"y": "pmmm"})


def test_error_predictor_never_observed(df):
    df = df.assign(empty=np.nan)
    pred = _pred(df)
    with pytest.raises(SpecError, match="x: predictor 'empty' \\(code 1\\) is never observed"):
        validate_spec(df, method=_meth(), predictor_matrix=pred)


def test_error_incomplete_predictor_without_method(df):
    with pytest.raises(SpecError, match=r"y: predictor 'x' \(code 1\) has missing values but no "
                                        "imputation method"):
        validate_spec(df, method={"y": "pmm"}, predictor_matrix=_pred(df))


def test_error_passive_unknown_variable(df):
    df = df.assign(xy=df.x * df.y)
    meth = _meth(xy="~ I(x * zz)")
    with pytest.raises(SpecError, match=r"xy: passive expression '~ I\(x \* zz\)' names unknown "
                                        r"variable\(s\) zz"):
        validate_spec(df, method=meth, predictor_matrix=_pred(df))


def test_error_passive_depends_on_itself(df):
    df = df.assign(xy=df.x * df.y)
    with pytest.raises(SpecError, match=r"xy: passive expression '~ I\(x \* xy\)' depends on "
                                        "itself"):
        validate_spec(df, method=_meth(xy="~ I(x * xy)"), predictor_matrix=_pred(df))


def test_error_passive_cycle(df):
    df = df.assign(p1=1.0, p2=1.0)
    df.loc[0, ["p1", "p2"]] = np.nan
    meth = _meth(p1="~ p2 + x", p2="~ log(p1)")
    with pytest.raises(SpecError, match="depends on itself through p1 -> p2 -> p1"):
        validate_spec(df, method=meth, predictor_matrix=_pred(df))


def test_error_passive_syntax(df):
    with pytest.raises(SpecError, match=r"y: passive expression '~ x \+\+ \)'"):
        validate_spec(df, method={"y": "~ x ++ )"})


def test_error_bad_code(df):
    pred = _pred(df).astype(float)
    pred.loc["y", "x"] = 5
    with pytest.raises(SpecError, match="y: predictor 'x' has code 5; codes are -2"):
        validate_spec(df, method=_meth(), predictor_matrix=pred)


def test_error_diagonal(df):
    pred = _pred(df)
    pred.loc["y", "y"] = 1
    with pytest.raises(SpecError, match="y: the predictor matrix's diagonal must be 0"):
        validate_spec(df, method=_meth(), predictor_matrix=pred)


def test_error_cluster_imputed_or_incomplete(df):
    with pytest.raises(SpecError, match="g: the cluster variable cannot be imputed"):
        validate_spec(df, method={"g": "pmm"}, cluster="g")
    bad = df.astype({"g": float})
    bad.loc[0, "g"] = np.nan
    with pytest.raises(SpecError, match=r"g: the cluster variable has missing values \(rows 0\)"):
        validate_spec(bad, method={"w": "2lonly.mean"}, predictor_matrix=_pred(df))


def test_error_cluster_as_fixed_effect(df):
    pred = _pred(df)
    pred.loc["w", "g"] = 1
    pred.loc["w", "full"] = -2
    with pytest.raises(SpecError, match="code -2 marks different cluster variables"):
        validate_spec(df, method=_meth(w="2lonly.mean"), predictor_matrix=pred)


def test_error_never_observed_target(df):
    df = df.assign(empty=np.nan)
    with pytest.raises(SpecError, match="empty: never observed"):
        validate_spec(df, method={"empty": "pmm"}, predictor_matrix=_pred(df))


def test_error_unknown_names(df):
    with pytest.raises(SpecError, match="method names variable\\(s\\) not in the data: nope"):
        validate_spec(df, method={"nope": "pmm"})
    with pytest.raises(SpecError, match="visit_sequence names 'full', which has no imputation"):
        validate_spec(df, cluster="g", visit_sequence=["y", "full"])
    with pytest.raises(SpecError, match="cluster variable 'h' is not a column"):
        validate_spec(df, cluster="h")


def test_spec_round_trips_through_dict(df):
    spec = validate_spec(df, cluster="g", method_options={"y": {"donors": 3}})
    again = type(spec).from_dict(spec.to_dict(), df)
    assert again.to_dict() == spec.to_dict()
    assert again.options == {"y": {"donors": 3}}


def test_passive_feedback_is_warned_and_logged(df):
    from mlmice.impute.sampler import mice
    from mlmice.impute.spec import SpecWarning

    df = df.assign(xy=df.x * df.y)
    pred = _pred(df)   # xy (computed from x and y) predicts x and y: feedback
    with pytest.warns(SpecWarning, match="(x|y): predictor 'xy' \\(code 1\\) is passive and "
                                         "computed from '(x|y)' itself"):
        spec = validate_spec(df, method=_meth(xy="~ I(x * y)"), predictor_matrix=pred)
    assert [v for v, _ in spec.notes] == ["x", "y"]
    pred.loc[["x", "y"], "xy"] = 0
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert validate_spec(df, method=_meth(xy="~ I(x * y)"), predictor_matrix=pred).notes == ()
    with pytest.warns(SpecWarning):
        imp = mice(df, m=1, maxit=1, method=_meth(xy="~ I(x * y)"), predictor_matrix=_pred(df),
                   seed=1)
    ev = imp.logged_events
    assert ev[ev.iteration == 0].variable.tolist() == ["x", "y"]


def test_defaults_take_cluster_and_id_from_read_data_roles():
    # a frame from read_data / simulate_popularity records its roles: the
    # cluster becomes -2 and the id is neither imputed nor a predictor
    import mlmice as mm

    data = mm.simulate_popularity(n_clusters=10, cluster_size=5, seed=1).data
    inc = mm.ampute(data, prop=0.3, mech="MCAR", seed=1).amp
    pred = mm.make_predictor_matrix(inc)
    meth = mm.make_method(inc)
    assert (pred["unit_id"] == 0).all() and (pred.loc["unit_id"] == 0).all()
    assert pred.loc["popularity_ij", "cluster_id"] == -2
    assert meth["unit_id"] == "" and meth["cluster_id"] == ""
    # explicit arguments win over the recorded roles
    pred2 = mm.make_predictor_matrix(inc, id="assessment_ij")
    assert (pred2["assessment_ij"] == 0).all() and pred2.loc["popularity_ij", "unit_id"] == 1


def test_error_non_string_column_names_are_named(df):
    renamed = df.rename(columns={"full": 7})
    with pytest.raises(SpecError, match=r"column names must be strings; got \[7\]"):
        validate_spec(renamed, cluster="g")


def test_misspelt_method_option_is_a_spec_error():
    """Every method declares its options; any other name is refused with the closest."""
    import mlmice as mm
    from mlmice.impute.spec import SpecError, validate_spec
    df = mm.simulate_popularity(n_clusters=10, cluster_size=5).data
    df.loc[:5, "popularity_ij"] = np.nan
    pred = mm.make_predictor_matrix(df, cluster="cluster_id")
    with pytest.raises(SpecError, match=r"popularity_ij: method 2l.pmm has no option 'donorz'; "
                                        r"did you mean 'donors'\? \(its options: donors, "):
        validate_spec(df, method={"popularity_ij": "2l.pmm"}, predictor_matrix=pred,
                      method_options={"popularity_ij": {"donorz": 3}})
    with pytest.raises(SpecError, match="method mean has no option 'k' \\(its options: none\\)"):
        validate_spec(df, method={"popularity_ij": "mean"}, predictor_matrix=pred,
                      method_options={"popularity_ij": {"k": 3}})


def test_categorical_hints_fit_the_level_and_polr_on_unordered_warns():
    import warnings

    import mlmice as mm
    from mlmice.impute.errors import SpecError, SpecWarning
    data = mm.simulate_popularity(n_clusters=10, cluster_size=6, seed=1).data
    data["k"] = pd.Categorical(np.array(["a", "b", "c"])[np.arange(len(data)) % 3])
    data.loc[:5, "k"] = None
    for meth, use in (("2l.pmm", "2l.polyreg"), ("pmm", "polyreg")):
        with pytest.raises(SpecError, match=f"k is categorical \\(3 categories\\); use {use}$"):
            validate_spec(data, method={"k": meth}, cluster="cluster_id")
    with pytest.warns(SpecWarning, match="'2l.polr' treats the categories of an unordered "
                                         r"variable as ordered, as listed \(a, b, c"):
        validate_spec(data, method={"k": "2l.polr"}, cluster="cluster_id")
    data["k"] = data["k"].cat.as_ordered()
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpecWarning)
        validate_spec(data, method={"k": "2l.polr"}, cluster="cluster_id")

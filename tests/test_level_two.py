"""Level-2-only methods: aggregation, write-back, partially observed clusters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlmice.impute.methods.base import MethodInput, get_method
from mlmice.impute.sampler import mice


def _level2_input(seed=0, G=30):
    """Cluster sizes 1..6, w level-2, x level-1; clusters 0-4 missing w, cluster 5 partly."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 7, size=G)
    sizes[5] = 4
    cl = np.repeat(np.arange(G), sizes)
    z = rng.normal(size=G)
    w_cl = 3 + 2 * z + rng.normal(scale=0.5, size=G)
    x = z[cl] + rng.normal(size=cl.size)
    w = w_cl[cl].copy()
    ry = ~np.isin(cl, [0, 1, 2, 3, 4])
    part = np.flatnonzero(cl == 5)
    ry[part[:2]] = False
    w[~ry] = -999.0  # previous imputations: must not be used
    data = MethodInput(variable="w", y=w, ry=ry, wy=~ry, x=x[:, None], names=("x",),
                       codes=np.array([1]), cluster=cl, n_clusters=G,
                       cluster_labels=tuple(f"c{k}" for k in range(G)))
    return data, w_cl, cl


@pytest.mark.parametrize("name", ["2lonly.norm", "2lonly.pmm", "2lonly.mean"])
def test_write_back_and_partial_cluster_fill(name):
    data, w_cl, cl = _level2_input()
    res = get_method(name).impute(data, np.random.default_rng(1))
    cl_wy = cl[data.wy]
    values = pd.Series(res.values).groupby(cl_wy).nunique()
    assert (values == 1).all()                       # one value per cluster
    np.testing.assert_array_equal(res.values[cl_wy == 5], w_cl[5])   # observed value fills
    assert any("1 cluster(s) with w observed for some rows and missing for others: filled "
               "with the cluster's observed value (clusters c5)" in e for e in res.events)


def test_2lonly_norm_is_norm_on_cluster_level_data():
    # the same draw as a one-row-per-cluster Bayesian regression on cluster means
    data, w_cl, cl = _level2_input()
    G = data.n_clusters
    xbar = np.bincount(cl, weights=data.x[:, 0]) / np.bincount(cl)
    obs = np.bincount(cl[data.ry], minlength=G) > 0
    need = np.setdiff1d(np.unique(cl[data.wy]), np.flatnonzero(obs))
    order = np.concatenate([np.flatnonzero(obs), need])
    agg = MethodInput(variable="w", y=np.concatenate([w_cl[obs], np.zeros(need.size)]),
                      ry=np.arange(order.size) < obs.sum(),
                      wy=np.arange(order.size) >= obs.sum(),
                      x=xbar[order][:, None], names=("x",), codes=np.array([1]))
    a = get_method("2lonly.norm").impute(data, np.random.default_rng(9))
    b = get_method("norm").impute(agg, np.random.default_rng(9))
    got = pd.Series(a.values).groupby(cl[data.wy]).first()
    np.testing.assert_allclose(got.loc[need].to_numpy(), b.values, rtol=1e-12)


def test_2lonly_pmm_donates_observed_cluster_values():
    data, w_cl, cl = _level2_input()
    res = get_method("2lonly.pmm").impute(data, np.random.default_rng(2))
    assert np.isin(res.values, w_cl[5:]).all()


def test_2lonly_mean_uses_mean_over_observed_clusters():
    data, w_cl, cl = _level2_input()
    res = get_method("2lonly.mean").impute(data, np.random.default_rng(2))
    np.testing.assert_allclose(res.values[cl[data.wy] == 0], w_cl[5:].mean())
    assert any("5 cluster(s) with w missing in every row" in e for e in res.events)


def test_tutorial_experience_partial_cluster(popular_mar):
    # R's 2lonly.pmm stops here ("clusters with partially missing level-2 data: 1")
    import mlmice as mm

    df = popular_mar
    meth = {"experience_j": "2lonly.pmm", "popularity_ij": "pmm", "gender_ij": "pmm",
            "extraversion_ij": "pmm", "assessment_ij": "pmm"}
    pred = mm.make_predictor_matrix(df, cluster="cluster_id")
    pred["unit_id"] = 0
    imp = mice(df, m=2, maxit=1, method=meth, predictor_matrix=pred, seed=1)
    row = np.flatnonzero(df.experience_j.isna().to_numpy())
    assert df.cluster_id.iloc[row].tolist() == [1]
    observed = df.experience_j[(df.cluster_id == 1) & df.experience_j.notna()].unique()
    for i in (1, 2):
        assert imp.complete(i).experience_j.iloc[row].tolist() == observed.tolist()
    ev = imp.logged_events
    ev = ev[ev.variable == "experience_j"]
    assert len(ev) == 2 and ev.event.str.contains("clusters 1\\)").all()


@pytest.mark.parametrize("method", ["2lonly.norm", "2lonly.pmm"])
def test_agrees_with_r_mice_2lonly(method):
    """R mice's 2lonly.norm / 2lonly.pmm (tests/r/mice_level_two.R: m = 200) against ours
    (m = 100) on the same simulated data (w missing for 17 of 60 whole clusters).

    Per imputation: cluster-level regression w ~ z + xbar and the mean of w. Pooled means
    differ by N(0, b (1/100 + 1/200)) (b R's between-imputation variance): bound 4 standard
    errors; log(b_ours / b_R) has sd about sqrt(2/99 + 2/199) = 0.17: bound 4 sd.
    Development runs (3 seeds, m = 200): |z| <= 1.8, b ratios 0.84-1.3.
    """
    import json
    from pathlib import Path

    ref = json.loads((Path(__file__).parent / "r" / "mice_level_two.json").read_text())
    df = pd.DataFrame({k: np.array([np.nan if v is None else v for v in vals], dtype=float)
                       for k, vals in ref["data"].items()}).astype({"g": int})
    pred = pd.DataFrame(0, index=df.columns, columns=df.columns)
    pred.loc["w", ["x", "z"]] = 1
    pred.loc["w", "g"] = -2
    m = 100
    imp = mice(df, m=m, maxit=1, method={"w": method}, predictor_matrix=pred, seed=4)
    est = []
    for _, d in imp.complete("long").groupby(".imp"):
        cl = d.groupby("g")[["w", "z", "x"]].mean()
        X = np.column_stack([np.ones(len(cl)), cl.z, cl.x])
        est.append(np.append(np.linalg.lstsq(X, cl.w.to_numpy(), rcond=None)[0], cl.w.mean()))
    est = np.array(est)
    for k, row in enumerate(ref["results"][method]):
        q, b = est[:, k].mean(), est[:, k].var(ddof=1)
        assert abs(q - row["estimate"]) < 4 * np.sqrt(row["b"] * (1 / m + 1 / 200)), row["term"]
        assert abs(np.log(b / row["b"])) < 4 * np.sqrt(2 / (m - 1) + 2 / 199), row["term"]

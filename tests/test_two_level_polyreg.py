"""2l.polyreg: the multinomial logit Gibbs sampler with random effects per contrast."""

from __future__ import annotations

import numpy as np
import pandas as pd

import mlmice as mm
from mlmice.impute.engine import continue_chain, run_chain
from mlmice.impute.methods._two_level_design import _standardise
from mlmice.impute.methods.two_level_polyreg import gibbs_two_level_multinomial
from mlmice.impute.spec import validate_spec
from mlmice.impute.state import ChainState


def test_sampler_recovers_the_model():
    # 4,000 pupils in 200 clusters, 3 classes: the posterior mean of every parameter
    # within 4 posterior sds of the truth (posterior sds from the chain itself)
    rng = np.random.default_rng(21)
    J, size = 200, 20
    g = np.repeat(np.arange(J), size)
    x = rng.normal(size=g.size)
    u1, u2 = rng.normal(scale=np.sqrt(0.5), size=J), rng.normal(scale=np.sqrt(0.3), size=J)
    eta = np.column_stack([np.zeros(g.size), 0.2 + 0.9 * x + u1[g], -0.4 - 0.6 * x + u2[g]])
    prob = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    y = (rng.random(g.size)[:, None] > np.cumsum(prob, axis=1)).sum(axis=1)
    X = np.column_stack([np.ones(g.size), x])
    Xs, center, scale = _standardise(X, np.ones(g.size, dtype=bool))
    Z = np.ones((g.size, 1))
    kw = dict(n_classes=3, rng=rng, prior_sd=np.array([10.0, 2.5]))
    states = gibbs_two_level_multinomial(Xs, Z, y, g, J, n_iter=40, **kw)
    draws = []
    for _ in range(300):
        states = gibbs_two_level_multinomial(Xs, Z, y, g, J, n_iter=1, start=states, **kw)
        row = []
        for s in states:
            slope = s.beta[1] / scale[1]
            row += [s.beta[0] - slope * center[1], slope, 1.0 / s.psi_inv[0, 0]]
        draws.append(row)
    draws = np.array(draws)
    truth = np.array([0.2, 0.9, 0.5, -0.4, -0.6, 0.3])
    z = (draws.mean(axis=0) - truth) / draws.std(axis=0)
    assert np.all(np.abs(z) < 4), z


def _data(seed=4):
    rng = np.random.default_rng(seed)
    J, size = 40, 12
    g = np.repeat(np.arange(J), size)
    x = rng.normal(size=g.size)
    eta = np.column_stack([np.zeros(g.size), 1.2 * x + rng.normal(scale=0.6, size=J)[g],
                           -1.0 * x])
    prob = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    y = (rng.random(g.size)[:, None] > np.cumsum(prob, axis=1)).sum(axis=1)
    df = pd.DataFrame({"g": g, "x": x,
                       "c": pd.Categorical.from_codes(y, ["red", "green", "blue", "never"])})
    df.loc[rng.random(g.size) < 0.3, "c"] = np.nan
    pred = pd.DataFrame(0, index=df.columns, columns=df.columns)
    pred.loc["c", ["g", "x"]] = [-2, 1]
    return df, pred


def test_two_level_polyreg_through_mice():
    df, pred = _data()
    imp = mm.mice(df, m=2, maxit=4, seed=3, method={"c": "2l.polyreg"}, predictor_matrix=pred)
    done = imp.complete(2)
    assert done["c"].dtype == df["c"].dtype and done["c"].notna().all()
    assert "never" not in set(done["c"].astype(str))
    miss = df["c"].isna()
    x = df.loc[miss, "x"]
    # green goes with high x, blue with low x
    assert x[done.loc[miss, "c"] == "green"].mean() > x[done.loc[miss, "c"] == "blue"].mean()


def test_state_makes_resuming_exact(tmp_path):
    df, pred = _data()
    spec = validate_spec(df, method={"c": "2l.polyreg"}, predictor_matrix=pred)
    long = run_chain(df, spec, chain=1, maxit=4, seed=5)
    assert {"1.beta", "2.psi_inv", "classes"} <= set(long.method_state["c"])
    short = run_chain(df, spec, chain=1, maxit=2, seed=5)
    short.to_files(tmp_path / "c1")
    resumed = continue_chain(ChainState.from_files(tmp_path / "c1", df), maxit=2)
    np.testing.assert_array_equal(resumed.values["c"], long.values["c"])

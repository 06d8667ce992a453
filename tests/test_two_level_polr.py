"""2l.polr: the ordinal probit Gibbs sampler with cluster random effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlmice as mm
from mlmice.impute.engine import continue_chain, run_chain
from mlmice.impute.errors import SpecError
from mlmice.impute.methods._two_level_design import _standardise
from mlmice.impute.methods.two_level_polr import (
    _cuts,
    gibbs_two_level_ordinal,
    truncated_normal,
)
from mlmice.impute.spec import validate_spec
from mlmice.impute.state import ChainState


def test_truncated_normal_matches_scipy():
    from scipy.stats import truncnorm

    rng = np.random.default_rng(0)
    n = 200_000
    for lo, hi in ((-np.inf, -1.0), (-0.5, 0.7), (2.0, np.inf), (6.0, 6.5), (-9.0, -8.0)):
        draws = truncated_normal(np.zeros(n), np.full(n, lo), np.full(n, hi), rng)
        assert np.all((draws >= lo) & (draws <= hi))
        mean, var = truncnorm.stats(lo, hi, moments="mv")
        # MC SE of the mean: sqrt(var / n) <= 0.0023; of the variance about 0.004
        assert abs(draws.mean() - mean) < 5 * np.sqrt(var / n) + 1e-12
        assert abs(draws.var() - var) < 0.02 * var + 1e-6


def test_sampler_recovers_the_model():
    # 4,000 pupils in 200 clusters: the posterior mean of every parameter within 4
    # posterior sds of the truth (the posterior sd from the chain itself)
    rng = np.random.default_rng(11)
    J, size = 200, 20
    g = np.repeat(np.arange(J), size)
    x = rng.normal(size=g.size)
    u = rng.normal(scale=np.sqrt(0.5), size=J)
    latent = -0.3 + 0.8 * x + u[g] + rng.normal(size=g.size)
    gamma = np.array([0.0, 0.9, 1.7])                 # gamma_0 = 0 identifies the intercept
    y = np.searchsorted(gamma, latent)
    X = np.column_stack([np.ones(g.size), x])
    Xs, center, scale = _standardise(X, np.ones(g.size, dtype=bool))
    Z = np.ones((g.size, 1))
    state, delta = gibbs_two_level_ordinal(Xs, Z, y, g, J, n_classes=4, rng=rng, n_iter=50,
                                           prior_sd=np.array([10.0, 2.5]))
    draws = []
    for _ in range(300):
        state, delta = gibbs_two_level_ordinal(Xs, Z, y, g, J, n_classes=4, rng=rng, n_iter=1,
                                               prior_sd=np.array([10.0, 2.5]), start=state,
                                               delta=delta)
        slope = state.beta[1] / scale[1]
        intercept = state.beta[0] - state.beta[1] * center[1] / scale[1]
        draws.append([intercept, slope, *_cuts(delta)[1:], 1.0 / state.psi_inv[0, 0]])
    draws = np.array(draws)
    truth = np.array([-0.3, 0.8, 0.9, 1.7, 0.5])
    z = (draws.mean(axis=0) - truth) / draws.std(axis=0)
    assert np.all(np.abs(z) < 4), z


def _data(seed=2):
    rng = np.random.default_rng(seed)
    J, size = 40, 12
    g = np.repeat(np.arange(J), size)
    x = rng.normal(size=g.size)
    latent = 0.9 * x + rng.normal(scale=0.7, size=J)[g] + rng.normal(size=g.size)
    o = pd.Categorical.from_codes(np.searchsorted([-0.5, 0.5, 1.5], latent),
                                  categories=["d", "c", "b", "a"], ordered=True)
    df = pd.DataFrame({"g": g, "x": x, "o": o})
    df.loc[rng.random(g.size) < 0.3, "o"] = np.nan
    pred = pd.DataFrame(0, index=df.columns, columns=df.columns)
    pred.loc["o", ["g", "x"]] = [-2, 2]                # a random slope of x
    return df, pred


def test_two_level_polr_through_mice():
    df, pred = _data()
    imp = mm.mice(df, m=2, maxit=4, seed=3, method={"o": "2l.polr"}, predictor_matrix=pred)
    done = imp.complete(2)
    assert done["o"].dtype == df["o"].dtype and done["o"].notna().all()
    miss = df["o"].isna()
    # the order is the categories' ("d" < "c" < "b" < "a"), not the alphabet's
    assert np.corrcoef(done.loc[miss, "o"].cat.codes, df.loc[miss, "x"])[0, 1] > 0.4
    assert imp.logged_events.empty


def test_state_makes_resuming_exact(tmp_path):
    df, pred = _data()
    spec = validate_spec(df, method={"o": "2l.polr"}, predictor_matrix=pred)
    long = run_chain(df, spec, chain=1, maxit=4, seed=5)
    assert set(long.method_state["o"]) >= {"beta", "b", "psi_inv", "delta", "classes"}
    short = run_chain(df, spec, chain=1, maxit=2, seed=5)
    short.to_files(tmp_path / "c1")
    resumed = continue_chain(ChainState.from_files(tmp_path / "c1", df), maxit=2)
    np.testing.assert_array_equal(resumed.values["o"], long.values["o"])


def test_one_observed_category_and_errors():
    df, pred = _data()
    df["k"] = pd.Categorical(["only"] * len(df))
    df.loc[:5, "k"] = np.nan
    pred = pred.reindex(index=df.columns, columns=df.columns, fill_value=0)
    pred.loc["k", ["g", "x"]] = [-2, 1]
    imp = mm.mice(df, m=1, maxit=1, seed=1, method={"o": "2l.polr", "k": "2l.polr"},
                  predictor_matrix=pred)
    assert (imp.complete(1)["k"] == "only").all()
    with pytest.raises(SpecError, match="o: method 2l.polr has no option .sweeps. .its options: "
                                        "n_iter, n_warm."):
        mm.mice(df, m=1, maxit=1, method={"o": "2l.polr"}, predictor_matrix=pred,
                method_options={"o": {"sweeps": 3}})


def test_simulate_tracks():
    from mlmice.simulate_categorical import TRACKS_MODEL, tracks_truth

    a = mm.simulate_tracks(30, 8, seed=4)
    b = mm.simulate_tracks(30, 8, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 240 and a["track"].cat.ordered and not a["school"].cat.ordered
    assert list(a["track"].cat.categories) == ["low", "middle", "high", "top"]
    assert (a.groupby("cluster_id")["school"].nunique() == 1).all()   # a school variable
    fit = mm.lmer(TRACKS_MODEL, data=mm.simulate_tracks(300, 15, seed=5), reml=False)
    est = fit.tidy().set_index("term")["estimate"]
    truth = tracks_truth()
    for term in ("trackmiddle", "trackhigh", "tracktop", "x", "schoolvocational"):
        assert abs(est[term] - truth[term]) < 0.12, term   # 4,500 pupils: SEs about 0.04

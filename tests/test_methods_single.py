"""Single-level methods: norm, pmm, mean (their conditional distributions)."""

from __future__ import annotations

import numpy as np
import pytest

from mlmice.impute.methods.base import MethodInput, get_method, redundant_columns
from mlmice.impute.methods.norm import bayes_linear_draw, with_intercept
from mlmice.impute.methods.pmm import pmm_match


def _input(x, y, ry, **kw):
    return MethodInput(variable="y", y=y, ry=ry, wy=~ry, x=x.reshape(len(y), -1),
                       names=tuple(f"x{k}" for k in range(x.reshape(len(y), -1).shape[1])),
                       codes=np.ones(x.reshape(len(y), -1).shape[1], dtype=int), **kw)


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(1)
    n = 25
    x = rng.normal(size=n)
    y = 1.0 + 2.0 * x + rng.normal(scale=0.5, size=n)
    return x, y


def test_bayes_draw_matches_posterior_moments(small):
    # Rubin (1987, p. 167): SSR / sigma*^2 ~ chi2(n - p); beta* | sigma* ~ N(beta_hat, sigma*^2 V)
    x, y = small
    X = with_intercept(x)
    n, p = X.shape
    V = np.linalg.inv(X.T @ X)
    beta_ols = V @ X.T @ y
    ssr = np.sum((y - X @ beta_ols) ** 2)
    rng = np.random.default_rng(2)
    reps = 4000
    draws = [bayes_linear_draw(X, y, rng) for _ in range(reps)]
    beta_hat = draws[0].beta_hat
    np.testing.assert_allclose(beta_hat, beta_ols, rtol=1e-4)  # ridge 1e-5 shrinks slightly
    chi = np.array([ssr / d.sigma_star**2 for d in draws])
    # mean of chi2(df) is df, sd sqrt(2 df); MC se of the mean = sqrt(2 df / reps)
    df = n - p
    assert abs(chi.mean() - df) < 4 * np.sqrt(2 * df / reps)
    # standardised beta* given sigma*: z = R (beta* - beta_hat) / sigma* ~ N(0, I)
    R = np.linalg.cholesky(X.T @ X).T
    z = np.array([R @ (d.beta_star - d.beta_hat) / d.sigma_star for d in draws])
    assert np.all(np.abs(z.mean(axis=0)) < 4 / np.sqrt(reps))
    np.testing.assert_allclose(np.cov(z.T), np.eye(p), atol=4 * np.sqrt(2 / reps))


def test_norm_imputation_is_posterior_predictive(small):
    # y_mis | data ~ t_{n-p}(x0'b, s^2 (1 + x0'V x0)); variance = s^2 (1 + x0'V x0) df/(df-2)
    x, y = small
    x = np.append(x, 1.5)
    y = np.append(y, np.nan)
    ry = ~np.isnan(y)
    X = with_intercept(x[ry])
    n, p = X.shape
    V = np.linalg.inv(X.T @ X)
    b = V @ X.T @ y[ry]
    s2 = np.sum((y[ry] - X @ b) ** 2) / (n - p)
    x0 = np.array([1.0, 1.5])
    mean = x0 @ b
    var = s2 * (1 + x0 @ V @ x0) * (n - p) / (n - p - 2)
    method = get_method("norm")
    rng = np.random.default_rng(3)
    reps = 4000
    data = _input(x, np.where(ry, y, 0.0), ry)
    draws = np.array([method.impute(data, rng).values[0] for _ in range(reps)])
    assert abs(draws.mean() - mean) < 4 * np.sqrt(var / reps)
    # se of the sample variance of t_df draws (kurtosis 3 + 6/(df-4)) is var*sqrt((2+6/(df-4))/reps)
    assert abs(draws.var() / var - 1) < 4 * np.sqrt((2 + 6 / (n - p - 4)) / reps)


def test_pmm_match_picks_among_the_nearest_donors():
    rng = np.random.default_rng(4)
    yhat_obs = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    y_obs = yhat_obs * 10
    # donors = 1: the nearest
    got = pmm_match(yhat_obs, np.array([2.2, 8.9, -5.0, 100.0]), y_obs, rng, donors=1)
    np.testing.assert_array_equal(got, [20.0, 90.0, 0.0, 90.0])
    # donors = 3 around 4.1: {3, 4, 5}; each chosen about a third of the time
    picks = pmm_match(yhat_obs, np.full(3000, 4.1), y_obs, rng, donors=3)
    values, counts = np.unique(picks, return_counts=True)
    np.testing.assert_array_equal(values, [30.0, 40.0, 50.0])
    # binomial(3000, 1/3): sd ~ 26
    assert np.all(np.abs(counts - 1000) < 4 * 26)
    # at the edge: 5 nearest of 0.1 are 0..4
    assert set(pmm_match(yhat_obs, np.full(500, 0.1), y_obs, rng, donors=5)) == {
        0.0, 10.0, 20.0, 30.0, 40.0}
    # more donors than observed values
    assert set(pmm_match(yhat_obs[:2], np.zeros(200), y_obs[:2], rng, donors=5)) == {0.0, 10.0}


def test_pmm_match_breaks_ties_at_random():
    rng = np.random.default_rng(5)
    yhat_obs = np.zeros(20)
    y_obs = np.arange(20.0)
    # with ties everywhere every donor must be reachable: the order among tied donors is
    # shuffled once per call (as mice's matcher does)
    picks = {pmm_match(yhat_obs, np.zeros(1), y_obs, rng, donors=5)[0] for _ in range(400)}
    assert picks == set(y_obs)


def test_pmm_imputes_observed_values_and_follows_the_regression(small):
    x, y = small
    rng = np.random.default_rng(6)
    xx = np.concatenate([x, [-2.0, 2.0]])
    yy = np.concatenate([y, [0.0, 0.0]])
    ry = np.arange(xx.size) < x.size
    res = get_method("pmm").impute(_input(xx, yy, ry), rng)
    assert np.isin(res.values, y).all()
    many = np.array([get_method("pmm").impute(_input(xx, yy, ry), rng).values
                     for _ in range(300)])
    assert many[:, 0].mean() < many[:, 1].mean() - 3   # slope 2 over a distance of 4


def test_pmm_donors_option(small):
    x, y = small
    xx = np.concatenate([x, [0.0]])
    yy = np.concatenate([y, [0.0]])
    ry = np.arange(xx.size) < x.size
    rng = np.random.default_rng(7)
    one = {get_method("pmm").impute(_input(xx, yy, ry, options={"donors": 1}), rng).values[0]
           for _ in range(200)}
    five = {get_method("pmm").impute(_input(xx, yy, ry), rng).values[0] for _ in range(200)}
    assert len(one) < len(five) <= 8


def test_mean_method(small):
    x, y = small
    yy = np.concatenate([y, [0.0, 0.0]])
    ry = np.arange(yy.size) < y.size
    res = get_method("mean").impute(_input(np.concatenate([x, [0, 0]]), yy, ry),
                                    np.random.default_rng(0))
    np.testing.assert_array_equal(res.values, [y.mean(), y.mean()])


def test_redundant_columns():
    rng = np.random.default_rng(8)
    a = rng.normal(size=50)
    b = rng.normal(size=50)
    x = np.column_stack([a, np.full(50, 3.0), b, 2 * a - b + 1, rng.normal(size=50)])
    assert redundant_columns(x) == [(1, "constant"), (3, "collinear")]
    y = a * 5 + 1e-3 * rng.normal(size=50)
    assert redundant_columns(x, y)[0] == (0, "correlates > 0.99 with the target")
    assert redundant_columns(np.empty((10, 0))) == []


@pytest.mark.parametrize("method", ["pmm", "norm"])
def test_pooled_results_agree_with_r_mice_on_nhanes(method):
    """mice(nhanes, m = 200, maxit = 20, method = <method>, seed = 1) in R (tests/r/
    mice_single_level.R) against ours with m = 100, maxit = 10.

    Pooled estimates are Monte Carlo averages, Qbar_ours - Qbar_R ~ N(0, b (1/100 + 1/200))
    with b R's between-imputation variance: bound 4 standard errors (8 comparisons).
    Between-imputation variances: log(b_ours / b_R) has sd about sqrt(2/99 + 2/199) = 0.17;
    bound 4 sd (a method without parameter draws would fall below it). Development runs
    with 9 seeds gave |z| <= 2.3 and ratios 0.8-1.14; seven R seeds spread as much.
    """
    import json
    from pathlib import Path

    import pandas as pd

    from mlmice.impute.sampler import mice

    ref = json.loads((Path(__file__).parent / "r" / "mice_single_level.json").read_text())
    df = pd.DataFrame({k: np.array([np.nan if v is None else v for v in vals], dtype=float)
                       for k, vals in ref["data"].items()})
    m = 100
    imp = mice(df, m=m, maxit=10, method={"bmi": method, "hyp": method, "chl": method}, seed=7)
    coefs, means = [], []
    for _, d in imp.complete("long").groupby(".imp"):
        X = np.column_stack([np.ones(len(d)), d.age, d.bmi])
        coefs.append(np.linalg.lstsq(X, d.chl.to_numpy(), rcond=None)[0])
        means.append(d.bmi.mean())
    ours = np.column_stack([coefs, means])
    r = ref["results"][method]
    rows = r["lm"] + [r["bmi_mean"]]
    for k, row in enumerate(rows):
        q, b = ours[:, k].mean(), ours[:, k].var(ddof=1)
        assert abs(q - row["estimate"]) < 4 * np.sqrt(row["b"] * (1 / m + 1 / 200)), (k, q)
        assert abs(np.log(b / row["b"])) < 4 * np.sqrt(2 / (m - 1) + 2 / 199), (k, b / row["b"])

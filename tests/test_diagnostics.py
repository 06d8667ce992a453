"""mlmice.diagnostics against R (mice 3.15.0, posterior 1.4.0).

Reference numbers: tests/r/diagnostics.R wrote tests/r/diagnostics.json
(``Rscript tests/r/diagnostics.R ../shared/data tests/r/diagnostics.json``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from mlmice.diagnostics import (
    autocorrelation_lag1,
    flux,
    imputed_long,
    md_pattern,
    rank_rhat,
    rhat,
    trace_frame,
)

R_JSON = Path(__file__).resolve().parent / "r" / "diagnostics.json"


@pytest.fixture(scope="module")
def ref():
    with open(R_JSON) as fh:
        return json.load(fh)


def synthetic_trace(*, n_iter: int, m: int, drift: float, seed: int,
                    variables=("x", "y")) -> pd.DataFrame:
    """Chains of iid normal statistics plus a linear drift per iteration."""
    rng = np.random.default_rng(seed)
    rows = []
    for var in variables:
        for c in range(1, m + 1):
            it = np.arange(1, n_iter + 1)
            mean = drift * it + rng.normal(0.0, 1.0, n_iter)
            sd = 1.0 + drift * it + rng.normal(0.0, 0.1, n_iter)
            rows.append(pd.DataFrame({"iteration": it, "chain": c, "variable": var,
                                      "mean": mean, "sd": sd}))
    return pd.concat(rows, ignore_index=True)


# -- md.pattern and flux --------------------------------------------------

def test_md_pattern_equals_mice(popular_mar, ref):
    # R: md.pattern(popular_MAR, plot = FALSE)
    r = ref["md_pattern"]
    got = md_pattern(popular_mar)
    assert list(got.columns) == r["columns"] + ["n_missing"]
    assert list(got.index[:-1]) == r["counts"]
    assert got.index[-1] == "total"
    assert_array_equal(got.to_numpy(), np.array(r["table"]))


def test_md_pattern_small_and_errors():
    df = pd.DataFrame({"a": [1.0, np.nan, 3.0, np.nan], "b": [1.0, 2.0, np.nan, np.nan],
                       "c": [1.0, 2.0, 3.0, 4.0]})
    got = md_pattern(df)
    # c (0 missing) first, then a and b (2 each, data order)
    assert list(got.columns) == ["c", "a", "b", "n_missing"]
    assert_array_equal(got.to_numpy(), [[1, 1, 1, 0], [1, 1, 0, 1], [1, 0, 1, 1],
                                        [1, 0, 0, 2], [0, 2, 2, 4]])
    with pytest.raises(ValueError, match="at least 2"):
        md_pattern(df[["a"]])
    with pytest.raises(TypeError, match="DataFrame"):
        md_pattern(df.to_numpy())


def test_flux_equals_mice(popular_mar, ref):
    # R: flux(popular_MAR); R's arithmetic is the same, so agreement is to rounding
    r = ref["flux"]
    got = flux(popular_mar)
    assert list(got.index) == r["variable"]
    for col in ("pobs", "influx", "outflux", "ainb", "aout", "fico"):
        assert_allclose(got[col].to_numpy(), r[col], rtol=1e-12, atol=1e-15, err_msg=col)
    local = flux(popular_mar, local=["popularity_ij", "gender_ij"])
    assert list(local.index) == ["popularity_ij", "gender_ij"]
    with pytest.raises(KeyError, match="nope"):
        flux(popular_mar, local=["nope"])


# -- R-hat and autocorrelation ---------------------------------------------

def test_rank_rhat_equals_posterior(ref):
    # R: posterior::rhat(x), autocorrelation(x[, j])[2] on the same draws;
    # only floating-point rounding separates the two computations
    for case in ref["rhat"]:
        x = np.array(case["draws"], dtype=float)
        assert_allclose(rank_rhat(x), case["rhat"], rtol=0, atol=1e-10, err_msg=case["name"])
        assert_allclose(autocorrelation_lag1(x), case["ac1"], rtol=0, atol=1e-10,
                        err_msg=case["name"])


def test_rank_rhat_edge_cases():
    assert np.isnan(rank_rhat(np.ones((10, 4))))
    x = np.random.default_rng(1).normal(size=(10, 4))
    x[3, 2] = np.nan
    assert np.isnan(rank_rhat(x))
    assert_array_equal(autocorrelation_lag1(np.ones((5, 2))), [0.0, 0.0])
    with pytest.raises(ValueError, match="iterations, chains"):
        rank_rhat(np.ones((2, 2, 2)))


def test_rhat_flags_trend_but_not_well_mixed_chains():
    mixed = synthetic_trace(n_iter=100, m=20, drift=0.0, seed=11)
    trend = synthetic_trace(n_iter=20, m=5, drift=0.1, seed=12)
    res_mixed = rhat(mixed)
    res_trend = rhat(trend)
    assert list(res_mixed.columns) == ["variable", "statistic", "n_iterations", "n_chains",
                                       "rhat", "autocorrelation", "slope", "trend_pvalue",
                                       "flag"]
    assert len(res_mixed) == 4 and set(res_mixed["statistic"]) == {"mean", "sd"}
    assert not res_mixed["flag"].any()
    assert (res_mixed["rhat"] < 1.01).all()
    assert res_trend["flag"].all()
    assert (res_trend["rhat"] > 1.1).all()
    assert (res_trend["trend_pvalue"] < 0.01).all()
    assert_allclose(res_trend["slope"], 0.1, atol=0.05)
    # the trend alone (chains mixed between them) raises the flag too
    res = rhat(trend, threshold=10.0)
    assert res["flag"].all()


def test_rhat_matches_rank_rhat_per_cell_and_window():
    tr = synthetic_trace(n_iter=12, m=3, drift=0.0, seed=3, variables=("v",))
    res = rhat(tr, window=(5, 12)).set_index("statistic")
    wide = tr[tr["iteration"] >= 5].pivot(index="iteration", columns="chain", values="sd")
    assert res.loc["sd", "n_iterations"] == 8 and res.loc["sd", "n_chains"] == 3
    assert res.loc["sd", "rhat"] == rank_rhat(wide.to_numpy())
    assert_allclose(res.loc["sd", "autocorrelation"],
                    autocorrelation_lag1(wide.to_numpy()).mean())
    assert (rhat(tr, window=8)["n_iterations"] == 8).all()


def test_rhat_nan_statistic_does_not_flag_and_errors_name_the_problem():
    tr = synthetic_trace(n_iter=10, m=3, drift=0.0, seed=4, variables=("one",))
    tr["sd"] = np.nan            # a variable with one imputed value has no sd
    res = rhat(tr, threshold=100.0, alpha=1e-12).set_index("statistic")
    assert np.isnan(res.loc["sd", "rhat"]) and not res["flag"].any()
    with pytest.raises(KeyError, match="nope"):
        rhat(tr, variables=["nope"])
    with pytest.raises(ValueError, match="window == 1"):
        rhat(tr, window=1)
    with pytest.raises(ValueError, match="missing column"):
        rhat(tr.drop(columns="sd"))
    with pytest.raises(ValueError, match="chain 1, iteration 1"):
        trace_frame(pd.concat([tr, tr.iloc[:1]]))


def test_duck_typed_mids():
    tr = synthetic_trace(n_iter=10, m=3, drift=0.0, seed=5)

    class FakeMids:
        trace = tr

    assert_array_equal(rhat(FakeMids())["rhat"], rhat(tr)["rhat"])


def test_imputed_long_from_r_csv(shared_reference, popular_mar):
    long = pd.read_csv(shared_reference / "mice_completed_long.csv")
    with pytest.raises(ValueError, match="1-based"):
        imputed_long(long, where=popular_mar.isna())
    long[".id"] -= 1
    got, where = imputed_long(long, where=popular_mar.isna())
    assert sorted(got[".imp"].unique()) == [1, 2, 3, 4, 5]
    assert where.shape == popular_mar.shape
    with pytest.raises(ValueError, match="where= is required"):
        imputed_long(long)


def test_trace_variables_selects_in_the_given_order():
    from mlmice.diagnostics import trace_variables

    tr = trace_frame(synthetic_trace(n_iter=3, m=2, drift=0.0, seed=5, variables=("b", "a")))
    assert trace_variables(tr, None) == ["b", "a"]          # the trace's order
    assert trace_variables(tr, "a") == ["a"]
    assert trace_variables(tr, ("a", "b")) == ["a", "b"]
    with pytest.raises(KeyError, match=r"variables \['c'\] are not in the trace \(it has "
                                       r"\['b', 'a'\]\)"):
        trace_variables(tr, ["a", "c"])


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9])
def test_ess_bulk_of_ar1_chains_is_the_theoretical_value(rho):
    # AR(1) chains started in their stationary distribution: ESS = N M (1 - rho)/(1 + rho).
    # With N = 20,000 the estimator's relative sd is about 2 % (rho = 0.9); the test
    # allows 8 %, and a chain treated as independent (ESS N M) fails it for rho > 0.
    from mlmice.diagnostics.convergence import ess_bulk

    rng = np.random.default_rng(7)
    n, m = 20_000, 4
    e = rng.normal(size=(n, m))
    x = np.empty((n, m))
    x[0] = e[0] / np.sqrt(1 - rho**2)
    for t in range(1, n):
        x[t] = rho * x[t - 1] + e[t]
    assert ess_bulk(x) == pytest.approx(n * m * (1 - rho) / (1 + rho), rel=0.08)
    assert np.isnan(ess_bulk(np.ones((20, 2))))


def test_average_ranks_equal_scipy_rankdata():
    from scipy.stats import rankdata

    from mlmice.diagnostics.convergence import average_ranks

    rng = np.random.default_rng(3)
    cases = [rng.normal(size=(20, 4)), rng.integers(0, 5, size=(30, 3)).astype(float),
             np.ones((5, 2)), np.array([[2.0]]), np.array([[1.0, 1.0], [0.0, 3.0]])]
    for x in cases:
        np.testing.assert_array_equal(average_ranks(x),
                                      rankdata(x, method="average", axis=None).reshape(x.shape))

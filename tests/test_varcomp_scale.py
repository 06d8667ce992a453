"""Pooling variance components on the log scale (``varcomp_scale="log"``).

Each rule of :mod:`mlmice.pooling.varcomp` is checked on hand-made fits whose
per-imputation values are known: geometric means of the variances, Fisher-z
means of the correlations times the pooled SDs, the ICC from the pooled
components (= the inverse logit of the mean logit ICC), and each fall-back
(a variance at 0, a correlation of +-1, Fisher-z correlations that are not
positive semi-definite) with the warning that names it. The statistical case
for the scale is a simulation (docs/validity.md), not a unit test.
"""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from mlmice.pooling import pooled_table, test_estimates
from mlmice.pooling.varcomp import pooled_misc_parameters


def _fit(tau00: float, tau11: float, tau01: float, sigma2: float):
    vc = pd.DataFrame({"grp": ["g", "g", "g", "Residual"],
                       "var1": ["(Intercept)", "x", "(Intercept)", None],
                       "var2": [None, None, "x", None],
                       "vcov": [tau00, tau11, tau01, sigma2]})
    return types.SimpleNamespace(varcorr=vc)


VALUES = np.array([  # tau00, tau11, tau01, sigma2 per imputation
    [2.0, 0.010, -0.05, 4.0],
    [2.5, 0.030, -0.12, 3.8],
    [1.8, 0.004, -0.02, 4.2],
    [2.2, 0.060, -0.25, 4.1],
])


def test_log_scale_rules():
    fits = [_fit(*row) for row in VALUES]
    raw = pooled_misc_parameters(fits)
    log = pooled_misc_parameters(fits, scale="log")
    assert list(log.index) == list(raw.index)
    assert_allclose(raw["x~~x|g"], VALUES[:, 1].mean())
    geo = np.exp(np.log(VALUES[:, [0, 1, 3]]).mean(axis=0))
    assert_allclose(log["Intercept~~Intercept|g"], geo[0], rtol=1e-14)
    assert_allclose(log["x~~x|g"], geo[1], rtol=1e-14)
    assert_allclose(log["Residual~~Residual"], geo[2], rtol=1e-14)
    r = VALUES[:, 2] / np.sqrt(VALUES[:, 0] * VALUES[:, 1])
    assert_allclose(log["Intercept~~x|g"],
                    np.tanh(np.arctanh(r).mean()) * np.sqrt(geo[0] * geo[1]), rtol=1e-14)
    icc = VALUES[:, 0] / (VALUES[:, 0] + VALUES[:, 3])
    logit = np.log(icc / (1 - icc)).mean()
    assert_allclose(log["ICC|g"], 1 / (1 + np.exp(-logit)), rtol=1e-12)
    # the skewed slope variance: its geometric mean is well below its mean
    assert log["x~~x|g"] < 0.8 * raw["x~~x|g"]


def test_a_constant_variance_is_unchanged_by_the_scale():
    fits = [_fit(2.0, 0.02, -0.1, 4.0) for _ in range(3)]
    assert_allclose(pooled_misc_parameters(fits, scale="log").to_numpy(),
                    pooled_misc_parameters(fits).to_numpy(), rtol=1e-14)


def test_boundary_variance_falls_back_to_the_mean_and_warns():
    rows = VALUES.copy()
    rows[1, 1] = rows[1, 2] = 0.0          # lme4's boundary fit: slope variance 0
    fits = [_fit(*row) for row in rows]
    with pytest.warns(UserWarning, match=r"x~~x\|g: 1 of 4 imputations estimate it at 0"):
        log = pooled_misc_parameters(fits, scale="log")
    assert_allclose(log["x~~x|g"], rows[:, 1].mean())
    assert_allclose(log["Intercept~~Intercept|g"], np.exp(np.log(rows[:, 0]).mean()))
    # the zero variance's correlation counts as 0; the covariance stays a valid one
    assert abs(log["Intercept~~x|g"]) <= np.sqrt(log["Intercept~~Intercept|g"] * log["x~~x|g"])


def test_singular_correlation_falls_back_to_the_mean_correlation():
    rows = VALUES.copy()
    rows[0, 2] = -np.sqrt(rows[0, 0] * rows[0, 1])      # correlation -1
    fits = [_fit(*row) for row in rows]
    with pytest.warns(UserWarning, match=r"Intercept~~x\|g: a correlation of \+-1"):
        log = pooled_misc_parameters(fits, scale="log")
    r = rows[:, 2] / np.sqrt(rows[:, 0] * rows[:, 1])
    geo = np.exp(np.log(rows[:, [0, 1]]).mean(axis=0))
    assert_allclose(log["Intercept~~x|g"], r.mean() * np.sqrt(geo.prod()), rtol=1e-12)


def _three_effects(corr: np.ndarray):
    names = ["(Intercept)", "x", "z"]
    rows = [("g", a, None, 1.0) for a in names]
    rows += [("g", names[i], names[j], corr[i, j]) for j in range(3) for i in range(j)]
    rows.append(("Residual", None, None, 1.0))
    return types.SimpleNamespace(varcorr=pd.DataFrame(rows, columns=["grp", "var1", "var2",
                                                                     "vcov"]))


def test_non_positive_definite_fisher_means_fall_back_to_mean_correlations():
    # two valid correlation matrices whose elementwise Fisher-z mean is not one
    a = np.array([[1, 0.999, 0.999], [0.999, 1, 0.9975], [0.999, 0.9975, 1]])
    b = np.array([[1, -0.2, 0.2], [-0.2, 1, -0.98], [0.2, -0.98, 1]])
    for mat in (a, b):
        assert np.linalg.eigvalsh(mat).min() > 0
    off = ~np.eye(3, dtype=bool)
    z = np.eye(3)
    z[off] = np.tanh((np.arctanh(a[off]) + np.arctanh(b[off])) / 2)
    assert np.linalg.eigvalsh(z).min() < 0          # the case the fall-back is for
    with pytest.warns(UserWarning, match="not form a positive semi-definite matrix"):
        log = pooled_misc_parameters([_three_effects(a), _three_effects(b)], scale="log")
    assert_allclose(log["Intercept~~x|g"], (a[0, 1] + b[0, 1]) / 2)
    assert_allclose(log["x~~z|g"], (a[1, 2] + b[1, 2]) / 2)


def test_unknown_scale_is_refused_everywhere():
    fits = [_fit(*row) for row in VALUES]
    with pytest.raises(ValueError, match=r"scale == 'geometric'.*\['raw', 'log'\]"):
        pooled_misc_parameters(fits, scale="geometric")
    with pytest.raises(ValueError, match=r"varcomp_scale == 'logs'"):
        test_estimates(estimates=[[1.0], [2.0]], covariances=[[1.0], [1.0]],
                       varcomp_scale="logs")


def test_lmer_fits_through_the_public_functions():
    import mlmice as mm
    data = mm.simulate_popularity(n_clusters=30, cluster_size=10, seed=5).data
    formula = "popularity_ij ~ extraversion_ij + (1 + extraversion_ij | cluster_id)"
    fits = [mm.lmer(formula, data=data.sample(frac=1, replace=True, random_state=i)
                    .reset_index(drop=True), reml=False) for i in range(3)]
    expected = pooled_misc_parameters(fits, scale="log")
    table = pooled_table(fits, varcomp_scale="log")
    extra = table[table["kind"] == "extra_par"].set_index("term")["estimate"]
    assert_allclose(extra.to_numpy(), expected.to_numpy(), rtol=1e-14)
    mitml = test_estimates(fits, varcomp_scale="log").extra_pars["Estimate"]
    assert_allclose(mitml.to_numpy(), expected.to_numpy(), rtol=1e-14)
    raw = test_estimates(fits).extra_pars["Estimate"]
    assert not np.allclose(raw.to_numpy(), expected.to_numpy(), rtol=1e-8)

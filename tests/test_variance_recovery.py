"""Variance components after imputation against the complete data, over 200 replicates.

The validity standard asks that a 10 % error in a variance component fail a test. The
R oracle (``test_oracle_two_level.py``, 50 data sets) cannot: the MC SE of its
slope-variance comparison is 5.7 %. This module can, in about 20 seconds per method,
on the case where the 10 % target applies (docs/validity.md): cluster slopes reliable
enough that the report raises no flag, and a congenial imputation model.

Design (``bench/slope_reliability.py`` with sigma2 = 1): 100 classes of 20 pupils,
``popularity ~ gender + extraversion + experience + (1 + extraversion | class)`` with
slope variance 0.0846, intercept variance 16.3, covariance 0 and residual variance 1;
mean slope reliability tau / (tau + sigma2 / SS_x) = 0.66 (the report flags below 0.3).
The outcome alone is missing, completely at random, in 25 % of the rows; it is imputed
(m = 5) by 2l.smc with the analysis model as substantive model and by 2l.pan with
extraversion's random slope (code 4), both then the analysis model itself.

Criterion: per replicate r the pooled component minus the complete-data ML estimate,
d_r; its mean over R = 200 replicates relative to the complete data's mean (the
covariance, whose value is 0, in correlation units: divided by the mean of
sqrt(tau_00 tau_11), as docs/validity.md reports it), with MC SE sd(d) / sqrt(R) on the
same scale. Measured at the default prior (MC SE in brackets, %): 2l.smc intercept
variance -0.3 (0.3), slope variance +0.2 (0.9), covariance +0.3 (0.5), residual +0.1
(0.2). The bound is 4 %: a method that is right passes by more than 4 MC SEs, and a
10 % error fails by more than 6 MC SEs. For scale: R's raw-unit identity prior
(``prior="mice"``) puts the slope variance at +4.1 % (0.8) here, on the bound, and mlmice
0.1's prior on the standardised outcome gave +103 % in the validity study. 2l.pan with
the default prior (measured: slope variance +0.4 %, MC SE 0.9) is held to the same
bound. Both poolings are checked (mitml's plain average and ``varcomp_scale="log"``).
Fixed seeds: deterministic.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import mlmice as mm
from mlmice.simulate import PopularityParams

pytestmark = pytest.mark.slow

FORMULA = ("popularity_ij ~ gender_ij + extraversion_ij + experience_j"
           " + (1 + extraversion_ij | cluster_id)")
COMPONENTS = ("Intercept~~Intercept|cluster_id", "extraversion_ij~~extraversion_ij|cluster_id",
              "Intercept~~extraversion_ij|cluster_id", "Residual~~Residual")
PARAMS = dataclasses.replace(PopularityParams(), gamma=[-7.26, 7.44, 4.818, 1.356, 0.0],
                             tau_intercept=16.3, tau_slope=0.0846, tau_cov=0.0, sigma2=1.0,
                             alpha=[0.77, 0.1095, 0.417, 0.143])
REPLICATES = 200
BOUND = 0.04


def _arm(method: str, columns) -> dict:
    if method == "2l.smc":
        return {"method": {"popularity_ij": "2l.smc"},
                "method_options": {"popularity_ij": {"model": FORMULA}}}
    pred = pd.DataFrame(0, index=columns, columns=columns)
    pred.loc["popularity_ij", ["cluster_id", "gender_ij", "extraversion_ij", "experience_j"]] = \
        [-2, 1, 4, 1]
    return {"method": {"popularity_ij": method}, "predictor_matrix": pred}


def _components(fit) -> np.ndarray:
    return fit.varcorr["vcov"].to_numpy()


def _replicate(r: int, method: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    data = mm.simulate_popularity(n_clusters=100, cluster_size=20, seed=r, params=PARAMS).data
    complete = _components(mm.lmer(FORMULA, data=data, reml=False))
    missing = np.random.default_rng([r, 1]).random(len(data)) < 0.25
    incomplete = data.copy()
    incomplete.loc[missing, "popularity_ij"] = np.nan
    imp = mm.mice(incomplete, m=5, maxit=1, seed=r, cluster="cluster_id",
                  **_arm(method, incomplete.columns))
    fits = imp.fit(FORMULA, reml=False)
    pooled = {scale: mm.test_estimates(fits, extra_pars=True, varcomp_scale=scale)
              .extra_pars["Estimate"][list(COMPONENTS)].to_numpy()
              for scale in ("raw", "log")}
    return complete, pooled


@pytest.fixture(scope="module", params=["2l.smc", "2l.pan"])
def replicates(request):
    runs = [_replicate(r, request.param) for r in range(REPLICATES)]
    complete = np.array([c for c, _ in runs])
    pooled = {s: np.array([p[s] for _, p in runs]) for s in ("raw", "log")}
    return request.param, complete, pooled


def paired_relative_bias(pooled: np.ndarray, complete: np.ndarray):
    """Mean of pooled - complete over replicates, relative, and its MC SE (columns as
    COMPONENTS; the covariance in correlation units)."""
    d = pooled - complete
    scale = complete.mean(axis=0)
    scale[2] = np.sqrt(complete[:, 0] * complete[:, 1]).mean()
    return d.mean(axis=0) / scale, d.std(axis=0, ddof=1) / np.sqrt(len(d)) / scale


@pytest.mark.parametrize("scale", ["raw", "log"])
def test_every_variance_component_within_4_percent_of_the_complete_data(replicates, scale):
    method, complete, pooled = replicates
    rel, mcse = paired_relative_bias(pooled[scale], complete)
    table = pd.DataFrame({"relative bias": rel, "MC SE": mcse}, index=COMPONENTS)
    print(f"\n{method}, {scale} pooling, {REPLICATES} replicates:\n{table.round(4)}")
    # the bound separates right from a 10 % error only if the MC error is small
    assert np.all(mcse < 0.01), table
    assert np.all(np.abs(rel) < BOUND), table

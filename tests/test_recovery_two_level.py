"""Recovery test of the two-level continuous methods through the sampler (issue 6).

Data: ``simulate_popularity`` with a random-intercept truth (no random slope,
no cross-level interaction), 50 classes of 20 pupils, seed 3. MAR amputation
with ``ampute`` (prop 0.5, two patterns: popularity missing, extraversion
missing; weights on the other variables, so missingness depends on gender,
experience, assessment and the other incomplete variable): about 24 % of
popularity and 26 % of extraversion missing. Both are imputed with the method
under test (m = 20, maxit = 5, seed 11), popularity from gender, extraversion,
experience and assessment, extraversion from the same with popularity; level-1
predictors with code 3 (fixed effect plus cluster mean, which makes the
random-intercept imputation models compatible with each other), gender and
experience with code 1.

Analysis: ``popularity ~ gender + extraversion + experience + (1 | class)`` by
ML on every completed data set and on the complete data.

Criterion and tolerance. For proper imputations the pooled estimate
:math:`\\bar Q_m` differs from the complete-data estimate by the missing
information plus Monte Carlo error: :math:`\\bar Q_m - Q_{com} \\approx N(0, B
(1 + 1/m))`, with :math:`B` the between-imputation variance (Rubin 1987, ch.
3). The test requires :math:`|\\bar Q_m - Q_{com}| < 4 \\sqrt{B (1 + 1/m)}` for
each fixed effect and for the two variance components (whose pooled value is
their average over imputations, as mitml's ``testEstimates``). With B
estimated on m - 1 = 19 degrees of freedom the ratio is about t_19: a single
comparison exceeds 4 with probability 8e-4, all 24 together (not independent)
with less than 2 %. Over 12 data seeds the ratios of 2l.pan had mean within
+-0.7 and sd 0.8-1.2 per parameter (calibrated), so the bound is not loose
for a proper method; a method that ignores the clustering (e.g. ``norm``)
fails it on the intercept variance. The seed is fixed, so the test is
deterministic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlmice as mm
from mlmice.simulate import PopularityParams

FORMULA = "popularity_ij ~ gender_ij + extraversion_ij + experience_j + (1 | cluster_id)"
TARGETS = ("popularity_ij", "extraversion_ij")
PREDICTORS = ("popularity_ij", "gender_ij", "extraversion_ij", "experience_j", "assessment_ij")
M = 20


@pytest.fixture(scope="module")
def problem():
    params = PopularityParams(gamma=(-1.21, 1.24, 0.803, 0.226, 0.0), tau_slope=0.0,
                              tau_cov=0.0)
    full = mm.simulate_popularity(n_clusters=50, cluster_size=20, seed=3, params=params).data
    inc = mm.ampute(full, prop=0.5, patterns=[["popularity_ij"], ["extraversion_ij"]],
                    mech="MAR", seed=4, cluster="cluster_id").amp
    fit = mm.lmer(FORMULA, data=full, reml=False)
    q_com = np.concatenate([fit.fixef.to_numpy(), fit.varcorr["vcov"].to_numpy()])
    pred = pd.DataFrame(0, index=inc.columns, columns=inc.columns)
    for v in TARGETS:
        pred.loc[v, "cluster_id"] = -2
        for c in PREDICTORS:
            if c != v:
                pred.loc[v, c] = 1 if c in ("gender_ij", "experience_j") else 3
    return inc, pred, q_com


def _pooled(imp):
    fits = imp.fit(FORMULA, reml=False)
    Q = np.array([np.concatenate([f.fixef.to_numpy(), f.varcorr["vcov"].to_numpy()])
                  for f in fits.analyses])
    return Q.mean(axis=0), Q.var(axis=0, ddof=1)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["2l.pan", "2l.norm", "2l.lmer", "2l.pmm"])
def test_pooled_estimates_recover_complete_data_fit(problem, method):
    inc, pred, q_com = problem
    assert inc["popularity_ij"].isna().mean() > 0.15
    assert inc["extraversion_ij"].isna().mean() > 0.15
    meth = {c: "" for c in inc.columns}
    for v in TARGETS:
        meth[v] = method
    imp = mm.mice(inc, m=M, maxit=5, method=meth, predictor_matrix=pred, seed=11)
    done = imp.complete("long")
    assert not done[list(TARGETS)].isna().any().any()
    qbar, b = _pooled(imp)
    ratio = (qbar - q_com) / np.sqrt(b * (1 + 1 / M))
    # terms: intercept, gender, extraversion, experience, tau_00, sigma^2
    assert np.all(np.abs(ratio) < 4), dict(zip(
        ["(Intercept)", "gender", "extraversion", "experience", "tau00", "sigma2"],
        np.round(ratio, 2), strict=True))
    # the imputations vary between data sets (no silent reuse of old values)
    assert np.all(b > 0)


@pytest.mark.slow
def test_single_level_method_fails_the_criterion(problem):
    """The criterion has power: single-level ``norm`` (ignoring the classes) biases the
    between-class variance of the completed data."""
    inc, pred, q_com = problem
    meth = {c: "" for c in inc.columns}
    pred1 = pred.copy()
    for v in TARGETS:
        meth[v] = "norm"
        pred1.loc[v, "cluster_id"] = 0
        pred1.loc[v, pred1.columns[pred1.loc[v] == 3]] = 1
    imp = mm.mice(inc, m=M, maxit=5, method=meth, predictor_matrix=pred1, seed=11)
    qbar, b = _pooled(imp)
    ratio = (qbar - q_com) / np.sqrt(b * (1 + 1 / M))
    assert np.abs(ratio[4]) > 4

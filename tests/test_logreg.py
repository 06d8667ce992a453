"""logreg: mice's augmented Bayesian logistic regression draw.

The deterministic part (pseudo-observations, the weighted ML fit and its
unscaled covariance) is compared with R: tests/r/logreg_reference.R calls
``mice:::augment`` and ``glm.fit(family = quasibinomial)`` exactly as
``mice.impute.logreg`` does (with a tight convergence tolerance), and wrote
tests/r/logreg_reference.json. Both solve the same smooth convex problem, so
agreement to 1e-6 is expected; what is left is IRLS convergence.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit

from mlmice.impute.methods import MethodInput, get_method
from mlmice.impute.methods.logreg import augment_binary, independent_columns
from mlmice.mixed.logistic import fit_logistic

REF = json.loads((Path(__file__).parent / "r" / "logreg_reference.json").read_text())


def _case(name):
    return next(c for c in REF["cases"] if c["name"] == name)


def _input(y, ry, x, names=None, **options):
    x = np.asarray(x, dtype=float).reshape(len(y), -1)
    names = tuple(names or [f"x{j}" for j in range(x.shape[1])])
    return MethodInput(variable="yvar", y=np.asarray(y, dtype=float), ry=np.asarray(ry),
                       wy=~np.asarray(ry), x=x, names=names,
                       codes=np.ones(x.shape[1], dtype=int), binary=True, options=options)


@pytest.mark.parametrize("name", ["ordinary", "separated"])
def test_augmentation_and_fit_match_mice(name):
    # R: aug <- mice:::augment(y, ry, x, !ry); glm.fit(cbind(1, aug$x)[aug$ry, ], aug$y[aug$ry],
    #    family = quasibinomial(), weights = aug$w[aug$ry]); summary.glm(fit)$cov.unscaled
    c = _case(name)
    y, ry, x = np.array(c["y"], float), np.array(c["ry"]), np.array(c["x"], float)
    xa, ya, wa = augment_binary(x)
    np.testing.assert_allclose(xa, np.array(c["x_aug"]), rtol=1e-12)
    np.testing.assert_array_equal(ya, c["y_aug"])
    np.testing.assert_allclose(wa, c["w_aug"], rtol=1e-12)
    X = np.column_stack([np.ones(y.size), x])
    fit = fit_logistic(np.vstack([X[ry], np.column_stack([np.ones(ya.size), xa])]),
                       np.concatenate([y[ry], ya]), np.concatenate([np.ones(ry.sum()), wa]),
                       tol=1e-12, max_iter=100)
    assert fit.converged
    np.testing.assert_allclose(fit.coef, c["coef"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(fit.cov_unscaled, np.array(c["cov_unscaled"]), rtol=1e-5)


def test_draws_follow_the_augmented_posterior():
    # The average imputed value over many draws equals the average of
    # expit(x' beta*) with beta* ~ N(beta_hat, V): check against a direct
    # Monte Carlo of the same quantity (within 4 Monte Carlo SE).
    c = _case("ordinary")
    y, ry, x = np.array(c["y"], float), np.array(c["ry"]), np.array(c["x"], float)
    method = get_method("logreg")
    rng = np.random.default_rng(5)
    draws = np.array([method.impute(_input(y, ry, x), rng).values for _ in range(4000)])
    X = np.column_stack([np.ones(y.size), x])[~ry]
    beta = np.array(c["coef"])
    cov = np.array(c["cov_unscaled"])
    bs = rng.multivariate_normal(beta, cov, size=20000)
    expected = expit(bs @ X.T).mean(axis=0)
    se = np.sqrt(expected * (1 - expected) / draws.shape[0])
    assert np.all(np.abs(draws.mean(axis=0) - expected) < 4 * se + 0.01)
    assert set(np.unique(draws)) <= {0.0, 1.0}


def test_separation_never_fails_and_gives_plausible_values():
    # complete separation: y = 1 exactly when a > 0; an unaugmented fit diverges
    c = _case("separated")
    y, ry, x = np.array(c["y"], float), np.array(c["ry"]), np.array(c["x"], float)
    rng = np.random.default_rng(8)
    res = [get_method("logreg").impute(_input(y, ry, x), rng) for _ in range(300)]
    vals = np.array([r.values for r in res])
    assert np.all(np.isfinite(vals))
    a_mis = x[~ry, 0]
    # imputations follow the sign of a, far from the boundary almost always
    far = np.abs(a_mis) > 0.5
    assert (far & (a_mis > 0)).sum() >= 3 and (far & (a_mis < 0)).sum() >= 3
    assert vals[:, far & (a_mis > 0)].mean() > 0.9
    assert vals[:, far & (a_mis < 0)].mean() < 0.1


def test_collinear_predictor_is_dropped_with_an_event():
    rng = np.random.default_rng(1)
    n = 80
    a = rng.normal(size=n)
    x = np.column_stack([a, 2 * a + 1, rng.normal(size=n)])
    y = (rng.random(n) < expit(a)).astype(float)
    ry = rng.random(n) > 0.3
    res = get_method("logreg").impute(_input(y, ry, x, names=["a", "a2", "b"]), rng)
    assert res.values.shape == ((~ry).sum(),)
    assert any("a2" in e for e in res.events)
    np.testing.assert_array_equal(independent_columns(np.column_stack([np.ones(n), x])),
                                  [0, 1, 3])


def test_edge_cases_one_missing_no_predictors_and_bad_target():
    rng = np.random.default_rng(2)
    n = 30
    x = rng.normal(size=(n, 2))
    y = (rng.random(n) < 0.5).astype(float)
    ry = np.ones(n, dtype=bool)
    ry[4] = False
    out = get_method("logreg").impute(_input(y, ry, x), rng).values
    assert out.shape == (1,) and out[0] in (0.0, 1.0)
    out = get_method("logreg").impute(_input(y, ~(np.arange(n) < 5), np.empty((n, 0))), rng)
    assert out.values.shape == (5,)
    ybad = y.copy()
    ybad[0] = 2.0
    with pytest.raises(ValueError, match="yvar: logreg needs a 0/1 target; observed row 0 has 2$"):
        get_method("logreg").impute(_input(ybad, np.ones(n, bool) & (np.arange(n) > -1)
                                           & ~(np.arange(n) == 9), x), rng)


def test_all_observed_values_equal():
    # every observed value is 0: the augmentation (always both categories)
    # keeps the fit finite, and the imputations are nearly all 0 (the
    # pseudo-observations weigh p + 1 = 3 of 140 + 3, half of them ones)
    rng = np.random.default_rng(4)
    n = 200
    x = rng.normal(size=(n, 2))
    ry = rng.random(n) > 0.3
    y = np.zeros(n)
    res = [get_method("logreg").impute(_input(y, ry, x), rng) for _ in range(50)]
    assert not any(r.events for r in res)  # IRLS converged every time
    assert np.mean([r.values.mean() for r in res]) < 0.06

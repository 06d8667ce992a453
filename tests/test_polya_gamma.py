"""Polya-Gamma PG(1, z) sampler: known moments and the distribution itself.

Tolerances are Monte Carlo errors: the mean is checked within 4 standard
errors (sd / sqrt(n)), the variance within 4 standard errors of a sample
variance (sqrt((m4 - s^4) / n), with the sample fourth central moment m4).
Seeds are fixed, so the tests are deterministic; at 4 SE a correct sampler
would fail a given check with probability about 6e-5.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mlmice.impute.methods._polya_gamma import (
    draw_polya_gamma,
    polya_gamma_mean,
    polya_gamma_var,
)

N = 100_000


def _gamma_series(z: float, n: int, rng: np.random.Generator, terms: int = 300) -> np.ndarray:
    """PG(1, z) from its definition: a truncated sum of exponentials / ((k-1/2)^2 + c^2).

    The omitted tail (k > terms) is replaced by its mean; its variance is
    below 1e-9 and cannot be seen at this sample size.
    """
    c2 = z * z / (4 * np.pi**2)
    k = np.arange(1, terms + 1)
    g = rng.standard_exponential((n, terms))
    draws = (g / ((k - 0.5) ** 2 + c2)).sum(axis=1)
    tail_k = np.arange(terms + 1, 2_000_000)
    draws += (1.0 / ((tail_k - 0.5) ** 2 + c2)).sum()
    return draws / (2 * np.pi**2)


def test_moment_formulas_at_zero_and_symmetry():
    # limits of tanh(z/2)/(2z) and of the variance formula
    assert polya_gamma_mean(0.0) == pytest.approx(0.25)
    assert polya_gamma_var(0.0) == pytest.approx(1 / 24)
    # the small-z series and the closed form agree where they meet
    assert polya_gamma_var(0.0099) == pytest.approx(polya_gamma_var(0.0101), rel=1e-4)
    assert polya_gamma_mean(-3.0) == pytest.approx(polya_gamma_mean(3.0))
    # numerically: Var = (sinh z - z) / (4 z^3 cosh^2(z/2)) for moderate z
    z = 1.7
    assert polya_gamma_var(z) == pytest.approx((np.sinh(z) - z) / (4 * z**3 * np.cosh(z / 2) ** 2))


@pytest.mark.parametrize("z", [0.0, 0.4, 1.5, -3.0, 8.0, 30.0])
def test_moments_within_monte_carlo_error(z):
    rng = np.random.default_rng(20130 + int(10 * abs(z)))
    w = draw_polya_gamma(np.full(N, z), rng=rng)
    assert np.all(w > 0)
    mean, var = polya_gamma_mean(z), polya_gamma_var(z)
    assert abs(w.mean() - mean) < 4 * np.sqrt(var / N)
    s2 = w.var()
    m4 = np.mean((w - w.mean()) ** 4)
    assert abs(s2 - var) < 4 * np.sqrt((m4 - s2**2) / N)


@pytest.mark.parametrize("z", [0.0, 2.0, 12.0])
def test_distribution_matches_the_gamma_series(z):
    # two-sample Kolmogorov-Smirnov against draws from the definition
    rng = np.random.default_rng(7)
    w = draw_polya_gamma(np.full(20_000, z), rng=rng)
    ref = _gamma_series(z, 20_000, rng)
    assert stats.ks_2samp(w, ref).pvalue > 1e-3


def test_vector_of_mixed_parameters_keeps_shape_and_order():
    rng = np.random.default_rng(3)
    z = np.tile(np.array([[0.0, 20.0], [5.0, -1.0]]), (1, 20_000))  # shape (2, 40000)
    w = draw_polya_gamma(z, rng=rng)
    assert w.shape == z.shape
    means = np.array([[w[i, j::2].mean() for j in range(2)] for i in range(2)])
    np.testing.assert_allclose(means, polya_gamma_mean(np.array([[0.0, 20.0], [5.0, 1.0]])),
                               rtol=0.02)


def test_extreme_parameters_without_warnings():
    # |z| in the thousands (a fitted probability of 1 - 1e-400): no overflow
    # warning, and the mean is still 1 / (2|z|)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = draw_polya_gamma(np.tile([1000.0, -3000.0], 5000), rng=np.random.default_rng(9))
    np.testing.assert_allclose(w.reshape(-1, 2).mean(axis=0), [1 / 2000, 1 / 6000], rtol=0.01)


def test_reproducible_and_rejects_non_finite():
    a = draw_polya_gamma(np.linspace(-5, 5, 50), rng=np.random.default_rng(11))
    b = draw_polya_gamma(np.linspace(-5, 5, 50), rng=np.random.default_rng(11))
    np.testing.assert_array_equal(a, b)
    assert draw_polya_gamma(np.array([]), rng=np.random.default_rng(1)).shape == (0,)
    with pytest.raises(ValueError, match="non-finite"):
        draw_polya_gamma(np.array([0.0, np.nan]), rng=np.random.default_rng(1))

"""The small dense linear algebra of the Gibbs samplers equals NumPy's.

The samplers factor many 2 x 2 blocks at once (``_batched``) and a few small matrices
per sweep through LAPACK directly (``_lmm_draws``); both exist only for speed, so they
must give NumPy's results to rounding.
"""

from __future__ import annotations

import numpy as np
import pytest

from mlmice.impute.methods import _batched as batched
from mlmice.impute.methods import _lapack
from mlmice.impute.methods import _lmm_draws as draws


def spd_stack(J, q, seed):
    a = np.random.default_rng(seed).normal(size=(J, q, q))
    return a @ np.swapaxes(a, 1, 2) + 0.1 * np.eye(q)


@pytest.mark.parametrize("q", [1, 2, 3, 6])
def test_batched_cholesky_and_solves_equal_numpy(q):
    A = spd_stack(50, q, seed=q)
    L = batched.cholesky(A)
    np.testing.assert_allclose(L, np.linalg.cholesky(A), rtol=1e-12, atol=1e-14)
    B = np.random.default_rng(9).normal(size=(50, q, 3))
    np.testing.assert_allclose(batched.solve_lower(L, B), np.linalg.solve(L, B), rtol=1e-10)
    np.testing.assert_allclose(batched.solve_lower_t(L, B),
                               np.linalg.solve(np.swapaxes(L, 1, 2), B), rtol=1e-10)


@pytest.mark.parametrize("q", [1, 2, 3])
def test_batched_cholesky_refuses_an_indefinite_block(q):
    A = spd_stack(5, q, seed=1)
    A[3] = -np.eye(q) if q == 1 else np.diag([1.0] + [-1.0] * (q - 1))
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        batched.cholesky(A)


def test_gaussian_draw_from_a_precision():
    """R^-T (R^-1 r + z) with P = R R': the mean P^-1 r plus R^-T z, for the same z."""
    P = spd_stack(1, 5, seed=3)[0] + np.eye(5)
    r = np.arange(5.0)
    got = draws._draw_gaussian_precision(P, r, np.random.default_rng(4))
    z = np.random.default_rng(4).standard_normal(5)
    R = np.linalg.cholesky(P)
    np.testing.assert_allclose(got, np.linalg.solve(P, r) + np.linalg.solve(R.T, z),
                               rtol=1e-10)
    with pytest.raises(np.linalg.LinAlgError):
        draws._draw_gaussian_precision(-P, r, np.random.default_rng(4))


@pytest.mark.parametrize("q", [1, 2, 3])
def test_inverse_wishart_draw_equals_its_definition(q):
    """Psi = G'G with G = A^-1 L' (Bartlett factor A, scale T = L L'), same numbers."""
    T = spd_stack(1, q, seed=q)[0]
    got = draws.draw_inverse_wishart(30.0, T, np.random.default_rng(5))
    if q == 1:
        want = T / np.random.default_rng(5).chisquare(30.0)
    else:
        A = draws._bartlett(30.0, q, np.random.default_rng(5))
        G = np.linalg.solve(A, np.linalg.cholesky(T).T)
        want = G.T @ G
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_closed_form_inverse_of_a_2x2_matrix():
    a = spd_stack(1, 2, seed=8)[0]
    np.testing.assert_allclose(_lapack.inverse_2(a), np.linalg.inv(a), rtol=1e-12)

r"""Polya-Gamma random variables PG(1, z), vectorised.

A Polya-Gamma variable :math:`\omega \sim PG(b, z)` is the infinite
convolution of gammas

.. math:: \omega = \frac{1}{2\pi^2} \sum_{k \ge 1}
          \frac{g_k}{(k - 1/2)^2 + z^2 / (4\pi^2)}, \qquad g_k \sim \mathrm{Gamma}(b, 1).

Polson, Scott and Windle (2013) showed that with :math:`\omega \sim PG(1, \eta)`
a Bernoulli likelihood becomes Gaussian in the linear predictor :math:`\eta`:

.. math:: \frac{e^{y\eta}}{1 + e^{\eta}} = \tfrac12 e^{\kappa\eta}
          \mathrm{E}_\omega\!\left[e^{-\omega\eta^2/2}\right], \qquad \kappa = y - 1/2,

which gives the conjugate Gibbs sampler for logistic models used by
``2l.bin``.

Sampling: :math:`PG(1, z) = J^*(1, h) / 4` with :math:`h = |z|/2`, where
:math:`J^*` is the exponentially tilted Jacobi distribution. The draw is
Devroye's exact accept-reject method as given by Polson, Scott and Windle
(2013, Section 4 and Algorithm 1): a proposal that is an inverse-Gaussian
truncated to :math:`(0, t]` glued to an exponential on :math:`(t, \infty)`
(:math:`t = 0.64`), accepted by the alternating series
:math:`f(x) = \sum_n (-1)^n a_n(x)` of the :math:`J^*(1, 0)` density with

.. math:: a_n(x) = \pi (n + \tfrac12) \left(\frac{2}{\pi x}\right)^{3/2}
          e^{-2 (n + 1/2)^2 / x} \;(x \le t), \qquad
          a_n(x) = \pi (n + \tfrac12) e^{-(n + 1/2)^2 \pi^2 x / 2} \;(x > t).

The acceptance probability is above 0.9991 for every :math:`z`, and the series
decides after one or two terms almost always, so a vectorised loop over the
few undecided entries is fast.

Moments (used by the tests):

.. math:: \mathrm{E}\,\omega = \frac{\tanh(z/2)}{2z}, \qquad
          \mathrm{Var}\,\omega = \frac{2\tanh(z/2) - z\,\mathrm{sech}^2(z/2)}{4 z^3}

(limits 1/4 and 1/24 at :math:`z = 0`).

References
----------
Polson, N. G., Scott, J. G. and Windle, J. (2013). Bayesian inference for
logistic models using Polya-Gamma latent variables. JASA 108(504), 1339-1349.
Devroye, L. (2009). On exact simulation algorithms for some distributions
related to Jacobi theta functions. Statistics & Probability Letters 79, 2251-2259.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, log_ndtr

__all__ = ["draw_polya_gamma", "polya_gamma_mean", "polya_gamma_var"]

_T = 0.64  # truncation point of the two-piece proposal (Devroye's choice, close to 2/pi)
_MAX_ROUNDS = 10_000  # guard against an infinite loop; never reached in practice
_TRIES = 4  # proposals per value and round of the truncated inverse-Gaussian step


def polya_gamma_mean(z) -> np.ndarray:
    """Mean of PG(1, z): ``tanh(z/2) / (2 z)``, 1/4 at ``z = 0``."""
    z = np.abs(np.asarray(z, dtype=float))
    small = z < 1e-4
    zs = np.where(small, 1.0, z)
    return np.where(small, 0.25 - z**2 / 48.0, np.tanh(zs / 2.0) / (2.0 * zs))


def polya_gamma_var(z) -> np.ndarray:
    """Variance of PG(1, z): ``(2 tanh(z/2) - z sech^2(z/2)) / (4 z^3)``, 1/24 at 0."""
    z = np.abs(np.asarray(z, dtype=float))
    small = z < 1e-2
    zs = np.where(small, 1.0, z)
    exact = (2.0 * np.tanh(zs / 2.0) - zs / np.cosh(zs / 2.0) ** 2) / (4.0 * zs**3)
    # series: 1/24 - z^2/240 + 17 z^4/40320 + O(z^6)
    series = 1.0 / 24.0 - z**2 / 240.0 + 17.0 * z**4 / 40320.0
    return np.where(small, series, exact)


def _a_coef(n: int, x: np.ndarray) -> np.ndarray:
    """Term ``a_n(x)`` of the alternating series for the J*(1, 0) density."""
    c = n + 0.5
    out = np.empty_like(x)
    left = x <= _T
    xl = x[left]
    out[left] = np.pi * c * (2.0 / (np.pi * xl)) ** 1.5 * np.exp(-2.0 * c * c / xl)
    xr = x[~left]
    out[~left] = np.pi * c * np.exp(-0.5 * c * c * np.pi**2 * xr)
    return out


def _prob_right(h: np.ndarray, k: np.ndarray) -> np.ndarray:
    r"""Probability that the proposal comes from the exponential piece.

    With :math:`p = \frac{\pi}{2K} e^{-Kt}` (mass of the exponential piece) and
    :math:`q = 2 e^{-h} F_{IG}(t; 1/h, 1)` (mass of the truncated inverse-Gaussian
    piece), written with the inverse-Gaussian cdf
    :math:`F = \Phi(b) + e^{2h}\Phi(a)`, :math:`b = (th - 1)/\sqrt t`,
    :math:`a = -(th + 1)/\sqrt t`, this returns :math:`p / (p + q)`.
    """
    sqt = np.sqrt(_T)
    b = (_T * h - 1.0) / sqt
    a = -(_T * h + 1.0) / sqt
    log_k = np.log(k) + k * _T
    log_q_over_p = np.log(4.0 / np.pi) + log_k + np.logaddexp(-h + log_ndtr(b), h + log_ndtr(a))
    return expit(-log_q_over_p)


def _first_accepted(x: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the first accepted of several proposals (the same law as sequential
    rejection sampling); returns (value, whether any was accepted)."""
    first = ok.argmax(axis=1)
    rows = np.arange(x.shape[0])
    return x[rows, first], ok[rows, first]


def _truncated_inverse_gaussian(h: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    r"""Inverse-Gaussian(mean :math:`1/h`, shape 1) truncated to :math:`(0, t]`.

    For a mean above :math:`t` a scaled inverse-chi-square proposal accepted
    with probability :math:`e^{-h^2 x / 2}`; otherwise the standard
    inverse-Gaussian generator (Michael, Schucany and Haas 1976) rejected
    until the draw falls below :math:`t`. Each round makes ``_TRIES``
    proposals per value and keeps the first accepted one, so that a few
    vectorised rounds suffice.
    """
    out = np.empty_like(h)
    todo = np.arange(h.size)
    for _ in range(_MAX_ROUNDS):
        if todo.size == 0:
            return out
        hh = h[todo]
        x = np.empty(todo.size)
        ok = np.zeros(todo.size, dtype=bool)
        big_mean = hh < 1.0 / _T
        # (a) mean 1/h > t: X = t / (1 + t E1)^2 given E1^2 <= 2 E2 / t, accept w.p. exp(-h^2 X/2)
        ib = np.flatnonzero(big_mean)
        if ib.size:
            shape = (ib.size, _TRIES)
            e1 = rng.standard_exponential(shape)
            e2 = rng.standard_exponential(shape)
            xb = _T / (1.0 + _T * e1) ** 2
            u = rng.random(shape)
            acc = (e1 * e1 <= 2.0 * e2 / _T) & (u <= np.exp(-0.5 * hh[ib, None] ** 2 * xb))
            x[ib], ok[ib] = _first_accepted(xb, acc)
        # (b) mean 1/h <= t: IG draw, keep when below t
        isml = np.flatnonzero(~big_mean)
        if isml.size:
            shape = (isml.size, _TRIES)
            mu = 1.0 / hh[isml, None]
            y = rng.standard_normal(shape) ** 2
            muy = mu * y
            xs = mu + 0.5 * mu * muy - 0.5 * mu * np.sqrt(4.0 * muy + muy * muy)
            u = rng.random(shape)
            xs = np.where(u > mu / (mu + xs), mu * mu / xs, xs)
            x[isml], ok[isml] = _first_accepted(xs, xs <= _T)
        out[todo[ok]] = x[ok]
        todo = todo[~ok]
    raise RuntimeError("truncated inverse-Gaussian sampler did not terminate")  # pragma: no cover


def _series_accept(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Full alternating-series test of ``v a_0(x)`` against the partial sums."""
    s = _a_coef(0, x)
    y = v * s
    decided = np.zeros(x.size, dtype=bool)
    accepted = np.zeros(x.size, dtype=bool)
    n = 0
    while not decided.all():
        n += 1
        und = np.flatnonzero(~decided)
        an = _a_coef(n, x[und])
        if n % 2 == 1:
            s[und] -= an
            hit = y[und] <= s[und]
            accepted[und[hit]] = True
            decided[und[hit]] = True
        else:
            s[und] += an
            decided[und[y[und] > s[und]]] = True
    return accepted


def draw_polya_gamma(z, *, rng: np.random.Generator) -> np.ndarray:
    """Draw ``omega_i ~ PG(1, z_i)`` independently for every element of ``z``.

    Parameters
    ----------
    z : array_like of float
        Tilting parameters (any shape; the sign does not matter).
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    ndarray of float, same shape as ``z``
        Positive draws.
    """
    z = np.asarray(z, dtype=float)
    if not np.all(np.isfinite(z)):
        raise ValueError("draw_polya_gamma: z contains non-finite values")
    shape = z.shape
    h = np.abs(z).ravel() / 2.0
    k = np.pi**2 / 8.0 + 0.5 * h * h
    p_right = _prob_right(h, k)
    out = np.empty_like(h)
    todo = np.arange(h.size)
    for _ in range(_MAX_ROUNDS):
        if todo.size == 0:
            return out.reshape(shape) / 4.0
        hh, kk = h[todo], k[todo]
        right = rng.random(todo.size) < p_right[todo]
        x = np.empty(todo.size)
        x[right] = _T + rng.standard_exponential(int(right.sum())) / kk[right]
        if (~right).any():
            x[~right] = _truncated_inverse_gaussian(hh[~right], rng)
        # alternating-series acceptance test. The first comparison, V a_0 <= a_0 - a_1,
        # is V <= 1 - a_1/a_0 with a_1/a_0 = 3 exp(-4/x) (x <= t) or 3 exp(-pi^2 x)
        # (x > t); it decides almost every value, the rest go through the series.
        v = rng.random(todo.size)
        ratio = 3.0 * np.exp(np.where(right, -np.pi**2 * x, -4.0 / x))
        accepted = v <= 1.0 - ratio
        und = np.flatnonzero(~accepted)
        if und.size:
            accepted[und] = _series_accept(x[und], v[und])
        out[todo[accepted]] = x[accepted]
        todo = todo[~accepted]
    raise RuntimeError("Polya-Gamma sampler did not terminate")  # pragma: no cover

r"""Rubin's rules for one parameter at a time, as mice and mitml compute them.

Notation (Rubin 1987; van Buuren 2018, section 2.3). For ``m`` imputations and
a parameter with per-imputation estimates :math:`\hat Q_\ell` and variances
:math:`U_\ell` (squared standard errors):

.. math::

    \bar Q = \frac1m \sum_\ell \hat Q_\ell, \qquad
    \bar U = \frac1m \sum_\ell U_\ell, \qquad
    B = \frac{1}{m-1} \sum_\ell (\hat Q_\ell - \bar Q)^2,

    T = \bar U + (1 + 1/m) B, \qquad
    r = \frac{(1 + 1/m) B}{\bar U}, \qquad
    \lambda = \frac{(1 + 1/m) B}{T} = \frac{r}{1 + r}.

Degrees of freedom: Rubin's (1987) large-sample value
:math:`\nu_\text{old} = (m - 1) / \lambda^2 = (m-1)(1 + 1/r)^2`, and the
Barnard and Rubin (1999) small-sample value

.. math::

    \nu_\text{obs} = \frac{\nu_\text{com} + 1}{\nu_\text{com} + 3}
                     \nu_\text{com} (1 - \lambda), \qquad
    \nu = \frac{\nu_\text{old}\,\nu_\text{obs}}{\nu_\text{old} + \nu_\text{obs}}.

The fraction of missing information is
:math:`\gamma = (r + 2 / (\nu + 3)) / (1 + r)`.

The two R packages differ in small ways, and both are reproduced here:

* ``mice::pool`` always uses the Barnard-Rubin :math:`\nu` with
  :math:`\nu_\text{com}` taken from the fit (``Inf`` gives Rubin's value), and
  first raises :math:`\lambda` to at least ``1e-4`` inside the df formula
  (``mice:::barnard.rubin``), so ``B = 0`` gives a large finite
  :math:`\nu_\text{old}`.
* ``mitml::testEstimates`` uses Rubin's :math:`\nu_\text{old}` unless
  ``df.com`` is given, without the ``1e-4`` floor (``B = 0`` gives an infinite
  :math:`\nu_\text{old}`, and then :math:`\nu = \nu_\text{obs}`).

References
----------
Rubin, D. B. (1987). *Multiple Imputation for Nonresponse in Surveys*. Wiley.
Barnard, J. and Rubin, D. B. (1999). Small-sample degrees of freedom with
multiple imputation. *Biometrika* 86(4), 948-955.
van Buuren, S. (2018). *Flexible Imputation of Missing Data*, 2nd ed., ch. 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlmice._distributions import t_ppf, t_sf

#: mice's floor on lambda inside the Barnard-Rubin df (``mice:::barnard.rubin``).
MICE_LAMBDA_FLOOR = 1e-4


@dataclass(frozen=True)
class RubinParts:
    """Per-parameter pieces of Rubin's rules (arrays of shape ``(p,)``)."""

    m: int
    qbar: np.ndarray
    ubar: np.ndarray
    b: np.ndarray
    t: np.ndarray
    riv: np.ndarray
    lam: np.ndarray


def rubin_parts(qhat: np.ndarray, uhat: np.ndarray) -> RubinParts:
    """Combine ``m`` sets of estimates and variances by Rubin's rules.

    Parameters
    ----------
    qhat : ndarray of shape (m, p)
        Per-imputation estimates.
    uhat : ndarray of shape (m, p)
        Per-imputation sampling variances (squared standard errors).

    Returns
    -------
    RubinParts
        :math:`\\bar Q, \\bar U, B, T, r, \\lambda` per parameter (see the
        module docstring). With ``m = 1`` the between variance ``B`` is NaN.
    """
    qhat = np.asarray(qhat, dtype=float)
    uhat = np.asarray(uhat, dtype=float)
    m = qhat.shape[0]
    qbar = qhat.mean(axis=0)
    ubar = uhat.mean(axis=0)
    b = qhat.var(axis=0, ddof=1) if m > 1 else np.full_like(qbar, np.nan)
    t = ubar + (1.0 + 1.0 / m) * b
    with np.errstate(divide="ignore", invalid="ignore"):
        riv = (1.0 + 1.0 / m) * b / ubar
        lam = (1.0 + 1.0 / m) * b / t
    return RubinParts(m=m, qbar=qbar, ubar=ubar, b=b, t=t, riv=riv, lam=lam)


def _observed_df(lam: np.ndarray, dfcom: float) -> np.ndarray:
    """Barnard-Rubin's observed-data df :math:`\\nu_\\text{obs}`."""
    return (dfcom + 1.0) / (dfcom + 3.0) * dfcom * (1.0 - lam)


def barnard_rubin_df(m: int, b: np.ndarray, t: np.ndarray, dfcom: float) -> np.ndarray:
    """Degrees of freedom exactly as ``mice:::barnard.rubin`` computes them.

    ``lambda = (1 + 1/m) b / t`` is raised to at least ``1e-4``; then
    ``dfold = (m - 1) / lambda^2`` and, for finite ``dfcom``,
    ``dfold * dfobs / (dfold + dfobs)`` with ``dfobs`` from Barnard and Rubin
    (1999). An infinite ``dfcom`` returns ``dfold`` (Rubin 1987).
    """
    lam = (1.0 + 1.0 / m) * np.asarray(b, dtype=float) / np.asarray(t, dtype=float)
    lam = np.where(lam < MICE_LAMBDA_FLOOR, MICE_LAMBDA_FLOOR, lam)
    dfold = (m - 1.0) / lam**2
    if np.isinf(dfcom):
        return dfold
    dfobs = _observed_df(lam, dfcom)
    return dfold * dfobs / (dfold + dfobs)


def mitml_df(m: int, riv: np.ndarray, df_com: float | None) -> np.ndarray:
    """Degrees of freedom as ``mitml:::.pool.estimates`` computes them.

    Rubin's ``(m - 1) (1 + 1/r)^2`` when ``df_com`` is None, else the
    Barnard-Rubin combination with ``lambda = r / (r + 1)`` (no floor, so
    ``r = 0`` gives ``dfobs``).
    """
    riv = np.asarray(riv, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        vm = (m - 1.0) * (1.0 + 1.0 / riv) ** 2
        if df_com is None:
            return vm
        vobs = _observed_df(riv / (riv + 1.0), float(df_com))
        return 1.0 / (1.0 / vm + 1.0 / vobs)


def fraction_missing_information(riv: np.ndarray, df: np.ndarray) -> np.ndarray:
    """``(r + 2 / (df + 3)) / (r + 1)``, the formula mice and mitml share."""
    riv = np.asarray(riv, dtype=float)
    return (riv + 2.0 / (np.asarray(df, dtype=float) + 3.0)) / (riv + 1.0)


def t_p_value(statistic: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Two-sided p-value of a t statistic, ``2 P(T_df > |statistic|)``.

    Computed from the survival function, so tiny p-values keep their
    relative precision (mitml's ``2 * (1 - pt(...))`` rounds them to 0).
    An infinite ``df`` gives the normal distribution.
    """
    return 2.0 * t_sf(np.abs(statistic), df)


def t_interval(estimate, std_error, df, conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    """``estimate -/+ qt((1 + conf_level) / 2, df) * std_error`` (mice's confint)."""
    a = (1.0 - conf_level) / 2.0
    low = estimate + t_ppf(a, df) * std_error
    high = estimate + t_ppf(1.0 - a, df) * std_error
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)

"""Tail probabilities and quantiles of the t, F and normal distributions.

Thin wrappers around :mod:`scipy.special`, which ``scipy.stats`` itself calls
for these distributions. Importing ``scipy.stats`` costs about half a second,
paid again by every Snakemake job that pools, fits or checks convergence;
``scipy.special`` is loaded anyway. The values are those of ``scipy.stats``
to the last bit (``tests/test_package.py``).
"""

from __future__ import annotations

from scipy import special


def t_sf(x, df):
    """Upper tail of Student's t: :math:`P(T_{df} > x)` (``scipy.stats.t.sf``)."""
    return special.stdtr(df, -x)


def t_ppf(q, df):
    """Quantile of Student's t (``scipy.stats.t.ppf``); ``df = inf`` is the normal."""
    return special.stdtrit(df, q)


def f_sf(x, dfn, dfd):
    """Upper tail of the F distribution: :math:`P(F_{dfn, dfd} > x)`."""
    return special.fdtrc(dfn, dfd, x)


def norm_sf(x):
    """Upper tail of the standard normal: :math:`1 - \\Phi(x)`."""
    return special.ndtr(-x)


def norm_ppf(q):
    """Quantile of the standard normal: :math:`\\Phi^{-1}(q)`."""
    return special.ndtri(q)

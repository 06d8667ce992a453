r"""How well the data identify a random-slope variance: the reliability of the cluster slopes.

A cluster's own slope of :math:`x` is estimated with sampling variance
:math:`\sigma^2 / SS_j`, :math:`SS_j = \sum_i (x_{ij} - \bar x_j)^2`; against the
slope variance :math:`\tau` its reliability is

.. math::

    \rho_j = \frac{\tau}{\tau + \sigma^2 / SS_j},

the share of the spread of the cluster slopes that is real (Raudenbush and
Bryk 2002, section 3.5). :func:`slope_reliability` returns the mean of
:math:`\rho_j` over the clusters for every random slope of a model.

Why it matters after imputation: with :math:`\bar\rho` below about 0.3 the
slope variance is weakly identified (its standard error is as large as the
estimate), and the pooled slope variance comes out too large:
``bench/slope_reliability.py`` measured, with 2l.smc imputing 25 % of the
outcome completely at random from the analysis model itself (default prior,
300 replicates), +1 % at :math:`\bar\rho = 0.66`, +8 % at 0.28, +22 % at 0.16
and +37 % at 0.09 against the complete data (docs/validity.md). The report
flags such slopes.

References
----------
Raudenbush, S. W. and Bryk, A. S. (2002). *Hierarchical Linear Models* (2nd ed.).
Sage. Section 3.5.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlmice.formula import parse_formula

__all__ = ["LOW_RELIABILITY", "slope_reliability"]

#: Mean slope reliability below which the report flags a random-slope variance.
LOW_RELIABILITY = 0.3


def slope_reliability(data: pd.DataFrame, formula: str, varcomp: pd.Series) -> pd.DataFrame:
    """Mean reliability of the cluster slopes of every random slope in ``formula``.

    Parameters
    ----------
    data : DataFrame
        The (incomplete) data; the within-cluster sums of squares use the
        observed values of each slope variable.
    formula : str
        lme4 formula of the analysis model.
    varcomp : Series
        Variance components under mitml's names (``"x~~x|g"``,
        ``"Residual~~Residual"``), e.g. the pooled MI estimates.

    Returns
    -------
    DataFrame with columns ``term`` (the variance's name), ``variable``,
    ``cluster``, ``tau``, ``sigma2`` and ``reliability``; empty without slopes.
    """
    f = parse_formula(formula)
    sigma2 = float(varcomp.get("Residual~~Residual", np.nan))
    rows = []
    for r in f.random:
        group = r.group_label
        for term in r.terms:
            var = ":".join(term)
            if var not in data.columns or group not in data.columns:
                continue                # interactions and derived terms: not described
            name = f"{var}~~{var}|{group}"
            tau = float(varcomp.get(name, np.nan))
            obs = data[[var, group]].dropna()
            centred = obs[var] - obs.groupby(group)[var].transform("mean")
            ss = centred.pow(2).groupby(obs[group]).sum().to_numpy(dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                rho = np.where(ss > 0, tau / (tau + sigma2 / ss), 0.0)
            rows.append({"term": name, "variable": var, "cluster": group, "tau": tau,
                         "sigma2": sigma2, "reliability": float(np.mean(rho))})
    return pd.DataFrame(rows, columns=["term", "variable", "cluster", "tau", "sigma2",
                                       "reliability"])

"""Inspecting incomplete data before imputing: ``mice::md.pattern`` and ``mice::flux``.

References
----------
van Buuren, S. (2018). *Flexible Imputation of Missing Data* (2nd ed.).
    Chapman & Hall/CRC. Section 4.1 (missing-data patterns, influx and outflux).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mlmice.diagnostics._frames import _check_frame

__all__ = ["flux", "md_pattern"]


def md_pattern(df: pd.DataFrame) -> pd.DataFrame:
    """Missing-data patterns with their frequencies, as ``mice::md.pattern``.

    Columns are ordered by increasing number of missing values (ties keep the
    data's order); each row is one distinct pattern, 1 = observed and
    0 = missing, and rows are ordered as mice orders them (by the pattern
    string of missingness indicators, so the complete pattern comes first).

    Parameters
    ----------
    df : DataFrame
        The incomplete data (at least two columns).

    Returns
    -------
    DataFrame
        One row per pattern, indexed by the number of rows with that pattern
        (index name ``"count"``), and a last row ``"total"`` with the number
        of missing values per variable. The last column ``"n_missing"`` is
        the number of missing variables in the pattern (and, in the last row,
        the total number of missing cells). This is R's table with its unnamed
        margins named.

    Examples
    --------
    >>> md_pattern(pd.DataFrame({"a": [1, None, 3], "b": [1.0, 2.0, None]}))
           a  b  n_missing
    count
    1      1  1          0
    1      1  0          1
    1      0  1          1
    total  1  1          2
    """
    _check_frame(df, min_columns=2)
    miss = df.isna().to_numpy()
    nmis = miss.sum(axis=0)
    order = np.argsort(nmis, kind="stable")
    miss = miss[:, order]
    columns = [str(df.columns[j]) for j in order]
    # sort rows by their pattern string (digits "0"/"1": lexicographic = tuple order)
    patterns, counts = np.unique(miss, axis=0, return_counts=True)
    n_missing = patterns.sum(axis=1)
    table = np.column_stack([(~patterns).astype(np.int64), n_missing])
    table = np.vstack([table, np.append(nmis[order], nmis.sum())])
    index = pd.Index([*(int(c) for c in counts), "total"], name="count", dtype=object)
    return pd.DataFrame(table, index=index, columns=[*columns, "n_missing"])


def flux(df: pd.DataFrame, *, local: Sequence[str] | None = None) -> pd.DataFrame:
    """Influx, outflux and related coefficients per variable, as ``mice::flux``.

    With ``r_ij = 1`` when variable ``j`` is observed in row ``i`` and the
    pair counts ``rr_jk = sum_i r_ij r_ik``, ``rm_jk = sum_i r_ij (1 - r_ik)``,
    ``mr_jk = sum_i (1 - r_ij) r_ik``, ``mm_jk = sum_i (1 - r_ij)(1 - r_ik)``
    (mice's ``md.pairs``), for each variable ``j`` among ``p`` variables:

    - ``pobs``: proportion observed;
    - ``influx = sum_k mr_jk / sum_k (mr_jk + rr_jk)``: how well the missing
      entries of ``j`` connect to observed data;
    - ``outflux = sum_k rm_jk / sum_k (rm_jk + mm_jk)``: how well the
      observed entries of ``j`` connect to missing data elsewhere;
    - ``ainb``: average over ``k != j`` of ``mr_jk / (mr_jk + mm_jk)``;
    - ``aout``: average over ``k != j`` of ``rm_jk / (rm_jk + rr_jk)``
      (both as mice computes them: terms that are 0/0 are dropped, the sum is
      divided by ``p - 1``);
    - ``fico``: fraction of the observed values of ``j`` that lie in
      incomplete rows (``mice::fico``).

    Variables with high outflux and low influx are the useful predictors.

    Parameters
    ----------
    df : DataFrame
        The incomplete data (at least two columns).
    local : sequence of str, optional
        Report only these variables (all columns of ``df`` enter the
        computation), as mice's ``local=``.

    Returns
    -------
    DataFrame
        Indexed by variable; columns ``pobs``, ``influx``, ``outflux``,
        ``ainb``, ``aout``, ``fico``.

    References
    ----------
    van Buuren (2018), section 4.1.3.
    """
    _check_frame(df, min_columns=2)
    names = [str(c) for c in df.columns]
    obs = df.notna().to_numpy()
    r = obs.astype(np.float64)
    m = 1.0 - r
    rr, rm, mr, mm = r.T @ r, r.T @ m, m.T @ r, m.T @ m
    p = r.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        ainb = np.nansum(mr / (mr + mm), axis=1) / (p - 1)
        aout = np.nansum(rm / (rm + rr), axis=1) / (p - 1)
        influx = mr.sum(axis=1) / (mr + rr).sum(axis=1)
        outflux = rm.sum(axis=1) / (rm + mm).sum(axis=1)
        incomplete_row = ~obs.all(axis=1)
        fico = (obs & incomplete_row[:, None]).sum(axis=0) / obs.sum(axis=0)
    out = pd.DataFrame({"pobs": obs.mean(axis=0), "influx": influx, "outflux": outflux,
                        "ainb": ainb, "aout": aout, "fico": fico},
                       index=pd.Index(names, name="variable"))
    if local is not None:
        unknown = [v for v in local if v not in out.index]
        if unknown:
            raise KeyError(f"local= names {unknown} that are not columns of df")
        out = out.loc[list(local)]
    return out

"""Input adapters: imputation results (``Mids``-like objects or plain frames) as tables."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

TRACE_COLUMNS = ("iteration", "chain", "variable", "mean", "sd")
STATISTICS = ("mean", "sd")


def _check_frame(df, name: str = "df", *, min_columns: int = 1) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    if df.shape[1] < min_columns:
        raise ValueError(f"{name} has {df.shape[1]} column(s), must have at least {min_columns}")
    if df.shape[0] == 0:
        raise ValueError(f"{name} has no rows")
    return df


def trace_frame(imp) -> pd.DataFrame:
    """Return the chain trace of an imputation as a validated DataFrame.

    Parameters
    ----------
    imp : Mids-like or DataFrame
        An object with a ``.trace`` attribute (``mlmice.mice``'s result), or
        the trace itself: a DataFrame with columns ``iteration`` (1, 2, ...),
        ``chain`` (1..m), ``variable``, ``mean`` and ``sd`` holding the mean
        and standard deviation of the imputed values of ``variable`` after
        each iteration (mice's ``chainMean`` and ``sqrt(chainVar)`` in long
        form).

    Returns
    -------
    DataFrame
        Columns ``iteration``, ``chain`` (int), ``variable`` (str), ``mean``,
        ``sd`` (float), sorted by variable (in order of first appearance), chain
        and iteration.
    """
    trace = imp.trace if hasattr(imp, "trace") and not isinstance(imp, pd.DataFrame) else imp
    if not isinstance(trace, pd.DataFrame):
        raise TypeError("imp must be an imputation result with a .trace DataFrame or a trace "
                        f"DataFrame; got {type(imp).__name__}")
    missing = [c for c in TRACE_COLUMNS if c not in trace.columns]
    if missing:
        raise ValueError(f"trace is missing column(s) {missing}; a trace has columns "
                         f"{list(TRACE_COLUMNS)}")
    out = pd.DataFrame({
        "iteration": pd.to_numeric(trace["iteration"], errors="raise").astype(np.int64),
        "chain": pd.to_numeric(trace["chain"], errors="raise").astype(np.int64),
        "variable": trace["variable"].astype(str),
        "mean": pd.to_numeric(trace["mean"], errors="raise").astype(np.float64),
        "sd": pd.to_numeric(trace["sd"], errors="raise").astype(np.float64),
    })
    dup = out.duplicated(["variable", "chain", "iteration"])
    if dup.any():
        row = out[dup].iloc[0]
        raise ValueError(f"trace has more than one row for variable {row['variable']!r}, "
                         f"chain {row['chain']}, iteration {row['iteration']}")
    # variables keep the order in which they first appear (the data's column order)
    first_seen = {v: k for k, v in enumerate(dict.fromkeys(out["variable"]))}
    out["_order"] = out["variable"].map(first_seen)
    out = out.sort_values(["_order", "chain", "iteration"], kind="stable")
    return out.drop(columns="_order").reset_index(drop=True)


def trace_variables(trace: pd.DataFrame, variables: str | Sequence[str] | None) -> list[str]:
    """The variables of a :func:`trace_frame` to use, checked against the trace.

    ``None`` selects all (in the trace's order); a string is one variable.

    Raises
    ------
    KeyError
        Naming the variables absent from the trace and those it has.
    """
    available = list(dict.fromkeys(trace["variable"]))
    if variables is None:
        return available
    variables = [variables] if isinstance(variables, str) else list(variables)
    unknown = [v for v in variables if v not in available]
    if unknown:
        raise KeyError(f"variables {unknown} are not in the trace (it has {available})")
    return variables


def imputed_long(imp, *, where: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the completed data in long form and the mask of imputed cells.

    Parameters
    ----------
    imp : Mids-like or DataFrame
        An object with ``.complete("long")`` and ``.where`` (``mlmice.mice``'s
        result), or a long completed DataFrame as ``complete(imp, "long")``
        returns it: columns ``.imp`` (1..m; rows with ``.imp == 0``, the
        incomplete data, are dropped) and ``.id`` (0-based row position in
        the data; R's ``.id`` is 1-based, subtract 1), then the variables.
    where : DataFrame of bool, optional
        Required with a long DataFrame: True where a value was imputed, one
        row per row of the data (row ``.id`` is row ``where.iloc[.id]``). For
        a data set whose missing values were all imputed this is
        ``incomplete.isna()``. Ignored for a Mids-like object (its ``.where``
        is used).

    Returns
    -------
    long : DataFrame
        The long completed data with ``.imp`` and ``.id`` as int.
    where : DataFrame of bool
        The mask, with a RangeIndex.
    """
    if hasattr(imp, "complete") and hasattr(imp, "where") and not isinstance(imp, pd.DataFrame):
        long = imp.complete("long")
        where = imp.where
    else:
        long = imp
        if where is None:
            raise ValueError("where= is required when imp is a long DataFrame: pass the mask of "
                             "imputed cells (e.g. incomplete_data.isna())")
    _check_frame(long, "the long completed data")
    for col in (".imp", ".id"):
        if col not in long.columns:
            raise ValueError(f"the long completed data has no {col!r} column; expected the "
                             "layout of complete(imp, 'long')")
    _check_frame(where, "where")
    where = where.reset_index(drop=True).astype(bool)
    long = long.copy()
    long[".imp"] = long[".imp"].astype(np.int64)
    long[".id"] = long[".id"].astype(np.int64)
    long = long[long[".imp"] > 0]
    ids = long[".id"].to_numpy()
    n = len(where)
    if ids.size and (ids.min() < 0 or ids.max() >= n):
        raise ValueError(f".id ranges {ids.min()}..{ids.max()} but where has {n} rows; .id must "
                         "be the 0-based row position (R's complete(imp, 'long') is 1-based: "
                         "subtract 1)")
    return long.reset_index(drop=True), where

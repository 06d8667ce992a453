"""Numbers as a reader sees them: one format per kind of quantity.

The report and the summaries print every number through these functions, so
that a table never mixes ``8.652e-05`` with ``0.0002214``, a p-value never
reads ``0`` and a df never reads ``6.441e+05``.

- Estimates, standard errors, variances: :func:`fmt`, ``digits`` significant
  digits in positional notation for :math:`10^{-6} \\le |x| < 10^{7}`,
  scientific notation (``1.2e-08``) outside that range; in a table
  (:func:`format_frame`) a column is scientific throughout when one of its
  values is.
- p-values: :func:`fmt_p`, three decimals, and ``< 0.001`` below that (APA
  style; the exact value of a small p-value carries no information).
- Degrees of freedom: :func:`fmt_df`, one decimal with thousands separators (none for a
  whole number).
- Counts: :func:`fmt_int`, thousands separators.

Missing values print as an empty string; infinities as ``∞`` (a df of an
estimate without missing-data variance is infinite in Rubin's rules).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["column_kind", "count", "fmt", "fmt_df", "fmt_int", "fmt_p", "format_frame"]

_P_NAMES = {"p_value", "p.value", "p", "trend_pvalue", "P(>|t|)", "P(>F)", "Pr(>|t|)"}
_DF_NAMES = {"df", "df1", "df2", "dfcom", "df_com"}


def _special(x) -> str | None:
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA:
        return ""
    if isinstance(x, float) and math.isinf(x):
        return "∞" if x > 0 else "-∞"
    return None


def fmt(x, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits (see the module docstring).

    >>> fmt(0.00008652), fmt(0.0002214), fmt(1234.567), fmt(-0.0231), fmt(0.0)
    ('0.0000865', '0.000221', '1235', '-0.0231', '0')
    """
    special = _special(x)
    if special is not None:
        return special
    x = float(x)
    if x == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(x)))
    if magnitude < -6 or magnitude >= 7:
        return f"{x:.{digits - 1}e}"
    decimals = max(digits - 1 - magnitude, 0)
    text = f"{round(x, decimals):.{decimals}f}"
    return "0" if float(text) == 0 else text


def fmt_p(p) -> str:
    """A p-value: ``< 0.001`` or three decimals.

    >>> fmt_p(7.7e-15), fmt_p(0.0421), fmt_p(1.0)
    ('< 0.001', '0.042', '1.000')
    """
    special = _special(p)
    if special is not None:
        return special
    return "< 0.001" if float(p) < 0.001 else f"{float(p):.3f}"


def fmt_df(df) -> str:
    """Degrees of freedom: one decimal, thousands separated (``644,085.3``); a whole number
    without one (a test's numerator df, a complete-data df: ``3``, ``1,999``); ``∞``.

    >>> fmt_df(644085.31), fmt_df(3.0), fmt_df(1999)
    ('644,085.3', '3', '1,999')
    """
    special = _special(df)
    if special is not None:
        return special
    df = float(df)
    return f"{int(df):,}" if df.is_integer() else f"{df:,.1f}"


def fmt_int(n) -> str:
    """A count with thousands separators."""
    special = _special(n)
    if special is not None:
        return special
    return f"{int(n):,}"


def count(n, singular: str, plural: str | None = None) -> str:
    """A count with its noun in the right number: ``1 chain``, ``5 chains``, ``1,200 rows``.

    >>> count(1, "missing value"), count(12, "point"), count(3, "was", "were")
    ('1 missing value', '12 points', '3 were')
    """
    word = singular if int(n) == 1 else (plural or singular + "s")
    return f"{fmt_int(n)} {word}"


def column_kind(name: str, series: pd.Series) -> str:
    """``"p"``, ``"df"``, ``"int"``, ``"number"`` or ``"text"`` for a column."""
    if name in _P_NAMES:
        return "p"
    if name in _DF_NAMES:
        return "df"
    if pd.api.types.is_bool_dtype(series):
        return "text"
    if pd.api.types.is_integer_dtype(series):
        return "int"
    if pd.api.types.is_float_dtype(series):
        return "number"
    return "text"


def _number_format(col: pd.Series, digits: int):
    """One notation per column: scientific for every value when one needs it (below
    1e-6 or from 1e7 in magnitude), so a column never shows 9.50e-07 above 0.00000644."""
    values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
    size = abs(values[np.isfinite(values) & (values != 0)])
    if size.size and ((size < 1e-6).any() or (size >= 1e7).any()):
        return lambda x: _special(x) if _special(x) is not None else (
            "0" if float(x) == 0 else f"{float(x):.{digits - 1}e}")
    return lambda x: fmt(x, digits)


def format_frame(frame: pd.DataFrame, *, digits: int = 3,
                 kinds: dict[str, str] | None = None) -> pd.DataFrame:
    """Every cell of ``frame`` as text, by the kind of its column.

    Parameters
    ----------
    frame : DataFrame
    digits : int
        Significant digits of ``"number"`` columns.
    kinds : dict, optional
        Column -> kind, overriding :func:`column_kind` (which knows p-value and
        df columns by the names mlmice and mice/mitml give them).

    Returns
    -------
    DataFrame of str, same index and columns.
    """
    kinds = kinds or {}
    out = {}
    for name in frame.columns:
        kind = kinds.get(name) or column_kind(str(name), frame[name])
        col = frame[name]
        if kind == "p":
            out[name] = col.map(fmt_p)
        elif kind == "df":
            out[name] = col.map(fmt_df)
        elif kind == "int":
            out[name] = col.map(fmt_int)
        elif kind == "number":
            out[name] = col.map(_number_format(col, digits))
        else:
            out[name] = col.map(lambda x: "" if _special(x) == "" else str(x))
    return pd.DataFrame(out, index=frame.index, columns=frame.columns)

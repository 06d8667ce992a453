"""How a column of a user's file becomes an analysis column.

- Numbers stay numbers; two whole-number codes become 0/1 with their values as labels.
- A text column with 3 to :data:`MAX_CATEGORIES` repeated values, an R factor, or codes
  that value labels name (three or more, as SPSS writes them, unless SPSS calls the
  variable ``scale``) becomes a pandas categorical (R's factor): text in alphabetical
  order, as R's ``factor``, labelled codes in code order, ordered when SPSS says
  ``ordinal``.
- Two categories become 0/1 with their names as labels (the first category is 0).
- ``order`` (the config's ``data.ordered``) declares an ordinal variable's categories in
  their order, the first the reference, for files that cannot (CSV, or R files written
  without ordered factors).

Text among numbers is an error (:func:`mlmice.csv_format.check_not_mixed`), never a
category.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from mlmice.csv_format import check_not_mixed

__all__ = ["MAX_CATEGORIES", "code_column", "fmt_value"]

#: Most categories a categorical analysis variable may have (mice's ``maxcat``).
MAX_CATEGORIES = 50


def fmt_value(x) -> str:
    """A data value as text: whole numbers without ``.0``."""
    if isinstance(x, float | np.floating) and np.isfinite(x) and abs(x) >= 1e15:
        return f"{float(x):g}"
    if isinstance(x, float | np.floating) and float(x).is_integer():
        return str(int(x))
    return str(x)


def code_column(s: pd.Series, name: str, value_labels: Mapping | None, source: str, *,
                measure: str | None = None, order: Sequence[str] | None = None
                ) -> tuple[pd.Series, dict[int, str] | None]:
    """Code one analysis column (see the module docstring).

    Parameters
    ----------
    s : Series
        The column as read.
    name, source : str
        For messages.
    value_labels : mapping, optional
        ``{code: label}`` (SPSS value labels, or the config's ``data.labels``).
    measure : str, optional
        SPSS's measurement level (``nominal``, ``ordinal``, ``scale``).
    order : sequence of str, optional
        The categories of an ordinal variable, in order.

    Returns
    -------
    Series and labels
        A float64 column (0/1 with ``{0: label, 1: label}`` for a binary one, labels
        None otherwise) or a categorical one.
    """
    if order is not None:
        return _ordered(s, name, value_labels, order, source)
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = list(s.cat.categories)
        if len(cats) > 2:
            return categorical(s, name, source), None
        codes = s.cat.codes.to_numpy().astype(float)
        codes[codes < 0] = np.nan
        return pd.Series(codes, name=name), {i: str(c) for i, c in enumerate(cats)}
    if pd.api.types.is_bool_dtype(s):
        v = s.astype("float64")
        return v, {0: "False", 1: "True"}
    if not pd.api.types.is_numeric_dtype(s):
        obs = s.dropna()
        num = pd.to_numeric(obs, errors="coerce")
        if num.notna().all():
            s = pd.to_numeric(s, errors="coerce")
        else:
            check_not_mixed(obs, num, name, source)
            levels = sorted(obs.astype(str).unique())
            if len(levels) > MAX_CATEGORIES or (len(levels) > 2 and len(levels) == len(obs)):
                bad = obs[num.isna()].astype(str).unique()[:3]
                raise ValueError(f"{source}: variable {name!r} is not numeric (values such as "
                                 f"{', '.join(map(repr, bad))}) and has {len(levels)} distinct "
                                 f"values in {len(obs)} rows: not a categorical variable (at "
                                 f"most {MAX_CATEGORIES} categories, some repeated); if it "
                                 "identifies rows, name it as the id variable")
            if len(levels) > 2:
                cat = pd.Categorical(s.where(s.isna(), s.astype(str)), categories=levels)
                return categorical(pd.Series(cat, name=name), name, source), None
            codes = s.map({lev: float(i) for i, lev in enumerate(levels)}).astype("float64")
            return pd.Series(codes.to_numpy(), name=name), dict(enumerate(levels))
    v = s.to_numpy(dtype="float64", na_value=np.nan)
    obs = np.unique(v[~np.isnan(v)])
    if value_labels:
        keys = np.array(sorted(float(k) for k in value_labels))
        lab = {float(k): str(x) for k, x in value_labels.items()}
        if np.setdiff1d(obs, keys).size == 0:
            if len(keys) == 2:
                lo, hi = keys
                coded = np.where(v == lo, 0.0, np.where(v == hi, 1.0, np.nan))
                return pd.Series(coded, name=name), {0: lab[lo], 1: lab[hi]}
            if len(keys) > 2 and measure != "scale":
                names = _unique_names([lab[k] for k in keys], keys)
                text = pd.Series(v).map(dict(zip(keys, names, strict=True)))
                cat = pd.Categorical(text, categories=names, ordered=measure == "ordinal")
                return categorical(pd.Series(cat, name=name), name, source), None
    if obs.size == 2 and np.all(obs == np.round(obs)):
        lo, hi = obs
        coded = np.where(v == lo, 0.0, np.where(v == hi, 1.0, np.nan))
        return pd.Series(coded, name=name), {0: fmt_value(lo), 1: fmt_value(hi)}
    return pd.Series(v, name=name), None


def categorical(s: pd.Series, name: str, source: str) -> pd.Series:
    """A column with more than two categories, kept as a pandas categorical (R's factor;
    text columns get their categories in alphabetical order, as R's ``factor``)."""
    cats = list(s.cat.categories)
    if len(cats) > MAX_CATEGORIES:
        raise ValueError(f"{source}: variable {name!r} is a factor with {len(cats)} levels, "
                         f"more than the {MAX_CATEGORIES} categories a categorical variable "
                         "may have; recode it")
    out = s.cat.rename_categories([str(c) for c in cats])
    return pd.Series(out.to_numpy(), name=name, dtype=out.dtype)


def _unique_names(names: list[str], keys) -> list[str]:
    """Labels as category names; two codes with one label keep their codes apart."""
    return [f"{n} ({fmt_value(k)})" if names.count(n) > 1 else n
            for n, k in zip(names, keys, strict=True)]


def _ordered(s: pd.Series, name: str, value_labels: Mapping | None, order: Sequence[str],
             source: str) -> tuple[pd.Series, dict[int, str] | None]:
    """An ordinal variable with the declared categories, in the declared order."""
    order = [str(c) for c in order]
    where = f"{source}: data.ordered[{name!r}]"
    if len(set(order)) != len(order) or len(order) < 2:
        raise ValueError(f"{where} must list two or more distinct categories, got {order}")
    if isinstance(s.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(s):
        text = s.where(s.isna(), s.astype(str))
    elif value_labels:
        lab = {float(k): str(x) for k, x in value_labels.items()}
        text = pd.Series(s.to_numpy(dtype=float, na_value=np.nan)).map(lab)
        unlabelled = s.notna().to_numpy() & text.isna().to_numpy()
        if unlabelled.any():
            raise ValueError(f"{where}: codes without a label, e.g. "
                             f"{fmt_value(s[unlabelled].iloc[0])}; label every code")
    else:
        raise ValueError(f"{where}: {name} holds numbers; order applies to text values or "
                         "labelled codes (data.labels gives codes their names)")
    unknown = sorted(set(text.dropna()) - set(order))
    if unknown:
        raise ValueError(f"{where} lacks the value(s) {unknown} that {name} takes; list every "
                         f"category (declared: {order})")
    if len(order) == 2:
        codes = text.map({c: float(i) for i, c in enumerate(order)}).astype("float64")
        return pd.Series(codes.to_numpy(), name=name), dict(enumerate(order))
    cat = pd.Categorical(text, categories=order, ordered=True)
    return categorical(pd.Series(cat, name=name), name, source), None

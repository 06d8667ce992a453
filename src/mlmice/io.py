"""Data in and out: a user's file -> the analysis frame, and Parquet artifacts.

The analysis frame (the project's shared convention) is a pandas DataFrame
in which

* every analysis variable is ``float64`` with ``NaN`` for a missing value, or
  categorical (below);
* a binary variable (an R factor or string column with two levels, a
  numeric column with two value-labelled codes, or a numeric column with two
  whole-number values) is coded ``0.0``/``1.0``; the lower code (R's first
  factor level) becomes 0. Its labels are kept in
  ``df.attrs["labels"] = {variable: {0: "boy", 1: "girl"}}``;
* a factor with three to 50 levels (an R factor, ordered or not, a pandas or
  Parquet categorical, a text column with three to 50 distinct values) stays a
  pandas ``Categorical`` with its categories (as text) and order: the methods
  ``polr``/``polyreg`` and their 2l and 2lonly forms impute it
  (:mod:`mlmice.impute.categorical`);
* the cluster column (and the optional id column) keep their identity: whole
  numbers become ``int64``, strings and categoricals stay as they are;
* ``df.attrs["roles"]`` holds the variable roles (:class:`Roles`, as a dict).

So the tutorial's ``popular.RData`` (gender a factor ``boy``/``girl``) and
``popular_MAR.RData`` (gender stored as 1/2) read to the same coding
0 = boy, 1 = girl.

:func:`write_parquet` and :func:`read_parquet` (:mod:`mlmice.parquet`) carry labels
and roles in the Parquet schema metadata (key ``mlmice``, JSON), so every artifact
of the pipeline keeps one coding.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mlmice.coding import code_column
from mlmice.coding import fmt_value as _fmt
from mlmice.csv_format import check_csv_header, csv_format
from mlmice.impute.categorical import as_codes
from mlmice.impute.defaults import as_float
from mlmice.parquet import Roles, read_parquet, write_parquet

__all__ = ["Roles", "infer_roles", "read_columns", "read_data", "read_parquet", "write_parquet"]

SUPPORTED = (".sav", ".rdata", ".rda", ".rds", ".csv", ".parquet")


# --------------------------------------------------------------------------- reading


def read_data(path, cluster: str, id: str | None = None, *, object: str | None = None,
              level2: Sequence[str] | None = None,
              labels: Mapping[str, Mapping] | None = None,
              variables: Sequence[str] | None = None,
              drop: Sequence[str] = (), csv: Mapping | None = None,
              ordered: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """Read a user's data file into the analysis frame.

    Parameters
    ----------
    path : str or Path
        A ``.sav`` (SPSS), ``.RData``/``.rda``/``.rds`` (R), ``.csv`` or
        ``.parquet`` file.
    cluster : str
        Name of the cluster variable (must have no missing values).
    id : str, optional
        Name of a unit identifier, kept as is and not treated as a variable.
    object : str, optional
        For an ``.RData`` file holding several objects: which one to read.
    level2 : sequence of str, optional
        Variables the user declares level 2; an error is raised when one of
        them takes two different values within a cluster.
    labels : mapping, optional
        Value labels for numeric codes, ``{variable: {code: label}}``, as SPSS
        value labels would give them (e.g. ``{"gender_ij": {1: "boy", 2:
        "girl"}}`` for ``popular_MAR.RData``): two codes make a binary variable
        (the lower 0), three or more a categorical one in code order.
    variables : sequence of str, optional
        Keep only these columns (besides ``cluster`` and ``id``), in this order.
    drop : sequence of str
        Columns to leave out (after ``variables``).
    csv : mapping, optional
        How a ``.csv`` file is written: ``sep`` (default ``","``; ``";"`` where the
        decimal mark is a comma), ``decimal`` (``"."`` or ``","``) and ``na_values``
        (text that marks a missing value besides an empty field and ``NA``, e.g.
        ``["."]`` as SPSS and Stata exports write it, or ``["-99"]``).
    ordered : mapping, optional
        ``{variable: [category, ...]}``: an ordinal variable's categories in their order,
        the first the reference (:mod:`mlmice.coding`); for text values or labelled
        codes. SPSS variables whose measure is ``ordinal`` are ordered without it.

    Returns
    -------
    pandas.DataFrame
        The analysis frame (see the module docstring); ``df.attrs["labels"]``
        and ``df.attrs["roles"]`` are set.

    Raises
    ------
    FileNotFoundError, ValueError
        With the file, variable or row named: unknown file type, empty file,
        missing cluster/id variable, missing values in the cluster variable,
        a declared level-2 variable varying within a cluster, a non-numeric
        column that cannot be coded, an ``.RData`` file with several objects
        and no (or a wrong) ``object=``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    value_labels: dict[str, dict] = {}
    measures: dict[str, str] = {}
    if suffix == ".sav":
        raw, value_labels, measures = _read_sav(path)
    elif suffix in (".rdata", ".rda", ".rds"):
        raw = _read_r(path, object)
    elif suffix == ".csv":
        fmt = csv_format(csv)
        _check_unique_names(check_csv_header(path, fmt), str(path))
        try:
            raw = pd.read_csv(path, sep=fmt["sep"], decimal=fmt["decimal"],
                              na_values=fmt["na_values"])
        except pd.errors.EmptyDataError:
            raise ValueError(f"data file {str(path)!r} is empty") from None
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise ValueError(f"data file {str(path)!r} could not be read as CSV: "
                             f"{str(exc).strip()}") from None
    elif suffix == ".parquet":
        try:
            raw = read_parquet(path)
        except (OSError, ValueError) as exc:
            raise ValueError(f"data file {str(path)!r} could not be read as Parquet: "
                             f"{exc}") from None
        value_labels = {v: dict(m) for v, m in raw.attrs.get("labels", {}).items()}
    else:
        raise ValueError(f"data file {str(path)!r}: unknown file type {path.suffix!r}; "
                         f"supported: {', '.join(SUPPORTED)}")
    if raw.shape[0] == 0 or raw.shape[1] == 0:
        raise ValueError(f"data file {str(path)!r} is empty ({raw.shape[0]} rows, "
                         f"{raw.shape[1]} columns)")
    raw = select_variables(raw, cluster=cluster, id=id, variables=variables, drop=drop,
                           source=str(path))
    if labels:
        for var, m in labels.items():
            if var not in raw.columns:
                raise ValueError(f"labels: variable {var!r} is not in {str(path)!r}; "
                                 f"columns are {list(raw.columns)}")
            _check_user_labels(raw[var], var, m, str(path))
            value_labels[var] = dict(m)
    return prepare_frame(raw, cluster=cluster, id=id, level2=level2,
                         value_labels=value_labels, source=str(path), measures=measures,
                         ordered=ordered)


def select_variables(frame: pd.DataFrame, *, cluster: str, id: str | None = None,
                     variables: Sequence[str] | None = None, drop: Sequence[str] = (),
                     source: str = "data") -> pd.DataFrame:
    """The columns ``cluster``, ``id`` and ``variables`` (all others when None), minus
    ``drop``; an unknown name is an error naming it and the columns there are."""
    columns = [str(c) for c in frame.columns]
    asked = list(variables or []) + list(drop)
    unknown = [v for v in asked if v not in columns]
    if unknown:
        raise ValueError(f"{source}: variables {unknown} named in variables/drop are not "
                         f"columns; columns are {columns}")
    keep = [c for c in (variables if variables is not None else columns)
            if c not in (cluster, id)]
    keep = [c for c in keep if c not in set(drop)]
    head = [c for c in (cluster, id) if c is not None and c in columns]
    if variables is None and not drop:
        return frame
    out = frame[head + keep].copy()
    kept = set(out.columns)
    attrs = {k: v for k, v in frame.attrs.items()}
    if "labels" in attrs:
        attrs["labels"] = {k: v for k, v in attrs["labels"].items() if k in kept}
    if "roles" in attrs:
        attrs["roles"] = {k: ([c for c in v if c in kept] if isinstance(v, list) else v)
                          for k, v in attrs["roles"].items()}
    out.attrs = attrs
    return out


def _check_unique_names(names, source: str) -> None:
    seen, dupes = set(), []
    for name in names:
        if name in seen and name not in dupes:
            dupes.append(name)
        seen.add(name)
    if dupes:
        raise ValueError(f"{source}: column name(s) {dupes} occur more than once; every "
                         "variable needs its own name")


#: Largest magnitude accepted in an analysis column: its square and sums of squares
#: must stay finite in float64 (about 1e308).
MAX_ABS_VALUE = 1e100


def check_finite_values(df: pd.DataFrame, columns, source: str) -> None:
    """Infinite or astronomically large values are errors naming the variable and rows."""
    for col in columns:
        if not pd.api.types.is_numeric_dtype(df[col]):
            continue
        v = df[col].to_numpy(dtype=float, na_value=np.nan)
        bad = np.flatnonzero(np.isinf(v) | (np.abs(np.nan_to_num(v)) > MAX_ABS_VALUE))
        if bad.size:
            shown = ", ".join(f"{r} ({_fmt(v[r])})" for r in bad[:5]) + (
                " ..." if bad.size > 5 else "")
            raise ValueError(f"{source}: variable {col!r} has {bad.size} infinite or too "
                             f"large value(s) (|x| > {MAX_ABS_VALUE:g}) at row(s) {shown} "
                             "(0-based); use NaN for missing values and rescale the variable")


def _check_user_labels(s: pd.Series, var: str, labels: Mapping, source: str) -> None:
    """User-given labels must name two or more numeric codes covering the observed values."""
    try:
        keys = sorted(float(k) for k in labels)
    except (TypeError, ValueError):
        raise ValueError(f"labels[{var!r}]: codes must be numbers, got {list(labels)}") from None
    if len(keys) < 2:
        raise ValueError(f"labels[{var!r}]: give two codes (a binary variable) or more (a "
                         f"categorical one), got {len(keys)}")
    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = np.setdiff1d(np.unique(v[~np.isnan(v)]), keys)
    if bad.size or (s.notna() & np.isnan(v)).any():
        shown = ", ".join(_fmt(x) for x in bad[:5]) if bad.size else "non-numeric values"
        raise ValueError(f"{source}: labels[{var!r}] names codes {', '.join(map(_fmt, keys))} "
                         f"but {var!r} has {shown}")


def read_columns(path, *, object: str | None = None, csv: Mapping | None = None) -> list[str]:
    """Column names of a data file, reading as little as the format allows.

    For checking a configuration before any work: ``.csv`` reads the header,
    ``.parquet`` the schema, ``.sav`` the metadata; R files are read whole.
    Errors are those of :func:`read_data` (missing file, unknown type,
    several R objects).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        fmt = csv_format(csv)
        _check_unique_names(check_csv_header(path, fmt), str(path))
        try:
            return [str(c) for c in pd.read_csv(path, nrows=0, sep=fmt["sep"]).columns]
        except pd.errors.EmptyDataError:
            raise ValueError(f"data file {str(path)!r} is empty") from None
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            names = pq.read_schema(str(path)).names
        except Exception as exc:  # noqa: BLE001  (pyarrow's ArrowInvalid, OSError)
            raise ValueError(f"data file {str(path)!r} could not be read as Parquet: "
                             f"{exc}") from None
        return [str(c) for c in names if c != "__index_level_0__"]
    if suffix == ".sav":
        import pyreadstat

        try:
            _, meta = pyreadstat.read_sav(str(path), metadataonly=True)
        except pyreadstat.ReadstatError as exc:
            raise ValueError(f"data file {str(path)!r} could not be read as SPSS .sav: "
                             f"{exc}") from None
        return [str(c) for c in meta.column_names]
    if suffix in (".rdata", ".rda", ".rds"):
        return [str(c) for c in _read_r(path, object).columns]
    raise ValueError(f"data file {str(path)!r}: unknown file type {path.suffix!r}; "
                     f"supported: {', '.join(SUPPORTED)}")


def prepare_frame(raw: pd.DataFrame, *, cluster: str, id: str | None = None,
                  level2: Sequence[str] | None = None,
                  value_labels: Mapping[str, Mapping] | None = None,
                  source: str = "data", measures: Mapping[str, str] | None = None,
                  ordered: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """Turn an already loaded frame into the analysis frame (see :func:`read_data`).

    ``source`` names the data in error messages (a file name, or e.g.
    ``"simulated data"``); ``measures`` are SPSS's measurement levels, ``ordered`` the
    declared ordinal variables (:mod:`mlmice.coding`).
    """
    measures, ordered = dict(measures or {}), dict(ordered or {})
    unknown = sorted(set(ordered) - {str(c) for c in raw.columns})
    if unknown:
        raise ValueError(f"{source}: data.ordered names {unknown}, which are not columns")
    value_labels = dict(value_labels or {})
    columns = [str(c) for c in raw.columns]
    _check_unique_names(columns, source)
    raw = raw.set_axis(columns, axis=1).reset_index(drop=True)
    for arg, name in (("cluster", cluster), ("id", id)):
        if name is not None and name not in columns:
            raise ValueError(f"{source}: {arg} variable {name!r} not found; columns are "
                             f"{columns}")
    if id is not None and id == cluster:
        raise ValueError(f"{source}: id and cluster are the same variable {id!r}")
    na_rows = np.flatnonzero(raw[cluster].isna().to_numpy())
    if na_rows.size:
        shown = ", ".join(str(r) for r in na_rows[:10]) + (" ..." if na_rows.size > 10 else "")
        raise ValueError(f"{source}: cluster variable {cluster!r} has {na_rows.size} missing "
                         f"value(s), at row(s) {shown} (0-based); every row needs a cluster")
    check_finite_values(raw, [c for c in columns if c not in (cluster, id)], source)
    out: dict[str, pd.Series] = {}
    out_labels: dict[str, dict[int, str]] = {}
    for col in columns:
        if col in (cluster, id):
            out[col] = _identifier(raw[col])
            continue
        values, labs = code_column(raw[col], col, value_labels.get(col), source,
                                   measure=measures.get(col), order=ordered.get(col))
        out[col] = values
        if labs is not None:
            out_labels[col] = labs
    df = pd.DataFrame(out)
    if id is not None:
        twice = df.duplicated([cluster, id], keep=False).to_numpy()
        if twice.any():
            rows = np.flatnonzero(twice)
            raise ValueError(f"{source}: id variable {id!r} is not unique within clusters: "
                             f"{int(twice.sum())} rows share a ({cluster}, {id}) pair, e.g. "
                             f"rows {', '.join(map(str, rows[:4]))} (0-based); fix the data "
                             "or leave id unset")
    if id is None:
        _warn_row_identifier(df, cluster, source)
    roles = infer_roles(df, cluster=cluster, id=id)
    if level2:
        for var in level2:
            if var not in df.columns:
                raise ValueError(f"{source}: level2 variable {var!r} not found; columns are "
                                 f"{columns}")
            _check_constant(df, var, cluster, source)
    df.attrs["labels"] = out_labels
    df.attrs["roles"] = roles.to_dict()
    return df


def _warn_row_identifier(df: pd.DataFrame, cluster: str, source: str) -> None:
    """Warn of a complete column of distinct whole numbers 1..n or 0..n-1 (a row id)
    that was not named as the id: it would enter the imputation models as a predictor."""
    n = len(df)
    for col in df.columns:
        if col == cluster or not pd.api.types.is_float_dtype(df[col]) or n < 10:
            continue
        v = np.sort(df[col].to_numpy())
        if np.array_equal(v, np.arange(n)) or np.array_equal(v, np.arange(1, n + 1)):
            warnings.warn(f"{source}: variable {col!r} numbers the rows {v[0]:.0f} to "
                          f"{v[-1]:.0f} (a row identifier?); if so, name it as the id "
                          f"(read_data(id={col!r}), config data.id), or every imputation "
                          "model uses it as a predictor",
                          UserWarning, stacklevel=3)


def _read_sav(path: Path) -> tuple[pd.DataFrame, dict, dict]:
    """The data, their value labels and measurement levels (nominal, ordinal, scale)."""
    import pyreadstat

    try:
        raw, meta = pyreadstat.read_sav(str(path), apply_value_formats=False)
    except pyreadstat.ReadstatError as exc:
        raise ValueError(f"data file {str(path)!r} could not be read as SPSS .sav: {exc}") from None
    return (raw, {k: dict(v) for k, v in meta.variable_value_labels.items()},
            dict(getattr(meta, "variable_measure", {}) or {}))


def _read_r(path: Path, object: str | None) -> pd.DataFrame:
    import pyreadr

    try:
        result = pyreadr.read_r(str(path))
    except Exception as exc:  # noqa: BLE001  (pyreadr's errors are of several classes)
        raise ValueError(f"data file {str(path)!r} could not be read as R data: {exc}") from None
    names = list(result.keys())
    if not names:
        raise ValueError(f"data file {str(path)!r} is empty (no data frame found)")
    if object is None:
        if len(names) > 1:
            raise ValueError(f"data file {str(path)!r} holds {len(names)} objects "
                             f"({', '.join(map(repr, names))}); choose one with object=")
        return result[names[0]]
    if object not in result:
        raise ValueError(f"data file {str(path)!r} has no object {object!r}; objects found: "
                         f"{', '.join(map(repr, names))}")
    return result[object]


def _identifier(s: pd.Series) -> pd.Series:
    """Cluster/id column: whole floats -> int64; strings and categoricals unchanged."""
    if pd.api.types.is_bool_dtype(s):
        return s.astype(np.int64)
    if pd.api.types.is_numeric_dtype(s):
        v = s.to_numpy(dtype=float, na_value=np.nan)
        if np.all(np.isfinite(v)) and np.all(v == np.round(v)):
            return pd.Series(v.astype(np.int64), name=s.name)
        return s.astype(float)
    return s


def _check_constant(df: pd.DataFrame, var: str, cluster: str, source: str) -> None:
    if isinstance(df[var].dtype, pd.CategoricalDtype):
        df = df.assign(**{var: as_codes(df[var])})
    sub = df[[cluster, var]].dropna()
    g = sub.groupby(cluster, sort=False, observed=True)[var]
    lo, hi = g.min(), g.max()
    bad = lo.index[(lo != hi).to_numpy()]
    if len(bad):
        c = bad[0]
        raise ValueError(f"{source}: variable {var!r} is declared level 2 but varies within "
                         f"cluster {_fmt(c)} ({cluster}): values {_fmt(lo[c])} and {_fmt(hi[c])}"
                         f"{f' (and {len(bad) - 1} more clusters)' if len(bad) > 1 else ''}")


def infer_roles(df: pd.DataFrame, cluster: str, id: str | None = None) -> Roles:
    """Infer variable roles of an analysis frame.

    A variable is level 2 when it is constant within every cluster where it
    is observed and at least one cluster has two or more observed values (a
    variable never observed twice in a cluster gives no evidence and counts
    as level 1). A variable is binary when its observed values are exactly
    {0, 1}. Columns other than ``cluster`` and ``id`` must be numeric or categorical
    (a categorical one is judged by its codes).
    """
    if cluster not in df.columns:
        raise ValueError(f"cluster variable {cluster!r} not found; columns are {list(df.columns)}")
    if id is not None and id not in df.columns:
        raise ValueError(f"id variable {id!r} not found; columns are {list(df.columns)}")
    variables = [c for c in df.columns if c not in (cluster, id)]
    codes = pd.factorize(df[cluster])[0]
    level1, level2, binary = [], [], []
    for var in variables:
        categorical = isinstance(df[var].dtype, pd.CategoricalDtype)
        if not pd.api.types.is_numeric_dtype(df[var]) and not categorical:
            raise ValueError(f"variable {var!r} is neither numeric nor categorical (dtype "
                             f"{df[var].dtype}); use read_data to code it")
        v = as_float(df[var])                     # a categorical's codes
        ok = ~np.isnan(v) & (codes >= 0)
        obs = v[ok]
        if obs.size and np.array_equal(np.unique(obs), [0.0, 1.0]):
            binary.append(var)
        c = codes[ok]
        if c.size == 0:
            level1.append(var)
            continue
        n = np.bincount(c)
        lo = np.full(n.size, np.inf)
        hi = np.full(n.size, -np.inf)
        np.minimum.at(lo, c, obs)
        np.maximum.at(hi, c, obs)
        has = n > 0
        if np.any(n >= 2) and np.all(lo[has] == hi[has]):
            level2.append(var)
        else:
            level1.append(var)
    return Roles(cluster=cluster, id=id, level1=tuple(level1), level2=tuple(level2),
                 binary=tuple(binary))

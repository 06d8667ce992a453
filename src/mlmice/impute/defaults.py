"""mice's defaults: an imputation method per variable and a predictor matrix.

:func:`make_method` and :func:`make_predictor_matrix` are ``mice::make.method`` and
``mice::make.predictorMatrix`` for clustered data (van Buuren 2018, *Flexible
Imputation of Missing Data*, 2nd ed., section 6.2; the two-level codes are miceadds'):
what :func:`mlmice.impute.spec.validate_spec` uses when the user gives none.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlmice.impute.categorical import as_codes, is_categorical
from mlmice.impute.errors import SpecError

__all__ = ["as_float", "check_frame", "default_roles", "is_binary", "is_numeric", "is_usable",
           "make_method", "make_predictor_matrix", "observed_values"]


def is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype)


def is_usable(series: pd.Series) -> bool:
    """Numeric, boolean or categorical: a column the sampler can hold (as codes)."""
    return is_numeric(series) or is_categorical(series)


def as_float(series: pd.Series) -> np.ndarray:
    """A usable column as floats (category codes for a categorical), NaN where missing."""
    if is_categorical(series):
        return as_codes(series)
    return series.to_numpy(dtype=float, na_value=np.nan, copy=True)


def observed_values(series: pd.Series) -> np.ndarray:
    values = as_float(series)
    return values[~np.isnan(values)]


def is_binary(series: pd.Series) -> bool:
    """True when the observed values of a numeric column are all 0 or 1 (and some exist),
    or for a categorical column with two categories (its codes are 0/1)."""
    if is_categorical(series):
        return len(series.cat.categories) == 2 and bool(series.notna().any())
    if not is_numeric(series):
        return False
    obs = observed_values(series)
    return obs.size > 0 and bool(np.all((obs == 0) | (obs == 1)))


def make_method(df: pd.DataFrame, *, cluster: str | None = None,
                id: str | None = None) -> pd.Series:
    """Default imputation methods, as ``mice::make.method``.

    ``""`` for complete columns, the cluster variable and the id variable,
    ``"logreg"`` for binary (0/1) columns and categoricals with two categories,
    ``"polr"`` for other ordered categoricals, ``"polyreg"`` for other unordered
    ones, ``"pmm"`` for other numeric columns.

    Parameters
    ----------
    df : DataFrame
    cluster : str, optional
        Name of the cluster variable (never imputed). Defaults to the cluster
        recorded by :func:`mlmice.read_data` in ``df.attrs["roles"]``.
    id : str, optional
        Name of a row-identifier variable (never imputed); defaults to the
        recorded id.

    Returns
    -------
    Series of str indexed by column name.
    """
    cluster, id = default_roles(df, cluster, id)
    check_frame(df, cluster)
    out = {}
    for name in df.columns:
        series = df[name]
        if name in (cluster, id) or not series.isna().any():
            out[name] = ""
        elif not is_usable(series):
            raise SpecError(f"{name}: cannot choose an imputation method for a column of "
                            f"dtype {series.dtype}; make it categorical "
                            f"(df[{name!r}] = df[{name!r}].astype('category'), ordered for "
                            "an ordinal variable), code it numerically, or give it method ''")
        elif is_binary(series):
            out[name] = "logreg"
        elif is_categorical(series):
            out[name] = "polr" if series.cat.ordered else "polyreg"
        else:
            out[name] = "pmm"
    return pd.Series(out, dtype=object, name="method")


def make_predictor_matrix(df: pd.DataFrame, *, cluster: str | None = None,
                          id: str | None = None) -> pd.DataFrame:
    """Default predictor matrix, as ``mice::make.predictorMatrix``.

    Every variable predicts every other one (code 1), the diagonal is 0.
    With ``cluster`` the cluster column is coded -2 and its own row is 0.
    Columns that are neither numeric nor categorical (text) and the ``id``
    variable are not used as predictors
    (0); mice leaves an id in and the user has to zero it, as the tutorial does.

    Parameters
    ----------
    df : DataFrame
    cluster, id : str, optional
        Cluster and row-identifier variables; default to the roles recorded by
        :func:`mlmice.read_data` in ``df.attrs["roles"]``.

    Returns
    -------
    DataFrame of int, rows = targets, columns = predictors (both all columns).
    """
    cluster, id = default_roles(df, cluster, id)
    check_frame(df, cluster)
    names = list(df.columns)
    pred = pd.DataFrame(1, index=names, columns=names, dtype=int)
    for name in names:
        if not is_usable(df[name]) or name == id:
            pred[name] = 0
    if cluster is not None:
        pred[cluster] = -2
        pred.loc[cluster, :] = 0
    if id is not None:
        pred.loc[id, :] = 0
    for name in names:
        pred.loc[name, name] = 0
    pred.index.name = "target"
    pred.columns.name = "predictor"
    return pred


def default_roles(df, cluster, id):
    """Cluster and id from the arguments, else from ``df.attrs["roles"]`` (read_data)."""
    roles = getattr(df, "attrs", {}).get("roles") or {}
    if cluster is None:
        cluster = roles.get("cluster")
    if id is None:
        id = roles.get("id")
    if id is not None and id not in getattr(df, "columns", ()):
        raise SpecError(f"id variable {id!r} is not a column of the data")
    return cluster, id


def check_frame(df, cluster):
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(df).__name__}")
    if df.shape[0] == 0:
        raise SpecError(f"data has no rows (columns: {', '.join(map(str, df.columns))})")
    if df.columns.has_duplicates:
        dup = sorted(set(df.columns[df.columns.duplicated()].astype(str)))
        raise SpecError(f"data has duplicated column names: {', '.join(dup)}")
    if cluster is not None and cluster not in df.columns:
        raise SpecError(f"cluster variable {cluster!r} is not a column of the data; columns: "
                        f"{', '.join(map(str, df.columns))}")

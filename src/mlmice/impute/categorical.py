"""Categorical variables in the sampler: pandas categoricals as integer codes and dummies.

A variable with categories is a pandas ``Categorical`` column (ordered for an
ordinal variable such as a Likert item, unordered for a nominal one such as a
school type), as a factor is in R. The sampler works on a float matrix, so:

* the variable's column holds its category codes ``0 .. K-1`` (``NaN`` where
  missing), and an imputation is a code, turned back into its category by
  :meth:`mlmice.Mids.complete`; the codes index the dtype's categories, so an
  imputation is never a value outside them;
* as a predictor it enters as ``K - 1`` dummy columns (treatment contrasts, the
  first category the reference, named ``<variable><category>`` as R names
  them), each with the variable's predictor code: code 3 or 4 adds the cluster
  mean of each dummy (the share of each category in the cluster);
* a variable with two categories is binary: ``logreg`` and ``2l.bin`` impute its
  codes 0/1.

The trace records the mean and sd of the imputed codes per iteration (what mice's
``chainMean`` records for a factor: its integer codes).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["as_codes", "category_labels", "dummy_names", "dummies", "from_codes",
           "is_categorical"]


def is_categorical(series: pd.Series) -> bool:
    """True for a pandas ``Categorical`` column."""
    return isinstance(series.dtype, pd.CategoricalDtype)


def as_codes(series: pd.Series) -> np.ndarray:
    """Category codes ``0 .. K-1`` as floats, ``NaN`` where missing."""
    codes = series.cat.codes.to_numpy().astype(float)
    codes[codes < 0] = np.nan
    return codes


def category_labels(series: pd.Series) -> tuple[str, ...]:
    """The categories of a categorical column as text (for names and messages)."""
    return tuple(str(c) for c in series.cat.categories)


def from_codes(codes: np.ndarray, dtype: pd.CategoricalDtype) -> pd.Categorical:
    """Codes (floats, ``NaN`` for missing) back to a Categorical of ``dtype``."""
    codes = np.asarray(codes, dtype=float)
    out = np.where(np.isnan(codes), -1, codes).astype(int)
    if np.any(out >= len(dtype.categories)):
        raise ValueError(f"code {int(out.max())} is outside the {len(dtype.categories)} "
                         "categories")
    return pd.Categorical.from_codes(out, dtype=dtype)


def dummies(codes: np.ndarray, n_categories: int) -> np.ndarray:
    """Treatment-contrast dummies ``(n, K-1)``: column ``k-1`` is 1 where the code is ``k``."""
    codes = np.asarray(codes, dtype=float)
    return (codes[:, None] == np.arange(1, n_categories)[None, :]).astype(float)


def dummy_names(variable: str, labels: tuple[str, ...]) -> tuple[str, ...]:
    """R's names of the dummies: the variable's name followed by each non-reference category."""
    return tuple(f"{variable}{label}" for label in labels[1:])

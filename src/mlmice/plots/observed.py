"""The distributions of the observed values, one panel per variable.

Before imputing, the tutorial "Imputation of incomplete multilevel data"
(Oberman and Vink, section 3) looks at the observed data: how each variable
is distributed tells which imputation method fits (predictive mean matching
for skewed or bounded scales, a logistic model for a binary variable) and is
the reference the imputed values are later compared with
(:func:`mlmice.plots.plot_imputed`). Integer variables with few distinct
values (Likert scales, binary codes) are shown as bars of proportions; other
variables as histograms of densities. The title of each panel gives the
number of observed and missing values.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["plot_observed"]

_MAX_LEVELS = 12


def _levels(values: np.ndarray) -> np.ndarray | None:
    """Sorted distinct values when all are integers and there are at most 12 of them."""
    if values.size == 0 or np.any(values != np.round(values)):
        return None
    levels = np.unique(values)
    return levels if levels.size <= _MAX_LEVELS else None


def plot_observed(df: pd.DataFrame, *, variables: Sequence[str] | None = None,
                  path: str | os.PathLike | None = None):
    """Observed-value distributions of the numeric and categorical variables, in ggmice's
    observed blue (a categorical as bars of its categories, in their order).

    Parameters
    ----------
    df : DataFrame
        The incomplete data (NaN for missing).
    variables : sequence of str, optional
        Variables to show, in this order (default: every numeric or categorical column).
    path : path, optional
        Save the figure as PNG here.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        When a variable is not a column, or neither numeric nor categorical (a
        never-observed variable gets a panel that says so).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from mlmice.plots import OBSERVED

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    def shown(col: pd.Series) -> bool:
        return (pd.api.types.is_numeric_dtype(col.dtype)
                or isinstance(col.dtype, pd.CategoricalDtype))

    if variables is None:
        variables = [c for c in df.columns if shown(df[c])]
    variables = list(variables)
    if not variables:
        raise ValueError("no numeric or categorical variables to show")
    for name in variables:
        if name not in df.columns:
            raise ValueError(f"variable {name!r} is not a column of df")
        if not shown(df[name]):
            raise ValueError(f"variable {name!r} is neither numeric nor categorical (dtype "
                             f"{df[name].dtype})")
    ncol = min(3, len(variables))
    nrow = int(np.ceil(len(variables) / ncol))
    fig = Figure(figsize=(3.6 * ncol, 2.7 * nrow), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
    for ax, name in zip(axes, variables, strict=False):
        col = df[name]
        categories = None
        if isinstance(col.dtype, pd.CategoricalDtype):
            # every category in its order, by its code (an unobserved one shows as 0)
            categories = [str(c) for c in col.cat.categories]
            col = col.cat.codes.where(col.notna())
        values = col.to_numpy(dtype=float, na_value=np.nan)
        observed = values[np.isfinite(values)]
        if observed.size == 0:
            # shown, not refused: the inspection is where a user learns it (data.drop
            # leaves such a column out; the imputation refuses it as a predictor)
            ax.text(0.5, 0.5, "never observed", ha="center", va="center",
                    transform=ax.transAxes, color="0.4")
            ax.set_title(f"{name}: 0 observed, {values.size} missing", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        levels = (np.arange(len(categories), dtype=float) if categories is not None
                  else _levels(observed))
        if levels is not None:
            share = np.array([(observed == v).mean() for v in levels])
            ax.bar(levels, share, width=0.7 if levels.size > 1 else 0.4, color=OBSERVED)
            ax.set_xticks(levels)
            labels = (dict(enumerate(categories)) if categories is not None
                      else df.attrs.get("labels", {}).get(name))
            if labels and set(levels) <= set(labels):
                ax.set_xticklabels([str(labels[int(v)]) for v in levels],
                                   rotation=30 if len(levels) > 3 else 0)
            ax.set_ylabel("proportion")
        else:
            ax.hist(observed, bins=30, density=True, color=OBSERVED, alpha=0.85)
            ax.set_ylabel("density")
        n_missing = int(values.size - observed.size)
        ax.set_title(f"{name}: {observed.size} observed, {n_missing} missing", fontsize=9)
        ax.grid(axis="y", color="0.9")
        ax.set_axisbelow(True)
    for ax in axes[len(variables):]:
        ax.set_visible(False)
    fig.suptitle("Distributions of the observed values")
    if path is not None:
        fig.savefig(os.fspath(path), dpi=150, format="png")
    return fig

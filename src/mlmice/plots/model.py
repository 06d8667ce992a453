"""Look at the imputation model: the predictor matrix with the methods."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.patches import Patch

from mlmice.plots._style import finish, label_size, new_figure

#: predictor-matrix codes (mice / miceadds) and their meaning for a target
CODES = {
    -2: "cluster variable",
    0: "not a predictor",
    1: "fixed effect",
    2: "fixed + random effect",
    3: "fixed effect + cluster mean",
    4: "fixed + random effect + cluster mean",
}
_CODE_COLOURS = {-2: "#7A4FA0", 0: "#FFFFFF", 1: "#9CC3E6", 2: "#006CC2", 3: "#F2B880",
                 4: "#B61A51"}


def plot_pred(pred, *, method: pd.Series | dict | None = None,
              path: str | os.PathLike | None = None):
    """The predictor matrix as a tile plot with codes and methods (``ggmice::plot_pred``).

    Rows are the variables to impute (targets), columns the predictors; each
    non-zero cell shows its code (-2 cluster variable, 1 fixed effect,
    2 fixed + random effect, 3 fixed effect + cluster mean, 4 fixed + random
    effect + cluster mean) in a colour per code, with a legend. The right
    axis shows the imputation method of each row ("" for a variable that is
    not imputed is shown as ``-``).

    Parameters
    ----------
    pred : DataFrame or Mids-like
        A predictor matrix (rows = targets, columns = predictors, integer
        codes), or an imputation result with ``.predictor_matrix`` and
        ``.method``.
    method : Series or dict, optional
        Method per row (variable -> method string). Taken from ``pred``
        when it is an imputation result.
    path : path, optional
        Save the figure as PNG here.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(pred, pd.DataFrame) and hasattr(pred, "predictor_matrix"):
        if method is None:
            method = getattr(pred, "method", None)
        pred = pred.predictor_matrix
    if not isinstance(pred, pd.DataFrame):
        raise TypeError(f"pred must be a predictor-matrix DataFrame or an imputation result; "
                        f"got {type(pred).__name__}")
    if pred.empty:
        raise ValueError("pred is empty")
    try:
        codes = pred.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError("pred must hold integer codes -2, 0, 1, 2, 3, 4") from err
    bad = ~np.isin(codes, list(CODES))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"pred[{pred.index[i]!r}, {pred.columns[j]!r}] == {codes[i, j]:g}; "
                         f"codes must be one of {sorted(CODES)}")
    codes = codes.astype(np.int64)
    rows = [str(r) for r in pred.index]
    cols = [str(c) for c in pred.columns]
    if method is not None:
        method = pd.Series(method, dtype=object)
        unknown = [r for r in pred.index if r not in method.index]
        if unknown:
            raise KeyError(f"method has no entry for row(s) {unknown} of pred")
        methods = ["-" if method[r] in ("", None) else str(method[r]) for r in pred.index]
    n_row, n_col = codes.shape
    longest_col = max(len(c) for c in cols)
    longest_row = max(len(r) for r in rows)
    longest_meth = max((len(m) for m in methods), default=0) if method is not None else 0
    cell = 0.42 if max(n_row, n_col) <= 15 else 0.3
    width = max(cell * n_col, 2.5) + 0.075 * (longest_row + longest_meth) + 1.6
    height = max(cell * n_row, 2.0) + 0.075 * longest_col + 1.6
    fig = new_figure(width, height)
    ax = fig.add_subplot()
    present = sorted(set(codes.ravel()))
    keys = sorted(CODES)
    cmap = ListedColormap([_CODE_COLOURS[k] for k in keys])
    norm = BoundaryNorm(np.arange(len(keys) + 1) - 0.5, cmap.N)
    index = np.searchsorted(keys, codes)
    ax.pcolormesh(index, cmap=cmap, norm=norm, edgecolors="0.85", linewidth=0.5)
    ax.set_xlim(0, n_col)
    ax.set_ylim(n_row, 0)
    size = label_size(max(n_row, n_col))
    for i in range(n_row):
        for j in range(n_col):
            if codes[i, j] != 0:
                dark = codes[i, j] in (-2, 2, 4)
                ax.text(j + 0.5, i + 0.5, str(codes[i, j]), ha="center", va="center",
                        fontsize=size, color="white" if dark else "black", gid="pred-code")
    ax.set_xticks(np.arange(n_col) + 0.5, cols, rotation=90, fontsize=size)
    ax.set_yticks(np.arange(n_row) + 0.5, rows, fontsize=size)
    ax.set_xlabel("Predictor in the imputation model")
    ax.set_ylabel("Variable to impute")
    ax.tick_params(length=0)
    if method is not None:
        right = ax.secondary_yaxis("right")
        right.set_yticks(np.arange(n_row) + 0.5, methods, fontsize=size)
        right.set_ylabel("Imputation method")
        right.tick_params(length=0)
    fig.legend(handles=[Patch(facecolor=_CODE_COLOURS[k], edgecolor="0.6",
                              label=f"{k}: {CODES[k]}") for k in present],
               loc="outside lower center", ncols=min(3, len(present)), frameon=False,
               fontsize=8.5)
    ax.set_title("Predictor matrix")
    ax.set_gid("pred")
    return finish(fig, path)

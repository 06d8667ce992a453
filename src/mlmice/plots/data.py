"""Looks at the incomplete data: missing-data pattern, correlations, flux."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from mlmice.diagnostics import flux, md_pattern
from mlmice.diagnostics._frames import _check_frame
from mlmice.plots._style import IMPUTED, OBSERVED, finish, label_size, new_figure, thin_ticks


def _select(df: pd.DataFrame, variables: Sequence[str] | None, name: str = "df") -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame) and isinstance(getattr(df, "data", None), pd.DataFrame):
        df = df.data            # an imputation result: look at its incomplete data
    _check_frame(df, name)
    if variables is None:
        return df
    variables = [variables] if isinstance(variables, str) else list(variables)
    unknown = [v for v in variables if v not in df.columns]
    if unknown:
        raise KeyError(f"variables {unknown} are not columns of {name}")
    return df[variables]


def plot_pattern(df: pd.DataFrame, *, variables: Sequence[str] | None = None,
                 path: str | os.PathLike | None = None):
    """Missing-data pattern matrix, as ``ggmice::plot_pattern``.

    One row per distinct pattern (the complete pattern on top, ordered as
    :func:`mlmice.diagnostics.md_pattern`), one column per variable (by
    increasing number of missing values); observed cells blue, missing red.
    Left axis: number of rows with the pattern; right axis: number of
    missing variables in the pattern; top axis: variable names; bottom axis:
    number of missing values per variable.

    Parameters
    ----------
    df : DataFrame or Mids-like
        The incomplete data (or an imputation result: its ``.data``).
    variables : sequence of str, optional
        Columns to show (default all; at least two).
    path : path, optional
        Save the figure as PNG here.

    Returns
    -------
    matplotlib.figure.Figure
    """
    table = md_pattern(_select(df, variables))
    body = table.iloc[:-1]
    observed = body.drop(columns="n_missing").to_numpy()
    names = list(body.columns[:-1])
    counts = [str(c) for c in body.index]
    per_pattern = body["n_missing"].to_numpy()
    per_variable = table.iloc[-1].drop("n_missing").to_numpy()
    n_pat, p = observed.shape
    longest = max(len(n) for n in names)
    rotate = p > 6 or longest > 12
    width = 2.6 + max(0.42 * p, 3.0)
    # cells shrink when there are many patterns so the figure stays report size
    height = 1.8 + min(0.3 * n_pat, 10.0) + (0.075 * longest if rotate else 0.2)
    fig = new_figure(width, height)
    ax = fig.add_subplot()
    ax.pcolormesh(observed, cmap=ListedColormap([IMPUTED, OBSERVED]), vmin=0, vmax=1,
                  edgecolors="white" if max(n_pat, p) <= 60 else "face",
                  linewidth=1.0 if max(n_pat, p) <= 60 else 0.0)
    ax.set_xlim(0, p)
    ax.set_ylim(n_pat, 0)
    size = label_size(max(p, n_pat))
    # top: names; bottom: missing per variable
    ax.xaxis.tick_top()
    ax.set_xticks(np.arange(p) + 0.5, names, rotation=90 if rotate else 0, fontsize=size)
    bottom = ax.secondary_xaxis("bottom")
    bottom.set_xticks(np.arange(p) + 0.5, [str(int(v)) for v in per_variable], fontsize=size,
                      rotation=90 if p > 20 else 0)
    bottom.set_xlabel("Number of missing entries per variable")
    shown = thin_ticks(n_pat, max_labels=40)
    size = label_size(max(p, min(n_pat, 40)))
    ax.set_yticks(shown + 0.5, [counts[i] for i in shown], fontsize=size)
    every = "" if len(shown) == n_pat else f" (every {shown[1] - shown[0]}th pattern labelled)"
    ax.set_ylabel("Pattern frequency" + every)
    right = ax.secondary_yaxis("right")
    right.set_yticks(shown + 0.5, [str(int(per_pattern[i])) for i in shown], fontsize=size)
    right.set_ylabel("Number of missing entries per pattern" + every)
    ax.tick_params(length=0)
    bottom.tick_params(length=0)
    right.tick_params(length=0)
    for side in ("top", "bottom", "left", "right"):
        ax.spines[side].set_visible(False)
    fig.legend(handles=[Patch(color=OBSERVED, label="observed"),
                        Patch(color=IMPUTED, label="missing")],
               loc="outside lower center", ncols=2, frameon=False)
    fig.suptitle(f"Missing-data pattern ({int(per_variable.sum())} missing cells, "
                 f"{n_pat} pattern{'s' if n_pat != 1 else ''})")
    ax.set_gid("pattern")
    return finish(fig, path)


def plot_corr(df: pd.DataFrame, *, variables: Sequence[str] | None = None,
              annotate: bool | None = None, path: str | os.PathLike | None = None):
    """Pairwise correlations of the observed values as a heat map with values.

    Pearson correlations over the rows where both variables are observed
    (pairwise deletion, as ``ggmice::plot_corr``), numeric columns only; the
    diagonal is left blank.

    Parameters
    ----------
    df : DataFrame or Mids-like
        The data (or an imputation result: its incomplete ``.data``).
    variables : sequence of str, optional
        Columns to show (default all numeric columns). With fewer than two numeric
        columns the figure says that there is nothing to correlate.
    annotate : bool, optional
        Print the values in the cells (default: when at most 30 variables).
    path : path, optional
        Save the figure as PNG here.

    Returns
    -------
    matplotlib.figure.Figure
    """
    data = _select(df, variables)
    numeric = data.select_dtypes(include="number")
    dropped = [c for c in data.columns if c not in numeric.columns]
    if variables is not None and dropped:
        raise TypeError(f"plot_corr needs numeric variables; {dropped} are not numeric")
    if numeric.shape[1] < 2:
        # nothing to correlate (e.g. data whose other variables are categorical): a
        # figure that says so, so that a pipeline's inspection stage still has its figure
        fig = new_figure(5.0, 1.6)
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.text(0.5, 0.5, f"{numeric.shape[1]} numeric variable(s): no correlations to show",
                ha="center", va="center", fontsize=10)
        return finish(fig, path)
    corr = numeric.astype(np.float64).corr(method="pearson", min_periods=2)
    values = corr.to_numpy().copy()
    np.fill_diagonal(values, np.nan)
    p = values.shape[0]
    names = [str(c) for c in corr.columns]
    annotate = p <= 30 if annotate is None else bool(annotate)
    longest = max(len(n) for n in names)
    cell = 0.5 if p <= 12 else 0.38
    side = max(cell * p, 3.0)
    fig = new_figure(side + 0.08 * longest + 1.6, side + 0.08 * longest + 0.8)
    ax = fig.add_subplot()
    cmap = _diverging()
    image = ax.imshow(values, cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
    size = label_size(p)
    ax.set_xticks(np.arange(p), names, rotation=90, fontsize=size)
    ax.set_yticks(np.arange(p), names, fontsize=size)
    ax.tick_params(length=0)
    if annotate:
        text_size = float(np.clip(10.5 - 0.17 * p, 5.5, 9.0))
        for i in range(p):
            for j in range(p):
                v = values[i, j]
                if np.isfinite(v):
                    ax.text(j, i, _format_corr(v, short=p > 12), ha="center", va="center",
                            fontsize=text_size, color="white" if abs(v) > 0.6 else "black",
                            gid="corr-value")
    cbar = fig.colorbar(image, ax=ax, shrink=0.8)
    cbar.set_label("Correlation (pairwise complete observations)")
    ax.set_title("Correlations of observed values")
    ax.set_gid("corr")
    return finish(fig, path)


def _format_corr(value: float, *, short: bool) -> str:
    """Two decimals; without the leading zero when cells are small; never "-0.00"."""
    text = f"{value:.2f}"
    if text == "-0.00":
        text = "0.00"
    if short:
        text = text.replace("0.", ".", 1)
    return text


def _diverging() -> ListedColormap:
    """Blue - white - red, the ggmice correlation scale."""
    from matplotlib.colors import LinearSegmentedColormap

    cmap = LinearSegmentedColormap.from_list("mlmice_corr", [OBSERVED, "#F7F7F7", IMPUTED])
    return cmap.with_extremes(bad="#E6E6E6")


def plot_flux(df: pd.DataFrame, *, variables: Sequence[str] | None = None,
              path: str | os.PathLike | None = None):
    """Influx against outflux per variable, as ``mice::fluxplot``.

    Influx and outflux are those of :func:`mlmice.diagnostics.flux`
    (van Buuren 2018, section 4.1.3). Variables near the upper left are
    complete and connect well to missing data (good predictors); variables
    near the lower right are mostly missing. The dashed line is
    ``influx + outflux = 1``. Labels of variables at the same place are
    pushed apart and joined to their point by a thin line.

    Parameters
    ----------
    df : DataFrame or Mids-like
        The incomplete data, or an imputation result (its ``.data``); all
        columns enter the flux, ``variables`` picks the ones shown.
    variables : sequence of str, optional
    path : path, optional
        Save the figure as PNG here.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fx = flux(_select(df, None), local=variables)
    fig = new_figure(6.4, 5.6)
    ax = fig.add_subplot()
    ax.plot([0, 1], [1, 0], linestyle="--", color="0.6", linewidth=1.0, zorder=1)
    ax.scatter(fx["influx"], fx["outflux"], s=22, color=OBSERVED, zorder=3, gid="flux-points")
    ax.set_xlim(-0.05, 1.25)
    ax.set_ylim(-0.08, 1.12)
    ax.set_xlabel("Influx (missing entries connected to observed data)")
    ax.set_ylabel("Outflux (observed entries connected to missing data)")
    ax.set_title("Influx and outflux per variable")
    ax.grid(color="0.92", zorder=0)
    size = label_size(len(fx))
    texts = []
    for name, x, y in zip(fx.index, fx["influx"], fx["outflux"], strict=True):
        if np.isfinite(x) and np.isfinite(y):
            texts.append(ax.text(x, y, f" {name}", fontsize=size, ha="left", va="center",
                                 gid="flux-label"))
    _repel(fig, ax, texts)
    return finish(fig, path)


def _repel(fig, ax, texts, *, max_steps: int = 400) -> None:
    """Move overlapping labels until no label overlaps another label or a point.

    Greedy, in order of the points' height: a label that overlaps a point or
    a label already placed is shifted a little to the right and then in
    small vertical steps, alternately below and above its point, and gets a
    thin leader line to its point.
    """
    if not texts:
        return
    renderer = fig.canvas.get_renderer()
    fig.draw_without_rendering()
    points = [ax.transData.transform(t.get_position()) for t in texts]
    radius = 5.0
    from matplotlib.transforms import Bbox

    occupied = [Bbox.from_extents(x - radius, y - radius, x + radius, y + radius)
                for x, y in points]
    to_data = ax.transData.inverted()
    order = sorted(range(len(texts)), key=lambda k: -points[k][1])
    dx = 12.0
    for k in order:
        text = texts[k]
        base = text.get_window_extent(renderer).padded(2.0)
        own = occupied[k]
        frame = ax.bbox

        def clashes(box, own=own, frame=frame):
            inside = (box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0
                      and box.y1 <= frame.y1)
            return not inside or any(box.overlaps(other) for other in occupied
                                     if other is not own)

        box, shift = base, (0.0, 0.0)
        if clashes(base):
            step = base.height * 0.6
            for attempt in range(max_steps):
                dy = ((attempt + 1) // 2) * step * (-1 if attempt % 2 else 1)
                candidate = base.translated(dx, dy)
                if not clashes(candidate):
                    box, shift = candidate, (dx, dy)
                    break
        if shift != (0.0, 0.0):
            px, py = points[k]
            anchor = to_data.transform((px + shift[0], py + shift[1]))
            start = to_data.transform((px + radius, py))
            text.set_position(tuple(anchor))
            ax.plot([start[0], anchor[0]], [start[1], anchor[1]], color="0.6",
                    linewidth=0.5, zorder=2)
        occupied.append(box)

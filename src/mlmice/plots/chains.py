"""Trace plots of the imputation chains."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from mlmice.diagnostics import STATISTICS, rhat, trace_frame, trace_variables
from mlmice.plots._style import finish, new_figure

_STAT_LABEL = {"mean": "mean", "sd": "sd"}


def _chain_colours(m: int):
    if m <= 10:
        cmap = colormaps["tab10"]
        return [cmap(i) for i in range(m)], None
    cmap = colormaps["viridis"]
    norm = Normalize(vmin=1, vmax=m)
    return [cmap(norm(c)) for c in range(1, m + 1)], ScalarMappable(norm=norm, cmap=cmap)


def plot_trace(imp, variables: Sequence[str] | None = None, *, show_rhat: bool = True,
               path: str | os.PathLike | None = None):
    """Trace plots: mean and sd of the imputed values per iteration, one line per chain.

    One pair of panels (mean, sd) per variable, as ``mice``'s ``plot(imp)``
    and ``ggmice::plot_trace``. Chains are coloured with a legend (up to 10
    chains) or a colour bar (more). With ``show_rhat`` each panel title
    carries the rank-normalised split R-hat over all iterations
    (:func:`mlmice.diagnostics.rhat`). Well-mixed chains intermingle and
    show no trend. Each panel draws its chains as one
    :class:`~matplotlib.collections.LineCollection` (gid ``"chains"``, one
    polyline per chain in chain order).

    Parameters
    ----------
    imp : Mids-like or DataFrame
        An imputation result with ``.trace`` or a trace DataFrame with
        columns ``iteration``, ``chain``, ``variable``, ``mean``, ``sd``.
    variables : sequence of str, optional
        Variables to show, in this order (default: all in the trace).
    show_rhat : bool
        Put R-hat in the panel titles.
    path : path, optional
        Save the figure as PNG here.

    Returns
    -------
    matplotlib.figure.Figure
    """
    trace = trace_frame(imp)
    variables = trace_variables(trace, variables)
    if not variables:
        raise ValueError("the trace has no variables to plot")
    chains = sorted(trace["chain"].unique())
    colours, mappable = _chain_colours(len(chains))
    colour_of = dict(zip(chains, colours, strict=True))
    r_hat = rhat(trace, variables=variables).set_index(["variable", "statistic"])["rhat"] \
        if show_rhat else None

    n = len(variables)
    var_cols = 1 if n <= 4 else (2 if n <= 12 else 3)
    var_rows = int(np.ceil(n / var_cols))
    width = 4.6 * var_cols + (1.0 if mappable is not None or len(chains) > 1 else 0.0)
    fig = new_figure(width + 0.8, 1.75 * var_rows + 1.0)
    grid = fig.add_gridspec(var_rows, 2 * var_cols)
    line_width = 1.1 if len(chains) <= 10 else (0.7 if len(chains) <= 40 else 0.45)
    alpha = 1.0 if len(chains) <= 10 else 0.75
    axes = {}
    # the same iteration range in every panel (set, not shared: sharing 60 axes is slow)
    x_range = (trace["iteration"].min() - 0.3, trace["iteration"].max() + 0.3)
    for k, var in enumerate(variables):
        r, c = divmod(k, var_cols)
        sub = trace[trace["variable"] == var]
        for s, stat in enumerate(STATISTICS):
            ax = fig.add_subplot(grid[r, 2 * c + s])
            # one LineCollection per panel: one polyline per chain (fast for 100 chains)
            segments, seg_colours = [], []
            for chain, lines in sub.groupby("chain", sort=True):
                segments.append(np.column_stack([lines["iteration"].to_numpy(np.float64),
                                                 lines[stat].to_numpy(np.float64)]))
                seg_colours.append(colour_of[chain])
            ax.add_collection(LineCollection(segments, colors=seg_colours,
                                             linewidths=line_width, alpha=alpha,
                                             gid="chains"))
            ax.autoscale_view()
            ax.set_xlim(*x_range)

            title = f"{var}: {_STAT_LABEL[stat]}"
            if r_hat is not None:
                value = r_hat.get((var, stat), np.nan)
                if np.isfinite(value):
                    title += f"  (R\u0302 {value:.2f})"
            ax.set_title(title, fontsize=8.5 if len(title) < 40 else 7.5, loc="left")
            ax.tick_params(labelsize=7.5)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
            ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
            ax.grid(color="0.93")
            if not np.isfinite(sub[stat].to_numpy(np.float64)).any():
                note = "no finite values" + ("\n(one imputed value?)" if stat == "sd" else "")
                ax.text(0.5, 0.5, note, ha="center", va="center", fontsize=7.5, color="0.4",
                        transform=ax.transAxes, gid="no-values")
                ax.set_yticks([])
            last_in_column = k + var_cols >= n
            if last_in_column:
                ax.set_xlabel("Iteration", fontsize=8)
            else:        # iteration numbers only under the last panel of a column
                ax.tick_params(labelbottom=False)
            ax.set_gid(f"trace:{var}:{stat}")
            axes[(var, stat)] = ax
    if mappable is not None:
        cbar = fig.colorbar(mappable, ax=list(axes.values()), shrink=0.6, pad=0.01)
        cbar.set_label("Chain (imputation number)")
    else:
        handles = [Line2D([], [], color=colour_of[c], linewidth=1.5, label=str(c))
                   for c in chains]
        fig.legend(handles=handles, title="Chain", loc="outside right center",
                   frameon=False, fontsize=8)
    fig.suptitle("Trace plots of the imputed values (mean and sd per iteration)")
    return finish(fig, path)

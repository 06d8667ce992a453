"""Imputed against observed values: strip, density and histogram looks (ggmice)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from mlmice._validation import check_random_state, check_scalar
from mlmice.diagnostics import imputed_long
from mlmice.plots._style import IMPUTED, OBSERVED, finish, new_figure, thin_ticks

KINDS = ("strip", "density", "hist")
_HIST_ALPHA = 0.6


def _values(long: pd.DataFrame, where: pd.DataFrame, variable: str):
    """Observed values and {imputation: imputed values} of ``variable``."""
    first = long[long[".imp"] == long[".imp"].min()]
    ids = first[".id"].to_numpy()
    mask = where[variable].to_numpy()
    observed = first[variable].to_numpy(dtype=np.float64)[~mask[ids]]
    imputed = {}
    for i, block in long.groupby(".imp", sort=True):
        sel = mask[block[".id"].to_numpy()]
        imputed[int(i)] = block[variable].to_numpy(dtype=np.float64)[sel]
    return observed[np.isfinite(observed)], imputed


def discrete_levels(values: np.ndarray, *, max_levels: int = 10) -> np.ndarray | None:
    """The sorted distinct values when all are integers and at most ``max_levels``."""
    values = values[np.isfinite(values)]
    if values.size == 0 or np.any(values != np.round(values)):
        return None
    levels = np.unique(values)
    return levels if levels.size <= max_levels else None


def _strip(ax, observed, imputed, rng, size: float, levels, labels=None):
    m = len(imputed)
    width = 0.3 if m <= 20 else 0.4
    # discrete values also get a little vertical jitter so that counts show
    height = 0.0 if levels is None else 0.12 * (np.diff(levels).min() if levels.size > 1 else 1)
    ax.scatter(rng.uniform(-width, width, observed.size),
               observed + rng.uniform(-height, height, observed.size), s=size,
               color=OBSERVED, alpha=0.5, linewidths=0, gid="observed",
               rasterized=observed.size > 5000)
    xs = np.concatenate([np.full(v.size, i, dtype=np.float64) for i, v in imputed.items()])
    ys = np.concatenate(list(imputed.values()))
    ax.scatter(xs + rng.uniform(-width, width, xs.size),
               ys + rng.uniform(-height, height, ys.size), s=size, color=IMPUTED, alpha=0.6,
               linewidths=0, gid="imputed", rasterized=xs.size > 5000)
    if levels is not None:
        ax.set_yticks(levels, _level_labels(levels, labels))
    positions = np.arange(m + 1)
    shown = thin_ticks(m + 1, max_labels=25)
    ax.set_xticks(positions[shown], [str(p) for p in positions[shown]])
    ax.set_xlim(-0.6, m + 0.6)
    ax.set_xlabel("Imputation number (0 = observed data)")


def _density_curve(values: np.ndarray, grid: np.ndarray, chunk: int = 4096):
    r"""Gaussian kernel density of ``values`` at ``grid`` with Scott's bandwidth.

    .. math:: \hat f(x) = \frac{1}{n h} \sum_i \phi\Big(\frac{x - x_i}{h}\Big),
       \qquad h = s\, n^{-1/5},

    with :math:`s` the sample standard deviation: ``scipy.stats.gaussian_kde``'s
    default in one dimension (Scott 1992), equal to it to rounding
    (``tests/test_plots.py``), without importing scipy.stats (0.7 s of the job).
    Summed over chunks of ``values``, so memory stays ``len(grid) * chunk``.
    """
    values = np.asarray(values, dtype=float)
    if values.size < 2 or np.ptp(values) == 0:
        return None
    h = values.std(ddof=1) * values.size ** -0.2
    density = np.zeros(grid.size)
    for start in range(0, values.size, chunk):
        z = (grid[:, None] - values[None, start:start + chunk]) / h
        density += np.exp(-0.5 * z * z).sum(axis=1)
    return density / (values.size * h * np.sqrt(2.0 * np.pi))


def _proportions(ax, observed, imputed, variable, levels, labels=None):
    """The discrete analogue of the density look: the share of each value as bars.

    Per value a blue bar (observed share) beside a red bar (the imputed share,
    averaged over imputations) with one red dot per imputation.
    """
    m = len(imputed)
    x = np.arange(levels.size, dtype=float)
    width = 0.38
    obs_share = ((observed[:, None] == levels[None, :]).mean(axis=0) if observed.size
                 else np.zeros(levels.size))
    ax.bar(x - width / 2, obs_share, width=width, color=OBSERVED, alpha=0.85, gid="observed")
    shares = np.array([(v[:, None] == levels[None, :]).mean(axis=0)
                       for v in imputed.values() if v.size])
    if shares.size:
        ax.bar(x + width / 2, shares.mean(axis=0), width=width, color=IMPUTED, alpha=0.35,
               gid="imputed")
        jitter = np.linspace(-0.12, 0.12, len(shares)) if len(shares) > 1 else np.zeros(1)
        for k, (i, share) in enumerate(zip((i for i, v in imputed.items() if v.size), shares,
                                           strict=True)):
            ax.plot(x + width / 2 + jitter[k], share, linestyle="none", marker="o",
                    markersize=3.5 if m <= 20 else 2.0, color=IMPUTED, gid=f"imputed-{i}",
                    zorder=3)
    ax.set_xticks(x, _level_labels(levels, labels))
    top = max(float(obs_share.max()), float(shares.max()) if shares.size else 0.0)
    ax.set_ylim(0.0, min(1.03, 1.15 * top + 0.02))
    ax.set_xlabel(variable)
    ax.set_ylabel("Proportion")


def _level_labels(levels: np.ndarray, labels) -> list[str]:
    """Tick labels of discrete values: the value label where there is one."""
    labels = labels or {}
    out = []
    for v in levels:
        key = int(v) if float(v).is_integer() else v
        out.append(str(labels.get(key, labels.get(str(key), f"{v:g}"))))
    return out


def _density(ax, observed, imputed, variable):
    pooled = np.concatenate([observed, *imputed.values()])
    lo, hi = np.nanmin(pooled), np.nanmax(pooled)
    pad = 0.1 * (hi - lo if hi > lo else 1.0)
    grid = np.linspace(lo - pad, hi + pad, 256)
    m = len(imputed)
    lw = 0.9 if m <= 20 else 0.5
    too_few = []
    for i, v in imputed.items():
        dens = _density_curve(v, grid)
        if dens is not None:
            ax.plot(grid, dens, color=IMPUTED, linewidth=lw, alpha=0.8, gid=f"imputed-{i}",
                    zorder=3)
        elif v.size:
            too_few.append(v)
    if too_few:
        # a density needs two distinct values: show such imputations as a rug
        ax.plot(np.concatenate(too_few), np.zeros(sum(v.size for v in too_few)),
                linestyle="none", marker="|", markersize=14, markeredgewidth=1.5,
                color=IMPUTED, gid="imputed-rug")
    dens = _density_curve(observed, grid)
    if dens is not None:
        ax.plot(grid, dens, color=OBSERVED, linewidth=2.0, gid="observed", zorder=2)
    elif observed.size:
        ax.plot(observed, np.zeros(observed.size), linestyle="none", marker="|",
                markersize=14, markeredgewidth=2.0, color=OBSERVED, gid="observed-rug")
    ax.set_xlabel(variable)
    ax.set_ylabel("Density")


def _hist(ax, observed, imputed, variable, edges):
    m = len(imputed)
    pooled_imp = np.concatenate(list(imputed.values())) if imputed else np.empty(0)
    ax.hist(observed, bins=edges, color=OBSERVED, alpha=_HIST_ALPHA, gid="observed",
            label="observed")
    if pooled_imp.size:
        # imputed bars as red outlines on top, so both stay visible where they overlap
        _, _, bars = ax.hist(pooled_imp, bins=edges, weights=np.full(pooled_imp.size, 1.0 / m),
                             fill=False, edgecolor=IMPUTED, linewidth=1.4, gid="imputed",
                             label="imputed", zorder=3)
        for bar in bars:            # no red outline along the axis for empty bins
            bar.set_visible(bar.get_height() > 0)
    if edges.size <= 12 and np.allclose(np.diff(edges), 1.0) and np.all(edges % 1 == 0.5):
        ax.set_xticks(edges[:-1] + 0.5)      # discrete: one bar per value, ticks on values
    ax.set_xlabel(variable)
    ax.set_ylabel("Count")


def plot_imputed(imp, variable: str, kind: str = "strip", by_cluster: bool = False, *,
                 where: pd.DataFrame | None = None, cluster: str | None = None,
                 n_clusters: int = 9, bins: int | str | None = None, seed: int = 0,
                 labels: Mapping | None = None, path: str | os.PathLike | None = None):
    """Imputed values against observed values, ggmice style.

    - ``kind="strip"``: the values by imputation number, jittered; position
      0 holds the observed values, positions 1..m the values imputed in each
      data set (``mice::stripplot`` / ``ggmice(imp, aes(.imp, y)) +
      geom_jitter()``).
    - ``kind="density"``: a kernel density (Gaussian, Scott's bandwidth) of
      the observed values (thick blue) and one of the imputed values of each
      imputation (thin red) (``mice::densityplot``).
    - ``kind="hist"``: histograms on common bins of the observed values and
      of the imputed values, the latter averaged over the imputations.

    A discrete variable (all values, observed and imputed, are integers with
    at most 10 distinct values, e.g. a 0/1 variable, or a categorical one,
    whose categories label its values) gets a small vertical
    jitter in the strip look, bars of the share of each value (observed
    beside imputed, a dot per imputation) instead of kernel densities, and
    one histogram bar per value; its values carry their labels (``labels=``,
    or the data's ``attrs["labels"]``, e.g. boy/girl for 0/1).
    A density needs two distinct values: panels where the observed or an
    imputation's values have fewer show them as a rug at zero.

    With ``by_cluster=True`` the look is drawn per cluster in a grid of
    panels for the first ``n_clusters`` clusters (in sorted order) that have
    an imputed value of ``variable``. Imputed values that lie far from the
    observed ones, or densities that differ in ways the missingness
    mechanism cannot explain, point at an imputation model to revise.

    Parameters
    ----------
    imp : Mids-like or DataFrame
        An imputation result (``.complete("long")``, ``.where``, and
        ``.cluster`` for ``by_cluster``), or a long completed DataFrame
        (columns ``.imp`` 1..m, ``.id`` 0-based row position, the variables)
        with ``where=``.
    variable : str
        The variable to show.
    kind : {"strip", "density", "hist"}
    labels : mapping, optional
        Value -> label of a discrete variable; default the imputation
        result's ``data.attrs["labels"][variable]`` when it has one.
    by_cluster : bool
        One panel per cluster.
    where : DataFrame of bool, optional
        Mask of imputed cells (required with a long DataFrame).
    cluster : str, optional
        Name of the cluster column (default: ``imp.cluster``).
    n_clusters : int
        Number of cluster panels with ``by_cluster``.
    bins : int or str, optional
        Histogram bins (numpy's ``bins=``), the same in every panel (default
        20, or 10 with ``by_cluster``).
    seed : int
        Seed of the jitter (the strip plot is reproducible).
    path : path, optional
        Save the figure as PNG here.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if kind not in KINDS:
        raise ValueError(f"kind == {kind!r}, must be one of {KINDS}")
    check_scalar(n_clusters, "n_clusters", kind=int, min_val=1)
    long, where = imputed_long(imp, where=where)
    if variable not in long.columns:
        raise KeyError(f"variable {variable!r} is not a column of the completed data")
    if variable not in where.columns:
        raise KeyError(f"variable {variable!r} is not a column of where (the imputed-cell mask)")
    categories = None
    if isinstance(long[variable].dtype, pd.CategoricalDtype):
        # a categorical variable: its codes, drawn as discrete values with its categories
        categories = [str(c) for c in long[variable].cat.categories]
        codes = long[variable].cat.codes.to_numpy().astype(float)
        codes[codes < 0] = np.nan
        long = long.assign(**{variable: codes})
        if labels is None:
            labels = dict(enumerate(categories))
    elif not pd.api.types.is_numeric_dtype(long[variable]):
        raise TypeError(f"variable {variable!r} is neither numeric nor categorical (dtype "
                        f"{long[variable].dtype}); plot_imputed draws numeric and categorical "
                        "variables")
    rng = check_random_state(seed)
    m = long[".imp"].nunique()
    all_obs, all_imp = _values(long, where, variable)
    pooled = np.concatenate([all_obs, *all_imp.values()])
    pooled = pooled[np.isfinite(pooled)]
    if pooled.size == 0:
        raise ValueError(f"{variable!r} has no finite values to draw")
    levels = (discrete_levels(pooled) if categories is None
              else np.arange(len(categories), dtype=float))
    if labels is None:
        data = None if isinstance(imp, pd.DataFrame) else getattr(imp, "data", None)
        attrs = data.attrs if isinstance(data, pd.DataFrame) else {}
        labels = (attrs.get("labels") or {}).get(variable)
    if kind == "hist":
        if levels is not None and bins is None:
            bins = np.append(levels - 0.5, levels[-1] + 0.5)   # one bar per value
        bins = np.histogram_bin_edges(pooled, bins=(10 if by_cluster else 20) if bins is None
                                      else bins)

    if not by_cluster:
        fig = new_figure(max(5.5, 2.5 + 0.09 * m) if kind == "strip" else 6.0, 4.4)
        ax = fig.add_subplot()
        _draw(ax, kind, all_obs, all_imp, variable, rng, bins, levels, size=6.0, labels=labels)
        if kind == "strip":
            ax.set_ylabel(variable)
        n_imp = sum(v.size for v in all_imp.values()) // max(m, 1)
        ax.set_title(f"{variable}: {all_obs.size} observed, {n_imp} imputed "
                     f"in each of {m} imputations", fontsize=10)
        ax.set_gid(f"imputed:{variable}")
    else:
        if cluster is None and not isinstance(imp, pd.DataFrame):
            cluster = getattr(imp, "cluster", None)
        if cluster is None:
            raise ValueError("by_cluster=True needs cluster= (the name of the cluster column)")
        if cluster not in long.columns:
            raise KeyError(f"cluster {cluster!r} is not a column of the completed data")
        fig = _cluster_panels(long, where, variable, cluster, kind=kind, n_clusters=n_clusters,
                              rng=rng, bins=bins, levels=levels, value_labels=labels)
    fig.legend(handles=_legend_handles(kind, discrete=levels is not None),
               loc="outside lower center", ncols=2,
               frameon=False)
    return finish(fig, path)


def _cluster_label(value) -> str:
    """A cluster id for a title: 1.0 -> "1"."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _cluster_panels(long, where, variable, cluster, *, kind, n_clusters, rng, bins, levels,
                    value_labels=None):
    """One panel per cluster for the first ``n_clusters`` clusters with imputed values."""
    first = long[long[".imp"] == long[".imp"].min()]
    labels = pd.Series(first[cluster].to_numpy(), index=first[".id"].to_numpy()).sort_index()
    has_imp = where[variable].to_numpy()[labels.index.to_numpy()]
    candidates = pd.unique(labels[has_imp])
    if len(candidates) == 0:
        raise ValueError(f"{variable!r} has no imputed values in any cluster")
    chosen = sorted(candidates)[:n_clusters]
    cols = int(min(3, np.ceil(np.sqrt(len(chosen)))))
    rows = int(np.ceil(len(chosen) / cols))
    fig = new_figure(3.6 * cols + 0.4, 2.7 * rows + 1.0)
    grid = fig.add_gridspec(rows, cols)
    row_cluster = labels.to_numpy()
    for k, lab in enumerate(chosen):
        keep_ids = labels.index.to_numpy()[row_cluster == lab]
        observed, imputed = _values(long[long[".id"].isin(keep_ids)], where, variable)
        ax = fig.add_subplot(grid[divmod(k, cols)])
        _draw(ax, kind, observed, imputed, variable, rng, bins, levels, size=9.0,
              labels=value_labels)
        ax.set_title(f"{cluster} {_cluster_label(lab)}", fontsize=9)
        ax.tick_params(labelsize=7.5)
        ax.xaxis.label.set_size(8)
        ax.yaxis.label.set_size(8)
        if kind == "strip":
            ax.set_ylabel(variable)
        if k % cols:
            ax.set_ylabel("")
        if k + cols < len(chosen):
            ax.set_xlabel("")
        ax.set_gid(f"imputed:{variable}:{_cluster_label(lab)}")
    fig.suptitle(f"{variable} by cluster (first {len(chosen)} clusters with imputed values)")
    return fig


def _draw(ax, kind, observed, imputed, variable, rng, bins, levels, size, labels=None):
    if kind == "strip":
        _strip(ax, observed, imputed, rng, size, levels, labels)
    elif kind == "density" and levels is not None:
        _proportions(ax, observed, imputed, variable, levels, labels)
    elif kind == "density":
        _density(ax, observed, imputed, variable)
    else:
        _hist(ax, observed, imputed, variable, bins)
    ax.grid(color="0.93")
    ax.set_axisbelow(True)


def _legend_handles(kind, discrete=False):
    if kind == "density" and discrete:
        return [Patch(facecolor=OBSERVED, alpha=0.85, label="observed"),
                Patch(facecolor=IMPUTED, alpha=0.35,
                      label="imputed (bar: mean over imputations; dots: each imputation)")]
    if kind == "hist":
        return [Patch(facecolor=OBSERVED, alpha=_HIST_ALPHA, label="observed"),
                Patch(facecolor="none", edgecolor=IMPUTED, linewidth=1.4,
                      label="imputed (mean count per imputation)")]
    if kind == "density":
        return [Line2D([], [], color=OBSERVED, linewidth=2.0, label="observed"),
                Line2D([], [], color=IMPUTED, linewidth=1.0, label="imputed (one per imputation)")]
    return [Patch(color=OBSERVED, label="observed"), Patch(color=IMPUTED, label="imputed")]

"""The result of a simulation study: bias and coverage per term and arm, with MC error bars."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from mlmice.plots._style import finish, label_size, new_figure

_REFERENCE_COLOURS = {"complete": "#444444", "cca": "#B61A51"}
_ARM_COLOURS = ["#006CC2", "#F28E2B", "#59A14F", "#7A4FA0", "#9C755F", "#EDC948", "#76B7B2"]


def plot_performance(summary: pd.DataFrame, *, model: str | None = None,
                     path: str | os.PathLike | None = None):
    """Relative bias against the complete data and coverage, per term and arm.

    One row of two panels per model (every model of the table, or ``model``).
    Left panel: ``relative_bias_vs_complete`` (paired, in per cent) of every
    term, fixed effects and variance components, with +-2 MC SE bars and a
    band at +-10 %. Terms whose true value is 0 are left out (a relative bias
    against a mean near 0 is not defined; their bias is in the summary table),
    except covariances already in correlation units
    (:func:`mlmice.simulation.covariances_in_correlation_units`, labelled
    ``(corr.)``), whose scale is their variances'.
    Right panel: coverage of the 95 % intervals of the fixed effects with +-2
    MC SE bars and the band 93-97 % (empty for a model without a known truth).
    One colour per arm.

    Parameters
    ----------
    summary : DataFrame
        :func:`mlmice.simulation.performance_measures` output.
    model : str, optional
        The one model to show (default: all, in the table's order).
    path : path, optional
        Save as PNG.
    """
    if summary.empty:
        raise ValueError("summary is empty: no replicate finished")
    models = list(dict.fromkeys(summary["model"])) if model is None else [model]
    unknown = [m for m in models if m not in set(summary["model"])]
    if unknown:
        raise ValueError(f"model {unknown[0]!r} is not in the summary (models: "
                         f"{', '.join(dict.fromkeys(summary['model']))})")
    defined = (summary["true_value"] != 0) | summary["term"].str.endswith(" (corr.)")
    tables = [summary[(summary["model"] == m) & defined] for m in models]
    arms = list(dict.fromkeys(summary["arm"]))
    colours = {a: _REFERENCE_COLOURS.get(a) for a in arms}
    others = iter(_ARM_COLOURS * 3)
    colours = {a: c if c else next(others) for a, c in colours.items()}
    sizes = [max(len(dict.fromkeys(t["term"])), 1) for t in tables]
    fig = new_figure(11.0, sum(0.9 + 0.45 * n for n in sizes))
    axes = fig.subplots(len(models), 2, width_ratios=[3, 2], height_ratios=sizes,
                        squeeze=False)
    for (ax_bias, ax_cov), name, tab in zip(axes, models, tables, strict=True):
        ax_cov.sharey(ax_bias)
        _draw_model(ax_bias, ax_cov, tab, name, colours)
    axes[0, 0].legend(loc="best", fontsize=8, frameon=False)
    return finish(fig, path)


def _draw_model(ax_bias, ax_cov, tab: pd.DataFrame, model: str, colours: dict) -> None:
    terms = list(dict.fromkeys(tab["term"]))
    arms = [a for a in colours if a in set(tab["arm"])]
    height = 0.8 / max(len(arms), 1)
    y = np.arange(len(terms))[::-1]
    for k, arm in enumerate(arms):
        rows = tab[tab["arm"] == arm].set_index("term").reindex(terms)
        pos = y + 0.4 - (k + 0.5) * height
        rb = 100 * rows["relative_bias_vs_complete"].to_numpy(dtype=float)
        rb_se = 100 * rows["relative_bias_vs_complete_mcse"].to_numpy(dtype=float)
        ax_bias.errorbar(rb, pos, xerr=2 * rb_se, fmt="o", ms=4, color=colours[arm],
                         label=arm, capsize=2)
        cov = 100 * rows["coverage"].to_numpy(dtype=float)
        cov_se = 100 * rows["coverage_mcse"].to_numpy(dtype=float)
        ax_cov.errorbar(cov, pos, xerr=2 * cov_se, fmt="o", ms=4, color=colours[arm],
                        capsize=2)
    ax_bias.axvspan(-10, 10, color="#DDDDDD", zorder=0)
    ax_bias.axvline(0, color="black", lw=0.8)
    ax_cov.axvspan(93, 97, color="#DDDDDD", zorder=0)
    ax_cov.axvline(95, color="black", lw=0.8)
    ax_bias.set_yticks(y, terms, fontsize=label_size(len(terms)))
    ax_cov.tick_params(labelleft=False)
    ax_bias.set_xlabel("relative bias against the complete data (%), +-2 MC SE")
    ax_cov.set_xlabel("coverage of 95% CIs (%), +-2 MC SE")
    n = int(tab["n_replicates"].max()) if len(tab) else 0
    ax_bias.set_title(f"model {model}: {n} replicates", loc="left", fontsize=10)

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

    Left panel: ``relative_bias_vs_complete`` (paired, in per cent) of every
    term, fixed effects and variance components, with +-2 MC SE bars and a
    band at +-10 %. Terms whose true value is 0 are left out (a relative bias
    against a mean near 0 is not defined; their bias is in the summary table),
    except covariances already in correlation units
    (:func:`mlmice.simulation.covariances_in_correlation_units`, labelled
    ``(corr.)``), whose scale is their variances'.
    Right panel: coverage of the 95 % intervals of the fixed effects with +-2
    MC SE bars and the band 93-97 %. One colour per arm.

    Parameters
    ----------
    summary : DataFrame
        :func:`mlmice.simulation.performance_measures` output.
    model : str, optional
        The model to show (default the last in the table).
    path : path, optional
        Save as PNG.
    """
    if summary.empty:
        raise ValueError("summary is empty: no replicate finished")
    model = summary["model"].iloc[-1] if model is None else model
    defined = (summary["true_value"] != 0) | summary["term"].str.endswith(" (corr.)")
    tab = summary[(summary["model"] == model) & defined]
    terms = list(dict.fromkeys(tab["term"]))
    arms = list(dict.fromkeys(tab["arm"]))
    colours = {a: _REFERENCE_COLOURS.get(a) for a in arms}
    others = iter(_ARM_COLOURS * 3)
    colours = {a: c if c else next(others) for a, c in colours.items()}
    fig = new_figure(11.0, 1.2 + 0.45 * len(terms))
    ax_bias, ax_cov = fig.subplots(1, 2, sharey=True, width_ratios=[3, 2])
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
    ax_bias.set_xlabel("relative bias against the complete data (%), +-2 MC SE")
    ax_cov.set_xlabel("coverage of 95% CIs (%), +-2 MC SE")
    n = int(tab["n_replicates"].max())
    ax_bias.set_title(f"model {model}: {n} replicates", loc="left", fontsize=10)
    ax_bias.legend(loc="best", fontsize=8, frameon=False)
    return finish(fig, path)

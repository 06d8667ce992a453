r"""Truth, complete-case analysis and multiple imputation in one figure.

Two panels over the rows of :func:`mlmice.compare.compare_estimates`:

- **Fixed effects**, every term on one standardised scale: estimates and
  95 % interval ends as :math:`(\hat\theta - \hat\theta^{\text{true}}) /
  \text{se}^{\text{true}}`, so the truth sits at 0 with its interval near
  :math:`\pm 1.96`, and the axis reads as "complete-data standard errors away
  from the truth" whatever the units of a term.
- **Variance components** (variances and the ICC; covariances, which may be
  0, are left out): the relative difference from the truth in percent,
  :math:`100\,(\hat\theta - \hat\theta^{\text{true}}) / \hat\theta^{\text{true}}`.
  Points without intervals: pooled variance components are averages over
  the imputations without a standard error (mitml's ``extra.pars``).

Without a truth (data that were incomplete from the start) MI is the
reference in both panels.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from mlmice.plots._style import finish, new_figure
from mlmice.pooling.varcomp import split_name

__all__ = ["plot_compare"]

SOURCES = ("truth", "cca", "mi")
LABEL = {"truth": "truth (complete data)", "cca": "CCA", "mi": "MI"}
COLOURS = {"truth": "black", "cca": "#d95f02", "mi": "#1f78b4"}
OFFSETS = {"truth": 0.22, "cca": 0.0, "mi": -0.22}


def _variances(table: pd.DataFrame) -> pd.DataFrame:
    rows = table[table["kind"] == "variance"]
    parts = [split_name(t) for t in rows["term"]]
    keep = np.asarray([not b or a == b for a, b, _g in parts], dtype=bool)
    return rows[keep].reset_index(drop=True)


def _labels(rows: pd.DataFrame) -> list[str]:
    return [f"{m}: {t}" for m, t in zip(rows["model"], rows["term"], strict=True)]


def _fixed_panel(ax, fixed: pd.DataFrame, ref: str) -> None:
    centre = fixed[ref].to_numpy(dtype=float)
    scale = fixed[f"{ref}_se"].to_numpy(dtype=float)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    n = len(fixed)
    y = np.arange(n)[::-1].astype(float)
    for src in SOURCES:
        est = (fixed[src].to_numpy(dtype=float) - centre) / scale
        lo = (fixed[f"{src}_low"].to_numpy(dtype=float) - centre) / scale
        hi = (fixed[f"{src}_high"].to_numpy(dtype=float) - centre) / scale
        ok = np.isfinite(est)
        if not ok.any():
            continue
        yy = y[ok] + OFFSETS[src]
        ax.hlines(yy, lo[ok], hi[ok], color=COLOURS[src], lw=1.6)
        ax.plot(est[ok], yy, "o", color=COLOURS[src], ms=5, label=LABEL[src])
    ax.axvline(0.0, color="grey", lw=0.8, ls="--")
    ax.set_yticks(y, _labels(fixed))
    ax.set_ylim(-0.7, n - 0.3)
    ref_label = "truth" if ref == "truth" else "MI"
    ax.set_xlabel(f"(estimate - {ref_label}) / standard error of {ref_label}; "
                  "bars: 95 % intervals")
    ax.set_title("Fixed effects", loc="left", fontsize=10)
    ax.grid(axis="x", color="0.9")


def _variance_panel(ax, var: pd.DataFrame, ref: str) -> None:
    centre = var[ref].to_numpy(dtype=float)
    ok_ref = np.isfinite(centre) & (centre != 0)
    n = len(var)
    y = np.arange(n)[::-1].astype(float)
    for src in SOURCES:
        rel = 100 * (var[src].to_numpy(dtype=float) - centre) / np.where(ok_ref, centre, 1.0)
        ok = np.isfinite(rel) & ok_ref
        if ok.any():
            ax.plot(rel[ok], y[ok] + OFFSETS[src], "o", color=COLOURS[src], ms=5,
                    label=LABEL[src])
    ax.axvline(0.0, color="grey", lw=0.8, ls="--")
    for edge in (-10, 10):
        ax.axvline(edge, color="0.8", lw=0.8, ls=":")
    ax.set_yticks(y, _labels(var))
    ax.set_ylim(-0.7, n - 0.3)
    ref_label = "truth" if ref == "truth" else "MI"
    ax.set_xlabel(f"difference from {ref_label}, % of {ref_label} (dotted: +-10 %)")
    ax.set_title("Variance components and ICC (pooled: averages, no intervals)",
                 loc="left", fontsize=10)
    ax.grid(axis="x", color="0.9")


def plot_compare(table: pd.DataFrame, *, path: str | os.PathLike | None = None):
    """Fixed effects and variance components of truth, CCA and MI (module docstring).

    Parameters
    ----------
    table : DataFrame
        Rows of :func:`mlmice.compare.compare_estimates` (any number of models).
    path : path, optional
        Save the figure as PNG here.

    Returns
    -------
    matplotlib.figure.Figure
        One axis per panel that has rows: the fixed effects first.

    Raises
    ------
    ValueError
        ``table`` has no fixed-effect rows.
    """
    fixed = table[table["kind"] == "fixed"].reset_index(drop=True)
    if fixed.empty:
        raise ValueError("table has no fixed-effect rows to plot")
    var = _variances(table)
    has_truth = bool(np.isfinite(fixed["truth"]).any())
    ref = "truth" if has_truth else "mi"
    n_f, n_v = len(fixed), len(var)
    fig = new_figure(9.0, 1.6 + 0.42 * (n_f + n_v) + (0.9 if n_v else 0.0))
    if n_v:
        ax_f, ax_v = fig.subplots(2, 1, height_ratios=[n_f + 1.2, n_v + 1.2])
    else:
        ax_f, ax_v = fig.subplots(1, 1), None
    _fixed_panel(ax_f, fixed, ref)
    if ax_v is not None:
        _variance_panel(ax_v, var, ref)
    title = ("Truth, complete-case analysis (CCA) and multiple imputation (MI)" if has_truth
             else "Complete-case analysis (CCA) and multiple imputation (MI), centred on MI")
    fig.suptitle(title, fontsize=11)
    ax_f.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=3, frameon=False,
                fontsize=9)
    return finish(fig, path)

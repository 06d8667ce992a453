"""Shared look of mlmice figures: ggmice's colours, sizes and saving.

Figures are built on :class:`matplotlib.figure.Figure` directly (never
``pyplot``), so making one changes no global state and works under any
backend; saving uses the Agg renderer. matplotlib is imported when the first
figure is made, so that the colours and :func:`figure_name` cost nothing to
import (the report and the pipeline's jobs that draw nothing use them).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: ggmice's colour for observed values (blue)
OBSERVED = "#006CC2"
#: ggmice's colour for missing / imputed values (red)
IMPUTED = "#B61A51"

DPI = 150


def new_figure(width: float, height: float) -> Figure:
    """A constrained-layout Figure with an Agg canvas attached."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(float(width), float(height)), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def finish(fig: Figure, path: str | os.PathLike | None) -> Figure:
    """Save ``fig`` as PNG when ``path`` is given; return it."""
    if path is not None:
        fig.savefig(os.fspath(path), dpi=DPI, format="png")
    return fig


def label_size(n: int) -> float:
    """Font size (points) for ``n`` tick labels along one axis."""
    return float(np.clip(11.0 - 0.17 * n, 6.0, 10.0))


def thin_ticks(n: int, max_labels: int = 30) -> np.ndarray:
    """Positions 0..n-1 of the ticks to label so at most ``max_labels`` show."""
    step = int(np.ceil(n / max_labels)) if n > max_labels else 1
    return np.arange(0, n, step)


def figure_name(kind: str, variable: str) -> str:
    """File name ``{kind}_{variable}.png`` safe on every file system.

    Characters other than letters, digits, ``_``, ``-`` and ``.`` (a ``/`` in a
    variable name, spaces, markup) become ``_``, and then a short hash of the
    original name keeps two names that differ only there apart.
    """
    import hashlib
    import re
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", str(variable)).lstrip(".") or "_"
    if safe != variable:
        safe += "-" + hashlib.sha1(str(variable).encode()).hexdigest()[:8]
    return f"{kind}_{safe}.png"

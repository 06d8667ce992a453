"""Stack the batch files of a simulation study and summarise them."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pandas as pd

from mlmice.simulation.performance import ESTIMATE_COLUMNS, performance_measures
from mlmice.simulation.study import FAILURE_COLUMNS

__all__ = ["collect_batches"]


def collect_batches(estimate_files: Sequence[str | os.PathLike],
                    failure_files: Sequence[str | os.PathLike] = ()
                    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Read the batches' Parquet files; return ``(estimates, failures, summary)``.

    ``summary`` is :func:`~mlmice.simulation.performance.performance_measures`
    of all estimates, sorted by arm (reference arms first), model and term
    in the order they first occur.

    Raises
    ------
    ValueError
        When no replicate produced an estimate (naming the first failures).
    """
    frames = [pd.read_parquet(f) for f in estimate_files]
    frames = [f for f in frames if len(f)]
    fails = [pd.read_parquet(f) for f in failure_files]
    failures = (pd.concat(fails, ignore_index=True) if fails
                else pd.DataFrame(columns=list(FAILURE_COLUMNS)))
    if not frames:
        shown = "; ".join(failures["error"].astype(str).head(3))
        raise ValueError(f"no replicate produced an estimate ({len(failures)} failures: "
                         f"{shown})")
    estimates = pd.concat(frames, ignore_index=True)[list(ESTIMATE_COLUMNS)]
    estimates = estimates.sort_values(["replicate"], kind="stable").reset_index(drop=True)
    return estimates, failures, performance_measures(estimates)

"""``mice``: multiple imputation by chained equations for (multilevel) data.

The entry point. It validates the specification (:mod:`mlmice.impute.spec`), runs
one chain per imputation with the sampler of :mod:`mlmice.impute.engine` (the
algorithm, the randomness and the parallel chains are described there) and
returns a :class:`~mlmice.impute.mids.Mids`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlmice._validation import check_scalar
from mlmice.impute.defaults import check_frame
from mlmice.impute.engine import (
    Engine,
    check_n_jobs,
    continue_chain,
    run_chain,
    run_many,
    seed_entropy,
)
from mlmice.impute.mids import Mids, MiraFits
from mlmice.impute.spec import validate_spec

__all__ = ["Mids", "MiraFits", "mice", "run_chain", "continue_chain"]


def estimate_memory_gb(data: pd.DataFrame, *, m: int, maxit: int) -> float:
    """Rough upper bound of the memory (GB) of :func:`mice`'s result and working copies.

    Per chain: its imputed values (row, variable, value: 24 bytes per missing
    cell), its trace (mean and sd per iteration and variable) and one
    completed copy of the data while it runs (8 bytes per cell, times the
    number of chains run at once, taken as all).
    """
    n_cells = float(data.shape[0]) * float(data.shape[1])
    n_missing = float(data.isna().to_numpy().sum())
    per_chain = 24.0 * n_missing + 32.0 * (maxit + 1) * data.shape[1] + 8.0 * n_cells
    return (float(m) * per_chain + 16.0 * n_cells) / 1e9


def mice(data: pd.DataFrame, m: int = 5, maxit: int = 5, *, method=None, predictor_matrix=None,
         visit_sequence=None, seed=None, n_jobs: int = 1, cluster: str | None = None,
         method_options: dict | None = None, memory_limit_gb: float = 8.0) -> Mids:
    """Multivariate imputation by chained equations for (multilevel) data.

    Parameters
    ----------
    data : DataFrame
        Incomplete data, NaN for missing; binary variables coded 0/1.
    m : int
        Number of imputations (chains), >= 1.
    maxit : int
        Iterations per chain, >= 0.
    method : dict or Series, optional
        Method per variable (:func:`~mlmice.impute.spec.make_method` by
        default); ``"~ expr"`` for passive variables.
    predictor_matrix : DataFrame, optional
        Codes -2/0/1/2/3/4 (:func:`~mlmice.impute.spec.make_predictor_matrix`
        by default).
    visit_sequence : sequence of str, optional
        Order of visits (default: column order).
    seed : int, optional
        Root seed; chain ``c`` uses ``SeedSequence(seed, spawn_key=(c,))``.
        ``None`` draws fresh entropy (recorded in ``Mids.seed``).
    n_jobs : int
        Processes over chains (-1: all cores); results do not depend on it.
    cluster : str, optional
        The cluster variable (default: the column coded -2).
    method_options : dict, optional
        ``{variable: {option: value}}``, e.g. ``{"y": {"donors": 10}}``.
    memory_limit_gb : float
        Refuse to start when the estimated memory of the result
        (:func:`estimate_memory_gb`) exceeds this many GB (default 8); raise
        it for very large jobs.

    Returns
    -------
    Mids

    Raises
    ------
    mlmice.impute.spec.SpecError
        An invalid specification (before any imputation work).
    mlmice.impute.methods.base.ImputationError
        A method failed (names variable, iteration and chain).
    """
    check_scalar(m, "m", kind=(int, np.integer), min_val=1)
    check_scalar(maxit, "maxit", kind=(int, np.integer), min_val=0)
    check_scalar(memory_limit_gb, "memory_limit_gb", min_val=0.0, include_min=False)
    check_frame(data, cluster)
    need = estimate_memory_gb(data, m=int(m), maxit=int(maxit))
    if need > memory_limit_gb:
        raise ValueError(f"m == {m} and maxit == {maxit} on {data.shape[0]} rows x "
                         f"{data.shape[1]} columns need about {need:.3g} GB, above "
                         f"memory_limit_gb == {memory_limit_gb:g}; lower m or maxit, or "
                         "raise memory_limit_gb")
    n_jobs = check_n_jobs(n_jobs)
    spec = validate_spec(data, method=method, predictor_matrix=predictor_matrix,
                         visit_sequence=visit_sequence, cluster=cluster,
                         method_options=method_options)
    seed = seed_entropy(seed)
    data = data.copy()  # the Mids keeps its own copy of the incomplete data
    engine = Engine(data, spec)
    jobs = [(c, int(maxit), seed, None) for c in range(1, int(m) + 1)]
    chains = run_many(data, spec, engine, jobs, n_jobs)
    out = Mids(data, spec, chains, seed=seed)
    out._engine = engine
    return out


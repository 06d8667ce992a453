"""Imputation chains of the pipeline: resumed from saved states, rebuilt from files.

A chain is determined by the data, the imputation specification, the seed and
its number. :func:`resume_chain` keeps a copy of every finished chain under
``saved/<key>/chain_<c>/iter_<maxit>`` with :func:`chain_key` the SHA-256 of
those inputs; a later run of the same chain with a larger ``maxit`` continues
from the latest saved iteration ``k <= maxit``. Continuing is bit-identical to
a fresh run: the state carries the generator where it stopped
(:mod:`mlmice.impute.state`).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from mlmice.impute.sampler import Mids, continue_chain, run_chain
from mlmice.impute.spec import ImputationSpec
from mlmice.impute.state import ChainState

__all__ = ["chain_key", "mids_from_files", "resume_chain"]


def chain_key(data: pd.DataFrame, spec: dict, seed: int) -> str:
    """16 hex digits of the SHA-256 of the data, the specification (as JSON) and the seed."""
    key = hashlib.sha256()
    key.update(pd.util.hash_pandas_object(data, index=False).to_numpy().tobytes())
    key.update(json.dumps(spec, sort_keys=True).encode())
    key.update(str(seed).encode())
    return key.hexdigest()[:16]


def _saved_state(folder: Path, data, spec, *, chain: int, seed: int, maxit: int,
                 log: Callable[[str], None]) -> ChainState | None:
    done = sorted((int(p.name.removeprefix("iter_")) for p in folder.glob("iter_*")
                   if (p / "state.json").exists()), reverse=True)
    for k in (k for k in done if k <= maxit):
        try:
            candidate = ChainState.from_files(folder / f"iter_{k}", data, spec=spec)
        except ValueError as exc:
            log(f"saved state {folder / f'iter_{k}'} not usable: {exc}")
            continue
        if candidate.seed == seed and candidate.chain == chain:
            log(f"chain {chain}: continuing from the state saved at iteration {k} "
                f"({folder / f'iter_{k}'})")
            return candidate
    return None


def resume_chain(data: pd.DataFrame, spec: dict, *, chain: int, maxit: int, seed: int,
                 saved: str | Path, log: Callable[[str], None] = lambda _: None
                 ) -> ChainState:
    """Chain ``chain`` after ``maxit`` iterations, continued from a saved state if any.

    Parameters
    ----------
    data : DataFrame
        The incomplete data.
    spec : dict
        The specification as ``impute/spec.json`` stores it.
    chain, maxit, seed : int
    saved : path
        Folder of saved states (``results/<study>/impute/saved``).
    log : callable
        Receives one line per step (the job's log).

    Returns
    -------
    ChainState
        Also saved under ``saved`` for later runs.
    """
    imputation_spec = ImputationSpec.from_dict(spec, data)
    folder = Path(saved) / chain_key(data, spec, seed) / f"chain_{chain}"
    state = _saved_state(folder, data, imputation_spec, chain=chain, seed=seed, maxit=maxit,
                         log=log)
    if state is None:
        state = run_chain(data, imputation_spec, chain=chain, maxit=0, seed=seed)
        log(f"chain {chain}: initial values drawn (seed {seed})")
    while state.iteration < maxit:
        start = time.perf_counter()
        state = continue_chain(state, maxit=1)
        log(f"chain {chain}: iteration {state.iteration}/{maxit} done in "
            f"{time.perf_counter() - start:.2f} s")
    if not (folder / f"iter_{maxit}" / "state.json").exists():
        state.to_files(folder / f"iter_{maxit}")
    return state


def mids_from_files(data: pd.DataFrame, spec: dict, state_files: Sequence[str | Path]) -> Mids:
    """The imputation result of the chains whose ``state.json`` files are given, in order."""
    chains = [ChainState.from_files(Path(p).parent, data) for p in state_files]
    return Mids.from_chains(data, spec, chains)

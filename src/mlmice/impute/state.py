"""Chain state: what one chain of the sampler needs to continue, and its files.

A chain is fully described by the data, the specification, its current
imputations, its generator's ``bit_generator.state`` and the methods' own states
(``MethodResult.state``, e.g. a Gibbs sampler's last draw). :class:`ChainState`
holds those (plus the chain's trace and logged events) and writes them as
Parquet + JSON, never pickle::

    dir/imputations.parquet   row (0-based position), variable, value
    dir/trace.parquet         iteration, variable, mean, sd
    dir/events.parquet        iteration, variable, event
    dir/state.json            format, chain, iteration, seed, bit_generator
                              state, the specification, a fingerprint of
                              the data's missingness, the methods' states
                              (arrays as shape and values; JSON writes a float
                              so that it reads back bit for bit), the mlmice
                              version that wrote it, a SHA-256 of each Parquet
                              file and of state.json's own content

Reading checks all of them: a state written by another mlmice version, edited
by hand, or with a damaged or replaced file is refused with an error naming
the file (the pipeline then recomputes the chain), never reused.

Reading back with the same data and continuing gives bit-identical results to
one long run (the generator restarts exactly where it stopped).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["ChainState", "data_fingerprint"]

FORMAT = "mlmice-chain-state/2"


def data_fingerprint(data: pd.DataFrame) -> dict:
    """Rows, columns and a SHA-256 of the missingness pattern of ``data``."""
    mask = np.ascontiguousarray(data.isna().to_numpy(dtype=bool))
    return {"n_rows": int(len(data)), "columns": [str(c) for c in data.columns],
            "missing_sha256": hashlib.sha256(np.packbits(mask).tobytes()).hexdigest()}


_FILES = ("imputations.parquet", "trace.parquet", "events.parquet")


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _content_sha256(meta: dict) -> str:
    body = {k: v for k, v in meta.items() if k != "content_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _check_integrity(path: Path, meta: dict) -> None:
    """Version, own content hash and file hashes of a stored state; ValueError naming the
    file and what to do otherwise."""
    from mlmice import __version__
    where = path / "state.json"
    redo = f"the chain must be recomputed (delete {path} and rerun)"
    if meta.get("mlmice_version") != __version__:
        raise ValueError(f"{where}: written by mlmice {meta.get('mlmice_version') or '(unknown)'}"
                         f", this is mlmice {__version__}; {redo}")
    if meta.get("content_sha256") != _content_sha256(meta):
        raise ValueError(f"{where}: its content does not match its checksum (edited by "
                         f"hand?); {redo}")
    for name, digest in (meta.get("files") or {}).items():
        f = path / name
        if not f.exists():
            raise ValueError(f"{f}: missing; {redo}")
        if _file_sha256(f) != digest:
            raise ValueError(f"{f}: its content does not match the checksum in {where} "
                             f"(damaged or replaced); {redo}")
    if set(meta.get("files") or {}) != set(_FILES):
        raise ValueError(f"{where}: lists files {sorted(meta.get('files') or {})}, expected "
                         f"{list(_FILES)}; {redo}")


@dataclass
class ChainState:
    """One chain of the sampler after ``iteration`` iterations.

    Attributes
    ----------
    chain : int
        Chain number (1-based); its generator is
        ``SeedSequence(seed, spawn_key=(chain,))``.
    iteration : int
        Iterations done.
    seed : int
        Root entropy of the imputation run.
    values : dict
        Variable -> imputed values at the rows where it is imputed (row order).
    rng_state : dict
        ``Generator.bit_generator.state`` after the last iteration.
    trace : list of (iteration, variable, mean, sd)
    events : list of (iteration, variable, event)
    data, spec
        The incomplete data and the :class:`~mlmice.impute.spec.ImputationSpec`.
    method_state : dict
        Variable -> the state its method returned at its last call (a flat dict of
        numbers, strings and float arrays; see :mod:`mlmice.impute.methods.base`).
    """

    chain: int
    iteration: int
    seed: int
    values: dict
    rng_state: dict
    data: pd.DataFrame
    spec: object
    trace: list = field(default_factory=list)
    events: list = field(default_factory=list)
    method_state: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ generator
    def generator(self) -> np.random.Generator:
        """A generator positioned exactly where this chain stopped."""
        name = self.rng_state.get("bit_generator")
        if name != "PCG64":
            raise ValueError(f"chain {self.chain}: bit generator {name!r} is not supported "
                             "(expected PCG64)")
        bit = np.random.PCG64()
        bit.state = self.rng_state
        return np.random.Generator(bit)

    # ------------------------------------------------------------------ tables
    def trace_frame(self) -> pd.DataFrame:
        """Trace as a DataFrame: iteration, chain, variable, mean, sd."""
        frame = pd.DataFrame(self.trace, columns=["iteration", "variable", "mean", "sd"])
        frame.insert(1, "chain", self.chain)
        return frame.astype({"iteration": "int64", "chain": "int64", "mean": "float64",
                             "sd": "float64"})

    def events_frame(self) -> pd.DataFrame:
        """Logged events as a DataFrame: chain, iteration, variable, event."""
        frame = pd.DataFrame(self.events, columns=["iteration", "variable", "event"])
        frame.insert(0, "chain", self.chain)
        return frame.astype({"chain": "int64", "iteration": "int64"})

    def imputations_frame(self) -> pd.DataFrame:
        """Imputed values in long form: row (0-based position), variable, value."""
        where = self.data.isna()
        parts = []
        for name, vals in self.values.items():
            rows = np.flatnonzero(where[name].to_numpy())
            parts.append(pd.DataFrame({"row": rows.astype(np.int64), "variable": name,
                                       "value": np.asarray(vals, dtype=float)}))
        if not parts:
            return pd.DataFrame({"row": pd.Series([], dtype="int64"),
                                 "variable": pd.Series([], dtype=str),
                                 "value": pd.Series([], dtype="float64")})
        return pd.concat(parts, ignore_index=True)

    # ------------------------------------------------------------------ files
    def to_files(self, directory) -> Path:
        """Write the state to ``directory`` (created if needed); returns the path."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        self.imputations_frame().to_parquet(path / "imputations.parquet", index=False)
        self.trace_frame().drop(columns="chain").to_parquet(path / "trace.parquet", index=False)
        self.events_frame().drop(columns="chain").to_parquet(path / "events.parquet",
                                                             index=False)
        from mlmice import __version__
        meta = {"format": FORMAT, "mlmice_version": __version__, "chain": int(self.chain),
                "iteration": int(self.iteration),
                "seed": int(self.seed), "bit_generator": self.rng_state,
                "spec": self.spec.to_dict(), "data": data_fingerprint(self.data),
                "method_state": {name: _state_to_json(st)
                                 for name, st in self.method_state.items()},
                "files": {name: _file_sha256(path / name) for name in _FILES}}
        meta["content_sha256"] = _content_sha256(meta)
        (path / "state.json").write_text(json.dumps(meta, indent=1))
        return path

    @classmethod
    def from_files(cls, directory, data: pd.DataFrame, *, spec=None) -> ChainState:
        """Read a state written by :meth:`to_files`.

        Parameters
        ----------
        directory : path
        data : DataFrame
            The same incomplete data the chain was run on (checked against the
            stored fingerprint).
        spec : ImputationSpec, optional
            The specification; by default rebuilt from ``state.json``.
        """
        from mlmice.impute.spec import ImputationSpec

        path = Path(directory)
        try:
            meta = json.loads((path / "state.json").read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"no chain state in {path} (state.json missing)") from None
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path / 'state.json'}: format {meta.get('format')!r}, "
                             f"expected {FORMAT!r}")
        _check_integrity(path, meta)
        fingerprint = data_fingerprint(data)
        if meta["data"] != fingerprint:
            raise ValueError(f"{path}: the data do not match the chain's data (rows, columns or "
                             "missingness pattern differ)")
        if spec is None:
            spec = ImputationSpec.from_dict(meta["spec"], data)
        elif spec.to_dict() != meta["spec"]:
            raise ValueError(f"{path}: the specification differs from the chain's")
        imps = pd.read_parquet(path / "imputations.parquet")
        where = data.isna()
        values = {}
        for name, group in imps.groupby("variable", sort=False):
            rows = np.flatnonzero(where[name].to_numpy())
            if not np.array_equal(group["row"].to_numpy(), rows):
                raise ValueError(f"{path}: imputed rows of {name!r} do not match the data")
            values[str(name)] = group["value"].to_numpy(dtype=float)
        trace = pd.read_parquet(path / "trace.parquet")
        events = pd.read_parquet(path / "events.parquet")
        return cls(chain=int(meta["chain"]), iteration=int(meta["iteration"]),
                   seed=int(meta["seed"]), values=values, rng_state=meta["bit_generator"],
                   data=data, spec=spec,
                   method_state={str(name): _state_from_json(st) for name, st in
                                 meta.get("method_state", {}).items()},
                   trace=[(int(i), str(v), float(m), float(s)) for i, v, m, s in
                          trace[["iteration", "variable", "mean", "sd"]].itertuples(index=False)],
                   events=[(int(i), str(v), str(e)) for i, v, e in
                           events[["iteration", "variable", "event"]].itertuples(index=False)])


def check_method_state(state, *, where: str) -> dict:
    """A method's state as the chain keeps it: str keys; numbers, strings or float arrays."""
    if not isinstance(state, dict):
        raise TypeError(f"{where} returned a state of type {type(state).__name__}; a method's "
                        "state must be a dict")
    out = {}
    for key, value in state.items():
        if isinstance(value, (str, bool, int, float, np.integer, np.floating)):
            out[str(key)] = value.item() if isinstance(value, np.generic) else value
        else:
            arr = np.array(value, dtype=float)      # a copy: the method may reuse its array
            out[str(key)] = arr
    return out


def _state_to_json(state: dict) -> dict:
    return {key: ({"shape": list(v.shape), "values": v.ravel().tolist()}
                  if isinstance(v, np.ndarray) else v) for key, v in state.items()}


def _state_from_json(state: dict) -> dict:
    return {key: (np.asarray(v["values"], dtype=float).reshape(v["shape"])
                  if isinstance(v, dict) else v) for key, v in state.items()}


def read_chain_file(path) -> pd.DataFrame:
    """Read one Parquet file of a stored chain after checking it against the checksum in
    the ``state.json`` beside it (ValueError naming the file when it does not match)."""
    path = Path(path)
    meta_path = path.parent / "state.json"
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no chain state beside {path} (state.json missing); the "
                                "chain must be recomputed") from None
    _check_integrity(path.parent, meta)
    return pd.read_parquet(path)

"""The MICE sampler: chains of chained-equation imputations, one variable at a time.

Each chain runs the MICE algorithm (van Buuren and Groothuis-Oudshoorn 2011,
JSS 45(3), section 3.2; van Buuren 2018, *Flexible Imputation of Missing
Data*, algorithm 4.3):

1. *Initial values*: every missing value of an imputed variable is drawn at
   random from the variable's observed values (for ``2lonly`` variables one
   draw per cluster from the observed cluster values, and a cluster's own
   observed value where it has one); passive variables are then computed.
2. *Iteration* :math:`t = 1, 2, \\ldots`: the variables of the visit sequence
   are imputed in turn, each from the current completed data with its method
   and predictors (predictor codes as in :mod:`mlmice.impute.spec`); after a
   variable is imputed, the passive variables depending on it are
   recomputed. After the visit, the mean and standard deviation of each
   variable's imputed values are recorded (the trace).

Randomness: chain :math:`c` (1-based) uses ``numpy.random.Generator(PCG64(
SeedSequence(seed, spawn_key=(c,))))`` and nothing else, so chain :math:`c` is
the same whatever the number of chains or processes; continuing a chain
restarts its generator where it stopped, so ``mice(maxit=10)`` followed by
``iterate(maxit=10)`` equals ``mice(maxit=20)`` bit for bit.

Parallel chains (``n_jobs > 1``) run in a ``ProcessPoolExecutor``; workers
read the data and specification from Parquet/JSON files and write their chain
state as Parquet/JSON (only paths and integers are sent to them), so results
do not depend on ``n_jobs``.

One chain per job (the pipeline)::

    spec = validate_spec(data, method=meth, predictor_matrix=pred)
    state = run_chain(data, spec, chain=c, maxit=10, seed=2024)   # or continue_chain
    state.to_files("impute/chain_c")                              # Parquet + JSON
    state = continue_chain(ChainState.from_files("impute/chain_c", data), maxit=10)
    imp = Mids.from_chains(data, spec, [ChainState.from_files(d, data) for d in dirs])

Before each method call, predictors that are constant, correlate above 0.99
with the target, or are collinear among the rows where the target is observed
are removed and logged (mice's ``remove.lindep``). A method that fails raises
:class:`~mlmice.impute.methods.base.ImputationError` naming the variable,
iteration and chain; previous imputations are never silently kept.
"""

from __future__ import annotations

import json
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from mlmice._threads import one_blas_thread
from mlmice._validation import check_random_state, check_scalar
from mlmice.impute.categorical import category_labels, dummies, dummy_names, is_categorical
from mlmice.impute.defaults import as_float, is_usable
from mlmice.impute.methods.base import (
    ImputationError,
    MethodInput,
    get_method,
    redundant_columns,
)
from mlmice.impute.spec import ImputationSpec, cluster_codes, is_binary
from mlmice.impute.state import ChainState, check_method_state

__all__ = ["Engine", "check_n_jobs", "continue_chain", "run_chain", "run_many", "seed_entropy"]


class _Step:
    """What the sampler needs to impute one variable (fixed for the whole run)."""

    __slots__ = ("name", "j", "method", "method_name", "level", "pred", "pred_names", "codes",
                 "options", "binary", "categories", "ordered", "expand")


class Engine:
    """Data and specification turned into arrays once; runs chains on a float matrix."""

    def __init__(self, data: pd.DataFrame, spec: ImputationSpec):
        self.spec = spec
        self.names = list(spec.variables)
        self.col = {name: j for j, name in enumerate(self.names)}
        n = len(data)
        base = np.full((n, len(self.names)), np.nan)
        for j, name in enumerate(self.names):
            series = data[name]
            if name == spec.cluster:
                continue
            if is_usable(series):
                base[:, j] = as_float(series)      # a categorical as its codes
        self.base = base
        # categorical variables: their categories (predictors enter as dummies)
        self.categories = {name: category_labels(data[name]) for name in self.names
                           if name != spec.cluster and is_categorical(data[name])}
        self.where: dict[str, np.ndarray] = {}
        for name in self.names:
            if spec.method[name] != "":
                mask = np.isnan(base[:, self.col[name]])
                if mask.any():
                    self.where[name] = mask
        if spec.cluster is not None:
            self.cluster, labels = cluster_codes(data[spec.cluster])
            self.cluster_labels = tuple(labels)
            self.n_clusters = len(labels)
        else:
            self.cluster, self.cluster_labels, self.n_clusters = None, (), 0
        self.steps: dict[str, _Step] = {}
        for name in dict.fromkeys(spec.visit_sequence):
            if name not in self.where:
                continue
            step = _Step()
            step.name, step.j = name, self.col[name]
            step.method_name = spec.method[name]
            step.method = get_method(step.method_name)
            step.level = step.method.level
            row = spec.predictor_matrix.loc[name]
            use = [(self.col[p], p, int(c)) for p, c in row.items() if c in (1, 2, 3, 4)
                   and p != spec.cluster]
            step.pred = np.array([u[0] for u in use], dtype=np.intp)
            codes = [u[2] if step.level != "1" else 1 for u in use]
            # a categorical predictor with K categories becomes its K - 1 dummies
            step.expand = [(k, len(self.categories[p])) for k, (_j, p, _c) in enumerate(use)
                           if p in self.categories]
            names, expanded_codes = [], []
            for (_j, p, _c), c in zip(use, codes, strict=True):
                labels = (dummy_names(p, self.categories[p]) if p in self.categories else (p,))
                names.extend(labels)
                expanded_codes.extend([c] * len(labels))
            step.pred_names = tuple(names)
            step.codes = np.array(expanded_codes, dtype=int)
            step.options = dict(spec.options.get(name, {}))
            step.binary = is_binary(data[name])
            step.categories = self.categories.get(name, ())
            step.ordered = bool(step.categories) and bool(data[name].cat.ordered)
            self.steps[name] = step
        self.visit = [v for v in spec.visit_sequence if v in self.steps]
        self.passive_where = [(p, self.col[p], self.where[p], spec.passive[p])
                              for p in spec.passive_order if p in self.where]
        self.passive_index = {p: k for k, (p, *_rest) in enumerate(self.passive_where)}
        self.triggers = {v: [self.passive_index[p] for p in ps if p in self.passive_index]
                         for v, ps in spec.triggers.items()}
        self.trace_vars = [(name, self.col[name], self.where[name]) for name in self.names
                           if name in self.where]

    # -------------------------------------------------------------- chain pieces
    def initial(self, rng: np.random.Generator, *, chain: int) -> np.ndarray:
        """Completed data with initial values (step 1 of the module docstring)."""
        X = self.base.copy()
        for name in self.names:
            if name not in self.where or name in self.spec.passive:
                continue
            j, wy = self.col[name], self.where[name]
            obs = self.base[~np.isnan(self.base[:, j]), j]
            if name in self.steps and self.steps[name].level == "2lonly":
                cl = self.cluster
                ok = ~np.isnan(self.base[:, j])
                G = self.n_clusters
                observed = np.bincount(cl[ok], minlength=G) > 0
                w = np.full(G, np.nan)
                w[cl[ok]] = self.base[ok, j]
                draw = rng.choice(w[observed], size=G, replace=True)
                w = np.where(observed, w, draw)
                X[wy, j] = w[cl[wy]]
            else:
                X[wy, j] = rng.choice(obs, size=int(wy.sum()), replace=True)
        for k in range(len(self.passive_where)):
            self._passive(X, k, chain=chain, iteration=0)
        return X

    def _passive(self, X, k, *, chain, iteration):
        name, j, wp, expr = self.passive_where[k]
        cols = {v: X[wp, self.col[v]] for v in expr.variables}
        values = expr.evaluate(cols)
        if not np.all(np.isfinite(values)):
            bad = np.flatnonzero(wp)[~np.isfinite(values)][:5]
            raise ImputationError(
                f"chain {chain}, iteration {iteration}: passive variable {name!r} = "
                f"{expr.text!r} is not finite in row(s) {', '.join(map(str, bad))}")
        X[wp, j] = values

    @staticmethod
    def _with_dummies(X: np.ndarray, s: _Step) -> np.ndarray:
        """The predictors of step ``s``, each categorical one as its dummies."""
        blocks, start = [], 0
        x = X[:, s.pred]
        for k, n_categories in s.expand:
            blocks += [x[:, start:k], dummies(x[:, k], n_categories)]
            start = k + 1
        blocks.append(x[:, start:])
        return np.hstack(blocks)

    def step(self, X, name, rng, *, chain, iteration, events, method_state):
        s = self.steps[name]
        wy = self.where[name]
        y = X[:, s.j].copy()
        ry = ~np.isnan(self.base[:, s.j])
        x = X[:, s.pred] if not s.expand else self._with_dummies(X, s)
        names, codes = s.pred_names, s.codes
        if x.shape[1]:
            drop = redundant_columns(x[ry], y[ry])
            if drop:
                for k, why in drop:
                    events.append((iteration, name, f"predictor {names[k]!r} removed: {why}"))
                keep = np.setdiff1d(np.arange(x.shape[1]), [k for k, _ in drop])
                x, codes = x[:, keep], codes[keep]
                names = tuple(names[k] for k in keep)
        two_level = s.level != "1"
        data = MethodInput(variable=name, y=y, ry=ry, wy=wy, x=np.ascontiguousarray(x),
                           names=names, codes=codes,
                           cluster=self.cluster if two_level else None,
                           n_clusters=self.n_clusters if two_level else 0,
                           binary=s.binary, options=s.options,
                           cluster_labels=self.cluster_labels if two_level else (),
                           state=method_state.get(name), categories=s.categories,
                           ordered=s.ordered, chain_state=MappingProxyType(method_state))
        where = f"chain {chain}, iteration {iteration}: imputing {name!r} with {s.method_name!r}"
        try:
            result = s.method.impute(data, rng)
        except ImputationError:
            raise
        except Exception as exc:
            raise ImputationError(f"{where} failed: {type(exc).__name__}: {exc}") from exc
        values = np.asarray(result.values, dtype=float)
        if values.shape != (int(wy.sum()),):
            raise ImputationError(f"{where} returned {values.shape} values for "
                                  f"{int(wy.sum())} missing rows")
        if not np.all(np.isfinite(values)):
            raise ImputationError(f"{where} returned non-finite values")
        if s.categories and not np.all((values == np.round(values)) & (values >= 0)
                                       & (values < len(s.categories))):
            raise ImputationError(f"{where} returned values that are not codes of the "
                                  f"{len(s.categories)} categories of {name!r}")
        X[wy, s.j] = values
        if result.state is not None:
            method_state[name] = check_method_state(result.state, where=where)
        else:
            method_state.pop(name, None)
        for event in result.events:
            events.append((iteration, name, str(event)))
        for k in self.triggers.get(name, ()):
            self._passive(X, k, chain=chain, iteration=iteration)

    def run(self, X, rng, *, chain, start, maxit, trace, events, method_state):
        """Iterations ``start+1 .. start+maxit`` on ``X`` and ``method_state`` (in place),
        with one BLAS thread."""
        with one_blas_thread():
            self._run(X, rng, chain=chain, start=start, maxit=maxit, trace=trace,
                      events=events, method_state=method_state)

    def _run(self, X, rng, *, chain, start, maxit, trace, events, method_state):
        for it in range(start + 1, start + maxit + 1):
            for name in self.visit:
                self.step(X, name, rng, chain=chain, iteration=it, events=events,
                          method_state=method_state)
            for name, j, wy in self.trace_vars:
                vals = X[wy, j]
                if vals.size < 2:
                    sd = float("nan")
                elif np.all(vals == vals[0]):   # exactly 0, not rounding noise such as 4e-15
                    sd = 0.0
                else:
                    sd = float(np.std(vals, ddof=1))
                trace.append((it, name, float(np.mean(vals)), sd))

    def values(self, X) -> dict:
        return {name: X[wy, j].copy() for name, j, wy in self.trace_vars}

    def matrix(self, values: dict) -> np.ndarray:
        X = self.base.copy()
        for name, vals in values.items():
            X[self.where[name], self.col[name]] = vals
        return X


def seed_entropy(seed) -> int:
    if seed is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(seed, np.random.SeedSequence):
        return int(seed.entropy)
    if isinstance(seed, np.random.Generator):
        raise TypeError("seed must be a non-negative int or None (each chain c gets "
                        "SeedSequence(seed, spawn_key=(c,))); a Generator cannot be split so")
    check_random_state(seed)  # type and sign checks
    return int(seed)


def run_chain(data: pd.DataFrame, spec: ImputationSpec, *, chain: int, maxit: int, seed: int,
              _engine: Engine | None = None) -> ChainState:
    """Run one chain from its initial values for ``maxit`` iterations.

    Parameters
    ----------
    data : DataFrame
        The incomplete data.
    spec : ImputationSpec
        From :func:`~mlmice.impute.spec.validate_spec`.
    chain : int
        Chain number, >= 1. Generator: ``SeedSequence(seed, spawn_key=(chain,))``.
    maxit : int
        Iterations, >= 0.
    seed : int
        Root seed of the imputation run.

    Returns
    -------
    ChainState
    """
    check_scalar(chain, "chain", kind=(int, np.integer), min_val=1)
    check_scalar(maxit, "maxit", kind=(int, np.integer), min_val=0)
    engine = _engine if _engine is not None else Engine(data, spec)
    rng = check_random_state(int(seed), chain=int(chain))
    trace: list = []
    events: list = [(0, variable, message) for variable, message in spec.notes]
    X = engine.initial(rng, chain=int(chain))
    method_state: dict = {}
    engine.run(X, rng, chain=int(chain), start=0, maxit=int(maxit), trace=trace, events=events,
               method_state=method_state)
    return ChainState(chain=int(chain), iteration=int(maxit), seed=int(seed),
                      values=engine.values(X), rng_state=rng.bit_generator.state, data=data,
                      spec=spec, trace=trace, events=events, method_state=method_state)


def continue_chain(state: ChainState, *, maxit: int, _engine: Engine | None = None
                   ) -> ChainState:
    """Run ``maxit`` more iterations of a chain; ``state`` itself is unchanged."""
    check_scalar(maxit, "maxit", kind=(int, np.integer), min_val=0)
    engine = _engine if _engine is not None else Engine(state.data, state.spec)
    rng = state.generator()
    X = engine.matrix(state.values)
    trace, events = list(state.trace), list(state.events)
    method_state = {name: dict(st) for name, st in state.method_state.items()}
    engine.run(X, rng, chain=state.chain, start=state.iteration, maxit=int(maxit), trace=trace,
               events=events, method_state=method_state)
    return ChainState(chain=state.chain, iteration=state.iteration + int(maxit), seed=state.seed,
                      values=engine.values(X), rng_state=rng.bit_generator.state,
                      data=state.data, spec=state.spec, trace=trace, events=events,
                      method_state=method_state)


# ---------------------------------------------------------------------- parallel chains
def _chain_job(data_path: str, state_in: str | None, out_dir: str, chain: int, maxit: int,
               seed: int) -> str:
    """Worker: run or continue one chain, reading and writing files only."""
    data = pd.read_parquet(data_path)
    spec_dict = json.loads(Path(data_path).with_suffix(".spec.json").read_text())
    spec = ImputationSpec.from_dict(spec_dict, data)
    if state_in is None:
        state = run_chain(data, spec, chain=chain, maxit=maxit, seed=seed)
    else:
        state = continue_chain(ChainState.from_files(state_in, data, spec=spec), maxit=maxit)
    state.to_files(out_dir)
    return out_dir


def run_many(data, spec, engine, jobs, n_jobs) -> list[ChainState]:
    """Run jobs ``(chain, maxit, seed, state or None)``; in processes when ``n_jobs > 1``."""
    if n_jobs == 1 or len(jobs) <= 1:
        out = []
        for chain, maxit, seed, state in jobs:
            if state is None:
                out.append(run_chain(data, spec, chain=chain, maxit=maxit, seed=seed,
                                     _engine=engine))
            else:
                out.append(continue_chain(state, maxit=maxit, _engine=engine))
        return out
    with tempfile.TemporaryDirectory(prefix="mlmice-chains-") as tmp:
        data_path = Path(tmp) / "data.parquet"
        plain = data.copy()
        plain.attrs = {}  # the workers need values only
        plain.to_parquet(data_path)
        data_path.with_suffix(".spec.json").write_text(json.dumps(spec.to_dict()))
        # the workers must see exactly the data the parent sees
        data_rt = pd.read_parquet(data_path)
        if not np.array_equal(engine.base, Engine(data_rt, spec).base, equal_nan=True):
            raise RuntimeError("the data do not round-trip through Parquet exactly; "
                               "use n_jobs=1")
        futures = []
        with ProcessPoolExecutor(max_workers=min(n_jobs, len(jobs))) as pool:
            for chain, maxit, seed, state in jobs:
                state_in = None
                if state is not None:
                    state_in = str(state.to_files(Path(tmp) / f"in_{chain}"))
                futures.append(pool.submit(_chain_job, str(data_path), state_in,
                                           str(Path(tmp) / f"out_{chain}"), chain, maxit, seed))
            dirs = [f.result() for f in futures]
        return [ChainState.from_files(d, data, spec=spec) for d in dirs]


def check_n_jobs(n_jobs):
    check_scalar(n_jobs, "n_jobs", kind=(int, np.integer))
    if n_jobs == -1:
        return os.cpu_count() or 1
    if n_jobs < 1:
        raise ValueError(f"n_jobs == {n_jobs}, must be >= 1 or -1 (all cores)")
    return int(n_jobs)



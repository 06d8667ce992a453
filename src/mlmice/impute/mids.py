"""The result of :func:`mlmice.mice`: a multiply imputed data set (mice's ``mids``).

A :class:`Mids` holds the incomplete data, the specification and one
:class:`~mlmice.impute.state.ChainState` per imputation. It completes the data
(``complete``), continues every chain (``iterate``) or adds chains (``add_chains``)
through the sampler of :mod:`mlmice.impute.engine`, fits an analysis model to each
completed data set (``fit``, mice's ``with``) and reads and writes its chains as
Parquet and JSON files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mlmice._validation import check_bool, check_scalar
from mlmice.impute.categorical import from_codes
from mlmice.impute.defaults import as_float
from mlmice.impute.engine import Engine, check_n_jobs, run_many
from mlmice.impute.spec import ImputationSpec
from mlmice.impute.state import ChainState

__all__ = ["Mids", "MiraFits"]

# ---------------------------------------------------------------------- results
class MiraFits(list):
    """Fits of one analysis model, one per imputed data set (mice's ``mira``).

    A list of fit results (``mlmice.lmer``/``lm``/``glmer`` results) with the
    model ``formula``; :func:`mlmice.pool` accepts it.
    """

    def __init__(self, fits, *, formula: str, reml: bool | None = None, family=None):
        super().__init__(fits)
        self.formula = formula
        self.reml = reml
        self.family = family

    @property
    def analyses(self) -> list:
        """The fits as a plain list (mice's ``$analyses``)."""
        return list(self)


def _in_dtype(values: np.ndarray, dtype):
    """A completed column back in the incomplete column's dtype where its values allow it.

    A categorical gets its categories back from the codes; pandas' nullable types
    (``boolean``, ``Int64``, ``Float64``) keep their type when the imputed values are
    0/1 or whole numbers (pmm, logreg, 2l.bin), so that an analysis names the terms as it
    does for the incomplete data; otherwise (``norm`` on a count) the column is float.
    """
    if isinstance(dtype, pd.CategoricalDtype):
        return from_codes(values, dtype)
    if not isinstance(dtype, pd.api.extensions.ExtensionDtype):
        return values
    if pd.api.types.is_bool_dtype(dtype):
        fits = np.isin(values, (0.0, 1.0)).all()
        values = values.astype(bool) if fits else values
    else:
        fits = (pd.api.types.is_float_dtype(dtype)
                or pd.api.types.is_integer_dtype(dtype) and np.all(values == np.round(values)))
    return pd.array(values, dtype=dtype) if fits else values


class Mids:
    """A multiply imputed data set (mice's ``mids``).

    Attributes
    ----------
    data : DataFrame
        The incomplete data.
    m : int
        Number of imputations (chains).
    iteration : int
        Iterations done in every chain.
    method : Series
    predictor_matrix : DataFrame
    visit_sequence : tuple of str
    where : DataFrame of bool
        True where a value was imputed.
    cluster : str or None
    seed : int
        Root seed; chain ``c`` uses ``SeedSequence(seed, spawn_key=(c,))``.
    chains : list of ChainState
    """

    def __init__(self, data: pd.DataFrame, spec: ImputationSpec, chains: list[ChainState],
                 *, seed: int):
        self.data = data
        self.spec = spec
        self.chains = list(chains)
        self.seed = int(seed)
        self._engine = None

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_chains(cls, data: pd.DataFrame, spec, chains) -> Mids:
        """Combine chain states (e.g. one per pipeline job) into a ``Mids``.

        Parameters
        ----------
        data : DataFrame
            The incomplete data the chains were run on.
        spec : ImputationSpec or dict
            The specification (a dict as written by ``ImputationSpec.to_dict``).
        chains : sequence of ChainState
            Distinct chain numbers, all at the same iteration and seed; sorted
            by chain number.
        """
        if isinstance(spec, dict):
            spec = ImputationSpec.from_dict(spec, data)
        chains = sorted(chains, key=lambda s: s.chain)
        if not chains:
            raise ValueError("from_chains needs at least one chain")
        numbers = [s.chain for s in chains]
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"duplicated chain numbers: {numbers}")
        iters = {s.iteration for s in chains}
        if len(iters) != 1:
            raise ValueError("chains are at different iterations: "
                             + ", ".join(f"chain {s.chain}: {s.iteration}" for s in chains))
        seeds = {s.seed for s in chains}
        if len(seeds) != 1:
            raise ValueError(f"chains come from different seeds: {sorted(seeds)}")
        for s in chains:
            if s.spec.to_dict() != spec.to_dict():
                raise ValueError(f"chain {s.chain} was run with a different specification")
        return cls(data, spec, chains, seed=seeds.pop())

    def to_files(self, directory) -> Path:
        """Write every chain to ``directory/chain_{c}`` (see :meth:`ChainState.to_files`)."""
        path = Path(directory)
        for state in self.chains:
            state.to_files(path / f"chain_{state.chain}")
        return path

    @classmethod
    def from_files(cls, directory, data: pd.DataFrame) -> Mids:
        """Read the ``chain_{c}`` folders written by :meth:`to_files` and combine them."""
        path = Path(directory)
        dirs = sorted(path.glob("chain_*"), key=lambda p: int(p.name.split("_")[1]))
        if not dirs:
            raise FileNotFoundError(f"no chain_* folders in {path}")
        first = ChainState.from_files(dirs[0], data)
        chains = [first] + [ChainState.from_files(d, data, spec=first.spec) for d in dirs[1:]]
        return cls.from_chains(data, first.spec, chains)

    def _get_engine(self) -> Engine:
        if self._engine is None:
            self._engine = Engine(self.data, self.spec)
        return self._engine

    # ---------------------------------------------------------------- properties
    @property
    def m(self) -> int:
        return len(self.chains)

    @property
    def iteration(self) -> int:
        return self.chains[0].iteration if self.chains else 0

    @property
    def method(self) -> pd.Series:
        return self.spec.method.copy()

    @property
    def predictor_matrix(self) -> pd.DataFrame:
        return self.spec.predictor_matrix.copy()

    @property
    def visit_sequence(self) -> tuple:
        return self.spec.visit_sequence

    @property
    def cluster(self) -> str | None:
        return self.spec.cluster

    @property
    def where(self) -> pd.DataFrame:
        where = pd.DataFrame(False, index=self.data.index, columns=self.data.columns)
        for name in self._get_engine().where:
            where[name] = self.data[name].isna().to_numpy()
        return where

    @property
    def trace(self) -> pd.DataFrame:
        """Mean and sd of the imputed values: iteration, chain, variable, mean, sd."""
        frames = [s.trace_frame() for s in self.chains]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=["iteration", "chain", "variable", "mean", "sd"])

    @property
    def logged_events(self) -> pd.DataFrame:
        """Events (removed predictors, filled clusters, ...): chain, iteration, variable, event."""
        frames = [s.events_frame() for s in self.chains]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=["chain", "iteration", "variable", "event"])

    def __repr__(self) -> str:
        return (f"<Mids m={self.m} iteration={self.iteration} cluster={self.cluster!r} "
                f"n={len(self.data)} imputed={list(self._get_engine().where)}>")

    # ---------------------------------------------------------------- data out
    def complete(self, action=1, *, include: bool = False) -> pd.DataFrame:
        """Completed data (mice's ``complete``).

        Parameters
        ----------
        action : int or "long"
            ``i`` in ``1..m`` for the i-th completed data set; ``"long"`` for
            all stacked, with columns ``.imp`` (1..m) and ``.id`` (0-based row
            position) first.
        include : bool
            With ``"long"``: also the incomplete data as ``.imp == 0``.
        """
        check_bool(include, "include")
        if isinstance(action, str):
            if action != "long":
                raise ValueError(f"action == {action!r}; use an imputation number 1..{self.m} "
                                 "or 'long'")
            parts = []
            imps = ([0] if include else []) + list(range(1, self.m + 1))
            for i in imps:
                frame = self.data.copy() if i == 0 else self.complete(i)
                frame = frame.reset_index(drop=True)
                frame.insert(0, ".id", np.arange(len(frame), dtype=np.int64))
                frame.insert(0, ".imp", np.int64(i))
                parts.append(frame)
            out = pd.concat(parts, ignore_index=True)
            out.attrs = dict(self.data.attrs)
            return out
        if isinstance(action, bool) or not isinstance(action, (int, np.integer)):
            raise TypeError(f"action must be an int 1..{self.m} or 'long', got {action!r}")
        if not 1 <= action <= self.m:
            raise ValueError(f"action == {action}, must be in 1..{self.m}")
        state = self.chains[action - 1]
        out = self.data.copy()
        for name, vals in state.values.items():
            col = as_float(out[name])                  # a categorical's codes
            col[np.isnan(col)] = vals
            out[name] = _in_dtype(col, out[name].dtype)
        out.attrs = dict(self.data.attrs)
        return out

    # ---------------------------------------------------------------- more work
    def iterate(self, maxit: int = 1, *, n_jobs: int = 1) -> Mids:
        """Continue every chain for ``maxit`` iterations (mice's ``mice.mids``); in place.

        Bit-identical to having asked for the total number of iterations at once.
        """
        check_scalar(maxit, "maxit", kind=(int, np.integer), min_val=0)
        n_jobs = check_n_jobs(n_jobs)
        jobs = [(s.chain, int(maxit), self.seed, s) for s in self.chains]
        self.chains = run_many(self.data, self.spec, self._get_engine(), jobs, n_jobs)
        return self

    def add_chains(self, m: int = 1, *, n_jobs: int = 1) -> Mids:
        """Add ``m`` new chains, run to the current iteration; old chains untouched. In place."""
        check_scalar(m, "m", kind=(int, np.integer), min_val=1)
        n_jobs = check_n_jobs(n_jobs)
        first = max((s.chain for s in self.chains), default=0) + 1
        jobs = [(c, self.iteration, self.seed, None) for c in range(first, first + int(m))]
        self.chains = self.chains + run_many(self.data, self.spec, self._get_engine(), jobs,
                                              n_jobs)
        return self

    def fit(self, formula: str, *, reml: bool = True, family=None, factors=None) -> MiraFits:
        """Fit an analysis model to every completed data set (``with(imp, lmer(...))``).

        Parameters
        ----------
        formula : str
            lme4 syntax. With a ``(... | g)`` term the model is fitted by
            :func:`mlmice.lmer` (or :func:`mlmice.glmer` when ``family`` is
            given), otherwise by :func:`mlmice.lm`.
        reml : bool
            REML (lme4's default, True) or ML for linear mixed models.
        family : str, optional
            For generalised linear mixed models (e.g. ``"binomial"``).
        factors : str or iterable of str, optional
            Numeric columns to treat as factors (as in :func:`mlmice.lmer`).

        Returns
        -------
        MiraFits
            One fit per imputation, in order; :func:`mlmice.pool` accepts it.
        """
        if not isinstance(formula, str):
            raise TypeError(f"formula must be a string, got {type(formula).__name__}")
        check_bool(reml, "reml")
        from mlmice.linear_model import lm  # model code loads when a model is fitted
        from mlmice.mixed import glmer, lmer

        mixed = "|" in formula
        fits = []
        for i in range(1, self.m + 1):
            data = self.complete(i)
            if family is not None:
                if not mixed:
                    raise ValueError("family= needs a model with a (... | group) term")
                fits.append(glmer(formula, data=data, family=family, factors=factors))
            elif mixed:
                fits.append(lmer(formula, data=data, reml=reml, factors=factors))
            else:
                fits.append(lm(formula, data=data, factors=factors))
        return MiraFits(fits, formula=formula, reml=reml if mixed and family is None else None,
                        family=family)


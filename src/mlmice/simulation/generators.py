"""Data generators of a simulation study: the popularity model, or clusters resampled.

``popularity``
    :func:`mlmice.simulate_popularity` with every parameter of
    :class:`~mlmice.simulate.PopularityParams` settable, a number of clusters
    and a cluster size (one number, or ``[min, max]`` for sizes drawn
    uniformly per replicate). The true values of an analysis model are the
    generating parameters when the model is the generating model (all
    nonzero fixed effects and, with a slope variance, the random slope;
    terms the model leaves out must be zero); otherwise they are unknown
    (NaN) and the study compares with the complete-data fit only.

``tracks``
    :func:`mlmice.simulate_tracks`: an ordinal pupil variable ``track``, a nominal
    school type ``school`` and the outcome ``y`` (categorical variables at both levels;
    ``n_clusters`` and ``cluster_size``). The truth of the analysis model
    :data:`mlmice.simulate_categorical.TRACKS_MODEL` is its generating parameters;
    of other models unknown.

``resample``
    Whole clusters drawn with replacement from a user's complete data file
    (:func:`mlmice.read_data`), as many as the file has unless
    ``n_clusters`` is given; resampled clusters get new ids. The true value
    of a term is its estimate on the whole file (the file is the
    population).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

__all__ = ["Generator", "PopularityGenerator", "ResampleGenerator", "TracksGenerator",
           "generated_columns",
           "make_generator"]


class Generator:
    """Interface: :meth:`generate` a replicate's complete data, :meth:`true_values`."""

    def generate(self, seed: int) -> pd.DataFrame:  # pragma: no cover - interface
        raise NotImplementedError

    def true_values(self, formula: str, reml: bool, fixed_terms, variance_terms) -> dict:
        """True value per term of the model (empty when unknown)."""
        return {}


@dataclass(frozen=True)
class PopularityGenerator(Generator):
    """See the module docstring; ``params`` are keyword arguments of ``PopularityParams``."""

    n_clusters: int = 100
    cluster_size: int | tuple[int, int] = 20
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        from mlmice.simulate import PopularityParams
        known = {f.name for f in fields(PopularityParams)}
        unknown = sorted(set(self.params) - known)
        if unknown:
            raise ValueError(f"simulation.generator.params: unknown parameters {unknown}; "
                             f"known: {sorted(known)}")
        object.__setattr__(self, "_params", PopularityParams(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in self.params.items()}))
        size = self.cluster_size
        if not isinstance(size, numbers.Integral):
            lo, hi = (int(v) for v in size)
            if not 1 <= lo <= hi:
                raise ValueError("simulation.generator.cluster_size: [min, max] needs "
                                 f"1 <= min <= max, got {list(size)}")

    def generate(self, seed: int) -> pd.DataFrame:
        from mlmice.simulate import simulate_popularity
        rng = np.random.default_rng(seed)
        size = self.cluster_size
        if not isinstance(size, numbers.Integral):
            lo, hi = (int(v) for v in size)
            size = rng.integers(lo, hi + 1, size=self.n_clusters)
        return simulate_popularity(n_clusters=self.n_clusters, cluster_size=size, seed=rng,
                                   params=self._params).data

    def truth(self) -> dict[str, float]:
        """Every generating parameter under lme4's (fixed) and mitml's (variance) names."""
        from mlmice.simulate import TERMS
        p = self._params
        out = dict(zip(TERMS, p.gamma, strict=True))
        out.update({"Intercept~~Intercept|cluster_id": p.tau_intercept,
                    "extraversion_ij~~extraversion_ij|cluster_id": p.tau_slope,
                    "Intercept~~extraversion_ij|cluster_id": p.tau_cov,
                    "Residual~~Residual": p.sigma2,
                    "ICC|cluster_id": p.tau_intercept / (p.tau_intercept + p.sigma2)})
        return out

    def true_values(self, formula: str, reml: bool, fixed_terms, variance_terms) -> dict:
        from mlmice.simulate import TERMS
        p = self._params
        fixed, variance = set(fixed_terms), set(variance_terms)
        needed = {t for t, g in zip(TERMS, p.gamma, strict=True) if g != 0}
        slope = "extraversion_ij~~extraversion_ij|cluster_id"
        generating = (needed <= fixed <= set(TERMS)
                      and "Intercept~~Intercept|cluster_id" in variance
                      and (slope in variance or (p.tau_slope == 0 and p.tau_cov == 0)))
        if not generating:
            return {}
        truth = self.truth()
        return {t: truth.get(t, 0.0) for t in (*fixed_terms, *variance_terms)}


@dataclass(frozen=True)
class TracksGenerator(Generator):
    """:func:`mlmice.simulate_tracks` (see the module docstring)."""

    n_clusters: int = 100
    cluster_size: int = 15

    def generate(self, seed: int) -> pd.DataFrame:
        from mlmice.simulate_categorical import simulate_tracks
        return simulate_tracks(self.n_clusters, self.cluster_size, seed=seed)

    def true_values(self, formula: str, reml: bool, fixed_terms, variance_terms) -> dict:
        from mlmice.formula import parse_formula
        from mlmice.simulate_categorical import TRACKS_MODEL, tracks_truth
        same = parse_formula(formula).terms == parse_formula(TRACKS_MODEL).terms
        truth = tracks_truth()
        wanted = (*fixed_terms, *variance_terms)
        if not same or not set(wanted) <= set(truth):
            return {}
        return {t: truth[t] for t in wanted}


@dataclass(frozen=True)
class ResampleGenerator(Generator):
    """Clusters of ``data`` drawn with replacement (see the module docstring)."""

    data: pd.DataFrame
    cluster: str
    n_clusters: int | None = None
    _truth_cache: dict = field(default_factory=dict, compare=False, repr=False)

    def generate(self, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        codes, uniques = pd.factorize(self.data[self.cluster])
        J = len(uniques) if self.n_clusters is None else int(self.n_clusters)
        picked = rng.integers(0, len(uniques), size=J)
        rows = [np.flatnonzero(codes == c) for c in range(len(uniques))]
        index = np.concatenate([rows[c] for c in picked])
        out = self.data.iloc[index].reset_index(drop=True)
        out[self.cluster] = np.repeat(np.arange(1, J + 1), [rows[c].size for c in picked])
        out.attrs = dict(self.data.attrs)
        return out

    def true_values(self, formula: str, reml: bool, fixed_terms, variance_terms) -> dict:
        key = (formula, bool(reml))
        if key not in self._truth_cache:
            from mlmice.simulation.fits import fit_model, fit_rows
            rows = fit_rows(fit_model(formula, self.data, reml=reml))
            self._truth_cache[key] = dict(zip(rows["term"], rows["estimate"], strict=True))
        return self._truth_cache[key]


def make_generator(cfg: dict) -> Generator:
    """A generator from the ``simulation.generator`` config block.

    ``{"popularity": {n_clusters, cluster_size, params}}``,
    ``{"tracks": {n_clusters, cluster_size}}`` or
    ``{"resample": {file, cluster, object, n_clusters}}`` (exactly one key).
    """
    kinds = [k for k in ("popularity", "tracks", "resample") if cfg.get(k) is not None]
    if len(kinds) != 1:
        raise ValueError("simulation.generator needs exactly one of 'popularity', 'tracks' "
                         f"and 'resample', got "
                         f"{sorted(k for k, v in cfg.items() if v is not None)}")
    c = dict(cfg[kinds[0]])
    if kinds[0] == "tracks":
        return TracksGenerator(n_clusters=int(c.get("n_clusters", 100)),
                               cluster_size=int(c.get("cluster_size", 15)))
    if kinds[0] == "popularity":
        size = c.get("cluster_size", 20)
        return PopularityGenerator(n_clusters=int(c.get("n_clusters", 100)),
                                   cluster_size=size if isinstance(size, int) else tuple(size),
                                   params=dict(c.get("params") or {}))
    from mlmice.io import read_data
    data = read_data(c["file"], cluster=c["cluster"], id=c.get("id"), object=c.get("object"),
                     csv=c.get("csv"))
    if data.isna().any().any():
        bad = [col for col in data.columns if data[col].isna().any()]
        raise ValueError(f"simulation.generator.resample.file {c['file']!r}: the columns "
                         f"{bad} have missing values; resampling needs complete data")
    return ResampleGenerator(data=data, cluster=c["cluster"], n_clusters=c.get("n_clusters"))


def generated_columns(cfg: dict) -> tuple[list[str], str, str | None]:
    """Column names, cluster and id variable of the data the ``simulation.generator``
    block makes, without generating a replicate's worth (for checking a config before
    any job: its models and amputation must name these columns)."""
    kinds = [k for k in ("popularity", "tracks", "resample") if cfg.get(k) is not None]
    if kinds == ["resample"]:
        from mlmice.io import read_columns
        c = cfg["resample"]
        return (read_columns(c["file"], object=c.get("object"), csv=c.get("csv")),
                c["cluster"], c.get("id"))
    sample = make_generator({kinds[0]: {"n_clusters": 2, "cluster_size": 2}} if kinds
                            else cfg).generate(seed=0)
    roles = sample.attrs.get("roles", {})
    return list(sample.columns), roles.get("cluster", "cluster_id"), roles.get("id")

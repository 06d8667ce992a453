r"""Multivariate amputation: make complete data incomplete (``mice::ampute``).

The procedure of Schouten, Lugtig and Vink (2018), as ``mice::ampute`` runs it
with continuous (logistic) probabilities:

1. **Patterns.** A 0/1 matrix, one row per missing-data pattern and one
   column per variable (0 = made missing, 1 = stays observed). The default
   has one pattern per variable, each amputing that variable only.
2. **Candidates.** Every row is a candidate for exactly one pattern, drawn
   with the relative frequencies ``freq``.
3. **Weighted sum scores.** Within the candidates of pattern :math:`k`, the
   variables are standardised (``std=True``) and combined with the weights
   :math:`w_k`: :math:`s_i = \sum_v w_{kv} x_{iv}`, and the scores are
   standardised again. Default weights: MAR weighs the variables that stay
   observed equally (the amputed ones 0); MNAR weighs the amputed ones.
4. **Probabilities.** For a candidate with score :math:`s` the probability
   of being amputed is :math:`\operatorname{expit}(f(s) + b)` with
   ``RIGHT`` :math:`f = s - \bar s`, ``LEFT`` :math:`f = \bar s - s`,
   ``MID`` :math:`f = 0.75 - |s - \bar s|`, ``TAIL`` :math:`f = |s - \bar s|
   - 0.75`; the shift :math:`b` is solved so that the mean probability equals
   ``prop``. MCAR uses :math:`f = 0`, so every candidate has probability
   ``prop``.
5. Each candidate is amputed with its probability: its pattern's 0-variables
   become missing. ``prop`` is thus the expected proportion of rows with
   missing values (``bycases=True``) or, rescaled through the patterns, of
   missing cells (``bycases=False``).

Where this differs from mice 3.15, on purpose:

* mice finds the shift :math:`b` by a binary search on a random standard
  normal test set of 10,000 values, rounded to three decimals; here
  :math:`b` is solved (Brent's method) on the candidates' own scores, so the
  expected proportion is exactly ``prop`` whatever the distribution of the
  scores (for normal scores the two agree), and the result does not depend
  on a hidden random test set.
* mice skips standardising altogether when one variable is constant among
  a pattern's candidates; here only that variable is left out.
* ``prop`` must be a proportion in [0, 1] (mice also accepts percentages).
* ``bycases=False`` converts the proportion of cells to a proportion of rows
  so that the expected number of missing cells is right for patterns of
  different sizes (mice's conversion is right only for equal sizes).

Multilevel extras that mice lacks (``cluster=`` names the cluster column):

* ``level2``: level-2 variables amputed for whole clusters. The clusters are
  the units: their scores use the cluster means of the other variables (MAR)
  or of the variable itself (MNAR), and every row of an amputed cluster loses
  the value.
* ``cluster_rates``: cluster-varying missingness rates. Each cluster gets an
  offset :math:`u_c` on the logit scale (drawn :math:`N(0, \text{sd}^2)`
  for a number, or given per cluster), added inside the expit before solving
  for :math:`b`, so ``prop`` still holds on average.

References
----------
Schouten, R. M., Lugtig, P. and Vink, G. (2018). Generating missing values for
simulation purposes: a multivariate amputation procedure. Journal of
Statistical Computation and Simulation 88(15), 1909-1930.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mlmice._validation import check_random_state, check_scalar
from mlmice.amputation_scores import ampute_units
from mlmice.impute.defaults import as_float

__all__ = ["AmputeResult", "ampute", "default_patterns", "default_weights"]

builtin_type = type  # ampute's argument ``type`` (mice's name) shadows the builtin

MECHANISMS = ("MCAR", "MAR", "MNAR")
TYPES = ("RIGHT", "LEFT", "MID", "TAIL")


@dataclass(frozen=True)
class AmputeResult:
    """The amputed data and everything used to make it (R's ``mads`` object).

    Attributes
    ----------
    amp : DataFrame
        The data with missing values (same columns, index and attrs).
    patterns : DataFrame
        The patterns used (rows ``pattern 1..k``, columns the variables, 0 =
        amputed). All-ones patterns have been removed, as mice does.
    freq : ndarray
        Relative frequency of each pattern (sums to 1).
    weights : DataFrame
        Weights of the weighted sum scores (like ``patterns``).
    mech : str
    type : tuple of str
        Logistic type per pattern.
    prop : float
        Proportion of rows to amputate (after any rescaling).
    candidates : ndarray of int
        Pattern index (0-based) each row was a candidate for (mice's ``cand`` - 1).
    scores : ndarray
        Each row's standardised weighted sum score within its pattern (NaN for MCAR).
    probs : ndarray
        Each row's probability of being amputed.
    amputed : ndarray of bool
        True where a row was amputed by its pattern.
    level2_clusters : dict
        For each level-2 variable: the labels of the clusters that lost it.
    """

    amp: pd.DataFrame
    patterns: pd.DataFrame
    freq: np.ndarray
    weights: pd.DataFrame
    mech: str
    type: tuple[str, ...]
    prop: float
    candidates: np.ndarray
    scores: np.ndarray
    probs: np.ndarray
    amputed: np.ndarray
    level2_clusters: dict = field(default_factory=dict)


def default_patterns(variables: Sequence[str]) -> pd.DataFrame:
    """One pattern per variable, amputing that variable only (``ampute.default.patterns``)."""
    k = len(variables)
    return pd.DataFrame(1 - np.eye(k, dtype=int), columns=list(variables),
                        index=[f"pattern {i + 1}" for i in range(k)])


def default_weights(patterns: pd.DataFrame, mech: str) -> pd.DataFrame:
    """Equal weights: MAR/MCAR on the observed variables, MNAR on the amputed ones."""
    return pd.DataFrame(_equal_weights(patterns.to_numpy(), mech), index=patterns.index,
                        columns=patterns.columns)


def _equal_weights(pat: np.ndarray, mech: str) -> np.ndarray:
    return (pat == 0).astype(float) if mech == "MNAR" else (pat == 1).astype(float)


def ampute(data: pd.DataFrame, prop: float = 0.5, patterns=None, freq=None, mech: str = "MAR",
           weights=None, type: str | Sequence[str] = "RIGHT", seed=None, *, std: bool = True,
           bycases: bool = True, cluster: str | None = None,
           level2: Mapping[str, float] | Sequence[str] | None = None,
           cluster_rates: float | Mapping | pd.Series | None = None) -> AmputeResult:
    """Generate missing values in complete data (``mice::ampute``, plus multilevel extras).

    Parameters
    ----------
    data : DataFrame
        Complete numeric data (the amputed variables must have no missing values).
    prop : float
        Expected proportion of rows with missing values (of cells when
        ``bycases=False``), in [0, 1].
    patterns : DataFrame, array-like or list of lists of names, optional
        0/1 pattern matrix (0 = amputed). A DataFrame's columns name the
        variables; an array's columns are the variables in order; a list of
        lists of variable names gives, per pattern, the variables it amputes.
        Default: one pattern per variable. The variables are the pattern
        columns; without a DataFrame they are the data's analysis variables
        (``attrs["roles"]``) or else all columns except ``cluster``.
    freq : array-like, optional
        Relative frequency of each pattern (rescaled to sum to 1). Default equal.
    mech : {"MCAR", "MAR", "MNAR"}
    weights : DataFrame, array-like or list of dicts, optional
        Weights per pattern and variable (a dict maps variable -> weight,
        others 0; ``None`` in the list keeps that pattern's default).
        Default :func:`default_weights`. Ignored for MCAR.
    type : str or sequence of str
        ``"RIGHT"``, ``"LEFT"``, ``"MID"`` or ``"TAIL"``, one or one per pattern.
    seed : int, SeedSequence or Generator, optional
    std : bool
        Standardise the variables before weighting (mice's ``std``).
    bycases : bool
        ``prop`` is the proportion of rows (True) or of cells (False).
    cluster : str, optional
        Cluster column; needed for ``level2`` and ``cluster_rates``.
    level2 : mapping or sequence of str, optional
        Level-2 variables to amputate for whole clusters: ``{variable:
        proportion of clusters}``, or names (each with ``prop``).
    cluster_rates : float, mapping or Series, optional
        Cluster-varying rates: the standard deviation of normal logit offsets
        per cluster, or the offsets themselves by cluster label.

    Returns
    -------
    AmputeResult
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {builtin_type(data).__name__}")
    if data.shape[0] == 0:
        raise ValueError("data has no rows")
    check_scalar(prop, "prop", min_val=0.0, max_val=1.0)
    mech = _check_choice(mech, "mech", MECHANISMS)
    rng = check_random_state(seed)
    if cluster is not None and cluster not in data.columns:
        raise ValueError(f"cluster variable {cluster!r} not found; columns are "
                         f"{list(data.columns)}")

    variables = _variables(data, patterns, cluster)
    pat = _pattern_frame(patterns, variables)
    variables = list(pat.columns)
    X = _numeric_matrix(data, variables)
    k = pat.shape[0]
    fr = _freq(freq, k)
    types = _types(type, k)
    if mech == "MCAR" and weights is not None:
        warnings.warn("weights are not used when mech is MCAR", UserWarning, stacklevel=2)
    w = default_weights(pat, mech) if weights is None else _weight_frame(weights, pat, mech)
    # drop all-ones patterns (no amputation), rescaling prop as mice does
    ones = (pat.to_numpy() == 1).all(axis=1)
    if ones.any():
        if ones.all():
            raise ValueError("patterns: every pattern is all ones, nothing would be amputed")
        new_prop = float(prop * (1 - fr[ones].sum()))
        warnings.warn(f"prop changed from {prop} to {new_prop} because of pattern(s) "
                      f"{', '.join(map(str, np.flatnonzero(ones) + 1))} with merely ones",
                      UserWarning, stacklevel=2)
        keep = ~ones
        prop, pat, w, fr = new_prop, pat.loc[keep], w.loc[keep], fr[keep] / fr[keep].sum()
        types = [t for t, kp in zip(types, keep, strict=True) if kp]
        k = pat.shape[0]
    if mech == "MAR" and (pat.to_numpy() == 0).all(axis=1).any():
        raise ValueError("patterns: a pattern with only zeros amputes every variable, which "
                         "cannot be MAR (nothing observed to depend on); use MCAR or MNAR")
    if not bycases:
        prop = _cells_to_cases(prop, fr, pat)

    n = X.shape[0]
    offsets_c, ccodes, labels = _cluster_offsets(data, cluster, cluster_rates, rng)
    offsets = np.zeros(n) if offsets_c is None else offsets_c[ccodes]
    cand = rng.choice(k, size=n, p=fr)
    unused = sorted(set(range(k)) - set(np.unique(cand)))
    if unused:
        shown = ", ".join(str(i + 1) for i in unused)
        warnings.warn(f"no rows are candidates for pattern(s) {shown}; they will not be "
                      "generated", UserWarning, stacklevel=2)
    amputed, scores, probs = ampute_units(X, cand, pat.to_numpy(), w.to_numpy(), mech, types,
                                           prop, offsets, rng, std=std)
    mask = np.zeros(X.shape, dtype=bool)
    mask[amputed] = pat.to_numpy()[cand[amputed]] == 0
    amp = data.copy()
    for j, var in enumerate(variables):
        if mask[:, j].any():
            if isinstance(amp[var].dtype, pd.CategoricalDtype):
                amp.loc[mask[:, j], var] = np.nan
                continue
            col = amp[var].to_numpy(dtype=float, copy=True)
            col[mask[:, j]] = np.nan
            amp[var] = col

    l2 = _level2_spec(level2, prop)
    gone: dict = {}
    if l2:
        if cluster is None:
            raise ValueError("level2 needs cluster= (the cluster column)")
        gone = _ampute_level2(amp, data, l2, variables, cluster, ccodes, labels, offsets_c, mech,
                              types[0], rng, std)
    return AmputeResult(amp=amp, patterns=pat, freq=fr, weights=w, mech=mech, type=tuple(types),
                        prop=float(prop), candidates=cand, scores=scores, probs=probs,
                        amputed=amputed, level2_clusters=gone)


# --------------------------------------------------------------------------- the core


# --------------------------------------------------------------------------- level 2


def _level2_spec(level2, prop) -> dict[str, float]:
    if level2 is None:
        return {}
    if isinstance(level2, Mapping):
        spec = {str(k): v for k, v in level2.items()}
    elif isinstance(level2, str):
        spec = {level2: prop}
    else:
        spec = {str(v): prop for v in level2}
    for var, p in spec.items():
        check_scalar(p, f"level2[{var!r}]", min_val=0.0, max_val=1.0)
    return spec


def _ampute_level2(amp, data, spec, variables, cluster, ccodes, labels, offsets_c, mech, typ,
                   rng, std):
    n_clusters = len(labels)
    gone = {}
    for var in spec:
        if var not in data.columns:
            raise ValueError(f"level2 variable {var!r} not found; columns are "
                             f"{list(data.columns)}")
        others = [v for v in variables if v != var]
        cols = list(dict.fromkeys(others + [var]))
        X = _numeric_matrix(data, cols)
        sums = np.zeros((n_clusters, len(cols)))
        np.add.at(sums, ccodes, X)
        counts = np.bincount(ccodes, minlength=n_clusters)
        means = sums / counts[:, None]
        x = X[:, -1]
        lo = np.full(n_clusters, np.inf)
        hi = np.full(n_clusters, -np.inf)
        np.minimum.at(lo, ccodes, x)
        np.maximum.at(hi, ccodes, x)
        bad = np.flatnonzero(lo != hi)
        if bad.size:
            c = bad[0]
            raise ValueError(f"level2 variable {var!r} varies within cluster {labels[c]!r} "
                             f"({cluster}): values {lo[c]:g} and {hi[c]:g}")
        pat = np.ones((1, len(cols)), dtype=int)
        pat[0, -1] = 0
        w = _equal_weights(pat, mech)
        offs = np.zeros(n_clusters) if offsets_c is None else offsets_c
        am, _, _ = ampute_units(means, np.zeros(n_clusters, dtype=int), pat, w, mech, [typ],
                                 spec[var], offs, rng, std=std)
        rows = am[ccodes]
        if isinstance(amp[var].dtype, pd.CategoricalDtype):
            amp.loc[rows, var] = np.nan
        else:
            col = amp[var].to_numpy(dtype=float, copy=True)
            col[rows] = np.nan
            amp[var] = col
        gone[var] = np.asarray(labels)[am]
    return gone


def _cluster_offsets(data, cluster, rates, rng):
    """Per-cluster logit offsets (or None), cluster codes per row, cluster labels."""
    if cluster is None:
        if rates is not None:
            raise ValueError("cluster_rates needs cluster= (the cluster column)")
        return None, None, None
    col = data[cluster]
    if col.isna().any():
        raise ValueError(f"cluster variable {cluster!r} has missing values at rows "
                         f"{np.flatnonzero(col.isna().to_numpy())[:10].tolist()} (0-based)")
    codes, labels = pd.factorize(col, sort=True)
    labels = list(labels)
    if rates is None:
        return None, codes, labels
    if isinstance(rates, numbers.Real) and not isinstance(rates, bool):
        check_scalar(rates, "cluster_rates", min_val=0.0)
        return rng.normal(0.0, float(rates), size=len(labels)), codes, labels
    if isinstance(rates, Mapping | pd.Series):
        rates = dict(rates.items())
        missing = [c for c in labels if c not in rates]
        if missing:
            raise ValueError(f"cluster_rates has no offset for cluster(s) "
                             f"{', '.join(map(repr, missing[:5]))}")
        return np.array([float(rates[c]) for c in labels]), codes, labels
    raise TypeError("cluster_rates must be a number (the sd of logit offsets) or a mapping "
                    f"cluster -> logit offset, got {builtin_type(rates).__name__}")


# --------------------------------------------------------------------------- argument parsing


def _check_choice(value, name, choices):
    if not isinstance(value, str) or value.upper() not in choices:
        raise ValueError(f"{name} == {value!r}, must be one of {', '.join(choices)}")
    return value.upper()


def _variables(data, patterns, cluster) -> list[str]:
    if isinstance(patterns, pd.DataFrame):
        return [str(c) for c in patterns.columns]
    roles = data.attrs.get("roles")
    if roles:
        vs = list(roles.get("level1", [])) + list(roles.get("level2", []))
        vs = [v for v in data.columns if v in vs]
        if vs:
            return vs
    return [str(c) for c in data.columns if c != cluster]


def _pattern_frame(patterns, variables) -> pd.DataFrame:
    if patterns is None:
        return default_patterns(variables)
    if isinstance(patterns, pd.DataFrame):
        p = patterns.copy()
    elif (isinstance(patterns, Sequence) and not isinstance(patterns, str) and len(patterns)
          and all(isinstance(r, Sequence) and not isinstance(r, str)
                  and all(isinstance(x, str) for x in r) for r in patterns)):
        p = pd.DataFrame(1, index=range(len(patterns)), columns=list(variables))
        for i, names in enumerate(patterns):
            unknown = [v for v in names if v not in variables]
            if unknown:
                raise ValueError(f"patterns[{i}]: variable(s) {unknown} not among the "
                                 f"variables {list(variables)}")
            if not names:
                raise ValueError(f"patterns[{i}] names no variable to amputate")
            p.loc[i, list(names)] = 0
    elif (isinstance(patterns, Sequence) and not isinstance(patterns, str) and len(patterns)
          and all(isinstance(x, str) for x in patterns)):
        raise ValueError(f"patterns == {list(patterns)!r}: give a list of patterns, each the "
                         f"list of variables it makes missing, e.g. [{list(patterns)!r}] for "
                         "one pattern")
    else:
        arr = np.asarray(patterns)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != len(variables):
            raise ValueError(f"patterns has shape {np.shape(patterns)}, needs "
                             f"{len(variables)} columns (the variables {list(variables)})")
        p = pd.DataFrame(arr, columns=list(variables))
    vals = p.to_numpy()
    bad = ~np.isin(vals, (0, 1))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"patterns can only contain 0 and 1; pattern {i + 1} has "
                         f"{vals[i, j]} for {p.columns[j]!r}")
    p = p.astype(int)
    p.index = [f"pattern {i + 1}" for i in range(p.shape[0])]
    return p


def _weight_frame(weights, pat, mech) -> pd.DataFrame:
    cols = list(pat.columns)
    if isinstance(weights, Mapping):
        raise ValueError(f"weights == {dict(weights)!r}: give one weight mapping per pattern, "
                         f"as a list (e.g. [{dict(weights)!r}] for one pattern)")
    if isinstance(weights, pd.DataFrame):
        unknown = [c for c in weights.columns if c not in cols]
        if unknown:
            raise ValueError(f"weights: column(s) {unknown} are not pattern variables {cols}")
        w = weights.reindex(columns=cols, fill_value=0.0).to_numpy(dtype=float)
    elif (isinstance(weights, Sequence) and len(weights)
          and all(r is None or isinstance(r, Mapping) for r in weights)):
        if len(weights) != pat.shape[0]:
            raise ValueError(f"weights has {len(weights)} rows, patterns has {pat.shape[0]}")
        w = default_weights(pat, mech).to_numpy(copy=True)
        for i, row in enumerate(weights):
            if row is None:
                continue
            w[i] = 0.0
            for var, val in row.items():
                if var not in cols:
                    raise ValueError(f"weights[{i}]: variable {var!r} is not among the "
                                     f"variables {cols}")
                w[i, cols.index(var)] = float(val)
    else:
        w = np.asarray(weights, dtype=float)
        if w.ndim == 1:
            w = w[None, :]
    if w.shape != pat.shape:
        raise ValueError(f"weights has shape {w.shape}, patterns has {pat.shape}")
    if not np.all(np.isfinite(w)):
        i, j = np.argwhere(~np.isfinite(w))[0]
        raise ValueError(f"weights: pattern {i + 1} has {w[i, j]} for {cols[j]!r}; weights "
                         "must be finite")
    return pd.DataFrame(w, index=pat.index, columns=cols)


def _freq(freq, k) -> np.ndarray:
    if freq is None:
        return np.full(k, 1.0 / k)
    f = np.asarray(freq, dtype=float).ravel()
    if f.size != k:
        raise ValueError(f"freq has {f.size} values, patterns has {k} rows")
    if np.any(f < 0) or not np.all(np.isfinite(f)) or f.sum() <= 0:
        raise ValueError(f"freq must be non-negative with a positive sum, got {f.tolist()}")
    return f / f.sum()


def _types(type_, k) -> list[str]:
    if isinstance(type_, str):
        return [_check_choice(type_, "type", TYPES)] * k
    t = [_check_choice(x, "type", TYPES) for x in type_]
    if len(t) == 1:
        return t * k
    if len(t) != k:
        raise ValueError(f"type has {len(t)} values, patterns has {k} rows")
    return t


def _cells_to_cases(prop, freq, pat) -> float:
    """Proportion of rows that gives ``prop`` of the cells missing in expectation.

    Expected missing cells are ``prop_rows * n * sum_k freq_k zeros_k``; mice
    uses ``sum_k freq_k / zeros_k`` instead, which agrees only when every
    pattern amputes the same number of variables.
    """
    zeros = (pat.to_numpy() == 0).sum(axis=1)
    rows = prop * pat.shape[1] / float(np.dot(freq, zeros))
    if rows > 1:
        raise ValueError(f"prop == {prop} of cells is too large for these patterns: it needs "
                         f"{rows:.3g} of the rows")
    return float(rows)


def _numeric_matrix(data, variables) -> np.ndarray:
    missing = [v for v in variables if v not in data.columns]
    if missing:
        raise ValueError(f"variable(s) {missing} not found in data; columns are "
                         f"{list(data.columns)}")
    for v in variables:
        categorical = isinstance(data[v].dtype, pd.CategoricalDtype)
        if (not categorical and not pd.api.types.is_numeric_dtype(data[v])
                or pd.api.types.is_bool_dtype(data[v])):
            raise ValueError(f"variable {v!r} is not numeric (dtype {data[v].dtype}); code it "
                             "first (mlmice.read_data codes binary variables 0/1)")
    # a categorical variable enters the weighted sum scores by its codes 0 .. K-1 (its
    # order, for an ordered one)
    X = np.column_stack([as_float(data[v]) for v in variables])
    nas = np.isnan(X).sum(axis=0)
    if nas.any():
        bad = {v: int(c) for v, c in zip(variables, nas, strict=True) if c}
        raise ValueError(f"data must be complete to amputate; missing values in {bad}")
    infinite = ~np.isfinite(X)
    if infinite.any():
        j = int(np.flatnonzero(infinite.any(axis=0))[0])
        rows = np.flatnonzero(infinite[:, j])[:10].tolist()
        raise ValueError(f"variable {variables[j]!r} has infinite values at rows {rows} "
                         "(0-based); they would distort the weighted sum scores that decide "
                         "which rows lose values: correct or remove them first")
    return X

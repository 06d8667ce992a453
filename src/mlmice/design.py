"""Model frames: from a parsed formula and a data frame to X, y and Z blocks.

:func:`model_frame` does for mlmice what R's ``model.frame`` +
``model.matrix`` (and lme4's ``mkReTrms``) do:

1. list-wise deletion (``na.omit``) of rows missing any variable the formula
   uses, counting the dropped rows;
2. the fixed-effects matrix ``X`` with R's column names: ``(Intercept)``,
   numeric variables by name, factors in treatment contrasts (first level the
   reference, columns ``<var><level>`` such as ``gender_ijgirl``),
   interactions ``a:b`` as products, ``I(...)`` expressions by their deparsed
   text (``I(a * b)``, ``I(a^2)``);
3. rank-deficient columns of ``X`` dropped (later columns that are linear
   combinations of earlier ones, as ``lm`` and ``lmer`` do) with a warning
   naming them;
4. one :class:`RandomBlock` per random-effects term: its model matrix ``Z``
   (rows x effects, named as lme4 names them) and the integer codes of its
   grouping factor (levels sorted as R's ``factor`` sorts them).

Which variables are factors: pandas ``category``, string/object and bool
columns, plus any listed in ``factors=``. A float column coded 0/1 with labels
in ``data.attrs["labels"]`` (the project's convention for binary variables)
stays numeric (term ``gender_ij``, as in the tutorial, where gender is coded
0/1) unless it is listed in ``factors=``; then its levels take the label names
(``gender_ijgirl``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mlmice.formula import Formula, RandomTerm, evaluate, parse_formula

__all__ = ["ModelFrame", "RandomBlock", "RankDeficiencyWarning", "model_frame",
           "numeric_design",
           "check_random_blocks", "drop_rank_deficient"]


class RankDeficiencyWarning(UserWarning):
    """Columns of the fixed-effects matrix were dropped as linearly dependent."""


@dataclass
class RandomBlock:
    """The design of one random-effects term ``(lhs | group)``.

    Attributes
    ----------
    term : RandomTerm
        The parsed term.
    group : str
        Grouping factor label (``"cluster_id"``; ``"a:b"`` for an interaction).
    codes : ndarray of int, shape (n,)
        Level index ``0..n_levels-1`` of each row.
    levels : ndarray, shape (n_levels,)
        The grouping factor's levels (as R sorts them).
    Z : ndarray of shape (n, q)
        The term's model matrix (one column per random effect).
    z_names : list of str
        Column names of ``Z`` (``"(Intercept)"``, ``"extraversion_ij"``).
    correlated : bool
        False when the term came from ``||``.
    """

    term: RandomTerm
    group: str
    codes: np.ndarray
    levels: np.ndarray
    Z: np.ndarray
    z_names: list[str]
    correlated: bool = True

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    @property
    def q(self) -> int:
        return self.Z.shape[1]


@dataclass
class ModelFrame:
    """The numeric design of a (mixed) model formula on a data set.

    Attributes
    ----------
    formula : Formula
    y : ndarray of shape (n,)
        The response (a two-level factor response becomes 0/1, first level 0,
        when ``model_frame(..., numeric_response=False)``).
    X : ndarray of shape (n, p)
        Fixed-effects matrix after dropping rank-deficient columns.
    x_names : list of str
        R's column names of ``X``.
    random : list of RandomBlock
        One block per random-effects term, in the order written.
    rows : ndarray of int
        Positions (0-based) in ``data`` of the rows used.
    index : pandas.Index
        ``data.index`` labels of the rows used.
    n_dropped : int
        Rows removed by list-wise deletion (``na.omit``).
    dropped_columns : list of str
        Columns of ``X`` dropped as rank deficient.
    response_name : str
    """

    formula: Formula
    y: np.ndarray
    X: np.ndarray
    x_names: list[str]
    random: list[RandomBlock]
    rows: np.ndarray
    index: pd.Index
    n_dropped: int = 0
    dropped_columns: list[str] = field(default_factory=list)
    response_name: str = ""

    @property
    def nobs(self) -> int:
        return len(self.y)


# --------------------------------------------------------------------------- helpers

def _is_factor(series: pd.Series) -> bool:
    dt = series.dtype
    if isinstance(series, np.ndarray) and dt.kind in "fiu":
        return False                     # numeric arrays (numeric_design): no pandas call
    return (isinstance(dt, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dt)
            or pd.api.types.is_string_dtype(dt) or pd.api.types.is_object_dtype(dt))


def _factor_levels(values: pd.Series, labels: dict | None) -> tuple[np.ndarray, list[str]]:
    """Integer codes and level names of a factor (R's ``factor`` order, unused dropped)."""
    dt = values.dtype
    if isinstance(dt, pd.CategoricalDtype):
        cat = values.cat.remove_unused_categories()
        return cat.cat.codes.to_numpy(dtype=np.int64), [str(c) for c in cat.cat.categories]
    if pd.api.types.is_bool_dtype(dt):
        v = values.to_numpy(dtype=bool)
        uniq = np.unique(v)
        codes = np.searchsorted(uniq, v)
        return codes.astype(np.int64), ["TRUE" if u else "FALSE" for u in uniq]
    if pd.api.types.is_numeric_dtype(dt):
        v = values.to_numpy(dtype=float)
        uniq, codes = np.unique(v, return_inverse=True)
        names = []
        for u in uniq:
            if labels and u in labels:
                names.append(str(labels[u]))
            elif labels and float(u).is_integer() and int(u) in labels:
                names.append(str(labels[int(u)]))
            else:
                names.append(str(int(u)) if float(u).is_integer() else repr(float(u)))
        return codes.astype(np.int64), names
    v = values.astype(str).to_numpy()
    uniq, codes = np.unique(v, return_inverse=True)
    return codes.astype(np.int64), [str(u) for u in uniq]


def _group_codes(data: pd.DataFrame, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Codes and levels of a grouping factor (an interaction ``a:b`` for several names)."""
    parts = []
    for nm in names:
        s = data[nm]
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes, lev = _factor_levels(s, None)
        else:
            lev_arr, codes = np.unique(s.to_numpy(), return_inverse=True)
            if (lev_arr.dtype.kind == "f" and lev_arr.size
                    and np.all(np.isfinite(lev_arr)) and np.all(lev_arr == np.round(lev_arr))):
                lev_arr = lev_arr.astype(np.int64)   # cluster ids stored as floats: 1, not 1.0
            lev = list(lev_arr)
        parts.append((np.asarray(codes, dtype=np.int64), lev))
    if len(parts) == 1:
        codes, lev = parts[0]
        return codes, np.asarray(lev, dtype=object)
    # interaction: R's factor a:b orders its levels with the first factor varying
    # slowest ("a1:b1", "a1:b2", ..., "a2:b1"); unused combinations are dropped
    combo = np.zeros(len(data), dtype=np.int64)
    for codes, lev in parts:
        combo = combo * len(lev) + codes
    uniq, codes = np.unique(combo, return_inverse=True)
    labels = []
    for u in uniq:
        rem = int(u)
        items = []
        for _, lev in reversed(parts):
            items.append(str(lev[rem % len(lev)]))
            rem //= len(lev)
        labels.append(":".join(reversed(items)))
    return codes.astype(np.int64), np.asarray(labels, dtype=object)


def drop_rank_deficient(X: np.ndarray, names: list[str], *, tol: float = 1e-7,
                        warn: bool = True) -> tuple[np.ndarray, list[str], list[str]]:
    """Drop columns of ``X`` that are linear combinations of earlier columns.

    A column is dropped when its residual after projection on the kept
    earlier columns has norm below ``tol`` times its own norm (R's ``lm``
    uses a pivoted QR with tolerance 1e-7 and likewise keeps the earlier
    columns). lme4 warns "fixed-effect model matrix is rank deficient so
    dropping k columns / coefficients"; so do we, naming the columns.

    Returns
    -------
    X_kept, kept_names, dropped_names
    """
    n, p = X.shape
    if p == 0:
        return X, list(names), []
    # X = QR with Q orthonormal: projections and norms of the columns of X are
    # those of the columns of R, so the sequential test runs on p x p numbers.
    Rx = np.linalg.qr(X, mode="r") if n > p else X
    keep: list[int] = []
    Q = np.empty((Rx.shape[0], 0))
    for j in range(p):
        col = Rx[:, j]
        nrm = np.linalg.norm(col)
        if nrm == 0.0:
            continue
        r = col - Q @ (Q.T @ col)
        r = r - Q @ (Q.T @ r)  # re-orthogonalise
        rn = np.linalg.norm(r)
        if rn > tol * nrm:
            keep.append(j)
            Q = np.column_stack([Q, r / rn])
    dropped = [names[j] for j in range(p) if j not in keep]
    if dropped and warn:
        warnings.warn(f"fixed-effect model matrix is rank deficient so dropping {len(dropped)} "
                      f"column{'s' if len(dropped) > 1 else ''} / coefficient"
                      f"{'s' if len(dropped) > 1 else ''}: {', '.join(dropped)}",
                      RankDeficiencyWarning, stacklevel=3)
    return X[:, keep], [names[j] for j in keep], dropped


class _Columns:
    """Builds the numeric columns of factor labels on the kept rows.

    ``data`` is a DataFrame, or a mapping of names to numeric arrays of length ``n``
    (:func:`numeric_design`).
    """

    def __init__(self, formula: Formula, data, factors: set[str], n: int | None = None):
        self.formula = formula
        self.data = data
        self.factors = factors
        self.n = len(data) if n is None else int(n)
        self.labels = data.attrs.get("labels", {}) if hasattr(data, "attrs") else {}
        self.cache: dict[str, tuple[np.ndarray, list[str] | None]] = {}

    def numeric(self, name: str) -> np.ndarray:
        s = self.data[name]
        if _is_factor(s) or name in self.factors:
            raise ValueError(f"variable {name!r} is a factor and cannot be used in an "
                             f"arithmetic expression in formula {self.formula.text!r}")
        return np.asarray(s, dtype=float)

    def row_label(self, k: int):
        """The label of row ``k`` in messages (its index label for a DataFrame)."""
        return self.data.index[k] if isinstance(self.data, pd.DataFrame) else k

    def get(self, label: str) -> tuple[np.ndarray, list[str] | None]:
        """Return (matrix (n, k), level names or None for numeric)."""
        if label in self.cache:
            return self.cache[label]
        node = self.formula.expressions[label]
        if node.kind == "name":
            s = self.data[node.value]
            if _is_factor(s) or node.value in self.factors:
                codes, levels = _factor_levels(s, self.labels.get(node.value))
                dummies = np.zeros((len(codes), len(levels)))
                dummies[np.arange(len(codes)), codes] = 1.0
                out = (dummies, levels)
            else:
                out = (np.asarray(s, dtype=float)[:, None], None)
        else:
            val = evaluate(node, self.numeric)
            val = np.broadcast_to(val, (self.n,)).astype(float)
            if not np.all(np.isfinite(val)):
                bad = int(np.flatnonzero(~np.isfinite(val))[0])
                raise ValueError(f"term {label!r} is not finite (NaN or Inf) in row "
                                 f"{self.row_label(bad)!r}")
            out = (val[:, None], None)
        self.cache[label] = out
        return out


def _term_matrix(cols: _Columns, term: tuple[str, ...], full_first: bool
                 ) -> tuple[np.ndarray, list[str]]:
    """Columns of one term: product of its factors' codings (first factor fastest)."""
    mat = None
    names: list[str] = []
    for label in term:
        m, levels = cols.get(label)
        if levels is None:
            fn = [label]
        else:
            if full_first and len(term) == 1:
                fn = [label + lev for lev in levels]
            else:  # treatment contrasts: drop the reference (first) level
                m = m[:, 1:]
                fn = [label + lev for lev in levels[1:]]
        if mat is None:
            mat, names = m, fn
        else:
            # R varies the first factor fastest: column (i of first, j of second) at j*k1 + i
            mat = (mat[:, :, None] * m[:, None, :]).transpose(0, 2, 1).reshape(len(m), -1)
            names = [f"{a}:{b}" for b in fn for a in names]
    return mat, names


def _design(cols: _Columns, intercept: bool, terms, n: int) -> tuple[np.ndarray, list[str]]:
    blocks = [np.ones((n, 1))] if intercept else []
    names = ["(Intercept)"] if intercept else []
    first_factor_done = intercept
    for term in terms:
        is_factor_main = len(term) == 1 and cols.get(term[0])[1] is not None
        full = (not first_factor_done) and is_factor_main
        if is_factor_main:
            first_factor_done = True
        m, nm = _term_matrix(cols, term, full)
        blocks.append(m)
        names.extend(nm)
    X = np.hstack(blocks) if blocks else np.empty((n, 0))
    return X, names


# --------------------------------------------------------------------------- public

def numeric_design(formula: str | Formula, columns) -> tuple[np.ndarray, list[str]]:
    """The fixed-effects matrix of ``formula`` on numeric columns, without a model frame.

    The same columns and names as ``model_frame(formula, data, drop_rank=False).X``
    for complete numeric data (``tests/test_design.py``), built from arrays with no
    pandas and no missing-value handling: for samplers that evaluate one model at many
    candidate values of a variable (``2l.smc``'s Metropolis-Hastings steps).

    Parameters
    ----------
    formula : str or Formula
    columns : mapping
        Every variable of the fixed part -> ndarray (n,), numeric and complete.

    Returns
    -------
    X : ndarray (n, p)
    names : list of str
    """
    f = parse_formula(formula)
    n = len(next(iter(columns.values())))
    cols = _Columns(f, columns, set(), n=n)
    return _design(cols, f.intercept, f.terms, n)


def model_frame(formula: str | Formula, data: pd.DataFrame, *, factors=None,
                numeric_response: bool = True, drop_rank: bool = True,
                check_random: bool = True) -> ModelFrame:
    """Build the model frame and design matrices of ``formula`` on ``data``.

    Parameters
    ----------
    formula : str or Formula
        lme4 formula, e.g. ``"y ~ x + (1 + x | g)"`` (see :mod:`mlmice.formula`).
    data : pandas.DataFrame
    factors : str or iterable of str, optional
        Numeric columns to treat as factors (treatment contrasts; level names
        from ``data.attrs["labels"][name]`` when present).
    numeric_response : bool, default True
        When True the response must be numeric (or bool). When False a factor
        response with two levels is coded 0/1 (first level 0), as R's
        ``glm(family = binomial)`` does.
    drop_rank : bool, default True
        Drop rank-deficient fixed-effect columns with a
        :class:`RankDeficiencyWarning` naming them.
    check_random : bool, default True
        Apply lme4's checks on the random-effects design
        (:func:`check_random_blocks`).

    Returns
    -------
    ModelFrame
        ``y``, ``X`` and ``x_names``, ``random`` (one :class:`RandomBlock` per
        term with ``Z``, ``codes``, ``levels``), ``rows``/``index`` of the rows
        used and ``n_dropped`` (rows removed for missing values).

    Raises
    ------
    ValueError
        Naming the variable: unknown variable, no response, non-numeric
        response, no rows left after removing missing values, a grouping
        factor with one level.
    """
    f = parse_formula(formula)
    if data is None:
        raise TypeError("data is None; pass the pandas DataFrame to fit the formula to")
    if not isinstance(data, pd.DataFrame):
        try:
            data = pd.DataFrame(data)
        except Exception as exc:  # noqa: BLE001
            raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}"
                            ) from exc
    if f.response is None:
        raise ValueError(f"formula {f.text!r} has no response; write it as 'y ~ ...'")
    twice = sorted({str(v) for v in f.variables if list(data.columns).count(v) > 1})
    if twice:
        raise ValueError(f"the data have more than one column named {', '.join(twice)} "
                         f"(formula {f.text!r}); rename them so that each name is unique")
    missing = [v for v in f.variables if v not in data.columns]
    if missing:
        raise ValueError(f"variable{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(repr(m) for m in missing)} in formula {f.text!r} "
                         f"not found in data (columns: {', '.join(map(str, data.columns))})")
    factors = {factors} if isinstance(factors, str) else set(factors or ())
    unknown = factors - set(data.columns)
    if unknown:
        raise ValueError(f"factors= names unknown column(s) {sorted(unknown)}")

    n_total = len(data)
    used = data[list(f.variables)]
    na = used.isna().any(axis=1).to_numpy()
    rows = np.flatnonzero(~na)
    n_dropped = int(na.sum())
    if len(rows) == 0:
        raise ValueError(f"no rows left after removing rows with missing values in "
                         f"{', '.join(f.variables)} ({n_total} rows, all incomplete)")
    frame = data.iloc[rows]
    frame.attrs = dict(data.attrs)

    # response
    resp_node = f.expressions[f.response]
    cols = _Columns(f, frame, factors)
    if resp_node.kind == "name":
        s = frame[resp_node.value]
        if _is_factor(s) or resp_node.value in factors:
            if pd.api.types.is_bool_dtype(s.dtype):
                y = s.to_numpy(dtype=float)
            elif numeric_response:
                raise ValueError(f"response {resp_node.value!r} is not numeric "
                                 f"(dtype {s.dtype}); lmer/lm need a numeric response")
            else:
                codes, levels = _factor_levels(s, data.attrs.get("labels", {}).get(
                    resp_node.value))
                if len(levels) > 2:
                    raise ValueError(f"response {resp_node.value!r} has {len(levels)} levels "
                                     f"({', '.join(levels)}); a binary response needs two")
                y = codes.astype(float)
        else:
            try:
                y = s.to_numpy(dtype=float)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"response {resp_node.value!r} is not numeric "
                                 f"(dtype {s.dtype})") from exc
    else:
        y = np.broadcast_to(evaluate(resp_node, cols.numeric), (len(frame),)).astype(float)
    if not np.all(np.isfinite(y) & (np.abs(np.nan_to_num(y)) <= MAX_ABS_DESIGN)):
        bad = int(np.flatnonzero(~(np.isfinite(y) & (np.abs(np.nan_to_num(y))
                                                      <= MAX_ABS_DESIGN)))[0])
        raise ValueError(f"response {f.response!r} is infinite or too large ({y[bad]:g}) in "
                         f"row {frame.index[bad]!r}; rescale it or set the value to NaN")

    n = len(frame)
    X, x_names = _design(cols, f.intercept, f.terms, n)
    _check_design_values(X, x_names, frame.index, f.text)
    dropped: list[str] = []
    if drop_rank:
        X, x_names, dropped = drop_rank_deficient(X, x_names)

    blocks: list[RandomBlock] = []
    for rt in f.random:
        Z, z_names = _design(cols, rt.intercept, rt.terms, n)
        codes, levels = _group_codes(frame, rt.group)
        blocks.append(RandomBlock(term=rt, group=rt.group_label, codes=codes, levels=levels,
                                  Z=np.ascontiguousarray(Z), z_names=z_names,
                                  correlated=rt.correlated))
    mf = ModelFrame(formula=f, y=np.ascontiguousarray(y), X=np.ascontiguousarray(X),
                    x_names=x_names, random=blocks, rows=rows, index=frame.index,
                    n_dropped=n_dropped, dropped_columns=dropped, response_name=f.response)
    if check_random and blocks:
        check_random_blocks(blocks, n)
    return mf


#: Largest magnitude of a design value; its square must stay finite in float64.
MAX_ABS_DESIGN = 1e100


def _check_design_values(X: np.ndarray, names: list[str], index, formula: str) -> None:
    """Infinite or astronomically large design values are errors naming the column and row
    (lme4 stops too); otherwise the rank check would drop the column and fit without it."""
    bad = ~np.isfinite(X) | (np.abs(np.nan_to_num(X)) > MAX_ABS_DESIGN)
    if bad.any():
        row, col = (int(k[0]) for k in np.nonzero(bad))
        raise ValueError(f"formula {formula!r}: column {names[col]!r} has an infinite or too "
                         f"large value ({X[row, col]:g}) in row {index[row]!r}; rescale the "
                         "variable or set the value to NaN")


def check_random_blocks(blocks: list[RandomBlock], n: int) -> None:
    """lme4's checks on the random-effects design (``lmerControl`` defaults).

    * every grouping factor has at least two levels;
    * ``check.nlev.gtreq.5`` is only a warning in lme4 and is not repeated;
    * ``check.nobs.vs.nlev``: the number of levels is below the number of
      observations;
    * ``check.nobs.vs.nRE``: the number of random effects of each term is
      below the number of observations.

    Raises
    ------
    ValueError
        Naming the grouping factor.
    """
    for b in blocks:
        if b.n_levels < 2:
            raise ValueError(f"grouping factor {b.group!r} has {b.n_levels} level"
                             f"{'' if b.n_levels == 1 else 's'}; a random effect needs at "
                             "least two")
        if b.n_levels >= n:
            raise ValueError(f"number of levels of grouping factor {b.group!r} "
                             f"({b.n_levels}) must be < number of observations ({n})")
        if b.n_levels * b.q >= n and b.q > 1:
            raise ValueError(f"number of observations ({n}) <= number of random effects "
                             f"({b.n_levels * b.q}) for term {b.term.text}; the random-effects "
                             "parameters and the residual variance are probably unidentifiable")

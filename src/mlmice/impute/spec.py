"""The imputation model: methods vector, predictor matrix, visit sequence.

The vocabulary is mice's (van Buuren and Groothuis-Oudshoorn 2011, JSS
45(3)) with miceadds' two-level predictor codes:

====  =====================================================================
code  meaning in a row of the predictor matrix (row = target, column = predictor)
====  =====================================================================
 -2   the cluster variable (required by every ``2l.*`` and ``2lonly.*`` method)
  0   not used
  1   fixed effect
  2   fixed and random effect
  3   fixed effect plus its cluster mean
  4   fixed and random effect plus its cluster mean
====  =====================================================================

:func:`validate_spec` checks a specification against the data before any
work is done and returns a normalised :class:`ImputationSpec`; every error
names the variable (and the code) at fault. Without a method vector or a predictor
matrix it takes mice's defaults (:mod:`mlmice.impute.defaults`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mlmice.impute.categorical import is_categorical
from mlmice.impute.defaults import (
    as_float,
    check_frame,
    is_binary,
    is_numeric,
    is_usable,
    make_method,
    make_predictor_matrix,
    observed_values,
)
from mlmice.impute.errors import SpecError, SpecWarning
from mlmice.impute.methods.base import (
    _REGISTRY,
    BUILTIN_METHODS,
    builtin_level,
    check_options,
    method_class,
)
from mlmice.impute.passive import PassiveExpression, is_passive, parse_passive
from mlmice.io import check_finite_values

__all__ = ["CODES", "ImputationSpec", "SpecError", "SpecWarning", "is_binary", "make_method",
           "make_predictor_matrix", "validate_spec", "method_level", "cluster_codes"]

CODES: dict[int, str] = {
    -2: "cluster variable",
    0: "not used",
    1: "fixed effect",
    2: "fixed and random effect",
    3: "fixed effect plus cluster mean",
    4: "fixed and random effect plus cluster mean",
}


#: Built-in methods whose target must be coded 0/1 (or a categorical of two categories).
BINARY_METHODS = frozenset({"logreg", "2l.bin"})
#: Built-in methods whose target must be a categorical (:mod:`mlmice.impute.categorical`).
CATEGORICAL_METHODS = frozenset({"polr", "polyreg", "2l.polr", "2l.polyreg", "2lonly.polr",
                                 "2lonly.polyreg"})



def method_level(method: str) -> str:
    """Level of a registered method: ``"1"``, ``"2l"`` or ``"2lonly"`` (``"passive"`` for ``~``)."""
    if is_passive(method):
        return "passive"
    try:
        if method in BUILTIN_METHODS and method not in _REGISTRY:
            return builtin_level(method)
        return method_class(method).level
    except ValueError as err:
        raise SpecError(str(err)) from None


def cluster_codes(series: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer cluster index ``0..G-1`` per row, and the cluster labels.

    Works for integer, float, string and categorical cluster ids (unused
    categories are dropped).
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.cat.remove_unused_categories()
        return series.cat.codes.to_numpy().astype(np.intp), pd.Index(series.cat.categories)
    try:
        codes, uniques = pd.factorize(series, sort=True)
    except TypeError:  # mixed types that cannot be sorted
        codes, uniques = pd.factorize(series, sort=False)
    return codes.astype(np.intp), pd.Index(uniques)


@dataclass(frozen=True)
class ImputationSpec:
    """A validated imputation model (what :func:`validate_spec` returns).

    Attributes
    ----------
    variables : tuple of str
        All columns of the data, in order.
    method : Series
        Method per variable (``""`` not imputed, ``"~ ..."`` passive).
    predictor_matrix : DataFrame of int
        Square, rows and columns = ``variables``.
    visit_sequence : tuple of str
        Non-passive imputed variables in the order they are visited.
    cluster : str or None
        The cluster variable.
    passive : dict
        Passive variable -> :class:`~mlmice.impute.passive.PassiveExpression`.
    triggers : dict
        Variable -> passive variables to recompute after it is imputed
        (transitively, in dependency order).
    passive_order : tuple of str
        All passive variables in dependency order.
    options : dict
        Method options per variable (passed to the method as ``options``).
    notes : tuple of (variable, message)
        Questionable but valid choices found by :func:`validate_spec` (each also
        issued as a :class:`SpecWarning`); the sampler logs them at iteration 0.
    """

    variables: tuple
    method: pd.Series
    predictor_matrix: pd.DataFrame
    visit_sequence: tuple
    cluster: str | None
    passive: dict = field(default_factory=dict)
    triggers: dict = field(default_factory=dict)
    passive_order: tuple = ()
    options: dict = field(default_factory=dict)
    notes: tuple = ()

    def level(self, variable: str) -> str:
        return method_level(self.method[variable])

    def to_dict(self) -> dict:
        """JSON-ready description (method, predictor matrix, visit sequence, cluster, options)."""
        pm = self.predictor_matrix
        return {
            "variables": list(self.variables),
            "method": {k: str(v) for k, v in self.method.items()},
            "predictor_matrix": {r: {c: int(pm.loc[r, c]) for c in pm.columns} for r in pm.index},
            "visit_sequence": list(self.visit_sequence),
            "cluster": self.cluster,
            "options": self.options,
        }

    @classmethod
    def from_dict(cls, spec: dict, data: pd.DataFrame) -> ImputationSpec:
        """Rebuild (and re-validate) a spec written by :meth:`to_dict`."""
        if list(map(str, data.columns)) != list(spec["variables"]):
            raise SpecError("the data's columns do not match the stored specification: "
                            f"{list(data.columns)} vs {spec['variables']}")
        pm = pd.DataFrame(spec["predictor_matrix"]).T.loc[spec["variables"], spec["variables"]]
        return validate_spec(data, method=spec["method"], predictor_matrix=pm,
                             visit_sequence=spec["visit_sequence"], cluster=spec["cluster"],
                             method_options=spec.get("options") or None)


def _as_method_series(method, names) -> pd.Series:
    if isinstance(method, pd.Series):
        method = method.to_dict()
    elif isinstance(method, (list, tuple, np.ndarray)):
        if len(method) != len(names):
            raise SpecError(f"method has {len(method)} entries but the data has {len(names)} "
                            "columns; give a dict or Series by variable name")
        method = dict(zip(names, method, strict=True))
    if not isinstance(method, dict):
        raise TypeError(f"method must be a dict, Series or list, got {type(method).__name__}")
    unknown = [k for k in method if k not in names]
    if unknown:
        raise SpecError(f"method names variable(s) not in the data: {', '.join(map(str, unknown))}")
    out = {}
    for name in names:
        value = method.get(name, "")
        if value is None or (isinstance(value, float) and np.isnan(value)):
            value = ""
        if not isinstance(value, str):
            raise SpecError(f"{name}: method must be a string, got {value!r}")
        out[name] = value.strip()
    return pd.Series(out, dtype=object, name="method")


def _as_predictor_matrix(pred, names) -> pd.DataFrame:
    if not isinstance(pred, pd.DataFrame):
        arr = np.asarray(pred)
        if arr.shape != (len(names), len(names)):
            raise SpecError(f"predictor_matrix has shape {arr.shape}; expected "
                            f"({len(names)}, {len(names)}) or a DataFrame with variable names")
        pred = pd.DataFrame(arr, index=names, columns=names)
    for axis, labels in (("row", pred.index), ("column", pred.columns)):
        unknown = [x for x in labels if x not in names]
        if unknown:
            raise SpecError(f"predictor_matrix {axis}(s) {', '.join(map(str, unknown))} "
                            "are not variables of the data")
        if labels.has_duplicates:
            raise SpecError(f"predictor_matrix has duplicated {axis} names")
    pred = pred.reindex(index=names, columns=names, fill_value=0)
    values = pred.to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isin(values, list(CODES))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise SpecError(f"{names[r]}: predictor {names[c]!r} has code {values[r, c]:g}; codes "
                        "are -2 (cluster), 0, 1 (fixed), 2 (fixed + random), 3 (fixed + cluster "
                        "mean), 4 (fixed + random + cluster mean)")
    out = pd.DataFrame(values.astype(int), index=pd.Index(names, name="target"),
                       columns=pd.Index(names, name="predictor"))
    return out


def validate_spec(df: pd.DataFrame, method=None, predictor_matrix=None, *,
                  visit_sequence=None, cluster: str | None = None,
                  method_options: dict | None = None) -> ImputationSpec:
    """Check an imputation specification against the data, before any work.

    Parameters
    ----------
    df : DataFrame
        The incomplete data (NaN for missing).
    method : dict, Series or list, optional
        Method per variable; default :func:`make_method`. Variables not named
        get ``""`` (not imputed).
    predictor_matrix : DataFrame or array, optional
        Codes -2/0/1/2/3/4; default :func:`make_predictor_matrix`. Rows or
        columns not given are 0.
    visit_sequence : sequence of str, optional
        Order of visits (default: imputed variables in column order). Passive
        variables in it are accepted and ignored: they are recomputed after
        each variable they depend on.
    cluster : str, optional
        The cluster variable. Default: the column coded -2 in the predictor
        matrix.
    method_options : dict, optional
        ``{variable: {option: value}}`` handed to the method (e.g. ``donors``).

    Returns
    -------
    ImputationSpec

    Raises
    ------
    SpecError
        Naming the variable and the code or method at fault: unknown method;
        a two-level method without a -2 column; two -2 columns in a row; codes
        2/3/4 with a single-level method; a 2lonly method on a variable that
        varies within a cluster; a predictor that is never observed, or
        incomplete without a method; a passive expression naming an unknown
        variable or depending on itself.
    """
    check_frame(df, cluster)
    names = [str(c) for c in df.columns]
    if names != list(df.columns):
        bad = [c for c in df.columns if not isinstance(c, str)]
        raise SpecError(f"column names must be strings; got {bad}")
    if method is None:
        method = make_method(df, cluster=cluster)
    method = _as_method_series(method, names)
    if predictor_matrix is None:
        predictor_matrix = make_predictor_matrix(df, cluster=cluster)
    pred = _as_predictor_matrix(predictor_matrix, names)

    levels: dict[str, str] = {}
    passive: dict[str, PassiveExpression] = {}
    for name in names:
        meth = method[name]
        if meth == "":
            continue
        if is_passive(meth):
            try:
                passive[name] = parse_passive(meth)
            except ValueError as exc:
                raise SpecError(f"{name}: {exc}") from None
            unknown = sorted(set(passive[name].variables) - set(names))
            if unknown:
                raise SpecError(f"{name}: passive expression {meth!r} names unknown "
                                f"variable(s) {', '.join(unknown)} (variables: "
                                f"{', '.join(names)})")
            categorical = [v for v in passive[name].variables if is_categorical(df[v])]
            if categorical or is_categorical(df[name]):
                which = categorical or [name]
                raise SpecError(f"{name}: passive expression {meth!r} involves the categorical "
                                f"variable(s) {', '.join(which)}; arithmetic on categories has "
                                "no meaning (it would use their codes). Use a numeric 0/1 "
                                "column per category, or let the analysis formula build the "
                                "dummies")
            levels[name] = "passive"
            continue
        try:
            levels[name] = method_level(meth)
        except SpecError as exc:
            raise SpecError(f"{name}: {exc}") from None

    cluster = _resolve_cluster(df, pred, method, levels, cluster)
    used = [n for n in names if n != cluster and (n in levels or (pred[n] != 0).any())]
    try:
        check_finite_values(df, used, "data")
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    missing = df.isna()
    for name, level in levels.items():
        if name == cluster:
            raise SpecError(f"{name}: the cluster variable cannot be imputed (method "
                            f"{method[name]!r}); it must be complete")
        if level == "passive":
            continue
        _check_target(df, name, method[name], level, pred, cluster, levels, missing)

    triggers, passive_order = _passive_graph(passive, names)
    notes = _feedback_notes(pred, {k: v for k, v in levels.items() if missing[k].any()},
                            passive)
    for variable, message in notes:
        warnings.warn(f"{variable}: {message}", SpecWarning, stacklevel=2)
    if visit_sequence is None:
        visit = tuple(n for n in names if levels.get(n) not in (None, "passive"))
    else:
        if isinstance(visit_sequence, str):
            visit_sequence = [visit_sequence]
        visit = []
        for name in visit_sequence:
            if name not in names:
                raise SpecError(f"visit_sequence names {name!r}, which is not a variable")
            if name not in levels:
                raise SpecError(f"visit_sequence names {name!r}, which has no imputation method")
            if levels[name] != "passive":
                visit.append(name)
        visit = tuple(visit)
    options = {}
    for name, opts in (method_options or {}).items():
        if name not in levels:
            raise SpecError(f"method_options names {name!r}, which has no imputation method")
        if not isinstance(opts, dict):
            raise SpecError(f"{name}: method_options must be a dict, got {type(opts).__name__}")
        options[name] = dict(opts)
    for name, level in levels.items():
        if level != "passive":
            try:
                check_options(str(method[name]), options.get(name, {}), variable=name,
                              columns=names, cluster=cluster)
            except (ValueError, TypeError) as exc:
                raise SpecError(str(exc)) from None
    return ImputationSpec(variables=tuple(names), method=method, predictor_matrix=pred,
                          visit_sequence=visit, cluster=cluster, passive=passive,
                          triggers=triggers, passive_order=passive_order, options=options,
                          notes=notes)


def _resolve_cluster(df, pred, method, levels, cluster):
    found: dict[str, list[str]] = {}
    for name, level in levels.items():
        if level == "passive":
            continue
        row = pred.loc[name]
        minus2 = list(row.index[row.to_numpy() == -2])
        if len(minus2) > 1:
            raise SpecError(f"{name}: predictor-matrix row has code -2 in {len(minus2)} columns "
                            f"({', '.join(minus2)}); exactly one cluster variable is allowed")
        if level in ("2l", "2lonly") and not minus2:
            raise SpecError(f"{name}: method {method[name]!r} is two-level and needs the "
                            "cluster variable coded -2 in its predictor-matrix row; no column "
                            "has code -2")
        for col in minus2:
            found.setdefault(col, []).append(name)
    if cluster is None and found:
        if len(found) > 1:
            detail = "; ".join(f"{c} (rows {', '.join(v)})" for c, v in found.items())
            raise SpecError(f"code -2 marks different cluster variables in different rows: "
                            f"{detail}; one cluster variable is supported")
        cluster = next(iter(found))
    elif cluster is not None:
        for col, rows in found.items():
            if col != cluster:
                raise SpecError(f"{rows[0]}: predictor {col!r} has code -2 but the cluster "
                                f"variable is {cluster!r}")
    if cluster is not None and df[cluster].isna().any():
        rows = np.flatnonzero(df[cluster].isna().to_numpy())[:5]
        raise SpecError(f"{cluster}: the cluster variable has missing values (rows "
                        f"{', '.join(map(str, rows))}); it must be complete")
    return cluster


def _check_target(df, name, meth, level, pred, cluster, levels, missing):
    series = df[name]
    if meth in CATEGORICAL_METHODS:
        if not is_categorical(series):
            raise SpecError(f"{name}: method {meth!r} imputes a categorical variable, but {name} "
                            f"has dtype {series.dtype}; make it one with df[{name!r}] = "
                            f"df[{name!r}].astype('category') (ordered for polr)")
        if meth.endswith("polr") and not series.cat.ordered:
            listed = ", ".join(map(str, series.cat.categories))
            warnings.warn(f"{name}: method {meth!r} treats the categories of an unordered "
                          f"variable as ordered, as listed ({listed}; alphabetical for text); "
                          "use a polyreg method, or declare the order (data.ordered, or an "
                          "ordered categorical)", SpecWarning, stacklevel=4)
    elif is_categorical(series) and not (meth in BINARY_METHODS and is_binary(series)):
        k = len(series.cat.categories)
        prefix = "2lonly." if meth.startswith("2lonly") else "2l." if level == "2l" else ""
        kind = "polr" if series.cat.ordered else "polyreg"
        use = ("2l.bin" if level != "1" else "logreg") if k == 2 else prefix + kind
        raise SpecError(f"{name}: method {meth!r} imputes numbers, but {name} is categorical "
                        f"({k} categories); use {use}")
    elif not is_numeric(series) and not is_categorical(series):
        raise SpecError(f"{name}: method {meth!r} needs a numeric column, got dtype {series.dtype}")
    elif pd.api.types.is_bool_dtype(series.dtype) and not (
            meth in BINARY_METHODS or meth.endswith("pmm")):
        # R's mice refuses this too ("type mismatch"): norm would impute 0.37 into a
        # true/false column
        raise SpecError(f"{name}: method {meth!r} imputes continuous values, but {name} is "
                        f"boolean (dtype {series.dtype}); use logreg (or 2l.bin), or a pmm "
                        "method, which imputes observed values")
    if not missing[name].any():
        return
    if missing[name].all():
        raise SpecError(f"{name}: never observed (all values missing); method {meth!r} has "
                        "nothing to fit")
    if meth in BINARY_METHODS and not is_binary(series):
        values = np.unique(observed_values(series))
        shown = ", ".join(f"{v:g}" for v in values[:5]) + (" ..." if values.size > 5 else "")
        raise SpecError(f"{name}: method {meth!r} needs a binary variable coded 0/1, but its "
                        f"observed values are {shown} ({values.size} distinct); recode it or use "
                        "a method for continuous data (e.g. pmm, 2l.pmm)")
    row = pred.loc[name]
    if row[name] != 0:
        raise SpecError(f"{name}: the predictor matrix's diagonal must be 0 (a variable cannot "
                        f"predict itself); found code {row[name]}")
    for pname, code in row.items():
        if code == 0 or code == -2:
            continue
        if level == "1" and code in (2, 3, 4):
            raise SpecError(f"{name}: predictor {pname!r} has code {code} ({CODES[code]}) but "
                            f"method {meth!r} is single-level; use code 1 or a 2l method")
        if pname == cluster:
            raise SpecError(f"{name}: the cluster variable {pname!r} has code {code}; it must "
                            "be coded -2 (or 0)")
        pseries = df[pname]
        if not is_usable(pseries):
            raise SpecError(f"{name}: predictor {pname!r} (code {code}) is neither numeric nor "
                            f"categorical (dtype {pseries.dtype}); make it categorical "
                            f"(.astype('category')), code it numerically or set its code to 0")
        if missing[pname].all():
            raise SpecError(f"{name}: predictor {pname!r} (code {code}) is never observed; "
                            "set its code to 0")
        if missing[pname].any() and pname not in levels:
            raise SpecError(f"{name}: predictor {pname!r} (code {code}) has missing values but "
                            "no imputation method; give it a method or set its code to 0")
    if level == "2lonly":
        codes, _ = cluster_codes(df[cluster])
        y = as_float(series)
        ok = ~np.isnan(y)
        lo = np.full(codes.max() + 1, np.inf)
        hi = np.full(codes.max() + 1, -np.inf)
        np.minimum.at(lo, codes[ok], y[ok])
        np.maximum.at(hi, codes[ok], y[ok])
        varying = np.flatnonzero(hi > lo)
        if varying.size:
            labels = cluster_codes(df[cluster])[1][varying[:5]]
            raise SpecError(f"{name}: method {meth!r} needs a level-2 variable, but its observed "
                            f"values vary within {varying.size} cluster(s) of {cluster!r} (e.g. "
                            f"{', '.join(map(str, labels))}); use a 2l or single-level method")


def _feedback_notes(pred, levels, passive) -> tuple:
    """Passive variables used as predictors of a variable they are computed from.

    The imputations of such a variable feed back into themselves through the
    passive term (van Buuren 2018, *Flexible Imputation of Missing Data*,
    section 6.4): valid, but usually a mistake.
    """
    notes = []
    for name, level in levels.items():
        if level == "passive":
            continue
        for p in passive:
            code = int(pred.loc[name, p])
            if code not in (0, -2) and _depends_on(p, name, passive):
                notes.append((name, f"predictor {p!r} (code {code}) is passive and computed from "
                                    f"{name!r} itself, so its imputations feed back into "
                                    "themselves; set the code to 0 unless intended"))
    return tuple(notes)


def _depends_on(p, name, passive, seen=None) -> bool:
    seen = set() if seen is None else seen
    if p in seen:
        return False
    seen.add(p)
    deps = passive[p].variables
    return name in deps or any(_depends_on(q, name, passive, seen) for q in deps if q in passive)


def _passive_graph(passive: dict, names: list[str]) -> tuple[dict, tuple]:
    for name, expr in passive.items():
        unknown = sorted(v for v in expr.variables if v not in names)
        if unknown:
            raise SpecError(f"{name}: passive expression {expr.text!r} names unknown "
                            f"variable(s) {', '.join(unknown)}")
        if name in expr.variables:
            raise SpecError(f"{name}: passive expression {expr.text!r} depends on itself")
    # topological order of passive variables; cycles through other passives are errors
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(node, path):
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            cycle = " -> ".join(path[path.index(node):] + [node])
            raise SpecError(f"{node}: passive expression {passive[node].text!r} depends on "
                            f"itself through {cycle}")
        state[node] = 1
        for dep in sorted(passive[node].variables):
            if dep in passive:
                visit(dep, path + [node])
        state[node] = 2
        order.append(node)

    for name in passive:
        visit(name, [])
    # triggers: variable -> passive variables (transitively) depending on it, in order
    triggers: dict[str, tuple] = {}
    for name in names:
        affected: set[str] = set()
        frontier = {name}
        while frontier:
            new = {p for p in passive if passive[p].variables & frontier} - affected
            affected |= new
            frontier = new
        if affected:
            triggers[name] = tuple(p for p in order if p in affected)
    return triggers, tuple(order)

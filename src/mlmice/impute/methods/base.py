"""The contract between the sampler and an imputation method.

A method is a small object registered by name. The sampler hands it a
:class:`MethodInput` (a view of the current completed data for one target
variable) and a ``numpy.random.Generator``; the method returns a
:class:`MethodResult` with one imputed value per row to impute and any logged
events. Methods never see the sampler, never touch global RNG state and never
keep state between calls, so a chain is fully described by its current
imputations and its generator state.

Predictor codes (mice / miceadds conventions) arrive in ``MethodInput.codes``,
one per column of ``x``:

====  ==========================================================
code  meaning for a two-level method
====  ==========================================================
 1    fixed effect
 2    fixed and random effect
 3    fixed effect plus its cluster mean (as a fixed effect)
 4    fixed and random effect plus its cluster mean
====  ==========================================================

The cluster variable (code -2) is not a column of ``x``; it arrives as
``cluster`` (integer codes ``0..n_clusters-1``). Single-level methods see all
codes as 1. :func:`two_level_design` turns codes into the fixed-effects matrix
``X`` and the random-effects matrix ``Z`` that every two-level method uses.

Before calling a method the sampler removes predictors that are constant,
correlate above 0.99 with the target, or are linearly dependent on earlier
predictors among the rows where the target is observed (as mice's
``remove.lindep``), and logs each removal; ``x`` holds what is left.
Two-level methods that add cluster means can drop further collinear columns
of their own design with :func:`redundant_columns`.

A method must either return finite values for every ``wy`` row or raise; the
sampler turns an exception into an :class:`ImputationError` naming the
variable, the iteration and the chain (it never keeps old imputations).

Method state. A method whose model is itself sampled (a Gibbs sampler) or refitted
(a REML optimum) may return ``MethodResult.state``: a flat dict of numbers and NumPy
arrays, for example the last draw of its parameters. The sampler keeps it with the
chain (written to the chain's files with it) and hands it back in
``MethodInput.state`` at the method's next call for the same variable in the same
chain; at the first call it is None. A chain is then fully described by its current
imputations, its generator state and these method states, so continuing a chain
from its files gives the same result as one long run. A method must treat the state
as a starting point only: check that it fits the current call (its shapes, the
predictors it was made with) and otherwise start afresh.

Changes to this contract (kept backwards compatible):

* ``MethodInput.cluster_labels`` (new, optional): the original cluster ids,
  ``cluster_labels[k]`` is the label of cluster index ``k`` (for messages).
* :func:`redundant_columns` (new helper).
* :class:`ImputationError` (new): what the sampler raises when a method fails.
* ``MethodInput.state`` and ``MethodResult.state`` (new, optional): the method's own
  state between calls (above).
* ``MethodInput.categories`` and ``MethodInput.ordered`` (new, optional): a categorical
  target's categories (``y`` holds its codes); a categorical predictor arrives as its
  dummies (``x`` columns named ``<variable><category>``).
* ``MethodInput.chain_state`` (new, optional): a read-only view of every variable's
  method state in the chain, by variable, for methods whose variables share one joint
  model (``2l.smc`` reads the parameter draw its outcome step left). Only the chain's
  current state may be read this way, which keeps the sampler a valid Gibbs sampler.

To add a method (for example a substantive-model-compatible one)::

    @register_method("my.method")
    class MyMethod(ImputationMethod):
        level = "1"                      # "1", "2l" or "2lonly"
        def impute(self, data, rng):
            ...
            return MethodResult(values=draws)
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from mlmice._validation import check_bool


@dataclass(frozen=True)
class MethodInput:
    """What one imputation step of one variable sees.

    Attributes
    ----------
    variable : str
        Name of the target variable (for messages).
    y : ndarray of shape (n,)
        Current completed values of the target (observed values where ``ry``;
        the previous imputations elsewhere).
    ry : ndarray of bool, shape (n,)
        True where the target is observed (used to fit the model).
    wy : ndarray of bool, shape (n,)
        True where values are to be imputed (normally ``~ry``).
    x : ndarray of shape (n, p)
        Current completed predictors (no intercept column, no cluster column).
    names : tuple of str
        Column names of ``x``.
    codes : ndarray of int, shape (p,)
        Predictor-matrix code per column of ``x`` (1, 2, 3 or 4).
    cluster : ndarray of int, shape (n,), or None
        Cluster index 0..n_clusters-1 (None for single-level methods).
    n_clusters : int
        Number of clusters (0 when ``cluster`` is None).
    binary : bool
        True when the target is a 0/1 variable.
    options : dict
        Method options from the user (e.g. ``donors`` for pmm).
    cluster_labels : tuple
        Original cluster ids by cluster index (empty when ``cluster`` is None).
    state : dict or None
        What this method returned as ``MethodResult.state`` at its previous call for
        this variable in this chain (None at the first call).
    categories : tuple of str
        The target's categories when it is categorical (``y`` then holds the codes
        ``0 .. K-1``; :mod:`mlmice.impute.categorical`); empty otherwise.
    ordered : bool
        True when the categorical target is ordered (ordinal).
    chain_state : Mapping or None
        Read-only: every variable's current method state in this chain, by variable
        (``state`` is this variable's entry); None outside a chain.
    """

    variable: str
    y: np.ndarray
    ry: np.ndarray
    wy: np.ndarray
    x: np.ndarray
    names: tuple[str, ...]
    codes: np.ndarray
    cluster: np.ndarray | None = None
    n_clusters: int = 0
    binary: bool = False
    options: dict = field(default_factory=dict)
    cluster_labels: tuple = ()
    state: dict | None = None
    categories: tuple = ()
    ordered: bool = False
    chain_state: Mapping | None = None


#: Joins the column names a method keeps in its state (no column name contains it).
STATE_NAME_SEP = "\x1f"


@dataclass
class MethodResult:
    """Imputed values for the rows ``wy`` (in row order), logged events and the state.

    ``state`` (optional): a flat dict of numbers, strings and NumPy arrays that the
    sampler hands back at the next call (module docstring, "Method state").
    """

    values: np.ndarray
    events: list[str] = field(default_factory=list)
    state: dict | None = None


class ImputationError(RuntimeError):
    """An imputation step failed; the message names the variable, iteration and chain."""


class ImputationMethod:
    """Base class of all imputation methods.

    Subclasses set ``name`` (via :func:`register_method`) and ``level``,
    declare their options in ``options`` (name -> (default, description);
    :func:`mlmice.impute.spec.validate_spec` refuses any other name) and
    implement :meth:`impute`.
    """

    name: ClassVar[str] = ""
    level: ClassVar[str] = "1"  # "1" single level, "2l" two-level, "2lonly" level-2 only
    options: ClassVar[dict[str, tuple[object, str]]] = {}

    def impute(self, data: MethodInput, rng: np.random.Generator) -> MethodResult:
        raise NotImplementedError

    def check_option_values(self, options: dict, *, variable: str, columns: list[str],
                            cluster: str | None) -> None:
        """Check the option values before any imputation (raise ValueError or TypeError).

        Called by :func:`mlmice.impute.spec.validate_spec` with the user's options
        (possibly empty), the data's column names and the cluster variable, so that a
        bad value fails at once rather than at the first iteration. The default
        checks nothing beyond :func:`check_options`; a method overrides it by calling
        the same readers its :meth:`impute` uses.
        """


_REGISTRY: dict[str, type[ImputationMethod]] = {}


def register_method(name: str):
    """Class decorator registering an :class:`ImputationMethod` under ``name``."""

    def decorator(cls: type[ImputationMethod]) -> type[ImputationMethod]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"imputation method {name!r} is already registered")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorator


#: Built-in method -> the module of :mod:`mlmice.impute.methods` that registers it. A
#: module is imported when one of its methods is first asked for, so a job imports only
#: the methods (and their dependencies) its specification uses.
BUILTIN_METHODS = {
    "mean": "mean", "norm": "norm", "pmm": "pmm", "logreg": "logreg",
    "polyreg": "polytomous", "polr": "polytomous",
    "2l.bin": "two_level_bin", "2l.lmer": "two_level_lmer", "2l.norm": "two_level_norm",
    "2l.pan": "two_level_pan", "2l.pmm": "two_level_pmm", "2l.smc": "two_level_smc",
    "2l.polr": "two_level_polr", "2l.polyreg": "two_level_polyreg",
    "2lonly.mean": "level_two", "2lonly.norm": "level_two", "2lonly.pmm": "level_two",
    "2lonly.polr": "level_two", "2lonly.polyreg": "level_two",
}


def builtin_level(name: str) -> str:
    """Level of a built-in method read off its name, as in mice: ``2lonly.*`` is
    ``"2lonly"``, ``2l.*`` is ``"2l"``, the others ``"1"``.

    Equal to the class's ``level`` (a test checks every built-in); it lets a job
    that only reads a specification (the analysis stages) skip importing the
    methods and their dependencies.
    """
    if name not in BUILTIN_METHODS:
        raise ValueError(f"{name!r} is not a built-in method")
    return "2lonly" if name.startswith("2lonly.") else "2l" if name.startswith("2l.") else "1"


def method_class(name: str) -> type[ImputationMethod]:
    """The class registered as ``name`` (a built-in's module is imported on first use).

    Raises
    ------
    ValueError
        Naming the unknown method and listing the known ones.
    """
    if name not in _REGISTRY and name in BUILTIN_METHODS:
        import importlib

        importlib.import_module(f"mlmice.impute.methods.{BUILTIN_METHODS[name]}")
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        known = ", ".join(available_methods())
        raise ValueError(f"unknown imputation method {name!r}; known methods: {known}") from None


def get_method(name: str) -> ImputationMethod:
    """Return an instance of the method registered as ``name`` (see :func:`method_class`)."""
    return method_class(name)()


def check_options(method: str, options: dict, *, variable: str,
                  columns: list[str] | None = None, cluster: str | None = None) -> None:
    """Check a variable's method options before any imputation.

    An option the method does not declare is an error naming the closest declared
    one; a value of another kind than the declared default (``donors: 1.5``,
    ``donors: true``, ``ridge: "1e-5"``) is an error naming the option; with
    ``columns`` the method's own checks run too
    (:meth:`ImputationMethod.check_option_values`).

    Parameters
    ----------
    method : str
        A registered method name.
    options : dict
        The user's options for ``variable``.
    variable : str
        For the message.
    columns : list of str, optional
        The data's columns: when given, the method's own value checks run.
    cluster : str, optional
        The cluster variable.
    """
    import difflib
    impl = get_method(method)
    known = impl.options
    for name, value in options.items():
        if name not in known:
            close = difflib.get_close_matches(str(name), list(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            listed = ", ".join(sorted(known)) if known else "none"
            raise ValueError(f"{variable}: method {method} has no option {name!r}{hint} "
                             f"(its options: {listed})")
        _check_kind_of_value(value, known[name][0], where=f"{variable}: option {name} of "
                                                            f"method {method}")
    if columns is not None:
        impl.check_option_values(options, variable=variable, columns=list(columns),
                                 cluster=cluster)


def _check_kind_of_value(value, default, *, where: str) -> None:
    """A value must be of the kind of the option's declared default (None: any)."""
    if default is None:
        return
    if isinstance(default, bool):
        check_bool(value, where)
        return
    if isinstance(default, numbers.Integral):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{where} must be a whole number, got {value!r}")
        if value < 0:
            raise ValueError(f"{where} == {value}, must be >= 0")
        return
    if isinstance(default, numbers.Real):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            hint = (" (a string: YAML reads 1e-5 as text; write 1.0e-5)"
                    if isinstance(value, str) else "")
            raise TypeError(f"{where} must be a number, got {value!r}{hint}")
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{where} == {value}, must be a finite number >= 0")
        return
    if isinstance(default, str):
        if not isinstance(value, str):
            raise TypeError(f"{where} must be text, got {value!r}")
        return
    if isinstance(default, (list, tuple)):
        if isinstance(value, str):
            return                                  # one name
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise TypeError(f"{where} must be a list of variable names, got {value!r}")


def available_methods() -> list[str]:
    """Names of all methods: the built-ins and those registered by the user."""
    return sorted(set(_REGISTRY) | set(BUILTIN_METHODS))


def cluster_means(x: np.ndarray, cluster: np.ndarray, n_clusters: int) -> np.ndarray:
    """Cluster means of the columns of ``x``, expanded back to rows.

    .. math:: \\bar x_{\\cdot j} = \\frac{1}{n_j} \\sum_{i \\in j} x_{ij}

    Parameters
    ----------
    x : ndarray of shape (n, k)
    cluster : ndarray of int, shape (n,)
    n_clusters : int

    Returns
    -------
    ndarray of shape (n, k)
    """
    x = np.asarray(x, dtype=float)
    counts = np.bincount(cluster, minlength=n_clusters).astype(float)
    counts[counts == 0] = 1.0
    out = np.empty_like(x)
    for k in range(x.shape[1]):
        out[:, k] = (np.bincount(cluster, weights=x[:, k], minlength=n_clusters) / counts)[cluster]
    return out


def redundant_columns(x: np.ndarray, y: np.ndarray | None = None, *,
                      max_cor: float = 0.99, tol: float = 1e-8) -> list[tuple[int, str]]:
    r"""Columns of ``x`` to drop before fitting: constant, too close to ``y``, or collinear.

    A column is *constant* when its variance is at most ``tol`` times its
    squared mean (or ``tol`` when the mean is 0); *too close to the target*
    when ``|cor(x_k, y)| > max_cor`` (mice's ``remove.lindep`` rule, skipped
    when ``y`` is None); *collinear* when, together with an intercept and the
    columns kept before it, it explains all but ``tol`` of its own variance:
    :math:`1 - R^2_{k \mid 1, x_{<k}} < tol`, computed by an incremental
    Cholesky factorisation of the correlation matrix.

    Parameters
    ----------
    x : ndarray of shape (n, p)
        Predictors without intercept (rows already restricted to the fit rows).
    y : ndarray of shape (n,), optional

    Returns
    -------
    list of (column index, reason) with reason in ``"constant"``,
    ``"correlates > 0.99 with the target"``, ``"collinear"``.
    """
    x = np.asarray(x, dtype=float)
    n, p = x.shape
    out: list[tuple[int, str]] = []
    if p == 0 or n == 0:
        return out
    mean = x.mean(axis=0)
    centred = x - mean
    ss = np.einsum("ij,ij->j", centred, centred)
    var = ss / max(n - 1, 1)
    constant = var <= tol * np.maximum(mean**2, 1.0)
    scale = np.where(constant, 1.0, np.sqrt(ss))
    z = centred / scale
    if y is not None:
        yc = np.asarray(y, dtype=float) - np.mean(y)
        ynorm = np.sqrt(yc @ yc)
        cor_y = (z.T @ yc) / ynorm if ynorm > 0 else np.zeros(p)
    # LAPACK (scipy.linalg) is imported here, not with the module: the Snakefile and
    # the jobs that only check a specification import this module too
    from mlmice.impute.methods._lapack import solve_triangular

    corr = z.T @ z
    kept: list[int] = []
    L = np.zeros((p, p))
    for k in range(p):
        if constant[k]:
            out.append((k, "constant"))
            continue
        if y is not None and abs(cor_y[k]) > max_cor:
            out.append((k, f"correlates > {max_cor} with the target"))
            continue
        m = len(kept)
        if m:
            lk = solve_triangular(L[:m, :m], corr[kept, k])
            d = corr[k, k] - lk @ lk
        else:
            lk = np.zeros(0)
            d = corr[k, k]
        if d < tol:
            out.append((k, "collinear"))
            continue
        L[m, :m] = lk
        L[m, m] = np.sqrt(d)
        kept.append(k)
    return out


def two_level_design(data: MethodInput) -> tuple[np.ndarray, list[str], np.ndarray, list[str]]:
    """Fixed-effects and random-effects design from predictor codes.

    ``X`` = [1, x_c (codes 1-4), cluster means of x_c (codes 3, 4)];
    ``Z`` = [1, x_c (codes 2, 4)], as in miceadds' ``2l.pmm`` /
    ``mice.impute.2l.lmer`` (random intercept always included).

    Returns
    -------
    X : ndarray of shape (n, p)
    x_names : list of str
    Z : ndarray of shape (n, q)
    z_names : list of str
    """
    if data.cluster is None:
        raise ValueError(f"{data.variable}: a two-level method needs a cluster variable (code -2)")
    codes = np.asarray(data.codes)
    x = np.asarray(data.x, dtype=float)
    names = list(data.names)
    n = x.shape[0]
    fixed = np.isin(codes, (1, 2, 3, 4))
    means = np.isin(codes, (3, 4))
    rand = np.isin(codes, (2, 4))
    blocks = [np.ones((n, 1)), x[:, fixed]]
    x_names = ["(Intercept)"] + [nm for nm, f in zip(names, fixed, strict=True) if f]
    if means.any():
        blocks.append(cluster_means(x[:, means], data.cluster, data.n_clusters))
        x_names += [f"mean({nm})" for nm, f in zip(names, means, strict=True) if f]
    X = np.hstack(blocks)
    Z = np.hstack([np.ones((n, 1)), x[:, rand]])
    z_names = ["(Intercept)"] + [nm for nm, f in zip(names, rand, strict=True) if f]
    return X, x_names, Z, z_names

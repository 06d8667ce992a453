"""Read per-imputation estimates, covariances and df out of fitted models.

Pooling is duck-typed: a fit is anything with

* estimates: ``.fixef`` (pandas Series by term, as mlmice.lmer / mlmice.lm
  return), or ``.params`` (statsmodels results);
* their covariance: ``.vcov`` (DataFrame or 2-D array in the order of the
  estimates), or a ``.cov_params()`` method (statsmodels);
* complete-data degrees of freedom (optional): ``.dfcom``, else
  ``.df_residual`` (statsmodels: ``.df_resid``), else ``nobs - len(estimates)``;
  mice's ``get.dfcom`` takes them from the first fit in the same order.

Everything is checked here, at the boundary, so the arithmetic downstream
never meets a mismatched or non-finite input: errors name the imputation
(1-based, as in R) and the term.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Stacked:
    """Estimates and covariances of ``m`` imputations, aligned by term.

    Attributes
    ----------
    terms : list of str
    qhat : ndarray of shape (m, p)
    uhat : ndarray of shape (m, p, p)
        Full covariance matrices; when only variances were given, the
        off-diagonal entries are NaN and ``diagonal_only`` is True.
    diagonal_only : bool
    """

    terms: list[str]
    qhat: np.ndarray
    uhat: np.ndarray
    diagonal_only: bool

    @property
    def m(self) -> int:
        return self.qhat.shape[0]

    @property
    def variances(self) -> np.ndarray:
        """Per-imputation variances, shape (m, p)."""
        return np.diagonal(self.uhat, axis1=1, axis2=2).copy()


def as_fit_list(fits, *, name: str = "fits") -> list:
    """Turn ``fits`` (a list, a tuple, a mice-like object with ``.analyses``) into a list."""
    if fits is None:
        raise TypeError(f"{name} is None; pass the list returned by imp.fit(...)")
    analyses = getattr(fits, "analyses", None)
    if analyses is not None:
        fits = analyses
    if isinstance(fits, (str, bytes, Mapping)) or not isinstance(fits, Iterable):
        raise TypeError(f"{name} must be a list of fitted models (one per imputation), "
                        f"got {type(fits).__name__}")
    out = list(fits)
    if not out:
        raise ValueError(f"{name} is empty: need one fitted model per imputation")
    return out


def fit_estimates(fit, *, imputation: int) -> pd.Series:
    """Estimates of one fit as a float Series indexed by term name."""
    est = getattr(fit, "fixef", None)
    if est is None:
        est = getattr(fit, "params", None)
    if est is None:
        raise TypeError(f"fit of imputation {imputation} ({type(fit).__name__}) has neither "
                        "'.fixef' nor '.params'; cannot read its estimates")
    names = getattr(getattr(fit, "model", None), "exog_names", None)   # statsmodels arrays
    if not isinstance(est, (pd.Series, Mapping)) and names is not None \
            and len(names) == np.size(est):
        est = pd.Series(np.asarray(est, dtype=float), index=list(names))
    return _as_series(est, what="estimates", imputation=imputation)


def fit_vcov(fit, *, imputation: int, terms: Sequence[str],
             own_terms: Sequence[str] | None = None) -> np.ndarray:
    """Covariance matrix of one fit's estimates, ordered as ``terms``.

    A DataFrame is aligned by its labels; a plain array is taken to follow the
    fit's own order of estimates (``own_terms``) and is permuted to ``terms``.
    """
    v = getattr(fit, "vcov", None)
    if callable(v) and not isinstance(v, (pd.DataFrame, np.ndarray)):
        v = v()
    if v is None and callable(getattr(fit, "cov_params", None)):
        v = fit.cov_params()
    if v is None:
        raise TypeError(f"fit of imputation {imputation} ({type(fit).__name__}) has neither "
                        "'.vcov' nor '.cov_params()'; cannot read its covariance matrix")
    return _as_matrix(v, terms=terms, imputation=imputation, own_terms=own_terms)


def fit_dfcom(fit) -> float:
    """Complete-data df of a fit as mice's ``get.dfcom`` finds it (Inf, with a warning)."""
    for attr in ("dfcom", "df_residual", "df_resid"):
        val = getattr(fit, attr, None)
        if val is not None and not callable(val):
            return max(float(val), 1.0)
    nobs = getattr(fit, "nobs", None)
    if nobs is not None and not callable(nobs):
        p = len(fit_estimates(fit, imputation=1))
        return max(float(nobs) - p, 1.0)
    warnings.warn("the fits carry no complete-data df (.dfcom, .df_residual or .nobs): "
                  "infinite sample size assumed (dfcom = inf), as mice does", UserWarning,
                  stacklevel=3)
    return math.inf


def _model_signature(fit) -> dict:
    """What makes two fits the same analysis: the fitting function, the formula (spaces
    ignored), REML or ML, the family; each only where the fit says it."""
    sig = {"model": type(fit).__name__}
    formula = getattr(fit, "formula", None)
    if isinstance(formula, str):
        sig["formula"] = "".join(formula.split())
    for attr in ("reml", "family"):
        value = getattr(fit, attr, None)
        if isinstance(value, (bool, str)):
            sig[attr] = value
    return sig


def check_same_analysis(fits: list) -> None:
    """Raise if the fits are not one analysis repeated on each imputed data set.

    Rubin's rules pool one estimator across imputations; a list that mixes an
    ``lmer`` fit with an ``lm`` fit, or REML with ML, would otherwise pool
    without complaint (and take the df from whichever came first).
    """
    first = _model_signature(fits[0])
    for i, fit in enumerate(fits[1:], start=2):
        sig = _model_signature(fit)
        diff = [k for k in ("model", "formula", "reml", "family")
                if (k in first or k in sig) and first.get(k) != sig.get(k)]
        if diff:
            what = "; ".join(f"{k}: {first.get(k, 'not given')!r} in imputation 1, "
                             f"{sig.get(k, 'not given')!r} in imputation {i}"
                             for k in diff)
            raise ValueError("the fits are not the same analysis on every imputation "
                             f"({what}); fit one model to all of them, e.g. "
                             "imp.fit(formula, reml=...)")


def stack_fits(fits: list) -> Stacked:
    """Estimates and full covariance matrices of every fit, checked and aligned."""
    check_same_analysis(fits)
    est = [fit_estimates(f, imputation=i) for i, f in enumerate(fits, start=1)]
    terms = _common_terms(est)
    qhat = np.vstack([e.loc[terms].to_numpy() for e in est])
    uhat = np.stack([fit_vcov(f, imputation=i, terms=terms, own_terms=list(e.index))
                     for i, (f, e) in enumerate(zip(fits, est, strict=True), start=1)])
    _check_finite(qhat, uhat, terms)
    return Stacked(terms=terms, qhat=qhat, uhat=uhat, diagonal_only=False)


def stack_raw(estimates, covariances) -> Stacked:
    """Stack user-given per-imputation estimates and covariances (or variances).

    Parameters
    ----------
    estimates : sequence of pandas Series, dicts or 1-D arrays, one per imputation
        Arrays get the names ``Parameter.1 ..`` (as mitml names unnamed ones).
    covariances : sequence of DataFrames / 2-D arrays (covariance matrices) or of
        Series / dicts / 1-D arrays (variances, i.e. squared standard errors)
    """
    if isinstance(estimates, (str, bytes, Mapping)) or not isinstance(estimates, Iterable):
        raise TypeError("estimates must be a list with one set of estimates per imputation")
    estimates = list(estimates)
    if covariances is None:
        raise TypeError("covariances is None: pass one covariance matrix (or one vector "
                        "of variances) per imputation")
    covariances = list(covariances)
    if not estimates:
        raise ValueError("estimates is empty: need one set of estimates per imputation")
    if len(covariances) != len(estimates):
        raise ValueError(f"estimates has {len(estimates)} imputations but covariances has "
                         f"{len(covariances)}")
    est = [_as_series(e, what="estimates", imputation=i) for i, e in enumerate(estimates, 1)]
    terms = _common_terms(est)
    qhat = np.vstack([e.loc[terms].to_numpy() for e in est])
    diag = [_is_vector(c) for c in covariances]
    if any(diag) != all(diag):
        raise ValueError("covariances mixes matrices and vectors of variances; give all "
                         "imputations the same kind")
    if all(diag):
        var = np.vstack([_as_series(c, what="variances", imputation=i, terms=terms)
                         .to_numpy() for i, c in enumerate(covariances, 1)])
        p = len(terms)
        uhat = np.full((len(est), p, p), np.nan)
        idx = np.arange(p)
        uhat[:, idx, idx] = var
    else:
        uhat = np.stack([_as_matrix(c, terms=terms, imputation=i, own_terms=list(e.index))
                         for i, (c, e) in enumerate(zip(covariances, est, strict=True), 1)])
    _check_finite(qhat, uhat, terms)
    return Stacked(terms=terms, qhat=qhat, uhat=uhat, diagonal_only=all(diag))


# --------------------------------------------------------------------------- helpers


def _is_vector(c) -> bool:
    if isinstance(c, (pd.Series, Mapping)):
        return True
    if isinstance(c, pd.DataFrame):
        return False
    return np.ndim(c) <= 1


def _as_series(obj, *, what: str, imputation: int, terms: Sequence[str] | None = None):
    if isinstance(obj, pd.Series):
        s = obj
    elif isinstance(obj, Mapping):
        s = pd.Series(dict(obj))
    else:
        arr = np.atleast_1d(np.asarray(obj))
        if arr.ndim != 1:
            raise ValueError(f"{what} of imputation {imputation} must be one-dimensional, "
                             f"got shape {arr.shape}")
        names = terms if terms is not None and len(terms) == arr.size else [
            f"Parameter.{j}" for j in range(1, arr.size + 1)]
        s = pd.Series(arr, index=list(names))
    try:
        s = s.astype(float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{what} of imputation {imputation} are not numeric: {err}") from None
    s.index = [str(k) for k in s.index]
    dup = s.index[s.index.duplicated()].unique().tolist()
    if dup:
        raise ValueError(f"{what} of imputation {imputation} repeat the term(s) {dup}")
    if terms is not None:
        missing = [t for t in terms if t not in s.index]
        if missing:
            raise ValueError(f"{what} of imputation {imputation} lack the term(s) {missing}")
        s = s.loc[list(terms)]
    return s


def _as_matrix(v, *, terms: Sequence[str], imputation: int,
               own_terms: Sequence[str] | None = None) -> np.ndarray:
    p = len(terms)
    if isinstance(v, pd.DataFrame):
        rows = [str(r) for r in v.index]
        cols = [str(c) for c in v.columns]
        missing = [t for t in terms if t not in rows or t not in cols]
        if missing:
            raise ValueError(f"covariance matrix of imputation {imputation} lacks the "
                             f"term(s) {missing}")
        frame = v.copy()
        frame.index, frame.columns = rows, cols
        mat = frame.loc[list(terms), list(terms)].to_numpy(dtype=float)
    else:
        mat = np.asarray(v, dtype=float)
        if mat.shape != (p, p):
            raise ValueError(f"covariance matrix of imputation {imputation} has shape "
                             f"{mat.shape}, expected ({p}, {p}) for the terms {list(terms)}")
        if own_terms is not None and list(own_terms) != list(terms):
            idx = [list(own_terms).index(t) for t in terms]
            mat = mat[np.ix_(idx, idx)]
    return mat


def _common_terms(est: list[pd.Series]) -> list[str]:
    """The first imputation's terms; every other imputation must have the same set."""
    terms = list(est[0].index)
    ref = set(terms)
    for i, e in enumerate(est[1:], start=2):
        extra = [t for t in e.index if t not in ref]
        if extra:
            raise ValueError(f"term {extra[0]!r} appears in imputation {i} but not in "
                             f"imputation 1 (the models differ between imputations, e.g. "
                             f"a factor level absent from one completed data set)")
        missing = [t for t in terms if t not in set(e.index)]
        if missing:
            raise ValueError(f"term {missing[0]!r} of imputation 1 is missing from imputation "
                             f"{i} (the models differ between imputations, e.g. a factor "
                             f"level absent from one completed data set)")
    return terms


def _check_finite(qhat: np.ndarray, uhat: np.ndarray, terms: list[str]) -> None:
    bad = np.argwhere(~np.isfinite(qhat))
    if bad.size:
        i, j = bad[0]
        raise ValueError(f"estimate of term {terms[j]!r} in imputation {i + 1} is "
                         f"{qhat[i, j]}; refit that model before pooling")
    var = np.diagonal(uhat, axis1=1, axis2=2)
    bad = np.argwhere(~np.isfinite(var) | (var < 0))
    if bad.size:
        i, j = bad[0]
        se = np.sqrt(var[i, j]) if var[i, j] >= 0 else var[i, j]
        raise ValueError(f"standard error of term {terms[j]!r} in imputation {i + 1} is not "
                         f"finite (variance {var[i, j]}, se {se}); refit that model before "
                         "pooling")

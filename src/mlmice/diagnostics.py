"""Numbers for inspecting incomplete data and diagnosing imputation chains.

The tutorial "Imputation of incomplete multilevel data" (Oberman and Vink)
looks at the data before imputing (missing-data patterns, influx and outflux)
and at the chains after imputing (trace plots). This module gives those looks
as DataFrames; :mod:`mlmice.plots` draws them.

- :func:`md_pattern` is ``mice::md.pattern``: the distinct missing-data
  patterns with their frequencies.
- :func:`flux` is ``mice::flux``: the proportion observed, influx and outflux
  of every variable (van Buuren 2018, section 4.1.3).
- :func:`rhat` puts numbers on the trace plot: per imputed variable and chain
  statistic (mean and sd of the imputed values per iteration), the
  rank-normalised split R-hat of Vehtari et al. (2021), the lag-1
  autocorrelation and a test for a trend across iterations.
- :func:`rank_rhat` and :func:`autocorrelation_lag1` are the building blocks
  on a plain array of draws (iterations x chains).

Imputation results arrive duck-typed: anything with the attributes of
``mlmice.impute.sampler.Mids`` (``.trace``, ``.complete("long")``,
``.where``, ``.data``) or plain DataFrames (see :func:`trace_frame` and
:func:`imputed_long`), so the functions also work on results made elsewhere
(for example R's ``complete(imp, "long")`` written to CSV).

References
----------
van Buuren, S. (2018). *Flexible Imputation of Missing Data* (2nd ed.).
    Chapman & Hall/CRC. Sections 4.1 (missing-data patterns, influx and
    outflux) and 6.5.2 (convergence).
Vehtari, A., Gelman, A., Simpson, D., Carpenter, B. and Buerkner, P.-C. (2021).
    Rank-normalization, folding, and localization: an improved R-hat for
    assessing convergence of MCMC. *Bayesian Analysis* 16(2), 667-718.
Oberman, H. I., van Buuren, S. and Vink, G. (2021). Missing the point:
    non-convergence in iterative imputation algorithms. arXiv:2110.11951.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import special

from mlmice._distributions import t_sf

__all__ = [
    "autocorrelation_lag1",
    "flux",
    "imputed_long",
    "md_pattern",
    "rank_rhat",
    "rhat",
    "trace_frame",
    "trace_variables",
]

TRACE_COLUMNS = ("iteration", "chain", "variable", "mean", "sd")
STATISTICS = ("mean", "sd")


# --------------------------------------------------------------------------
# input adapters
# --------------------------------------------------------------------------

def _check_frame(df, name: str = "df", *, min_columns: int = 1) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    if df.shape[1] < min_columns:
        raise ValueError(f"{name} has {df.shape[1]} column(s), must have at least {min_columns}")
    if df.shape[0] == 0:
        raise ValueError(f"{name} has no rows")
    return df


def trace_frame(imp) -> pd.DataFrame:
    """Return the chain trace of an imputation as a validated DataFrame.

    Parameters
    ----------
    imp : Mids-like or DataFrame
        An object with a ``.trace`` attribute (``mlmice.mice``'s result), or
        the trace itself: a DataFrame with columns ``iteration`` (1, 2, ...),
        ``chain`` (1..m), ``variable``, ``mean`` and ``sd`` holding the mean
        and standard deviation of the imputed values of ``variable`` after
        each iteration (mice's ``chainMean`` and ``sqrt(chainVar)`` in long
        form).

    Returns
    -------
    DataFrame
        Columns ``iteration``, ``chain`` (int), ``variable`` (str), ``mean``,
        ``sd`` (float), sorted by variable (in order of first appearance), chain
        and iteration.
    """
    trace = imp.trace if hasattr(imp, "trace") and not isinstance(imp, pd.DataFrame) else imp
    if not isinstance(trace, pd.DataFrame):
        raise TypeError("imp must be an imputation result with a .trace DataFrame or a trace "
                        f"DataFrame; got {type(imp).__name__}")
    missing = [c for c in TRACE_COLUMNS if c not in trace.columns]
    if missing:
        raise ValueError(f"trace is missing column(s) {missing}; a trace has columns "
                         f"{list(TRACE_COLUMNS)}")
    out = pd.DataFrame({
        "iteration": pd.to_numeric(trace["iteration"], errors="raise").astype(np.int64),
        "chain": pd.to_numeric(trace["chain"], errors="raise").astype(np.int64),
        "variable": trace["variable"].astype(str),
        "mean": pd.to_numeric(trace["mean"], errors="raise").astype(np.float64),
        "sd": pd.to_numeric(trace["sd"], errors="raise").astype(np.float64),
    })
    dup = out.duplicated(["variable", "chain", "iteration"])
    if dup.any():
        row = out[dup].iloc[0]
        raise ValueError(f"trace has more than one row for variable {row['variable']!r}, "
                         f"chain {row['chain']}, iteration {row['iteration']}")
    # variables keep the order in which they first appear (the data's column order)
    first_seen = {v: k for k, v in enumerate(dict.fromkeys(out["variable"]))}
    out["_order"] = out["variable"].map(first_seen)
    out = out.sort_values(["_order", "chain", "iteration"], kind="stable")
    return out.drop(columns="_order").reset_index(drop=True)


def trace_variables(trace: pd.DataFrame, variables: str | Sequence[str] | None) -> list[str]:
    """The variables of a :func:`trace_frame` to use, checked against the trace.

    ``None`` selects all (in the trace's order); a string is one variable.

    Raises
    ------
    KeyError
        Naming the variables absent from the trace and those it has.
    """
    available = list(dict.fromkeys(trace["variable"]))
    if variables is None:
        return available
    variables = [variables] if isinstance(variables, str) else list(variables)
    unknown = [v for v in variables if v not in available]
    if unknown:
        raise KeyError(f"variables {unknown} are not in the trace (it has {available})")
    return variables


def imputed_long(imp, *, where: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the completed data in long form and the mask of imputed cells.

    Parameters
    ----------
    imp : Mids-like or DataFrame
        An object with ``.complete("long")`` and ``.where`` (``mlmice.mice``'s
        result), or a long completed DataFrame as ``complete(imp, "long")``
        returns it: columns ``.imp`` (1..m; rows with ``.imp == 0``, the
        incomplete data, are dropped) and ``.id`` (0-based row position in
        the data; R's ``.id`` is 1-based, subtract 1), then the variables.
    where : DataFrame of bool, optional
        Required with a long DataFrame: True where a value was imputed, one
        row per row of the data (row ``.id`` is row ``where.iloc[.id]``). For
        a data set whose missing values were all imputed this is
        ``incomplete.isna()``. Ignored for a Mids-like object (its ``.where``
        is used).

    Returns
    -------
    long : DataFrame
        The long completed data with ``.imp`` and ``.id`` as int.
    where : DataFrame of bool
        The mask, with a RangeIndex.
    """
    if hasattr(imp, "complete") and hasattr(imp, "where") and not isinstance(imp, pd.DataFrame):
        long = imp.complete("long")
        where = imp.where
    else:
        long = imp
        if where is None:
            raise ValueError("where= is required when imp is a long DataFrame: pass the mask of "
                             "imputed cells (e.g. incomplete_data.isna())")
    _check_frame(long, "the long completed data")
    for col in (".imp", ".id"):
        if col not in long.columns:
            raise ValueError(f"the long completed data has no {col!r} column; expected the "
                             "layout of complete(imp, 'long')")
    _check_frame(where, "where")
    where = where.reset_index(drop=True).astype(bool)
    long = long.copy()
    long[".imp"] = long[".imp"].astype(np.int64)
    long[".id"] = long[".id"].astype(np.int64)
    long = long[long[".imp"] > 0]
    ids = long[".id"].to_numpy()
    n = len(where)
    if ids.size and (ids.min() < 0 or ids.max() >= n):
        raise ValueError(f".id ranges {ids.min()}..{ids.max()} but where has {n} rows; .id must "
                         "be the 0-based row position (R's complete(imp, 'long') is 1-based: "
                         "subtract 1)")
    return long.reset_index(drop=True), where


# --------------------------------------------------------------------------
# missing-data pattern and flux
# --------------------------------------------------------------------------

def md_pattern(df: pd.DataFrame) -> pd.DataFrame:
    """Missing-data patterns with their frequencies, as ``mice::md.pattern``.

    Columns are ordered by increasing number of missing values (ties keep the
    data's order); each row is one distinct pattern, 1 = observed and
    0 = missing, and rows are ordered as mice orders them (by the pattern
    string of missingness indicators, so the complete pattern comes first).

    Parameters
    ----------
    df : DataFrame
        The incomplete data (at least two columns).

    Returns
    -------
    DataFrame
        One row per pattern, indexed by the number of rows with that pattern
        (index name ``"count"``), and a last row ``"total"`` with the number
        of missing values per variable. The last column ``"n_missing"`` is
        the number of missing variables in the pattern (and, in the last row,
        the total number of missing cells). This is R's table with its unnamed
        margins named.

    Examples
    --------
    >>> md_pattern(pd.DataFrame({"a": [1, None, 3], "b": [1.0, 2.0, None]}))
           a  b  n_missing
    count
    1      1  1          0
    1      1  0          1
    1      0  1          1
    total  1  1          2
    """
    _check_frame(df, min_columns=2)
    miss = df.isna().to_numpy()
    nmis = miss.sum(axis=0)
    order = np.argsort(nmis, kind="stable")
    miss = miss[:, order]
    columns = [str(df.columns[j]) for j in order]
    # sort rows by their pattern string (digits "0"/"1": lexicographic = tuple order)
    patterns, counts = np.unique(miss, axis=0, return_counts=True)
    n_missing = patterns.sum(axis=1)
    table = np.column_stack([(~patterns).astype(np.int64), n_missing])
    table = np.vstack([table, np.append(nmis[order], nmis.sum())])
    index = pd.Index([*(int(c) for c in counts), "total"], name="count", dtype=object)
    return pd.DataFrame(table, index=index, columns=[*columns, "n_missing"])


def flux(df: pd.DataFrame, *, local: Sequence[str] | None = None) -> pd.DataFrame:
    """Influx, outflux and related coefficients per variable, as ``mice::flux``.

    With ``r_ij = 1`` when variable ``j`` is observed in row ``i`` and the
    pair counts ``rr_jk = sum_i r_ij r_ik``, ``rm_jk = sum_i r_ij (1 - r_ik)``,
    ``mr_jk = sum_i (1 - r_ij) r_ik``, ``mm_jk = sum_i (1 - r_ij)(1 - r_ik)``
    (mice's ``md.pairs``), for each variable ``j`` among ``p`` variables:

    - ``pobs``: proportion observed;
    - ``influx = sum_k mr_jk / sum_k (mr_jk + rr_jk)``: how well the missing
      entries of ``j`` connect to observed data;
    - ``outflux = sum_k rm_jk / sum_k (rm_jk + mm_jk)``: how well the
      observed entries of ``j`` connect to missing data elsewhere;
    - ``ainb``: average over ``k != j`` of ``mr_jk / (mr_jk + mm_jk)``;
    - ``aout``: average over ``k != j`` of ``rm_jk / (rm_jk + rr_jk)``
      (both as mice computes them: terms that are 0/0 are dropped, the sum is
      divided by ``p - 1``);
    - ``fico``: fraction of the observed values of ``j`` that lie in
      incomplete rows (``mice::fico``).

    Variables with high outflux and low influx are the useful predictors.

    Parameters
    ----------
    df : DataFrame
        The incomplete data (at least two columns).
    local : sequence of str, optional
        Report only these variables (all columns of ``df`` enter the
        computation), as mice's ``local=``.

    Returns
    -------
    DataFrame
        Indexed by variable; columns ``pobs``, ``influx``, ``outflux``,
        ``ainb``, ``aout``, ``fico``.

    References
    ----------
    van Buuren (2018), section 4.1.3.
    """
    _check_frame(df, min_columns=2)
    names = [str(c) for c in df.columns]
    obs = df.notna().to_numpy()
    r = obs.astype(np.float64)
    m = 1.0 - r
    rr, rm, mr, mm = r.T @ r, r.T @ m, m.T @ r, m.T @ m
    p = r.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        ainb = np.nansum(mr / (mr + mm), axis=1) / (p - 1)
        aout = np.nansum(rm / (rm + rr), axis=1) / (p - 1)
        influx = mr.sum(axis=1) / (mr + rr).sum(axis=1)
        outflux = rm.sum(axis=1) / (rm + mm).sum(axis=1)
        incomplete_row = ~obs.all(axis=1)
        fico = (obs & incomplete_row[:, None]).sum(axis=0) / obs.sum(axis=0)
    out = pd.DataFrame({"pobs": obs.mean(axis=0), "influx": influx, "outflux": outflux,
                        "ainb": ainb, "aout": aout, "fico": fico},
                       index=pd.Index(names, name="variable"))
    if local is not None:
        unknown = [v for v in local if v not in out.index]
        if unknown:
            raise KeyError(f"local= names {unknown} that are not columns of df")
        out = out.loc[list(local)]
    return out


# --------------------------------------------------------------------------
# R-hat and autocorrelation
# --------------------------------------------------------------------------

def _as_draws(draws, name: str = "draws") -> np.ndarray:
    x = np.asarray(draws, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{name} must be a 2-D array of shape (iterations, chains); got shape "
                         f"{np.shape(draws)}")
    return x


def _split_chains(x: np.ndarray) -> np.ndarray:
    """Halve each chain (the middle draw of an odd-length chain is dropped)."""
    n = x.shape[0]
    if n == 1:
        return x
    half = n // 2
    return np.hstack([x[:half], x[n - half:]])


def _z_scale(x: np.ndarray) -> np.ndarray:
    """Rank-normalise all draws jointly: Phi^-1((rank - 3/8) / (S + 1/4))."""
    from scipy.stats import rankdata  # lazily: scipy.stats is slow to import

    ranks = rankdata(x, method="average", axis=None).reshape(x.shape)
    return special.ndtri((ranks - 0.375) / (x.size + 0.25))


def _rhat_basic(x: np.ndarray) -> float:
    """Gelman-Rubin R-hat of chains in the columns of ``x`` (no splitting)."""
    n = x.shape[0]
    if n < 2 or not np.all(np.isfinite(x)) or np.ptp(x) < np.finfo(np.float64).eps:
        return np.nan
    chain_mean = x.mean(axis=0)
    var_within = x.var(axis=0, ddof=1).mean()
    var_between = n * chain_mean.var(ddof=1)
    return float(np.sqrt((var_between / var_within + n - 1) / n))


def rank_rhat(draws) -> float:
    """Rank-normalised split R-hat of Vehtari et al. (2021).

    With the ``M`` chains of ``N`` draws split in halves (``2M`` chains of
    ``N' = floor(N/2)`` draws; the middle draw of an odd chain is dropped),
    all draws are replaced by their normal scores
    ``z = Phi^-1((r - 3/8) / (S + 1/4))`` where ``r`` is the rank among all
    ``S = 2 M N'`` draws (ties get their average rank), and the classical
    statistic ``sqrt(((N' - 1)/N' W + B/N') / W)`` is computed from the
    within-chain variance ``W`` and the between-chain variance ``B``. R-hat
    is the larger of this bulk value and the same computed on the folded
    draws ``|x - median(x)|`` (which detects chains that differ in spread).
    It is NaN when a draw is not finite, all draws are equal or a split
    chain has fewer than two draws (fewer than four iterations), as in R.

    This is ``posterior::rhat`` in R and ``arviz.rhat(method="rank")``.

    Parameters
    ----------
    draws : array_like of shape (iterations, chains)
        One column per chain (a 1-D array is one chain).

    Returns
    -------
    float
    """
    x = _as_draws(draws)
    if not np.all(np.isfinite(x)):
        return np.nan
    bulk = _rhat_basic(_z_scale(_split_chains(x)))
    tail = _rhat_basic(_z_scale(_split_chains(np.abs(x - np.median(x)))))
    return float(max(bulk, tail)) if np.isfinite(bulk) and np.isfinite(tail) else np.nan


def autocorrelation_lag1(draws) -> np.ndarray:
    """Lag-1 autocorrelation of each chain.

    ``rho_1 = sum_t (x_t - xbar)(x_{t+1} - xbar) / sum_t (x_t - xbar)^2`` per
    column (as ``posterior::autocorrelation(x)[2]``); 0 for a constant chain,
    NaN for a chain with fewer than two draws or a non-finite draw.

    Parameters
    ----------
    draws : array_like of shape (iterations, chains)

    Returns
    -------
    ndarray of shape (chains,)
    """
    x = _as_draws(draws)
    if x.shape[0] < 2:
        return np.full(x.shape[1], np.nan)
    xc = x - x.mean(axis=0)
    num = (xc[:-1] * xc[1:]).sum(axis=0)
    den = (xc * xc).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ac = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    ac[~np.all(np.isfinite(x), axis=0)] = np.nan
    return ac


def _trend_test(x: np.ndarray, iterations: np.ndarray) -> tuple[float, float]:
    """Mean per-chain OLS slope on iteration and its two-sided p-value.

    The chains are independent, so the ``M`` slopes are independent
    estimates of the same drift; ``t = mean(b) / (sd(b) / sqrt(M))`` has a
    t distribution with ``M - 1`` degrees of freedom when there is no trend
    whatever the autocorrelation within a chain.
    """
    n, n_chains = x.shape
    if n < 3 or not np.all(np.isfinite(x)):
        return np.nan, np.nan
    t = iterations - iterations.mean()
    slopes = t @ (x - x.mean(axis=0)) / (t @ t)
    mean_slope = float(slopes.mean())
    if n_chains < 2:
        return mean_slope, np.nan
    se = slopes.std(ddof=1) / np.sqrt(n_chains)
    if se == 0:
        return mean_slope, (1.0 if mean_slope == 0 else 0.0)
    tstat = mean_slope / se
    return mean_slope, float(2.0 * t_sf(abs(tstat), n_chains - 1))


def _window_mask(iterations: np.ndarray, window) -> np.ndarray:
    if window is None:
        return np.ones(iterations.shape, dtype=bool)
    last = iterations.max()
    if isinstance(window, numbers.Integral) and not isinstance(window, bool):
        if window < 2:
            raise ValueError(f"window == {window}, must be >= 2 iterations")
        return iterations > last - window
    if isinstance(window, tuple | list) and len(window) == 2:
        first, stop = window
        if not (isinstance(first, numbers.Integral) and isinstance(stop, numbers.Integral)) or \
                first > stop:
            raise ValueError(f"window == {window!r}, must be (first, last) iterations with "
                             "first <= last")
        return (iterations >= first) & (iterations <= stop)
    raise TypeError(f"window must be None, an int (the last k iterations) or a (first, last) "
                    f"tuple; got {window!r}")


def rhat(imp, *, window=None, variables: Sequence[str] | None = None,
         threshold: float = 1.01, alpha: float = 0.01) -> pd.DataFrame:
    """Convergence diagnostics of imputation chains: R-hat, autocorrelation, trend.

    For every imputed variable and chain statistic (``mean`` and ``sd`` of the
    imputed values after each iteration; the lines of the trace plot), over
    the iterations in ``window``, with the ``m`` imputations as ``m``
    independent chains:

    - ``rhat``: the rank-normalised split R-hat of Vehtari et al. (2021)
      (:func:`rank_rhat`; equal to ``posterior::rhat`` in R);
    - ``autocorrelation``: the lag-1 autocorrelation, averaged over chains
      (:func:`autocorrelation_lag1`);
    - ``slope`` and ``trend_pvalue``: the mean over chains of the OLS slope
      of the statistic on the iteration number, and the p-value of the
      one-sample t test of the ``m`` per-chain slopes against zero (valid
      because the chains are independent, whatever their autocorrelation);
    - ``flag``: True for the variable (on both its rows) when, for either
      statistic, ``rhat > threshold`` or ``trend_pvalue < alpha``.

    NaN statistics (a variable with one imputed value has no sd; a constant
    chain) give NaN diagnostics and never raise the flag.

    Parameters
    ----------
    imp : Mids-like or DataFrame
        Imputation result with ``.trace``, or a trace DataFrame (see
        :func:`trace_frame`).
    window : None, int or (int, int)
        Iterations used: all (None), the last ``k``, or ``(first, last)``
        inclusive.
    variables : sequence of str, optional
        Variables to report (default: every variable in the trace).
    threshold : float
        R-hat above this raises the flag (Vehtari et al.'s 1.01).
    alpha : float
        Trend p-values below this raise the flag.

    Returns
    -------
    DataFrame
        One row per variable and statistic: ``variable``, ``statistic``,
        ``n_iterations``, ``n_chains``, ``rhat``, ``autocorrelation``,
        ``slope``, ``trend_pvalue``, ``flag``.

    Notes
    -----
    *Relation to Oberman et al.* MICE is a Gibbs-type sampler whose ``m``
    imputation streams are independent chains, but it runs for few
    iterations (``maxit`` 5-20) and its convergence is usually judged by eye
    on trace plots of chain means and variances. Oberman, van Buuren and
    Vink (2021) studied how to diagnose non-convergence of iterative
    imputation with MCMC diagnostics applied to scalar summaries of the
    chains (such as the chain means and variances of the imputed values and
    estimates of scientific interest): the rank-normalised split R-hat for
    mixing between chains and the autocorrelation for trends within
    chains, the two numbers reported here. In their simulations the
    inferences were valid after five to ten iterations, earlier than the
    diagnostics signalled convergence; so a raised flag asks for a look at
    the trace plot and perhaps more iterations, and is not proof that the
    pooled results are wrong.

    R-hat's threshold of 1.01 (Vehtari et al.) was set for long chains. For
    well-mixed chains R-hat's own sampling error is about
    ``sqrt(2 / (2m - 1)) / N`` with ``N`` iterations, so on a typical mice
    run (m = 5, maxit = 10) well-mixed chains exceed 1.01 by chance (in 60%
    of 400 simulated runs of iid chains; none with m = 20 chains of 100
    iterations). Use a longer ``window`` (iterate more), more chains or a
    larger ``threshold`` to judge short runs; the trend test adds a check
    with a known error rate ``alpha`` per statistic.
    """
    trace = trace_frame(imp)
    if not np.isfinite(threshold) or threshold < 1:
        raise ValueError(f"threshold == {threshold}, must be a number >= 1")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha == {alpha}, must be in (0, 1)")
    variables = trace_variables(trace, variables)
    trace = trace[_window_mask(trace["iteration"].to_numpy(), window)]
    rows = []
    for var in variables:
        sub = trace[trace["variable"] == var]
        if sub.empty:
            raise ValueError(f"window {window!r} selects no iterations for {var!r}")
        counts = sub.groupby("chain").size()
        if counts.nunique() != 1:
            raise ValueError(f"chains of {var!r} have different numbers of iterations in the "
                             f"window: {counts.to_dict()}")
        for stat in STATISTICS:
            wide = sub.pivot(index="iteration", columns="chain", values=stat)
            x = wide.to_numpy()
            slope, pvalue = _trend_test(x, wide.index.to_numpy(dtype=np.float64))
            ac = autocorrelation_lag1(x)
            rows.append({"variable": var, "statistic": stat, "n_iterations": x.shape[0],
                         "n_chains": x.shape[1], "rhat": rank_rhat(x),
                         "autocorrelation": float(np.mean(ac)) if x.shape[0] > 1 else np.nan,
                         "slope": slope, "trend_pvalue": pvalue})
    out = pd.DataFrame(rows, columns=["variable", "statistic", "n_iterations", "n_chains",
                                      "rhat", "autocorrelation", "slope", "trend_pvalue"])
    bad = (out["rhat"] > threshold) | (out["trend_pvalue"] < alpha)
    out["flag"] = bad.groupby(out["variable"]).transform("any").astype(bool)
    return out

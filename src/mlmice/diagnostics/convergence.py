"""Convergence of imputation chains: R-hat, autocorrelation and trend of the trace.

References
----------
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
from mlmice.diagnostics._frames import STATISTICS, trace_frame, trace_variables

__all__ = ["autocorrelation_lag1", "ess_bulk", "rank_rhat", "rhat"]


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


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..S of all values of ``x`` jointly, ties given their mean rank.

    ``scipy.stats.rankdata(x, method="average", axis=None)`` reshaped to
    ``x.shape`` (equal to it: ``tests/test_diagnostics.py``), without importing
    scipy.stats, which costs the trace job 0.7 s.
    """
    flat = np.asarray(x, dtype=float).ravel()
    order = np.argsort(flat, kind="mergesort")
    ordered = flat[order]
    new_value = np.r_[True, ordered[1:] != ordered[:-1]]
    group = np.cumsum(new_value) - 1                 # tie group of each sorted value
    bounds = np.r_[np.flatnonzero(new_value), flat.size]
    # a group at sorted positions a..b-1 (0-based) has ranks a+1..b: mean (a + 1 + b) / 2
    ranks = np.empty(flat.size)
    ranks[order] = 0.5 * (bounds[group] + 1 + bounds[group + 1])
    return ranks.reshape(np.shape(x))


def _z_scale(x: np.ndarray) -> np.ndarray:
    """Rank-normalise all draws jointly: Phi^-1((rank - 3/8) / (S + 1/4))."""
    return special.ndtri((average_ranks(x) - 0.375) / (x.size + 0.25))


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


def _ess_basic(x: np.ndarray) -> float:
    """Multi-chain effective sample size of the columns of ``x`` (Stan's estimator)."""
    n, m = x.shape
    if n < 4 or np.ptp(x) < np.finfo(np.float64).eps:
        return np.nan
    xc = x - x.mean(axis=0)
    size = 1 << int(np.ceil(np.log2(2 * n)))            # FFT autocovariance per chain
    f = np.fft.rfft(xc, n=size, axis=0)
    acov = np.fft.irfft(f * np.conj(f), n=size, axis=0)[:n] / n          # (n, m)
    chain_var = acov[0] * n / (n - 1.0)
    mean_var = chain_var.mean()
    var_plus = mean_var * (n - 1.0) / n + (x.mean(axis=0).var(ddof=1) if m > 1 else 0.0)
    rho = 1.0 - (mean_var - acov.mean(axis=1)) / var_plus
    rho[0] = 1.0
    # Geyer's initial positive sequence of pair sums, made monotone
    total, previous = 0.0, np.inf
    for t in range(0, n - 1, 2):
        pair = rho[t] + rho[t + 1]
        if pair < 0:
            break
        previous = min(previous, pair)
        total += previous
    tau = max(-1.0 + 2.0 * total, 1.0 / np.log10(n * m))
    return float(n * m / tau)


def ess_bulk(draws) -> float:
    """Bulk effective sample size of Vehtari et al. (2021).

    The draws are split and rank-normalised as for :func:`rank_rhat`; the effective
    sample size of the ``M`` chains of ``N`` draws is then
    :math:`MN / \\hat\\tau`, :math:`\\hat\\tau = -1 + 2\\sum_t \\hat P_t`, with
    :math:`\\hat P_t = \\hat\\rho_{2t} + \\hat\\rho_{2t+1}` the pair sums of the combined
    autocorrelations :math:`\\hat\\rho_t = 1 - (W - \\bar C_t)/\\widehat{var}^+` (``W`` the
    within-chain variance, :math:`\\bar C_t` the mean autocovariance at lag ``t``),
    summed while positive and made monotone (Geyer 1992). This is
    ``posterior::ess_bulk`` in R and ``arviz.ess(method="bulk")``; NaN when there
    are fewer than four draws per split chain or all draws are equal.

    Parameters
    ----------
    draws : array_like of shape (iterations, chains)

    Returns
    -------
    float

    References
    ----------
    Geyer, C. J. (1992). Practical Markov chain Monte Carlo. *Statistical Science*
    7(4), 473-483.
    """
    x = _as_draws(draws)
    if not np.all(np.isfinite(x)):
        return np.nan
    return _ess_basic(_z_scale(_split_chains(x)))


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
         threshold: float = 1.1, alpha: float = 0.01) -> pd.DataFrame:
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
    threshold : float, default 1.1
        R-hat above this raises the flag. Vehtari et al.'s 1.01 is meant for long
        MCMC runs; on mice's m = 5 chains of 10-30 iterations the estimate itself
        scatters that much, so 1.01 flags well-mixed chains by chance (the
        pipeline's ``rhat_threshold`` has the same default, the classic 1.1).
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
    run well-mixed chains exceed 1.01 by chance: in 1000 simulated runs of
    m = 5 iid chains, 62 % exceeded it with 10 iterations and 54 % with 20,
    against 11 % and 0.8 % for the default 1.1 (none with m = 20 chains of 100
    iterations at 1.01). Use a longer ``window`` (iterate more), more chains
    or another ``threshold`` to judge short runs; the trend test adds a check
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

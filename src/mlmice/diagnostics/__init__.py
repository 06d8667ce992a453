"""Numbers for inspecting incomplete data and diagnosing imputation chains.

The tutorial "Imputation of incomplete multilevel data" (Oberman and Vink)
looks at the data before imputing (missing-data patterns, influx and outflux)
and at the chains after imputing (trace plots). This module gives those looks
as DataFrames; :mod:`mlmice.plots` draws them.

Inspection of the data (:mod:`.inspection`) and convergence of the chains
(:mod:`.convergence`) are separate modules; this package gathers them.

- :func:`md_pattern` is ``mice::md.pattern``: the distinct missing-data
  patterns with their frequencies.
- :func:`flux` is ``mice::flux``: the proportion observed, influx and outflux
  of every variable (van Buuren 2018, section 4.1.3).
- :func:`rhat` puts numbers on the trace plot: per imputed variable and chain
  statistic (mean and sd of the imputed values per iteration), the
  rank-normalised split R-hat of Vehtari et al. (2021), the lag-1
  autocorrelation and a test for a trend across iterations.
- :func:`rank_rhat`, :func:`ess_bulk` and :func:`autocorrelation_lag1` are the
  building blocks on a plain array of draws (iterations x chains).

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

from mlmice.diagnostics._frames import (
    STATISTICS,
    TRACE_COLUMNS,
    imputed_long,
    trace_frame,
    trace_variables,
)
from mlmice.diagnostics.convergence import autocorrelation_lag1, ess_bulk, rank_rhat, rhat
from mlmice.diagnostics.inspection import flux, md_pattern

__all__ = [
    "STATISTICS",
    "TRACE_COLUMNS",
    "autocorrelation_lag1",
    "ess_bulk",
    "flux",
    "imputed_long",
    "md_pattern",
    "rank_rhat",
    "rhat",
    "trace_frame",
    "trace_variables",
]

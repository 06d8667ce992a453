"""ggmice-style figures for incomplete and imputed multilevel data.

Every function returns a :class:`matplotlib.figure.Figure` and saves it as a
PNG when ``path=`` is given. Observed values are blue and missing/imputed
values red, as in R's ggmice.

========================  ================================================
function                  what it shows (R equivalent)
========================  ================================================
:func:`plot_pattern`      missing-data patterns (``ggmice::plot_pattern``)
:func:`plot_observed`     distributions of the observed values
:func:`plot_corr`         correlations of observed values (``plot_corr``)
:func:`plot_flux`         influx against outflux (``plot_flux``)
:func:`plot_pred`         the predictor matrix with methods (``plot_pred``)
:func:`plot_trace`        chain means and sds per iteration (``plot_trace``)
:func:`plot_imputed`      imputed against observed values (``ggmice()``
                          strip, density and histogram looks)
:func:`plot_compare`      truth, CCA and MI side by side (tutorial 4.8)
:func:`plot_performance`  a simulation study's bias and coverage
========================  ================================================
"""

from mlmice.plots._style import IMPUTED, OBSERVED, figure_name
from mlmice.plots.chains import plot_trace
from mlmice.plots.compare import plot_compare
from mlmice.plots.data import plot_corr, plot_flux, plot_pattern
from mlmice.plots.imputed import plot_imputed
from mlmice.plots.model import plot_pred
from mlmice.plots.observed import plot_observed
from mlmice.plots.simulation import plot_performance

__all__ = ["IMPUTED", "OBSERVED", "figure_name", "plot_compare", "plot_corr", "plot_flux",
           "plot_imputed", "plot_observed", "plot_pattern", "plot_performance", "plot_pred",
           "plot_trace"]

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

import importlib

# imported lazily: matplotlib costs about 0.35 s to import, which a job
# that draws one figure (or none: the report needs only figure_name) should not pay
# for the others
_EXPORTS = {"IMPUTED": "_style", "OBSERVED": "_style", "figure_name": "_style",
            "plot_trace": "chains", "plot_compare": "compare", "plot_corr": "data",
            "plot_flux": "data", "plot_pattern": "data", "plot_imputed": "imputed",
            "plot_pred": "model", "plot_observed": "observed",
            "plot_performance": "simulation"}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"mlmice.plots.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'mlmice.plots' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))

"""mlmice: multiple imputation of incomplete multilevel data.

The engine behind the mlmice Snakemake pipeline. The names mirror R's mice,
miceadds, lme4 and mitml so that the tutorial "Imputation of incomplete
multilevel data" (Oberman and Vink) reads the same in Python::

    import mlmice as mm
    df = mm.read_data("popular.sav", cluster="class")
    imp = mm.mice(df, m=5, method=mm.make_method(df, cluster="class"), seed=2024)
    mm.pool(imp.fit("popularity ~ gender + (1 | class)", reml=False)).summary()

Public names are imported lazily, so ``import mlmice`` stays cheap inside
Snakemake jobs that need only one part of the engine.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0.dev0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # data in, default data, amputation
    "read_data": "mlmice.io",
    "infer_roles": "mlmice.io",
    "write_parquet": "mlmice.io",
    "read_parquet": "mlmice.io",
    "simulate_popularity": "mlmice.simulate",
    "simulate_tracks": "mlmice.simulate_categorical",
    "ampute": "mlmice.amputation",
    # models
    "lmer": "mlmice.mixed",
    "glmer": "mlmice.mixed",
    "lm": "mlmice.linear_model",
    # imputation
    "mice": "mlmice.impute",
    "make_method": "mlmice.impute",
    "make_predictor_matrix": "mlmice.impute",
    # pooling
    "pool": "mlmice.pooling",
    "test_estimates": "mlmice.pooling",
    "test_models": "mlmice.pooling",
}

_SUBMODULES = {"plots", "diagnostics", "io", "simulate", "simulation", "amputation", "formula",
               "mixed", "impute", "linear_model", "pooling", "tutorial"}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(_EXPORTS[name])
        value = getattr(module, name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"mlmice.{name}")
    raise AttributeError(f"module 'mlmice' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | _SUBMODULES)

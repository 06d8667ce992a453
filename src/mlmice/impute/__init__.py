"""Multiple imputation by chained equations for multilevel data.

``mice`` lives in :mod:`mlmice.impute.sampler`; ``make_method`` and
``make_predictor_matrix`` in :mod:`mlmice.impute.spec`. Imported lazily.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "mice": "mlmice.impute.sampler",
    "Mids": "mlmice.impute.sampler",
    "make_method": "mlmice.impute.spec",
    "make_predictor_matrix": "mlmice.impute.spec",
    "validate_spec": "mlmice.impute.spec",
    "ImputationSpec": "mlmice.impute.spec",
    "SpecError": "mlmice.impute.spec",
    "run_chain": "mlmice.impute.sampler",
    "continue_chain": "mlmice.impute.sampler",
    "ChainState": "mlmice.impute.state",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'mlmice.impute' has no attribute {name!r}")

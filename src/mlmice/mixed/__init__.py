"""Linear and generalised linear mixed models (lme4-equivalent).

``lmer`` lives in :mod:`mlmice.mixed.lmm`, ``glmer`` in :mod:`mlmice.mixed.glmm`;
both are imported lazily.
"""

from __future__ import annotations

import importlib

_EXPORTS = {"lmer": "mlmice.mixed.lmm", "glmer": "mlmice.mixed.glmm"}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'mlmice.mixed' has no attribute {name!r}")

"""Pooling by Rubin's rules and multiparameter tests after multiple imputation.

The public names of :mod:`mlmice.pooling`, gathered where ``mlmice`` looks
for them:

* :func:`pool` -- ``mice::pool`` and ``summary(pool(fit), conf.int = TRUE)``;
* :func:`test_estimates` -- ``mitml::testEstimates(extra.pars = TRUE)``;
* :func:`test_models` -- ``mitml::testModels`` (D1, D2, D3) and mice's D1/D2/D3;
* :func:`pooled_table` -- both of the first two in one frame, the pipeline's
  ``pooled/{model}.parquet``.

``mlmice.pool`` is both this module and the function :func:`pool`: once
``import mlmice.pool`` has run, Python binds the *module* to the attribute
``mlmice.pool``, so the module is made callable and ``mlmice.pool(fits)``
works whichever was imported first.
"""

from __future__ import annotations

import sys
import types

from mlmice.pooling.estimates import TestEstimates, test_estimates
from mlmice.pooling.models import TestModels, test_models
from mlmice.pooling.pooled import Pooled, pool
from mlmice.pooling.table import pooled_table

__all__ = ["Pooled", "TestEstimates", "TestModels", "pool", "pooled_table", "test_estimates",
           "test_models"]


class _CallablePoolModule(types.ModuleType):
    """The module ``mlmice.pool``, callable as :func:`pool`."""

    def __call__(self, *args, **kwargs):
        return pool(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePoolModule

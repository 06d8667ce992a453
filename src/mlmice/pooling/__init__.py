"""Pooling analyses of multiply-imputed data.

* :mod:`~mlmice.pooling.rubin`: Rubin's rules and the df formulas of mice and mitml;
* :mod:`~mlmice.pooling.extract`: reading estimates and covariances out of fits;
* :mod:`~mlmice.pooling.pooled`: :func:`pool` (``mice::pool``);
* :mod:`~mlmice.pooling.varcomp`: variance components under mitml's names;
* :mod:`~mlmice.pooling.estimates`: :func:`test_estimates` (``mitml::testEstimates``);
* :mod:`~mlmice.pooling.models`: :func:`test_models` (``mitml::testModels``, D1/D2/D3);
* :mod:`~mlmice.pooling.loglik`, :mod:`~mlmice.pooling.params`: likelihoods for D3;
* :mod:`~mlmice.pooling.table`: :func:`pooled_table`, the pipeline's pooled artifact.

The public entry points are re-exported here; ``mlmice.pool`` is the
function :func:`pool` (there is deliberately no module of that name, so the
attribute can never be shadowed by a submodule import).
"""

from mlmice.pooling.estimates import TestEstimates, test_estimates
from mlmice.pooling.models import SameFixedEffectsError, TestModels, test_models
from mlmice.pooling.pooled import Pooled, pool
from mlmice.pooling.table import pooled_table

__all__ = ["Pooled", "SameFixedEffectsError", "TestEstimates", "TestModels", "pool",
           "pooled_table", "test_estimates", "test_models"]

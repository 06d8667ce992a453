"""``mean``: unconditional mean imputation (mice's ``mean``).

Every missing value becomes :math:`\\bar y_o`, the mean of the observed
values. Not a proper imputation method (it ignores uncertainty and shrinks
variances; van Buuren 2018, section 1.3.3); provided for completeness.
"""

from __future__ import annotations

import numpy as np

from mlmice.impute.methods.base import ImputationMethod, MethodInput, MethodResult, register_method

__all__ = ["Mean"]


@register_method("mean")
class Mean(ImputationMethod):
    """Impute the observed mean."""

    level = "1"

    def impute(self, data: MethodInput, rng: np.random.Generator) -> MethodResult:
        return MethodResult(values=np.full(int(data.wy.sum()), float(np.mean(data.y[data.ry]))))

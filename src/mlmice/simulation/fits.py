"""One data set's (or one set of imputations') estimates as the rows of a study.

Fixed effects carry their standard error and 95 % interval (Wald with lme4's
residual df for a single fit, Barnard-Rubin df for pooled imputations);
variance components, under mitml's names, carry none.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

__all__ = ["fit_model", "fit_rows", "pooled_rows"]


def fit_model(formula: str, data: pd.DataFrame, *, reml: bool):
    """lmer with a ``(... | g)`` term, lm without (as ``Mids.fit``); warnings silenced."""
    from mlmice.linear_model import lm
    from mlmice.mixed import lmer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lmer(formula, data=data, reml=reml) if "|" in formula else lm(formula,
                                                                              data=data)


def fit_rows(fit) -> pd.DataFrame:
    """Fixed effects (Wald intervals with lme4's residual df) and variance components."""
    from mlmice._distributions import t_ppf
    from mlmice.pooling.varcomp import varcorr_parameters
    fe, se = fit.fixef.astype(float), fit.se.astype(float)
    q = float(t_ppf(0.975, float(fit.dfcom)))
    fixed = pd.DataFrame({"kind": "fixed", "term": fe.index, "estimate": fe.to_numpy(),
                          "std_error": se.to_numpy(), "conf_low": (fe - q * se).to_numpy(),
                          "conf_high": (fe + q * se).to_numpy()})
    return pd.concat([fixed, _variance_rows(varcorr_parameters(fit.varcorr))],
                     ignore_index=True)


def _variance_rows(values: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"kind": "variance", "term": values.index,
                         "estimate": values.to_numpy(dtype=float), "std_error": np.nan,
                         "conf_low": np.nan, "conf_high": np.nan})


def pooled_rows(fits, *, varcomp_scale: str = "raw") -> pd.DataFrame:
    """Rubin's pooled fixed effects and the pooled variance components of ``fits``.

    ``varcomp_scale`` is the scale on which the variance components are
    averaged (:func:`mlmice.pooling.varcomp.pooled_misc_parameters`): ``"raw"``
    as mitml, or ``"log"``.
    """
    from mlmice.pooling import pool
    from mlmice.pooling.varcomp import pooled_misc_parameters
    tab = pool(fits).summary(conf_int=True)
    fixed = pd.DataFrame({"kind": "fixed", "term": tab["term"].to_numpy(),
                          "estimate": tab["estimate"].to_numpy(dtype=float),
                          "std_error": tab["std_error"].to_numpy(dtype=float),
                          "conf_low": tab["conf_low"].to_numpy(dtype=float),
                          "conf_high": tab["conf_high"].to_numpy(dtype=float)})
    return pd.concat([fixed, _variance_rows(pooled_misc_parameters(list(fits),
                                                                     scale=varcomp_scale))],
                     ignore_index=True)



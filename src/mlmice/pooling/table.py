"""One table per analysis model: the pipeline's ``pooled/{model}.parquet``.

DESIGN.md's data contract: the columns of R's ``tidy(pool(fit), conf.int =
TRUE)`` for the fixed effects, and the pooled variance components and ICC
as ``mitml::testEstimates(extra.pars = TRUE)`` reports them. Both go into one
long frame with a ``kind`` column:

* ``kind == "fixed"``: one row per fixed effect, every column of
  :meth:`mlmice.pooling.Pooled.to_frame`;
* ``kind == "extra_par"``: one row per variance component / ICC, named as
  mitml names them (``Intercept~~Intercept|cluster_id``, ...), with ``m``
  and ``estimate`` (the average over imputations, as mitml, or on the log
  scale with ``varcomp_scale="log"``) and NaN elsewhere: mitml reports no
  standard error or test for them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlmice.pooling.extract import as_fit_list
from mlmice.pooling.pooled import FRAME_COLUMNS, pool
from mlmice.pooling.varcomp import pooled_misc_parameters

TABLE_COLUMNS = ["kind"] + FRAME_COLUMNS


def pooled_table(fits, dfcom: float | None = None, conf_level: float = 0.95,
                 extra_pars: bool = True, *, varcomp_scale: str = "raw") -> pd.DataFrame:
    """Pooled fixed effects (mice) and variance components (mitml) in one frame.

    Parameters
    ----------
    fits : list of fit results
        One per imputation (``imp.fit(...)``); at least two.
    dfcom : float, optional
        Passed to :func:`mlmice.pool`.
    conf_level : float, default 0.95
    extra_pars : bool, default True
        Add the variance components and the ICC (fits with ``.varcorr``).
    varcomp_scale : {"raw", "log"}, default "raw"
        How they are averaged over imputations: as mitml (``"raw"``) or on
        the log scale (:func:`mlmice.pooling.varcomp.pooled_misc_parameters`).

    Returns
    -------
    pandas.DataFrame
        Columns ``kind, term, m, estimate, ubar, b, t, dfcom, df, riv,
        lambda, fmi, std_error, statistic, p_value, conf_low, conf_high``.
    """
    fit_list = as_fit_list(fits)
    if len(fit_list) < 2:
        raise ValueError(f"m == {len(fit_list)}: a pooled table needs at least two imputations")
    fixed = pool(fit_list, dfcom=dfcom).to_frame(conf_level=conf_level)
    fixed.insert(0, "kind", "fixed")
    parts = [fixed]
    if extra_pars:
        extra = pooled_misc_parameters(fit_list, scale=varcomp_scale)
        parts.append(pd.DataFrame({"kind": "extra_par", "term": list(extra.index),
                                   "m": len(fit_list), "estimate": extra.to_numpy()}))
    out = pd.concat(parts, ignore_index=True).reindex(columns=TABLE_COLUMNS)
    out["m"] = out["m"].astype(np.int64)
    out["dfcom"] = out["dfcom"].astype(float)
    return out

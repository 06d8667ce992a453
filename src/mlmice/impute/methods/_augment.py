r"""Augmentation against perfect prediction (White, Daniel and Royston 2010), as mice's.

For a categorical target with the categories :math:`c_1, \dots, c_k` seen in its
current values and :math:`p` predictors, ``mice:::augment`` adds :math:`2pk`
pseudo-rows: for predictor :math:`j` and category :math:`c` two rows put
:math:`x_j` at its mean :math:`\pm` half its standard deviation (clipped to the
observed range), every other predictor at its mean, and the target at :math:`c`.
Together they weigh :math:`p + 1` (each :math:`(p + 1) / (2pk)`): about one
observation per parameter, enough that the fit always has an interior maximum (no
separation), negligible when the data are informative. Means, standard deviations
and ranges use all rows of ``x``, as mice does. Used by ``logreg`` (categories 0
and 1), ``polyreg`` and ``polr``.

References
----------
White, I. R., Daniel, R. and Royston, P. (2010). Avoiding bias due to perfect
prediction in multiple imputation of incomplete categorical variables.
Computational Statistics & Data Analysis 54(10), 2267-2275.
"""

from __future__ import annotations

import numpy as np

__all__ = ["augment"]


def augment(x: np.ndarray, categories) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pseudo-observations for a target with ``categories``.

    Parameters
    ----------
    x : ndarray (n, p)
        Predictors (no intercept), all rows.
    categories : sequence of float
        The target's categories (codes), in order.

    Returns
    -------
    x_aug : ndarray (2 p k, p)
    y_aug : ndarray (2 p k,)
    w_aug : ndarray (2 p k,)
        Weights, summing to ``p + 1``. All three are empty when ``p == 0``.
    """
    x = np.asarray(x, dtype=float)
    n, p = x.shape
    cats = np.asarray(categories, dtype=float)
    k = cats.size
    if p == 0 or k == 0:
        return np.empty((0, p)), np.empty(0), np.empty(0)
    mean = x.mean(axis=0)
    sd = x.std(axis=0, ddof=1) if n > 1 else np.zeros(p)
    lo, hi = x.min(axis=0), x.max(axis=0)
    nr = 2 * p * k
    xa = np.tile(mean, (nr, 1))
    shift = np.tile([0.5, -0.5], k)  # +/- half an sd, per category
    for j in range(p):
        rows = slice(2 * k * j, 2 * k * (j + 1))
        xa[rows, j] = np.clip(mean[j] + shift * sd[j], lo[j], hi[j])
    ya = np.tile(np.repeat(cats, 2), p)
    wa = np.full(nr, (p + 1) / nr)
    return xa, ya, wa

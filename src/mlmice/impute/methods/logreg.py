r"""``logreg``: single-level Bayesian logistic regression imputation.

The model for a binary target :math:`y \in \{0, 1\}` is

.. math:: \Pr(y_i = 1 \mid x_i) = \operatorname{logit}^{-1}(\beta_0 + x_i^\top \beta).

One imputation step follows mice's ``mice.impute.logreg`` (Rubin 1987,
pp. 169-170; van Buuren 2018, Section 3.6):

1. augment the observed data against perfect prediction (below);
2. fit the weighted logistic regression by iteratively reweighted least
   squares, giving :math:`\hat\beta` and :math:`V = (X^\top W X)^{-1}`;
3. draw :math:`\beta^* = \hat\beta + L u`, :math:`L L^\top = V`,
   :math:`u \sim N(0, I)`;
4. impute :math:`y_i = 1` when :math:`U_i \le \operatorname{logit}^{-1}(x_i^\top\beta^*)`,
   :math:`U_i \sim U(0, 1)`.

Augmentation (White, Daniel and Royston 2010): with :math:`p` predictors and
the :math:`k` categories seen in :math:`y`, add :math:`2pk` pseudo-rows. For
predictor :math:`j` and category :math:`c` two rows put :math:`x_j` at its mean
:math:`\pm` half its standard deviation (clipped to the observed range), every
other predictor at its mean, and :math:`y = c`. Together they get total weight
:math:`p + 1` (each :math:`(p + 1) / (2pk)`), so the fit always has an interior
maximum (no separation) and the pseudo-data are worth about one observation per
parameter, negligible when the data are informative. Means, standard
deviations and ranges use all rows of ``x``, as mice does; like mice the
augmentation is skipped without predictors or when exactly one value is
missing. One deviation: mice augments with the categories present in the
current ``y``; here both 0 and 1 are always used, so that the fit has an
interior maximum even when every observed value is the same (mice's fit then
diverges and its draws become arbitrary). When ``y`` holds both values the
two agree exactly.

Predictors that are linearly dependent on earlier ones (pivoted QR on the
augmented design, tolerance 1e-7 as R's ``glm.fit``) are dropped with a logged
event, so collinearity never stops the sampler.

References
----------
White, I. R., Daniel, R. and Royston, P. (2010). Avoiding bias due to perfect
prediction in multiple imputation of incomplete categorical variables.
Computational Statistics & Data Analysis 54(10), 2267-2275.
van Buuren, S. and Groothuis-Oudshoorn, K. (2011). mice: Multivariate
Imputation by Chained Equations in R. JSS 45(3).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from mlmice.impute.methods._augment import augment
from mlmice.impute.methods.base import (
    ImputationMethod,
    MethodInput,
    MethodResult,
    register_method,
)
from mlmice.mixed.logistic import fit_logistic

__all__ = ["LogReg", "augment_binary", "independent_columns", "keep_independent"]


def independent_columns(X: np.ndarray, *, tol: float = 1e-7) -> np.ndarray:
    """Indices of a maximal set of linearly independent columns of ``X``.

    Columns are taken in order (so the intercept in column 0 is kept); a
    column is dropped when its residual after projection on the kept columns
    has norm below ``tol`` times its own norm (zero columns are dropped).
    """
    X = np.asarray(X, dtype=float)
    chosen: list[int] = []
    basis = np.empty((X.shape[0], 0))
    for j in range(X.shape[1]):
        col = X[:, j]
        norm = np.linalg.norm(col)
        if norm == 0.0:
            continue
        resid = col - basis @ (basis.T @ col)
        resid = resid - basis @ (basis.T @ resid)  # second pass keeps the basis orthogonal
        rnorm = np.linalg.norm(resid)
        if rnorm > tol * norm:
            chosen.append(j)
            basis = np.column_stack([basis, resid / rnorm])
    return np.array(chosen, dtype=int)


def augment_binary(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`._augment.augment` for a 0/1 target: always both categories (see above)."""
    return augment(x, (0.0, 1.0))


def keep_independent(X: np.ndarray, names, rows: np.ndarray, *, message: str,
                     events: list[str]) -> np.ndarray:
    """:func:`independent_columns` of ``X[rows]``; the dropped columns' ``names`` are
    logged in ``events`` after ``message`` (e.g. "logreg: dropped linearly dependent
    predictors")."""
    keep = independent_columns(X[rows])
    if keep.size < X.shape[1]:
        kept = set(keep.tolist())
        events.append(f"{message} {[names[j] for j in range(X.shape[1]) if j not in kept]}")
    return keep


@register_method("logreg")
class LogReg(ImputationMethod):
    """Bayesian logistic regression imputation (mice's ``logreg``); see the module docstring.

    Options
    -------
    augment : bool, default True
        Add the White-Daniel-Royston pseudo-observations.
    """

    options = {"augment": (True, "White, Daniel and Royston's augmentation against "
                                 "perfect prediction")}

    level = "1"

    def impute(self, data: MethodInput, rng: np.random.Generator) -> MethodResult:
        events: list[str] = []
        y = np.asarray(data.y, dtype=float)
        ry = np.asarray(data.ry, dtype=bool)
        wy = np.asarray(data.wy, dtype=bool)
        x = np.asarray(data.x, dtype=float).reshape(y.size, -1)
        n_imp = int(wy.sum())
        if n_imp == 0:
            return MethodResult(values=np.empty(0), events=events)
        yobs = y[ry]
        bad = ~np.isin(yobs, (0.0, 1.0))
        if bad.any():
            raise ValueError(f"{data.variable}: logreg needs a 0/1 target; observed row "
                             f"{int(np.flatnonzero(ry)[np.flatnonzero(bad)[0]])} has "
                             f"{float(yobs[bad][0]):g}")
        if yobs.size == 0:
            raise ValueError(f"{data.variable}: logreg has no observed values to fit")
        X = np.column_stack([np.ones(y.size), x])
        X = X[:, keep_independent(X, ["(Intercept)", *data.names], ry, events=events,
                                  message="logreg: dropped linearly dependent predictors")]
        xfit, yfit, wfit = X[ry], yobs, np.ones(yobs.size)
        do_augment = bool(data.options.get("augment", True))
        if do_augment and X.shape[1] > 1 and int((~ry).sum()) != 1:
            xa, ya, wa = augment_binary(X[:, 1:])
            xfit = np.vstack([xfit, np.column_stack([np.ones(ya.size), xa])])
            yfit = np.concatenate([yfit, ya])
            wfit = np.concatenate([wfit, wa])
        fit = fit_logistic(xfit, yfit, wfit)
        if not fit.converged:
            events.append(f"logreg: IRLS did not converge in {fit.iterations} iterations")
        chol = np.linalg.cholesky(0.5 * (fit.cov_unscaled + fit.cov_unscaled.T))
        beta_star = fit.coef + chol @ rng.standard_normal(fit.coef.size)
        prob = expit(X[wy] @ beta_star)
        draws = (rng.random(n_imp) <= prob).astype(float)
        return MethodResult(values=draws, events=events)

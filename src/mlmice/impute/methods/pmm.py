"""``pmm``: predictive mean matching (mice's ``pmm``, type-1 matching).

After one Bayesian regression draw (:func:`~mlmice.impute.methods.norm.bayes_linear_draw`),
predictions for the observed cases use the point estimate,
:math:`\\hat y_o = X_o\\hat\\beta`, and those for the missing cases use the
draw, :math:`\\hat y_m = X_m\\beta_*` ("type-1 matching", van Buuren 2018,
*Flexible Imputation of Missing Data*, 2nd ed., section 3.4.2). For each
missing case the ``donors`` (default 5) observed cases with the closest
:math:`\\hat y_o` form the donor pool and one of them, chosen uniformly,
gives its observed value (Little 1988, JBES 6(3); Morris, White and Royston
2014, BMC Med Res Methodol 14:75). Ties among observed predictions are
broken at random.
"""

from __future__ import annotations

import numbers

import numpy as np

from mlmice._validation import check_scalar
from mlmice.impute.methods.base import ImputationMethod, MethodInput, MethodResult, register_method
from mlmice.impute.methods.norm import bayes_linear_draw, with_intercept

__all__ = ["Pmm", "pmm_match", "read_donors"]


def read_donors(options: dict, *, variable: str) -> int:
    """Option ``donors`` (default 5), a whole number >= 1; every pmm method reads it here."""
    return check_scalar(options.get("donors", 5), f"{variable}: option donors",
                        kind=numbers.Integral, min_val=1)


def pmm_match(yhat_obs: np.ndarray, yhat_mis: np.ndarray, y_obs: np.ndarray,
              rng: np.random.Generator, *, donors: int = 5) -> np.ndarray:
    """Predictive mean matching: for each ``yhat_mis`` a random one of its ``donors`` nearest.

    The ``d`` nearest neighbours of a point in a sorted array lie within
    ``d`` places either side of its insertion point, so the search costs
    :math:`O((n_o + n_m)\\log n_o + n_m d)`.

    Parameters
    ----------
    yhat_obs, y_obs : ndarray of shape (n_o,)
        Predictions and observed values of the potential donors.
    yhat_mis : ndarray of shape (n_m,)
    rng : numpy.random.Generator
        Consumes one permutation of ``n_o`` (tie breaking) and ``n_m`` integers.
    donors : int
        Size of the donor pool (reduced to ``n_o`` when fewer donors exist).

    Returns
    -------
    ndarray of shape (n_m,): the donors' observed values.
    """
    yhat_obs = np.asarray(yhat_obs, dtype=float)
    yhat_mis = np.asarray(yhat_mis, dtype=float)
    y_obs = np.asarray(y_obs, dtype=float)
    n = yhat_obs.size
    if n == 0:
        raise ValueError("predictive mean matching needs at least one observed donor")
    if int(donors) < 1:
        raise ValueError(f"donors == {donors}, must be >= 1")
    d = min(int(donors), n)
    perm = rng.permutation(n)
    order = perm[np.argsort(yhat_obs[perm], kind="stable")]
    sorted_hat = yhat_obs[order]
    width = min(2 * d, n)
    pos = np.searchsorted(sorted_hat, yhat_mis)
    start = np.clip(pos - d, 0, n - width)
    idx = start[:, None] + np.arange(width)[None, :]
    dist = np.abs(sorted_hat[idx] - yhat_mis[:, None])
    if d < width:
        nearest = np.argpartition(dist, d - 1, axis=1)[:, :d]
    else:
        nearest = np.broadcast_to(np.arange(width), (yhat_mis.size, width))
    pick = rng.integers(0, d, size=yhat_mis.size)
    chosen = idx[np.arange(yhat_mis.size), nearest[np.arange(yhat_mis.size), pick]]
    return y_obs[order[chosen]]


@register_method("pmm")
class Pmm(ImputationMethod):
    """Predictive mean matching (see the module docstring). Option: ``donors`` (5)."""

    options = {"donors": (5, "observed values the imputed value is drawn from"),
               "ridge": (1e-5, "ridge penalty of the Bayesian regression draw")}

    level = "1"

    def impute(self, data: MethodInput, rng: np.random.Generator) -> MethodResult:
        X = with_intercept(data.x)
        xo, yo = X[data.ry], data.y[data.ry]
        draw = bayes_linear_draw(xo, yo, rng, ridge=data.options.get("ridge", 1e-5))
        values = pmm_match(xo @ draw.beta_hat, X[data.wy] @ draw.beta_star, yo, rng,
                           donors=read_donors(data.options, variable=data.variable))
        return MethodResult(values=values)

    def check_option_values(self, options, *, variable, columns, cluster):
        read_donors(options, variable=variable)

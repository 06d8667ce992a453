"""Design and cluster-wise sufficient statistics shared by the two-level continuous methods.

Every two-level continuous method (``2l.pan``, ``2l.norm``, ``2l.lmer``,
``2l.pmm``) works with the linear mixed model

.. math::

    y_{ij} = x_{ij}^\\top \\beta + z_{ij}^\\top b_j + e_{ij}, \\qquad
    b_j \\sim N_q(0, \\Psi), \\qquad e_{ij} \\sim N(0, \\sigma_j^2),

for the rows where the target is observed. Given the design, the likelihood
depends on the data only through the per-cluster cross-products
:math:`X_j^\\top X_j`, :math:`X_j^\\top y_j` and :math:`y_j^\\top y_j` (the
random-effects columns ``Z`` are a subset of the columns of ``X``), so the
fits and Gibbs samplers of these methods cost :math:`O(J p^3)` per step,
whatever the number of rows.

The target is standardised (centred and scaled by its observed mean and
standard deviation) before the statistics are formed. This makes the
default priors of the Gibbs samplers invariant to the unit of ``y`` and keeps
the subtraction-based residual sums of squares accurate; the methods transform
their draws back with :meth:`TwoLevelProblem.to_raw`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from mlmice.impute.methods.base import MethodInput, redundant_columns, two_level_design


@dataclass(frozen=True)
class ClusterStats:
    """Per-cluster cross-products of the observed rows (standardised ``y``).

    Attributes
    ----------
    xtx : ndarray (J, p, p)
    xty : ndarray (J, p)
    yty : ndarray (J,)
    n : ndarray (J,) of int
        Number of observed rows per cluster (0 for clusters with no observed
        value of the target: all their statistics are 0).
    z_index : ndarray of int (q,)
        Columns of ``X`` that form ``Z``.
    """

    xtx: np.ndarray
    xty: np.ndarray
    yty: np.ndarray
    n: np.ndarray
    z_index: np.ndarray

    @cached_property
    def ztz(self) -> np.ndarray:
        zi = self.z_index
        return self.xtx[:, zi][:, :, zi]

    @cached_property
    def ztx(self) -> np.ndarray:
        return self.xtx[:, self.z_index, :]

    @cached_property
    def zty(self) -> np.ndarray:
        return self.xty[:, self.z_index]

    @cached_property
    def xtx_total(self) -> np.ndarray:
        return self.xtx.sum(axis=0)

    @cached_property
    def xty_total(self) -> np.ndarray:
        return self.xty.sum(axis=0)

    @property
    def n_obs(self) -> int:
        return int(self.n.sum())


@dataclass(frozen=True)
class TwoLevelProblem:
    """Everything a two-level continuous method needs for one imputation step.

    Attributes
    ----------
    variable : str
    X : ndarray (n, p)
        Fixed-effects design of all rows (collinear columns dropped).
    x_names : list of str
    z_index : ndarray of int (q,)
        Columns of ``X`` that are random effects (0 = the intercept).
    z_names : list of str
    cluster : ndarray of int (n,)
    n_clusters : int
    ry, wy : ndarray of bool (n,)
    y_obs : ndarray
        Observed target values (raw scale), in row order of ``ry``.
    center, scale : float
        Mean and standard deviation of ``y_obs`` (standardisation).
    stats : ClusterStats
        Cross-products of the observed rows on the standardised scale.
    events : list of str
        Logged events (dropped columns).
    """

    variable: str
    X: np.ndarray
    x_names: list[str]
    z_index: np.ndarray
    z_names: list[str]
    cluster: np.ndarray
    n_clusters: int
    ry: np.ndarray
    wy: np.ndarray
    y_obs: np.ndarray
    center: float
    scale: float
    stats: ClusterStats
    events: list[str] = field(default_factory=list)

    @property
    def p(self) -> int:
        return self.X.shape[1]

    @property
    def q(self) -> int:
        return self.z_index.size

    @property
    def Z(self) -> np.ndarray:
        return self.X[:, self.z_index]

    def fitted(self, beta: np.ndarray, b: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``X beta + Z b_cluster`` for the rows selected by the bool mask ``rows``."""
        X = self.X[rows]
        Z = X[:, self.z_index]
        return X @ beta + np.einsum("ik,ik->i", Z, b[self.cluster[rows]])

    def to_raw(self, beta: np.ndarray | None = None, b: np.ndarray | None = None,
               variance: np.ndarray | float | None = None):
        """Back-transform standardised parameters: ``beta``, ``b`` and variances."""
        out = []
        if beta is not None:
            beta = self.scale * np.asarray(beta, dtype=float)
            beta[0] += self.center
            out.append(beta)
        if b is not None:
            out.append(self.scale * np.asarray(b, dtype=float))
        if variance is not None:
            out.append(self.scale ** 2 * np.asarray(variance, dtype=float))
        return out[0] if len(out) == 1 else tuple(out)


def cluster_cross_products(W: np.ndarray, cluster: np.ndarray, n_clusters: int) -> np.ndarray:
    """Per-cluster :math:`W_j^\\top W_j`, shape ``(J, k, k)``, by one bincount per column pair."""
    k = W.shape[1]
    out = np.empty((n_clusters, k, k))
    for a in range(k):
        for c in range(a, k):
            s = np.bincount(cluster, weights=W[:, a] * W[:, c], minlength=n_clusters)
            out[:, a, c] = s
            out[:, c, a] = s
    return out


def prepare_problem(data: MethodInput, *, method: str, min_obs: int | None = None
                    ) -> TwoLevelProblem:
    """Validate the input, build the design, drop collinear columns, form the statistics.

    Parameters
    ----------
    data : MethodInput
    method : str
        Method name, used in messages.
    min_obs : int, optional
        Minimum number of observed rows (default: number of fixed effects + 1).

    Raises
    ------
    ValueError
        Naming the variable: no cluster variable, non-finite predictors or
        observed values, too few observed rows.
    """
    var = data.variable
    if data.cluster is None or data.n_clusters < 1:
        raise ValueError(f"{var}: method {method} needs a cluster variable (predictor code -2)")
    y = np.asarray(data.y, dtype=float)
    ry = np.asarray(data.ry, dtype=bool)
    wy = np.asarray(data.wy, dtype=bool)
    cluster = np.asarray(data.cluster)
    n = y.shape[0]
    if ry.shape != (n,) or wy.shape != (n,) or cluster.shape != (n,):
        raise ValueError(f"{var}: y, ry, wy and cluster must all have {n} rows")
    if not np.issubdtype(cluster.dtype, np.integer) or (
            n and (cluster.min() < 0 or cluster.max() >= data.n_clusters)):
        raise ValueError(f"{var}: cluster codes must be integers in 0..{data.n_clusters - 1}")
    X, x_names, Z, z_names = two_level_design(data)
    if not np.all(np.isfinite(X)):
        bad = [nm for nm, ok in zip(x_names, np.isfinite(X).all(axis=0), strict=True) if not ok]
        raise ValueError(f"{var}: predictors {bad} have missing or non-finite values; "
                         f"predictors must be complete when {var} is imputed")
    y_obs = y[ry]
    if not np.all(np.isfinite(y_obs)):
        raise ValueError(f"{var}: observed values (ry) must be finite")
    events: list[str] = []
    # drop constant / collinear columns of the design among the observed rows (the
    # sampler already cleaned x; cluster means of codes 3/4 can duplicate columns)
    redundant = redundant_columns(X[ry][:, 1:]) if ry.any() else []
    if redundant:
        drop = {k + 1 for k, _ in redundant}
        reasons = [f"{x_names[k + 1]} ({why})" for k, why in redundant]
        events.append(f"{method}: dropped from the imputation model of {var}: "
                      + ", ".join(reasons))
        keep = [k for k in range(X.shape[1]) if k not in drop]
        X = X[:, keep]
        x_names = [x_names[k] for k in keep]
    name_to_col = {nm: k for k, nm in enumerate(x_names)}
    z_keep = [nm for nm in z_names if nm in name_to_col]
    if len(z_keep) < len(z_names):
        events.append(f"{method}: dropped random effects of collinear columns "
                      f"{[nm for nm in z_names if nm not in name_to_col]}")
    z_index = np.asarray([name_to_col[nm] for nm in z_keep], dtype=int)
    p = X.shape[1]
    need = p + 1 if min_obs is None else min_obs
    if y_obs.size < need:
        raise ValueError(f"{var}: method {method} needs at least {need} observed values "
                         f"for {p} fixed effects, found {y_obs.size}")
    center = float(y_obs.mean())
    scale = float(y_obs.std())
    if not scale > 0:
        scale = 1.0
    ys = (y_obs - center) / scale
    W = np.column_stack([X[ry], ys])
    cp = cluster_cross_products(W, cluster[ry], data.n_clusters)
    stats = ClusterStats(xtx=cp[:, :p, :p], xty=cp[:, :p, p], yty=cp[:, p, p],
                         n=np.bincount(cluster[ry], minlength=data.n_clusters),
                         z_index=z_index)
    return TwoLevelProblem(variable=var, X=X, x_names=x_names, z_index=z_index,
                           z_names=z_keep, cluster=cluster, n_clusters=int(data.n_clusters),
                           ry=ry, wy=wy, y_obs=y_obs, center=center, scale=scale, stats=stats,
                           events=events)

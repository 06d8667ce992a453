r"""``2l.polr``: two-level imputation of an ordinal variable by a cumulative probit Gibbs sampler.

Model
-----
For pupil :math:`i` in cluster :math:`j` with ordered categories
:math:`c = 0, \dots, C-1` (the categories observed),

.. math::
    y_{ij} = c \iff \gamma_{c-1} < y^*_{ij} \le \gamma_c, \quad
    y^*_{ij} = x_{ij}^\top\beta + z_{ij}^\top b_j + \varepsilon_{ij}, \quad
    \varepsilon_{ij} \sim N(0, 1), \quad b_j \sim N_q(0, \Psi),

with :math:`\gamma_{-1} = -\infty`, :math:`\gamma_{C-1} = \infty` and
:math:`\gamma_0 = 0` (the intercept is in :math:`x`): the ordinal probit
model with cluster random effects (the latent-variable formulation that jomo and
Blimp use for ordinal variables; Albert and Chib 1993). ``X`` and ``Z`` come
from the predictor codes as for every 2l method (code 1 fixed, 2 fixed and
random, 3 fixed plus cluster mean, 4 all of these; a random intercept always);
the columns are centred and scaled on the observed rows and the priors are
those of ``2l.bin`` on that scale (normal on :math:`\beta`, sd 10 for the
intercept and 2.5 per predictor sd; :math:`\Psi \sim \mathrm{IW}(q + 1, 0.1 I)`),
the thresholds flat.

Gibbs sweep (observed rows)
---------------------------
1. thresholds :math:`\gamma_1 < \dots < \gamma_{C-2}` given :math:`\eta = X\beta + Zb`,
   with :math:`y^*` integrated out (Cowles 1996): random-walk Metropolis on
   :math:`\delta_k = \log(\gamma_k - \gamma_{k-1})` (three steps), the likelihood
   :math:`\prod_{ij} \{\Phi(\gamma_{y_{ij}} - \eta_{ij}) - \Phi(\gamma_{y_{ij}-1} -
   \eta_{ij})\}` times the Jacobian :math:`\prod_k e^{\delta_k}`;
2. :math:`y^*_{ij} \sim N(\eta_{ij}, 1)` truncated to
   :math:`(\gamma_{y_{ij}-1}, \gamma_{y_{ij}}]`;
3. :math:`(\beta, b)` given :math:`y^*` and :math:`\Psi`: the joint Gaussian draw
   of ``2l.bin`` with unit weights and :math:`y^*` as the linear term;
4. :math:`\Psi^{-1}` from its Wishart conditional, then ``2l.bin``'s joint
   rescaling of :math:`(b, \Psi)` (Liu and Sabatti 2000).

A missing value is then drawn as the category of :math:`y^* \sim N(x^\top\beta +
z^\top b_j, 1)`, with the cluster's own :math:`b_j` (a cluster without observed
values draws it from :math:`N(0, \Psi)`), so an imputation is never a category
that was not observed. The first call of a chain starts at :math:`\beta = 0`
except the intercept and thresholds of the marginal proportions and runs
``n_iter`` sweeps (default 30); later calls continue from the last draw, kept in
the method state and re-expressed for the next call's centring and scaling as
``2l.bin`` does, with ``n_warm`` sweeps (default 3).

References
----------
Albert, J. H. and Chib, S. (1993). Bayesian analysis of binary and polychotomous
response data. JASA 88, 669-679.
Cowles, M. K. (1996). Accelerating Monte Carlo Markov chain convergence for
cumulative-link generalized linear models. Statistics and Computing 6, 101-111.
Liu, J. S. and Sabatti, C. (2000). Generalised Gibbs sampler and multigrid Monte
Carlo for Bayesian computation. Biometrika 87(2), 353-369.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from mlmice.impute.methods._two_level_design import GibbsState, categorical_problem
from mlmice.impute.methods.base import (
    ImputationMethod,
    MethodInput,
    MethodResult,
    register_method,
)
from mlmice.impute.methods.two_level_bin import _Blocks, _draw_psi_inv, _scale_move, _wishart

__all__ = ["TwoLevelPolr", "gibbs_two_level_ordinal", "truncated_normal"]

_DEFAULTS = {"n_iter": 30, "n_warm": 3}


def truncated_normal(mean: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
    """Draws of :math:`N(\\mu, 1)` truncated to ``(lower, upper]`` by inversion.

    Inverted in the lower tail (the interval reflected when it lies above the
    mean), where :math:`\\Phi` keeps its precision.
    """
    a, b = lower - mean, upper - mean
    flip = a > 0
    lo, hi = np.where(flip, -b, a), np.where(flip, -a, b)
    pa, pb = ndtr(lo), ndtr(hi)
    u = pa + rng.random(mean.size) * (pb - pa)
    x = ndtri(np.clip(u, 1e-300, 1.0 - 1e-16))
    x = np.clip(np.where(flip, -x, x), a, b)
    return mean + x


def _cuts(delta: np.ndarray) -> np.ndarray:
    """Thresholds gamma_0 = 0 < gamma_1 < ... from the log-increments delta."""
    return np.concatenate([[0.0], np.cumsum(np.exp(delta))])


def _loglik(y, eta, cuts):
    full = np.concatenate([[-np.inf], cuts, [np.inf]])
    p = ndtr(full[y + 1] - eta) - ndtr(full[y] - eta)
    return float(np.log(np.maximum(p, 1e-300)).sum())


def _move_cuts(delta, y, eta, rng, step, n_steps=3):
    """Random-walk Metropolis on the log-increments of the thresholds (Cowles 1996)."""
    if delta.size == 0:
        return delta
    cur = _loglik(y, eta, _cuts(delta)) + delta.sum()
    for _ in range(n_steps):
        prop = delta + step * rng.standard_normal(delta.size)
        new = _loglik(y, eta, _cuts(prop)) + prop.sum()
        if np.log(rng.random()) < new - cur:
            delta, cur = prop, new
    return delta


def gibbs_two_level_ordinal(X, Z, y, cluster, n_clusters, *, n_classes, rng, n_iter,
                            prior_sd, psi_scale=0.1, start=None, delta=None):
    """Run the sampler of the module docstring on the observed rows.

    Parameters
    ----------
    X, Z : ndarray
        Standardised designs of the observed rows (X with the intercept first).
    y : ndarray of int (n,), classes 0 .. n_classes-1
    start : GibbsState, optional
        The previous draw of (beta, b, psi_inv); with ``delta`` the thresholds'.

    Returns
    -------
    (GibbsState, delta)
    """
    p, q = X.shape[1], Z.shape[1]
    nu0, s0 = q + 1.0, psi_scale * np.eye(q)
    p0 = np.diag(1.0 / np.asarray(prior_sd, dtype=float) ** 2)
    blocks = _Blocks(X, Z, cluster, n_clusters)
    ones = np.ones(y.size)
    if start is None or delta is None or delta.size != n_classes - 2:
        cum = np.cumsum(np.bincount(y, minlength=n_classes))[:-1] / y.size
        gamma = ndtri(np.clip(cum, 1e-3, 1 - 1e-3))
        beta = np.zeros(p)
        beta[0] = -gamma[0]                                   # gamma_0 = 0 fixed
        delta = np.log(np.maximum(np.diff(gamma), 1e-3))
        psi_inv = _wishart(s0 + 0.1 * n_clusters * np.eye(q), nu0 + n_clusters, rng)
        start = GibbsState(beta=beta, b=np.zeros((n_clusters, q)), psi_inv=psi_inv)
    counts = np.bincount(y, minlength=n_classes)
    step = min(0.5, 1.5 / np.sqrt(max(1.0, float(np.min(counts)))))
    state = start
    for _ in range(n_iter):
        eta = blocks.eta(state.beta, state.b, cluster)
        delta = _move_cuts(delta, y, eta, rng, step)
        full = np.concatenate([[-np.inf], _cuts(delta), [np.inf]])
        latent = truncated_normal(eta, full[y], full[y + 1], rng)
        beta, b, _ = blocks.solve(ones, latent, state.psi_inv, p0, rng=rng)
        psi_inv = _draw_psi_inv(b, s0, nu0, rng)
        b, psi_inv = _scale_move(blocks, cluster, ones, latent, beta, b, psi_inv, s0, nu0, rng)
        state = GibbsState(beta=beta, b=b, psi_inv=psi_inv)
    return state, delta


@register_method("2l.polr")
class TwoLevelPolr(ImputationMethod):
    """Two-level ordinal probit imputation by Gibbs sampling (module docstring)."""

    options = {"n_iter": (30, "Gibbs sweeps of the first call"),
               "n_warm": (3, "Gibbs sweeps of later calls, which continue the last draw")}
    level = "2l"

    def impute(self, data: MethodInput, rng: np.random.Generator) -> MethodResult:
        unknown = set(data.options) - set(_DEFAULTS)
        if unknown:
            raise ValueError(f"{data.variable}: unknown 2l.polr option(s) {sorted(unknown)}; "
                             f"known: {sorted(_DEFAULTS)}")
        prob = categorical_problem(data, method="2l.polr", defaults=_DEFAULTS)
        if isinstance(prob, MethodResult):
            return prob
        design, cluster, ry, wy = prob.design, prob.cluster, prob.ry, prob.wy
        X, Z = design.X, design.Z
        start = design.carry_over(prob.state, prob.n_clusters)
        delta = np.asarray(prob.state["delta"], dtype=float) if start is not None else None
        sd = np.full(X.shape[1], 2.5)
        sd[0] = 10.0
        state, delta = gibbs_two_level_ordinal(
            X[ry], Z[ry], prob.y_index, cluster[ry], prob.n_clusters,
            n_classes=prob.classes.size, rng=rng,
            n_iter=prob.n_warm if start is not None else prob.n_iter, prior_sd=sd, start=start,
            delta=delta)
        eta = X[wy] @ state.beta + np.einsum("ia,ia->i", Z[wy], state.b[cluster[wy]])
        latent = eta + rng.standard_normal(eta.size)
        values = prob.classes[np.searchsorted(_cuts(delta), latent)]
        keep = {"beta": state.beta, "b": state.b, "psi_inv": state.psi_inv, "delta": delta,
                "classes": prob.class_key, **design.state()}
        return MethodResult(values=values.astype(float), events=prob.events, state=keep)

r"""``2l.polyreg``: two-level imputation of a nominal variable by Polya-Gamma Gibbs sampling.

Model
-----
For pupil :math:`i` in cluster :math:`j` with unordered categories
:math:`c = 0, \dots, C-1` (the categories observed; 0 the reference),

.. math::
    \Pr(y_{ij} = c \mid b_j) = \frac{\exp(\eta_{ijc})}{\sum_{d} \exp(\eta_{ijd})},
    \quad \eta_{ijc} = x_{ij}^\top\beta_c + z_{ij}^\top b_{jc}, \quad \eta_{ij0} = 0,
    \quad b_{jc} \sim N_q(0, \Psi_c),

a multinomial logit with random effects per category contrast (independent between
contrasts), ``X`` and ``Z`` from the predictor codes as for every 2l method, centred
and scaled on the observed rows, and per contrast the priors of ``2l.bin``.

Gibbs sweep (observed rows), for each contrast :math:`c = 1, \dots, C-1` in turn
(Holmes and Held 2006; Polson, Scott and Windle 2013): given the other contrasts the
likelihood of :math:`(\beta_c, b_c)` is a logistic one,
:math:`\Pr(y_{ij} = c) = \operatorname{logit}^{-1}(\eta_{ijc} - o_{ijc})` with the
offset :math:`o_{ijc} = \log\sum_{d \ne c} \exp(\eta_{ijd})`, so with
:math:`\omega_{ijc} \sim PG(1, \eta_{ijc} - o_{ijc})` it is Gaussian with weights
:math:`\omega` and linear term :math:`\kappa + \omega o`,
:math:`\kappa = [y_{ij} = c] - 1/2`; ``2l.bin``'s joint draw of :math:`(\beta_c, b_c)`,
its Wishart draw of :math:`\Psi_c^{-1}` and its scale move then apply unchanged.

A missing value is drawn from the class probabilities with the cluster's own
:math:`b_{jc}` (a cluster without observed values draws them from their prior), so an
imputation is never a category that was not observed. The first call of a chain runs
``n_iter`` sweeps (default 30) from :math:`\beta = 0` except the intercepts at the
log-odds of the observed shares; later calls continue the last draw (kept in the
method state and re-expressed for the next call's centring and scaling, as
``2l.bin``) with ``n_warm`` sweeps (default 3).

References
----------
Holmes, C. C. and Held, L. (2006). Bayesian auxiliary variable models for binary and
multinomial regression. Bayesian Analysis 1(1), 145-168.
Polson, N. G., Scott, J. G. and Windle, J. (2013). Bayesian inference for logistic
models using Polya-Gamma latent variables. JASA 108, 1339-1349.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from mlmice.impute.methods._polya_gamma import draw_polya_gamma
from mlmice.impute.methods._two_level_design import GibbsState, categorical_problem
from mlmice.impute.methods.base import (
    ImputationMethod,
    MethodInput,
    MethodResult,
    register_method,
)
from mlmice.impute.methods.polytomous import draw_classes
from mlmice.impute.methods.two_level_bin import _Blocks, _draw_psi_inv, _scale_move, _wishart

__all__ = ["TwoLevelPolyreg", "gibbs_two_level_multinomial"]

_DEFAULTS = {"n_iter": 30, "n_warm": 3}


def _eta(blocks, states, cluster):
    """Linear predictors (n, C) with the reference's column of zeros first."""
    cols = [np.zeros(blocks.X.shape[0])]
    cols += [blocks.eta(s.beta, s.b, cluster) for s in states]
    return np.column_stack(cols)


def gibbs_two_level_multinomial(X, Z, y, cluster, n_clusters, *, n_classes, rng, n_iter,
                                prior_sd, psi_scale=0.1, start=None):
    """Run the sampler of the module docstring on the observed rows.

    Parameters
    ----------
    X, Z : ndarray
        Standardised designs of the observed rows (X with the intercept first).
    y : ndarray of int (n,), classes 0 .. n_classes-1
    start : list of GibbsState, optional
        The previous draw of each contrast.

    Returns
    -------
    list of GibbsState, one per contrast 1 .. n_classes-1
    """
    p, q = X.shape[1], Z.shape[1]
    nu0, s0 = q + 1.0, psi_scale * np.eye(q)
    p0 = np.diag(1.0 / np.asarray(prior_sd, dtype=float) ** 2)
    blocks = _Blocks(X, Z, cluster, n_clusters)
    if start is None:
        share = np.bincount(y, minlength=n_classes) + 0.5
        start = []
        for c in range(1, n_classes):
            beta = np.zeros(p)
            beta[0] = np.log(share[c] / share[0])
            start.append(GibbsState(beta=beta, b=np.zeros((n_clusters, q)),
                                    psi_inv=_wishart(s0 + 0.1 * n_clusters * np.eye(q),
                                                     nu0 + n_clusters, rng)))
    states = list(start)
    for _ in range(n_iter):
        for c in range(1, n_classes):
            eta = _eta(blocks, states, cluster)
            others = np.delete(eta, c, axis=1)
            offset = logsumexp(others, axis=1)
            omega = draw_polya_gamma(eta[:, c] - offset, rng=rng)
            kappa = (y == c) - 0.5 + omega * offset
            s = states[c - 1]
            beta, b, _ = blocks.solve(omega, kappa, s.psi_inv, p0, rng=rng)
            psi_inv = _draw_psi_inv(b, s0, nu0, rng)
            b, psi_inv = _scale_move(blocks, cluster, omega, kappa, beta, b, psi_inv, s0, nu0,
                                     rng)
            states[c - 1] = GibbsState(beta=beta, b=b, psi_inv=psi_inv)
    return states


@register_method("2l.polyreg")
class TwoLevelPolyreg(ImputationMethod):
    """Two-level multinomial logit imputation by Polya-Gamma Gibbs sampling (module docstring)."""

    options = {"n_iter": (30, "Gibbs sweeps of the first call"),
               "n_warm": (3, "Gibbs sweeps of later calls, which continue the last draw")}
    level = "2l"

    def impute(self, data: MethodInput, rng: np.random.Generator) -> MethodResult:
        prob = categorical_problem(data, method="2l.polyreg", defaults=_DEFAULTS)
        if isinstance(prob, MethodResult):
            return prob
        design, cluster, ry, wy = prob.design, prob.cluster, prob.ry, prob.wy
        X, Z = design.X, design.Z
        classes, n_clusters, state = prob.classes, prob.n_clusters, prob.state
        start = None
        if state is not None:
            start = [design.carry_over({k[len(f"{c}."):]: v for k, v in state.items()
                                        if k.startswith(f"{c}.")}, n_clusters)
                     for c in range(1, classes.size)]
            if any(s is None for s in start):
                start = None
        sd = np.full(X.shape[1], 2.5)
        sd[0] = 10.0
        states = gibbs_two_level_multinomial(
            X[ry], Z[ry], prob.y_index, cluster[ry], n_clusters, n_classes=classes.size,
            rng=rng, n_iter=prob.n_warm if start is not None else prob.n_iter, prior_sd=sd,
            start=start)
        eta = np.column_stack([np.zeros(int(wy.sum()))] + [
            X[wy] @ s.beta + np.einsum("ia,ia->i", Z[wy], s.b[cluster[wy]]) for s in states])
        probs = np.exp(eta - logsumexp(eta, axis=1, keepdims=True))
        values = classes[draw_classes(probs, rng)]
        keep = {"classes": prob.class_key}
        for c, s in enumerate(states, start=1):
            keep.update({f"{c}.{k}": v for k, v in
                         {"beta": s.beta, "b": s.b, "psi_inv": s.psi_inv,
                          **design.state()}.items()})
        return MethodResult(values=values.astype(float), events=prob.events, state=keep)

"""``2l.norm``: two-level normal imputation with heterogeneous within-cluster variances.

Model (Kasim and Raudenbush 1998; mice's ``mice.impute.2l.norm``):

.. math::

    y_{ij} = x_{ij}^\\top\\beta + z_{ij}^\\top b_j + e_{ij}, \\quad
    b_j \\sim N_q(0, \\Psi), \\quad e_{ij} \\sim N(0, \\sigma_j^2),

with a hierarchical prior on the cluster residual precisions

.. math::

    \\sigma_j^{-2} \\mid \\sigma_0^2, \\theta \\sim
    \\mathrm{Gamma}\\big(1/(2\\theta),\\ \\text{rate} = \\sigma_0^2/(2\\theta)\\big),

so that :math:`\\sigma_0^{-2}` is the prior mean precision and :math:`\\theta`
the dispersion of the cluster variances (:math:`\\theta \\to 0`: homogeneous).

Gibbs sampler, one iteration, with the full conditionals of mice's sampler
(flat prior on :math:`\\beta`, and on :math:`\\sigma_0^2`; Kasim and
Raudenbush's approximate conditional for :math:`\\theta`):

1. :math:`(\\beta, b) \\mid \\Psi, \\sigma_j^2`: :math:`\\beta` with the random
   effects integrated out, then :math:`b_j \\mid \\beta` (:mod:`._lmm_draws`);
2. :math:`\\Psi^{-1} \\mid b \\sim W_q(J - q - 1, (\\sum_j b_j b_j^\\top)^{-1})`, the
   uniform prior on :math:`\\Psi` (option ``prior``: ``"flat"``, the default, mice's);
   with ``prior: flat-variances`` (the default of ``2l.pan`` and ``2l.smc``,
   :mod:`._variance_prior`) the degrees of freedom are :math:`J - \\max(2, q)`;
3. :math:`\\sigma_j^{-2} \\mid \\cdot \\sim \\mathrm{Gamma}(n_j/2 + 1/(2\\theta),\\
   \\mathrm{rate} = \\mathrm{SS}_j/2 + \\sigma_0^2/(2\\theta))`, SS_j the
   cluster's residual sum of squares;
4. :math:`\\sigma_0^2 \\mid \\cdot \\sim \\mathrm{Gamma}(J/(2\\theta) + 1,\\
   \\mathrm{rate} = \\sum_j \\sigma_j^{-2} / (2\\theta))`;
5. :math:`1/\\theta \\mid \\cdot \\sim \\mathrm{Gamma}(J/2 - 1,\\ \\mathrm{rate} =
   J\\,(\\sigma_0^2/H - \\log(\\sigma_0^2/G) - 1)/2)`, with :math:`H` and
   :math:`G` the harmonic and geometric means of the :math:`\\sigma_j^2`.

Then :math:`y_{mis} = X\\beta + Z b_j + e`, :math:`e \\sim N(0, \\sigma_j^2)`.
Clusters without observed values draw :math:`b_j` and :math:`\\sigma_j^2`
from their priors given the hyperparameters.

Differences from mice, on purpose:

- mice's 2l.norm uses only the predictors coded 2 (random effects) and silently
  drops those coded 1; here codes 1 and 3 enter as fixed effects and codes 3/4
  add cluster means (:func:`two_level_design`), as for the other two-level
  methods. With only codes 2 the model is mice's.
- :math:`\\beta` is drawn with the random effects integrated out (mice draws the
  random coefficients given their mean), which mixes faster.
- mice runs 100 iterations from a cold start (:math:`\\Psi = I`, all
  :math:`\\sigma_j^2 = 1`) at every call; here the first call of a chain starts at
  the REML estimates of the homogeneous model and runs ``n_iter = 50`` iterations
  (option ``n_iter``; :math:`\\theta` starts at mice's value 1), and every later call
  continues from the previous call's draw of :math:`(\\Psi, \\sigma_j^2, \\sigma_0^2,
  \\theta)` (the method's state, kept with the chain) for ``n_warm = 5`` iterations,
  so that over the chained-equations iterations the parameters form one long chain.
  The unit tests check the draws against a long chain; ``bench/ess_methods.py``
  compares the mixing per CPU second with mice's 100 iterations per call.
- The target is standardised first (the priors are scale-free anyway).
- Option ``prior``: ``"flat"`` (the default) is mice's uniform prior on
  :math:`\\Psi`, kept for parity with R (``tests/r/oracle_two_level.R``);
  ``"flat-variances"`` puts a flat marginal prior on each variance instead, as
  2l.pan and 2l.smc do by default (the uniform prior tilts each variance of a
  random-intercept-and-slope model towards large values; docs/validity.md).
  For 2l.norm the choice matters little: on the validity study's designs (200
  replicates, paired) "flat-variances" lowers the pooled slope variance by 1.7 %
  (design a) and 3.1 % (design b) of the complete-data value (MC SE 0.3 %), so
  2l.norm's +25.6 % in design (b), where the residual variance is the same in every
  cluster, is not the prior's; 2l.pan, whose model has one residual variance, gives
  -7.6 % there.

References
----------
Kasim, R. M. and Raudenbush, S. W. (1998). Application of Gibbs sampling to
nested variance components models with heterogeneous within-group variance.
Journal of Educational and Behavioral Statistics, 23(2), 93-116.
"""

from __future__ import annotations

import numpy as np

from mlmice.impute.methods._lmm_draws import draw_beta_b, residual_ss
from mlmice.impute.methods._two_level_common import (
    carried_variances,
    constant_result,
    get_n_iter,
    impute_rows,
    start_values,
    state_scale_ratio,
    variance_state,
)
from mlmice.impute.methods._two_level_stats import TwoLevelProblem, prepare_problem
from mlmice.impute.methods._variance_prior import get_prior_kind, variance_prior
from mlmice.impute.methods.base import (
    ImputationMethod,
    MethodInput,
    MethodResult,
    register_method,
)

NORM_ITERATIONS = 50
NORM_WARM_ITERATIONS = 5
NORM_PRIORS = ("flat", "flat-variances")


@register_method("2l.norm")
class TwoLevelNorm(ImputationMethod):
    """Two-level normal imputation with cluster-specific residual variances.

    Options
    -------
    n_iter : int
        Gibbs iterations of the first call, from the REML start (default 50).
    n_warm : int
        Gibbs iterations of every later call, which continues from the previous
        call's draw of the variance parameters (default 5).
    prior : {"flat", "flat-variances"}
        Prior of :math:`\\Psi` (default "flat", mice's; see the module docstring).
    """

    options = {"n_iter": (50, "Gibbs iterations of the first call, from the REML start"),
               "n_warm": (NORM_WARM_ITERATIONS, "Gibbs iterations of later calls, which "
                                                "continue the previous draw"),
               "prior": ("flat", "prior of the random-effects covariance: flat (mice's) "
                                 "or flat-variances")}

    level = "2l"

    def check_option_values(self, options, *, variable, columns, cluster):
        _settings(options, variable)

    def impute(self, data: MethodInput, rng: np.random.Generator) -> MethodResult:
        problem = prepare_problem(data, method="2l.norm")
        const = constant_result(problem, "2l.norm")
        if const is not None:
            return const
        n_iter, n_warm, prior = _settings(data.options, data.variable)
        start = _carried(problem, data.state)
        if start is not None:
            n_iter = n_warm
        state = norm_gibbs(problem, rng, n_iter=n_iter, start=start, prior=prior)
        values = impute_rows(problem, state["beta"], state["b"], state["sigma2"], rng)
        keep = variance_state(problem, state["sigma2_0"], state["psi"],
                              cluster_sigma2=state["sigma2"], theta=state["theta"])
        return MethodResult(values=values, events=list(problem.events), state=keep)


def _carried(problem: TwoLevelProblem, state: dict | None) -> dict | None:
    """The previous call's draw (rescaled to this call's target), if it fits; else None."""
    carried = carried_variances(problem, state)      # sigma2 holds sigma2_0 here
    if carried is None:
        return None
    sigma2_0, psi = carried
    ratio = state_scale_ratio(problem, state)
    try:
        sigma2 = np.asarray(state["cluster_sigma2"], dtype=float) * ratio
        theta = float(state["theta"])
    except (KeyError, TypeError, ValueError):
        return None
    if (sigma2.shape != (problem.n_clusters,) or not np.all(np.isfinite(sigma2))
            or not np.all(sigma2 > 0) or not (sigma2_0 > 0 and theta > 0)):
        return None
    return {"psi": psi, "sigma2": sigma2, "sigma2_0": sigma2_0, "theta": theta}


def norm_gibbs(problem: TwoLevelProblem, rng: np.random.Generator, *, n_iter: int,
               start: dict | None = None, prior: str = "flat") -> dict:
    """Run the 2l.norm Gibbs sampler; return the last state (standardised scale).

    ``prior`` is the prior of :math:`\\Psi`, ``"flat"`` or ``"flat-variances"``
    (:func:`._variance_prior.variance_prior`; both without a scale matrix).

    Returns
    -------
    dict with keys ``beta`` (p,), ``b`` (J, q), ``psi`` (q, q), ``sigma2`` (J,)
    cluster residual variances, ``sigma2_0`` and ``theta`` (hyperparameters).
    """
    stats = problem.stats
    J, q = problem.n_clusters, problem.q
    if J <= 2 * q or J < 3:
        raise ValueError(f"{problem.variable}: method 2l.norm needs more than {2 * q} clusters "
                         f"for {q} random effects (and at least 3); found {J}")
    psi_prior = variance_prior(prior, q=q, scale=problem.scale, n_clusters=J,
                               variable=problem.variable, method="2l.norm")
    if start is None:
        s2, psi = start_values(problem)
        start = {"psi": psi, "sigma2": np.full(J, s2), "sigma2_0": s2, "theta": 1.0}
    psi = start["psi"]
    prec = 1.0 / np.asarray(start["sigma2"], dtype=float)
    sigma2_0 = float(start["sigma2_0"])
    theta = float(start["theta"])
    n_j = stats.n.astype(float)
    beta = b = None
    for _ in range(n_iter):
        beta, b = draw_beta_b(stats, prec, psi, rng)
        psi = psi_prior.draw_psi(b, rng)
        ss = residual_ss(stats, beta, b)
        shape = n_j / 2.0 + 1.0 / (2.0 * theta)
        rate = ss / 2.0 + sigma2_0 / (2.0 * theta)
        prec = np.clip(rng.gamma(shape, 1.0 / rate), 1e-12, 1e12)
        sigma2_0 = rng.gamma(J / (2.0 * theta) + 1.0, 2.0 * theta / prec.sum())
        H = 1.0 / prec.mean()
        log_G = -np.mean(np.log(prec))
        spread = sigma2_0 / H - np.log(sigma2_0) + log_G - 1.0
        spread = max(spread, 1e-12)          # >= 0 in exact arithmetic
        theta = 1.0 / rng.gamma(J / 2.0 - 1.0, 2.0 / (J * spread))
        theta = min(max(theta, 1e-8), 1e8)
    return {"beta": beta, "b": b, "psi": psi, "sigma2": 1.0 / prec, "sigma2_0": sigma2_0,
            "theta": theta}


def _settings(options: dict, variable: str) -> tuple[int, int, str]:
    """Options n_iter, n_warm and prior, each checked."""
    n_iter = get_n_iter(options, NORM_ITERATIONS, variable=variable)
    n_warm = get_n_iter(options, NORM_WARM_ITERATIONS, variable=variable, key="n_warm")
    prior = get_prior_kind(options, variable=variable, method="2l.norm", default="flat",
                           choices=NORM_PRIORS)
    return n_iter, n_warm, prior

"""``2l.pan``: two-level normal imputation with a homogeneous residual variance.

Model (Schafer and Yucel 2002, the univariate case of R's ``pan``, used by
mice's ``mice.impute.2l.pan``):

.. math::

    y_{ij} = x_{ij}^\\top\\beta + z_{ij}^\\top b_j + e_{ij}, \\quad
    b_j \\sim N_q(0, \\Psi), \\quad e_{ij} \\sim N(0, \\sigma^2),

``X`` and ``Z`` from the predictor codes (:func:`two_level_design`: codes
1-4 fixed, 2/4 random, 3/4 add cluster means; random intercept always).
Flat prior on :math:`\\beta`; the prior of :math:`(\\sigma^2, \\Psi)` is the
option ``prior`` (:mod:`._variance_prior`):

- ``"flat-variances"`` (default): :math:`p(\\Psi) \\propto |\\Psi|^{-1/2}` for a
  random slope (flat for a random intercept alone), under which each variance
  has a flat marginal prior, and :math:`p(\\sigma^2) \\propto \\sigma^{-2}`; no
  scale matrix, so no variance component is dominated by the prior whatever
  the units of ``y`` and the predictors;
- ``"flat"``: uniform on :math:`\\Psi` (the default of mlmice 0.2), which
  tilts each variance's marginal prior towards large values
  (:math:`\\tau^{1/2}` with a random slope);
- ``"mice"``: exactly R's (pan's prior as ``mice.impute.2l.pan`` passes it,
  :math:`\\sigma^{-2} \\sim W_1(1, 1)`, :math:`\\Psi^{-1} \\sim W_q(q, I_q)` in
  the raw units), for parity; it dominates variance components that are
  small in the raw units (the tutorial's slope variance).

Where R's prior is weak the two agree: on a design like the real data that
showed the problem (outcome sd 9, slope variance 0.2, 216 clusters) both
reproduce R mice within Monte Carlo error (``tests/r/pan_norm_oracle.R``).

Gibbs sampler, one iteration (:mod:`._lmm_draws`):

1. :math:`(\\beta, b) \\mid \\sigma^2, \\Psi, y_{obs}`: :math:`\\beta` with the
   random effects integrated out, then every :math:`b_j \\mid \\beta`;
2. :math:`\\Psi \\mid b \\sim W^{-1}_q(c + J, D^{-1} + \\sum_j b_j b_j^\\top)`;
3. :math:`\\sigma^2 \\mid \\beta, b = (B^{-1} + \\sum e_{ij}^2) / \\chi^2_{a + n_{obs}}`.

Then :math:`y_{mis} = X\\beta + Z b_j + e`, :math:`e \\sim N(0, \\sigma^2)`.

Pan augments the missing ``y`` at every iteration; here they are integrated
out (the parameter draws condition on the observed rows only) and drawn once
at the end, which has the same stationary distribution and is cheaper.

Iterations. mice runs pan for ``paniter = 500`` iterations from pan's own
starting values at every call. Here the chain starts at the REML estimate of
the same model (:func:`._lmm_fit.fit_problem`), which lies in the bulk of the
posterior, and runs ``n_iter = 20`` iterations (option ``n_iter``, alias
``paniter``). With the blocked draw of :math:`(\\beta, b)` the chain of the
variance components mixes fast: the unit tests check on 40 clusters of 10
that 20 iterations from the REML start give the same distribution as a long
chain. The hardest case measured, 100 clusters with 2-3 observed values each
and an intra-class correlation of 0.1, has a lag-1 autocorrelation of
:math:`\\Psi` of 0.8 and lag-20 of 0.03; 20 iterations from the REML start
then give a posterior sd of :math:`\\Psi` about 10 % too small.
Raise ``n_iter`` for very small clusters.

Later calls continue the chain. The method keeps its last draw of
:math:`(\\sigma^2, \\Psi)` as its state (``MethodResult.state``, kept with the chain
and in its files) and every later call of the same chain starts there, with no REML
fit, for ``n_warm = 3`` iterations: over the chained-equations iterations the
parameters then form one long Gibbs chain given the other variables' current values,
as in a joint-model sampler, rather than short chains restarted at the REML estimate
(which also removes the start's bias in the hardest case above). Mixing and the
pooled analyses were compared with 20 restarted iterations per call in
``bench/speed_quality.py``.

References
----------
Schafer, J. L. and Yucel, R. M. (2002). Computational strategies for
multivariate linear mixed-effects models with missing values. Journal of
Computational and Graphical Statistics, 11(2), 437-457.
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
    variance_state,
)
from mlmice.impute.methods._two_level_stats import TwoLevelProblem, prepare_problem
from mlmice.impute.methods._variance_prior import (
    DEFAULT_PRIOR,
    VariancePrior,
    get_prior_kind,
    variance_prior,
)
from mlmice.impute.methods.base import (
    ImputationMethod,
    MethodInput,
    MethodResult,
    register_method,
)

PAN_ITERATIONS = 20
PAN_WARM_ITERATIONS = 3


@register_method("2l.pan")
class TwoLevelPan(ImputationMethod):
    """Two-level normal imputation, homogeneous residual variance (pan's Gibbs sampler).

    Options
    -------
    n_iter (alias paniter) : int
        Gibbs iterations of the first call, from the REML start (default 20).
    n_warm : int
        Gibbs iterations of every later call, which continues from the previous
        call's draw of the variance parameters (default 3).
    prior : {"flat-variances", "flat", "mice"}
        Prior of the variance parameters (default "flat-variances"; "mice" is R's, see
        :mod:`._variance_prior`).
    """

    options = {"n_iter": (20, "Gibbs iterations of the first call, from the REML start"),
               "n_warm": (PAN_WARM_ITERATIONS, "Gibbs iterations of later calls, which "
                                               "continue the previous draw"),
               "paniter": (20, "alias of n_iter (mice's name)"),
               "prior": ("flat-variances",
                         "prior of the variance parameters: flat-variances, flat or mice")}

    level = "2l"

    def check_option_values(self, options, *, variable, columns, cluster):
        _settings(options, variable)

    def impute(self, data: MethodInput, rng: np.random.Generator) -> MethodResult:
        problem = prepare_problem(data, method="2l.pan")
        const = constant_result(problem, "2l.pan")
        if const is not None:
            return const
        n_iter, n_warm, prior = _settings(data.options, data.variable)
        start = carried_variances(problem, data.state)
        if start is not None:
            n_iter = n_warm
        beta, b, sigma2, psi = pan_gibbs(problem, rng, n_iter=n_iter, start=start, prior=prior)
        values = impute_rows(problem, beta, b, np.full(problem.n_clusters, sigma2), rng)
        return MethodResult(values=values, events=list(problem.events),
                            state=variance_state(problem, sigma2, psi))


def _settings(options: dict, variable: str) -> tuple[int, int, str]:
    """Options n_iter (alias paniter), n_warm and prior, each checked."""
    n_iter = get_n_iter(options, PAN_ITERATIONS, aliases=("paniter",), variable=variable)
    n_warm = get_n_iter(options, PAN_WARM_ITERATIONS, variable=variable, key="n_warm")
    return n_iter, n_warm, get_prior_kind(options, variable=variable, method="2l.pan")


def pan_gibbs(problem: TwoLevelProblem, rng: np.random.Generator, *, n_iter: int,
              start: tuple[float, np.ndarray] | None = None,
              prior: str | VariancePrior = DEFAULT_PRIOR, method: str = "2l.pan"):
    """Run the 2l.pan Gibbs sampler; return the last ``(beta, b, sigma2, psi)`` (standardised).

    Parameters
    ----------
    problem : TwoLevelProblem
    rng : numpy.random.Generator
    n_iter : int
    start : (sigma2, psi), optional
        Starting values; default the REML estimates.
    prior : str or VariancePrior
        ``"flat-variances"`` (default), ``"flat"`` or ``"mice"``
        (:func:`._variance_prior.variance_prior`).
    method : str
        For messages.
    """
    stats = problem.stats
    J, q, n_obs = problem.n_clusters, problem.q, stats.n_obs
    if isinstance(prior, str):
        prior = variance_prior(prior, q=q, scale=problem.scale, n_clusters=J,
                               variable=problem.variable, method=method)
    sigma2, psi = start_values(problem) if start is None else start
    w = np.empty(J)
    beta = b = None
    for _ in range(n_iter):
        w.fill(1.0 / sigma2)
        beta, b = draw_beta_b(stats, w, psi, rng)
        psi = prior.draw_psi(b, rng)
        sigma2 = prior.draw_sigma2(float(residual_ss(stats, beta, b).sum()), n_obs, rng)
    return beta, b, sigma2, psi

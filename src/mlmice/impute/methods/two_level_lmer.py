"""``2l.lmer``: two-level normal imputation from an lmer fit plus approximate posterior draws.

mice's ``mice.impute.2l.lmer`` (after Jolani 2018): fit
:math:`y = X\\beta + Z b_j + e` by REML on the observed rows (lme4's default),
then draw in turn

1. :math:`\\sigma^{2*} = \\hat\\sigma^2\\, d / \\chi^2_d`, :math:`d = n_{obs} - p`;
2. :math:`\\beta^* \\sim N(\\hat\\beta, \\sigma^{2*} (R_X^\\top R_X)^{-1})`;
3. :math:`\\Psi^* \\sim W^{-1}_q(J_{obs}, S)`, :math:`J_{obs}` the clusters with
   observed values;
4. :math:`b_j^* \\mid y_j, \\beta^*, \\Psi^*, \\sigma^{2*}` from its normal
   conditional (its prior :math:`N(0, \\Psi^*)` for clusters without observed
   values);
5. :math:`y_{mis} = X\\beta^* + Z b_j^* + e`, :math:`e \\sim N(0, \\sigma^{2*})`.

The fit is :func:`._lmm_fit.fit_problem`: profiled REML on cluster
cross-products for a random intercept, the project's lmer engine
(:func:`mlmice.mixed.lmm.lmer_arrays`) with random slopes; both are checked
against lme4 in the tests, and the imputations against R's
``mice.impute.2l.lmer`` (with ``psi_draw="mice"``).

Scale matrix of the :math:`\\Psi` draw. mice uses :math:`S = \\sum_j \\hat b_j
\\hat b_j^\\top`, the conditional modes only. Those are shrunken, so
:math:`S/J` underestimates :math:`\\Psi` by the average conditional variance of
the random effects; with small clusters or a small intra-class correlation
the imputations then understate the between-cluster variance. The default
here, ``psi_draw="expected"``, uses :math:`S = \\sum_j (\\hat b_j \\hat b_j^\\top
+ C_j)` with :math:`C_j` the conditional covariance of :math:`b_j`: the
expected complete-data scatter, whose mean over clusters is the (RE)ML
estimate :math:`\\hat\\Psi` at convergence (the EM fixed point).
``psi_draw="mice"`` reproduces mice.

Other differences from mice: predictor codes 3 and 4 add cluster means
(mice's 2l.lmer accepts them but treats them as 1 and 2); a failed fit raises
an error naming the variable instead of silently returning the previous
imputations (mice issues 384/385).

References
----------
Jolani, S. (2018). Hierarchical imputation of systematically and sporadically
missing data: an approximate Bayesian approach using chained equations.
Biometrical Journal, 60(2), 333-351.
"""

from __future__ import annotations

import numpy as np

from mlmice.impute.methods._lmm_draws import draw_b, draw_gaussian, draw_inverse_wishart
from mlmice.impute.methods._lmm_fit import fit_problem
from mlmice.impute.methods._two_level_common import constant_result, impute_rows
from mlmice.impute.methods._two_level_stats import prepare_problem
from mlmice.impute.methods.base import (
    ImputationMethod,
    MethodInput,
    MethodResult,
    register_method,
)

PSI_DRAWS = ("expected", "mice")


@register_method("2l.lmer")
class TwoLevelLmer(ImputationMethod):
    """Two-level normal imputation via an lmer (REML) fit and mice's parameter draws.

    Options
    -------
    psi_draw : {"expected", "mice"}
        Scale matrix of the inverse-Wishart draw of Psi (see module docstring).
    reml : bool
        REML (default, as lme4) or ML fit.
    """

    options = {"psi_draw": ("expected", "scale of the Psi draw: expected or mice"),
               "reml": (True, "REML (true) or ML (false) fit")}

    level = "2l"

    def check_option_values(self, options, *, variable, columns, cluster):
        _psi_draw(options, variable)

    def impute(self, data: MethodInput, rng: np.random.Generator) -> MethodResult:
        var = data.variable
        problem = prepare_problem(data, method="2l.lmer")
        const = constant_result(problem, "2l.lmer")
        if const is not None:
            return const
        psi_draw = _psi_draw(data.options, var)
        reml = bool(data.options.get("reml", True))
        stats = problem.stats
        est = fit_problem(problem, reml=reml, warm=data.state)
        events = list(problem.events)
        if not est.converged:
            events.append("2l.lmer: the REML optimiser reported non-convergence")
        q = problem.q
        df = est.df_resid
        sigma2 = est.sigma2 * df / rng.chisquare(df)
        beta = draw_gaussian(est.beta, sigma2 * np.linalg.inv(est.rxtrx), rng)
        observed = stats.n > 0
        b_hat = est.b[observed]
        scatter = b_hat.T @ b_hat
        if psi_draw == "expected":
            scatter = scatter + est.b_cov[observed].sum(axis=0)
        # a fit on the boundary (zero variance) gives a zero scatter: keep it invertible
        scatter = scatter + 1e-10 * np.eye(q)
        j_obs = int(observed.sum())
        if j_obs <= q - 1:
            raise ValueError(f"{var}: method 2l.lmer needs observed values in at least {q} "
                             f"clusters for {q} random effects; found {j_obs}")
        psi = draw_inverse_wishart(j_obs, scatter, rng)
        w = np.full(problem.n_clusters, 1.0 / sigma2)
        b = draw_b(stats, w, psi, beta, rng)
        values = impute_rows(problem, beta, b, np.full(problem.n_clusters, sigma2), rng)
        return MethodResult(values=values, events=events, state=est.warm)


def _psi_draw(options: dict, variable: str) -> str:
    """Option psi_draw, one of PSI_DRAWS."""
    psi_draw = options.get("psi_draw", "expected")
    if psi_draw not in PSI_DRAWS:
        raise ValueError(f"{variable}: option psi_draw == {psi_draw!r}, must be one of "
                         f"{PSI_DRAWS}")
    return psi_draw

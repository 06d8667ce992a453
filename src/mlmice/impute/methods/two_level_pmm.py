"""``2l.pmm``: two-level predictive mean matching (miceadds' ``mice.impute.2l.pmm``).

Steps (miceadds' ``mice_imputation_2l_lmer`` with ``model = "pmm"``):

1. Fit :math:`y = X\\beta + Z b_j + e` by REML on the observed rows
   (:func:`._lmm_fit.fit_problem`; lme4's default, as miceadds).
2. Draw the fixed effects
   :math:`\\beta^* \\sim N(\\hat\\beta, \\widehat{\\mathrm{Var}}(\\hat\\beta))`
   (option ``draw_fixed``, default True).
3. Draw the random effects from their conditional distribution at the
   estimates, :math:`b_j^* \\sim N(\\hat b_j, C_j)` (lme4's conditional modes and
   ``postVar``), or from :math:`N(0, \\hat\\Psi)` for clusters without observed
   values.
4. Predict :math:`\\hat y = X\\beta^* + Z b_j^*` for every row. With
   ``match_sampled_pars = True`` (miceadds' default for 2l.pmm) the observed
   rows are predicted with the same drawn parameters; with False they use
   :math:`\\hat\\beta, \\hat b_j` (mice's type-1 matching).
5. Predictive mean matching as miceadds' ``pmm5``: for each row to impute take
   the ``donors`` observed rows whose predictions are the nearest below and the
   ``donors`` nearest above (``2 * donors`` candidates, default 5 + 5) and copy
   the observed value of one of them chosen at random.

The variance parameters are not drawn (as in miceadds), so the method is only
approximately proper; the matching step keeps imputations within the range of
the observed values.

Reference
---------
Robitzsch, A., Grund, S. and Henke, T. (2023). miceadds: Some additional
multiple imputation functions, especially for mice. R package.
"""

from __future__ import annotations

import numpy as np

from mlmice.impute.methods._lmm_draws import draw_gaussian, draw_gaussian_batched
from mlmice.impute.methods._lmm_fit import fit_problem
from mlmice.impute.methods._two_level_common import constant_result
from mlmice.impute.methods._two_level_stats import prepare_problem
from mlmice.impute.methods.base import (
    ImputationMethod,
    MethodInput,
    MethodResult,
    register_method,
)
from mlmice.impute.methods.pmm import read_donors


def match_neighbours(yhat_obs: np.ndarray, yhat_mis: np.ndarray, y_obs: np.ndarray,
                     donors: int, rng: np.random.Generator) -> np.ndarray:
    """miceadds' ``pmm5`` matching: one of the ``donors`` nearest below / above, at random.

    The observed predictions are sorted; for a prediction :math:`\\hat y` to
    impute, the candidates are the observed rows at sorted positions
    ``k - donors .. k - 1`` (just below) and ``k .. k + donors - 1`` (just
    above), ``k`` the insertion position of :math:`\\hat y`, clipped to the
    available rows. Ties are broken by a tiny uniform jitter, as miceadds.

    Parameters
    ----------
    yhat_obs : ndarray (n1,)
    yhat_mis : ndarray (n0,)
    y_obs : ndarray (n1,)
        Observed values (donor values), aligned with ``yhat_obs``.
    donors : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray (n0,)
    """
    n1 = yhat_obs.size
    allv = np.concatenate([yhat_obs, yhat_mis])
    gaps = np.abs(np.diff(np.sort(allv)))
    gaps = gaps[gaps > 0]
    jitter = (gaps.min() if gaps.size else 1.0) * 1e-5
    yo = yhat_obs + rng.uniform(0.0, jitter, n1)
    ym = yhat_mis + rng.uniform(0.0, jitter, yhat_mis.size)
    order = np.argsort(yo, kind="stable")
    k = np.searchsorted(yo[order], ym)
    offsets = np.concatenate([-np.arange(1, donors + 1), np.arange(donors)])   # (2 donors,)
    pick = offsets[rng.integers(0, 2 * donors, size=ym.size)]
    pos = np.clip(k + pick, 0, n1 - 1)
    return y_obs[order[pos]]


@register_method("2l.pmm")
class TwoLevelPmm(ImputationMethod):
    """Two-level predictive mean matching on predictions with drawn random effects.

    Options
    -------
    donors : int
        Candidates on each side of the prediction (default 5).
    draw_fixed : bool
        Draw the fixed effects (default True).
    match_sampled_pars : bool
        Predict the observed rows with the drawn parameters (default True, as
        miceadds' 2l.pmm).
    """

    options = {"donors": (5, "candidates on each side of the prediction"),
               "draw_fixed": (True, "draw the fixed effects"),
               "match_sampled_pars": (True, "predict observed rows with the drawn "
                                            "parameters")}

    level = "2l"

    def check_option_values(self, options, *, variable, columns, cluster):
        read_donors(options, variable=variable)

    def impute(self, data: MethodInput, rng: np.random.Generator) -> MethodResult:
        var = data.variable
        donors = read_donors(data.options, variable=var)
        draw_fixed = bool(data.options.get("draw_fixed", True))
        match_sampled = bool(data.options.get("match_sampled_pars", True))
        problem = prepare_problem(data, method="2l.pmm")
        const = constant_result(problem, "2l.pmm")
        if const is not None:
            return const
        stats = problem.stats
        est = fit_problem(problem, reml=True, warm=data.state)
        events = list(problem.events)
        if not est.converged:
            events.append("2l.pmm: the REML optimiser reported non-convergence")
        beta = draw_gaussian(est.beta, est.vcov, rng) if draw_fixed else est.beta
        observed = stats.n > 0
        cond_cov = np.where(observed[:, None, None], est.b_cov, est.psi)
        b = draw_gaussian_batched(np.where(observed[:, None], est.b, 0.0), cond_cov, rng)
        ry, wy = problem.ry, problem.wy
        yhat_mis = problem.fitted(beta, b, wy)
        if match_sampled:
            yhat_obs = problem.fitted(beta, b, ry)
        else:
            yhat_obs = problem.fitted(est.beta, est.b, ry)
        values = match_neighbours(yhat_obs, yhat_mis, problem.y_obs, donors, rng)
        # the REML optimum starts the next iteration's fit (a warm start, same optimum)
        return MethodResult(values=values, events=events, state=est.warm)

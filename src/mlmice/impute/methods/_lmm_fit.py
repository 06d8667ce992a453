"""Profiled (RE)ML fit of a two-level linear mixed model from cluster statistics.

The model is the one of :mod:`._two_level_stats` with a common residual
variance. In lme4's parameterisation (Bates et al. 2015, JSS 67(1), section
3) the random effects are :math:`b_j = \\Lambda_\\theta u_j`,
:math:`u_j \\sim N(0, \\sigma^2 I_q)`, with :math:`\\Lambda_\\theta` lower
triangular. For one cluster let :math:`L_j L_j^\\top = \\Lambda^\\top Z_j^\\top
Z_j \\Lambda + I`. Then, with :math:`c_{u,j} = L_j^{-1} \\Lambda^\\top Z_j^\\top y_j`
and :math:`R_{ZX,j} = L_j^{-1} \\Lambda^\\top Z_j^\\top X_j`,

.. math::

    R_X^\\top R_X = X^\\top X - \\sum_j R_{ZX,j}^\\top R_{ZX,j}, \\quad
    R_X^\\top c_\\beta = X^\\top y - \\sum_j R_{ZX,j}^\\top c_{u,j}, \\quad
    \\hat\\beta = R_X^{-1} c_\\beta,

and the penalised residual sum of squares at the optimum is
:math:`r^2 = y^\\top y - \\sum_j \\|c_{u,j}\\|^2 - \\|c_\\beta\\|^2`. The profiled
deviances are

.. math::

    d_{ML}(\\theta) = \\log|L|^2 + n\\,[1 + \\log(2\\pi r^2 / n)], \\qquad
    d_{REML}(\\theta) = \\log|L|^2 + \\log|R_X|^2 + (n-p)\\,[1 + \\log(2\\pi r^2/(n-p))].

Because the model is nested (one grouping factor) every :math:`L_j` is a
small dense block, so one deviance evaluation is a handful of batched
``q x q`` operations: :func:`mlmice.mixed.pls.solve_blocks`, the penalised least
squares that ``lmer`` uses too.

This is the fit that ``2l.lmer`` and ``2l.pmm`` need at every imputation
step, and the start of the Gibbs samplers; it is tested against lme4
(``tests/r/two_level_lmm_fit.R``). :func:`fit_problem` is the entry point:
for a random intercept only (``q = 1``) it minimises the one-dimensional
profiled deviance above with a bounded Brent search on the cluster
statistics (:func:`fit_lmm`, no gradient needed); with random slopes
(``q > 1``) it calls the project's lmer engine
(:func:`mlmice.mixed.lmm.lmer_arrays`, analytic gradient, BFGS), which needs
far fewer deviance evaluations than a gradient-free search.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mlmice.impute.methods._two_level_stats import ClusterStats, TwoLevelProblem
from mlmice.mixed.pls import BlockSolution, profiled_deviance, solve_blocks

#: The optimiser's tolerances of the imputation methods' refits (``lmer`` uses 1e-9 and
#: 1e-15): theta to about 1e-7 on the standardised scale, far inside its sampling
#: error, in half the evaluations (bench/bench_impute.py).
REFIT_GTOL, REFIT_FTOL = 1e-6, 1e-12


@dataclass(frozen=True)
class LmmEstimate:
    """Estimates of the two-level LMM on the standardised scale.

    Attributes
    ----------
    beta : ndarray (p,)
    vcov : ndarray (p, p)
        :math:`\\hat\\sigma^2 (R_X^\\top R_X)^{-1}` (lme4's ``vcov``).
    rxtrx : ndarray (p, p)
        :math:`R_X^\\top R_X` (so that ``vcov = sigma2 * inv(rxtrx)``).
    sigma2 : float
        Residual variance (REML or ML estimate).
    psi : ndarray (q, q)
        Random-effects covariance :math:`\\hat\\sigma^2 \\Lambda \\Lambda^\\top`.
    b : ndarray (J, q)
        Conditional modes of the random effects (0 for clusters without data).
    b_cov : ndarray (J, q, q)
        Conditional covariances :math:`\\hat\\sigma^2 \\Lambda (L_j L_j^\\top)^{-1}
        \\Lambda^\\top` given :math:`\\hat\\beta` (lme4's ``postVar``; equals
        ``psi`` for clusters without data).
    theta : ndarray
    deviance : float
    reml : bool
    df_resid : int
        ``n - p``.
    converged : bool
    warm : dict
        What starts the next refit of the same model (:func:`fit_problem`'s ``warm``;
        empty for a random intercept, whose one-dimensional search needs none).
    """

    beta: np.ndarray
    vcov: np.ndarray
    rxtrx: np.ndarray
    sigma2: float
    psi: np.ndarray
    b: np.ndarray
    b_cov: np.ndarray
    theta: np.ndarray
    deviance: float
    reml: bool
    df_resid: int
    converged: bool
    warm: dict = field(default_factory=dict)


class _Profile:
    """The profiled deviance of a random-intercept model from cluster statistics.

    The penalised least squares are :func:`mlmice.mixed.pls.solve_blocks`, the one
    implementation that ``lmer`` uses too.
    """

    def __init__(self, stats: ClusterStats, reml: bool):
        self.reml = reml
        self.q = stats.z_index.size
        self.p = stats.xtx.shape[1]
        self.n = stats.n_obs
        self.stats = stats
        self.yty = float(stats.yty.sum())

    def solve(self, theta: np.ndarray) -> tuple[np.ndarray, BlockSolution]:
        lam = np.array([[float(theta[0])]])
        st = self.stats
        return lam, solve_blocks(lam, st.ztz, st.ztx, st.xtx_total, st.zty, st.xty_total,
                                 self.yty, want_inverse=True)

    def deviance(self, theta: np.ndarray) -> float:
        try:
            _, sol = self.solve(theta)
        except np.linalg.LinAlgError:
            return np.inf
        if not sol.r2 > 0:
            return np.inf
        return float(profiled_deviance(sol.r2, sol.logdet_a, sol.logdet_s, n=self.n, p=self.p,
                                       reml=self.reml)[0])


def fit_lmm(stats: ClusterStats, *, reml: bool = True, tol: float = 1e-10,
            variable: str = "y") -> LmmEstimate:
    """Fit ``y ~ X + (1 | cluster)`` by profiled REML (default) or ML from cluster statistics.

    Random intercept only (``q = 1``): the profiled deviance is a function of
    the scalar :math:`\\theta = \\tau / \\sigma`, minimised by a bounded Brent
    search (the bound grows if the optimum sits on it); :math:`\\theta = 0` is
    kept when the boundary is better. Models with random slopes go through
    :func:`fit_problem` to the lmer engine.

    Parameters
    ----------
    stats : ClusterStats
        Cross-products of the observed rows.
    reml : bool
        REML (lme4's default, used by mice's 2l.lmer and miceadds' 2l.pmm) or ML.
    tol : float
        Tolerance of the search (absolute in theta, times 1e3). The Gibbs
        samplers use a loose tolerance for their starting point.
    variable : str
        Name for error messages.

    Returns
    -------
    LmmEstimate

    Raises
    ------
    ValueError
        When the fixed-effects cross-product is singular, too few rows are
        observed or ``stats`` has random slopes (naming ``variable``).
    """
    prof = _Profile(stats, reml)
    q, p = prof.q, prof.p
    if q != 1:
        raise ValueError(f"{variable}: fit_lmm fits a random intercept only (q = 1), got q = {q}; "
                         "use fit_problem")
    if prof.n <= p:
        raise ValueError(f"{variable}: {prof.n} observed values cannot identify {p} fixed effects")
    from scipy import optimize  # here: importing it costs 0.2 s, paid only when used

    upper = 50.0
    while True:
        res = optimize.minimize_scalar(lambda t: prof.deviance(np.array([t])),
                                       bounds=(0.0, upper), method="bounded",
                                       options={"xatol": tol * 1e3})
        if res.x < 0.99 * upper or upper > 1e6:
            break
        upper *= 20.0
    theta = np.array([res.x])
    converged = bool(res.success)
    # boundary: lme4 allows theta == 0 exactly
    if prof.deviance(np.array([0.0])) <= prof.deviance(theta):
        theta = np.array([0.0])
    try:
        lam, sol = prof.solve(theta)
    except np.linalg.LinAlgError:
        raise ValueError(f"{variable}: the fixed-effects design of the imputation model is "
                         "singular; remove constant or collinear predictors") from None
    n_df = prof.n - p if reml else prof.n
    sigma2 = sol.r2 / n_df
    # conditional modes u_j = A_j^{-1} (v_j - B_j beta), b_j = Lambda u_j, and their
    # covariance sigma2 Lambda A_j^{-1} Lambda' given beta
    b = sol.u @ lam.T
    a_inv = 1.0 / (lam[0, 0] ** 2 * prof.stats.ztz + 1.0)               # (J, 1, 1)
    b_cov = sigma2 * lam[0, 0] ** 2 * a_inv
    psi = sigma2 * lam @ lam.T
    vcov = sigma2 * sol.sinv
    return LmmEstimate(beta=sol.beta, vcov=vcov, rxtrx=sol.S, sigma2=float(sigma2), psi=psi, b=b,
                       b_cov=b_cov, theta=theta, deviance=float(prof.deviance(theta)),
                       reml=reml, df_resid=int(prof.n - p), converged=converged)


def fit_problem(problem: TwoLevelProblem, *, reml: bool = True, tol: float = 1e-10,
                warm: dict | None = None) -> LmmEstimate:
    """Fit the imputation model of ``problem`` (standardised target); see the module docstring.

    Parameters
    ----------
    problem : TwoLevelProblem
    reml : bool
        REML (default) or ML.
    tol : float
        Tolerance of the one-dimensional search (``q = 1``; see :func:`fit_lmm`).
    warm : dict, optional
        A warm start with random slopes (``q > 1``): the previous iteration's
        :attr:`LmmEstimate.warm` (``theta`` and the optimiser's inverse-Hessian
        approximation ``hinv``), so that the refit starts with quasi-Newton steps
        from the last optimum (the same optimum in a third of the evaluations on
        the tutorial's data); ignored unless its shapes fit and it is finite.
    """
    if problem.q == 1:
        return fit_lmm(problem.stats, reml=reml, tol=tol, variable=problem.variable)
    return _fit_with_lmer_engine(problem, reml=reml, warm=warm)


def _fit_with_lmer_engine(problem: TwoLevelProblem, *, reml: bool, warm: dict | None = None
                          ) -> LmmEstimate:
    from mlmice.mixed.lmm import lmer_arrays

    var = problem.variable
    ry = problem.ry
    p, J = problem.p, problem.n_clusters
    n_obs = int(ry.sum())
    if n_obs <= p:
        raise ValueError(f"{var}: {n_obs} observed values cannot identify {p} fixed effects")
    X = problem.X[ry]
    ys = (problem.y_obs - problem.center) / problem.scale
    try:
        theta0, hinv0 = _warm_start(warm, k=problem.q * (problem.q + 1) // 2)
        fit = lmer_arrays(X, X[:, problem.z_index], problem.cluster[ry], ys, reml=reml,
                          n_groups=J, check_conv=False, warn=False, theta0=theta0,
                          hinv0=hinv0, gtol=REFIT_GTOL, ftol=REFIT_FTOL)
    except (np.linalg.LinAlgError, ValueError) as err:
        raise ValueError(f"{var}: the two-level imputation model could not be fitted "
                         f"({err}); remove constant or collinear predictors") from None
    sigma2 = float(fit.sigma) ** 2
    vcov = np.asarray(fit.vcov_beta, dtype=float)
    b = np.asarray(fit.b[0], dtype=float)
    b_cov = np.asarray(next(iter(fit.cond_cov.values())), dtype=float)
    lam = fit.model.lam(fit.theta)
    psi = sigma2 * lam @ lam.T
    return LmmEstimate(beta=np.asarray(fit.beta, dtype=float), vcov=vcov,
                       rxtrx=sigma2 * np.linalg.inv(vcov), sigma2=sigma2, psi=psi, b=b,
                       b_cov=b_cov, theta=np.asarray(fit.theta, dtype=float),
                       deviance=float(fit.deviance), reml=reml, df_resid=n_obs - p,
                       converged=bool(fit.converged),
                       warm={"theta": np.asarray(fit.theta, dtype=float),
                             "hinv": np.asarray(fit.optimizer["hinv"], dtype=float)})


def _warm_start(warm: dict | None, *, k: int):
    """(theta0, hinv0) from a previous estimate's ``warm``, or (None, None) if it does not fit."""
    if not warm:
        return None, None
    theta0 = np.asarray(warm.get("theta", ()), dtype=float).ravel()
    hinv0 = np.asarray(warm.get("hinv", ()), dtype=float)
    if theta0.shape != (k,) or not np.all(np.isfinite(theta0)):
        return None, None
    if hinv0.shape != (k, k) or not np.all(np.isfinite(hinv0)):
        hinv0 = None
    return theta0, hinv0

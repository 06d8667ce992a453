r"""Fitting a linear mixed model: the optimiser layer of ``lmer``.

lme4's ``optimizeLmer`` and ``checkConv`` (Bates, Maechler, Bolker and Walker 2015,
JSS 67(1), section 5) for an :class:`~mlmice.mixed.model.LmerModel`.

Optimiser. The deviance depends on :math:`\Lambda` only through
:math:`\Lambda\Lambda^\top`, which does not change when a column of a term's
factor changes sign; so :math:`\theta` is optimised without bounds (BFGS with the
analytic gradient, :mod:`mlmice.mixed.optim`) and each column's sign fixed afterwards,
and a stop on the symmetry point :math:`\theta_{ii} = 0` is escaped by trial values.
After the optimiser, Newton steps with a finite-difference Hessian of the analytic
gradient (:mod:`mlmice.mixed.derivatives`) polish :math:`\theta` to the optimum
(lme4's default optimiser stops earlier: see DESIGN.md, "Where R is not the truth").

Convergence is then checked as lme4's ``checkConv`` does: a singular fit (a bounded
:math:`\theta_i < 10^{-4}`) raises :class:`~mlmice.mixed.results.SingularFitWarning`;
otherwise the scaled gradient :math:`\min(|H^{-1/2}g|, |g|)` must be below 0.002 and
the Hessian positive definite, else :class:`~mlmice.mixed.results.ConvergenceWarning`.
"""

from __future__ import annotations

import warnings

import numpy as np

from mlmice.mixed.derivatives import DERIV_DELTA, hessian_of_gradient, newton_polish
from mlmice.mixed.lmer_result import LmerResult
from mlmice.mixed.optim import bfgs
from mlmice.mixed.results import ConvergenceWarning, SingularFitWarning, convergence_messages

__all__ = ["SINGULAR_TOL", "fit_model"]

SINGULAR_TOL = 1e-4      # lme4: check.conv.singular tol


def fit_model(model, y, *, reml: bool, theta0, check_conv: bool, warn: bool,
              formula: str | None, hinv0=None, gtol: float = 1e-9,
              ftol: float = 1e-15) -> LmerResult:
    """Fit ``model`` to ``y``: BFGS, escape from theta_ii = 0, Newton polish, lme4's checks.

    Called by :meth:`mlmice.mixed.model.LmerModel.fit` (which validates the arguments
    and sets the BLAS threads); see it for the parameters. ``gtol`` and ``ftol`` are
    the optimiser's tolerances (:func:`mlmice.mixed.optim.bfgs`).
    """
    yp = model._y_parts(y)
    if theta0 is None:
        x0 = model.start_theta(yp)
    else:
        x0 = model._check_theta(theta0, "theta0").copy()
        if not np.all(np.isfinite(x0)):
            raise ValueError(f"theta0 == {x0.tolist()} has non-finite values")
    n_eval = 0

    def fun(th):
        nonlocal n_eval
        n_eval += 1
        try:
            ev = model._evaluate(th, yp, reml, grad=True)
        except np.linalg.LinAlgError:
            # a trial point so extreme that a factorisation fails numerically:
            # report it as infinitely bad so that the line search steps back
            return np.inf, np.zeros_like(th)
        return ev.deviance, ev.grad

    # The deviance depends on Lambda only through Lambda Lambda', which is
    # unchanged when a column of a term's factor changes sign. So theta is
    # optimised without bounds and each column's sign fixed afterwards
    # (diagonal >= 0): a bounded optimiser can stop on the boundary
    # theta_ii = 0, where the gradient vanishes by this symmetry, although
    # the optimum is inside.
    res = bfgs(fun, x0, gtol=gtol, ftol=ftol, maxiter=1000, hinv0=hinv0)
    res = _escape_zero_diagonal(model, res, fun, yp, reml)
    theta = model.canonical_theta(np.asarray(res.x, dtype=float))
    # the inverse-Hessian approximation in the canonical signs (a warm start's hinv0)
    flip = np.where(np.asarray(res.x) == 0, 1.0, np.sign(theta) * np.sign(res.x))
    hinv = res.hinv * np.outer(flip, flip)
    ev = model._evaluate(theta, yp, reml, grad=True, full=True)
    messages: list[str] = []
    hessian = None
    at_bound = np.isfinite(model.lower) & (theta - model.lower < SINGULAR_TOL)
    singular = bool(np.any(at_bound))
    if check_conv:
        ev, hessian, n_more = _polish(model, ev, yp, reml)
        n_eval += n_more
        theta = ev.theta
        at_bound = np.isfinite(model.lower) & (theta - model.lower < SINGULAR_TOL)
        singular = bool(np.any(at_bound))
        if singular:
            messages.append("boundary (singular) fit: see help('isSingular')")
        else:
            messages.extend(convergence_messages(ev.grad, hessian))
    if check_conv:
        converged = not any(m.startswith(("Model failed", "unable"))
                            for m in messages)
    else:
        converged = bool(res.success)
    if warn:
        for msg in messages:
            cls = SingularFitWarning if msg.startswith("boundary") else ConvergenceWarning
            warnings.warn(msg, cls, stacklevel=4)
    return LmerResult(model=model, y=np.asarray(y, dtype=float), reml=reml, ev=ev,
                      beta_offset=yp[3], optimizer=dict(message=str(res.message),
                                                        success=bool(res.success),
                                                        n_eval=n_eval, nit=res.nit,
                                                        hinv=hinv),
                      converged=converged, singular=singular, messages=messages,
                      hessian=hessian, formula=formula)



def _escape_zero_diagonal(model, res, fun, yp, reml: bool, max_restarts: int = 3):
    """Leave a spurious stationary point on a zero diagonal entry of Lambda.

    With the sign symmetry, :math:`\\theta_{ii} = 0` has a zero derivative in
    :math:`\\theta_{ii}` whether or not it is the optimum. When the optimiser
    ends there, trial values of :math:`\\theta_{ii}` (0.01 to 10) are tried
    and the optimiser restarted from the best one that lowers the deviance.
    A genuine boundary optimum (lme4's singular fit) survives this.
    """
    diag = np.flatnonzero(np.isfinite(model.lower))
    for _ in range(max_restarts):
        near = diag[np.abs(res.x[diag]) < 1e-3]
        if near.size == 0:
            return res
        best_x, best_f = None, res.fun
        for i in near:
            for val in (0.01, 0.1, 0.5, 1.0, 3.0, 10.0):
                th = np.array(res.x, dtype=float)
                th[i] = val
                try:
                    f = model._evaluate(th, yp, reml, grad=False).deviance
                except np.linalg.LinAlgError:
                    continue
                if f < best_f - 1e-10 * max(1.0, abs(best_f)):
                    best_x, best_f = th, f
        if best_x is None:
            return res
        nfev = res.nfev
        res = bfgs(fun, best_x, gtol=1e-9, ftol=1e-15, maxiter=1000)
        res.nfev += nfev
    return res



def _polish(model, ev, yp, reml: bool, max_steps: int = 3):
    """Newton steps on the free (interior) parameters; returns (ev, Hessian, n_eval).

    The Hessian is the central finite difference (step 1e-4, as lme4's ``deriv12``)
    of the analytic gradient at the optimiser's solution; it is also what the
    convergence check uses.
    """
    H = hessian_of_gradient(lambda th: model._evaluate(th, yp, reml, grad=True).grad,
                            ev.theta, DERIV_DELTA)

    def evaluate(th):
        new = model._evaluate(th, yp, reml, grad=True, full=True)
        return new.deviance, new.grad, new

    *_, payload, n_more, _ = newton_polish(evaluate, ev.theta, ev.deviance, ev.grad, H,
                                           max_steps=max_steps, gtol=1e-9, lower=model.lower,
                                           rel_tol=1e-12)
    return (ev if payload is None else payload), H, 2 * len(ev.theta) + n_more

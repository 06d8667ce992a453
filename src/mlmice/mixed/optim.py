"""A small BFGS minimiser for the few covariance parameters of a mixed model.

The profiled deviance of :mod:`mlmice.mixed.lmm` has 1 to ~10 parameters,
cheap analytic gradients and no active bounds after the sign
reparameterisation (see ``LmerModel.fit``). For such problems the work is
in the function evaluations, not in the optimiser, and a plain BFGS in NumPy
(Nocedal and Wright 2006, *Numerical Optimization*, 2nd ed., algorithm 6.1
with the initial scaling of eq. 6.20 and a backtracking Armijo line search
with quadratic interpolation, section 3.5) avoids the per-iteration overhead of
compiled optimisers that call a multithreaded BLAS on tiny vectors (which, on
a loaded machine, cost milliseconds per iteration).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BFGSResult", "bfgs"]


@dataclass
class BFGSResult:
    """Outcome of :func:`bfgs`."""

    x: np.ndarray
    fun: float
    grad: np.ndarray
    nit: int
    nfev: int
    success: bool
    message: str
    hinv: np.ndarray


def bfgs(fun, x0, *, gtol: float = 1e-9, ftol: float = 1e-15, maxiter: int = 1000,
         hinv0=None) -> BFGSResult:
    """Minimise ``fun`` (returning ``(value, gradient)``) from ``x0`` by BFGS.

    Stops when ``max|gradient| <= gtol``, or when an iteration reduces the
    value by less than ``ftol * max(1, |value|)`` twice in a row, or when the
    line search cannot decrease the value (then ``success`` is False only if
    the gradient is still large, ``max|g| > 1e-4``).

    ``hinv0``: a starting inverse-Hessian approximation, e.g. the ``hinv`` of a
    previous run on a nearby problem; with it (and ``x0`` that run's solution) the
    first steps are already quasi-Newton steps (a warm start, as the imputation
    methods refit the same model every iteration). Without it the identity, scaled
    after the first step (Nocedal and Wright eq. 6.20).
    """
    x = np.array(x0, dtype=float)
    k = x.size
    f, g = fun(x)
    nfev = 1
    eye = np.eye(k)
    Hinv = eye.copy()
    first = True
    if hinv0 is not None:
        hinv0 = np.asarray(hinv0, dtype=float)
        if hinv0.shape == (k, k) and np.all(np.isfinite(hinv0)):
            Hinv, first = 0.5 * (hinv0 + hinv0.T), False
    stall = 0
    message = "maximum number of iterations reached"
    success = False
    nit = 0
    for nit in range(1, maxiter + 1):  # noqa: B007
        gmax = np.max(np.abs(g)) if k else 0.0
        if gmax <= gtol:
            message, success = "gradient below gtol", True
            break
        p = -Hinv @ g
        slope = float(g @ p)
        if not slope < 0:
            Hinv = eye.copy()
            p = -g
            slope = float(g @ p)
        # first step: at most 0.5 in the largest coordinate (a unit step could land
        # exactly on a symmetry point such as theta_ii = 0, where the gradient vanishes)
        t = 1.0 if not first else min(1.0, 0.5 / max(gmax, 1e-12))
        accepted = False
        for _ in range(60):
            xn = x + t * p
            fn, gn = fun(xn)
            nfev += 1
            if np.isfinite(fn) and fn <= f + 1e-4 * t * slope:
                accepted = True
                break
            denom = 2.0 * (fn - f - t * slope) if np.isfinite(fn) else np.inf
            t_new = -slope * t * t / denom if denom > 0 else 0.5 * t
            t = min(max(t_new, 0.1 * t), 0.5 * t)
        if not accepted:
            message = "line search cannot decrease the function"
            success = bool(np.max(np.abs(g)) <= 1e-4)
            break
        s = xn - x
        yv = gn - g
        sy = float(s @ yv)
        if sy > 1e-12 * np.linalg.norm(s) * np.linalg.norm(yv):
            if first:
                Hinv = (sy / float(yv @ yv)) * eye
            rho = 1.0 / sy
            V = eye - rho * np.outer(s, yv)
            Hinv = V @ Hinv @ V.T + rho * np.outer(s, s)
            first = False
        decrease = f - fn
        x, f, g = xn, fn, gn
        if decrease <= ftol * max(1.0, abs(f)):
            stall += 1
            if stall >= 2:
                message, success = "relative reduction of the function below ftol", True
                break
        else:
            stall = 0
    return BFGSResult(x=x, fun=float(f), grad=np.asarray(g), nit=nit, nfev=nfev,
                      success=success, message=message, hinv=Hinv)

r"""Finite-difference derivatives and Newton polishing, shared by ``lmer`` and ``glmer``.

After the quasi-Newton optimiser (:func:`mlmice.mixed.optim.bfgs`) both model
classes take a few Newton steps with a finite-difference Hessian to reach the
optimum to machine precision, and use that Hessian for lme4's convergence check
(``checkConv``) and, in ``glmer``, for the standard errors. lme4 computes the same
Hessian with ``deriv12`` (central differences, step :math:`10^{-4}`).

References
----------
Bates, D., Maechler, M., Bolker, B. and Walker, S. (2015). Fitting linear mixed-effects
models using lme4. *JSS* 67(1), section 5.
Nocedal, J. and Wright, S. J. (2006). *Numerical Optimization*, 2nd ed., sections 3.3
(Newton's method) and 8.1 (finite-difference derivatives).
"""

from __future__ import annotations

import numpy as np

__all__ = ["DERIV_DELTA", "central_gradient", "hessian", "hessian_of_gradient",
           "newton_polish", "vcov_from_hessian"]

DERIV_DELTA = 1e-4       # lme4: deriv12 delta


def central_gradient(f, x: np.ndarray, h: float) -> np.ndarray:
    r"""Central-difference gradient, relative step :math:`h\max(1, |x_i|)`."""
    g = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h * max(1.0, abs(x[i]))
        g[i] = (f(x + e) - f(x - e)) / (2.0 * e[i])
    return g


def hessian(f, x: np.ndarray, h: float = DERIV_DELTA) -> tuple[np.ndarray, np.ndarray]:
    """Central-difference gradient and Hessian of a function value (lme4's ``deriv12``)."""
    k = x.size
    f0 = f(x)
    H = np.empty((k, k))
    fp = np.empty(k)
    fm = np.empty(k)
    for i in range(k):
        e = np.zeros(k)
        e[i] = h
        fp[i], fm[i] = f(x + e), f(x - e)
        H[i, i] = (fp[i] - 2.0 * f0 + fm[i]) / h**2
    for i in range(k):
        for j in range(i + 1, k):
            ei = np.zeros(k)
            ej = np.zeros(k)
            ei[i] = h
            ej[j] = h
            H[i, j] = H[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej)
                                 + f(x - ei - ej)) / (4.0 * h**2)
    return (fp - fm) / (2.0 * h), H


def hessian_of_gradient(grad, x: np.ndarray, h: float = DERIV_DELTA) -> np.ndarray:
    """Symmetrised central differences of an exact gradient ``grad(x)``."""
    k = x.size
    H = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = h
        H[:, i] = (grad(x + e) - grad(x - e)) / (2.0 * h)
    return 0.5 * (H + H.T)


def newton_polish(evaluate, x: np.ndarray, value: float, grad: np.ndarray, H: np.ndarray, *,
                  max_steps: int, gtol: float, lower: np.ndarray | None = None,
                  refresh=None, abs_tol: float = 0.0, rel_tol: float = 0.0):
    r"""Newton steps :math:`x \leftarrow x - H^{-1}g`, each kept only if the value does not rise.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(x) -> (value, gradient, payload)``; a ``LinAlgError`` stops.
    x, value, grad, H
        The start, its value, gradient and Hessian.
    max_steps : int
    gtol : float
        Stop when the largest free gradient entry is below this.
    lower : ndarray, optional
        Bounds: coordinates within 1e-8 of theirs are held fixed and steps are
        projected onto them (lmer's diagonal of Lambda).
    refresh : callable, optional
        ``refresh(x) -> (gradient, Hessian)`` after every accepted step (glmer);
        without it the Hessian is kept and the gradient taken from ``evaluate``.
    abs_tol, rel_tol : float
        A step is accepted when ``new <= value + abs_tol + rel_tol * |value|``.

    Returns
    -------
    x, value, grad, H, payload, n_evaluations, n_accepted
        ``payload`` of the last accepted step (None when none was).
    """
    payload = None
    n_eval = n_accepted = 0
    for _ in range(max_steps):
        free = (np.ones(x.size, dtype=bool) if lower is None
                else ~(np.isfinite(lower) & (x - lower < 1e-8)))
        if not np.any(free) or np.max(np.abs(grad[free])) < gtol:
            break
        Hf = H[np.ix_(free, free)]
        try:
            np.linalg.cholesky(Hf)
            step = np.zeros_like(grad)
            step[free] = np.linalg.solve(Hf, grad[free])
        except np.linalg.LinAlgError:
            break
        new_x = x - step if lower is None else np.maximum(x - step, lower)
        try:
            new_value, new_grad, new_payload = evaluate(new_x)
        except np.linalg.LinAlgError:
            break
        n_eval += 1
        if not new_value <= value + abs_tol + rel_tol * abs(value):
            break
        x, value, grad, payload = new_x, new_value, new_grad, new_payload
        n_accepted += 1
        if refresh is not None:
            grad, H = refresh(x)
    return x, value, grad, H, payload, n_eval, n_accepted


def vcov_from_hessian(H: np.ndarray, k: int) -> np.ndarray:
    r"""Covariance of beta, :math:`[(H/2)^{-1}]_{\beta\beta}`, from the deviance Hessian.

    ``H`` is the Hessian in :math:`(\theta, \beta)`, :math:`\theta` first (``k`` of
    them). When it is not positive definite (a boundary fit), the beta block alone is
    used, :math:`(H_{\beta\beta}/2)^{-1}` (beta's covariance at the estimated theta),
    as lme4 falls back to when its Hessian-based covariance is not positive definite.
    """
    for block in (H, H[k:, k:]):
        try:
            np.linalg.cholesky(0.5 * (block + block.T))
        except np.linalg.LinAlgError:
            continue
        inv = np.linalg.inv(block)
        v = 2.0 * (inv[k:, k:] if block.shape == H.shape else inv)
        return 0.5 * (v + v.T)
    return np.full((H.shape[0] - k, H.shape[0] - k), np.nan)

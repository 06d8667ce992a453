"""Helpers shared by the two-level continuous methods (options, start values, final draws)."""

from __future__ import annotations

import numbers

import numpy as np

from mlmice._validation import check_scalar
from mlmice.impute.methods._lmm_fit import fit_problem
from mlmice.impute.methods._two_level_stats import TwoLevelProblem
from mlmice.impute.methods.base import STATE_NAME_SEP as _SEP
from mlmice.impute.methods.base import MethodResult


def get_n_iter(options: dict, default: int, *, aliases: tuple[str, ...] = (),
               variable: str = "y", key: str = "n_iter") -> int:
    """Read a number of Gibbs iterations (option ``key`` or an alias) from the options."""
    for name in (key, *aliases):
        if name in options:
            return check_scalar(options[name], f"{variable}: option {name}",
                                kind=numbers.Integral, min_val=1)
    return default


def constant_result(problem: TwoLevelProblem, method: str) -> MethodResult | None:
    """Impute the constant when every observed value is the same (logged), else None."""
    if np.ptp(problem.y_obs) > 0:
        return None
    value = float(problem.y_obs[0])
    return MethodResult(values=np.full(int(problem.wy.sum()), value),
                        events=[*problem.events,
                                f"{method}: all observed values equal {value}; imputed that value"])


def start_values(problem: TwoLevelProblem) -> tuple[float, np.ndarray]:
    """REML estimates of :math:`\\sigma^2` and :math:`\\Psi` (standardised), Psi kept positive."""
    est = fit_problem(problem, reml=True, tol=1e-5)
    q = problem.q
    sigma2 = max(est.sigma2, 1e-8)
    # keep Psi invertible: the Gibbs step needs Psi^{-1}; 1e-4 of the target's variance
    psi = est.psi + 1e-4 * np.eye(q)
    return sigma2, psi


def carried_variances(problem: TwoLevelProblem, state: dict | None
                      ) -> tuple[float, np.ndarray] | None:
    """The previous call's draw of :math:`(\\sigma^2, \\Psi)`, if it fits this call's model.

    It fits when the random effects are the same columns (by name); it is rescaled to
    this call's standardisation of the target. Otherwise (or at the first call) None,
    and the sampler starts at the REML estimates (:func:`start_values`).
    """
    ratio = state_scale_ratio(problem, state)
    if ratio is None:
        return None
    try:
        sigma2, psi = float(state["sigma2"]), np.asarray(state["psi"], dtype=float)
    except (KeyError, TypeError, ValueError):
        return None
    if (psi.shape != (problem.q, problem.q) or not np.all(np.isfinite(psi))
            or not (np.isfinite(sigma2) and sigma2 > 0)):
        return None
    return sigma2 * ratio, psi * ratio


def state_scale_ratio(problem: TwoLevelProblem, state: dict | None) -> float | None:
    """The factor that puts a state's variances on this call's scale of the target.

    :math:`(s_{old}/s_{new})^2`; None when there is no state or it was made for other
    random effects (by name).
    """
    if not state or state.get("z_names") != _SEP.join(problem.z_names):
        return None
    try:
        ratio = (float(state["scale"]) / problem.scale) ** 2
    except (KeyError, TypeError, ValueError):
        return None
    return ratio if np.isfinite(ratio) and ratio > 0 else None


def variance_state(problem: TwoLevelProblem, sigma2: float, psi: np.ndarray, **more) -> dict:
    """The state :func:`carried_variances` reads back at the next call (and ``more``)."""
    return {"sigma2": float(sigma2), "psi": np.asarray(psi, dtype=float),
            "scale": float(problem.scale), "z_names": _SEP.join(problem.z_names), **more}


def impute_rows(problem: TwoLevelProblem, beta: np.ndarray, b: np.ndarray,
                sigma2_cluster: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw :math:`y = X\\beta + Z b_j + e` for the rows ``wy``; back on the raw scale."""
    wy = problem.wy
    mean = problem.fitted(beta, b, wy)
    sd = np.sqrt(sigma2_cluster[problem.cluster[wy]])
    ys = mean + sd * rng.standard_normal(mean.size)
    return problem.center + problem.scale * ys

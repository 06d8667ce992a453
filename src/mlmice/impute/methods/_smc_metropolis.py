"""Independence Metropolis-Hastings step for substantive-model-compatible imputation.

For one incomplete level-1 covariate :math:`x` the full conditional of a
missing value :math:`x_{ij}` in the joint model
:math:`p(y \\mid x, w, \\theta)\\, p(x \\mid w, \\gamma)` is

.. math::

    \\pi(x_{ij}) \\propto q(x_{ij}) \\, L(x_{ij}), \\qquad
    q = N(w_{ij}^\\top \\gamma + u_j, \\tau^2), \\qquad
    L(x_{ij}) = N(y_{ij};\\ x_{ij}(x)^\\top \\beta + z_{ij}(x)^\\top b_j,\\ \\sigma^2),

where :math:`q` is the covariate model (the proposal) and :math:`L` the
substantive model's likelihood of the current outcome given the candidate
value (the design rows :math:`x_{ij}(x), z_{ij}(x)` are recomputed with the
candidate, so products such as :math:`x \\cdot \\text{experience}` and random
slopes on :math:`x` enter exactly). With the proposal equal to :math:`q`, the
Metropolis-Hastings ratio of the independence sampler reduces to the
likelihood ratio:

.. math::

    \\alpha = \\min\\{1,\\ L(x^*) / L(x^{(t)})\\}

(Tierney 1994, section 2.3.3; the sampler of Erler et al. 2016 and of
Lüdtke, Robitzsch and West 2020's ``mdmb``). Rows are independent given
the parameters and random effects, so all rows take their steps at once.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def metropolis_independence(x: np.ndarray, proposal_mean: np.ndarray, proposal_sd: float,
                            loglik: Callable[[np.ndarray], np.ndarray], *, n_steps: int,
                            rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Run ``n_steps`` independence Metropolis-Hastings steps for every row at once.

    Parameters
    ----------
    x : ndarray (k,)
        Current values (the chain's state).
    proposal_mean : ndarray (k,)
        Mean of the normal proposal (the covariate model) per row.
    proposal_sd : float
        Its standard deviation.
    loglik : callable
        ``loglik(values) -> ndarray (k,)``: log-likelihood of the substantive
        model per row at candidate ``values`` (constants may be dropped).
    n_steps : int
        Number of steps (each row proposes once per step).
    rng : numpy.random.Generator

    Returns
    -------
    x : ndarray (k,)
        The state after the last step.
    acceptance : float
        Fraction of accepted proposals over all rows and steps (nan for k = 0).
    """
    x = np.array(x, dtype=float)
    if x.size == 0:
        return x, float("nan")
    current = loglik(x)
    accepted = 0
    for _ in range(n_steps):
        cand = proposal_mean + proposal_sd * rng.standard_normal(x.size)
        new = loglik(cand)
        accept = np.log(rng.uniform(size=x.size)) < new - current
        x = np.where(accept, cand, x)
        current = np.where(accept, new, current)
        accepted += int(accept.sum())
    return x, accepted / (x.size * n_steps)

"""Auxiliary-variable models of ``2l.smc`` (option ``auxiliary``).

An auxiliary variable :math:`a` (not in the substantive model, but
informative about the missing values, e.g. a teacher's assessment of a
pupil's popularity) enters the joint model AFTER the outcome in the
sequential factorisation,

.. math::

    p(y, x, a \\mid w) = p(y \\mid x, w, \\theta)\\, p(x \\mid w, \\gamma)\\,
    \\prod_a p(a \\mid y, x, w, \\eta_a),

with :math:`a_{ij} = \\eta_0 + \\eta_y y_{ij} + \\eta_x^\\top (x_{ij}, w_{ij}) +
c_j + \\epsilon_{ij}`, :math:`c_j \\sim N(0, \\kappa)`, :math:`\\epsilon_{ij} \\sim
N(0, \\omega^2)` (main effects of the substantive model's variables, a random
intercept). The substantive model stays the conditional of :math:`y` given
its covariates, and the auxiliary's likelihood :math:`p(a_{ij} \\mid y_{ij},
x_{ij}, \\cdot)` joins the Metropolis-Hastings acceptance ratio of every
missing value of :math:`y` or :math:`x` (Enders, Du and Keller 2020, section
"auxiliary variables"). The parameters are drawn, like the others, by the
Gibbs sampler of ``2l.pan`` given the completed data.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mlmice.impute.methods._two_level_stats import prepare_problem
from mlmice.impute.methods._variance_prior import DEFAULT_PRIOR
from mlmice.impute.methods.base import MethodInput
from mlmice.impute.methods.two_level_pan import pan_gibbs


class AuxiliaryDraw:
    """One posterior draw of the models of the auxiliary variables.

    Parameters
    ----------
    data : MethodInput
        The imputation step's input (for the cluster and the options).
    values : dict
        Variable name -> current completed values (n,) of the auxiliaries and
        of the substantive model's variables.
    auxiliary : sequence of str
    predictors : sequence of str
        The substantive model's variables (outcome first).
    rows : ndarray of bool (n,)
        The rows whose likelihood :meth:`loglik` evaluates.
    n_iter : int
        Gibbs iterations per auxiliary model.
    rng : numpy.random.Generator
    method : str
        Method name (for messages).
    prior : {"flat-variances", "flat", "mice"}
        Prior of the variance parameters (:mod:`._variance_prior`).
    """

    def __init__(self, data: MethodInput, values: dict[str, np.ndarray], auxiliary,
                 predictors, rows: np.ndarray, *, n_iter: int, rng: np.random.Generator,
                 method: str, prior: str = DEFAULT_PRIOR):
        n = rows.size
        everything = np.ones(n, dtype=bool)
        preds = list(predictors)
        X = np.column_stack([values[v] for v in preds])
        self.terms = []
        self.events: list[str] = []
        for a in auxiliary:
            sub = replace(data, variable=a, y=values[a], ry=everything, wy=rows,
                          x=np.ascontiguousarray(X), names=tuple(preds),
                          codes=np.ones(len(preds), dtype=int), options={})
            problem = prepare_problem(sub, method=method)
            gamma, c, omega2, _psi = pan_gibbs(problem, rng, n_iter=n_iter, prior=prior,
                                              method=method)
            coef = problem.scale * gamma
            coef[0] += problem.center
            offset = problem.scale * c[data.cluster[rows], 0]
            self.terms.append((values[a][rows], problem.x_names[1:], coef, offset,
                               problem.scale ** 2 * omega2))
            self.events.extend(problem.events)

    def loglik(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        """Summed log-likelihood of the auxiliaries per row (constants dropped).

        ``columns`` maps each substantive-model variable to its (candidate)
        values on ``rows``.
        """
        total = 0.0
        for a_rows, names, coef, offset, var in self.terms:
            mean = coef[0] + offset
            for nm, g in zip(names, coef[1:], strict=True):
                mean = mean + g * columns[nm]
            total = total - 0.5 * (a_rows - mean) ** 2 / var
        return total

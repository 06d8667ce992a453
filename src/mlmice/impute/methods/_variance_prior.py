"""Priors of the variance parameters of the two-level Gibbs samplers (``2l.pan``, ``2l.smc``).

The samplers work on the standardised target :math:`y^s = (y - m) / s`
(:mod:`._two_level_stats`); the predictors keep their units. Both priors
below are conjugate,

.. math::

    \\Psi \\sim W^{-1}_q(c, D^{-1}), \\qquad \\sigma^2 \\sim W^{-1}_1(a, B^{-1}),

so the full conditionals are :math:`\\Psi \\mid b \\sim W^{-1}_q(c + J,\\ D^{-1}
+ \\sum_j b_j b_j^\\top)` and :math:`\\sigma^2 \\mid \\cdot = (B^{-1} + \\mathrm{SS})
/ \\chi^2_{a + n}` (Schafer and Yucel 2002), with the hyperparameters given
here on the standardised scale.

``"flat-variances"`` (the default)
    :math:`p(\\Psi) \\propto |\\Psi|^{-k}` with :math:`k = 1/2` for two or
    more random effects and :math:`k = 0` for one (:math:`c = 2k - q - 1 =
    -\\max(2, q)`, :math:`D^{-1} = 0`), and :math:`p(\\sigma^2) \\propto
    \\sigma^{-2}`. Why not uniform on :math:`\\Psi`: given the other elements,
    a prior :math:`|\\Psi|^{-k}` on a :math:`q \\times q` matrix gives each
    variance the marginal prior :math:`\\tau_{ll}^{(q-1)/2 - k}` once its
    covariances are integrated out (write :math:`|\\Psi| = (\\tau_{ll} - v^\\top
    \\Psi_{-l}^{-1} v)|\\Psi_{-l}|` and substitute :math:`v = \\sqrt{\\tau_{ll}}\\,
    w`). The uniform prior (:math:`k = 0`) thus puts :math:`\\tau^{1/2}` on each
    variance of a random-intercept-and-slope model, a tilt towards large
    variances that matters exactly where the data identify a variance weakly.
    :math:`k = 1/2` makes each variance's prior flat for :math:`q = 2` (and
    equals ``"flat"`` for :math:`q = 1`); :math:`k \\geq 1` would make the
    posterior improper near a singular :math:`\\Psi` (the likelihood does not
    vanish there), so for :math:`q \\geq 3` the prior keeps :math:`k = 1/2`,
    which halves the uniform prior's tilt. Evidence (``bench/slope_reliability.py
    --priors``, 300 replicates, only the outcome missing completely at random,
    2l.smc; paired excess of the pooled slope variance over the observed-data ML
    estimate): at slope reliabilities 0.28, 0.16 and 0.09 the uniform prior adds
    11.2, 20.4 and 28.0 % of the complete-data value, this one 7.8, 15.7 and
    22.5 %; the intercept variance moves 0.5-1 % closer to the complete data.
    No scale matrix either, so the draws are equivariant under any change of
    unit of ``y`` and of every predictor; the posterior is proper for
    :math:`J > 2q` clusters.

``"flat"``
    :math:`p(\\Psi) \\propto 1` on the positive-definite matrices (:math:`c =
    -(q + 1)`, :math:`D^{-1} = 0`) and :math:`p(\\sigma^2) \\propto
    \\sigma^{-2}` (:math:`a = 0`, :math:`B^{-1} = 0`): the default of mlmice
    0.2. The uniform prior on :math:`\\Psi` is the one of mice's ``2l.norm``
    (Kasim and Raudenbush 1998); the posterior is proper for :math:`J > 2q`
    clusters. Its posterior mean :math:`E[\\Psi \\mid b] = S / (J - 2q - 2)`
    lies above the scatter's average :math:`S / J` by a factor
    :math:`J / (J - 2q - 2)` (1.06 for 100 clusters and a random slope).

``"mice"``
    pan's prior as R's ``mice.impute.2l.pan`` passes it, in the **raw** units
    of ``y`` and of the predictors: :math:`a = 1, B^{-1} = 1, c = q, D^{-1} =
    I_q`. On the standardised scale that is :math:`B^{-1} = 1 / s^2` and
    :math:`D^{-1} = I_q / s^2`. For exact parity with R. The identity scale
    matrix adds 1 (raw unit) to the scatter of the random effects, which
    dominates a variance component that is small in the raw unit: on the
    tutorial's popularity data (slope variance 0.0047, 100 classes) it
    roughly doubles the imputation model's slope variance, in R as here.

Why not pan's prior on the standardised scale (mlmice 0.1): the
identity matrix is then small for the intercept variance but not for a
random slope, whose scale depends on the predictor's unit as well; on real
data (216 schools, outcome sd 9, slope variance 0.2) it inflated the pooled
slope variance by 22 % against R mice.

What the validity study (``bench/validity.py``, ``docs/validity.md``) shows
with the default: intercept variances and ICCs within 5 % of the
complete-data fit in every design; a random-slope variance that the data
identify weakly (cluster slopes of reliability 0.1-0.2) still comes out
+11 % (2l.smc, the tutorial design) to +37 % (a slope variance small against
the residual variance). ``bench/slope_reliability.py`` traces this to the
posterior's right skew carried into proper imputations (with the parameters
fixed at the truth the imputations are unbiased); pilots (docs/validity.md)
found no prior that removes it: scale-free priors with more mass near zero
approach impropriety there, and an inverse-Wishart prior centred on the REML
estimate halves it at most.

References
----------
Schafer, J. L. and Yucel, R. M. (2002). Computational strategies for
multivariate linear mixed-effects models with missing values. JCGS, 11(2),
437-457.

Kasim, R. M. and Raudenbush, S. W. (1998). Application of Gibbs sampling to
nested variance components models with heterogeneous within-group variance.
JEBS, 23(2), 93-116.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlmice.impute.methods._lmm_draws import draw_inverse_wishart

PRIORS = ("flat-variances", "flat", "mice")
DEFAULT_PRIOR = "flat-variances"


@dataclass(frozen=True)
class VariancePrior:
    """Conjugate prior of :math:`(\\sigma^2, \\Psi)` on the standardised scale.

    Attributes
    ----------
    kind : str
        ``"flat-variances"``, ``"flat"`` or ``"mice"`` (see the module docstring).
    a, binv : float
        :math:`\\sigma^2 \\sim W^{-1}_1(a, B^{-1})`.
    c : float
        Degrees of freedom of :math:`\\Psi \\sim W^{-1}_q(c, D^{-1})`.
    dinv : ndarray (q, q)
    """

    kind: str
    a: float
    binv: float
    c: float
    dinv: np.ndarray

    def draw_psi(self, b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """:math:`\\Psi \\mid b \\sim W^{-1}_q(c + J, D^{-1} + b^\\top b)` for ``b`` (J, q)."""
        return draw_inverse_wishart(self.c + b.shape[0], self.dinv + b.T @ b, rng)

    def draw_sigma2(self, ss: float, n_obs: int, rng: np.random.Generator) -> float:
        """:math:`\\sigma^2 \\mid \\cdot = (B^{-1} + \\mathrm{SS}) / \\chi^2_{a + n}`."""
        return (self.binv + ss) / rng.chisquare(self.a + n_obs)


def variance_prior(kind: str, *, q: int, scale: float, n_clusters: int,
                   variable: str = "y", method: str = "2l.pan") -> VariancePrior:
    """The prior ``kind`` for ``q`` random effects, on a target standardised by ``scale``.

    Parameters
    ----------
    kind : {"flat-variances", "flat", "mice"}
    q : int
        Number of random effects.
    scale : float
        Standard deviation :math:`s` the target was divided by.
    n_clusters : int
        :math:`J`; the scale-free priors need :math:`J > 2q`.
    variable, method : str
        For messages.

    Raises
    ------
    ValueError
        An unknown ``kind`` (naming the option and the choices), or too few
        clusters for a scale-free prior.
    """
    _check_kind(kind, variable=variable, method=method)
    if kind == "mice":
        s2 = float(scale) ** 2
        return VariancePrior(kind=kind, a=1.0, binv=1.0 / s2, c=float(q),
                             dinv=np.eye(q) / s2)
    if n_clusters <= 2 * q:
        raise ValueError(f"{variable}: method {method} with prior {kind!r} needs more than "
                         f"{2 * q} clusters for {q} random effects, found {n_clusters}; "
                         "use fewer random slopes or prior: mice")
    c = -(q + 1.0) if kind == "flat" else -float(max(2, q))
    return VariancePrior(kind=kind, a=0.0, binv=0.0, c=c, dinv=np.zeros((q, q)))


def get_prior_kind(options: dict, *, variable: str, method: str,
                   default: str = DEFAULT_PRIOR, choices: tuple[str, ...] = PRIORS) -> str:
    """Read option ``prior`` (default ``default``), checked against ``choices``."""
    kind = options.get("prior", default)
    _check_kind(kind, variable=variable, method=method, choices=choices)
    return kind


def _check_kind(kind, *, variable: str, method: str, choices: tuple[str, ...] = PRIORS) -> None:
    if kind not in choices:
        raise ValueError(f"{variable}: option prior == {kind!r} of method {method}, must be "
                         f"one of {choices}")

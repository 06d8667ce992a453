r"""The embedded default data: a popularity-like two-level data set.

The pipeline runs on this when the user gives no file (the project does not
copy the tutorial's files). Pupils :math:`i` in classes :math:`j` follow the
tutorial's most general model (Hox, Moerbeek and van de Schoot 2017, eq.
2.12), a random intercept and a random extraversion slope with a cross-level
interaction:

.. math::

    \text{popularity}_{ij} = \gamma_{00} + \gamma_{10}\,\text{gender}_{ij}
        + \gamma_{20}\,\text{extraversion}_{ij} + \gamma_{01}\,\text{experience}_j
        + \gamma_{21}\,\text{extraversion}_{ij}\,\text{experience}_j
        + u_{0j} + u_{2j}\,\text{extraversion}_{ij} + e_{ij},

with :math:`(u_{0j}, u_{2j}) \sim N(0, T)` and :math:`e_{ij} \sim N(0,
\sigma^2)`. The default parameters are the lme4 ML estimates of this model on
the tutorial's complete data (``lme4_popular.json``, truth/interaction),
rounded to three significant digits.

Covariates mimic the tutorial's data: gender ~ Bernoulli(1/2) (0 = boy,
1 = girl); extraversion on the integer 1-10 scale, a rounded and clipped
normal with a class component (between-class variance 0.40, within 1.12,
mean 5.2); teacher experience in whole years, uniform on 2..25. The auxiliary
teacher assessment is correlated with popularity:

.. math::

    a^*_{ij} = \alpha_0 + \alpha_1 \text{popularity}_{ij} + \alpha_2 \text{gender}_{ij}
        + \alpha_3 \text{extraversion}_{ij} + v_j + r_{ij},

rounded and clipped to the integer 1-10 scale like the tutorial's
``assessment_ij`` (so its parameters describe the latent :math:`a^*`).
Popularity is not rounded: the regression parameters above are exact.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from mlmice._validation import check_random_state, check_scalar

__all__ = ["PopularityParams", "SimulationResult", "simulate_popularity"]

TERMS = ("(Intercept)", "gender_ij", "extraversion_ij", "experience_j",
         "extraversion_ij:experience_j")
COLUMNS = ("unit_id", "cluster_id", "popularity_ij", "gender_ij", "extraversion_ij",
           "experience_j", "assessment_ij")


@dataclass(frozen=True)
class PopularityParams:
    """True population parameters of :func:`simulate_popularity`.

    Popularity model (lme4 names): ``gamma`` (fixed effects in the order of
    :data:`TERMS`), ``tau_intercept`` and ``tau_slope`` (random intercept and
    extraversion-slope variances), ``tau_cov`` (their covariance), ``sigma2``
    (residual variance). Covariates: ``p_girl``; extraversion
    ``extraversion_mean``, ``extraversion_var_between``,
    ``extraversion_var_within`` (of the latent normal before rounding);
    ``experience_min``/``experience_max`` (uniform whole years). Assessment
    (latent, before rounding): ``alpha`` (intercept, popularity, gender,
    extraversion), ``assessment_var_between``, ``assessment_var_within``.
    """

    gamma: tuple[float, ...] = (-1.21, 1.24, 0.803, 0.226, -0.0247)
    tau_intercept: float = 0.454
    tau_slope: float = 0.00470
    tau_cov: float = -0.0290
    sigma2: float = 0.553
    p_girl: float = 0.5
    extraversion_mean: float = 5.2
    extraversion_var_between: float = 0.40
    extraversion_var_within: float = 1.12
    experience_min: int = 2
    experience_max: int = 25
    alpha: tuple[float, ...] = (0.77, 0.657, 0.417, 0.143)
    assessment_var_between: float = 0.069
    assessment_var_within: float = 0.42

    def __post_init__(self):
        if len(self.gamma) != len(TERMS):
            raise ValueError(f"gamma has {len(self.gamma)} values, needs {len(TERMS)} "
                             f"({', '.join(TERMS)})")
        if len(self.alpha) != 4:
            raise ValueError(f"alpha has {len(self.alpha)} values, needs 4")
        cov = self.random_cov.to_numpy()
        if np.any(np.linalg.eigvalsh(cov) < 0):
            raise ValueError(f"tau_intercept == {self.tau_intercept}, tau_slope == "
                             f"{self.tau_slope}, tau_cov == {self.tau_cov} do not form a "
                             "positive semi-definite covariance matrix")
        for name in ("sigma2", "extraversion_var_between", "extraversion_var_within",
                     "assessment_var_between", "assessment_var_within"):
            check_scalar(getattr(self, name), name, min_val=0.0)
        check_scalar(self.p_girl, "p_girl", min_val=0.0, max_val=1.0)

    @property
    def fixef(self) -> pd.Series:
        """Fixed effects by lme4 term name."""
        return pd.Series(self.gamma, index=list(TERMS), name="fixef", dtype=float)

    @property
    def random_cov(self) -> pd.DataFrame:
        """Covariance matrix T of (random intercept, random extraversion slope)."""
        names = ["(Intercept)", "extraversion_ij"]
        return pd.DataFrame([[self.tau_intercept, self.tau_cov],
                             [self.tau_cov, self.tau_slope]], index=names, columns=names)

    @property
    def varcorr(self) -> pd.DataFrame:
        """Variance components like R's ``as.data.frame(VarCorr(fit))``."""
        sd0, sd1 = np.sqrt(self.tau_intercept), np.sqrt(self.tau_slope)
        corr = self.tau_cov / (sd0 * sd1) if sd0 * sd1 > 0 else np.nan
        return pd.DataFrame({
            "grp": ["cluster_id", "cluster_id", "cluster_id", "Residual"],
            "var1": ["(Intercept)", "extraversion_ij", "(Intercept)", None],
            "var2": [None, None, "extraversion_ij", None],
            "vcov": [self.tau_intercept, self.tau_slope, self.tau_cov, self.sigma2],
            "sdcor": [sd0, sd1, corr, np.sqrt(self.sigma2)],
        })

    def to_dict(self) -> dict:
        """JSON-able dict of the parameters."""
        d = asdict(self)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


@dataclass(frozen=True)
class SimulationResult:
    """What :func:`simulate_popularity` returns: the data and the truth."""

    data: pd.DataFrame
    params: PopularityParams
    seed: int | None = None


def simulate_popularity(n_clusters: int = 100, cluster_size: int | Sequence[int] = 20,
                        seed=1, *, params: PopularityParams | None = None) -> SimulationResult:
    """Simulate a popularity-like two-level data set (see the module docstring).

    Parameters
    ----------
    n_clusters : int
        Number of classes.
    cluster_size : int or sequence of int
        Pupils per class: one number for all classes or one per class.
    seed : int, SeedSequence or Generator
        Fully determines the data (see :func:`mlmice._validation.check_random_state`).
    params : PopularityParams, optional
        The true parameters; the defaults are close to lme4's fit of the
        interaction model on the tutorial's complete data.

    Returns
    -------
    SimulationResult
        ``.data``: columns ``unit_id`` (pupil within class, 1..), ``cluster_id``
        (1..n_clusters), ``popularity_ij``, ``gender_ij`` (0 = boy, 1 = girl),
        ``extraversion_ij`` (integer 1-10), ``experience_j`` (whole years),
        ``assessment_ij`` (integer 1-10), analysis columns float64, with
        ``attrs["labels"]`` and ``attrs["roles"]`` as :func:`mlmice.read_data`
        sets them. ``.params``: the :class:`PopularityParams` used.

    References
    ----------
    Hox, J. J., Moerbeek, M. and van de Schoot, R. (2017). Multilevel Analysis:
    Techniques and Applications, 3rd ed., ch. 2. Routledge.
    """
    check_scalar(n_clusters, "n_clusters", kind=numbers.Integral, min_val=1)
    if isinstance(cluster_size, numbers.Integral) and not isinstance(cluster_size, bool):
        check_scalar(cluster_size, "cluster_size", kind=numbers.Integral, min_val=1)
        sizes = np.full(int(n_clusters), int(cluster_size))
    else:
        sizes = np.asarray(cluster_size)
        if sizes.shape != (n_clusters,) or not np.issubdtype(sizes.dtype, np.integer):
            raise ValueError(f"cluster_size must be an int or {n_clusters} ints (one per "
                             f"cluster), got {cluster_size!r}")
        if np.any(sizes < 1):
            raise ValueError(f"cluster_size has a cluster of size {sizes.min()}, must be >= 1")
    if params is not None and not isinstance(params, PopularityParams):
        raise TypeError(f"params must be a PopularityParams, got {type(params).__name__}; "
                        "e.g. dataclasses.replace(PopularityParams(), sigma2=1.0)")
    p = PopularityParams() if params is None else params
    rng = check_random_state(seed)
    J, N = int(n_clusters), int(sizes.sum())
    cl = np.repeat(np.arange(J), sizes)
    unit = np.arange(N) - np.repeat(np.cumsum(sizes) - sizes, sizes) + 1

    # level 2: teacher experience, class share of extraversion, random effects
    experience = rng.integers(p.experience_min, p.experience_max + 1, size=J).astype(float)
    extrav_class = rng.normal(0.0, np.sqrt(p.extraversion_var_between), size=J)
    u = rng.multivariate_normal(np.zeros(2), p.random_cov.to_numpy(), size=J,
                                method="cholesky" if p.tau_slope > 0 else "eigh")
    v = rng.normal(0.0, np.sqrt(p.assessment_var_between), size=J)
    # level 1
    gender = (rng.random(N) < p.p_girl).astype(float)
    latent = p.extraversion_mean + extrav_class[cl] + rng.normal(
        0.0, np.sqrt(p.extraversion_var_within), size=N)
    extrav = np.clip(np.round(latent), 1, 10)
    exp_i = experience[cl]
    g = p.gamma
    popularity = (g[0] + g[1] * gender + g[2] * extrav + g[3] * exp_i + g[4] * extrav * exp_i
                  + u[cl, 0] + u[cl, 1] * extrav
                  + rng.normal(0.0, np.sqrt(p.sigma2), size=N))
    a = p.alpha
    assess = (a[0] + a[1] * popularity + a[2] * gender + a[3] * extrav + v[cl]
              + rng.normal(0.0, np.sqrt(p.assessment_var_within), size=N))
    assess = np.clip(np.round(assess), 1, 10)

    df = pd.DataFrame({"unit_id": unit.astype(np.int64), "cluster_id": (cl + 1).astype(np.int64),
                       "popularity_ij": popularity, "gender_ij": gender,
                       "extraversion_ij": extrav, "experience_j": exp_i,
                       "assessment_ij": assess})
    df.attrs["labels"] = {"gender_ij": {0: "boy", 1: "girl"}}
    df.attrs["roles"] = {"cluster": "cluster_id", "id": "unit_id",
                         "level1": ["popularity_ij", "gender_ij", "extraversion_ij",
                                    "assessment_ij"],
                         "level2": ["experience_j"], "binary": ["gender_ij"]}
    return SimulationResult(data=df, params=p,
                            seed=seed if isinstance(seed, numbers.Integral) else None)

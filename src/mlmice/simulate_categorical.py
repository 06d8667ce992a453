r"""Two-level data with categorical variables at both levels, for validating their imputation.

:func:`simulate_tracks` draws pupils in schools with

* ``x_ij``: a continuous pupil variable, :math:`x_{ij} = a_j + e_{ij}`,
  :math:`a_j \sim N(0, 0.3)`, :math:`e_{ij} \sim N(0, 0.7)`;
* ``school_j``: a nominal school type (``"academic"``, ``"general"``,
  ``"vocational"``), drawn per school from a multinomial logit in the school's
  mean of ``x``: log-odds against ``"academic"`` of :math:`-0.2 - 1.0\,a_j` and
  :math:`-0.6 - 1.5\,a_j`;
* ``track_ij``: an ordinal pupil variable (``"low" < "middle" < "high" <
  "top"``) from a cumulative probit, :math:`t^*_{ij} = 0.8\,x_{ij} +
  0.3\,[\text{vocational}] + v_j + \varepsilon_{ij}`, :math:`v_j \sim N(0, 0.4)`,
  :math:`\varepsilon \sim N(0, 1)`, cut at :math:`-0.8, 0.3, 1.2`;
* ``y_ij``: the outcome of the analysis model

  .. math:: y_{ij} = \beta_0 + \beta^\top d(\text{track}_{ij}) + \beta_x x_{ij}
            + \beta_s^\top d(\text{school}_j) + u_j + r_{ij},

  with treatment dummies :math:`d` (reference ``"low"`` and ``"academic"``),
  :math:`\beta_0 = 1`, track effects 0.5, 1.0, 1.6, :math:`\beta_x = 0.3`, school
  effects -0.4 and -0.8, :math:`u_j \sim N(0, 0.25)`, :math:`r_{ij} \sim N(0, 1)`.

:data:`TRACKS_MODEL` is that analysis model in lme4 syntax and
:func:`tracks_truth` its parameters under the names mlmice's fits use. It is the
design of ``bench/categorical_validity.py`` (docs/validity.md, "Categorical
variables").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlmice._validation import check_random_state, check_scalar

__all__ = ["TRACKS_MODEL", "simulate_tracks", "tracks_truth"]

TRACKS_MODEL = "y ~ track + x + school + (1 | cluster_id)"
TRACKS = ["low", "middle", "high", "top"]
SCHOOLS = ["academic", "general", "vocational"]
_CUTS = np.array([-0.8, 0.3, 1.2])
_BETA_TRACK = np.array([0.5, 1.0, 1.6])
_BETA_SCHOOL = np.array([-0.4, -0.8])


def tracks_truth() -> dict[str, float]:
    """The analysis model's parameters, named as :func:`mlmice.lmer`'s estimates."""
    return {"(Intercept)": 1.0, "trackmiddle": 0.5, "trackhigh": 1.0, "tracktop": 1.6,
            "x": 0.3, "schoolgeneral": -0.4, "schoolvocational": -0.8,
            "Intercept~~Intercept|cluster_id": 0.25, "Residual~~Residual": 1.0,
            "ICC|cluster_id": 0.2}


def simulate_tracks(n_clusters: int = 100, cluster_size: int = 15, seed=1) -> pd.DataFrame:
    """Simulate the design of the module docstring.

    Parameters
    ----------
    n_clusters, cluster_size : int
        Schools, and pupils per school.
    seed : int, SeedSequence or Generator

    Returns
    -------
    DataFrame with ``cluster_id`` (1..), ``x``, ``track`` (ordered categorical),
    ``school`` (categorical, one value per school) and ``y``; ``attrs["roles"]``
    names the cluster variable.
    """
    check_scalar(n_clusters, "n_clusters", kind=int, min_val=2)
    check_scalar(cluster_size, "cluster_size", kind=int, min_val=1)
    rng = check_random_state(seed)
    J, n = int(n_clusters), int(n_clusters) * int(cluster_size)
    g = np.repeat(np.arange(J), cluster_size)
    a = rng.normal(0.0, np.sqrt(0.3), size=J)
    x = a[g] + rng.normal(0.0, np.sqrt(0.7), size=n)
    eta = np.column_stack([np.zeros(J), -0.2 - 1.0 * a, -0.6 - 1.5 * a])
    prob = np.exp(eta - eta.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    school = (rng.random(J)[:, None] > np.cumsum(prob, axis=1)).sum(axis=1)
    v = rng.normal(0.0, np.sqrt(0.4), size=J)
    latent = 0.8 * x + 0.3 * (school[g] == 2) + v[g] + rng.normal(size=n)
    track = np.searchsorted(_CUTS, latent)
    d_track = (track[:, None] == np.arange(1, 4)).astype(float)
    d_school = (school[g][:, None] == np.arange(1, 3)).astype(float)
    u = rng.normal(0.0, 0.5, size=J)
    y = (1.0 + d_track @ _BETA_TRACK + 0.3 * x + d_school @ _BETA_SCHOOL + u[g]
         + rng.normal(size=n))
    df = pd.DataFrame({
        "cluster_id": g + 1, "x": x,
        "track": pd.Categorical.from_codes(track, categories=TRACKS, ordered=True),
        "school": pd.Categorical.from_codes(school[g], categories=SCHOOLS), "y": y})
    df.attrs["roles"] = {"cluster": "cluster_id", "id": None}
    return df

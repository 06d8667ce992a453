"""Level-2-only methods: ``2lonly.mean``, ``2lonly.norm``, ``2lonly.pmm``,
``2lonly.polr`` and ``2lonly.polyreg``.

A level-2 variable :math:`w_j` takes one value per cluster :math:`j`. The
methods aggregate to one row per cluster, impute there and write the value
back to every row of the cluster (mice's ``2lonly.norm``/``2lonly.pmm`` and
miceadds' ``2lonly.function``; Grund, Lüdtke and Robitzsch 2018, *Organ.
Res. Methods* 21(1), section "level-2 variables"):

* cluster-level data: :math:`w_j` for clusters where it is observed, and
  predictors :math:`\\bar x_{\\cdot j}` = cluster means of the current
  completed predictors (every predictor code 1-4 enters as a cluster mean);
* ``2lonly.norm``: Bayesian linear regression of :math:`w_j` on
  :math:`[1, \\bar x_{\\cdot j}]` over the observed clusters (Rubin 1987,
  p. 167), one draw per missing cluster;
* ``2lonly.pmm``: the same draw followed by predictive mean matching among
  the observed clusters (type-1 matching, 5 donors);
* ``2lonly.mean``: the cluster's own observed value; clusters with nothing
  observed get the mean over observed clusters (an event is logged);
* ``2lonly.polr``, ``2lonly.polyreg``: a categorical level-2 variable (a school
  type, an ordinal rating of the cluster), by the steps of ``polr`` and
  ``polyreg`` (:mod:`.polytomous`: augmentation, proportional-odds or multinomial
  logit, a class drawn from each missing cluster's probabilities) on the
  cluster-level data; option ``draw`` as theirs.

A cluster where the value is observed for some rows and missing for others
(the tutorial's teacher experience in class 1) is not an error here (R's
``2lonly.pmm`` stops): the observed value fills the cluster's missing rows
and the event is logged. Observed values that vary within a cluster are
refused by :func:`mlmice.impute.spec.validate_spec` before any work.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mlmice.impute.methods.base import (
    ImputationMethod,
    MethodInput,
    MethodResult,
    redundant_columns,
    register_method,
)
from mlmice.impute.methods.norm import bayes_linear_draw, with_intercept
from mlmice.impute.methods.pmm import pmm_match, read_donors
from mlmice.impute.methods.polytomous import class_probabilities, draw_classes, draw_option

__all__ = ["LevelTwoMean", "LevelTwoNorm", "LevelTwoPmm", "LevelTwoPolr", "LevelTwoPolyreg",
           "cluster_level_data"]


def cluster_level_data(data: MethodInput):
    """Aggregate a :class:`MethodInput` to one row per cluster.

    Returns
    -------
    w : ndarray of shape (G,)
        The cluster's observed value (NaN if none).
    observed : ndarray of bool, shape (G,)
    xbar : ndarray of shape (G, p)
        Cluster means of the predictors over all rows of the cluster.
    """
    if data.cluster is None:
        raise ValueError(f"{data.variable}: a 2lonly method needs a cluster variable (code -2)")
    cl = np.asarray(data.cluster)
    G = int(data.n_clusters)
    counts = np.bincount(cl, minlength=G).astype(float)
    observed = np.bincount(cl[data.ry], minlength=G) > 0
    w = np.full(G, np.nan)
    w[cl[data.ry]] = data.y[data.ry]  # constant within a cluster (checked by validate_spec)
    x = np.asarray(data.x, dtype=float).reshape(cl.size, -1)
    safe = np.where(counts > 0, counts, 1.0)
    xbar = np.column_stack([np.bincount(cl, weights=x[:, k], minlength=G) / safe
                            for k in range(x.shape[1])]) if x.shape[1] else np.empty((G, 0))
    return w, observed, xbar


def _label(data: MethodInput, k: int):
    return data.cluster_labels[k] if len(data.cluster_labels) > k else k


class _LevelTwoOnly(ImputationMethod):
    level = "2lonly"

    def _draw(self, w_obs, x_obs, x_mis, rng, data, events):  # pragma: no cover - abstract
        raise NotImplementedError

    def impute(self, data: MethodInput, rng: np.random.Generator) -> MethodResult:
        w, observed, xbar = cluster_level_data(data)
        cl_wy = np.asarray(data.cluster)[data.wy]
        events: list[str] = []
        target_clusters = np.unique(cl_wy)
        partial = target_clusters[observed[target_clusters]]
        if partial.size:
            labels = ", ".join(str(_label(data, k)) for k in partial[:10])
            more = "" if partial.size <= 10 else f" (and {partial.size - 10} more)"
            events.append(f"{partial.size} cluster(s) with {data.variable} observed for some rows "
                          f"and missing for others: filled with the cluster's observed value "
                          f"(clusters {labels}{more})")
        need = target_clusters[~observed[target_clusters]]
        value = w.copy()
        if need.size:
            x_obs, x_mis = xbar[observed], xbar[need]
            drop = redundant_columns(x_obs, w[observed])
            if drop:
                keep = np.setdiff1d(np.arange(x_obs.shape[1]), [k for k, _ in drop])
                x_obs, x_mis = x_obs[:, keep], x_mis[:, keep]
                events.append("cluster-level predictor(s) removed: " + ", ".join(
                    f"mean({data.names[k]}) ({why})" for k, why in drop))
            value[need] = self._draw(w[observed], x_obs, x_mis, rng, data, events)
        return MethodResult(values=value[cl_wy], events=events)


@register_method("2lonly.norm")
class LevelTwoNorm(_LevelTwoOnly):
    """Bayesian linear regression at the cluster level (see the module docstring)."""

    options = {"ridge": (1e-5, "ridge penalty of the Bayesian regression draw")}

    def _draw(self, w_obs, x_obs, x_mis, rng, data, events):
        draw = bayes_linear_draw(with_intercept(x_obs), w_obs, rng,
                                 ridge=data.options.get("ridge", 1e-5))
        return (with_intercept(x_mis) @ draw.beta_star
                + draw.sigma_star * rng.standard_normal(x_mis.shape[0]))


@register_method("2lonly.pmm")
class LevelTwoPmm(_LevelTwoOnly):
    """Predictive mean matching at the cluster level (see the module docstring)."""

    options = {"donors": (5, "observed values the imputed value is drawn from"),
               "ridge": (1e-5, "ridge penalty of the Bayesian regression draw")}

    def _draw(self, w_obs, x_obs, x_mis, rng, data, events):
        xo, xm = with_intercept(x_obs), with_intercept(x_mis)
        draw = bayes_linear_draw(xo, w_obs, rng, ridge=data.options.get("ridge", 1e-5))
        return pmm_match(xo @ draw.beta_hat, xm @ draw.beta_star, w_obs, rng,
                         donors=read_donors(data.options, variable=data.variable))

    def check_option_values(self, options, *, variable, columns, cluster):
        read_donors(options, variable=variable)


@register_method("2lonly.mean")
class LevelTwoMean(_LevelTwoOnly):
    """The cluster's observed value; the mean over clusters where none is observed."""

    def _draw(self, w_obs, x_obs, x_mis, rng, data, events):
        events.append(f"{x_mis.shape[0]} cluster(s) with {data.variable} missing in every row: "
                      "imputed with the mean over observed clusters")
        return np.full(x_mis.shape[0], float(np.mean(w_obs)))


class _LevelTwoCategorical(_LevelTwoOnly):
    ordinal = False
    options = {"draw": ("mice", "class probabilities at the ML estimate ('mice') or at a "
                                "normal draw of the coefficients ('normal')")}

    def _draw(self, w_obs, x_obs, x_mis, rng, data, events):
        draw = draw_option(data, self.name)
        n_obs, n_mis = w_obs.size, x_mis.shape[0]
        clusters = replace(data, y=np.concatenate([w_obs, np.full(n_mis, np.nan)]),
                           ry=np.arange(n_obs + n_mis) < n_obs,
                           wy=np.arange(n_obs + n_mis) >= n_obs,
                           x=np.vstack([x_obs, x_mis]), cluster=None, n_clusters=0,
                           names=tuple(f"cluster mean {k + 1}" for k in range(x_obs.shape[1])))
        classes, prob, more = class_probabilities(clusters, ordinal=self.ordinal, draw=draw,
                                                  rng=rng, method=self.name)
        events.extend(more)
        return classes[draw_classes(prob, rng)]


@register_method("2lonly.polyreg")
class LevelTwoPolyreg(_LevelTwoCategorical):
    """Multinomial logit at the cluster level (see the module docstring)."""

    ordinal = False


@register_method("2lonly.polr")
class LevelTwoPolr(_LevelTwoCategorical):
    """Proportional-odds logit at the cluster level (see the module docstring)."""

    ordinal = True

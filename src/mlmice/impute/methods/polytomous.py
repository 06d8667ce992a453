r"""``polyreg`` and ``polr``: single-level imputation of a categorical variable, as mice's.

``polyreg`` (nominal: unordered categories) fits a multinomial logit, ``polr``
(ordinal: ordered categories) a proportional-odds logit, by weighted maximum
likelihood (:mod:`._categorical_models`), each on the observed rows plus mice's
augmentation against perfect prediction (:mod:`._augment`), and draws every
missing value from its predicted class probabilities: with :math:`U_i \sim U(0,1)`
the imputation is the first class whose cumulative probability reaches
:math:`U_i`. These are the steps of ``mice.impute.polyreg`` and
``mice.impute.polr`` (van Buuren and Groothuis-Oudshoorn 2011), and ``polr`` falls
back to the multinomial model, with a logged event, when its fit fails, as mice's
does.

The classes are the categories seen in the variable's current values (observed
and imputed), mice's ``augment``; a category never observed is never imputed, and
when every observed value is the same category that category is imputed.
Predictors that are linearly dependent on earlier ones are dropped with a logged
event (as ``logreg``).

Options
-------
draw : {"mice", "normal"}
    ``"mice"`` (default): the probabilities at the maximum-likelihood estimate,
    as mice, which adds no parameter uncertainty (the imputations' per-row
    distribution is R's: ``tests/test_polytomous.py`` against
    ``tests/r/polytomous_reference.R``). ``"normal"``: the coefficients are first
    drawn from the normal approximation of their sampling distribution,
    :math:`N(\hat\theta, I(\hat\theta)^{-1})`, as ``logreg`` draws its
    coefficients (Rubin 1987, pp. 169-170), so that between-imputation variance
    includes the estimation of the imputation model.

References
----------
van Buuren, S. and Groothuis-Oudshoorn, K. (2011). mice: Multivariate Imputation
by Chained Equations in R. JSS 45(3).
Rubin, D. B. (1987). *Multiple Imputation for Nonresponse in Surveys*. Wiley.
"""

from __future__ import annotations

import numpy as np

from mlmice.impute.methods._augment import augment
from mlmice.impute.methods._categorical_models import fit_multinomial, fit_ordinal
from mlmice.impute.methods.base import (
    ImputationMethod,
    MethodInput,
    MethodResult,
    register_method,
)
from mlmice.impute.methods.logreg import keep_independent

__all__ = ["Polr", "Polyreg", "class_probabilities", "draw_classes", "draw_option"]

DRAWS = ("mice", "normal")


def draw_classes(prob: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Index of the class of each row: the first whose cumulative probability reaches U."""
    u = rng.random(prob.shape[0])
    idx = (u[:, None] > np.cumsum(prob, axis=1)).sum(axis=1)
    return np.minimum(idx, prob.shape[1] - 1)


def _prepare(data: MethodInput, method: str, events: list[str]):
    """Classes, the fit's rows (observed + augmentation) and the design of the missing rows."""
    y = np.asarray(data.y, dtype=float)
    ry, wy = np.asarray(data.ry, dtype=bool), np.asarray(data.wy, dtype=bool)
    x = np.asarray(data.x, dtype=float).reshape(y.size, -1)
    X = np.column_stack([np.ones(y.size), x])
    X = X[:, keep_independent(X, ["(Intercept)", *data.names], ry, events=events,
                              message=f"{method}: dropped linearly dependent predictors")]
    x = X[:, 1:]
    augmenting = x.shape[1] > 0 and int((~ry).sum()) != 1
    classes = np.unique(y[~np.isnan(y)] if augmenting else y[ry])
    xa, ya, wa = augment(x, classes) if augmenting else (np.empty((0, x.shape[1])),
                                                         np.empty(0), np.empty(0))
    fit_x = np.vstack([x[ry], xa])
    fit_y = np.searchsorted(classes, np.concatenate([y[ry], ya]))
    fit_w = np.concatenate([np.ones(int(ry.sum())), wa])
    return classes, fit_x, fit_y, fit_w, x[wy]


def class_probabilities(data: MethodInput, *, ordinal: bool, draw: str,
                        rng: np.random.Generator, method: str
                        ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The classes and each missing row's probability of each (``draw`` as the option)."""
    events: list[str] = []
    classes, fx, fy, fw, x_mis = _prepare(data, method, events)
    C = classes.size
    if C == 1 or np.unique(fy).size == 1:
        return classes[:1] if C == 1 else classes[np.unique(fy)[:1]], np.ones(
            (x_mis.shape[0], 1)), events
    if ordinal:
        fit = fit_ordinal(fx, fy, fw, n_classes=C)
        if fit.converged and np.all(np.isfinite(fit.cov)):
            theta = np.concatenate([fit.beta, fit.zeta])
            if draw == "normal":
                theta = rng.multivariate_normal(theta, fit.cov, method="cholesky")
            p = fit.beta.size
            return classes, fit.probabilities(x_mis, theta[:p], theta[p:]), events
        events.append(f"{method}: the proportional-odds fit did not converge; the "
                      "multinomial model was used instead (as mice's polr)")
    X_fit = np.column_stack([np.ones(fx.shape[0]), fx])
    fit = fit_multinomial(X_fit, fy, fw, n_classes=C)
    if not fit.converged:
        events.append(f"{method}: the multinomial fit did not converge in {fit.iterations} "
                      "iterations")
    coef = fit.coef
    if draw == "normal":
        flat = rng.multivariate_normal(coef.T.ravel(), fit.cov, method="cholesky")
        coef = flat.reshape(coef.shape[1], coef.shape[0]).T
    X_mis = np.column_stack([np.ones(x_mis.shape[0]), x_mis])
    return classes, fit.probabilities(X_mis, coef), events


def draw_option(data: MethodInput, method: str) -> str:
    """Option ``draw`` of a categorical method, after checking the target is categorical."""
    var = data.variable
    if not data.categories:
        raise ValueError(f"{var}: method {method} imputes a categorical variable; make it one "
                         f"with df[{var!r}] = df[{var!r}].astype('category')")
    draw = data.options.get("draw", "mice")
    if draw not in DRAWS:
        raise ValueError(f"{var}: option draw of method {method} must be one of "
                         f"{', '.join(DRAWS)}, got {draw!r}")
    return draw


class _Polytomous(ImputationMethod):
    level = "1"
    ordinal = False
    options = {"draw": ("mice", "class probabilities at the ML estimate ('mice') or at a "
                                "normal draw of the coefficients ('normal')")}

    def impute(self, data: MethodInput, rng: np.random.Generator) -> MethodResult:
        draw = draw_option(data, self.name)
        n_imp = int(np.asarray(data.wy, dtype=bool).sum())
        if n_imp == 0:
            return MethodResult(values=np.empty(0))
        classes, prob, events = class_probabilities(data, ordinal=self.ordinal, draw=draw,
                                                    rng=rng, method=self.name)
        values = classes[draw_classes(prob, rng)]
        return MethodResult(values=values.astype(float), events=events)


@register_method("polyreg")
class Polyreg(_Polytomous):
    """Multinomial logit imputation of a nominal variable (mice's ``polyreg``)."""

    ordinal = False


@register_method("polr")
class Polr(_Polytomous):
    """Proportional-odds imputation of an ordinal variable (mice's ``polr``)."""

    ordinal = True

"""Model parameters and log-likelihoods of fits, for the likelihood-based tests.

D3 needs, per fit: its log-likelihood at its own estimates (``.loglik``), its
parameters (fixed effects, one covariance matrix per random-effects term,
residual variance) as ``mitml:::.getArgsLL`` reads them, and its
log-likelihood on its own data at other (pooled) parameters.

The last one is taken from the fit when it offers it (a method
``loglik_at(fixef=, covariances=, sigma2=)``); otherwise it is computed
here (:mod:`mlmice.pooling.loglik`) from the fit's model frame: the
attribute ``.frame`` or ``.model_frame`` or ``.extras["model_frame"]`` (a
:class:`mlmice.design.ModelFrame`),
else rebuilt from ``.formula`` and ``.data``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlmice.mixed.model import LmerModel
from mlmice.pooling.extract import fit_estimates
from mlmice.pooling.loglik import lmm_loglik
from mlmice.pooling.varcomp import covariance_matrices


@dataclass(frozen=True)
class LikelihoodParameters:
    """Parameters of a linear (mixed) model, on the absolute scale.

    Attributes
    ----------
    fixef : pandas.Series
        Fixed effects by term.
    covariances : dict of str -> pandas.DataFrame
        Random-effects covariance matrix per grouping-factor label (as in
        ``.varcorr``'s ``grp``), rows/columns named by effect; empty for a
        linear model.
    sigma2 : float
        Residual variance: the ML estimate (RSS / n for a linear model; an
        ML mixed model's sigma^2), as ``mitml:::.getArgsLL`` takes it.
    """

    fixef: pd.Series
    covariances: dict
    sigma2: float


def _frame_of(fit, *, imputation: int):
    for attr in ("frame", "model_frame"):
        frame = getattr(fit, attr, None)
        if frame is not None and not callable(frame):
            return frame
    extras = getattr(fit, "extras", None)              # mlmice.lmer keeps it here
    if isinstance(extras, dict) and extras.get("model_frame") is not None:
        return extras["model_frame"]
    formula, data = getattr(fit, "formula", None), getattr(fit, "data", None)
    if formula is not None and isinstance(data, pd.DataFrame):
        from mlmice.design import model_frame

        return model_frame(formula, data)
    raise TypeError(f"fit of imputation {imputation} ({type(fit).__name__}) exposes neither "
                    "'.loglik_at(...)', a model frame ('.frame'), nor '.formula' and '.data': "
                    "cannot evaluate its log-likelihood at the pooled parameters (D3)")


def likelihood_parameters(fit, *, imputation: int = 1) -> LikelihoodParameters:
    """The parameters of one fit as ``mitml:::.getArgsLL`` reads them."""
    beta = fit_estimates(fit, imputation=imputation)
    vc = getattr(fit, "varcorr", None)
    covs, residual = ({}, None) if vc is None else covariance_matrices(vc)
    family = getattr(fit, "family", None)
    if (covs and residual is None) or (isinstance(family, str) and family != "gaussian"):
        raise TypeError(f"fit of imputation {imputation} ({type(fit).__name__}) is not a linear "
                        "(mixed) model with a residual variance: D3 here evaluates Gaussian "
                        "likelihoods only (lm, lmer); use D1 or D2 for other models")
    if covs:
        return LikelihoodParameters(fixef=beta, covariances=covs, sigma2=residual)
    # linear model: the ML residual variance RSS / n (mitml:::.getArgsLL.lm)
    frame = _frame_of(fit, imputation=imputation)
    b = beta.reindex(frame.x_names).to_numpy()
    r = frame.y - frame.X @ b
    return LikelihoodParameters(fixef=beta, covariances={}, sigma2=float(r @ r / r.size))


def pooled_likelihood_parameters(params: list[LikelihoodParameters]) -> LikelihoodParameters:
    """Element-wise averages over imputations (``mitml:::.evaluateUserLogLik``)."""
    fixef = pd.concat([p.fixef for p in params], axis=1).mean(axis=1)
    covs = {}
    for grp, mat in params[0].covariances.items():
        covs[grp] = sum(p.covariances[grp] for p in params) / len(params)
        covs[grp] = covs[grp].loc[mat.index, mat.columns]
    sigma2 = float(np.mean([p.sigma2 for p in params]))
    return LikelihoodParameters(fixef=fixef, covariances=covs, sigma2=sigma2)


def fit_loglik(fit, *, imputation: int) -> float:
    """The fit's own maximised log-likelihood (``.loglik``)."""
    ll = getattr(fit, "loglik", None)
    if ll is None:
        ll = getattr(fit, "llf", None)                 # statsmodels
    if callable(ll):
        ll = ll()
    if ll is None:
        raise TypeError(f"fit of imputation {imputation} ({type(fit).__name__}) has no "
                        "'.loglik'")
    ll = float(ll)
    if not np.isfinite(ll):
        raise ValueError(f"log-likelihood of imputation {imputation} is {ll}")
    return ll


def n_parameters(fit) -> int:
    """Number of model parameters as ``attr(logLik(fit), "df")``.

    The fit's own ``.df`` when it has one (mlmice fits); else fixed effects
    plus the rows of ``.varcorr`` (one per variance, covariance and, for
    Gaussian models, the residual variance); ``p + 1`` for a model without
    ``.varcorr`` (a linear model).
    """
    df = getattr(fit, "df", None)
    if isinstance(df, (int, np.integer)) and not isinstance(df, bool):
        return int(df)
    p = len(fit_estimates(fit, imputation=1))
    vc = getattr(fit, "varcorr", None)
    if vc is None:
        return p + 1
    return p + len(vc)


def fit_loglik_at(fit, params: LikelihoodParameters, *, imputation: int) -> float:
    """Log-likelihood of ``fit``'s data at the parameters ``params``."""
    method = getattr(fit, "loglik_at", None)
    if callable(method):
        return float(method(fixef=params.fixef, covariances=params.covariances,
                            sigma2=params.sigma2))
    frame = _frame_of(fit, imputation=imputation)
    missing = [t for t in frame.x_names if t not in params.fixef.index]
    if missing:
        raise ValueError(f"pooled fixed effects lack {missing} of imputation {imputation}")
    beta = params.fixef.loc[frame.x_names].to_numpy(dtype=float)
    blocks = list(frame.random)
    covs = _match_blocks(blocks, params.covariances, imputation=imputation)
    return lmm_loglik(frame.y, frame.X, beta, blocks, covs, params.sigma2)


def _match_blocks(blocks: list, covariances: dict, *, imputation: int) -> list[np.ndarray]:
    """Covariance matrix of each random-effects block, matched by group label and effects.

    lme4 labels a second term on the same grouping factor ``g.1`` (and so on);
    blocks on the same factor are matched in order.
    """
    if len(blocks) != len(covariances):
        raise ValueError(f"imputation {imputation}: the model frame has {len(blocks)} "
                         f"random-effects terms but the fit reports {len(covariances)} "
                         f"covariance matrices ({list(covariances)})")
    remaining = dict(covariances)
    out = []
    for b in blocks:
        cands = [g for g in remaining if g == b.group or g.split(".")[0] == b.group
                 or g.startswith(b.group + ".")]
        cands = [g for g in cands if list(remaining[g].index) == list(b.z_names)] or cands
        if not cands:
            raise ValueError(f"imputation {imputation}: no variance components for the "
                             f"random-effects term on {b.group!r} (have {list(remaining)})")
        g = cands[0]
        mat = remaining.pop(g)
        out.append(mat.loc[list(b.z_names), list(b.z_names)].to_numpy(dtype=float))
    return out


def check_ml(fit, *, imputation: int) -> None:
    """Likelihood-ratio tests compare ML fits; a REML fit gets a clear error."""
    if getattr(fit, "reml", False) is True:
        raise ValueError(f"fit of imputation {imputation} is a REML fit: likelihood-based "
                         "tests need ML fits (refit with reml=False; mitml refits them "
                         "itself)")


def offset_refit_loglik(fit, fixef: pd.Series, *, imputation: int) -> float:
    """Log-likelihood of mice's D3 refit: ``X beta`` as an offset, intercept re-estimated.

    ``mice:::fix.coef`` refits each model as ``update(model, . ~ 1 | random
    part, offset = X beta)``: the fixed effects are held at ``beta`` but an
    intercept is estimated again (on top of the offset) and so are the
    variance parameters (ML). For a linear model the ML log-likelihood of
    ``y - X beta`` around its mean; for a mixed model an ML fit (mlmice.lmer
    engine) of ``y - X beta`` on an intercept and the same random effects.
    """
    frame = _frame_of(fit, imputation=imputation)
    missing = [t for t in frame.x_names if t not in fixef.index]
    if missing:
        raise ValueError(f"pooled fixed effects lack {missing} of imputation {imputation}")
    e = frame.y - frame.X @ fixef.loc[frame.x_names].to_numpy(dtype=float)
    n = e.size
    if not frame.random:
        r = e - e.mean()
        return float(-0.5 * n * (np.log(2.0 * np.pi * (r @ r) / n) + 1.0))
    import dataclasses
    import warnings

    mf = dataclasses.replace(frame, y=e, X=np.ones((n, 1)), x_names=["(Intercept)"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = LmerModel.from_frame(mf).fit(e, reml=False, check_conv=False, warn=False)
    return float(res.loglik)

r"""Linear mixed models by the profiled deviance: ``lmer``, as lme4 fits them.

The model (Bates, Maechler, Bolker and Walker 2015, *Fitting linear
mixed-effects models using lme4*, JSS 67(1), sections 3-5):

.. math::

    y = X\beta + Z b + \varepsilon,\quad b = \Lambda_\theta u,\quad
    u \sim N(0, \sigma^2 I_Q),\quad \varepsilon \sim N(0, \sigma^2 I_n).

The engine is split along lme4's layers, one module each:

:mod:`mlmice.mixed.terms`
    Random-effects terms and the map :math:`\theta \to \Lambda_\theta` (``mkReTrms``).
:mod:`mlmice.mixed.pls`
    Penalised least squares, the profiled deviance and the log-likelihood for one
    grouping factor (``merPredD``); :mod:`mlmice.mixed.schur` for several.
:mod:`mlmice.mixed.model`
    :class:`LmerModel`: the structure built once, the deviance and its analytic
    gradient for any response (``mkLmerDevfun``).
:mod:`mlmice.mixed.lmer_fit`, :mod:`mlmice.mixed.optim`, :mod:`mlmice.mixed.derivatives`
    BFGS, Newton polish and lme4's convergence checks (``optimizeLmer``, ``checkConv``).
:mod:`mlmice.mixed.lmer_result`
    :class:`LmerResult`, the fitted model (``merMod``).

The same engine serves ``lmer`` here, the imputation methods
(:mod:`mlmice.impute.methods._lmm_fit`) and pooling's likelihood-ratio tests
(:mod:`mlmice.pooling.loglik`). Standard errors are lme4's:
:math:`\mathrm{vcov}(\hat\beta) = \hat\sigma^2 S^{-1} = (X^\top V^{-1}X)^{-1}` at the
estimates.

Result arrays
    ``beta``, ``vcov_beta`` (:math:`\hat\sigma^2 S^{-1}`), ``sigma``, ``theta``,
    ``b`` (conditional modes per term, ``(J, q)``), ``cond_cov[group]``
    (lme4's condVar, ``(J, q, q)``; clusters without rows get the prior
    :math:`\sigma^2\Lambda\Lambda^\top`), ``covariance_terms()`` (the random
    effects' covariance matrices), ``fitted``, ``residuals``.
``loglik_at(formula, data, beta=, theta= | covs=, sigma=)``
    The log-likelihood at given parameters (mitml's D3); also
    ``result.loglik_at(fixef=, covariances=, sigma2=)``.
"""

from __future__ import annotations

import pandas as pd

from mlmice._results import coef_vector
from mlmice._validation import check_bool
from mlmice.design import ModelFrame, model_frame
from mlmice.mixed.lmer_result import LmerResult
from mlmice.mixed.model import LmerModel
from mlmice.mixed.results import ConvergenceWarning, SingularFitWarning

__all__ = ["LmerModel", "LmerResult", "lmer", "lmer_arrays", "loglik_at", "ConvergenceWarning",
           "SingularFitWarning"]


def lmer_arrays(X, Z, groups, y, *, reml: bool = True, n_groups: int | None = None,
                theta0=None, check_conv: bool = True, warn: bool = True,
                hinv0=None, gtol: float = 1e-9, ftol: float = 1e-15) -> LmerResult:
    """Fit ``y ~ X + (Z | groups)`` from raw arrays (no formula, no data frame).

    Shorthand for ``LmerModel.from_arrays(X, Z, groups, n_groups=n_groups).fit(y, ...)``;
    see :meth:`LmerModel.from_arrays` and :meth:`LmerModel.fit`. Keep the
    :class:`LmerModel` yourself to refit the same design to new responses.
    """
    model = LmerModel.from_arrays(X, Z, groups, n_groups=n_groups)
    return model.fit(y, reml=reml, theta0=theta0, check_conv=check_conv, warn=warn,
                     hinv0=hinv0, gtol=gtol, ftol=ftol)


def lmer(formula: str, data: pd.DataFrame, *, reml: bool = True, theta0=None,
         factors=None, check_conv: bool = True) -> LmerResult:
    """Fit a linear mixed model as ``lme4::lmer(formula, data, REML = reml)``.

    Parameters
    ----------
    formula : str
        lme4 syntax, e.g. ``"popularity ~ gender + extrav + (1 + extrav | class)"``.
    data : pandas.DataFrame
        Rows with a missing value in any variable of the formula are dropped
        (``na.omit``); the count is ``result.n_dropped``.
    reml : bool, default True
        lme4's default; the tutorial uses ``reml=False`` (ML).
    theta0 : array, optional
        Starting value of theta.
    factors : str or iterable of str, optional
        Numeric columns to treat as factors (see :func:`mlmice.design.model_frame`).
    check_conv : bool, default True
        lme4's convergence checks (warnings :class:`ConvergenceWarning`,
        :class:`SingularFitWarning`).

    Returns
    -------
    LmerResult

    Raises
    ------
    ValueError
        Formula without random terms (use :func:`mlmice.lm`), unknown
        variables, non-numeric response, too few levels, no complete rows.
    """
    check_bool(reml, "reml")
    check_bool(check_conv, "check_conv")
    mf = model_frame(formula, data, factors=factors)
    if not mf.random:
        raise ValueError(f"formula {formula!r} has no random-effects terms; use mlmice.lm")
    model = LmerModel.from_frame(mf)
    res = model.fit(mf.y, reml=reml, theta0=theta0, check_conv=check_conv, formula=str(formula))
    res.n_dropped = mf.n_dropped
    res.index = mf.index
    res.extras["model_frame"] = mf
    return res


def loglik_at(formula, data: pd.DataFrame, *, beta, theta=None, sigma: float,
              covs=None, factors=None) -> float:
    """ML log-likelihood of a linear mixed model at given parameters, on ``data``.

    Parameters
    ----------
    formula : str or ModelFrame
        lme4 formula (the data's incomplete rows are dropped as in :func:`lmer`)
        or a ready :class:`~mlmice.design.ModelFrame`.
    data : DataFrame
        Ignored when ``formula`` is a ModelFrame.
    beta : array or pandas.Series
        Fixed effects (a Series is aligned to the model's column names).
    theta : array, optional
        Relative covariance parameters in lme4's order; or give ``covs``.
    sigma : float
        Residual standard deviation.
    covs : list of arrays, optional
        Covariance matrix of each random term (lme4's term order), converted
        to theta with :meth:`LmerModel.theta_from_cov`.

    Returns
    -------
    float
        :math:`\\log N(y; X\\beta, \\sigma^2(Z\\Lambda\\Lambda^\\top Z^\\top + I))`.
    """
    mf = formula if isinstance(formula, ModelFrame) else model_frame(formula, data,
                                                                     factors=factors)
    model = LmerModel.from_frame(mf)
    beta = coef_vector(beta, model.x_names, argument="beta")
    if theta is None:
        if covs is None:
            raise ValueError("give theta or covs")
        theta = model.theta_from_cov(covs, sigma)
    return model.loglik_at(mf.y, beta, theta, sigma)

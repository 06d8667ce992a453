r"""Marginal log-likelihood of a linear (mixed) model at given parameters.

For D3 (Meng and Rubin 1992) the log-likelihood of every imputed data set is
evaluated at the *pooled* parameters, not at that data set's own estimates.
For the linear mixed model

.. math::

    y = X\beta + Z b + \varepsilon, \quad b \sim N(0, G), \quad
    \varepsilon \sim N(0, \sigma^2 I), \quad V = \sigma^2 I + Z G Z^\top,

    \ell(\beta, G, \sigma^2) = -\tfrac12 \left(n \log 2\pi + \log|V|
        + r^\top V^{-1} r\right), \quad r = y - X\beta.

This is the quantity lme4's ``devfun2`` returns (as ``-2 log L``) for an ML fit, and
the one ``mitml:::.getUserLL.lmerMod`` evaluates for D3. It is evaluated by the
project's LMM engine (:meth:`mlmice.mixed.model.LmerModel.loglik_at`: the penalised
least squares of :mod:`mlmice.mixed.pls`, with :math:`\Lambda = \mathrm{chol}(G)/\sigma`),
the same code that fits ``lmer``; for a linear model (no ``Z``) it is
:math:`-\tfrac n2 \log(2\pi\sigma^2) - r^\top r / (2\sigma^2)` (``mitml:::.logLik_lm``).

References
----------
Meng, X.-L. and Rubin, D. B. (1992). Performing likelihood ratio tests with
multiply-imputed data sets. *Biometrika* 79(1), 103-111.
Bates, D., Maechler, M., Bolker, B. and Walker, S. (2015). Fitting linear
mixed-effects models using lme4. *JSS* 67(1), section 3.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mlmice.mixed.model import LmerModel
from mlmice.mixed.terms import ReTerm


def _check_psd(G: np.ndarray) -> None:
    vals = np.linalg.eigvalsh((G + G.T) / 2.0)
    if vals.min(initial=0.0) < -1e-10 * max(1.0, abs(vals).max(initial=0.0)):
        raise ValueError(f"random-effects covariance matrix is not positive semi-definite "
                         f"(eigenvalues {vals})")


def lm_loglik(y: np.ndarray, X: np.ndarray, beta: np.ndarray, sigma2: float) -> float:
    """Normal linear-model log-likelihood at ``(beta, sigma2)``."""
    r = np.asarray(y, float) - np.asarray(X, float) @ np.asarray(beta, float)
    n = r.size
    return float(-0.5 * n * np.log(2.0 * np.pi * sigma2) - (r @ r) / (2.0 * sigma2))


def lmm_loglik(y: np.ndarray, X: np.ndarray, beta: np.ndarray, blocks: Sequence,
               covariances: Sequence[np.ndarray], sigma2: float) -> float:
    """Marginal log-likelihood of a linear mixed model at given parameters.

    Parameters
    ----------
    y : ndarray (n,)
    X : ndarray (n, p)
    beta : ndarray (p,)
    blocks : sequence of objects with ``Z`` (n, q_b) and ``codes`` (n,) int
        One per random-effects term (:class:`mlmice.design.RandomBlock`). Blocks
        with the same codes share a grouping factor.
    covariances : sequence of ndarray (q_b, q_b)
        Covariance matrix of each term's random effects, in the order of
        ``blocks`` (absolute scale, e.g. the ``VarCorr`` matrices); singular is fine.
    sigma2 : float
        Residual variance.
    """
    if len(blocks) != len(covariances):
        raise ValueError(f"{len(blocks)} random-effects terms but {len(covariances)} "
                         "covariance matrices")
    if not sigma2 > 0:
        raise ValueError(f"sigma2 == {sigma2}, must be > 0")
    if not blocks:
        return lm_loglik(y, X, beta, sigma2)
    terms, factors = [], []
    for k, b in enumerate(blocks):
        codes = np.asarray(b.codes, dtype=np.intp)
        Z = np.asarray(b.Z, dtype=float).reshape(len(codes), -1)
        same = [i for i, c in enumerate(factors) if np.array_equal(c, codes)]
        if not same:
            factors.append(codes)
        factor = same[0] if same else len(factors) - 1
        # the term's index travels in its effect names, to match the covariances to
        # the terms after the model orders them as lme4 does
        terms.append(ReTerm(group=f"factor{factor}", names=[f"{k}:{i}" for i in
                                                             range(Z.shape[1])],
                            Z=Z, codes=codes, levels=np.arange(int(codes.max()) + 1)))
    model = LmerModel(np.asarray(X, dtype=float).reshape(len(terms[0].codes), -1), terms)
    covs = []
    for t in model.terms:
        G = np.atleast_2d(np.asarray(covariances[int(t.names[0].split(":")[0])], float))
        _check_psd(G)
        covs.append(G)
    sigma = float(np.sqrt(sigma2))
    theta = model.theta_from_cov(covs, sigma)
    return model.loglik_at(np.asarray(y, dtype=float), np.asarray(beta, dtype=float), theta,
                           sigma)

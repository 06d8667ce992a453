r"""Logistic mixed models by the Laplace approximation and adaptive Gauss-Hermite quadrature.

An lme4-equivalent ``glmer(..., family = binomial)`` for a binary response and
random effects on one grouping factor (random intercepts and slopes).

Model (Bates, Maechler, Bolker and Walker 2015, JSS 67(1), section 6 of the
lme4 vignette; the notation of :mod:`mlmice.mixed.lmm`):

.. math::

    \Pr(y_i = 1 \mid u) = \operatorname{logit}^{-1}(\eta_i),\quad
    \eta = X\beta + Z\Lambda_\theta u,\quad u \sim N(0, I_{Jq}),

so the random effects :math:`b = \Lambda_\theta u` of cluster :math:`j` have
covariance :math:`\Sigma = \Lambda\Lambda^\top` (:math:`\Lambda` lower
triangular, one block per random-effects term, entries :math:`\theta`
column-major, diagonal :math:`\ge 0`, lme4's order).

Laplace approximation (lme4's ``nAGQ = 1``). With the per-observation
deviance :math:`d_i(\eta) = -2\log p(y_i \mid \eta)` and per cluster
:math:`g_j(u_j) = \sum_{i \in j} d_i + \|u_j\|^2`, penalised iteratively
reweighted least squares (PIRLS: Newton's method, batched over the clusters'
:math:`q \times q` blocks, with step halving) finds the conditional modes
:math:`\tilde u_j(\theta, \beta) = \arg\min g_j`; then

.. math::

    -2\,\ell_{L}(\theta, \beta) = \sum_j \Big[ g_j(\tilde u_j) + \log|A_j| \Big],\qquad
    A_j = \Lambda^\top Z_j^\top W_j Z_j \Lambda + I_q,

with :math:`W_j = \mathrm{diag}\{\mu_i(1-\mu_i)\}` evaluated *at the mode*.
This is the exact Laplace value. lme4's PIRLS leaves the weights of the
previous iterate in :math:`A_j`, so the log-likelihood it reports differs
slightly (-927.0214 instead of -927.0194 for ``gender ~ popularity + (1 | class)``
on the tutorial's data); estimates therefore differ by up to a few 1e-4
relative, on top of lme4's optimiser tolerance (DESIGN.md, "Where R is not
the truth").

Adaptive Gauss-Hermite quadrature (``nagq > 1``; one scalar random effect,
as lme4). With :math:`\sigma_j = A_j^{-1/2}` and the probabilists' rule
:math:`(z_k, w_k)`, :math:`\sum_k w_k = 1`,

.. math::

    -2\log L_j \approx g_j(\tilde u_j) + \log A_j
      - 2\log\sum_k w_k \exp\!\Big(-\tfrac12\big[g_j(\tilde u_j + \sigma_j z_k)
      - g_j(\tilde u_j) - z_k^2\big]\Big),

which is the Laplace value for one node and exact as ``nagq`` grows.

Fitting follows lme4's two stages: (1) :math:`\theta` is optimised with
:math:`\beta` and :math:`u` found jointly by PIRLS (lme4's ``nAGQ = 0``); lme4
runs this stage to convergence, here a few iterations only supply the start
(the exact-gradient second stage does the rest, and on the tutorial's models
reaches the same optimum with or without them); (2) :math:`(\theta, \beta)` are optimised on the
Laplace (or quadrature) deviance by BFGS (:func:`mlmice.mixed.optim.bfgs`)
with the exact gradient of the Laplace deviance
(:meth:`GlmerModel.laplace_gradient`; central differences for quadrature),
then polished by Newton steps on a finite-difference Hessian.
:math:`\theta` is optimised without bounds (the deviance depends on
:math:`\Lambda` only through :math:`\Lambda\Lambda^\top`) and each column of
:math:`\Lambda` is given a non-negative diagonal afterwards.
Standard errors are lme4's default: :math:`\mathrm{vcov}(\hat\beta) =
[\,(H/2)^{-1}]_{\beta\beta}` from the Hessian :math:`H` of the deviance in
:math:`(\theta, \beta)`. Convergence is checked as lme4's ``checkConv``:
a diagonal :math:`\theta` below 1e-4 is a boundary (singular) fit
(:class:`~mlmice.mixed.results.SingularFitWarning`), otherwise a scaled
gradient above 2e-3 or a Hessian that is not positive definite raises
:class:`~mlmice.mixed.results.ConvergenceWarning`.

References
----------
Bates, D., Maechler, M., Bolker, B. and Walker, S. (2015). Fitting linear
mixed-effects models using lme4. Journal of Statistical Software 67(1).
Pinheiro, J. C. and Bates, D. M. (1995). Approximations to the log-likelihood
function in the nonlinear mixed-effects model. JCGS 4(1), 12-35.
Liu, Q. and Pierce, D. A. (1994). A note on Gauss-Hermite quadrature.
Biometrika 81(3), 624-629.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import linalg, sparse
from scipy.special import expit, log_expit

from mlmice._distributions import norm_sf
from mlmice._validation import check_scalar
from mlmice.design import ModelFrame, model_frame
from mlmice.mixed.optim import bfgs
from mlmice.mixed.results import (
    ConvergenceWarning,
    CovarianceTerm,
    MixedResultMixin,
    SingularFitWarning,
    convergence_messages,
)

__all__ = ["GlmerModel", "GlmerResult", "LogisticFit", "fit_logistic", "glmer"]

SINGULAR_TOL = 1e-4   # lme4: check.conv.singular
_PIRLS_TOL = 1e-11
_PIRLS_MAXIT = 100


def _bernoulli_dev(y: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Per-observation deviance ``-2 log p(y | eta)`` for 0/1 ``y``, computed stably."""
    return -2.0 * log_expit((2.0 * y - 1.0) * eta)


@dataclass
class _Mode:
    """Conditional modes and the Laplace pieces at (theta, beta)."""

    u: np.ndarray           # (J, q)
    eta: np.ndarray         # (n,)
    g: np.ndarray           # (J,) g_j at the mode
    A: np.ndarray           # (J, q, q) at the mode
    logdet: np.ndarray      # (J,) log|A_j|


@dataclass(frozen=True)
class LogisticFit:
    """Weighted maximum-likelihood logistic regression.

    Attributes
    ----------
    coef : ndarray (p,)
    cov_unscaled : ndarray (p, p)
        :math:`(X^\\top W X)^{-1}` at ``coef`` (R's ``summary.glm()$cov.unscaled``).
    converged : bool
    iterations : int
    """

    coef: np.ndarray
    cov_unscaled: np.ndarray
    converged: bool
    iterations: int


def _binomial_deviance(y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> float:
    mu = np.clip(mu, 1e-300, 1 - 1e-16)
    return float(-2.0 * np.sum(w * (y * np.log(mu) + (1.0 - y) * np.log1p(-mu))))


def fit_logistic(X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None, *,
                 max_iter: int = 25, tol: float = 1e-8) -> LogisticFit:
    r"""Logistic regression by IRLS with step halving (as R's ``glm.fit``).

    Start :math:`\mu = (w y + 1/2) / (w + 1)`; iterate the weighted least
    squares step on the working response
    :math:`z = \eta + (y - \mu) / (\mu(1 - \mu))` with weights
    :math:`w \mu (1 - \mu)` until the relative change in deviance is below
    ``tol``; halve a step that increases the deviance.

    Parameters
    ----------
    X : ndarray (n, p), full column rank
    y : ndarray (n,) of 0/1 (fractions allowed)
    weights : ndarray (n,), optional prior weights (default 1)
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float)
    mu = (w * y + 0.5) / (w + 1.0)
    eta = np.log(mu / (1.0 - mu))
    beta = np.linalg.lstsq(X, eta, rcond=None)[0]
    eta = X @ beta
    mu = expit(eta)
    dev = _binomial_deviance(y, mu, w)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - iteration count reported
        var = np.clip(mu * (1.0 - mu), 1e-10, None)
        ww = w * var
        zz = eta + (y - mu) / var
        sw = np.sqrt(ww)
        new = np.linalg.lstsq(X * sw[:, None], zz * sw, rcond=None)[0]
        step = new - beta
        for _ in range(30):
            cand = beta + step
            eta_c = X @ cand
            mu_c = expit(eta_c)
            dev_c = _binomial_deviance(y, mu_c, w)
            if np.isfinite(dev_c) and dev_c <= dev + 1e-10 * (abs(dev) + 1):
                break
            step = step / 2.0
        beta, eta, mu = cand, eta_c, mu_c
        done = abs(dev_c - dev) / (abs(dev_c) + 0.1) < tol
        dev = dev_c
        if done:
            converged = True
            break
    var = np.clip(mu * (1.0 - mu), 1e-10, None)
    info = X.T @ (X * (w * var)[:, None])
    cov = _spd_inverse(info)
    return LogisticFit(coef=beta, cov_unscaled=cov, converged=converged, iterations=it)


def _spd_inverse(a: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive (semi)definite matrix, jittered if needed."""
    if a.shape[0] == 0:
        return a.copy()
    a = 0.5 * (a + a.T)
    jitter = 0.0
    scale = float(np.mean(np.abs(np.diag(a)))) or 1.0
    for _ in range(12):
        try:
            c = linalg.cho_factor(a + jitter * np.eye(a.shape[0]), lower=True)
            return linalg.cho_solve(c, np.eye(a.shape[0]))
        except linalg.LinAlgError:
            jitter = scale * 1e-10 if jitter == 0.0 else jitter * 100.0
    raise linalg.LinAlgError("information matrix is not positive definite")  # pragma: no cover


class GlmerModel:
    """The structure of a logistic mixed model with one grouping factor.

    Parameters
    ----------
    X : ndarray (n, p)
        Fixed-effects matrix (full column rank).
    Z : ndarray (n, q)
        Random-effects matrix: the columns of every term, side by side.
    codes : ndarray of int (n,)
        Cluster index ``0..n_levels-1``.
    y : ndarray (n,) of 0/1
    term_sizes : list of int
        Number of columns of each random-effects term (default one term).
    correlated : list of bool
        Per term: full lower-triangular factor (``(1 + x | g)``) or diagonal (``||``).
    x_names, z_names : list of str
    group : str
        Name of the grouping factor.
    levels : array, optional
        Labels of the clusters.
    """

    def __init__(self, X, Z, codes, y, *, term_sizes=None, correlated=None, x_names=None,
                 z_names=None, group="group", levels=None):
        self.X = np.ascontiguousarray(X, dtype=float)
        self.Z = np.ascontiguousarray(np.atleast_2d(np.asarray(Z, dtype=float).T).T)
        self.y = np.asarray(y, dtype=float)
        self.codes = np.asarray(codes, dtype=np.intp)
        self.n, self.p = self.X.shape
        self.q = self.Z.shape[1]
        if self.Z.shape[0] != self.n or self.y.shape != (self.n,) or self.codes.shape != (
                self.n,):
            raise ValueError(f"X has {self.n} rows, Z {self.Z.shape[0]}, y {self.y.size}, "
                             f"codes {self.codes.size}: they must agree")
        bad = ~np.isin(self.y, (0.0, 1.0))
        if bad.any():
            raise ValueError(f"glmer(family='binomial') needs a 0/1 response; row "
                             f"{int(np.flatnonzero(bad)[0])} has {float(self.y[bad][0]):g}")
        self.levels = (np.arange(int(self.codes.max()) + 1) if levels is None
                       else np.asarray(levels))
        self.J = len(self.levels)
        self.x_names = list(x_names) if x_names is not None else [f"x{i}" for i in range(self.p)]
        self.z_names = list(z_names) if z_names is not None else [f"z{i}" for i in range(self.q)]
        self.group = group
        self.term_sizes = list(term_sizes) if term_sizes is not None else [self.q]
        self.correlated = list(correlated) if correlated is not None else [True] * len(
            self.term_sizes)
        if sum(self.term_sizes) != self.q:
            raise ValueError(f"term sizes {self.term_sizes} do not add up to q = {self.q}")
        self._template()
        self.G = sparse.csr_matrix((np.ones(self.n), (self.codes, np.arange(self.n))),
                                   shape=(self.J, self.n))

    @classmethod
    def from_frame(cls, mf: ModelFrame) -> GlmerModel:
        """Model of a :class:`~mlmice.design.ModelFrame` with one grouping factor."""
        if not mf.random:
            raise ValueError(f"formula {mf.formula.text!r} has no random-effects terms; "
                             "glmer needs one")
        first = mf.random[0]
        for blk in mf.random[1:]:
            if blk.group != first.group or not np.array_equal(blk.codes, first.codes):
                raise NotImplementedError(
                    f"glmer supports random effects on one grouping factor; formula "
                    f"{mf.formula.text!r} has {first.group!r} and {blk.group!r}")
        Z = np.hstack([b.Z for b in mf.random])
        names = [nm for b in mf.random for nm in b.z_names]
        return cls(mf.X, Z, first.codes, mf.y, term_sizes=[b.q for b in mf.random],
                   correlated=[b.correlated for b in mf.random], x_names=mf.x_names,
                   z_names=names, group=first.group, levels=first.levels)

    # ---- theta <-> Lambda
    def _template(self) -> None:
        rows, cols, lower, theta0 = [], [], [], []
        off = 0
        for size, corr in zip(self.term_sizes, self.correlated, strict=True):
            for c in range(size):
                for r in range(c, size) if corr else (c,):
                    rows.append(off + r)
                    cols.append(off + c)
                    lower.append(0.0 if r == c else -np.inf)
                    theta0.append(1.0 if r == c else 0.0)
            off += size
        self._rows = np.array(rows, dtype=np.intp)
        self._cols = np.array(cols, dtype=np.intp)
        self.theta_lower = np.array(lower)
        self.theta0 = np.array(theta0)
        self.ntheta = len(rows)

    def lam(self, theta) -> np.ndarray:
        """Relative covariance factor :math:`\\Lambda_\\theta` (q x q), Sigma = Lambda Lambda'."""
        L = np.zeros((self.q, self.q))
        L[self._rows, self._cols] = np.asarray(theta, dtype=float)
        return L

    def theta_from_cov(self, cov) -> np.ndarray:
        """Theta of a random-effects covariance matrix Sigma (its Cholesky factor)."""
        cov = np.atleast_2d(np.asarray(cov, dtype=float))
        if cov.shape != (self.q, self.q):
            raise ValueError(f"cov must be {self.q}x{self.q}, got {cov.shape}")
        L = np.linalg.cholesky(cov)
        return L[self._rows, self._cols]

    # ---- per-cluster sums
    def _csum(self, a: np.ndarray) -> np.ndarray:
        return np.asarray(self.G @ a)

    # ---- conditional modes (PIRLS over u)
    def modes(self, theta, beta, u0=None) -> _Mode:
        """Conditional modes :math:`\\tilde u_j` by batched Newton steps with step halving."""
        L = self.lam(theta)
        ZL = self.Z @ L                                   # (n, q)
        off = self.X @ np.asarray(beta, dtype=float)
        q, J = self.q, self.J
        u = np.zeros((J, q)) if u0 is None else np.array(u0, dtype=float)
        eye = np.eye(q)
        zz = np.einsum("ia,ib->iab", ZL, ZL).reshape(self.n, q * q)

        def parts(u):
            eta = off + np.einsum("ia,ia->i", ZL, u[self.codes])
            g = self._csum(_bernoulli_dev(self.y, eta)[:, None])[:, 0] + (u * u).sum(axis=1)
            return eta, g

        eta, g = parts(u)
        for _ in range(_PIRLS_MAXIT):
            mu = expit(eta)
            w = mu * (1.0 - mu)
            A = self._csum(zz * w[:, None]).reshape(J, q, q) + eye
            grad = self._csum(ZL * (self.y - mu)[:, None]) - u      # minus half the gradient
            step = np.linalg.solve(A, grad[..., None])[..., 0]
            t = np.ones(J)
            new_u = u + step
            new_eta, new_g = parts(new_u)
            for _ in range(40):
                worse = new_g > g + 1e-12 * np.abs(g)
                if not worse.any():
                    break
                t = np.where(worse, t / 2.0, t)
                new_u = u + t[:, None] * step
                new_eta, new_g = parts(new_u)
            done = np.max(np.abs(t[:, None] * step)) < _PIRLS_TOL
            u, eta, g = new_u, new_eta, new_g
            if done:
                break
        mu = expit(eta)
        w = mu * (1.0 - mu)
        A = self._csum(zz * w[:, None]).reshape(J, q, q) + eye
        logdet = np.linalg.slogdet(A)[1]
        return _Mode(u=u, eta=eta, g=g, A=A, logdet=logdet)

    # ---- deviances
    def laplace_deviance(self, theta, beta, *, u0=None) -> float:
        """Exact Laplace approximation of ``-2 log L(theta, beta)``."""
        m = self.modes(theta, beta, u0)
        return float(np.sum(m.g + m.logdet))

    def laplace_gradient(self, theta, beta, *, u0=None) -> tuple[float, np.ndarray, _Mode]:
        r"""Laplace deviance and its exact gradient in :math:`(\theta, \beta)`.

        With :math:`D = \sum_j g_j(\tilde u_j) + \log|A_j|`, the mode
        condition :math:`\partial g_j / \partial u_j = 0` removes the path of
        :math:`g` through :math:`\tilde u`; :math:`\log|A_j|` moves with the
        weights, :math:`d\log|A_j| = \sum_{i \in j} s_i\, d\eta_i`,
        :math:`s_i = c_i w_i (1 - 2\mu_i)`, :math:`c_i = \tilde z_i^\top A_j^{-1}\tilde z_i`
        (:math:`\tilde z_i = \Lambda^\top z_i`), and :math:`\eta` moves directly and
        through :math:`d\tilde u_j = A_j^{-1}\,[\ldots]` (implicit differentiation of
        the mode condition). For :math:`\beta`:
        :math:`\partial D/\partial\beta = X^\top(-2(y - \mu) + s - t)`,
        :math:`t_i = w_i \tilde z_i^\top A_j^{-1} v_j`, :math:`v_j = \sum_{i\in j} s_i\tilde z_i`.
        For :math:`\theta_k` (entry :math:`(a, b)` of :math:`\Lambda`): the direct
        terms :math:`\sum_i (s_i - 2(y_i - \mu_i)) z_{ia} u_{jb}` and
        :math:`2\sum_j (A_j^{-1}\Lambda^\top C_j)_{ba}` (:math:`C_j = Z_j^\top W_j Z_j`), plus
        :math:`\sum_j v_j^\top A_j^{-1}\,[e_b (Z_j^\top (y_j - \mu_j))_a
        - \Lambda^\top C_j e_a u_{jb}]`.

        Returns
        -------
        deviance, gradient (theta then beta), the modes
        """
        theta = np.asarray(theta, dtype=float)
        m = self.modes(theta, beta, u0)
        L = self.lam(theta)
        ZL = self.Z @ L
        codes, q, J = self.codes, self.q, self.J
        mu = expit(m.eta)
        w = mu * (1.0 - mu)
        r = self.y - mu
        ainv = np.linalg.inv(m.A)                                   # (J, q, q)
        ainv_rows = ainv[codes]
        c = np.einsum("ia,iab,ib->i", ZL, ainv_rows, ZL)
        s = c * w * (1.0 - 2.0 * mu)
        v = self._csum(ZL * s[:, None])                             # (J, q)
        av = np.einsum("jab,jb->ja", ainv, v)                       # A^{-1} v
        t = w * np.einsum("ia,ia->i", ZL, av[codes])
        g_beta = self.X.T @ (-2.0 * r + s - t)
        zz = np.einsum("ia,ib->iab", self.Z, self.Z).reshape(self.n, q * q)
        C = self._csum(zz * w[:, None]).reshape(J, q, q)            # Z_j' W_j Z_j
        ztr = self._csum(self.Z * r[:, None])                       # Z_j' r_j
        direct_logdet = 2.0 * np.einsum("jab,cb,jcd->ad", ainv, L, C)  # sum_j A^-1 L' C_j
        coef = s - 2.0 * r
        lc = np.einsum("ab,jbc->jac", L.T, C)                       # Lambda' C_j
        g_theta = np.empty(self.ntheta)
        for k, (a, b) in enumerate(zip(self._rows, self._cols, strict=True)):
            direct_eta = float(np.sum(coef * self.Z[:, a] * m.u[codes, b]))
            rhs = -lc[:, :, a] * m.u[:, b][:, None]                 # (J, q)
            rhs[:, b] += ztr[:, a]
            g_theta[k] = direct_eta + direct_logdet[b, a] + float(np.sum(av * rhs))
        dev = float(np.sum(m.g + m.logdet))
        return dev, np.concatenate([g_theta, g_beta]), m

    def agq_deviance(self, theta, beta, nagq: int, *, u0=None) -> float:
        """Adaptive Gauss-Hermite approximation of ``-2 log L`` (one scalar random effect)."""
        if self.q != 1:
            raise ValueError(f"nagq > 1 needs a single scalar random effect; this model has "
                             f"q = {self.q} ({', '.join(self.z_names)})")
        if nagq == 1:
            return self.laplace_deviance(theta, beta, u0=u0)
        m = self.modes(theta, beta, u0)
        nodes, weights = np.polynomial.hermite_e.hermegauss(nagq)
        weights = weights / np.sqrt(2.0 * np.pi)
        sd = 1.0 / np.sqrt(m.A[:, 0, 0])                        # (J,)
        zl = self.Z[:, 0] * float(np.asarray(theta)[0])
        off = self.X @ np.asarray(beta, dtype=float)
        ucl = m.u[:, 0][:, None] + sd[:, None] * nodes[None, :]  # (J, K)
        eta = off[:, None] + zl[:, None] * ucl[self.codes]       # (n, K)
        gk = self._csum(_bernoulli_dev(self.y[:, None], eta)) + ucl**2   # (J, K)
        expo = -0.5 * (gk - m.g[:, None] - nodes[None, :] ** 2)
        top = expo.max(axis=1, keepdims=True)
        log_sum = np.log(np.exp(expo - top) @ weights) + top[:, 0]
        return float(np.sum(m.g + m.logdet - 2.0 * log_sum))

    def deviance(self, theta, beta, *, nagq: int = 1) -> float:
        """``-2 log L`` at (theta, beta): Laplace (``nagq = 1``) or adaptive quadrature."""
        theta = self._check(theta, self.ntheta, "theta")
        beta = self._check(beta, self.p, "beta")
        return self.agq_deviance(theta, beta, nagq) if nagq > 1 else self.laplace_deviance(
            theta, beta)

    @staticmethod
    def _check(v, k, name) -> np.ndarray:
        v = np.asarray(v, dtype=float).ravel()
        if v.shape != (k,):
            raise ValueError(f"{name} must have {k} elements, got {v.size}")
        return v

    # ---- stage 1: theta only, (beta, u) jointly by PIRLS (lme4's nAGQ = 0)
    def _joint_modes(self, theta, beta0):
        L = self.lam(theta)
        ZL = self.Z @ L
        X, q, J, p = self.X, self.q, self.J, self.p
        zz = np.einsum("ia,ib->iab", ZL, ZL).reshape(self.n, q * q)
        xz = np.einsum("ia,ib->iab", X, ZL).reshape(self.n, p * q)
        beta = np.array(beta0, dtype=float)
        u = np.zeros((J, q))

        def objective(beta, u):
            eta = X @ beta + np.einsum("ia,ia->i", ZL, u[self.codes])
            return eta, float(_bernoulli_dev(self.y, eta).sum() + (u * u).sum())

        eta, f = objective(beta, u)
        for _ in range(_PIRLS_MAXIT):
            mu = expit(eta)
            w = mu * (1.0 - mu)
            r = self.y - mu
            A = self._csum(zz * w[:, None]).reshape(J, q, q) + np.eye(q)
            C = self._csum(xz * w[:, None]).reshape(J, p, q)
            gu = self._csum(ZL * r[:, None]) - u
            gb = X.T @ r
            Ainv_gu = np.linalg.solve(A, gu[..., None])[..., 0]
            Ainv_Ct = np.linalg.solve(A, np.swapaxes(C, 1, 2))          # (J, q, p)
            S = X.T @ (X * w[:, None]) - np.einsum("jaq,jqb->ab", C, Ainv_Ct)
            rhs = gb - np.einsum("jaq,jq->a", C, Ainv_gu)
            db = np.linalg.solve(S, rhs)
            du = Ainv_gu - np.einsum("jqa,a->jq", Ainv_Ct, db)
            t = 1.0
            for _ in range(40):
                new_eta, new_f = objective(beta + t * db, u + t * du)
                if new_f <= f + 1e-12 * abs(f):
                    break
                t /= 2.0
            beta, u, eta = beta + t * db, u + t * du, new_eta
            done = abs(f - new_f) < 1e-10 * (abs(new_f) + 1.0)
            f = new_f
            if done:
                break
        mu = expit(eta)
        w = mu * (1.0 - mu)
        A = self._csum(zz * w[:, None]).reshape(J, q, q) + np.eye(q)
        dev = f + float(np.linalg.slogdet(A)[1].sum())
        return dev, beta

    # ---- fitting
    def fit(self, *, nagq: int = 1, theta0=None, beta0=None, warn: bool = True,
            formula: str | None = None) -> GlmerResult:
        """Maximise the Laplace (or quadrature) likelihood; see the module docstring."""
        nagq = check_scalar(nagq, "nagq", kind=(int, np.integer), min_val=1)
        if nagq > 1 and self.q != 1:
            raise ValueError(f"nagq > 1 needs a single scalar random effect (lme4's nAGQ); "
                             f"this model has {self.q}: {', '.join(self.z_names)}")
        if self.n <= self.p:
            raise ValueError(f"{self.n} observations for {self.p} fixed effects")
        # GLM start for beta
        b_glm = fit_logistic(self.X, self.y).coef if beta0 is None else np.asarray(beta0, float)
        th0 = self.theta0.copy() if theta0 is None else self._check(theta0, self.ntheta, "theta0")
        cache: dict = {"beta": b_glm}

        def stage1(th):
            dev, beta = self._joint_modes(th, cache["beta"])
            cache["beta"] = beta
            return dev

        # theta is optimised without bounds: the deviance depends on Lambda only
        # through Lambda Lambda', so a column's sign is fixed afterwards (diagonal >= 0)
        r1 = bfgs(lambda th: (stage1(th), _central_gradient(stage1, th, 1e-5)), th0,
                  gtol=1e-2, ftol=1e-8, maxiter=5)
        theta1 = self._canonical(r1.x)
        _, beta1 = self._joint_modes(theta1, cache["beta"])
        # stage 2: (theta, beta) on the Laplace / AGQ deviance
        k = self.ntheta
        x0 = np.concatenate([theta1, beta1])
        state = {"u": None}

        def dev2(x):
            return self.agq_deviance(x[:k], x[k:], nagq)

        def value_grad(x):
            if nagq > 1:
                return dev2(x), _central_gradient(dev2, x, 1e-5)
            dev, grad, m = self.laplace_gradient(x[:k], x[k:], u0=state["u"])
            state["u"] = m.u  # warm start for the next evaluation (nearby parameters)
            return dev, grad

        r2 = bfgs(value_grad, x0, gtol=1e-6, ftol=1e-15, maxiter=1000)
        diag = self._rows == self._cols
        if np.any(np.abs(r2.x[:k][diag]) < SINGULAR_TOL):
            # theta_ii = 0 is a stationary point of the deviance in every case (it is
            # even in each column of Lambda), so a boundary solution is only accepted
            # after restarts from inside do no better
            for start in (self.theta0, 0.5 * self.theta0):
                r_alt = bfgs(value_grad, np.concatenate([start, r2.x[k:]]), gtol=1e-6,
                             ftol=1e-15, maxiter=1000)
                if r_alt.fun < r2.fun - 1e-9:
                    r2 = r_alt
        if nagq > 1:
            hessian = lambda x: _hessian(dev2, x)  # noqa: E731
        else:
            hessian = lambda x: _hessian_from_gradient(value_grad, x)  # noqa: E731
        x, grad, hess, n_newton = _newton_polish(value_grad, hessian,
                                                 np.asarray(r2.x, dtype=float))
        x[:k] = self._canonical(x[:k])
        theta, beta = x[:k], x[k:]
        dev = self.deviance(theta, beta, nagq=nagq)
        mode = self.modes(theta, beta)
        # convergence checks (lme4's checkConv)
        messages: list[str] = []
        singular = bool(np.any(theta[diag] < SINGULAR_TOL))
        if singular:
            messages.append("boundary (singular) fit: see help('isSingular')")
        else:
            messages.extend(convergence_messages(grad, hess, conditioning=False))
        converged = not any(m.startswith(("Model failed", "unable")) for m in messages)
        if warn:
            for msg in messages:
                cls = SingularFitWarning if msg.startswith("boundary") else ConvergenceWarning
                warnings.warn(msg, cls, stacklevel=3)
        vcov = _vcov_from_hessian(hess, k)
        return GlmerResult(model=self, theta=theta, beta=beta, dev=dev, nagq=nagq, mode=mode,
                           vcov_beta=vcov, hessian=hess, gradient=grad, converged=converged,
                           singular=singular, messages=messages, formula=formula,
                           optimizer=dict(stage1=r1.message, stage2=r2.message, nit=r2.nit,
                                          nfev=r1.nfev + r2.nfev, newton_steps=n_newton))

    def _canonical(self, theta: np.ndarray) -> np.ndarray:
        """Flip the sign of Lambda columns with a negative diagonal (same Sigma)."""
        L = self.lam(theta)
        L = L * np.where(np.diag(L) < 0, -1.0, 1.0)[None, :]
        return L[self._rows, self._cols]


def _central_gradient(f, x, h):
    g = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h * max(1.0, abs(x[i]))
        g[i] = (f(x + e) - f(x - e)) / (2.0 * e[i])
    return g


def _hessian(f, x, h=1e-4):
    """Central-difference Hessian of ``f`` at ``x`` (step ``h``, as lme4's deriv12)."""
    k = x.size
    f0 = f(x)
    H = np.empty((k, k))
    fp = np.empty(k)
    fm = np.empty(k)
    for i in range(k):
        e = np.zeros(k)
        e[i] = h
        fp[i], fm[i] = f(x + e), f(x - e)
        H[i, i] = (fp[i] - 2.0 * f0 + fm[i]) / h**2
    for i in range(k):
        for j in range(i + 1, k):
            ei = np.zeros(k)
            ej = np.zeros(k)
            ei[i] = h
            ej[j] = h
            H[i, j] = H[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej)
                                 + f(x - ei - ej)) / (4.0 * h**2)
    grad = (fp - fm) / (2.0 * h)
    return grad, H


def _hessian_from_gradient(value_grad, x, h=1e-4):
    """Central differences of an exact gradient: (gradient at x, Hessian)."""
    k = x.size
    H = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = h
        H[:, i] = (value_grad(x + e)[1] - value_grad(x - e)[1]) / (2.0 * h)
    return value_grad(x)[1], 0.5 * (H + H.T)


def _newton_polish(value_grad, hessian, x, *, max_steps=6):
    """Newton steps with a finite-difference Hessian; returns x, gradient, Hessian, steps."""
    grad, H = hessian(x)
    steps = 0
    fx = value_grad(x)[0]
    for _ in range(max_steps):
        if np.max(np.abs(grad)) < 1e-7:
            break
        try:
            np.linalg.cholesky(H)
        except np.linalg.LinAlgError:
            break
        new = x - np.linalg.solve(H, grad)
        fn = value_grad(new)[0]
        if not fn <= fx + 1e-10:
            break
        x, fx = new, fn
        steps += 1
        grad, H = hessian(x)
    return x, grad, H, steps


def _vcov_from_hessian(H: np.ndarray, k: int) -> np.ndarray:
    """Covariance of beta, :math:`[(H/2)^{-1}]_{\beta\beta}`, from the deviance Hessian.

    When the full Hessian is not positive definite (a boundary fit), the
    beta block alone is used, :math:`(H_{\beta\beta}/2)^{-1}` (beta's
    covariance at the estimated theta), as lme4 falls back to when its
    Hessian-based covariance is not positive definite.
    """
    for block in (H, H[k:, k:]):
        try:
            np.linalg.cholesky(0.5 * (block + block.T))
        except np.linalg.LinAlgError:
            continue
        inv = np.linalg.inv(block)
        v = 2.0 * (inv[k:, k:] if block.shape == H.shape else inv)
        return 0.5 * (v + v.T)
    return np.full((H.shape[0] - k, H.shape[0] - k), np.nan)


@dataclass
class GlmerResult(MixedResultMixin):
    """A fitted logistic mixed model (what ``lme4::glmer(family = binomial)`` returns).

    Shares the result API of :class:`~mlmice.mixed.lmm.LmerResult` (documented in
    :mod:`mlmice._results`; the common part from
    :class:`~mlmice.mixed.results.MixedResultMixin`): ``fixef``,
    ``se``, ``vcov``, ``varcorr`` (no residual row: a binomial model has
    none), ``loglik``, ``deviance`` (``-2 loglik``; R's ``deviance()`` of a
    glmer fit is the conditional deviance, here :attr:`conditional_deviance`),
    ``aic``, ``bic``, ``nobs``, ``ngroups``, ``df_residual``/``dfcom``,
    ``converged``, ``formula`` and ``tidy()``. Standard errors come from the
    Hessian of the deviance (lme4's default, ``vcov_beta``).
    """

    model: GlmerModel
    theta: np.ndarray
    beta: np.ndarray
    dev: float
    nagq: int
    mode: _Mode
    vcov_beta: np.ndarray
    hessian: np.ndarray
    gradient: np.ndarray
    converged: bool
    singular: bool
    messages: list[str]
    formula: str | None = None
    optimizer: dict = field(default_factory=dict)
    n_dropped: int = 0
    index: pd.Index | None = None

    family = "binomial"
    #: a binomial model has no residual variance (no Residual row in varcorr or tidy)
    _residual_sd = None

    @cached_property
    def cov_re(self) -> np.ndarray:
        """Covariance matrix of the random effects, :math:`\\Lambda\\Lambda^\\top`."""
        L = self.model.lam(self.theta)
        return L @ L.T

    def covariance_terms(self) -> list[CovarianceTerm]:
        m = self.model
        out = []
        off = 0
        for k, size in enumerate(m.term_sizes):
            sl = slice(off, off + size)
            name = m.group if k == 0 else f"{m.group}.{k}"
            out.append(CovarianceTerm(group=name, names=m.z_names[sl], cov=self.cov_re[sl, sl]))
            off += size
        return out

    @cached_property
    def ranef(self) -> pd.DataFrame:
        """Conditional modes of the random effects, rows = clusters (``ranef(fit)``)."""
        b = self.mode.u @ self.model.lam(self.theta).T
        return pd.DataFrame(b, index=pd.Index(self.model.levels, name=self.model.group),
                            columns=self.model.z_names)

    @cached_property
    def fitted(self) -> np.ndarray:
        """Conditional fitted probabilities (``fitted(fit)``)."""
        return expit(self.mode.eta)

    @property
    def ngroups(self) -> dict[str, int]:
        return {self.model.group: self.model.J}

    @property
    def df(self) -> int:
        """Number of parameters (``attr(logLik(fit), "df")``)."""
        return self.model.p + self.model.ntheta

    @property
    def loglik(self) -> float:
        """Laplace (``nagq = 1``) or quadrature log-likelihood at the estimates."""
        return -0.5 * self.dev

    @property
    def deviance(self) -> float:
        """``-2 loglik`` (the project-wide meaning; see :attr:`conditional_deviance`)."""
        return self.dev

    @property
    def conditional_deviance(self) -> float:
        """R's ``deviance(glmer_fit)``: the sum of deviance residuals at the conditional modes."""
        return float(_bernoulli_dev(self.model.y, self.mode.eta).sum())

    def tidy(self, conf_int: bool = True, conf_level: float = 0.95) -> pd.DataFrame:
        """broom.mixed's ``tidy(fit, conf.int = TRUE)``: fixed effects (with ``p_value``,
        the Wald z test, as broom.mixed reports for glmer), then ran_pars."""
        out = super().tidy(conf_int=conf_int, conf_level=conf_level)
        pv = 2.0 * norm_sf(np.abs(out["statistic"].to_numpy(dtype=float)))
        out.insert(out.columns.get_loc("statistic") + 1, "p_value", pv)
        return out

    def summary(self) -> str:
        how = "Laplace" if self.nagq == 1 else f"adaptive Gauss-Hermite ({self.nagq} nodes)"
        lines = [f"Generalized linear mixed model fit by maximum likelihood ({how}), "
                 "family binomial (logit)"]
        if self.formula:
            lines.append(f"Formula: {self.formula}")
        lines.append(f"logLik {self.loglik:.4f}  AIC {self.aic:.4f}  nobs {self.nobs}")
        lines.append(self.varcorr.to_string(index=False))
        lines.append(self.tidy(conf_int=False).query("effect == 'fixed'")[
            ["term", "estimate", "std_error", "statistic", "p_value"]].to_string(index=False))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<GlmerResult binomial nagq={self.nagq} nobs={self.nobs} "
                f"loglik={self.loglik:.4f} converged={self.converged}>")


def glmer(formula: str, data: pd.DataFrame, *, family: str = "binomial", nagq: int = 1,
          factors=None, warn: bool = True) -> GlmerResult:
    """Fit a logistic mixed model as ``lme4::glmer(formula, data, family = binomial, nAGQ = nagq)``.

    Parameters
    ----------
    formula : str
        lme4 syntax with random effects on one grouping factor, e.g.
        ``"gender_ij ~ popularity_ij + (1 | cluster_id)"`` or
        ``"y ~ x + (1 + x | g)"``.
    data : pandas.DataFrame
        Rows with a missing value in a variable of the formula are dropped
        (``na.omit``). The response is 0/1 (a two-level factor is coded 0/1,
        first level 0, as R does).
    family : {"binomial"}
        Only the binomial family with the logit link.
    nagq : int, default 1
        1: Laplace approximation; > 1: adaptive Gauss-Hermite quadrature with
        that many nodes (a single scalar random effect only, as lme4).
    factors : iterable of str, optional
        Numeric columns to treat as factors.
    warn : bool, default True
        Emit :class:`ConvergenceWarning` / :class:`SingularFitWarning`.

    Returns
    -------
    GlmerResult
    """
    if family not in ("binomial", "binomial(link = 'logit')"):
        raise ValueError(f"family == {family!r}; glmer supports family='binomial' (logit link)")
    mf = model_frame(formula, data, factors=factors, numeric_response=False)
    if not mf.random:
        raise ValueError(f"formula {formula!r} has no random-effects terms; use a GLM")
    model = GlmerModel.from_frame(mf)
    res = model.fit(nagq=nagq, warn=warn, formula=str(formula))
    res.n_dropped = mf.n_dropped
    res.index = mf.index
    return res

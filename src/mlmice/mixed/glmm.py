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

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.special import expit

from mlmice._threads import one_blas_thread
from mlmice._validation import check_scalar
from mlmice.design import ModelFrame, model_frame
from mlmice.mixed.derivatives import (
    central_gradient,
    hessian,
    hessian_of_gradient,
    newton_polish,
    vcov_from_hessian,
)
from mlmice.mixed.glmer_result import ConditionalModes, GlmerResult
from mlmice.mixed.logistic import LogisticFit, bernoulli_deviance, fit_logistic
from mlmice.mixed.optim import bfgs
from mlmice.mixed.results import ConvergenceWarning, SingularFitWarning, convergence_messages
from mlmice.mixed.terms import LambdaTemplate

__all__ = ["GlmerModel", "GlmerResult", "LogisticFit", "fit_logistic", "glmer"]

SINGULAR_TOL = 1e-4   # lme4: check.conv.singular
_PIRLS_TOL = 1e-11
_PIRLS_MAXIT = 100


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
        if self.n and np.all(self.y == self.y[0]):
            raise ValueError(f"the response is {float(self.y[0]):g} in all {self.n} rows: a "
                             "logistic model needs both outcomes (its estimates would run "
                             "off to infinity)")
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
        self.template = LambdaTemplate.build(self.term_sizes, self.correlated)
        self._rows, self._cols = self.template.rows, self.template.cols
        self.theta0, self.ntheta = self.template.theta0, self.template.ntheta
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

    # ---- theta <-> Lambda (mlmice.mixed.terms)
    def lam(self, theta) -> np.ndarray:
        """Relative covariance factor :math:`\\Lambda_\\theta` (q x q), Sigma = Lambda Lambda'."""
        return self.template.lam(theta)

    def theta_from_cov(self, cov) -> np.ndarray:
        """Theta of a random-effects covariance matrix Sigma (its Cholesky factor)."""
        cov = np.atleast_2d(np.asarray(cov, dtype=float))
        if cov.shape != (self.q, self.q):
            raise ValueError(f"cov must be {self.q}x{self.q}, got {cov.shape}")
        blocks = [cov[sl, sl] for sl in self._term_slices()]
        return self.template.theta_from_cov(blocks)

    def _term_slices(self) -> list[slice]:
        offsets = np.cumsum([0] + self.term_sizes)
        return [slice(a, b) for a, b in zip(offsets[:-1], offsets[1:], strict=True)]

    # ---- per-cluster sums
    def _csum(self, a: np.ndarray) -> np.ndarray:
        return np.asarray(self.G @ a)

    # ---- conditional modes (PIRLS over u)
    def modes(self, theta, beta, u0=None) -> ConditionalModes:
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
            g = self._csum(bernoulli_deviance(self.y, eta)[:, None])[:, 0] + (u * u).sum(axis=1)
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
        return ConditionalModes(u=u, eta=eta, g=g, A=A, logdet=logdet)

    # ---- deviances
    def laplace_deviance(self, theta, beta, *, u0=None) -> float:
        """Exact Laplace approximation of ``-2 log L(theta, beta)``."""
        m = self.modes(theta, beta, u0)
        return float(np.sum(m.g + m.logdet))

    def laplace_gradient(self, theta, beta, *, u0=None
                         ) -> tuple[float, np.ndarray, ConditionalModes]:
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
        gk = self._csum(bernoulli_deviance(self.y[:, None], eta)) + ucl**2   # (J, K)
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
            return eta, float(bernoulli_deviance(self.y, eta).sum() + (u * u).sum())

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
        with one_blas_thread():
            return self._fit(nagq=nagq, theta0=theta0, beta0=beta0, warn=warn,
                             formula=formula)

    def _fit(self, *, nagq, theta0, beta0, warn, formula) -> GlmerResult:
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
        r1 = bfgs(lambda th: (stage1(th), central_gradient(stage1, th, 1e-5)), th0,
                  gtol=1e-2, ftol=1e-8, maxiter=5)
        theta1 = self.template.canonical(r1.x)
        _, beta1 = self._joint_modes(theta1, cache["beta"])
        # stage 2: (theta, beta) on the Laplace / AGQ deviance
        k = self.ntheta
        x0 = np.concatenate([theta1, beta1])
        state = {"u": None}

        def dev2(x):
            return self.agq_deviance(x[:k], x[k:], nagq)

        def value_grad(x):
            if nagq > 1:
                return dev2(x), central_gradient(dev2, x, 1e-5)
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
        def refresh(x):    # (gradient, Hessian) at x
            if nagq > 1:
                return hessian(dev2, x)
            hess = hessian_of_gradient(lambda z: value_grad(z)[1], x)
            return value_grad(x)[1], hess

        x = np.asarray(r2.x, dtype=float)
        grad, hess = refresh(x)
        x, _, grad, hess, _, _, n_newton = newton_polish(
            lambda z: (value_grad(z)[0], None, None), x, value_grad(x)[0], grad, hess,
            max_steps=6, gtol=1e-7, refresh=refresh, abs_tol=1e-10)
        x[:k] = self.template.canonical(x[:k])
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
                warnings.warn(msg, cls, stacklevel=4)
        vcov = vcov_from_hessian(hess, k)
        return GlmerResult(model=self, theta=theta, beta=beta, dev=dev, nagq=nagq, mode=mode,
                           vcov_beta=vcov, hessian=hess, gradient=grad, converged=converged,
                           singular=singular, messages=messages, formula=formula,
                           optimizer=dict(stage1=r1.message, stage2=r2.message, nit=r2.nit,
                                          nfev=r1.nfev + r2.nfev, newton_steps=n_newton))


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
    factors : str or iterable of str, optional
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

r"""Linear mixed models by the profiled deviance (an lme4-equivalent ``lmer``).

The model (Bates, Maechler, Bolker and Walker 2015, *Fitting linear
mixed-effects models using lme4*, JSS 67(1), sections 3-5):

.. math::

    y = X\beta + Z b + \varepsilon,\quad b = \Lambda_\theta u,\quad
    u \sim N(0, \sigma^2 I_Q),\quad \varepsilon \sim N(0, \sigma^2 I_n),

with the relative covariance factor :math:`\Lambda_\theta` block diagonal:
one lower-triangular :math:`q_k \times q_k` block per random-effects term,
repeated for every level of its grouping factor, its entries the parameter
vector :math:`\theta` (column-major lower triangle per term; the diagonal
bounded below by 0). For given :math:`\theta` the penalised least squares
problem :math:`\min_{u,\beta} \|y - X\beta - Z\Lambda u\|^2 + \|u\|^2` is
solved through the blocks of

.. math::

    M = \begin{pmatrix} A & \Lambda^\top Z^\top X \\ X^\top Z\Lambda & X^\top X\end{pmatrix},
    \quad A = \Lambda^\top Z^\top Z \Lambda + I,

and the profiled deviances are (JSS eqs. 34 and 41)

.. math::

    d_{ML}(\theta) = \log|A| + n\,[1 + \log(2\pi r^2/n)],\qquad
    d_{REML}(\theta) = \log|A| + \log|S| + (n-p)\,[1 + \log(2\pi r^2/(n-p))],

where :math:`S = X^\top X - X^\top Z\Lambda A^{-1}\Lambda^\top Z^\top X`
(:math:`= R_X^\top R_X`) and :math:`r^2` is the minimum penalised residual sum
of squares.

Block structure. When every random term has the same grouping factor (the
two-level models of the tutorial and of the imputation methods), :math:`A` is
block diagonal with one :math:`q \times q` block per cluster,
:math:`A_j = \Lambda^\top Z_j^\top Z_j \Lambda + I`. The cross-products
:math:`Z_j^\top Z_j`, :math:`Z_j^\top X_j`, :math:`X^\top X` are formed once
(:math:`O(nq^2 + nqp)`); one deviance evaluation then costs
:math:`O(Jq^3 + Jq^2p + p^3)`, independent of :math:`n`, done with batched
NumPy operations over the stacked :math:`(J, q, q)` blocks.

Several grouping factors (crossed or nested: ``(1 | school) + (1 | school:class)``)
keep the first term's block-diagonal part (lme4's order puts the factor with
most levels first) and eliminate it by the Schur complement
:math:`T = A_{22} - A_{21}A_{11}^{-1}A_{12}`, dense only in the other terms'
:math:`Q_2` effects: :math:`O(J_1 q_1^2 Q_2 + J_1 q_1 Q_2^2 + Q_2^3)` per
evaluation, with :math:`Z^\top Z` kept sparse (lme4 uses a sparse Cholesky
factor there; this is exact and fast while :math:`Q_2` stays in the hundreds).

Optimiser. The deviance depends on :math:`\Lambda` only through
:math:`\Lambda\Lambda^\top`, which does not change when a column of a term's
factor changes sign; so :math:`\theta` is optimised without bounds (BFGS,
:mod:`mlmice.mixed.optim`) and each column's sign fixed afterwards, and a stop
on the symmetry point :math:`\theta_{ii} = 0` is escaped by trial values.

Gradient. The analytic gradient of the profiled deviance is used by the
optimiser: with
:math:`E_i = \partial\Lambda/\partial\theta_i`,
:math:`\partial\log|A| = 2\,\mathrm{tr}(A^{-1}\Lambda^\top Z^\top Z E_i)`; by the
envelope theorem :math:`\partial r^2 = -2\, e^\top Z E_i u` at the PLS solution;
for REML, :math:`\partial(\log|A| + \log|S|) = \mathrm{tr}(M^{-1}\partial M)`
uses the diagonal blocks :math:`A_j^{-1} + G_j S^{-1}G_j^\top` of
:math:`M^{-1}`, with :math:`G_j = A_j^{-1}\Lambda^\top Z_j^\top X_j`. After the
optimiser, Newton steps with a finite-difference Hessian of the analytic
gradient polish :math:`\theta` to the optimum (lme4's default optimiser stops
earlier: see DESIGN.md, "Where R is not the truth").

Convergence is then checked as lme4's ``checkConv`` does: a singular fit
(a bounded :math:`\theta_i < 10^{-4}`) raises :class:`SingularFitWarning`;
otherwise the scaled gradient :math:`\min(|H^{-1/2}g|, |g|)` must be below
0.002 and the Hessian positive definite, else :class:`ConvergenceWarning`.

Standard errors are lme4's: :math:`\mathrm{vcov}(\hat\beta) =
\hat\sigma^2 S^{-1} = (X^\top V^{-1}X)^{-1}` at the estimates.

Building blocks (for imputation methods and pooling)
----------------------------------------------------
``LmerModel.from_arrays(X, Z, groups, n_groups=J)``
    The structure from raw arrays (e.g. from
    ``mlmice.impute.methods.base.two_level_design``), cross-products formed once.
``model.fit(y, reml=True, theta0=None, check_conv=True, warn=True)``
    Fit a response; ``theta0=previous.theta`` warm-starts a refit, and
    ``check_conv=False`` skips lme4's checks (and the Newton polish) in inner loops.
``lmer_arrays(X, Z, groups, y, ...)``
    Both in one call.
Result arrays
    ``beta``, ``vcov_beta`` (:math:`\hat\sigma^2 S^{-1}`), ``sigma``, ``theta``,
    ``b`` (conditional modes per term, ``(J, q)``), ``cond_cov[group]``
    (lme4's condVar, ``(J, q, q)``; clusters without rows get the prior
    :math:`\sigma^2\Lambda\Lambda^\top`), ``covariance_terms()`` (the random
    effects' covariance matrices), ``fitted``, ``residuals``.
``model.deviance(theta, y, reml=...)``, ``model.deviance_gradient(...)``
    The profiled deviance (lme4's ``devfun``) and its gradient.
``loglik_at(formula, data, beta=, theta= | covs=, sigma=)``
    The log-likelihood at given parameters (mitml's D3); also
    ``result.loglik_at(fixef=, covariances=, sigma2=)``.
"""

from __future__ import annotations

import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import sparse

from mlmice._results import coef_vector, residual_sd
from mlmice.design import ModelFrame, RandomBlock, model_frame
from mlmice.mixed._blas import single_threaded_blas
from mlmice.mixed.optim import bfgs
from mlmice.mixed.results import (
    ConvergenceWarning,
    CovarianceTerm,
    MixedResultMixin,
    SingularFitWarning,
    convergence_messages,
    unique_group_names,
)

__all__ = ["LmerModel", "LmerResult", "lmer", "lmer_arrays", "loglik_at", "ConvergenceWarning",
           "SingularFitWarning"]

_LOG2PI = np.log(2 * np.pi)
SINGULAR_TOL = 1e-4      # lme4: check.conv.singular tol
DERIV_DELTA = 1e-4       # lme4: deriv12 delta
_CANCEL = 1e-4           # recompute r2 from residuals when r2 < _CANCEL * y'y
DENSE_MAX_Q = 500        # several grouping factors: keep a dense Z'Z only up to this Q


# --------------------------------------------------------------------------- structure

@dataclass
class ReTerm:
    """One random-effects term as the model sees it.

    Attributes
    ----------
    group : str
        Grouping factor label.
    names : list of str
        Effect names.
    Z : ndarray of shape (n, q)
    codes : ndarray of int, shape (n,)
    levels : ndarray
        Level labels of the grouping factor (``n_levels`` of them).
    correlated : bool
        Whether the effects of this term are correlated (full lower triangle
        of :math:`\\Lambda_k`) or not (diagonal).
    """

    group: str
    names: list[str]
    Z: np.ndarray
    codes: np.ndarray
    levels: np.ndarray
    correlated: bool = True

    @property
    def q(self) -> int:
        return self.Z.shape[1]

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    def template(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, cols) of the theta entries in this term's Lambda block, lme4's order."""
        q = self.q
        if self.correlated:
            rows, cols = [], []
            for c in range(q):          # column-major lower triangle
                for r in range(c, q):
                    rows.append(r)
                    cols.append(c)
            return np.array(rows, dtype=np.intp), np.array(cols, dtype=np.intp)
        idx = np.arange(q, dtype=np.intp)
        return idx, idx.copy()


def _lme4_order(terms: list[ReTerm]) -> list[ReTerm]:
    """lme4's ``mkReTrms`` orders terms by decreasing number of levels (when not already)."""
    nl = np.array([t.n_levels for t in terms])
    if len(nl) > 1 and np.any(np.diff(nl) > 0):
        order = np.argsort(nl, kind="stable")[::-1]
        return [terms[i] for i in order]
    return list(terms)


def _one_hot(codes: np.ndarray, n_levels: int) -> sparse.csr_matrix:
    n = len(codes)
    return sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(n_levels, n))


@dataclass
class _Eval:
    """Quantities of one profiled-deviance evaluation at theta."""

    theta: np.ndarray
    deviance: float
    grad: np.ndarray | None
    beta: np.ndarray
    u: np.ndarray          # (J, q)
    r2: float
    logdet_a: float
    logdet_s: float
    sinv: np.ndarray       # S^{-1}
    lam: np.ndarray        # (q, q)


class LmerModel:
    """The structure of a linear mixed model, built once and fitted to any response.

    Holds the cross-products :math:`Z_j^\\top Z_j`, :math:`Z_j^\\top X_j`,
    :math:`X^\\top X` and the map from :math:`\\theta` to :math:`\\Lambda`, so that
    :meth:`fit` for a new response costs only :math:`O(n(q+p))` plus the
    optimisation (the imputation methods refit every iteration).

    Build it from a formula's :class:`~mlmice.design.ModelFrame`
    (:meth:`from_frame`) or from raw arrays (:meth:`from_arrays`).

    Parameters
    ----------
    X : ndarray of shape (n, p)
        Fixed-effects matrix (full column rank).
    terms : list of ReTerm
        Random-effects terms (reordered as lme4 orders them).
    x_names : list of str, optional
    """

    def __init__(self, X: np.ndarray, terms: list[ReTerm], *, x_names=None):
        X = np.ascontiguousarray(X, dtype=float)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-dimensional, got shape {X.shape}")
        if not terms:
            raise ValueError("a mixed model needs at least one random-effects term; "
                             "use mlmice.lm for a model without one")
        self.X = X
        self.n, self.p = X.shape
        self.x_names = list(x_names) if x_names is not None else [f"x{i}" for i in
                                                                  range(self.p)]
        self.terms = _lme4_order(terms)
        for t in self.terms:
            if t.Z.shape[0] != self.n or len(t.codes) != self.n:
                raise ValueError(f"random term on {t.group!r} has {t.Z.shape[0]} rows, "
                                 f"X has {self.n}")
        self.group_names = unique_group_names([t.group for t in self.terms])
        first = self.terms[0]
        self.single = all(t.group == first.group and np.array_equal(t.codes, first.codes)
                          for t in self.terms[1:])
        self._build_template()
        self._build_crossproducts()

    # ---- construction
    @classmethod
    def from_frame(cls, mf: ModelFrame) -> LmerModel:
        """Model structure of a :class:`~mlmice.design.ModelFrame` (``model_frame(...)``)."""
        terms = [_term_from_block(b) for b in mf.random]
        return cls(mf.X, terms, x_names=mf.x_names)

    @classmethod
    def from_arrays(cls, X, Z, groups, *, x_names=None, z_names=None,
                    group_name: str = "group", n_groups: int | None = None) -> LmerModel:
        """Model with one grouping factor from raw arrays (no formula).

        Parameters
        ----------
        X : array of shape (n, p)
            Fixed effects (include the intercept column yourself).
        Z : array of shape (n, q)
            Random effects of the single grouping factor (correlated, as
            ``(1 + x | g)``).
        groups : array of int, shape (n,)
            Cluster codes ``0..J-1`` (or any labels; they are factorised).
        x_names, z_names : list of str, optional
        group_name : str
        n_groups : int, optional
            Number of clusters J when ``groups`` are integer codes; clusters
            without rows get the prior (``b_j = 0``, conditional covariance
            :math:`\\sigma^2\\Lambda\\Lambda^\\top`), which is what an imputation
            method needs for clusters with nothing observed.

        Examples
        --------
        The design of :func:`mlmice.impute.methods.base.two_level_design`::

            X, xn, Z, zn = two_level_design(data)
            model = LmerModel.from_arrays(X[ry], Z[ry], data.cluster[ry])
            fit = model.fit(y[ry], reml=True)
        """
        X = np.asarray(X, dtype=float)
        Z = np.asarray(Z, dtype=float)
        if Z.ndim == 1:
            Z = Z[:, None]
        groups = np.asarray(groups)
        if groups.ndim != 1 or len(groups) != X.shape[0] or Z.shape[0] != X.shape[0]:
            raise ValueError(f"X ({X.shape}), Z ({Z.shape}) and groups ({groups.shape}) "
                             "must have the same number of rows")
        if np.issubdtype(groups.dtype, np.integer) and groups.size and groups.min() >= 0:
            codes = groups.astype(np.intp)
            n_lev = int(codes.max()) + 1 if n_groups is None else int(n_groups)
            if n_lev <= codes.max():
                raise ValueError(f"n_groups == {n_groups}, but groups has codes up to "
                                 f"{codes.max()}")
            levels = np.arange(n_lev)
        else:
            levels, codes = np.unique(groups, return_inverse=True)
        names = list(z_names) if z_names is not None else (
            ["(Intercept)"] + [f"z{i}" for i in range(1, Z.shape[1])])
        term = ReTerm(group=group_name, names=names, Z=np.ascontiguousarray(Z),
                      codes=codes, levels=np.asarray(levels))
        return cls(X, [term], x_names=x_names)

    def _build_template(self) -> None:
        rows, cols, tidx, lower, theta0 = [], [], [], [], []
        self.theta_slices = []
        offset_t = 0
        offset_u = 0
        self.u_offsets = []
        for t in self.terms:
            r, c = t.template()
            k = len(r)
            self.theta_slices.append(slice(offset_t, offset_t + k))
            lower.extend(np.where(r == c, 0.0, -np.inf))
            theta0.extend(np.where(r == c, 1.0, 0.0))
            if self.single:
                rows.append(r + offset_u)
                cols.append(c + offset_u)
                tidx.append(np.arange(offset_t, offset_t + k))
                self.u_offsets.append(offset_u)
                offset_u += t.q
            else:
                base = offset_u + np.arange(t.n_levels)[:, None] * t.q
                rows.append((base + r[None, :]).ravel())
                cols.append((base + c[None, :]).ravel())
                tidx.append(np.tile(np.arange(offset_t, offset_t + k), t.n_levels))
                self.u_offsets.append(offset_u)
                offset_u += t.q * t.n_levels
            offset_t += k
        self.q = offset_u
        self._rows = np.concatenate(rows)
        self._cols = np.concatenate(cols)
        self._tidx = np.concatenate(tidx)
        self.lower = np.array(lower)
        self.theta0 = np.array(theta0)
        self.ntheta = offset_t

    def _build_crossproducts(self) -> None:
        X = self.X
        if self.single:
            Z = np.hstack([t.Z for t in self.terms])
            self.n_clusters = self.terms[0].n_levels
            G = _one_hot(self.terms[0].codes, self.n_clusters)
            q, p, n = Z.shape[1], self.p, self.n
            self._G = G
            self._Z = Z
            J = self.n_clusters
            self._C = np.asarray(G @ (Z[:, :, None] * Z[:, None, :]).reshape(n, q * q)
                                 ).reshape(J, q, q)
            if p:
                self._D = np.asarray(G @ (Z[:, :, None] * X[:, None, :]).reshape(n, q * p)
                                     ).reshape(J, q, p)
            else:
                self._D = np.zeros((J, q, 0))
        else:
            blocks = []
            for t in self.terms:
                n, q = t.Z.shape
                rows = np.repeat(np.arange(n), q)
                cols = (t.codes[:, None] * q + np.arange(q)[None, :]).ravel()
                blocks.append(sparse.csr_matrix((t.Z.ravel(), (rows, cols)),
                                                shape=(n, q * t.n_levels)))
            Zs = sparse.hstack(blocks).tocsc()
            self.n_clusters = 1
            self._G = None
            self._Z = Zs
            self._Csp = (Zs.T @ Zs).tocsr()
            # the dense Q x Q form is kept only for small Q (reference evaluation)
            self._C = self._Csp.toarray()[None, :, :] if self.q <= DENSE_MAX_Q else None
            self._D = np.asarray(Zs.T @ X)[None, :, :]
        self._XtX = X.T @ X
        self._eye = np.eye(self.q) if (self.single or self.q <= DENSE_MAX_Q) else None
        self.schur = not self.single
        if self.schur:
            self._build_schur()

    def _build_schur(self) -> None:
        """Blocks of Z'Z for the Schur-complement evaluation (several grouping factors).

        The first term (the grouping factor with most levels, lme4's order) has
        block-diagonal :math:`A_{11}`; the other terms form a dense part of
        size :math:`Q_2`.
        """
        t1 = self.terms[0]
        J1, q1, p, n = t1.n_levels, t1.q, self.p, self.n
        Q1 = J1 * q1
        Q2 = self.q - Q1
        D = self._D[0]
        Z1 = t1.Z
        G1 = _one_hot(t1.codes, J1)
        Z2 = self._Z[:, Q1:]
        self._s_dims = (J1, q1, Q1, Q2)
        self._s_C11 = np.asarray(G1 @ (Z1[:, :, None] * Z1[:, None, :]).reshape(n, q1 * q1)
                                 ).reshape(J1, q1, q1)
        C21 = np.empty((Q2, J1, q1))
        for a in range(q1):   # Z_2' (Z_1 column a spread over the levels of term 1)
            Za = sparse.csc_matrix((Z1[:, a], (np.arange(n), t1.codes)), shape=(n, J1))
            C21[:, :, a] = (Z2.T @ Za).toarray()
        self._s_C21 = C21
        self._s_C22 = (Z2.T @ Z2).toarray()
        self._s_D1 = np.ascontiguousarray(D[:Q1].reshape(J1, q1, p))
        self._s_D2 = np.ascontiguousarray(D[Q1:])
        sel2 = self._rows >= Q1
        self._s_L2_rows = self._rows[sel2] - Q1
        self._s_L2_cols = self._cols[sel2] - Q1
        self._s_L2_tidx = self._tidx[sel2]
        r1, c1 = t1.template()
        self._s_L1_pos = (r1, c1, self.theta_slices[0])
        # positions of theta entries: in a diagonal block of term 1, or in the dense part
        rr, cc = self._rows, self._cols
        in1 = rr < Q1
        self._s_in1 = in1
        self._s_j = rr[in1] // q1
        self._s_r1, self._s_c1 = rr[in1] % q1, cc[in1] % q1
        self._s_r2, self._s_c2 = rr[~in1] - Q1, cc[~in1] - Q1

    # ---- response-dependent parts
    def _y_parts(self, y: np.ndarray):
        """Cross-products with the response after removing its OLS fit (for accuracy)."""
        y = np.asarray(y, dtype=float)
        if y.shape != (self.n,):
            raise ValueError(f"y must have shape ({self.n},), got {y.shape}")
        if not np.all(np.isfinite(y)):
            raise ValueError("y contains missing or non-finite values")
        if self.p:
            beta_ols = np.linalg.lstsq(self.X, y, rcond=None)[0]
            yt = y - self.X @ beta_ols
        else:
            beta_ols = np.zeros(0)
            yt = y
        if not float(yt @ yt) > 1e-20 * max(float(y @ y), 1e-300):
            raise ValueError("the response is a linear function of the fixed effects (zero "
                             "residual variance, e.g. a constant response): a mixed model "
                             "cannot be fitted")
        if self.single:
            Zty = np.asarray(self._G @ (self._Z * yt[:, None]))
        else:
            Zty = np.asarray(self._Z.T @ yt)[None, :]
        return Zty, self.X.T @ yt, float(yt @ yt), beta_ols, yt

    def _lam_parts(self, theta) -> tuple[np.ndarray, np.ndarray]:
        """Schur path: Lambda's block of the first term (q1 x q1) and its dense part (Q2 x Q2)."""
        theta = np.asarray(theta, dtype=float)
        J1, q1, Q1, Q2 = self._s_dims
        r1, c1, sl = self._s_L1_pos
        L1 = np.zeros((q1, q1))
        L1[r1, c1] = theta[sl]
        L2 = np.zeros((Q2, Q2))
        L2[self._s_L2_rows, self._s_L2_cols] = theta[self._s_L2_tidx]
        return L1, L2

    def lam_times(self, theta, u: np.ndarray) -> np.ndarray:
        """:math:`\\Lambda_\\theta u` for spherical effects ``u`` in the model's layout.

        ``u`` of shape (J, q) (one grouping factor) or (1, Q) (several); with
        several grouping factors also (Q, k) for k vectors at once.
        """
        if not self.schur:
            L = self.lam(theta)
            return u @ L.T if u.ndim == 2 and u.shape[-1] == self.q else L @ u
        J1, q1, Q1, Q2 = self._s_dims
        L1, L2 = self._lam_parts(theta)
        if u.ndim == 2 and u.shape == (1, self.q):
            v = u[0]
            return np.concatenate([(v[:Q1].reshape(J1, q1) @ L1.T).ravel(),
                                   L2 @ v[Q1:]])[None, :]
        k = u.shape[1]
        top = np.matmul(L1, u[:Q1].reshape(J1, q1, k)).reshape(Q1, k)
        return np.concatenate([top, L2 @ u[Q1:]])

    def lam(self, theta: np.ndarray) -> np.ndarray:
        """The per-cluster (or full) relative covariance factor Lambda(theta)."""
        L = np.zeros((self.q, self.q))
        L[self._rows, self._cols] = np.asarray(theta, dtype=float)[self._tidx]
        return L

    # ---- the profiled deviance
    def _evaluate(self, theta, yp, reml: bool, grad: bool, full: bool = False) -> _Eval:
        """One profiled-deviance evaluation (with gradient when ``grad``).

        ``full`` also returns :math:`S^{-1}` (needed for REML gradients and the
        final vcov).
        """
        if self.schur:
            return self._evaluate_schur(theta, yp, reml, grad, full)
        Zty, Xty, yty, _, yt = yp
        C, D = self._C, self._D
        J, q, p = C.shape[0], self.q, self.p
        L = self.lam(theta)
        LtC = np.matmul(L.T, C)                       # (J, q, q)
        A = np.matmul(LtC, L)
        A += self._eye
        B = np.matmul(L.T, D)                         # (J, q, p)
        v = Zty @ L                                   # (J, q): Lambda' Z_j' y_j
        parts = [B, v[:, :, None]] + ([LtC] if grad else [])
        logdet_a, sol = _block_solve(A, np.concatenate(parts, axis=2))
        G = sol[:, :, :p]
        g = sol[:, :, p]
        Bf = B.reshape(J * q, p)
        S = self._XtX - Bf.T @ G.reshape(J * q, p)
        c = Xty - Bf.T @ g.reshape(J * q)
        beta, sinv, logdet_s = _solve_fixed(S, c, want_inverse=full or reml)
        r2 = yty - float((v * g).sum()) - float(c @ beta)
        u = g - G @ beta                              # (J, q)
        e = None
        if not r2 > _CANCEL * yty:
            # r2 = y'y - ... lost more than ~4 digits to cancellation (the random
            # effects explain nearly all of y): use the residuals themselves, O(nq),
            # as lme4 does (pwrss = |y - mu|^2 + |u|^2)
            e = self._residuals(yt, beta, u, theta)
            r2 = float(e @ e) + float((u * u).sum())
        dev, r2, m = self._profiled_deviance(r2, logdet_a, logdet_s, reml)
        gr = None
        if grad:
            H = sol[:, :, p + 1:]                     # A^{-1} Lambda' C_j
            K = H.sum(axis=0)
            if e is None:
                Lu = u @ L.T
                w = Zty - D @ beta - np.matmul(C, Lu[:, :, None])[:, :, 0]   # Z_j' e_j
            else:
                w = self._zt(e)
            W = w.T @ u
            rr, cc = self._rows, self._cols
            gpos = 2.0 * K[cc, rr] - (2.0 * m / r2) * W[rr, cc]
            if reml and p:
                GS = G @ sinv                         # (J, q, p)
                T = np.matmul(GS, G.transpose(0, 2, 1))
                P = np.matmul(T, LtC).sum(axis=0)
                Rm = D.transpose(1, 0, 2).reshape(q, J * p) @ GS.transpose(1, 0, 2).reshape(
                    q, J * p).T
                gpos = gpos + 2.0 * P[cc, rr] - 2.0 * Rm[rr, cc]
            gr = np.bincount(self._tidx, weights=gpos, minlength=self.ntheta)
        return _Eval(theta=np.array(theta, dtype=float), deviance=float(dev), grad=gr,
                     beta=beta, u=u, r2=r2, logdet_a=logdet_a, logdet_s=logdet_s, sinv=sinv,
                     lam=L)

    def _evaluate_schur(self, theta, yp, reml: bool, grad: bool, full: bool = False) -> _Eval:
        r""":meth:`_evaluate` for several grouping factors, by the Schur complement.

        With :math:`A = \begin{pmatrix}A_{11} & A_{12}\\ A_{21} & A_{22}\end{pmatrix}`,
        :math:`A_{11}` block diagonal (the first term's levels) and
        :math:`F = A_{11}^{-1}A_{12}`, :math:`T = A_{22} - A_{21}F`:
        :math:`\log|A| = \sum_j\log|A_{11,j}| + \log|T|`, solves by block
        elimination, and the diagonal blocks of :math:`A^{-1}\Lambda^\top Z^\top Z`
        needed by the gradient from :math:`A_{11}^{-1} + F T^{-1} F^\top` and
        :math:`T^{-1}`. Cost :math:`O(J_1 q_1^2 Q_2 + J_1 q_1 Q_2^2 + Q_2^3)` instead of
        :math:`O(Q^3)`. Returns the same quantities, in the same layout, as the
        dense evaluation.
        """
        Zty, Xty, yty, _, yt = yp
        J1, q1, Q1, Q2 = self._s_dims
        p = self.p
        C11, C21, C22, D1, D2 = (self._s_C11, self._s_C21, self._s_C22, self._s_D1,
                                 self._s_D2)
        L1, L2 = self._lam_parts(theta)
        L = None
        LtC11 = np.matmul(L1.T, C11)                            # (J1, q1, q1)
        A11 = np.matmul(LtC11, L1)
        A11 += np.eye(q1)
        C21L1 = C21 @ L1                                        # (Q2, J1, q1)
        A21 = np.tensordot(L2.T, C21L1, axes=(1, 0))             # (Q2, J1, q1)
        LtC22 = L2.T @ C22
        A22 = LtC22 @ L2 + np.eye(Q2)
        B1 = np.matmul(L1.T, D1)                                # (J1, q1, p)
        B2 = L2.T @ D2                                          # (Q2, p)
        v1 = Zty[0, :Q1].reshape(J1, q1) @ L1                   # (J1, q1)
        v2 = L2.T @ Zty[0, Q1:]
        A12 = A21.transpose(1, 2, 0)                            # (J1, q1, Q2)
        parts = [A12, B1, v1[:, :, None]] + ([LtC11] if grad else [])
        logdet11, sol1 = _block_solve(A11, np.concatenate(parts, axis=2))
        F = sol1[:, :, :Q2]
        s1 = sol1[:, :, Q2:Q2 + p + 1]                         # A11^{-1} [B1 | v1]
        A21f = A21.reshape(Q2, Q1)
        T = A22 - A21f @ F.reshape(Q1, Q2)
        cT = np.linalg.cholesky(0.5 * (T + T.T))
        logdet_a = logdet11 + 2.0 * float(np.log(np.diag(cT)).sum())
        ciT = np.linalg.inv(cT)
        Tinv = ciT.T @ ciT
        r2p = np.column_stack([B2, v2])
        x2 = Tinv @ (r2p - A21f @ s1.reshape(Q1, p + 1))        # (Q2, p + 1)
        x1 = s1 - F @ x2                                        # (J1, q1, p + 1)
        G = np.concatenate([x1[:, :, :p].reshape(Q1, p), x2[:, :p]])     # A^{-1} B
        g = np.concatenate([x1[:, :, p].reshape(Q1), x2[:, p]])         # A^{-1} v
        B = np.concatenate([B1.reshape(Q1, p), B2])
        v = np.concatenate([v1.reshape(Q1), v2])
        S = self._XtX - B.T @ G
        c = Xty - B.T @ g
        beta, sinv, logdet_s = _solve_fixed(S, c, want_inverse=full or reml)
        r2 = yty - float(v @ g) - float(c @ beta)
        u = g - G @ beta                                        # (Q,)
        e = None
        if not r2 > _CANCEL * yty:
            e = self._residuals(yt, beta, u[None, :], theta)
            r2 = float(e @ e) + float(u @ u)
        dev, r2, m = self._profiled_deviance(r2, logdet_a, logdet_s, reml)
        gr = None
        if grad:
            in1 = self._s_in1
            j, r1, c1, r2i, c2i = self._s_j, self._s_r1, self._s_c1, self._s_r2, self._s_c2
            # diagonal blocks of K = A^{-1} Lambda' Z'Z at the theta positions
            FT = F @ Tinv                                       # (J1, q1, Q2)
            LtC21 = np.tensordot(L2.T, C21, axes=(1, 0))         # (Q2, J1, q1)
            K1 = (sol1[:, :, Q2 + p + 1:]
                  + np.matmul(np.matmul(FT, F.transpose(0, 2, 1)), LtC11)
                  - np.matmul(FT, LtC21.transpose(1, 0, 2)))      # (J1, q1, q1)
            LtC12 = np.matmul(L1.T, C21.transpose(1, 2, 0))     # L1' (Z_1j' Z_2)
            K22 = Tinv @ (LtC22 - F.reshape(Q1, Q2).T @ LtC12.reshape(Q1, Q2))
            kpos = np.empty(len(self._rows))
            kpos[in1] = K1[j, c1, r1]
            kpos[~in1] = K22[c2i, r2i]
            if e is None:
                w = (Zty[0] - self._D[0] @ beta
                     - self._Csp @ self.lam_times(theta, u[None, :])[0])   # Z'e
            else:
                w = self._zt(e)[0]
            rr, cc = self._rows, self._cols
            gpos = 2.0 * kpos - (2.0 * m / r2) * w[rr] * u[cc]
            if reml and p:
                Gs = G @ sinv                                   # (Q, p)
                LG = self.lam_times(theta, G)                   # Lambda A^{-1} B
                M = np.asarray(self._Csp @ LG).T                # (p, Q): G' Lambda' Z'Z
                P = np.einsum("ip,pi->i", Gs[cc], M[:, rr])
                Rm = np.einsum("ip,ip->i", self._D[0][rr], Gs[cc])
                gpos = gpos + 2.0 * P - 2.0 * Rm
            gr = np.bincount(self._tidx, weights=gpos, minlength=self.ntheta)
        return _Eval(theta=np.array(theta, dtype=float), deviance=float(dev), grad=gr,
                     beta=beta, u=u[None, :], r2=r2, logdet_a=logdet_a, logdet_s=logdet_s,
                     sinv=sinv, lam=L)

    def _profiled_deviance(self, r2: float, logdet_a: float, logdet_s: float,
                           reml: bool) -> tuple[float, float, int]:
        r"""The deviance from its pieces (module docstring): ``(dev, r2, m)``.

        :math:`d = \log|A| + m\,[1 + \log(2\pi r^2/m)]` (+ :math:`\log|S|` for
        REML) with :math:`m = n` (ML) or :math:`n - p` (REML); ``r2`` is
        returned floored at the smallest positive float (a perfect fit).
        """
        if not r2 > 0:
            r2 = np.finfo(float).tiny
        m = self.n - self.p if reml else self.n
        dev = logdet_a + m * (1.0 + _LOG2PI + np.log(r2 / m))
        if reml:
            dev += logdet_s
        return dev, r2, m

    def _zt(self, e: np.ndarray) -> np.ndarray:
        """Z_j' e_j per cluster, shape (J, q)."""
        if self.single:
            return np.asarray(self._G @ (self._Z * e[:, None]))
        return np.asarray(self._Z.T @ e)[None, :]

    def _residuals(self, yt, beta, u, theta) -> np.ndarray:
        """y - X beta - Z Lambda u (on the OLS-residualised response)."""
        b = self.lam_times(theta, u)
        if self.single:
            zb = np.einsum("nq,nq->n", self._Z, b[self.terms[0].codes])
        else:
            zb = self._Z @ b[0]
        return yt - self.X @ beta - zb

    def deviance(self, theta, y, *, reml: bool = True) -> float:
        """Profiled deviance (ML) or REML criterion at ``theta`` for response ``y``.

        Equals lme4's ``devfun(theta)`` from ``lmer(..., devFunOnly = TRUE)``.
        """
        theta = self._check_theta(theta)
        with self._blas_context():
            return self._evaluate(theta, self._y_parts(y), reml, grad=False).deviance

    def deviance_gradient(self, theta, y, *, reml: bool = True) -> np.ndarray:
        """Analytic gradient of :meth:`deviance` with respect to theta."""
        theta = self._check_theta(theta)
        with self._blas_context():
            return self._evaluate(theta, self._y_parts(y), reml, grad=True).grad

    def _blas_context(self):
        return nullcontext() if self.single else single_threaded_blas()

    def canonical_theta(self, theta: np.ndarray) -> np.ndarray:
        """Flip the sign of every Lambda column whose diagonal entry is negative.

        Leaves :math:`\\Lambda\\Lambda^\\top` (and so the model) unchanged and
        returns theta within lme4's bounds (diagonal >= 0).
        """
        theta = np.array(theta, dtype=float)
        for t, sl in zip(self.terms, self.theta_slices, strict=True):
            r, c = t.template()
            th = theta[sl]
            diag_of_col = {cc: th[i] for i, (rr, cc) in enumerate(zip(r, c, strict=True))
                           if rr == cc}
            sign = np.array([-1.0 if diag_of_col[cc] < 0 else 1.0 for cc in c])
            theta[sl] = th * sign
        return theta

    def _check_theta(self, theta) -> np.ndarray:
        theta = np.asarray(theta, dtype=float).ravel()
        if theta.shape != (self.ntheta,):
            raise ValueError(f"theta must have {self.ntheta} elements, got {theta.size}")
        return theta

    # ---- fitting
    def fit(self, y, *, reml: bool = True, theta0=None, check_conv: bool = True,
            warn: bool = True, formula: str | None = None) -> LmerResult:
        """Fit the model to response ``y`` by maximising the (restricted) likelihood.

        Parameters
        ----------
        y : array of shape (n,)
        reml : bool, default True
            REML (lme4's default) or ML (``reml=False``).
        theta0 : array, optional
            Starting value (lme4's default: 1 on the diagonal, 0 elsewhere).
            A previous fit's ``theta`` makes refits in an imputation loop faster.
        check_conv : bool, default True
            Run lme4's convergence checks (costs ``2 * ntheta`` extra gradient
            evaluations; also polishes theta with Newton steps).
        warn : bool, default True
            Emit :class:`ConvergenceWarning` / :class:`SingularFitWarning`.

        Returns
        -------
        LmerResult
        """
        if not isinstance(reml, (bool, np.bool_)):
            raise TypeError(f"reml must be True or False, got {reml!r}")
        if self.n <= self.p:
            where = f" in {formula!r}" if formula else ""
            shown = ", ".join(self.x_names[:4]) + (" ..." if self.p > 4 else "")
            raise ValueError(f"{self.n} observations for {self.p} fixed effects{where} "
                             f"({shown}): too many parameters (a text column enters the "
                             "fixed part as one dummy per value)")
        with self._blas_context(), np.errstate(over="ignore", invalid="ignore",
                                               divide="ignore"):
            try:   # dense Q x Q algebra: see mlmice.mixed._blas
                return self._fit(y, reml, theta0, check_conv, warn, formula)
            except np.linalg.LinAlgError as err:
                raise ValueError(
                    "the mixed model could not be fitted: a matrix became singular during "
                    f"the optimisation ({err}); the residual variance may be zero (is the "
                    "response constant within clusters?)") from err

    def _fit(self, y, reml, theta0, check_conv, warn, formula) -> LmerResult:
        yp = self._y_parts(y)
        x0 = self.theta0.copy() if theta0 is None else self._check_theta(theta0).copy()
        n_eval = 0

        def fun(th):
            nonlocal n_eval
            n_eval += 1
            try:
                ev = self._evaluate(th, yp, reml, grad=True)
            except np.linalg.LinAlgError:
                # a trial point so extreme that a factorisation fails numerically:
                # report it as infinitely bad so that the line search steps back
                return np.inf, np.zeros_like(th)
            return ev.deviance, ev.grad

        # The deviance depends on Lambda only through Lambda Lambda', which is
        # unchanged when a column of a term's factor changes sign. So theta is
        # optimised without bounds and each column's sign fixed afterwards
        # (diagonal >= 0): a bounded optimiser can stop on the boundary
        # theta_ii = 0, where the gradient vanishes by this symmetry, although
        # the optimum is inside.
        res = bfgs(fun, x0, gtol=1e-9, ftol=1e-15, maxiter=1000)
        res = self._escape_zero_diagonal(res, fun, yp, reml)
        theta = self.canonical_theta(np.asarray(res.x, dtype=float))
        ev = self._evaluate(theta, yp, reml, grad=True, full=True)
        messages: list[str] = []
        hessian = None
        at_bound = np.isfinite(self.lower) & (theta - self.lower < SINGULAR_TOL)
        singular = bool(np.any(at_bound))
        if check_conv:
            ev, hessian, n_more = self._polish(ev, yp, reml)
            n_eval += n_more
            theta = ev.theta
            at_bound = np.isfinite(self.lower) & (theta - self.lower < SINGULAR_TOL)
            singular = bool(np.any(at_bound))
            if singular:
                messages.append("boundary (singular) fit: see help('isSingular')")
            else:
                messages.extend(convergence_messages(ev.grad, hessian))
        if check_conv:
            converged = not any(m.startswith(("Model failed", "unable"))
                                for m in messages)
        else:
            converged = bool(res.success)
        if warn:
            for msg in messages:
                cls = SingularFitWarning if msg.startswith("boundary") else ConvergenceWarning
                warnings.warn(msg, cls, stacklevel=4)
        return LmerResult(model=self, y=np.asarray(y, dtype=float), reml=reml, ev=ev,
                          beta_offset=yp[3], optimizer=dict(message=str(res.message),
                                                            success=bool(res.success),
                                                            n_eval=n_eval, nit=res.nit),
                          converged=converged, singular=singular, messages=messages,
                          hessian=hessian, formula=formula)

    def _escape_zero_diagonal(self, res, fun, yp, reml: bool, max_restarts: int = 3):
        """Leave a spurious stationary point on a zero diagonal entry of Lambda.

        With the sign symmetry, :math:`\\theta_{ii} = 0` has a zero derivative in
        :math:`\\theta_{ii}` whether or not it is the optimum. When the optimiser
        ends there, trial values of :math:`\\theta_{ii}` (0.01 to 10) are tried
        and the optimiser restarted from the best one that lowers the deviance.
        A genuine boundary optimum (lme4's singular fit) survives this.
        """
        diag = np.flatnonzero(np.isfinite(self.lower))
        for _ in range(max_restarts):
            near = diag[np.abs(res.x[diag]) < 1e-3]
            if near.size == 0:
                return res
            best_x, best_f = None, res.fun
            for i in near:
                for val in (0.01, 0.1, 0.5, 1.0, 3.0, 10.0):
                    th = np.array(res.x, dtype=float)
                    th[i] = val
                    try:
                        f = self._evaluate(th, yp, reml, grad=False).deviance
                    except np.linalg.LinAlgError:
                        continue
                    if f < best_f - 1e-10 * max(1.0, abs(best_f)):
                        best_x, best_f = th, f
            if best_x is None:
                return res
            nfev = res.nfev
            res = bfgs(fun, best_x, gtol=1e-9, ftol=1e-15, maxiter=1000)
            res.nfev += nfev
        return res

    def _fd_hessian(self, theta, yp, reml) -> np.ndarray:
        k = len(theta)
        H = np.empty((k, k))
        for i in range(k):
            step = np.zeros(k)
            step[i] = DERIV_DELTA
            gp = self._evaluate(theta + step, yp, reml, grad=True).grad
            gm = self._evaluate(theta - step, yp, reml, grad=True).grad
            H[:, i] = (gp - gm) / (2 * DERIV_DELTA)
        return 0.5 * (H + H.T)

    def _polish(self, ev: _Eval, yp, reml: bool, max_steps: int = 3):
        """Newton steps on the free (interior) parameters; returns (ev, Hessian, n_eval).

        The Hessian is the central finite difference (step 1e-4, as lme4's
        ``deriv12``) of the analytic gradient at the optimiser's solution; it
        is also what the convergence check uses.
        """
        H = self._fd_hessian(ev.theta, yp, reml)
        n_eval = 2 * len(ev.theta)
        for _ in range(max_steps):
            free = ~(np.isfinite(self.lower) & (ev.theta - self.lower < 1e-8))
            g = ev.grad
            if not np.any(free) or np.max(np.abs(g[free])) < 1e-9:
                break
            Hf = H[np.ix_(free, free)]
            try:
                np.linalg.cholesky(Hf)
                step = np.zeros_like(g)
                step[free] = np.linalg.solve(Hf, g[free])
            except np.linalg.LinAlgError:
                break
            new_theta = np.maximum(ev.theta - step, self.lower)
            try:
                new = self._evaluate(new_theta, yp, reml, grad=True, full=True)
            except np.linalg.LinAlgError:
                break
            n_eval += 1
            if new.deviance <= ev.deviance + 1e-12 * abs(ev.deviance):
                ev = new
            else:
                break
        return ev, H, n_eval

    # ---- likelihood at given parameters
    def loglik_at(self, y, beta, theta, sigma) -> float:
        r"""Marginal log-likelihood at given :math:`(\beta, \theta, \sigma)`.

        .. math::

            \ell = -\tfrac12\left[n\log(2\pi\sigma^2) + \log|A_\theta|
                   + r^2_\theta(\beta)/\sigma^2\right],\quad
            r^2_\theta(\beta) = \min_u \|y - X\beta - Z\Lambda_\theta u\|^2 + \|u\|^2,

        the Gaussian log-density of :math:`y \sim N(X\beta, \sigma^2(Z\Lambda\Lambda^\top
        Z^\top + I))`. Used by mitml's D3 (likelihood-ratio) pooling.
        """
        theta = self._check_theta(theta)
        y = np.asarray(y, dtype=float)
        beta = np.asarray(beta, dtype=float).ravel()
        if beta.shape != (self.p,):
            raise ValueError(f"beta must have {self.p} elements, got {beta.size}")
        e = y - self.X @ beta
        Zte, _, ete, _, _ = self._y_parts_raw(e)
        if self.schur:
            J1, q1, Q1, Q2 = self._s_dims
            sf = self._schur_factor(theta)
            v1 = Zte[0, :Q1].reshape(J1, q1) @ sf["L1"]       # L1' z_j
            v2 = sf["L2"].T @ Zte[0, Q1:]
            # A^{-1} = blockdiag(A11^{-1}, 0) + W T^{-1} W', W = [F; -I]
            quad = float(np.einsum("ja,jab,jb->", v1, sf["A11inv"], v1))
            z = sf["F"].reshape(Q1, Q2).T @ v1.reshape(Q1) - v2
            r2 = ete - quad - float(z @ sf["Tinv"] @ z)
            return float(-0.5 * (self.n * np.log(2 * np.pi * sigma**2) + sf["logdet"]
                                 + r2 / sigma**2))
        L = self.lam(theta)
        A = np.matmul(np.matmul(L.T, self._C), L) + self._eye
        v = Zte @ L
        chol = np.linalg.cholesky(A)
        logdet_a = 2.0 * float(np.log(np.diagonal(chol, axis1=1, axis2=2)).sum())
        g = np.linalg.solve(A, v[:, :, None])[:, :, 0]
        r2 = ete - float((v * g).sum())
        return float(-0.5 * (self.n * np.log(2 * np.pi * sigma**2) + logdet_a + r2 / sigma**2))

    def _schur_factor(self, theta) -> dict:
        """Schur pieces of :math:`A = \\Lambda^\\top Z^\\top Z\\Lambda + I` (several factors).

        Returns ``L1``, ``L2``, ``A11inv`` (J1, q1, q1), ``F`` = A11^{-1} A12
        (J1, q1, Q2), ``Tinv`` (the inverse Schur complement) and ``logdet``.
        """
        J1, q1, Q1, Q2 = self._s_dims
        L1, L2 = self._lam_parts(theta)
        A11 = np.matmul(np.matmul(L1.T, self._s_C11), L1) + np.eye(q1)
        A21 = np.tensordot(L2.T, self._s_C21 @ L1, axes=(1, 0))
        A22 = L2.T @ self._s_C22 @ L2 + np.eye(Q2)
        rhs = np.concatenate([A21.transpose(1, 2, 0), np.broadcast_to(np.eye(q1),
                                                                      (J1, q1, q1))], axis=2)
        logdet11, sol = _block_solve(A11, rhs)
        F = sol[:, :, :Q2]
        T = A22 - A21.reshape(Q2, Q1) @ F.reshape(Q1, Q2)
        cT = np.linalg.cholesky(T)
        ciT = np.linalg.inv(cT)
        return {"L1": L1, "L2": L2, "A11inv": sol[:, :, Q2:], "F": F, "Tinv": ciT.T @ ciT,
                "logdet": logdet11 + 2.0 * float(np.log(np.diag(cT)).sum())}

    def ainv_blocks(self, theta, idx: np.ndarray) -> np.ndarray:
        """Blocks of :math:`A^{-1}` at positions ``idx`` (n_blocks, k) of the spherical effects.

        Returns ``(n_blocks, k, k)``: ``A^{-1}[idx[b], idx[b]]`` for each b. One
        grouping factor: ``idx`` must be the positions of whole clusters.
        """
        idx = np.asarray(idx)
        if self.single:
            L = self.lam(theta)
            A = np.matmul(np.matmul(L.T, self._C), L) + self._eye
            return np.linalg.inv(A)
        if not self.schur:   # dense reference path
            L = self.lam(theta)
            Ainv = np.linalg.inv(L.T @ self._C[0] @ L + self._eye)
            return Ainv[idx[:, :, None], idx[:, None, :]]
        J1, q1, Q1, Q2 = self._s_dims
        sf = self._schur_factor(theta)
        in1 = idx < Q1
        j = np.where(in1, idx // q1, 0)
        a = np.where(in1, idx % q1, 0)
        V = np.where(in1[:, :, None], sf["F"][j, a, :], 0.0)          # (nb, k, Q2)
        part2 = np.flatnonzero(~in1.ravel())
        V.reshape(-1, Q2)[part2, idx.ravel()[part2] - Q1] = -1.0
        out = np.matmul(np.matmul(V, sf["Tinv"]), V.transpose(0, 2, 1))
        same = in1[:, :, None] & in1[:, None, :] & (j[:, :, None] == j[:, None, :])
        d0 = sf["A11inv"][j[:, :, None], a[:, :, None], a[:, None, :]]
        return out + np.where(same, d0, 0.0)

    def _y_parts_raw(self, e):
        if self.single:
            Zte = np.asarray(self._G @ (self._Z * e[:, None]))
        else:
            Zte = np.asarray(self._Z.T @ e)[None, :]
        return Zte, None, float(e @ e), None, e

    def theta_from_cov(self, covs, sigma: float) -> np.ndarray:
        """Theta from the terms' covariance matrices and the residual sd.

        ``covs`` lists one :math:`q_k\\times q_k` covariance matrix per term in
        the model's term order; :math:`\\Lambda_k = \\mathrm{chol}(\\Sigma_k)/\\sigma`.
        """
        theta = np.zeros(self.ntheta)
        for t, sl, cov in zip(self.terms, self.theta_slices, covs, strict=True):
            cov = np.atleast_2d(np.asarray(cov, dtype=float))
            if cov.shape != (t.q, t.q):
                raise ValueError(f"covariance of term on {t.group!r} must be {t.q}x{t.q}")
            if t.correlated:
                Lk = _safe_chol(cov) / sigma
            else:
                Lk = np.diag(np.sqrt(np.maximum(np.diag(cov), 0))) / sigma
            r, c = t.template()
            theta[sl] = Lk[r, c]
        return theta


def _solve_fixed(S: np.ndarray, c: np.ndarray, *,
                 want_inverse: bool) -> tuple[np.ndarray, np.ndarray | None, float]:
    r"""The fixed effects :math:`\hat\beta = S^{-1}c` of the PLS solution.

    Returns ``(beta, S^{-1}, log|S|)``.

    With ``want_inverse`` (REML needs :math:`\log|S|`, the final fit
    :math:`S^{-1}`) by the Cholesky factor of :math:`S`; otherwise a plain
    solve, :math:`S^{-1}` None and :math:`\log|S|` 0. No fixed effects (p = 0):
    empty arrays and 0.
    """
    if len(c) == 0:
        return np.zeros(0), np.zeros((0, 0)), 0.0
    if not want_inverse:
        return np.linalg.solve(S, c), None, 0.0
    cs = np.linalg.cholesky(S)
    ci = np.linalg.inv(cs)
    sinv = ci.T @ ci
    return sinv @ c, sinv, 2.0 * float(np.log(np.diag(cs)).sum())


def _block_solve(A: np.ndarray, rhs: np.ndarray) -> tuple[float, np.ndarray]:
    """log|A| summed over blocks and A^{-1} rhs for stacked SPD blocks A (J, q, q).

    Closed forms for q = 1 and q = 2 (the common random-intercept and
    random-slope cases) avoid LAPACK's per-call overhead; larger blocks use
    batched Cholesky and LU solves.
    """
    q = A.shape[1]
    if q == 1:
        d = A[:, 0, 0]
        return float(np.log(d).sum()), rhs / A
    if q == 2:
        a, b, c = A[:, 0, 0], A[:, 0, 1], A[:, 1, 1]
        det = a * c - b * b
        r0, r1 = rhs[:, 0, :], rhs[:, 1, :]
        inv_det = (1.0 / det)[:, None]
        sol = np.empty_like(rhs)
        sol[:, 0, :] = (c[:, None] * r0 - b[:, None] * r1) * inv_det
        sol[:, 1, :] = (a[:, None] * r1 - b[:, None] * r0) * inv_det
        return float(np.log(det).sum()), sol
    chol = np.linalg.cholesky(A)
    logdet = 2.0 * float(np.log(np.diagonal(chol, axis1=1, axis2=2)).sum())
    return logdet, np.linalg.solve(A, rhs)


def _safe_chol(cov: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        w, V = np.linalg.eigh(cov)
        w = np.maximum(w, 0)
        _, R = np.linalg.qr((V * np.sqrt(w)).T)
        Lc = R.T
        return Lc * np.sign(np.where(np.diag(Lc) == 0, 1, np.diag(Lc)))[None, :]


def _term_from_block(b: RandomBlock) -> ReTerm:
    return ReTerm(group=b.group, names=list(b.z_names), Z=b.Z, codes=b.codes, levels=b.levels,
                  correlated=b.correlated)


# --------------------------------------------------------------------------- results

@dataclass
class LmerResult(MixedResultMixin):
    """A fitted linear mixed model (what ``lme4::lmer`` returns, in Python).

    Raw arrays (cheap, for inner loops): ``beta``, ``theta``, ``sigma``,
    ``vcov_beta``, ``b`` (per term, ``(n_levels, q)``), ``cond_cov`` (per
    grouping factor, ``(n_levels, q, q)``), ``fitted``, ``residuals``.
    Pandas views (R names): ``fixef``, ``se``, ``vcov``, ``varcorr``,
    ``ranef``, ``tidy()``. Fit statistics: ``loglik``, ``deviance``, ``aic``,
    ``bic``, ``nobs``, ``ngroups``, ``df_residual``/``dfcom``, ``converged``,
    ``singular``, ``messages`` (lme4's convergence messages), ``optimizer``.
    The API shared with ``lm`` and ``glmer`` is documented once, in
    :mod:`mlmice._results`; :class:`~mlmice.mixed.results.MixedResultMixin`
    implements its common part.
    From :func:`lmer`: ``formula``, ``n_dropped``, ``index`` (rows used) and
    ``extras["model_frame"]`` (the :class:`~mlmice.design.ModelFrame`).
    """

    model: LmerModel
    y: np.ndarray
    reml: bool
    ev: _Eval
    beta_offset: np.ndarray
    optimizer: dict
    converged: bool
    singular: bool
    messages: list[str]
    hessian: np.ndarray | None = None
    formula: str | None = None
    n_dropped: int = 0
    index: pd.Index | None = None
    extras: dict = field(default_factory=dict)

    # ---- raw arrays
    @property
    def theta(self) -> np.ndarray:
        """Relative covariance parameters (lme4's ``getME(fit, "theta")``)."""
        return self.ev.theta

    @cached_property
    def beta(self) -> np.ndarray:
        """Fixed effects as an array."""
        return self.ev.beta + self.beta_offset

    @property
    def n_fixed(self) -> int:
        return self.model.p

    @cached_property
    def sigma(self) -> float:
        """Residual standard deviation (lme4's ``sigma()``: pwrss / n or / (n - p))."""
        m = self.model.n - self.model.p if self.reml else self.model.n
        return float(np.sqrt(self.ev.r2 / m))

    @cached_property
    def vcov_beta(self) -> np.ndarray:
        """:math:`\\hat\\sigma^2 S^{-1} = (X^\\top \\hat V^{-1} X)^{-1}`."""
        return self.sigma**2 * self.ev.sinv

    @cached_property
    def u(self) -> np.ndarray:
        """Spherical random effects (J, q) (single factor) or (1, Q)."""
        return self.ev.u

    @cached_property
    def b(self) -> list[np.ndarray]:
        """Conditional modes per term, each of shape (n_levels, q_k)."""
        m = self.model
        bfull = m.lam_times(self.theta, self.ev.u)      # (J, q) or (1, Q)
        out = []
        for t, off in zip(m.terms, m.u_offsets, strict=True):
            if m.single:
                out.append(bfull[:, off:off + t.q])
            else:
                out.append(bfull[0, off:off + t.q * t.n_levels].reshape(t.n_levels, t.q))
        return out

    @cached_property
    def cond_cov(self) -> dict[str, np.ndarray]:
        """Conditional covariance of the random effects per grouping factor (lme4's condVar).

        :math:`\\sigma^2 \\Lambda A_j^{-1} \\Lambda^\\top` for each level ``j``: an array of
        shape ``(n_levels, q, q)`` per grouping factor, its effects in the
        order of :attr:`ranef`'s columns (terms on the same factor merged).
        As in lme4, the uncertainty of the fixed effects is not included.
        """
        m = self.model
        s2 = self.sigma**2
        if m.single:
            L = m.lam(self.theta)
            ainv = m.ainv_blocks(self.theta, None)
            return {m.terms[0].group: s2 * np.matmul(np.matmul(L, ainv), L.T)}
        out: dict[str, np.ndarray] = {}
        for grp, idx in self._factor_index().items():
            # Lambda restricted to one level of this factor: its terms' blocks
            terms = [(t, sl) for t, sl in zip(m.terms, m.theta_slices, strict=True)
                     if t.group == grp]
            k = idx.shape[1]
            Lf = np.zeros((k, k))
            off = 0
            for t, sl in terms:
                r, c = t.template()
                Lf[off + r, off + c] = self.theta[sl]
                off += t.q
            ainv = m.ainv_blocks(self.theta, idx)
            out[grp] = s2 * np.matmul(np.matmul(Lf, ainv), Lf.T)
        return out

    def _factor_index(self) -> dict[str, np.ndarray]:
        """Per grouping factor: (n_levels, q_factor) positions in the full u vector."""
        m = self.model
        out: dict[str, list] = {}
        for t, off in zip(m.terms, m.u_offsets, strict=True):
            pos = off + np.arange(t.n_levels)[:, None] * t.q + np.arange(t.q)[None, :]
            out.setdefault(t.group, []).append(pos)
        return {g: np.hstack(v) for g, v in out.items()}

    # ---- R-named views (fixef, se, vcov, varcorr, tidy(): MixedResultMixin)
    @property
    def _residual_sd(self) -> float:
        return self.sigma

    def covariance_terms(self) -> list[CovarianceTerm]:
        """Per random term: :math:`\\sigma^2 \\Lambda_k \\Lambda_k^\\top` with names."""
        out = []
        m = self.model
        for t, sl, name in zip(m.terms, m.theta_slices, m.group_names, strict=True):
            Lk = np.zeros((t.q, t.q))
            r, c = t.template()
            Lk[r, c] = self.theta[sl]
            out.append(CovarianceTerm(group=name, names=list(t.names),
                                      cov=self.sigma**2 * Lk @ Lk.T))
        return out

    @cached_property
    def ranef(self) -> dict[str, pd.DataFrame]:
        """Conditional modes per grouping factor (``ranef(fit)``), rows = levels."""
        m = self.model
        out: dict[str, pd.DataFrame] = {}
        for t, bk in zip(m.terms, self.b, strict=True):
            df = pd.DataFrame(bk, index=pd.Index(t.levels, name=t.group), columns=t.names)
            if t.group in out:
                out[t.group] = pd.concat([out[t.group], df], axis=1)
            else:
                out[t.group] = df
        return out

    @cached_property
    def fitted(self) -> np.ndarray:
        """Conditional fitted values :math:`X\\hat\\beta + Z\\hat b` (``fitted(fit)``)."""
        m = self.model
        f = m.X @ self.beta
        for t, bk in zip(m.terms, self.b, strict=True):
            f = f + np.einsum("nq,nq->n", t.Z, bk[t.codes])
        return f

    @property
    def residuals(self) -> np.ndarray:
        """Response residuals ``y - fitted`` (``residuals(fit)``)."""
        return self.y - self.fitted

    @property
    def ngroups(self) -> dict[str, int]:
        """Number of levels per grouping factor (``ngrps(fit)``)."""
        return {t.group: t.n_levels for t in self.model.terms}

    @property
    def df(self) -> int:
        """Number of parameters (``attr(logLik(fit), "df")``)."""
        return self.model.p + self.model.ntheta + 1

    @property
    def reml_criterion(self) -> float | None:
        """lme4's ``REMLcrit(fit)`` for REML fits, else None."""
        return self.ev.deviance if self.reml else None

    @property
    def deviance(self) -> float:
        """``-2 logLik``: the ML deviance, or the REML criterion for REML fits."""
        return self.ev.deviance

    @property
    def loglik(self) -> float:
        """``logLik(fit)`` (the restricted log-likelihood for REML fits, as lme4)."""
        return -0.5 * self.ev.deviance

    def loglik_at(self, fixef=None, covariances=None, sigma2: float | None = None, *,
                  beta=None, theta=None, sigma: float | None = None) -> float:
        """Log-likelihood of this fit's data at other parameters (for mitml's D3).

        Give either ``fixef`` (Series by term, or array), ``covariances``
        (dict: ``VarCorr`` group name such as ``"g"`` / ``"g.1"`` -> covariance
        matrix, a DataFrame indexed by effect names or an array in the
        term's order) and ``sigma2`` (residual variance); or ``beta``,
        ``theta`` and ``sigma`` on lme4's scale. The value is the ML
        log-density (also for a REML fit), see :meth:`LmerModel.loglik_at`.
        """
        m = self.model
        b = fixef if beta is None else beta
        if b is None:
            raise ValueError("give fixef= (or beta=)")
        b = coef_vector(b, m.x_names, argument="fixef")
        sigma = residual_sd(sigma, sigma2)
        if theta is None:
            if covariances is None:
                raise ValueError("give covariances= (or theta=)")
            covs = []
            for t, name in zip(m.terms, m.group_names, strict=True):
                if name not in covariances:
                    raise ValueError(f"covariances has no entry {name!r} "
                                     f"(have {list(covariances)})")
                cov = covariances[name]
                if isinstance(cov, pd.DataFrame):
                    cov = cov.loc[t.names, t.names].to_numpy(dtype=float)
                covs.append(np.atleast_2d(np.asarray(cov, dtype=float)))
            theta = m.theta_from_cov(covs, sigma)
        return m.loglik_at(self.y, b, theta, sigma)

    def summary(self) -> str:
        lines = [f"Linear mixed model fit by {'REML' if self.reml else 'maximum likelihood'}"]
        if self.formula:
            lines.append(f"Formula: {self.formula}")
        lines.append(f"logLik {self.loglik:.4f}  AIC {self.aic:.4f}  nobs {self.nobs}"
                     + (f" ({self.n_dropped} dropped: missing values)" if self.n_dropped
                        else ""))
        lines.append(self.varcorr.to_string(index=False))
        lines.append(self.tidy(conf_int=False).query("effect == 'fixed'")[
            ["term", "estimate", "std_error", "statistic"]].to_string(index=False))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<LmerResult {'REML' if self.reml else 'ML'} nobs={self.nobs} "
                f"loglik={self.loglik:.4f} converged={self.converged}>")


# --------------------------------------------------------------------------- public

def lmer_arrays(X, Z, groups, y, *, reml: bool = True, n_groups: int | None = None,
                theta0=None, check_conv: bool = True, warn: bool = True) -> LmerResult:
    """Fit ``y ~ X + (Z | groups)`` from raw arrays (no formula, no data frame).

    Shorthand for ``LmerModel.from_arrays(X, Z, groups, n_groups=n_groups).fit(y, ...)``;
    see :meth:`LmerModel.from_arrays` and :meth:`LmerModel.fit`. Keep the
    :class:`LmerModel` yourself to refit the same design to new responses.
    """
    model = LmerModel.from_arrays(X, Z, groups, n_groups=n_groups)
    return model.fit(y, reml=reml, theta0=theta0, check_conv=check_conv, warn=warn)


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
    factors : iterable of str, optional
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
    if not isinstance(reml, (bool, np.bool_)):
        raise TypeError(f"reml must be True or False, got {reml!r}")
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

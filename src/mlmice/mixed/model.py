r"""The structure of a linear mixed model, built once and fitted to any response.

:class:`LmerModel` holds the design (lme4's ``lFormula`` and ``mkLmerDevfun``: the
terms, the :math:`\theta \to \Lambda` template of :mod:`mlmice.mixed.terms` and the
cross-products), evaluates the profiled deviance and its analytic gradient (the
penalised least squares of :mod:`mlmice.mixed.pls`; several grouping factors through
:mod:`mlmice.mixed.schur`) and the log-likelihood at given parameters; :meth:`LmerModel.fit`
hands it to the optimiser layer (:mod:`mlmice.mixed.lmer_fit`), which returns an
:class:`~mlmice.mixed.lmer_result.LmerResult`.

Gradient. With :math:`E_i = \partial\Lambda/\partial\theta_i`,
:math:`\partial\log|A| = 2\,\mathrm{tr}(A^{-1}\Lambda^\top Z^\top Z E_i)`; by the envelope
theorem :math:`\partial r^2 = -2\, e^\top Z E_i u` at the PLS solution; for REML,
:math:`\partial(\log|A| + \log|S|) = \mathrm{tr}(M^{-1}\partial M)` uses the diagonal
blocks :math:`A_j^{-1} + G_j S^{-1}G_j^\top` of :math:`M^{-1}`, with
:math:`G_j = A_j^{-1}\Lambda^\top Z_j^\top X_j`.

Building blocks (for imputation methods and pooling)
----------------------------------------------------
``LmerModel.from_arrays(X, Z, groups, n_groups=J)``
    The structure from raw arrays (e.g. from
    ``mlmice.impute.methods.base.two_level_design``), cross-products formed once.
``model.fit(y, reml=True, theta0=None, check_conv=True, warn=True)``
    Fit a response; ``theta0=previous.theta`` warm-starts a refit, and
    ``check_conv=False`` skips lme4's checks (and the Newton polish) in inner loops.
``model.deviance(theta, y, reml=...)``, ``model.deviance_gradient(...)``
    The profiled deviance (lme4's ``devfun``) and its gradient.
``model.loglik_at(y, beta, theta, sigma)``
    The log-likelihood at given parameters (mitml's D3).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from mlmice._threads import one_blas_thread
from mlmice._validation import check_bool
from mlmice.design import ModelFrame
from mlmice.mixed.lmer_fit import fit_model
from mlmice.mixed.lmer_result import LmerResult
from mlmice.mixed.pls import (
    CANCEL,
    PlsEval,
    block_solve,
    gaussian_loglik,
    profiled_deviance,
    solve_blocks,
)
from mlmice.mixed.results import unique_group_names
from mlmice.mixed.schur import SchurMixin
from mlmice.mixed.terms import LambdaTemplate, ReTerm, lme4_order, one_hot, term_from_block

__all__ = ["DENSE_MAX_Q", "LmerModel"]

DENSE_MAX_Q = 500        # several grouping factors: keep a dense Z'Z only up to this Q


class LmerModel(SchurMixin):
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
        self.terms = lme4_order(terms)
        for t in self.terms:
            if t.Z.shape[0] != self.n or len(t.codes) != self.n:
                raise ValueError(f"random term on {t.group!r} has {t.Z.shape[0]} rows, "
                                 f"X has {self.n}")
        self.group_names = unique_group_names([t.group for t in self.terms])
        first = self.terms[0]
        self.single = all(t.group == first.group and np.array_equal(t.codes, first.codes)
                          for t in self.terms[1:])
        self.template = LambdaTemplate.build(
            [t.q for t in self.terms], [t.correlated for t in self.terms],
            n_levels=None if self.single else [t.n_levels for t in self.terms])
        tpl = self.template
        self.q, self.ntheta = tpl.size, tpl.ntheta
        self.theta_slices, self.u_offsets = tpl.theta_slices, tpl.u_offsets
        self.lower, self.theta0 = tpl.lower, tpl.theta0
        self._rows, self._cols, self._tidx = tpl.rows, tpl.cols, tpl.tidx
        self._build_crossproducts()

    # ---- construction
    @classmethod
    def from_frame(cls, mf: ModelFrame) -> LmerModel:
        """Model structure of a :class:`~mlmice.design.ModelFrame` (``model_frame(...)``)."""
        terms = [term_from_block(b) for b in mf.random]
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

    def _build_crossproducts(self) -> None:
        X = self.X
        if self.single:
            Z = np.hstack([t.Z for t in self.terms])
            self.n_clusters = self.terms[0].n_levels
            G = one_hot(self.terms[0].codes, self.n_clusters)
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
    def start_theta(self, yp) -> np.ndarray:
        r"""The optimiser's start: a moment estimate (one grouping factor), else lme4's.

        Per cluster, least squares of the OLS residuals :math:`r_j` on :math:`Z_j` give
        :math:`\hat b_j = (Z_j^\top Z_j)^{-1}Z_j^\top r_j` (clusters with more rows than
        effects and a regular :math:`Z_j^\top Z_j`); :math:`\hat\sigma^2` is their pooled
        residual variance and :math:`\hat\Psi = \mathrm{cov}(\hat b_j) -
        \hat\sigma^2\,\overline{(Z_j^\top Z_j)^{-1}}` (the method of moments, its
        eigenvalues floored at 1 % of the mean variance of the :math:`\hat b_j`), so
        :math:`\theta_0 = \mathrm{chol}(\hat\Psi)/\hat\sigma`. It lies near the
        optimum, which BFGS then reaches in a third fewer evaluations (the same optimum:
        the deviance is the same function). lme4's start (1 on the diagonal of
        :math:`\Lambda`, 0 elsewhere) where the moments cannot be formed.
        """
        theta = self._moment_theta(yp) if self.single else None
        return self.theta0.copy() if theta is None else theta

    def _moment_theta(self, yp) -> np.ndarray | None:
        Zty, _, _, _, yt = yp
        C = self._C
        q = C.shape[1]
        n_j = np.asarray(self._G.sum(axis=1)).ravel()
        with np.errstate(all="ignore"):
            regular = np.linalg.det(C) > 1e-8 * np.maximum(np.einsum("jii->j", C), 1.0) ** q
        use = regular & (n_j > q)
        if use.sum() < max(q + 1, 3):
            return None
        try:
            c_inv = np.linalg.inv(C[use])
        except np.linalg.LinAlgError:
            return None
        b = np.einsum("jab,jb->ja", c_inv, Zty[use])
        rss = np.asarray(self._G @ (yt * yt)).ravel()[use] - np.einsum("ja,ja->j", Zty[use], b)
        sigma2 = float(rss.sum() / (n_j[use] - q).sum())
        if not (np.isfinite(sigma2) and sigma2 > 0):
            return None
        cov_b = np.atleast_2d(np.cov(b, rowvar=False))
        w, V = np.linalg.eigh(cov_b - sigma2 * c_inv.mean(axis=0))
        floor = 0.01 * max(float(np.trace(cov_b)) / q, 1e-12)
        psi = (V * np.maximum(w, floor)) @ V.T
        covs, off = [], 0
        for t in self.terms:
            covs.append(psi[off:off + t.q, off:off + t.q])
            off += t.q
        theta = self.template.theta_from_cov(covs, np.sqrt(sigma2))
        return theta if np.all(np.isfinite(theta)) else None

    def lam_times(self, theta, u: np.ndarray) -> np.ndarray:
        """:math:`\\Lambda_\\theta u` for spherical effects ``u`` in the model's layout.

        ``u`` of shape (J, q) (one grouping factor) or (1, Q) (several); with
        several grouping factors also (Q, k) for k vectors at once.
        """
        if self.schur:
            return self._lam_times_schur(theta, u)
        L = self.lam(theta)
        return u @ L.T if u.ndim == 2 and u.shape[-1] == self.q else L @ u

    def lam(self, theta: np.ndarray) -> np.ndarray:
        """The per-cluster (or full) relative covariance factor Lambda(theta)."""
        return self.template.lam(theta)

    # ---- the profiled deviance
    def _evaluate(self, theta, yp, reml: bool, grad: bool, full: bool = False) -> PlsEval:
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
        sol = solve_blocks(L, C, D, self._XtX, Zty, Xty, yty, want_inverse=full or reml,
                           want_h=grad)
        G, beta, sinv, u, r2 = sol.G, sol.beta, sol.sinv, sol.u, sol.r2
        e = None
        if not r2 > CANCEL * yty:
            # r2 = y'y - ... lost more than ~4 digits to cancellation (the random
            # effects explain nearly all of y): use the residuals themselves, O(nq),
            # as lme4 does (pwrss = |y - mu|^2 + |u|^2)
            e = self._residuals(yt, beta, u, theta)
            r2 = float(e @ e) + float((u * u).sum())
        dev, r2, m = profiled_deviance(r2, sol.logdet_a, sol.logdet_s, n=self.n, p=p,
                                       reml=reml)
        gr = None
        if grad:
            K = sol.H.sum(axis=0)                     # sum_j A_j^{-1} Lambda' C_j
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
                P = np.matmul(T, sol.LtC).sum(axis=0)
                Rm = D.transpose(1, 0, 2).reshape(q, J * p) @ GS.transpose(1, 0, 2).reshape(
                    q, J * p).T
                gpos = gpos + 2.0 * P[cc, rr] - 2.0 * Rm[rr, cc]
            gr = np.bincount(self._tidx, weights=gpos, minlength=self.ntheta)
        return PlsEval(theta=np.array(theta, dtype=float), deviance=float(dev), grad=gr,
                       beta=beta, u=u, r2=r2, logdet_a=sol.logdet_a, logdet_s=sol.logdet_s,
                       sinv=sinv, lam=L)

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
        return one_blas_thread()

    def canonical_theta(self, theta: np.ndarray) -> np.ndarray:
        """Flip the sign of every Lambda column whose diagonal entry is negative.

        Leaves :math:`\\Lambda\\Lambda^\\top` (and so the model) unchanged and
        returns theta within lme4's bounds (diagonal >= 0).
        """
        return self.template.canonical(theta)

    def _check_theta(self, theta, name: str = "theta") -> np.ndarray:
        try:
            theta = np.asarray(theta, dtype=float).ravel()
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be {self.ntheta} numbers (the relative covariance "
                            f"factor's parameters, as a fit's .theta), got {theta!r}") from None
        if theta.shape != (self.ntheta,):
            raise ValueError(f"{name} must have {self.ntheta} elements, got {theta.size}")
        return theta

    # ---- fitting
    def fit(self, y, *, reml: bool = True, theta0=None, check_conv: bool = True,
            warn: bool = True, formula: str | None = None, hinv0=None,
            gtol: float = 1e-9, ftol: float = 1e-15) -> LmerResult:
        """Fit the model to response ``y`` by maximising the (restricted) likelihood.

        Parameters
        ----------
        y : array of shape (n,)
        reml : bool, default True
            REML (lme4's default) or ML (``reml=False``).
        theta0 : array, optional
            Starting value; default :meth:`start_theta` (a moment estimate; lme4's
            start, 1 on the diagonal and 0 elsewhere, with several grouping factors).
            A previous fit's ``theta`` makes refits in an imputation loop faster.
        hinv0 : array, optional
            With ``theta0``: the previous fit's ``optimizer["hinv"]`` (the optimiser's
            inverse-Hessian approximation), so that the refit starts with
            quasi-Newton steps.
        gtol, ftol : float, default 1e-9 and 1e-15
            The optimiser's tolerances (:func:`mlmice.mixed.optim.bfgs`); the
            imputation methods' refits use looser ones.
        check_conv : bool, default True
            Run lme4's convergence checks (costs ``2 * ntheta`` extra gradient
            evaluations; also polishes theta with Newton steps).
        warn : bool, default True
            Emit :class:`ConvergenceWarning` / :class:`SingularFitWarning`.

        Returns
        -------
        LmerResult
        """
        check_bool(reml, "reml")
        if self.n <= self.p:
            where = f" in {formula!r}" if formula else ""
            shown = ", ".join(self.x_names[:4]) + (" ..." if self.p > 4 else "")
            raise ValueError(f"{self.n} observations for {self.p} fixed effects{where} "
                             f"({shown}): too many parameters (a text column enters the "
                             "fixed part as one dummy per value)")
        with self._blas_context(), np.errstate(over="ignore", invalid="ignore",
                                               divide="ignore"):
            try:   # small dense algebra: see mlmice._threads
                return fit_model(self, y, reml=reml, theta0=theta0, check_conv=check_conv,
                                 warn=warn, formula=formula, hinv0=hinv0, gtol=gtol,
                                 ftol=ftol)
            except np.linalg.LinAlgError as err:
                raise ValueError(
                    "the mixed model could not be fitted: a matrix became singular during "
                    f"the optimisation ({err}); the residual variance may be zero (is the "
                    "response constant within clusters?)") from err

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
            logdet_a, r2 = self._loglik_schur(Zte, ete, theta, sigma)
        else:
            L = self.lam(theta)
            A = np.matmul(np.matmul(L.T, self._C), L) + self._eye
            v = Zte @ L
            logdet_a, g = block_solve(A, v[:, :, None])
            r2 = ete - float((v * g[:, :, 0]).sum())
        return gaussian_loglik(self.n, sigma, logdet_a, r2)

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
        return self._ainv_blocks_schur(theta, idx)

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
        return self.template.theta_from_cov(covs, sigma,
                                            names=[t.group for t in self.terms])

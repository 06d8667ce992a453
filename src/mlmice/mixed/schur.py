r"""Several grouping factors: the Schur-complement back-end of the penalised least squares.

Crossed or nested grouping factors (``(1 | school) + (1 | school:class)``) make
:math:`A = \Lambda^\top Z^\top Z\Lambda + I` no longer block diagonal. The first term's
part (lme4's order puts the factor with most levels first) still is, and is eliminated
by the Schur complement :math:`T = A_{22} - A_{21}A_{11}^{-1}A_{12}`, dense only in the
other terms' :math:`Q_2` effects: :math:`O(J_1 q_1^2 Q_2 + J_1 q_1 Q_2^2 + Q_2^3)` per
evaluation, with :math:`Z^\top Z` kept sparse (lme4 uses a sparse Cholesky factor
there; this is exact and fast while :math:`Q_2` stays in the hundreds). The dense path
of :class:`mlmice.mixed.model.LmerModel` is its reference (``tests/test_lmer.py``).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from mlmice.mixed.pls import CANCEL, PlsEval, block_solve, profiled_deviance, solve_fixed
from mlmice.mixed.terms import one_hot

__all__ = ["SchurMixin"]

class SchurMixin:
    """The several-grouping-factor evaluation of :class:`~mlmice.mixed.model.LmerModel`.

    Needs the model's ``terms``, ``X``, ``p``, ``q``, ``_Z``, ``_D``, ``_Csp``, the
    Lambda template and ``_residuals`` / ``_zt``; adds ``_s_*`` blocks in
    :meth:`_build_schur`.
    """

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
        G1 = one_hot(t1.codes, J1)
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

    def _evaluate_schur(self, theta, yp, reml: bool, grad: bool, full: bool = False) -> PlsEval:
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
        logdet11, sol1 = block_solve(A11, np.concatenate(parts, axis=2))
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
        beta, sinv, logdet_s = solve_fixed(S, c, want_inverse=full or reml)
        r2 = yty - float(v @ g) - float(c @ beta)
        u = g - G @ beta                                        # (Q,)
        e = None
        if not r2 > CANCEL * yty:
            e = self._residuals(yt, beta, u[None, :], theta)
            r2 = float(e @ e) + float(u @ u)
        dev, r2, m = profiled_deviance(r2, logdet_a, logdet_s, n=self.n, p=self.p,
                                         reml=reml)
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
        return PlsEval(theta=np.array(theta, dtype=float), deviance=float(dev), grad=gr,
                     beta=beta, u=u[None, :], r2=r2, logdet_a=logdet_a, logdet_s=logdet_s,
                     sinv=sinv, lam=L)

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
        logdet11, sol = block_solve(A11, rhs)
        F = sol[:, :, :Q2]
        T = A22 - A21.reshape(Q2, Q1) @ F.reshape(Q1, Q2)
        cT = np.linalg.cholesky(T)
        ciT = np.linalg.inv(cT)
        return {"L1": L1, "L2": L2, "A11inv": sol[:, :, Q2:], "F": F, "Tinv": ciT.T @ ciT,
                "logdet": logdet11 + 2.0 * float(np.log(np.diag(cT)).sum())}

    def _lam_times_schur(self, theta, u: np.ndarray) -> np.ndarray:
        J1, q1, Q1, Q2 = self._s_dims
        L1, L2 = self._lam_parts(theta)
        if u.ndim == 2 and u.shape == (1, self.q):
            v = u[0]
            return np.concatenate([(v[:Q1].reshape(J1, q1) @ L1.T).ravel(),
                                   L2 @ v[Q1:]])[None, :]
        k = u.shape[1]
        top = np.matmul(L1, u[:Q1].reshape(J1, q1, k)).reshape(Q1, k)
        return np.concatenate([top, L2 @ u[Q1:]])

    def _loglik_schur(self, Zte, ete: float, theta, sigma) -> tuple[float, float]:
        """(log|A|, r2) at theta for the residual cross-products of :meth:`loglik_at`."""
        J1, q1, Q1, Q2 = self._s_dims
        sf = self._schur_factor(theta)
        v1 = Zte[0, :Q1].reshape(J1, q1) @ sf["L1"]       # L1' z_j
        v2 = sf["L2"].T @ Zte[0, Q1:]
        # A^{-1} = blockdiag(A11^{-1}, 0) + W T^{-1} W', W = [F; -I]
        quad = float(np.einsum("ja,jab,jb->", v1, sf["A11inv"], v1))
        z = sf["F"].reshape(Q1, Q2).T @ v1.reshape(Q1) - v2
        return sf["logdet"], ete - quad - float(z @ sf["Tinv"] @ z)

    def _ainv_blocks_schur(self, theta, idx: np.ndarray) -> np.ndarray:
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

r"""Random-effects terms and the map from :math:`\theta` to :math:`\Lambda_\theta`.

The first layer of lme4's model (Bates, Maechler, Bolker and Walker 2015, JSS 67(1),
section 2.3): every random-effects term :math:`k` has :math:`q_k` effects per level
of its grouping factor and a lower-triangular relative covariance factor
:math:`\Lambda_k` (``(1 + x | g)``: the full lower triangle; ``(1 + x || g)``: the
diagonal), so that the term's effects have covariance
:math:`\sigma^2\Lambda_k\Lambda_k^\top` (a linear model) or :math:`\Lambda_k\Lambda_k^\top`
(a logistic one). :math:`\theta` stacks the terms' free entries, each term's column by
column (lme4's order); diagonal entries are bounded below by 0.

:class:`LambdaTemplate` is the one implementation of this map, used by ``lmer``,
``glmer``, the imputation methods and pooling's likelihood tests: ``lam(theta)``,
``theta_from_cov(covs, scale)`` and ``canonical(theta)`` (the sign of each column
chosen so that the diagonal is non-negative, which leaves :math:`\Lambda\Lambda^\top`
unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from mlmice.design import RandomBlock

__all__ = ["LambdaTemplate", "ReTerm", "lme4_order", "one_hot", "safe_chol",
           "term_from_block"]


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
        return block_positions(self.q, self.correlated)

    def lam(self, theta_k: np.ndarray) -> np.ndarray:
        """This term's :math:`q \\times q` factor :math:`\\Lambda_k` from its own theta."""
        L = np.zeros((self.q, self.q))
        r, c = self.template()
        L[r, c] = theta_k
        return L


def block_positions(q: int, correlated: bool) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of a term's free entries: column-major lower triangle, or the diagonal."""
    if correlated:
        cols, rows = np.triu_indices(q)      # (c, r) with r >= c, ordered by column
        return rows.astype(np.intp), cols.astype(np.intp)
    idx = np.arange(q, dtype=np.intp)
    return idx, idx.copy()


@dataclass(frozen=True)
class LambdaTemplate:
    """Positions of the :math:`\\theta` entries in :math:`\\Lambda` for a list of terms.

    Built by :meth:`build`. With ``per_level=False`` (one grouping factor, all terms
    on it) :math:`\\Lambda` is the :math:`q \\times q` factor of one cluster, the terms'
    blocks side by side; with ``per_level=True`` (several grouping factors) it is the
    full :math:`Q \\times Q` factor, each term's block repeated for every level.

    Attributes
    ----------
    rows, cols : ndarray of int
        Position of every non-zero entry of :math:`\\Lambda`.
    tidx : ndarray of int
        The theta element at each position.
    size : int
        Order of :math:`\\Lambda` (q, or Q).
    lower, theta0 : ndarray
        Bounds (0 on the diagonal, -inf elsewhere) and lme4's start (1 on the diagonal).
    theta_slices : list of slice
        Each term's part of theta.
    u_offsets : list of int
        Where each term's effects start in the spherical effects u.
    terms : list of (q, correlated)
    """

    rows: np.ndarray
    cols: np.ndarray
    tidx: np.ndarray
    size: int
    lower: np.ndarray
    theta0: np.ndarray
    theta_slices: list
    u_offsets: list
    terms: list

    @classmethod
    def build(cls, sizes, correlated, *, n_levels=None) -> LambdaTemplate:
        """Template of terms of ``sizes`` q_k; ``n_levels`` given: the per-level layout."""
        rows, cols, tidx, lower, theta0, slices, offsets = [], [], [], [], [], [], []
        off_t = off_u = 0
        for k, (q, corr) in enumerate(zip(sizes, correlated, strict=True)):
            r, c = block_positions(int(q), bool(corr))
            n_k = len(r)
            slices.append(slice(off_t, off_t + n_k))
            lower.extend(np.where(r == c, 0.0, -np.inf))
            theta0.extend(np.where(r == c, 1.0, 0.0))
            offsets.append(off_u)
            if n_levels is None:
                rows.append(r + off_u)
                cols.append(c + off_u)
                tidx.append(np.arange(off_t, off_t + n_k))
                off_u += q
            else:
                base = off_u + np.arange(n_levels[k])[:, None] * q
                rows.append((base + r[None, :]).ravel())
                cols.append((base + c[None, :]).ravel())
                tidx.append(np.tile(np.arange(off_t, off_t + n_k), n_levels[k]))
                off_u += q * n_levels[k]
            off_t += n_k
        return cls(rows=np.concatenate(rows).astype(np.intp),
                   cols=np.concatenate(cols).astype(np.intp),
                   tidx=np.concatenate(tidx).astype(np.intp), size=off_u,
                   lower=np.array(lower), theta0=np.array(theta0), theta_slices=slices,
                   u_offsets=offsets,
                   terms=[(int(q), bool(c)) for q, c in zip(sizes, correlated, strict=True)])

    @property
    def ntheta(self) -> int:
        return len(self.theta0)

    def lam(self, theta) -> np.ndarray:
        """:math:`\\Lambda_\\theta` (``size x size``)."""
        L = np.zeros((self.size, self.size))
        L[self.rows, self.cols] = np.asarray(theta, dtype=float)[self.tidx]
        return L

    def canonical(self, theta) -> np.ndarray:
        """Flip the sign of every column of :math:`\\Lambda` whose diagonal entry is negative.

        Leaves :math:`\\Lambda\\Lambda^\\top` (and so the model) unchanged and returns theta
        within lme4's bounds (diagonal >= 0).
        """
        theta = np.array(theta, dtype=float)
        for (q, corr), sl in zip(self.terms, self.theta_slices, strict=True):
            r, c = block_positions(q, corr)
            th = theta[sl]
            diag_of_col = np.empty(q)
            diag_of_col[c[r == c]] = th[r == c]
            theta[sl] = th * np.where(diag_of_col[c] < 0, -1.0, 1.0)
        return theta

    def theta_from_cov(self, covs, scale: float = 1.0, *, names=None) -> np.ndarray:
        """Theta from each term's covariance matrix: :math:`\\Lambda_k = chol(\\Sigma_k)/scale`.

        ``scale`` is the residual sd of a linear model (1 for a logistic one). A
        singular covariance matrix is fine (:func:`safe_chol`); an uncorrelated term
        takes the square roots of the diagonal. ``names`` (the terms' grouping
        factors) make the error messages specific.
        """
        theta = np.zeros(self.ntheta)
        for k, ((q, corr), sl, cov) in enumerate(zip(self.terms, self.theta_slices, covs,
                                                     strict=True)):
            cov = np.atleast_2d(np.asarray(cov, dtype=float))
            if cov.shape != (q, q):
                what = f"term on {names[k]!r}" if names is not None else f"term {k + 1}"
                raise ValueError(f"the covariance matrix of the random {what} must be "
                                 f"{q}x{q}, got shape {cov.shape}")
            Lk = safe_chol(cov) if corr else np.diag(np.sqrt(np.maximum(np.diag(cov), 0)))
            r, c = block_positions(q, corr)
            theta[sl] = Lk[r, c] / scale
        return theta


def lme4_order(terms: list[ReTerm]) -> list[ReTerm]:
    """lme4's ``mkReTrms`` orders terms by decreasing number of levels (when not already)."""
    nl = np.array([t.n_levels for t in terms])
    if len(nl) > 1 and np.any(np.diff(nl) > 0):
        order = np.argsort(nl, kind="stable")[::-1]
        return [terms[i] for i in order]
    return list(terms)


def one_hot(codes: np.ndarray, n_levels: int) -> sparse.csr_matrix:
    """The (n_levels, n) indicator matrix of ``codes``: ``G @ a`` sums ``a`` by level."""
    n = len(codes)
    return sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(n_levels, n))


def safe_chol(cov: np.ndarray) -> np.ndarray:
    """Lower-triangular ``L`` with ``L L' = cov``, also for a singular (semi-definite) ``cov``."""
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        w, V = np.linalg.eigh(cov)
        w = np.maximum(w, 0)
        _, R = np.linalg.qr((V * np.sqrt(w)).T)
        Lc = R.T
        return Lc * np.sign(np.where(np.diag(Lc) == 0, 1, np.diag(Lc)))[None, :]


def term_from_block(b: RandomBlock) -> ReTerm:
    """The :class:`ReTerm` of a model frame's random block."""
    return ReTerm(group=b.group, names=list(b.z_names), Z=b.Z, codes=b.codes, levels=b.levels,
                  correlated=b.correlated)

"""The standardised design of the Gibbs-sampling 2l methods and their draws across calls.

``2l.bin``, ``2l.polr`` and ``2l.polyreg`` sample their models on ``X`` and ``Z`` built
from the predictor codes (:func:`~mlmice.impute.methods.base.two_level_design`), each
non-constant column centred and scaled on the observed rows and the linearly dependent
columns dropped (:func:`standardised_design`). The predictors change between calls
(they are other variables' current imputations), and with them the centring and
scaling; a draw kept in the method state is re-expressed for the new parametrisation
(:func:`_carry_over`), so that the linear predictor and the distribution of the random
effects are unchanged and the next call continues the chain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlmice.impute.methods.base import STATE_NAME_SEP as _SEP
from mlmice.impute.methods.base import MethodInput, MethodResult, two_level_design
from mlmice.impute.methods.logreg import keep_independent

__all__ = ["CategoricalProblem", "GibbsState", "StandardisedDesign", "categorical_problem",
           "standardised_design"]


@dataclass
class GibbsState:
    """Current draw of the two-level logistic model (standardised scale)."""

    beta: np.ndarray  # (p,)
    b: np.ndarray  # (J, q)
    psi_inv: np.ndarray  # (q, q)

    @property
    def psi(self) -> np.ndarray:
        return np.linalg.inv(self.psi_inv)


def _standardise(M: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre and scale non-constant columns on ``rows``; constant columns stay.

    Returns the standardised matrix, the centres and the scales (0 and 1 for a
    constant column).
    """
    sub = M[rows]
    mean = sub.mean(axis=0)
    sd = sub.std(axis=0)
    const = sd <= 1e-12 * np.maximum(np.abs(mean), 1.0)
    mean = np.where(const, 0.0, mean)
    sd = np.where(const, 1.0, sd)
    return (M - mean) / sd, mean, sd


def _reparametrise_map(old_center, old_scale, new_center, new_scale) -> np.ndarray:
    r"""The matrix :math:`M`, :math:`\gamma_{new} = M \gamma_{old}`, for the same linear predictor.

    A design standardised as :math:`(x - m_o)/s_o` and then as :math:`(x - m_n)/s_n`
    (column 0 the intercept, centre 0 and scale 1) gives the same :math:`x^\top\gamma`
    when :math:`\gamma_{n,k} = \gamma_{o,k}\, s_{n,k}/s_{o,k}` and the intercept takes
    :math:`\sum_k \gamma_{o,k}(m_{n,k} - m_{o,k})/s_{o,k}`.
    """
    M = np.diag(new_scale / old_scale)
    M[0, :] += (new_center - old_center) / old_scale
    return M


def _carry_over(state: dict | None, *, x_names, z_names, x_center, x_scale, z_center,
                z_scale, n_clusters) -> GibbsState | None:
    """The previous call's draw in this call's parametrisation, or None when it does not fit.

    It fits when the fixed and random effects are the same columns (by name) and the
    number of clusters is the same; the draw is then re-expressed for this call's
    centring and scaling (:func:`_reparametrise_map`), so that the linear predictor and
    the distribution of the random effects are unchanged.
    """
    if not state:
        return None
    p, q = len(x_names), len(z_names)
    try:
        if (state.get("x_names") != _SEP.join(x_names)
                or state.get("z_names") != _SEP.join(z_names)):
            return None
        beta, b, psi_inv = state["beta"], state["b"], state["psi_inv"]
        if beta.shape != (p,) or b.shape != (n_clusters, q) or psi_inv.shape != (q, q):
            return None
        mx = _reparametrise_map(state["x_center"], state["x_scale"], x_center, x_scale)
        mz = _reparametrise_map(state["z_center"], state["z_scale"], z_center, z_scale)
    except (KeyError, AttributeError, ValueError):
        return None
    mz_inv = np.linalg.inv(mz)
    return GibbsState(beta=mx @ beta, b=b @ mz.T, psi_inv=mz_inv.T @ psi_inv @ mz_inv)




@dataclass
class StandardisedDesign:
    """``X`` and ``Z`` of a 2l method, centred and scaled on the observed rows, with the
    linearly dependent columns dropped (:func:`standardised_design`)."""

    X: np.ndarray
    x_names: list
    x_center: np.ndarray
    x_scale: np.ndarray
    Z: np.ndarray
    z_names: list
    z_center: np.ndarray
    z_scale: np.ndarray

    def carry_over(self, state: dict | None, n_clusters: int) -> GibbsState | None:
        """:func:`_carry_over` of ``state`` into this design's parametrisation."""
        return _carry_over(state, x_names=self.x_names, z_names=self.z_names,
                           x_center=self.x_center, x_scale=self.x_scale,
                           z_center=self.z_center, z_scale=self.z_scale,
                           n_clusters=n_clusters)

    def state(self) -> dict:
        """What :meth:`carry_over` needs of this design at the next call."""
        return {"x_center": self.x_center, "x_scale": self.x_scale,
                "z_center": self.z_center, "z_scale": self.z_scale,
                "x_names": _SEP.join(self.x_names), "z_names": _SEP.join(self.z_names)}


def standardised_design(data: MethodInput, ry: np.ndarray, *, method: str,
                        events: list[str]) -> StandardisedDesign:
    """The design of ``data``'s predictor codes (:func:`two_level_design`), each
    non-constant column centred and scaled on the rows ``ry``, and the columns that are
    linearly dependent on earlier ones dropped (logged in ``events``)."""
    X, x_names, Z, z_names = two_level_design(data)
    X, x_center, x_scale = _standardise(X, ry)
    Z, z_center, z_scale = _standardise(Z, ry)
    kx = keep_independent(X, x_names, ry, events=events,
                          message=f"{method}: dropped linearly dependent fixed effects")
    kz = keep_independent(Z, z_names, ry, events=events,
                          message=f"{method}: dropped linearly dependent random effects")
    return StandardisedDesign(X=X[:, kx], x_names=[x_names[j] for j in kx],
                              x_center=x_center[kx], x_scale=x_scale[kx], Z=Z[:, kz],
                              z_names=[z_names[j] for j in kz], z_center=z_center[kz],
                              z_scale=z_scale[kz])


@dataclass
class CategoricalProblem:
    """What ``2l.polr`` and ``2l.polyreg`` sample from (:func:`categorical_problem`)."""

    classes: np.ndarray        # the observed categories' codes, sorted
    y_index: np.ndarray        # the observed rows' class index 0 .. C-1
    design: StandardisedDesign
    cluster: np.ndarray
    n_clusters: int
    ry: np.ndarray
    wy: np.ndarray
    n_iter: int                # sweeps from the start (the first call)
    n_warm: int                # sweeps continuing the previous draw
    state: dict | None         # the previous call's state when it has the same classes
    class_key: str
    events: list


def categorical_problem(data: MethodInput, *, method: str, defaults: dict
                        ) -> CategoricalProblem | MethodResult:
    """Check and prepare a categorical target for a Gibbs-sampling 2l method.

    Returns a :class:`MethodResult` instead when there is nothing to sample: no
    missing value, or every observed value the same category (imputed, logged).
    ``defaults`` holds the method's ``n_iter`` and ``n_warm``.
    """
    from mlmice._validation import check_scalar

    var = data.variable
    if not data.categories:
        raise ValueError(f"{var}: method {method} imputes a categorical variable; make it "
                         f"one with df[{var!r}] = df[{var!r}].astype('category')")
    opts = {**defaults, **data.options}
    n_iter = check_scalar(opts["n_iter"], f"{var}: option n_iter", kind=int, min_val=1)
    n_warm = check_scalar(opts["n_warm"], f"{var}: option n_warm", kind=int, min_val=1)
    y = np.asarray(data.y, dtype=float)
    ry, wy = np.asarray(data.ry, dtype=bool), np.asarray(data.wy, dtype=bool)
    if int(wy.sum()) == 0:
        return MethodResult(values=np.empty(0))
    classes = np.unique(y[ry])
    if classes.size == 1:
        return MethodResult(values=np.full(int(wy.sum()), classes[0]),
                            events=[f"{method}: every observed value of {var} is one "
                                    "category; imputed that category"])
    events: list[str] = []
    design = standardised_design(data, ry, method=method, events=events)
    class_key = _SEP.join(str(int(c)) for c in classes)
    state = data.state if data.state and data.state.get("classes") == class_key else None
    return CategoricalProblem(
        classes=classes, y_index=np.searchsorted(classes, y[ry]).astype(int), design=design,
        cluster=np.asarray(data.cluster, dtype=np.int64), n_clusters=int(data.n_clusters),
        ry=ry, wy=wy, n_iter=n_iter, n_warm=n_warm, state=state,
        class_key=class_key, events=events)

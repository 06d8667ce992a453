"""``2l.smc``: substantive-model-compatible imputation for two-level data.

The imputation model of every variable is derived from one joint model whose
conditional for the outcome IS the analysis (substantive) model, so
imputations respect random slopes and cross-level interactions that the
usual fully conditional specification (``2l.pmm``, ``2l.pan`` with the
outcome as a predictor) cannot express (Goldstein, Carpenter and Browne
2014; Bartlett et al. 2015; Erler et al. 2016; Enders, Du and Keller 2020;
Lüdtke, Robitzsch and West 2020).

Joint model (sequential factorisation, one grouping factor :math:`j`):

.. math::

    p(y, x \\mid w) = p(y \\mid x, w, \\theta)\\; p(x \\mid w, \\gamma),

* substantive model (option ``model``, an lme4 formula):
  :math:`y_{ij} = x_{ij}(x)^\\top\\beta + z_{ij}(x)^\\top b_j + e_{ij}`,
  :math:`b_j \\sim N_q(0, \\Psi)`, :math:`e_{ij} \\sim N(0, \\sigma^2)`; the design
  rows may contain products of level-1 and level-2 variables (``x:w``) and
  random slopes on ``x``;
* covariate model of an incomplete level-1 covariate :math:`x`:
  :math:`x_{ij} = w_{ij}^\\top\\gamma + v_{ij}^\\top u_j + \\epsilon_{ij}`,
  :math:`\\epsilon_{ij} \\sim N(0, \\tau^2)`, whose predictors ``w`` are the
  OTHER COVARIATES OF THE SUBSTANTIVE MODEL, with the codes of the predictor
  matrix row of ``x`` (codes 1-4 as for ``2l.pan``: 3/4 add cluster means,
  2/4 random slopes; a random intercept always). The outcome is not a
  predictor (it enters through the substantive model), and neither are
  auxiliary variables outside the substantive model: an auxiliary that
  depends on the outcome (the tutorial's teacher assessment of popularity)
  would carry the outcome's information about ``x`` a second time, since the
  factorisation assumes :math:`y \\perp a \\mid x, w`. On simulated tutorial
  data that double counting biased the interaction as much as ``2l.pmm``.
  Auxiliaries belong after the outcome (option ``auxiliary``, below).

Which step runs depends on the variable imputed:

Outcome (the formula's response). The covariates are taken at their current
(completed) values. :math:`(\\beta, b, \\sigma^2, \\Psi)` are drawn from their
posterior given the rows where ``y`` is observed by the Gibbs sampler of
``2l.pan`` (:func:`.two_level_pan.pan_gibbs`: blocked :math:`(\\beta, b)`,
inverse-Wishart :math:`\\Psi`, scaled inverse-chi-square :math:`\\sigma^2`,
the prior of option ``prior``; ``n_iter`` iterations from the REML fit), then
:math:`y_{mis} \\sim N(x^\\top\\beta + z^\\top b_j, \\sigma^2)`.
The missing ``y`` integrate out of the parameter draw, so this is an exact
blocked Gibbs step of the joint model.

Level-1 covariate (any other variable of the formula). All rows at their
current values (observed ``y`` or its current imputation, the covariate's
observed values or current imputations):

1. :math:`(\\beta, b, \\sigma^2)`: the chain's current draw, which the outcome
   step left (it draws :math:`(\\theta, y_{mis})` jointly given the covariates, so
   updating :math:`x_{mis}` given that :math:`\\theta` is a Gibbs step of the same
   joint posterior; :func:`shared_theta`). Where there is none (the first
   iteration when the covariate is visited before the outcome, or a complete
   outcome), a draw from their posterior given the completed data (same Gibbs
   sampler, all rows). Earlier versions drew it in every covariate step,
   which cost a third of the sweeps of an iteration (``bench/smc_vs_jomo.py``);
   the validity study is unchanged within its Monte Carlo error
   (docs/validity.md);
2. :math:`(\\gamma, u, \\tau^2)` of the covariate model given the completed
   ``x`` (same sampler);
3. ``n_mh`` independence Metropolis-Hastings steps per missing value
   (:mod:`._smc_metropolis`): proposal :math:`x^* \\sim N(w^\\top\\gamma +
   v^\\top u_j, \\tau^2)`, accepted with probability
   :math:`\\min\\{1, p(y_{ij} \\mid x^*, \\cdot) / p(y_{ij} \\mid x^{(t)}, \\cdot)\\}`,
   the substantive model's likelihood with the design row recomputed at the
   candidate. The chain starts at the previous imputation; all rows move at
   once (vectorised). Because the state is carried between mice iterations
   a few steps per iteration suffice; the default is ``n_mh = 10``.

Auxiliary variables (option ``auxiliary``, :mod:`._smc_auxiliary`) are
modelled after the outcome, :math:`p(a \\mid y, x, w, \\eta_a)` (main
effects, random intercept, parameters by the same Gibbs sampler given the
completed data). Their likelihood joins the acceptance ratio of the
covariate step; the outcome step then becomes Metropolis-Hastings too
(parameters from all rows at their current values; proposal
:math:`y^* \\sim N(x^\\top\\beta + z^\\top b_j, \\sigma^2)`, accepted with
probability :math:`\\min\\{1, \\prod_a p(a_{ij} \\mid y^*, \\cdot) / p(a_{ij}
\\mid y^{(t)}, \\cdot)\\}`).

Mixing. On the tutorial's data (``popular_MAR``, 25 % of extraversion
missing) the acceptance rate of the covariate step is about 0.75 per
proposal, so with 10 steps a value stays unchanged in a call with
probability about :math:`0.25^{10}`; a rate below 0.05 is logged.

This is a Metropolis-within-Gibbs sampler of the joint model's posterior
predictive distribution (Erler et al. 2016; Enders, Du and Keller 2020): its
stationary distribution is compatible with the substantive model whatever the
random slopes and interactions.

What it is valid for (docs/validity.md: four designs, 1000 replicates in three of
them, m = 5, maxit = 10, paired against the complete-data fit): fixed effects (those not 0)
within 0.6 % in every design, their intervals covering 93.3-96.5 % (the complete data's
93.3-95.5 %); every variance component within 2.3 % where the cluster slopes are
reliable (design d, mean reliability 0.49); a weakly identified slope variance
(reliability 0.16 and 0.09) +15 % and +37 % too large, -0.4 % and +17 % pooled
on the log scale (``varcomp_scale="log"``), where the observed-data ML estimate itself
is 5-13 % too large. The variance Rubin's rules add matches what the imputations cost
(0.94-1.13 of the mean squared difference from the complete-data estimate, MC SE
0.05-0.12).

Options
-------
model : str
    The substantive model (lme4 formula; required, the same for all
    variables imputed by ``2l.smc``).
n_iter : int
    Gibbs iterations of a parameter draw from the REML start (default 20): the
    first call of a chain.
n_warm : int
    Gibbs iterations of a parameter draw at the later calls (default 20). Each
    sampler (the substantive model's, the covariate model's) keeps its last
    draw of the variance parameters in the method state and continues from it,
    as ``2l.pan`` does, instead of starting again at a REML fit. Chosen by the
    validity study's design (b) (small slope variance; 100 replicates of the
    2l.smc arm, m = 5, maxit = 10), relative bias of the pooled slope variance
    against the complete-data fit: 3 sweeps +63.5 % (MC SE 8.5), 10 sweeps
    +51.4 % (8.3), 20 sweeps +43.4 % (7.7), and +43.0 % (5.3) for the REML start
    with 20 sweeps of earlier versions. Fewer sweeps leave the joint chain of
    parameters and imputations further from its stationary distribution after
    the usual 10 iterations where the slope variance is weakly identified, so
    20 keeps the validated behaviour; the speed comes from skipping the REML fit
    and from the design built without pandas (``bench/smc_vs_jomo.py``). With
    ``maxit`` well above 10, or well-identified variance components, 3 suffices
    (the imputed means' effective sample size per iteration is then that of 20).
    Which steps need the sweeps (design (b), 100 replicates, the default prior,
    slope variance against 20 sweeps everywhere, paired): 3 sweeps in the
    covariate step +12.6 % (MC SE 4.1), in the outcome step +3.6 % (4.8), in both
    +24.3 % (4.7); so the covariate step at least keeps 20.
n_mh : int
    Metropolis-Hastings steps per missing value (default 10).
auxiliary : list of str
    Continuous variables outside the substantive model, predictors of the
    imputed variable in the predictor matrix, to model after the outcome
    (default none).
prior : {"flat-variances", "flat", "mice"}
    Prior of the variance parameters of every model the method samples
    (:mod:`._variance_prior`; default "flat-variances": each variance flat
    marginally, no scale matrix). The uniform prior on :math:`\\Psi`
    ("flat", the default of 0.2) tilts each variance of a random-intercept-and-
    slope model towards large values; on the validity study's designs it put
    the pooled slope variance +19 % (a) and +43 % (b) above the complete-data
    fit, "flat-variances" +11 % and +37 % (200 replicates, paired differences
    -8.1 % (MC SE 0.8) and -6.4 % (1.0)). In mlmice 0.1 this was pan's
    identity prior on the standardised scale, which roughly doubled the random-slope variance of
    the tutorial's interaction model (slope variance 0.0047 against an
    identity of 1 added to a scatter of about 0.25): the cause of the
    inflation found in the validity study, now fixed. ``"mice"`` (pan's
    prior in raw units, as R and jomo use) inflates it too on that model.

Scope: Gaussian outcome, continuous level-1 covariates, one grouping factor
(the cluster variable, code -2). The variables of the formula other than the
imputed one must be predictors of it (any code 1-4) in the predictor matrix.
Other incomplete covariates (binary, level 2) are imputed by their own
methods. Predictors outside the substantive model that are not listed in
``auxiliary`` are ignored, so missingness should be at random given the
substantive model's variables and the listed auxiliaries.

References
----------
Goldstein, H., Carpenter, J. R. and Browne, W. J. (2014). Fitting multilevel
multivariate models with missing data in responses and covariates that may
include interactions and non-linear terms. JRSS A, 177(2), 553-564.

Bartlett, J. W., Seaman, S. R., White, I. R. and Carpenter, J. R. (2015).
Multiple imputation of covariates by fully conditional specification:
accommodating the substantive model. SMMR, 24(4), 462-487.

Erler, N. S., Rizopoulos, D., van Rosmalen, J., Jaddoe, V. W. V., Franco, O.
H. and Lesaffre, E. M. E. H. (2016). Dealing with missing covariates in
epidemiologic studies: a comparison between multiple imputation and a full
Bayesian approach. Statistics in Medicine, 35(17), 2955-2974.

Enders, C. K., Du, H. and Keller, B. T. (2020). A model-based imputation
procedure for multilevel regression models with random coefficients,
interaction effects, and nonlinear terms. Psychological Methods, 25(1), 88-112.

Lüdtke, O., Robitzsch, A. and West, S. G. (2020). Regression models involving
nonlinear effects with missing data: a sequential modeling approach using
Bayesian estimation. Psychological Methods, 25(2), 157-181.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mlmice.impute.methods._smc_auxiliary import AuxiliaryDraw
from mlmice.impute.methods._smc_metropolis import metropolis_independence
from mlmice.impute.methods._smc_model import SubstantiveModel
from mlmice.impute.methods._two_level_common import (
    carried_variances,
    get_n_iter,
    variance_state,
)
from mlmice.impute.methods._two_level_stats import TwoLevelProblem, prepare_problem
from mlmice.impute.methods._variance_prior import get_prior_kind
from mlmice.impute.methods.base import (
    ImputationMethod,
    MethodInput,
    MethodResult,
    register_method,
)
from mlmice.impute.methods.two_level_pan import pan_gibbs

GIBBS_ITERATIONS = 20
MH_STEPS = 10
METHOD = "2l.smc"
GIBBS_WARM_ITERATIONS = 20
OPTIONS = frozenset({"model", "n_iter", "n_warm", "n_mh", "auxiliary", "prior"})


@register_method(METHOD)
class TwoLevelSmc(ImputationMethod):
    """Substantive-model-compatible two-level imputation (see the module docstring)."""

    options = {"model": (None, "the analysis model (lme4 formula); required"),
               "n_iter": (20, "Gibbs iterations of a parameter draw from REML (first call)"),
               "n_warm": (20, "Gibbs iterations of a parameter draw continuing the last"),
               "n_mh": (10, "Metropolis-Hastings steps per missing value"),
               "auxiliary": ([], "auxiliary variables modelled after the outcome"),
               "prior": ("flat-variances",
                         "prior of the variance parameters: flat-variances, flat or mice")}

    level = "2l"

    def check_option_values(self, options: dict, *, variable: str, columns: list[str],
                            cluster: str | None) -> None:
        model = _read_options(options, variable)[0]
        where = f"{variable}: option 'model' of method {METHOD}"
        absent = [v for v in model.variables if v not in columns]
        if absent:
            raise ValueError(f"{where} names {absent}, which are not variables of the data "
                             f"(variables: {', '.join(columns)})")
        if cluster is not None and model.group != cluster:
            raise ValueError(f"{where} groups by {model.group!r}, but the cluster variable "
                             f"is {cluster!r}; 2l.smc's random effects are those of the "
                             f"cluster variable: write (... | {cluster})")

    def impute(self, data: MethodInput, rng: np.random.Generator) -> MethodResult:
        var = data.variable
        unknown = sorted(set(data.options) - OPTIONS)
        if unknown:
            raise ValueError(f"{var}: unknown option(s) {unknown} of method {METHOD}; "
                             f"known: {sorted(OPTIONS)}")
        if data.binary:
            raise ValueError(f"{var}: method {METHOD} imputes continuous variables; "
                             f"{var} is binary")
        if data.cluster is None or data.n_clusters < 1:
            raise ValueError(f"{var}: method {METHOD} needs a cluster variable "
                             "(predictor code -2)")
        model, n_iter, n_warm, n_mh, prior = _read_options(data.options, var)
        sweeps = _Sweeps(n_iter=n_iter, n_warm=n_warm, prior=prior, state=data.state or {})
        columns = _model_columns(data, model)
        auxiliary = _auxiliary_columns(data, model)
        if var != model.response and _constant_within_clusters(data):
            raise ValueError(f"{var}: method {METHOD} imputes level-1 covariates, but the "
                             f"observed values of {var} are constant within clusters "
                             "(a level-2 variable); use a 2lonly method for it")
        if var == model.response:
            if auxiliary:
                result = _impute_outcome_mh(data, model, columns, auxiliary, sweeps=sweeps,
                                            n_mh=n_mh, rng=rng)
            else:
                result = _impute_outcome(data, model, columns, sweeps=sweeps, rng=rng)
        else:
            result = _impute_covariate(data, model, columns, auxiliary, sweeps=sweeps,
                                       n_mh=n_mh, rng=rng)
        return replace(result, state=sweeps.new_state)


def _read_options(options: dict, var: str):
    """The model and the sampler settings from the options, each checked."""
    if "model" not in options:
        raise ValueError(f"{var}: method {METHOD} needs the option 'model' (the lme4 "
                         "formula of the analysis model), e.g. method_options="
                         f"{{{var!r}: {{'model': 'y ~ x + (1 + x | g)'}}}}")
    model = SubstantiveModel(options["model"], variable=var)
    n_iter = get_n_iter(options, GIBBS_ITERATIONS, variable=var)
    n_warm = get_n_iter(options, GIBBS_WARM_ITERATIONS, variable=var, key="n_warm")
    n_mh = get_n_iter(options, MH_STEPS, variable=var, key="n_mh")
    prior = get_prior_kind(options, variable=var, method=METHOD)
    return model, n_iter, n_warm, n_mh, prior


class _Sweeps:
    """The Gibbs samplers of one call and their warm state.

    Each sampler (``"sub"``: the substantive model; ``"cov"``: the covariate model)
    starts at the previous call's draw of its variance parameters when the state has
    one for the same random effects (:func:`carried_variances`) and then runs
    ``n_warm`` sweeps; otherwise at the REML estimates with ``n_iter`` sweeps. The
    draws it ends at are collected in :attr:`new_state`, each key prefixed by the
    sampler's name and a dot (``sub.psi``).
    """

    def __init__(self, *, n_iter: int, n_warm: int, prior: str, state: dict):
        self.n_iter, self.n_warm, self.prior, self.state = n_iter, n_warm, prior, state
        self.new_state: dict = {}

    def run(self, name: str, problem: TwoLevelProblem, rng: np.random.Generator):
        """Standardised ``(beta, b, sigma2, psi)`` of sampler ``name`` on ``problem``."""
        prefix = f"{name}."
        previous = {k[len(prefix):]: v for k, v in self.state.items() if k.startswith(prefix)}
        start = carried_variances(problem, previous)
        n_iter = self.n_iter if start is None else self.n_warm
        beta, b, sigma2, psi = pan_gibbs(problem, rng, n_iter=n_iter, start=start,
                                         prior=self.prior, method=METHOD)
        self.new_state.update({prefix + k: v
                               for k, v in variance_state(problem, sigma2, psi).items()})
        return beta, b, sigma2, psi


    def share(self, model: SubstantiveModel, problem: TwoLevelProblem, keep: np.ndarray, *,
              beta: np.ndarray, b: np.ndarray, sigma2: float) -> None:
        """Keep the outcome step's raw draw of the substantive model for the covariate steps.

        Stored in the outcome's state under ``theta.``: the fixed effects of the design
        columns ``keep``, the random effects (J, q) of the columns ``z_index`` (positions
        within ``keep``), the residual variance and the model's text.
        """
        self.new_state.update({
            "theta.beta": np.asarray(beta, dtype=float), "theta.b": np.asarray(b, dtype=float),
            "theta.sigma2": float(sigma2), "theta.keep": np.asarray(keep, dtype=float),
            "theta.z_index": np.asarray(problem.z_index, dtype=float),
            "theta.model": model.text})


def shared_theta(data: MethodInput, model: SubstantiveModel):
    r"""The outcome step's current draw of the substantive model, if the chain has one.

    The covariate step needs :math:`\theta = (\beta, b, \sigma^2)` of the substantive
    model for its Metropolis-Hastings acceptance. The outcome step draws
    :math:`(\theta, y_{mis})` jointly given the covariates (a blocked Gibbs step), so the
    chain's state holds a current :math:`\theta`; updating :math:`x_{mis}` given it is a
    Gibbs step of the same joint posterior, and a second draw of :math:`\theta` inside
    the covariate step (20 sweeps) is not needed. Returns ``(beta, b, sigma2, keep,
    z_index)`` or None (no outcome step has run in this chain, the outcome is complete,
    or the stored draw is of another model or design), in which case the covariate step
    draws :math:`\theta` given the completed data itself.
    """
    chain = data.chain_state
    state = chain.get(model.response) if chain is not None else None
    if not state or state.get("theta.model") != model.text:
        return None
    try:
        beta = np.asarray(state["theta.beta"], dtype=float)
        b = np.asarray(state["theta.b"], dtype=float)
        sigma2 = float(state["theta.sigma2"])
        keep = np.asarray(state["theta.keep"], dtype=float).astype(int)
        z_index = np.asarray(state["theta.z_index"], dtype=float).astype(int)
    except (KeyError, TypeError, ValueError):
        return None
    # the same model text gives the same design columns, so only shapes are checked
    if (beta.shape != keep.shape or keep.size == 0
            or b.shape != (data.n_clusters, z_index.size)
            or (z_index.size and z_index.max() >= keep.size)
            or not (np.isfinite(sigma2) and sigma2 > 0)):
        return None
    return beta, b, sigma2, keep, z_index


def _model_columns(data: MethodInput, model: SubstantiveModel) -> dict[str, np.ndarray]:
    """Current values of the model's variables: the target's and its predictors'."""
    index = {nm: k for k, nm in enumerate(data.names)}
    absent = [v for v in model.variables if v != data.variable and v not in index]
    if absent:
        raise ValueError(f"{data.variable}: method {METHOD} with model {model.text!r} needs "
                         f"{absent} as predictors of {data.variable} (predictor matrix codes "
                         "1-4); they are not (or were removed as constant/collinear)")
    cols = {v: np.asarray(data.x[:, index[v]], dtype=float)
            for v in model.variables if v != data.variable}
    cols[data.variable] = np.asarray(data.y, dtype=float)
    return cols


def _constant_within_clusters(data: MethodInput) -> bool:
    """True when every cluster's observed values are equal (and some cluster has two)."""
    ry = np.asarray(data.ry, dtype=bool)
    cl, y = np.asarray(data.cluster)[ry], np.asarray(data.y, dtype=float)[ry]
    J = data.n_clusters
    counts = np.bincount(cl, minlength=J)
    if not np.any(counts >= 2):
        return False
    lo = np.full(J, np.inf)
    hi = np.full(J, -np.inf)
    np.minimum.at(lo, cl, y)
    np.maximum.at(hi, cl, y)
    return bool(np.all((hi - lo)[counts >= 2] == 0))


def _auxiliary_columns(data: MethodInput, model: SubstantiveModel) -> dict[str, np.ndarray]:
    """Option ``auxiliary``: name -> current values of each auxiliary variable."""
    var = data.variable
    aux = data.options.get("auxiliary", ())
    if isinstance(aux, str):
        aux = (aux,)
    try:
        aux = list(dict.fromkeys(aux))
    except TypeError:
        raise ValueError(f"{var}: option 'auxiliary' of method {METHOD} must be a list of "
                         f"variable names, got {aux!r}") from None
    index = {nm: k for k, nm in enumerate(data.names)}
    inside = [a for a in aux if a in model.variables or a == var]
    if inside:
        raise ValueError(f"{var}: option 'auxiliary' of method {METHOD} names {inside}, "
                         "which are variables of the substantive model")
    absent = [a for a in aux if a not in index]
    if absent:
        raise ValueError(f"{var}: option 'auxiliary' of method {METHOD} names {absent}, which "
                         f"are not predictors of {var} (predictor matrix codes 1-4)")
    return {a: np.asarray(data.x[:, index[a]], dtype=float) for a in aux}


def _substantive_problem(data: MethodInput, model: SubstantiveModel,
                         columns: dict[str, np.ndarray], rows: np.ndarray,
                         wy: np.ndarray) -> tuple[TwoLevelProblem, np.ndarray]:
    """The substantive model as a :class:`TwoLevelProblem` fitted on ``rows``.

    Returns the problem and the indices of its columns in the full design
    (columns dropped as collinear are left out of both).
    """
    X, x_names, z_index = model.design(columns)
    z_names = {x_names[k] for k in z_index}
    codes = np.asarray([2 if nm in z_names else 1 for nm in x_names[1:]], dtype=int)
    sub = replace(data, variable=model.response, y=columns[model.response], ry=rows, wy=wy,
                  x=np.ascontiguousarray(X[:, 1:]), names=tuple(x_names[1:]), codes=codes,
                  options={})
    problem = prepare_problem(sub, method=METHOD)
    keep = np.asarray([x_names.index(nm) for nm in problem.x_names], dtype=int)
    return problem, keep


def _draw_parameters(problem: TwoLevelProblem, sweeps: _Sweeps, rng: np.random.Generator):
    """Posterior draw of (beta, b, sigma2) on the raw scale via the 2l.pan Gibbs sampler."""
    beta, b, sigma2, _psi = sweeps.run("sub", problem, rng)
    return problem.to_raw(beta=beta, b=b, variance=sigma2)


def substantive_loglik(model: SubstantiveModel, columns: dict[str, np.ndarray], *,
                       beta: np.ndarray, b: np.ndarray, sigma2: float,
                       keep: np.ndarray | None = None,
                       z_index: np.ndarray | None = None) -> np.ndarray:
    """Per-row log-likelihood of the substantive model, constants dropped.

    .. math:: \\log p(y_{ij} \\mid x_{ij}, b_j, \\theta) = -\\frac{(y_{ij} -
              x_{ij}^\\top\\beta - z_{ij}^\\top b_j)^2}{2\\sigma^2} + \\text{const}

    Parameters
    ----------
    model : SubstantiveModel
    columns : dict
        Every variable of the model (response included) -> values (k,).
    beta : ndarray (p,)
        Fixed effects of the design columns ``keep`` (default all columns).
    b : ndarray (k, q)
        Each row's cluster random effects, in the order of ``z_index``
        (positions within the kept columns; default the model's ``Z``).
    sigma2 : float
    keep : ndarray of int, optional
        Design columns used (those left after dropping collinear ones).
    z_index : ndarray of int, optional
    """
    X, _names, z_model = model.design(columns)
    if keep is not None:
        X = X[:, keep]
    zi = z_model if z_index is None else z_index
    mean = X @ beta + np.einsum("ik,ik->i", X[:, zi], b)
    return -0.5 * (columns[model.response] - mean) ** 2 / sigma2


def _impute_outcome(data, model, columns, *, sweeps, rng) -> MethodResult:
    ry = np.asarray(data.ry, dtype=bool)
    wy = np.asarray(data.wy, dtype=bool)
    problem, keep = _substantive_problem(data, model, columns, ry, wy)
    beta, b, sigma2 = _draw_parameters(problem, sweeps, rng)
    sweeps.share(model, problem, keep, beta=beta, b=b, sigma2=sigma2)
    X = problem.X[wy]
    mean = X @ beta + np.einsum("ik,ik->i", X[:, problem.z_index], b[data.cluster[wy]])
    values = mean + np.sqrt(sigma2) * rng.standard_normal(mean.size)
    return MethodResult(values=values, events=list(problem.events))


def _impute_outcome_mh(data, model, columns, auxiliary, *, sweeps, n_mh, rng) -> MethodResult:
    """Outcome step with auxiliaries: Metropolis-Hastings, the substantive model as proposal."""
    var = data.variable
    wy = np.asarray(data.wy, dtype=bool)
    everything = np.ones(wy.size, dtype=bool)
    problem, keep = _substantive_problem(data, model, columns, everything, wy)
    beta, b, sigma2 = _draw_parameters(problem, sweeps, rng)
    sweeps.share(model, problem, keep, beta=beta, b=b, sigma2=sigma2)
    aux = AuxiliaryDraw(data, {**columns, **auxiliary}, auxiliary, model.variables, wy,
                        n_iter=sweeps.n_iter, rng=rng, method=METHOD, prior=sweeps.prior)
    X = problem.X[wy]
    mean = X @ beta + np.einsum("ik,ik->i", X[:, problem.z_index], b[data.cluster[wy]])
    rows_cols = {v: c[wy] for v, c in columns.items()}

    def loglik(values: np.ndarray) -> np.ndarray:
        rows_cols[var] = values
        return aux.loglik(rows_cols)

    values, acceptance = metropolis_independence(columns[var][wy], mean, float(np.sqrt(sigma2)),
                                                 loglik, n_steps=n_mh, rng=rng)
    return MethodResult(values=values, events=[*problem.events, *aux.events,
                                               *_acceptance_events(var, acceptance)])


def _acceptance_events(var: str, acceptance: float) -> list[str]:
    if acceptance < 0.05:
        return [f"{METHOD}: Metropolis-Hastings acceptance rate for {var} is "
                f"{acceptance:.3f}; consider raising n_mh"]
    return []


def _impute_covariate(data, model, columns, auxiliary, *, sweeps, n_mh, rng) -> MethodResult:
    var = data.variable
    wy = np.asarray(data.wy, dtype=bool)
    n = wy.size
    everything = np.ones(n, dtype=bool)
    # 1. substantive-model parameters: the chain's current draw, left by the outcome
    #    step, or (no outcome step yet, or a complete outcome) a draw given the completed
    #    data
    shared = shared_theta(data, model)
    if shared is None:
        sub_problem, keep = _substantive_problem(data, model, columns, everything, wy)
        beta, b, sigma2 = _draw_parameters(sub_problem, sweeps, rng)
        z_index, sub_events = sub_problem.z_index, list(sub_problem.events)
    else:
        beta, b, sigma2, keep, z_index = shared
        sub_events = []
    # 2. covariate model (the other covariates of the model) given the completed x
    others = np.asarray([k for k, nm in enumerate(data.names)
                         if nm in model.covariates and nm != var], dtype=int)
    cov_input = replace(data, ry=everything, x=np.ascontiguousarray(data.x[:, others]),
                        names=tuple(data.names[k] for k in others),
                        codes=np.asarray(data.codes)[others], options={})
    cov_problem = prepare_problem(cov_input, method=METHOD)
    gamma, u, tau2, _psi = sweeps.run("cov", cov_problem, rng)
    prop_mean = cov_problem.center + cov_problem.scale * cov_problem.fitted(gamma, u, wy)
    prop_sd = cov_problem.scale * np.sqrt(tau2)
    # 3. Metropolis-Hastings with the substantive model's likelihood of the current y
    rows_cols = {v: c[wy] for v, c in columns.items()}
    b_rows = b[data.cluster[wy]]
    aux = (AuxiliaryDraw(data, {**columns, **auxiliary}, auxiliary, model.variables, wy,
                         n_iter=sweeps.n_iter, rng=rng, method=METHOD, prior=sweeps.prior)
           if auxiliary else None)

    def loglik(values: np.ndarray) -> np.ndarray:
        rows_cols[var] = values
        out = substantive_loglik(model, rows_cols, beta=beta, b=b_rows, sigma2=sigma2,
                                 keep=keep, z_index=z_index)
        return out if aux is None else out + aux.loglik(rows_cols)

    values, acceptance = metropolis_independence(
        columns[var][wy], prop_mean, prop_sd, loglik, n_steps=n_mh, rng=rng)
    events = [*sub_events, *cov_problem.events, *(aux.events if aux else []),
              *_acceptance_events(var, acceptance)]
    return MethodResult(values=values, events=events)

"""Random-slope variance after imputation against the reliability of the cluster slopes.

The validity study (docs/validity.md) finds the random-slope variance too large after
2l.smc in its designs (a) and (b). This bench isolates the cause: the outcome alone is
missing, completely at random (25 % of the rows), and 2l.smc imputes it from the analysis
model itself (no auxiliary, no incompatibility); only the residual variance sigma2
changes between blocks of the table, and with it the reliability of a cluster's slope,

    rho = tau / (tau + sigma2 / SS_x),

with tau the slope variance (0.0846) and SS_x a cluster's within-cluster sum of squares of
extraversion (about 26 for 20 pupils). Per replicate and block it compares with the
complete-data ML fit of the same replicate (paired relative bias and its Monte Carlo SE,
Morris, White and Crowther 2019; m = 5 where imputed):

* ``observed ML``: the ML fit to the complete cases, which under this mechanism is the
  observed-data maximum likelihood estimate: what the incomplete data say at best;
* ``fixed at truth``: y imputed from its exact conditional given the observed data with
  the parameters fixed at the generating values (tests the imputation step and the
  completed-data estimator: no bias expected);
* ``fixed at obs. ML``: the same with the parameters fixed at the observed-data ML fit
  (improper imputation: no parameter uncertainty);
* ``2l.smc <prior>``: proper MI, one row per ``--priors`` (the same seeds, so the rows
  differ only by the prior);
* ``2l.smc <prior>, log-scale average``: the same imputations, the slope variances of
  the m fits averaged on the log scale (their geometric mean) instead of as they are
  (mitml's rule); NaN, and left out, where a fit is at the boundary 0;
* ``2l.pan`` (with ``--pan``): 2l.pan with extraversion's random slope (code 4), whose
  imputation model is then the analysis model too; plain and log-scale averages;
* ``posterior mean``: the mean of the slope variance's posterior given the observed data
  under the first prior of ``--priors`` (2l.pan's Gibbs sampler, 2,000 sweeps).

    python bench/slope_reliability.py --replicates 300    # about 12 min on 2 cores

``--observed-only`` fits only the complete data and the complete cases (the observed-data
ML estimate), about 30 ms a replicate: ``--observed-only --sigma2 19.9 --replicates 3000``
pins the bound that the incomplete data set at that reliability.

Results of the run quoted in docs/validity.md are in its section "Weakly identified
slope variances".
"""

from __future__ import annotations

import argparse
import dataclasses
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # one BLAS thread per process

import numpy as np  # noqa: E402

import mlmice as mm  # noqa: E402
from mlmice.impute.methods._lmm_draws import draw_b  # noqa: E402
from mlmice.impute.methods._two_level_common import impute_rows  # noqa: E402
from mlmice.impute.methods._two_level_stats import prepare_problem  # noqa: E402
from mlmice.impute.methods.base import MethodInput  # noqa: E402
from mlmice.impute.methods.two_level_pan import pan_gibbs  # noqa: E402
from mlmice.simulate import PopularityParams  # noqa: E402

FORMULA = ("popularity_ij ~ gender_ij + extraversion_ij + experience_j"
           " + (1 + extraversion_ij | cluster_id)")
COVARIATES = ("gender_ij", "extraversion_ij", "experience_j")
TAU = 0.0846
SIGMA2 = (1.0, 5.0, 10.0, 19.9)
GAMMA = (-7.26, 7.44, 4.818, 1.356)
TAU_INTERCEPT = 16.3


def slope_variance(fit) -> float:
    return float(fit.varcorr["vcov"].iloc[1])


def outcome_problem(incomplete, missing: np.ndarray):
    """The outcome's two-level problem (codes: extraversion random, the others fixed)."""
    cluster = incomplete["cluster_id"].to_numpy()
    data = MethodInput(variable="popularity_ij",
                       y=incomplete["popularity_ij"].fillna(0.0).to_numpy(), ry=~missing,
                       wy=missing, x=incomplete[list(COVARIATES)].to_numpy(float),
                       names=COVARIATES, codes=np.asarray([1, 2, 1]), cluster=cluster,
                       n_clusters=int(cluster.max() + 1))
    return prepare_problem(data, method="2l.pan")


def impute_fixed(problem, *, beta, psi, sigma2, rng) -> np.ndarray:
    """Missing y from p(y_mis | y_obs, theta) with theta (raw units) fixed."""
    s, c = problem.scale, problem.center
    beta_s = np.asarray(beta, dtype=float) / s
    beta_s[0] -= c / s
    J = problem.n_clusters
    b = draw_b(problem.stats, np.full(J, s ** 2 / sigma2), np.asarray(psi) / s ** 2,
               beta_s, rng)
    return impute_rows(problem, beta_s, b, np.full(J, sigma2 / s ** 2), rng)


def posterior_mean(problem, prior: str, *, seed, burn=200, draws=2000) -> float:
    """Mean of the slope variance's posterior draws given the observed rows (raw units)."""
    rng = np.random.default_rng(seed)
    beta, b, sigma2, psi = pan_gibbs(problem, rng, n_iter=burn, prior=prior)
    total = 0.0
    for _ in range(draws):
        beta, b, sigma2, psi = pan_gibbs(problem, rng, n_iter=1, start=(sigma2, psi),
                                         prior=prior)
        total += psi[1, 1]
    return problem.scale ** 2 * total / draws


def _predictor_matrix(data, row: dict):
    import pandas as pd
    pred = pd.DataFrame(0, index=data.columns, columns=data.columns)
    for k, v in row.items():
        pred.loc["popularity_ij", k] = v
    return pred


def replicate(args) -> dict:
    """Slope variances of every estimator for one replicate, and the SS of x."""
    sigma2, r, m, priors, pan, observed_only = args
    params = dataclasses.replace(PopularityParams(), gamma=[*GAMMA, 0.0],
                                 tau_intercept=TAU_INTERCEPT, tau_slope=TAU, tau_cov=0.0,
                                 sigma2=sigma2, alpha=[0.77, 0.1095, 0.417, 0.143])
    data = mm.simulate_popularity(n_clusters=100, cluster_size=20, seed=r, params=params).data
    out = {"complete": slope_variance(mm.lmer(FORMULA, data=data, reml=False))}
    rng = np.random.default_rng([r, 1])
    missing = rng.random(len(data)) < 0.25
    incomplete = data.copy()
    incomplete.loc[missing, "popularity_ij"] = np.nan
    # With the outcome alone missing completely at random, the ML fit to the complete
    # cases is the observed-data ML estimate: what the incomplete data say at best.
    observed = mm.lmer(FORMULA, data=incomplete[~missing], reml=False)
    out["observed ML"] = slope_variance(observed)
    x = data["extraversion_ij"]
    out["ss"] = float((x - x.groupby(data["cluster_id"]).transform("mean")).pow(2)
                      .groupby(data["cluster_id"]).sum().mean())
    if observed_only:
        return out
    problem = outcome_problem(incomplete, missing)
    vc = observed.varcorr["vcov"].to_numpy()
    fixed = {"fixed at truth": (np.asarray(GAMMA), np.diag([TAU_INTERCEPT, TAU]), sigma2),
             "fixed at obs. ML": (np.asarray(observed.fixef, dtype=float),
                                  np.array([[vc[0], vc[2]], [vc[2], vc[1]]])
                                  + 1e-12 * np.eye(2), float(observed.sigma) ** 2)}
    frng = np.random.default_rng([r, 3])
    for name, (beta, psi, s2) in fixed.items():
        fits = []
        for _ in range(m):
            completed = incomplete.copy()
            completed.loc[missing, "popularity_ij"] = impute_fixed(
                problem, beta=beta, psi=psi, sigma2=s2, rng=frng)
            fits.append(slope_variance(mm.lmer(FORMULA, data=completed, reml=False)))
        out[name] = float(np.mean(fits))
    arms = {f"2l.smc {prior}": {"method": {"popularity_ij": "2l.smc"},
                                "method_options": {"popularity_ij": {"model": FORMULA,
                                                                     "prior": prior}}}
            for prior in priors}
    if pan:
        # 2l.pan's imputation model of y given x with a random slope of extraversion is the
        # analysis model itself: congenial, as 2l.smc is here
        row = {"cluster_id": -2, "gender_ij": 1, "extraversion_ij": 4, "experience_j": 1}
        arms["2l.pan"] = {"method": {"popularity_ij": "2l.pan"},
                          "predictor_matrix": _predictor_matrix(incomplete, row)}
    for name, arm in arms.items():
        imp = mm.mice(incomplete, m=m, maxit=1, seed=r, cluster="cluster_id", **arm)
        fits = np.array([slope_variance(f) for f in imp.fit(FORMULA, reml=False)])
        out[name] = float(fits.mean())
        # averaged on the log scale (geometric mean; NaN when an imputation's fit is at 0)
        out[f"{name}, log-scale average"] = (float(np.exp(np.log(fits).mean()))
                                             if np.all(fits > 0) else np.nan)
    out[f"posterior mean, {priors[0]}"] = posterior_mean(problem, priors[0], seed=[r, 2])
    return out


def main(argv=None) -> None:
    import warnings
    from multiprocessing import Pool

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=60)
    parser.add_argument("--m", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--priors", default="flat,flat-variances",
                        help="comma-separated priors of 2l.smc (option prior)")
    parser.add_argument("--pan", action="store_true",
                        help="also impute by 2l.pan (random slope of extraversion, code 4)")
    parser.add_argument("--sigma2", default=",".join(map(str, SIGMA2)),
                        help="comma-separated residual variances, one block each")
    parser.add_argument("--observed-only", action="store_true",
                        help="only the complete-data and observed-data ML fits (seconds "
                             "per hundred replicates: for a precise bound)")
    args = parser.parse_args(argv)
    priors = tuple(args.priors.split(","))
    warnings.simplefilter("ignore")
    print("slope variance: mean, and paired relative bias against the complete-data ML fit "
          "(MC SE), in %")
    with Pool(args.jobs, initializer=warnings.simplefilter, initargs=("ignore",)) as pool:
        for sigma2 in (float(s) for s in args.sigma2.split(",")):
            rows = pool.map(replicate, [(sigma2, r, args.m, priors, args.pan, args.observed_only)
                                        for r in range(args.replicates)])
            cols = {k: np.array([row[k] for row in rows]) for k in rows[0]}
            ss, complete = cols.pop("ss"), cols.pop("complete")
            rho = TAU / (TAU + sigma2 / ss.mean())
            print(f"\nsigma2 {sigma2:g}: mean reliability rho {rho:.2f}, {len(rows)} "
                  f"replicates, complete data {complete.mean():.4f}")
            for name, values in cols.items():
                ok = np.isfinite(values)
                left = f"  ({(~ok).sum()} at 0 left out)" if not ok.all() else ""
                print(f"  {name:<44} {values[ok].mean():8.4f} "
                      f"{_relative(values[ok], complete[ok])}{left}", flush=True)


def _relative(estimate, reference) -> str:
    """Paired relative bias against a reference fit of the same replicate, MC SE, in %."""
    d = estimate - reference
    mcse = d.std(ddof=1) / np.sqrt(len(d))
    return f"{100 * d.mean() / reference.mean():+7.1f} ({100 * mcse / reference.mean():.1f})"


if __name__ == "__main__":
    main()

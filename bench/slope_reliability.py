"""Random-slope variance after imputation against the reliability of the cluster slopes.

The validity study (docs/validity.md) finds the random-slope variance too large after
2l.smc in its designs (a) and (b). This bench isolates the cause: the outcome alone is
missing, completely at random (25 % of the rows), and 2l.smc imputes it from the analysis
model itself (no auxiliary, no incompatibility); only the residual variance sigma2
changes between rows of the table, and with it the reliability of a cluster's slope,

    rho = tau / (tau + sigma2 / SS_x),

with tau the slope variance (0.0846) and SS_x a cluster's within-cluster sum of squares of
extraversion (about 26 for 20 pupils). Each replicate compares the pooled slope variance
(ML, m = 5) with the complete-data ML fit of the same replicate: the paired relative bias
with its Monte Carlo SE (Morris, White and Crowther 2019).

    python bench/slope_reliability.py --replicates 200     # about 3 min on 2 cores

Prints, per sigma2: rho, replicates, the mean complete-data and MI estimates, and the
relative bias with its MC SE; then the same for the observed-data ML fit (the complete
cases, which under this mechanism is full-information ML), and MI against it.
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
from mlmice.simulate import PopularityParams  # noqa: E402

FORMULA = ("popularity_ij ~ gender_ij + extraversion_ij + experience_j"
           " + (1 + extraversion_ij | cluster_id)")
TAU = 0.0846
SIGMA2 = (1.0, 5.0, 10.0, 19.9)


def replicate(args) -> tuple[float, float, float, float]:
    """(complete, MI, observed-data ML) slope variances and within-cluster SS of x."""
    sigma2, r, m = args
    params = dataclasses.replace(PopularityParams(), gamma=[-7.26, 7.44, 4.818, 1.356, 0.0],
                                 tau_intercept=16.3, tau_slope=TAU, tau_cov=0.0,
                                 sigma2=sigma2, alpha=[0.77, 0.1095, 0.417, 0.143])
    data = mm.simulate_popularity(n_clusters=100, cluster_size=20, seed=r, params=params).data
    complete = mm.lmer(FORMULA, data=data, reml=False).varcorr["vcov"].iloc[1]
    rng = np.random.default_rng([r, 1])
    incomplete = data.copy()
    incomplete.loc[rng.random(len(data)) < 0.25, "popularity_ij"] = np.nan
    imp = mm.mice(incomplete, m=m, maxit=1, seed=r, cluster="cluster_id",
                  method={"popularity_ij": "2l.smc"},
                  method_options={"popularity_ij": {"model": FORMULA}})
    mi = float(np.mean([f.varcorr["vcov"].iloc[1] for f in imp.fit(FORMULA, reml=False)]))
    # With the outcome alone missing completely at random, the ML fit to the complete
    # cases is the observed-data ML estimate: what the incomplete data say at best.
    observed = mm.lmer(FORMULA, data=incomplete.dropna(), reml=False).varcorr["vcov"].iloc[1]
    x = data["extraversion_ij"]
    ss = float((x - x.groupby(data["cluster_id"]).transform("mean")).pow(2)
               .groupby(data["cluster_id"]).sum().mean())
    return float(complete), mi, float(observed), ss


def main(argv=None) -> None:
    import warnings
    from multiprocessing import Pool

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=60)
    parser.add_argument("--m", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    print(f"{'sigma2':>7} {'rho':>5} {'reps':>5} {'complete':>9} {'MI':>8} "
          f"{'rel. bias':>9} {'(MC SE)':>8} {'obs. ML':>8} {'rel. bias':>9} {'(MC SE)':>8} "
          f"{'MI - obs.':>9} {'(MC SE)':>8}")
    with Pool(args.jobs, initializer=warnings.simplefilter, initargs=("ignore",)) as pool:
        for sigma2 in SIGMA2:
            out = np.array(pool.map(replicate, [(sigma2, r, args.m)
                                                for r in range(args.replicates)]))
            comp, mi, obs, ss = out.T
            rho = TAU / (TAU + sigma2 / ss.mean())
            print(f"{sigma2:7.1f} {rho:5.2f} {len(comp):5d} {comp.mean():9.4f} {mi.mean():8.4f} "
                  f"{_relative(mi, comp)} {obs.mean():8.4f} {_relative(obs, comp)} "
                  f"{_relative(mi, obs)}", flush=True)


def _relative(estimate, reference) -> str:
    """Paired relative bias against a reference fit of the same replicate, MC SE, in %."""
    d = estimate - reference
    mcse = d.std(ddof=1) / np.sqrt(len(d))
    return f"{100 * d.mean() / reference.mean():8.1f}% {100 * mcse / reference.mean():7.1f}%"


if __name__ == "__main__":
    main()

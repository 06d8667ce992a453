"""Benchmark: mlmice.lmer / mlmice.lm against statsmodels MixedLM and R lme4.

Part 1 fits each of the tutorial's five models on the complete popularity data
(2000 pupils, 100 classes; ML as the tutorial) and prints, for mlmice and
statsmodels (same run, same machine), the median time per fit over repeated
fits, their ratio, and the log-likelihoods. R lme4's figure comes from
``../shared/reference/r_timings.json`` (measured by r_timing.R there).

Part 2 prints the time per random-slope fit as the number of rows grows
(2k, 20k, 200k rows, 20 per cluster; simulated data).

Usage::

    python bench/bench_lmm.py [--repeats 30] [--sm-repeats 5] [--no-scaling]

Timings on a shared machine are inflated by other jobs; compare the ratios.
BLAS runs on one thread (``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` and
``MKL_NUM_THREADS`` default to 1 before NumPy is imported, as in
``bench_impute.py``); set them before running to measure otherwise. The
header prints them.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before NumPy is imported: single-core timings

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import mlmice  # noqa: E402
from mlmice.tutorial import MODELS, read_popular  # noqa: E402

SHARED = Path(os.environ.get("MLMICE_SHARED", Path(__file__).resolve().parents[1].parent
                             / "shared"))

# statsmodels' version of MODELS: fixed part, re_formula (None = random intercept;
# "" = no random part)
SM = {
    "null_single": ("popularity_ij ~ 1", ""),
    "intercept_only": ("popularity_ij ~ 1", None),
    "predictors": ("popularity_ij ~ gender_ij + extraversion_ij + experience_j", None),
    "random_slope": ("popularity_ij ~ gender_ij + extraversion_ij + experience_j",
                     "~extraversion_ij"),
    "interaction": ("popularity_ij ~ gender_ij + extraversion_ij + experience_j"
                    " + extraversion_ij:experience_j", "~extraversion_ij"),
}


def median_time(fn, repeats: int) -> tuple[float, object]:
    out = fn()  # warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def fit_mlmice(name, df):
    formula = MODELS[name]
    if "|" not in formula:
        return mlmice.lm(formula, df)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mlmice.lmer(formula, df, reml=False)


def fit_statsmodels(name, df):
    import statsmodels.formula.api as smf

    fixed, re = SM[name]
    if re == "":
        return smf.ols(fixed, df).fit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = smf.mixedlm(fixed, df, groups=df["cluster_id"], re_formula=re)
        return model.fit(reml=False)


def part1(repeats: int, sm_repeats: int) -> None:
    df = read_popular(SHARED / "data" / "popular.RData")
    r_timing = json.loads((SHARED / "reference" / "r_timings.json").read_text())["summary"]
    r_one = r_timing["lmer_interaction_model_one_fit"]
    r_five = r_timing["analyse_and_pool_5_models_m5"]
    print("Part 1: the tutorial's five models on the complete data (n = 2000, J = 100), ML")
    print(f"{'model':16s} {'mlmice ms':>10s} {'statsmodels ms':>15s} {'ratio':>7s} "
          f"{'loglik mlmice':>15s} {'loglik sm':>15s}")
    times = {}
    for name in MODELS:
        t_mm, fit = median_time(lambda n=name: fit_mlmice(n, df), repeats)
        t_sm, sm = median_time(lambda n=name: fit_statsmodels(n, df), sm_repeats)
        times[name] = t_mm
        print(f"{name:16s} {t_mm * 1e3:10.2f} {t_sm * 1e3:15.2f} {t_sm / t_mm:7.1f} "
              f"{fit.loglik:15.6f} {sm.llf:15.6f}")
    r_per_fit = r_five["cpu_s"] / 25
    mean_mm = float(np.mean(list(times.values())))
    print(f"R lme4 1.1-31 (r_timings.json): one interaction-model lmer fit "
          f"{r_one['cpu_s'] * 1e3:.0f} ms CPU ({r_one['elapsed_s'] * 1e3:.0f} ms elapsed) "
          f"-> ratio R / mlmice {r_one['cpu_s'] / times['interaction']:.1f}; "
          f"5 models x 5 imputations + pool {r_five['cpu_s']:.3f} s CPU "
          f"= {r_per_fit * 1e3:.0f} ms per fit -> ratio {r_per_fit / mean_mm:.1f} "
          f"(mlmice mean over the five models {mean_mm * 1e3:.1f} ms)")


def simulate(n_clusters: int, size: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_clusters), size)
    x = rng.normal(size=g.size)
    w = rng.normal(size=n_clusters)[g]
    b = rng.multivariate_normal([0, 0], [[0.6, -0.1], [-0.1, 0.05]], size=n_clusters)
    y = 5 + 0.5 * x + 0.2 * w + b[g, 0] + b[g, 1] * x + rng.normal(scale=0.8, size=g.size)
    return pd.DataFrame({"y": y, "x": x, "w": w, "g": g})


def part2() -> None:
    print("\nPart 2: time per random-slope fit y ~ x + w + (1 + x | g), 20 rows per cluster")
    print(f"{'rows':>8s} {'clusters':>9s} {'ms per fit':>11s} {'ms per 1k rows':>15s}")
    for n_clusters, reps in [(100, 20), (1000, 10), (10000, 3)]:
        df = simulate(n_clusters, 20)
        t, _ = median_time(lambda d=df: mlmice.lmer("y ~ x + w + (1 + x | g)", d, reml=False),
                           reps)
        n = len(df)
        print(f"{n:8d} {n_clusters:9d} {t * 1e3:11.2f} {t * 1e3 / (n / 1000):15.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--sm-repeats", type=int, default=5)
    ap.add_argument("--no-scaling", action="store_true")
    args = ap.parse_args()
    print(f"BLAS threads: OPENBLAS {os.environ['OPENBLAS_NUM_THREADS']}, "
          f"OMP {os.environ['OMP_NUM_THREADS']}, MKL {os.environ['MKL_NUM_THREADS']}; "
          f"load average {os.getloadavg()[0]:.2f}")
    part1(args.repeats, args.sm_repeats)
    if not args.no_scaling:
        part2()


if __name__ == "__main__":
    main()

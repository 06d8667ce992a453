"""Benchmark of mlmice.mice on the tutorial's specification, with R's timings beside it.

Three parts (numbers printed, never asserted):

1. The tutorial's job: ``popular_MAR`` (2000 pupils, 100 classes), methods
   2l.pmm for popularity, extraversion and assessment, 2l.bin for gender,
   2lonly.pmm for teacher experience, the passive interaction, the tutorial's
   predictor matrix with codes 3 and 4; m = 5, maxit = 20, one process.
   Also the ``pool_reference.R`` job (2l.pan / 2l.bin / 2lonly.mean, codes
   1/2). Each run's CPU and elapsed seconds, the median over runs and the
   ratio to R's CPU seconds for the same job
   (``../shared/reference/r_timings.json``, block ``summary``; R could not run
   the tutorial's own job because its 2lonly.pmm stops on class 1, so the
   closest R job, the same specification with 2lonly.mean, is the yardstick).
   Then the 4,000-row job of the speed issue, simulated (:func:`pan_job`), with the
   figure of the version before the speed work as its baseline.
2. Seconds per iteration as n grows (2k, 20k, 200k rows; simulated
   popularity data with the tutorial's missing fractions, MCAR), m = 1.
3. Elapsed seconds as m grows (2, 4, 8) with n_jobs = 2, n = 2000.

Usage::

    python bench/bench_impute.py [--reps 3] [--maxit 20] [--sizes 2000 20000 200000]
                                 [--ms 2 4 8] [--skip-scaling]

The machine is shared: CPU seconds are the fair comparison with R's CPU
seconds; elapsed seconds are inflated by other jobs (the load average is
printed). BLAS runs on one thread (``OPENBLAS_NUM_THREADS``,
``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS`` default to 1 before NumPy is
imported; one thread halved the CPU seconds measured on the 2-core machine).
Set them before running to measure otherwise; the header prints them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before NumPy is imported: single-core timings

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import mlmice as mm  # noqa: E402
from mlmice.impute.sampler import mice  # noqa: E402
from mlmice.tutorial import (  # noqa: E402
    read_popular,
    tutorial_method,
    tutorial_predictor_matrix,
    with_interaction,
)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MLMICE_SHARED", REPO.parent / "shared"))

def simulated(n_rows, seed=1):
    """Simulated popularity data with the tutorial's missing fractions (MCAR)."""
    n_clusters = max(n_rows // 20, 2)
    df = mm.simulate_popularity(n_clusters=n_clusters, cluster_size=20, seed=seed).data
    rng = np.random.default_rng(seed)
    n = len(df)
    for name, frac in (("popularity_ij", 0.107), ("gender_ij", 0.0015),
                       ("extraversion_ij", 0.251), ("assessment_ij", 0.0235)):
        df.loc[rng.random(n) < frac, name] = np.nan
    gone = rng.choice(np.arange(1, n_clusters + 1), size=max(n_clusters // 100, 1),
                      replace=False)
    df.loc[df.cluster_id.isin(gone), "experience_j"] = np.nan
    return with_interaction(df)


def pan_job(seed=1):
    """The 4,000-row job of the speed issue, simulated: 216 clusters of 14-23 pupils,
    seven incomplete variables (five continuous level-1 ones by 2l.pan, gender by 2l.bin,
    a level-2 one by 2lonly.norm), about 10-25 % missing each, at random given the
    others (MAR); returns (data, method, predictor matrix)."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(14, 24, size=216)          # 18.5 on average: about 4,000 rows
    base = mm.simulate_popularity(n_clusters=216, cluster_size=int(sizes.max()), seed=seed).data
    keep = base.groupby("cluster_id").cumcount() < sizes[base["cluster_id"].to_numpy() - 1]
    df = base[keep].drop(columns="unit_id").reset_index(drop=True)
    df.attrs = {}
    n = len(df)
    u = rng.normal(size=216)[df["cluster_id"].to_numpy() - 1]
    df["sociability_ij"] = 0.5 * df["extraversion_ij"] + 0.6 * u + rng.normal(size=n)
    df["grades_ij"] = 0.3 * df["popularity_ij"] + 0.4 * u + rng.normal(scale=1.5, size=n)
    score = (df["assessment_ij"] - df["assessment_ij"].mean()) / df["assessment_ij"].std()
    for name, frac in (("popularity_ij", 0.15), ("extraversion_ij", 0.2),
                       ("assessment_ij", 0.1), ("sociability_ij", 0.25),
                       ("grades_ij", 0.15), ("gender_ij", 0.05)):
        p = frac * 2 / (1 + np.exp(-score.to_numpy() * (name != "assessment_ij")))
        df.loc[rng.random(n) < p, name] = np.nan
    gone = rng.choice(np.arange(1, 217), size=20, replace=False)
    df.loc[df["cluster_id"].isin(gone), "experience_j"] = np.nan
    method = {name: "2l.pan" for name in ("popularity_ij", "extraversion_ij", "assessment_ij",
                                           "sociability_ij", "grades_ij")}
    method.update(gender_ij="2l.bin", experience_j="2lonly.norm")
    pred = mm.make_predictor_matrix(df, cluster="cluster_id")
    return df, method, pred


def timed(label, fn, reps):
    rows = []
    for k in range(reps):
        load = os.getloadavg()[0]
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        rows.append({"label": label, "rep": k + 1, "cpu_s": cpu, "elapsed_s": wall,
                     "load": load})
        print(f"  {label:<40} rep {k + 1}: cpu {cpu:8.2f} s  elapsed {wall:8.2f} s  "
              f"(load {load:.1f})", flush=True)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--maxit", type=int, default=20)
    ap.add_argument("--m", type=int, default=5)
    ap.add_argument("--sizes", type=int, nargs="*", default=[2000, 20000, 200000])
    ap.add_argument("--ms", type=int, nargs="*", default=[2, 4, 8])
    ap.add_argument("--scaling-maxit", type=int, default=2)
    ap.add_argument("--skip-scaling", action="store_true")
    args = ap.parse_args(argv)

    r_summary = json.loads((SHARED / "reference" / "r_timings.json").read_text())["summary"]
    df = with_interaction(read_popular(SHARED / "data" / "popular_MAR.RData"))
    jobs = {
        "tutorial (2l.pmm, 2l.bin, 2lonly.pmm, codes 3/4)": (
            tutorial_method(), tutorial_predictor_matrix(df),
            "tutorial_spec_2l.lmer_2l.bin_2lonly.mean"),
        "pan (2l.pan, 2l.bin, 2lonly.mean, codes 1/2)": (
            tutorial_method(level1="2l.pan", level2="2lonly.mean"),
            tutorial_predictor_matrix(df, codes34=False),
            "pan_spec_2l.pan_2l.bin_2lonly.mean"),
    }
    print(f"mlmice.mice on popular_MAR: m = {args.m}, maxit = {args.maxit}, n_jobs = 1, "
          f"{args.reps} runs each; machine shared ({os.cpu_count()} cores); BLAS threads: "
          f"OPENBLAS {os.environ['OPENBLAS_NUM_THREADS']}, OMP {os.environ['OMP_NUM_THREADS']}, "
          f"MKL {os.environ['MKL_NUM_THREADS']}")
    summary = {}
    for label, (meth, pred, r_key) in jobs.items():
        rows = timed(label, lambda meth=meth, pred=pred: mice(
            df, m=args.m, maxit=args.maxit, method=meth, predictor_matrix=pred, seed=123),
            args.reps)
        cpu = statistics.median(r["cpu_s"] for r in rows)
        wall = statistics.median(r["elapsed_s"] for r in rows)
        r_cpu = r_summary[r_key]["cpu_s"]
        r_wall = r_summary[r_key]["elapsed_s"]
        summary[label] = {"median_cpu_s": cpu, "median_elapsed_s": wall, "r_job": r_key,
                          "r_cpu_s": r_cpu, "r_elapsed_s": r_wall,
                          "ratio_cpu": cpu / r_cpu, "ratio_elapsed": wall / r_wall,
                          "runs": rows}

    df4, meth4, pred4 = pan_job()
    rows = timed("4,000-row job (simulated; m = 10, maxit = 15)",
                 lambda: mice(df4, m=10, maxit=15, method=meth4, predictor_matrix=pred4, seed=1),
                 args.reps)
    pan_cpu = statistics.median(r["cpu_s"] for r in rows)
    print(f"  4,000-row job: median {pan_cpu:.2f} cpu s over {len(rows)} runs; baseline "
          "d8f10cc (before the speed work) 7.6 cpu s: ratio "
          f"{pan_cpu / 7.6:.2f}; target <= 8 cpu s", flush=True)

    scaling_n, scaling_m = [], []
    if not args.skip_scaling:
        print(f"\nseconds per iteration as n grows (m = 1, maxit = {args.scaling_maxit}, "
              "tutorial specification)")
        for n in args.sizes:
            data = simulated(n)
            pred = tutorial_predictor_matrix(data)
            c0, t0 = time.process_time(), time.perf_counter()
            mice(data, m=1, maxit=args.scaling_maxit, method=tutorial_method(),
                 predictor_matrix=pred, seed=1)
            cpu, wall = time.process_time() - c0, time.perf_counter() - t0
            per = cpu / args.scaling_maxit
            scaling_n.append({"n": len(data), "cpu_s_per_iteration": per,
                              "elapsed_s": wall})
            print(f"  n = {len(data):>7}: {per:8.3f} cpu s / iteration "
                  f"({per / len(data) * 1e6:.2f} us per row)", flush=True)
        print(f"\nelapsed seconds as m grows (n = 2000, maxit = {args.scaling_maxit}, "
              "n_jobs = 2)")
        for m in args.ms:
            t0 = time.perf_counter()
            mice(df, m=m, maxit=args.scaling_maxit, method=tutorial_method(),
                 predictor_matrix=tutorial_predictor_matrix(df), seed=1, n_jobs=2)
            wall = time.perf_counter() - t0
            scaling_m.append({"m": m, "elapsed_s": wall, "per_chain_s": wall / m})
            print(f"  m = {m:>3}: {wall:8.2f} s elapsed ({wall / m:.2f} s per chain)", flush=True)

    print("\n=== summary ===")
    for label, s in summary.items():
        print(f"{label}\n  ours: median {s['median_cpu_s']:.2f} cpu s, "
              f"{s['median_elapsed_s']:.2f} elapsed s over {len(s['runs'])} runs"
              f"\n  R ({s['r_job']}): {s['r_cpu_s']:.1f} cpu s, {s['r_elapsed_s']:.1f} "
              f"elapsed s\n  ratio ours/R: cpu {s['ratio_cpu']:.4f} (1/{1 / s['ratio_cpu']:.0f}),"
              f" elapsed {s['ratio_elapsed']:.4f}; target < 1/30 = 0.0333")
    if scaling_n:
        print("per-iteration cpu s by n: " + ", ".join(
            f"{r['n']}: {r['cpu_s_per_iteration']:.3f}" for r in scaling_n))
    if scaling_m:
        print("elapsed s by m (n_jobs = 2): " + ", ".join(
            f"{r['m']}: {r['elapsed_s']:.2f}" for r in scaling_m))
    print(json.dumps({"summary": {k: {kk: vv for kk, vv in v.items() if kk != "runs"}
                                  for k, v in summary.items()},
                      "scaling_n": scaling_n, "scaling_m": scaling_m}, indent=1))
    return 0


if __name__ == "__main__":
    pd.set_option("display.width", 120)
    sys.exit(main())

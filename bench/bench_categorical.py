"""Cost per iteration of the categorical methods, next to 2l.bin's.

Data: :func:`mlmice.simulate_tracks` (100 schools of 15 pupils). One variable is
incomplete at a time (30 % of the pupils, or 25 % of the schools for the 2lonly
methods), so the chained-equations loop is that method alone: ``track`` (4 ordered
categories) for polr, polyreg, 2l.polr and 2l.polyreg, ``school`` (3 categories, one
per school) for 2lonly.polr and 2lonly.polyreg, and for 2l.bin a binary pupil variable
(``track`` above "middle"), the baseline. Predictors ``x`` and ``y`` (codes 1; the
cluster -2 for the 2l methods). Each run is one chain of ``--iterations`` iterations
(the first call of a chain starts the Gibbs samplers, the others continue them), timed
in CPU seconds; the table prints the runs, the median per iteration and the ratio to
2l.bin's median.

    python bench/bench_categorical.py [--runs 5] [--iterations 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import pandas as pd

import mlmice as mm

METHODS = ("2l.bin", "polr", "polyreg", "2l.polr", "2l.polyreg", "2lonly.polr",
           "2lonly.polyreg")


def problem(method: str, seed: int = 1) -> tuple[pd.DataFrame, str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    df = mm.simulate_tracks(100, 15, seed=seed)
    if method.startswith("2lonly"):
        target = "school"
        gone = rng.choice(df["cluster_id"].unique(), 25, replace=False)
        df.loc[df["cluster_id"].isin(gone), target] = np.nan
        df = df.drop(columns="track")
    else:
        target = "track"
        if method == "2l.bin":
            df["track"] = (df["track"].cat.codes >= 2).astype(float)
        df.loc[rng.random(len(df)) < 0.3, target] = np.nan
        df = df.drop(columns="school")
    pred = pd.DataFrame(0, index=df.columns, columns=df.columns)
    pred.loc[target, ["x", "y"]] = 1
    if method.startswith("2l"):
        pred.loc[target, "cluster_id"] = -2
    return df, target, pred


def time_method(method: str, *, runs: int, iterations: int) -> list[float]:
    df, target, pred = problem(method)
    out = []
    for r in range(runs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.process_time()
            mm.mice(df, m=1, maxit=iterations, seed=r, method={target: method},
                    predictor_matrix=pred)
            out.append((time.process_time() - t0) / iterations)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--iterations", type=int, default=20)
    args = ap.parse_args(argv)
    print(f"CPU ms per iteration, one chain of {args.iterations} iterations, {args.runs} runs "
          "(1,500 pupils in 100 schools)")
    print(f"{'method':<16}{'runs (ms)':<40}{'median':>8}{'/ 2l.bin':>10}")
    for method in METHODS:                 # warm-up: imports and first-use costs, not timed
        time_method(method, runs=1, iterations=1)
    base = None
    for method in METHODS:
        runs = time_method(method, runs=args.runs, iterations=args.iterations)
        med = statistics.median(runs)
        base = med if base is None else base
        shown = " ".join(f"{1000 * t:.1f}" for t in runs)
        print(f"{method:<16}{shown:<40}{1000 * med:8.1f}{med / base:10.2f}", flush=True)
    return 0


if __name__ == "__main__":
    main()

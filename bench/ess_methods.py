"""Mixing per CPU second of each two-level method, at our defaults and at R's settings.

A speed ratio against R means something only at equal statistical quality. For each
method this bench imputes one incomplete variable of simulated two-level data (100
classes of 20, 25 % of the target missing at random given a complete level-1 and a
complete level-2 predictor, a random slope where the method takes one), so that the
chained-equations loop is that method alone, and runs ``--chains`` chains of
``--iterations`` iterations. It prints, per method and setting, the bulk effective
sample size (:func:`mlmice.diagnostics.ess_bulk`, first ``--burn`` iterations dropped)
of the chain means of the imputed values, the CPU seconds and the ESS per CPU second:

* ours: the defaults (2l.pan and 2l.bin continue their Gibbs chain 3 sweeps per call
  after a first call of 20; 2l.pmm and 2l.lmer refit warm; 2l.norm 50 iterations);
* R's settings: as many sweeps per call as mice runs (pan's ``paniter = 500`` for
  2l.pan, 100 iterations for 2l.norm; for 2l.bin, whose R version fits glmer rather
  than sampling, our old 20 sweeps per call).

    python bench/ess_methods.py [--chains 10] [--iterations 60] [--burn 10]

The machine is shared: CPU seconds are the figure; the ratio column is
(ESS/CPU s ours) / (ESS/CPU s at R's settings).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import mlmice as mm
from mlmice.diagnostics import ess_bulk

SETTINGS = {
    "2l.pan": ({}, {"n_iter": 500, "n_warm": 500}),
    "2l.norm": ({}, {"n_iter": 100}),
    "2l.bin": ({}, {"n_iter": 20, "n_warm": 20}),
    "2l.pmm": ({}, None),
    "2l.lmer": ({}, None),
}


def data(binary: bool, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    J, size = 100, 20
    g = np.repeat(np.arange(J), size)
    w = rng.normal(size=J)[g]
    x = rng.normal(size=g.size) + 0.3 * w
    u0, u1 = rng.normal(scale=0.6, size=J)[g], rng.normal(scale=0.25, size=J)[g]
    eta = 0.5 * x + 0.4 * w + u0 + u1 * x
    y = (rng.random(g.size) < 1 / (1 + np.exp(-eta))).astype(float) if binary else (
        eta + rng.normal(scale=0.8, size=g.size))
    df = pd.DataFrame({"g": g, "x": x, "w": w, "y": y})
    p = 0.25 * 2 / (1 + np.exp(-(x - x.mean())))
    df.loc[rng.random(g.size) < p, "y"] = np.nan
    return df


def predictors(df: pd.DataFrame) -> pd.DataFrame:
    pred = pd.DataFrame(0, index=df.columns, columns=df.columns)
    pred.loc["y", ["x", "w"]] = [2, 1]          # x with a random slope
    pred.loc["y", "g"] = -2
    return pred


def measure(method: str, options: dict, args) -> tuple[float, float]:
    df = data(binary=method == "2l.bin")
    c0 = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        imp = mm.mice(df, m=args.chains, maxit=args.iterations, method={"y": method},
                      predictor_matrix=predictors(df), method_options={"y": options},
                      seed=3)
    cpu = time.process_time() - c0
    tr = imp.trace
    tr = tr[(tr["variable"] == "y") & (tr["iteration"] > args.burn)]
    draws = tr.pivot(index="iteration", columns="chain", values="mean").to_numpy()
    return ess_bulk(draws), cpu


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chains", type=int, default=10)
    ap.add_argument("--iterations", type=int, default=60)
    ap.add_argument("--burn", type=int, default=10)
    args = ap.parse_args(argv)
    print(f"one incomplete variable, {args.chains} chains x {args.iterations} iterations "
          f"(first {args.burn} dropped); ESS of the chain means of the imputed values")
    print(f"{'method':<9}{'setting':<28}{'ESS':>8}{'CPU s':>8}{'ESS/CPU s':>11}{'ratio':>8}")
    for method, (ours, r_like) in SETTINGS.items():
        ess, cpu = measure(method, ours, args)
        rate = ess / cpu
        print(f"{method:<9}{'ours (defaults)':<28}{ess:8.0f}{cpu:8.2f}{rate:11.1f}", flush=True)
        if r_like is not None:
            ess_r, cpu_r = measure(method, r_like, args)
            label = "R's sweeps: " + ", ".join(f"{k}={v}" for k, v in r_like.items())
            print(f"{'':<9}{label:<28}{ess_r:8.0f}{cpu_r:8.2f}{ess_r / cpu_r:11.1f}"
                  f"{rate / (ess_r / cpu_r):8.1f}", flush=True)
    return 0


if __name__ == "__main__":
    main()

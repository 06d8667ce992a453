"""2l.smc against R's jomo.lmer at equal mixing: effective draws per CPU second.

jomo.lmer (compiled) and mlmice's 2l.smc sample the same kind of joint model, in which
the analysis model is the outcome's conditional. Their cost per imputation means
something only together with how fast each chain forgets its past, so this bench
compares the effective sample size (ESS) per CPU second of the same statistic: per
sweep (jomo) or iteration (mlmice), the mean of the imputed values of each incomplete
variable.

Data: the first 5 data sets of ``tests/r/oracle_two_level.csv.gz`` (80 clusters,
about 1,450 rows; y and x missing, about 20 % each; the substantive model
``y ~ x + w + (1 + x | g)``).

* jomo: ``tests/r/jomo_mixing.json`` (``tests/r/jomo_mixing.R``): one chain of 500
  consecutive sweeps after its 1,000 burn-in sweeps, and the CPU seconds of one sweep
  (2,000 extra sweeps timed);
* mlmice: ``--chains`` chains of ``--iterations`` iterations with the defaults (the
  first ``--burn`` iterations dropped), timed in this process.

ESS is :func:`mlmice.diagnostics.ess_bulk` for both (one chain for jomo). The table
prints per data set and variable the ESS, the CPU seconds and ESS per CPU second of
each, and the ratio ours / jomo. It also prints the cost of m = 20 imputations as each
is run by default (jomo: nburn 1000, nbetween 200; mlmice: 20 chains of 20
iterations) and the largest R-hat of mlmice's chain means at iteration 20.

    python bench/smc_vs_jomo.py [--chains 4] [--iterations 120] [--burn 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import mlmice as mm
from mlmice.diagnostics import ess_bulk, rhat

R_DIR = Path(__file__).resolve().parents[1] / "tests" / "r"
FORMULA = "y ~ x + w + (1 + x | g)"


def frame(data: pd.DataFrame, rep: int) -> pd.DataFrame:
    d = data[data["rep"] == rep]
    return pd.DataFrame({"g": d["g"], "x": d["x_smc"], "w": d["w"],
                         "y": d["y_smc"]}).reset_index(drop=True)


def impute(df: pd.DataFrame, *, chains: int, iterations: int, seed: int):
    """2l.smc for y and x with the substantive model, as tests/test_oracle_two_level.py."""
    pred = pd.DataFrame(0, index=df.columns, columns=df.columns)
    pred.loc["y", ["g", "x", "w"]] = [-2, 1, 1]
    pred.loc["x", ["g", "y", "w"]] = [-2, 1, 1]
    method = {"y": "2l.smc", "x": "2l.smc"}
    c0 = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        imp = mm.mice(df, m=chains, maxit=iterations, method=method, predictor_matrix=pred,
                      method_options={v: {"model": FORMULA} for v in method}, seed=seed)
    return imp, time.process_time() - c0


def chain_means(imp, variable: str, burn: int) -> np.ndarray:
    tr = imp.trace
    tr = tr[(tr["variable"] == variable) & (tr["iteration"] > burn)]
    return tr.pivot(index="iteration", columns="chain", values="mean").to_numpy()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--iterations", type=int, default=120)
    ap.add_argument("--burn", type=int, default=20)
    ap.add_argument("--datasets", type=int, default=5)
    args = ap.parse_args(argv)
    ref = json.loads((R_DIR / "jomo_mixing.json").read_text())
    data = pd.read_csv(R_DIR / "oracle_two_level.csv.gz")
    print(f"2l.smc: {args.chains} chains x {args.iterations} iterations (first {args.burn} "
          f"dropped); jomo {ref['versions']['jomo']}: one chain of {ref['n_keep']} sweeps "
          f"after {ref['nburn']}")
    print(f"{'data':>4} {'var':>3} {'ESS ours':>9} {'CPU s':>7} {'ESS/s':>7}   "
          f"{'ESS jomo':>9} {'CPU s':>7} {'ESS/s':>7}   {'ratio':>6}")
    ratios, m20 = [], []
    for entry in ref["datasets"][:args.datasets]:
        df = frame(data, entry["rep"])
        imp, cpu = impute(df, chains=args.chains, iterations=args.iterations,
                          seed=entry["rep"])
        cpu_jomo = entry["cpu_per_sweep"] * ref["n_keep"]
        for variable in ("x", "y"):
            ess = ess_bulk(chain_means(imp, variable, args.burn))
            ess_jomo = ess_bulk(np.asarray(entry[f"chain_{variable}"], float)[:, None])
            ratio = (ess / cpu) / (ess_jomo / cpu_jomo)
            ratios.append(ratio)
            print(f"{entry['rep']:>4} {variable:>3} {ess:9.0f} {cpu:7.2f} {ess / cpu:7.0f}   "
                  f"{ess_jomo:9.0f} {cpu_jomo:7.2f} {ess_jomo / cpu_jomo:7.0f}   {ratio:6.2f}",
                  flush=True)
        imp20, cpu20 = impute(df, chains=20, iterations=20, seed=100 + entry["rep"])
        worst = float(rhat(imp20.trace)["rhat"].max())
        m20.append((cpu20, entry["cpu_default_m20"], worst))
    print(f"\nESS per CPU second, ours / jomo: median {statistics.median(ratios):.2f} "
          f"(range {min(ratios):.2f}-{max(ratios):.2f}) over {len(ratios)} "
          "data sets x variables")
    ours20, jomo20, worst = (np.array(v) for v in zip(*m20, strict=True))
    print(f"m = 20 at each one's defaults, CPU s (median over data sets): mlmice "
          f"{np.median(ours20):.1f} (20 chains x 20 iterations; largest R-hat "
          f"{worst.max():.3f}), jomo {np.median(jomo20):.1f} (nburn 1000, nbetween 200): "
          f"ratio {np.median(ours20) / np.median(jomo20):.2f}")
    return 0


if __name__ == "__main__":
    main()

"""Speed at equal statistical quality: the tutorial job, timed and checked for mixing and bias.

A faster sampler that mixes worse is not faster. For one version of mlmice this bench
records, on the tutorial's job (``popular_MAR``: 2l.pmm x3, 2l.bin, 2lonly.pmm, the
passive interaction, codes 3/4), with no environment variable set:

1. **CPU seconds** of the job as the README runs it (m = 5, maxit = 20), ``--runs`` runs;
2. **mixing**: the bulk effective sample size (:func:`mlmice.diagnostics.ess_bulk`) of
   each variable's chain means over ``--chains`` chains of ``--iterations`` iterations
   (the first ``--burn`` dropped), and the ESS per CPU second;
3. **the analysis**: the pooled estimates (fixed effects, variance components, ML) of
   the five tutorial models over ``--replicates`` independent imputations (m = 5,
   maxit = 20, seeds 1..R), their mean and Monte Carlo SE.

Two versions are compared from their JSON files::

    git worktree add /tmp/baseline d8f10cc        # the version before the speed work
    PYTHONPATH=/tmp/baseline/src python bench/speed_quality.py --out /tmp/base.json
    python bench/speed_quality.py --out /tmp/new.json
    python bench/speed_quality.py --compare /tmp/base.json /tmp/new.json

The comparison prints, per variable, both ESS with their ratio, and per pooled
estimate the difference of the means in units of its Monte Carlo SE (|z| < 2: equal
within MC error); then the median CPU seconds and their ratio new/baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MLMICE_SHARED", REPO.parent / "shared"))


def record(args) -> dict:
    import mlmice as mm
    from mlmice.tutorial import (
        MODELS,
        read_popular,
        tutorial_method,
        tutorial_predictor_matrix,
        with_interaction,
    )

    df = with_interaction(read_popular(SHARED / "data" / "popular_MAR.RData"))
    meth, pred = tutorial_method(), tutorial_predictor_matrix(df)
    out: dict = {"version": mm.__version__, "cpu_s": []}
    for r in range(args.runs):
        c0 = time.process_time()
        mm.mice(df, m=5, maxit=20, method=meth, predictor_matrix=pred, seed=100 + r)
        out["cpu_s"].append(time.process_time() - c0)
        print(f"run {r + 1}: {out['cpu_s'][-1]:.2f} cpu s", flush=True)
    c0 = time.process_time()
    imp = mm.mice(df, m=args.chains, maxit=args.iterations, method=meth, predictor_matrix=pred,
                  seed=7)
    long_cpu = time.process_time() - c0
    trace = imp.trace
    # the chain means after the burn-in; their ESS is computed at --compare, by one
    # estimator for both versions
    out["draws"] = {str(name): sub.pivot(index="iteration", columns="chain", values="mean")
                    .to_numpy().tolist()
                    for name, sub in trace[trace["iteration"] > args.burn].groupby("variable")}
    out["ess_cpu_s"] = long_cpu * (args.iterations - args.burn) / args.iterations
    estimates: dict[str, list[float]] = {}
    for r in range(args.first_seed, args.first_seed + args.replicates):
        imp = mm.mice(df, m=5, maxit=20, method=meth, predictor_matrix=pred, seed=r)
        for label, formula in MODELS.items():
            if "|" not in formula:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pooled = mm.test_estimates(imp.fit(formula, reml=False), extra_pars=True)
            for term, value in _pooled_values(pooled).items():
                estimates.setdefault(f"{label}: {term}", []).append(value)
        print(f"replicate with seed {r}", flush=True)
    out["estimates"] = estimates
    return out


def _pooled_values(pooled) -> dict[str, float]:
    """Fixed effects and variance components of a ``test_estimates`` result."""
    values = {}
    for term, row in pooled.estimates.iterrows():
        values[str(term)] = float(row["Estimate"])
    extra = getattr(pooled, "extra_pars", None)
    if extra is not None:
        for term, row in extra.iterrows():
            values[str(term)] = float(row["Estimate"])
    return values


def compare(base: dict, new: dict) -> None:
    from mlmice.diagnostics import ess_bulk

    for rec in (base, new):
        rec["ess"] = {name: ess_bulk(np.array(d)) for name, d in rec["draws"].items()}
    b_cpu, n_cpu = statistics.median(base["cpu_s"]), statistics.median(new["cpu_s"])
    print(f"tutorial job, m = 5, maxit = 20, as a user calls it: baseline {base['version']} "
          f"median {b_cpu:.2f} cpu s over {len(base['cpu_s'])} runs, new {new['version']} "
          f"median {n_cpu:.2f} cpu s over {len(new['cpu_s'])} runs: ratio new/baseline "
          f"{n_cpu / b_cpu:.2f}")
    print("\nmixing: bulk ESS of each variable's chain means")
    print(f"{'variable':<26}{'ESS base':>10}{'ESS new':>10}{'ratio':>8}"
          f"{'ESS/cpu s base':>16}{'ESS/cpu s new':>15}")
    for name in sorted(set(base["ess"]) & set(new["ess"])):
        b, n = base["ess"][name], new["ess"][name]
        print(f"{name:<26}{b:10.0f}{n:10.0f}{n / b:8.2f}{b / base['ess_cpu_s']:16.1f}"
              f"{n / new['ess_cpu_s']:15.1f}")
    print("\nthe analysis: pooled estimates, mean over replicates (MC SE), and z of the "
          "difference")
    worst = 0.0
    for key in sorted(set(base["estimates"]) & set(new["estimates"])):
        b, n = np.array(base["estimates"][key]), np.array(new["estimates"][key])
        se = np.sqrt(b.var(ddof=1) / b.size + n.var(ddof=1) / n.size)
        z = (n.mean() - b.mean()) / se if se > 0 else 0.0
        worst = max(worst, abs(z))
        print(f"{key:<70}{b.mean():11.4g} ({b.std(ddof=1) / np.sqrt(b.size):.2g})"
              f"{n.mean():11.4g} ({n.std(ddof=1) / np.sqrt(n.size):.2g}){z:7.2f}")
    print(f"largest |z| {worst:.2f} over {len(base['estimates'])} estimates")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="record this version into a JSON file")
    ap.add_argument("--compare", nargs=2, metavar=("BASELINE", "NEW"))
    ap.add_argument("--merge", nargs="*", help="JSON files whose replicates to add")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--chains", type=int, default=20)
    ap.add_argument("--iterations", type=int, default=60)
    ap.add_argument("--burn", type=int, default=10)
    ap.add_argument("--replicates", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=1,
                    help="seeds of the replicates: first-seed, first-seed + 1, ...")
    args = ap.parse_args(argv)
    if args.compare:
        compare(*(json.loads(Path(p).read_text()) for p in args.compare))
        return 0
    if not args.out:
        ap.error("give --out FILE or --compare BASELINE NEW")
    out = record(args)
    if args.merge:       # add the replicates of earlier runs of the same version
        for path in args.merge:
            for key, values in json.loads(Path(path).read_text())["estimates"].items():
                out["estimates"].setdefault(key, []).extend(values)
    Path(args.out).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

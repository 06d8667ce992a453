"""Throughput of a simulation study: replicates per CPU minute for each arm (tutorial design).

The tutorial design of ``bench/validity.yaml`` (100 classes of 20, MAR
amputation of popularity and extraversion, the interaction model; m = 5,
maxit = 10). For each arm alone, ``--reps`` replicates run in this process
through :func:`mlmice.simulation.run_replicate` exactly as a batch job runs
them (the reference arms ``complete`` and ``cca`` are fitted in every
replicate and included in each arm's time). Printed per arm: the runs' CPU
seconds per replicate, their median, replicates per CPU minute, and the ratio
of its median to the baseline arm ``2l.pmm`` (the tutorial's method).
Also the start-up a batch amortises: the CPU seconds of a fresh Python that
imports mlmice.simulation and builds the study, which a replicate would pay
as a job of its own. Numbers are printed, never asserted.

Usage::

    python bench/bench_simulation.py [--reps 3] [--design tutorial]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before NumPy is imported

import yaml  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from validity import HERE, study_config  # noqa: E402

from mlmice.simulation import Study, run_replicate  # noqa: E402

BASELINE = "2l.pmm"


def startup_seconds() -> float:
    """CPU seconds of a fresh interpreter that imports the engine and builds a study."""
    code = ("import resource, yaml, sys; sys.path.insert(0, 'bench');"
            "from validity import HERE, study_config;"
            "from mlmice.simulation import Study;"
            "spec = yaml.safe_load((HERE / 'validity.yaml').read_text());"
            "Study.from_config(study_config('tutorial', spec));"
            "r = resource.getrusage(resource.RUSAGE_SELF); print(r.ru_utime + r.ru_stime)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=HERE.parent)
    return float(out.stdout.strip())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--design", default="tutorial")
    args = parser.parse_args(argv)
    spec = yaml.safe_load((HERE / "validity.yaml").read_text())
    study = Study.from_config(study_config(args.design, spec))
    print(f"design {args.design}: m = {spec['m']}, maxit = {spec['maxit']}, "
          f"{args.reps} replicates per arm, one process, BLAS threads "
          f"{os.environ.get('OPENBLAS_NUM_THREADS')}; load average {os.getloadavg()[0]:.2f}")
    results = {}
    for arm in study.arms:
        one = Study(generator=study.generator, amputation=study.amputation, arms=(arm,),
                    models=study.models, seed=study.seed)
        runs = []
        for r in range(args.reps):
            t0 = time.process_time()
            _, failures = run_replicate(one, r)
            runs.append(time.process_time() - t0)
            if len(failures):
                print(f"  {arm.name} replicate {r}: {failures['error'].iloc[0]}")
        results[arm.name] = runs
    base = statistics.median(results[BASELINE])
    print(f"\n{'arm':10s} {'CPU s per replicate (runs)':32s} {'median':>7s} "
          f"{'repl./CPU min':>14s} {'ratio to ' + BASELINE:>16s}")
    for name, runs in results.items():
        med = statistics.median(runs)
        print(f"{name:10s} {', '.join(f'{r:.2f}' for r in runs):32s} {med:7.2f} "
              f"{60.0 / med:14.1f} {med / base:16.2f}")
    starts = [startup_seconds() for _ in range(3)]
    print(f"\nstart-up of a fresh job (import + study), CPU s: "
          f"{', '.join(f'{s:.2f}' for s in starts)}; median {statistics.median(starts):.2f} "
          f"= {statistics.median(starts) / base:.2f} of a {BASELINE} replicate, paid once "
          "per batch")


if __name__ == "__main__":
    main()

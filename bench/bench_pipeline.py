"""Time the default study end to end through Snakemake and print it beside R.

Runs ``snakemake --cores N`` (default 2) on the repository's Snakefile and
config.yaml in a fresh temporary directory (or ``--workdir``), so every job
runs: simulate, ampute, inspect, validate the imputation model, m chains of
maxit iterations, the five analysis models on truth, CCA and every imputed
data set, pooling, tests, comparison and the report. Prints the wall-clock
time and the CPU seconds of all jobs (children of this process, Snakemake's
own overhead included), and the ratio to R's CPU seconds for the same work
(impute + fit + pool of the tutorial, m = 5, maxit = 20) from
``../shared/reference/r_timings.json``.

    python bench/bench_pipeline.py [--cores 2] [--workdir DIR]

On a shared machine the numbers are inflated by other jobs: compare CPU
seconds, and repeat.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
R_TIMINGS = REPO.parent / "shared" / "reference" / "r_timings.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="run here (default: a new temporary directory)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mlmice-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text((REPO / "config.yaml").read_text())
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(workdir), "--cores", str(args.cores), "--quiet", "rules"]
    start = time.perf_counter()
    run = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime
    if run.returncode != 0:
        sys.exit(f"snakemake failed:\n{run.stderr[-3000:]}")
    print(f"mlmice pipeline, default config, --cores {args.cores} ({workdir})")
    print(f"  wall clock: {wall:8.1f} s")
    print(f"  CPU (all jobs + Snakemake): {cpu:8.1f} s")
    impute_logs = sorted((workdir / "logs" / "impute").rglob("*.log"))
    print(f"  chains: {len(impute_logs)}")
    if R_TIMINGS.exists():
        summary = json.loads(R_TIMINGS.read_text())["summary"]
        r_cpu = float(summary["end_to_end_tutorial_impute_analyse_pool"]["cpu_s"])
        print(f"R (mice + lme4 + mitml, impute + fit + pool, m = 5, maxit = 20): "
              f"{r_cpu:.1f} CPU s")
        print(f"  ratio mlmice CPU / R CPU:  {cpu / r_cpu:.3f}")
        print(f"  ratio mlmice wall / R CPU: {wall / r_cpu:.3f}   (target < 0.1)")
    else:
        print(f"(no {R_TIMINGS}: R's figure not available)")


if __name__ == "__main__":
    main()

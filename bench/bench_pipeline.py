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

    python bench/bench_pipeline.py [--cores 2] [--runs 3] [--workdir DIR]

It prints every run, the medians, the ratio of the median to R's CPU seconds, and
each rule's share of the job time of the last run (its ``benchmark:`` files: the
wall seconds of its jobs, Python's start-up included).

On a shared machine the numbers are inflated by other jobs: compare CPU
seconds, and repeat.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
R_TIMINGS = REPO.parent / "shared" / "reference" / "r_timings.json"
#: The wall clock before the job-count work (commit 0473c51, one analyze, pool and
#: test_models job per model, papermill saving after every cell), median of 2 runs on
#: a 2-core machine: the baseline the ratio below names.
BASELINE_WALL = 28.4


def rule_shares(workdir: Path) -> list[tuple[str, int, float, float]]:
    """Per rule from Snakemake's ``benchmark:`` files: (rule, jobs, wall s, CPU s)."""
    import csv

    out: dict[str, list[float]] = {}
    for path in sorted((workdir / "benchmarks").rglob("*.tsv")):
        rule = path.relative_to(workdir / "benchmarks").parts[0]
        with path.open() as fh:
            row = next(csv.DictReader(fh, delimiter="\t"))
        acc = out.setdefault(rule, [0, 0.0, 0.0])
        acc[0] += 1
        acc[1] += float(row["s"])
        acc[2] += float(row.get("cpu_time") or 0.0)
    return sorted(((r, int(v[0]), v[1], v[2]) for r, v in out.items()), key=lambda t: -t[2])


def run_once(cores: int, workdir: Path) -> tuple[float, float, Path]:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text((REPO / "config.yaml").read_text())
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(workdir), "--cores", str(cores), "--quiet", "rules"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if run.returncode != 0:
        sys.exit(f"snakemake failed:\n{run.stderr[-3000:]}")
    return wall, cpu, workdir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="run here (default: a new temporary directory)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for r in range(args.runs):
        base = args.workdir or Path(tempfile.mkdtemp(prefix="mlmice-bench-"))
        wall, cpu, workdir = run_once(args.cores, base / f"run{r + 1}")
        runs.append((wall, cpu))
        print(f"run {r + 1}: wall {wall:6.1f} s, CPU {cpu:6.1f} s ({workdir})", flush=True)
    wall = statistics.median(w for w, _ in runs)
    cpu = statistics.median(c for _, c in runs)
    print(f"mlmice pipeline, default config, --cores {args.cores}, {len(runs)} runs from "
          "scratch (every job runs, the report included)")
    print(f"  median wall clock: {wall:8.1f} s   (target <= 20 s; baseline {BASELINE_WALL} s "
          f"at 0473c51: ratio {wall / BASELINE_WALL:.2f})")
    print(f"  median CPU (all jobs + Snakemake): {cpu:8.1f} s")
    shares = rule_shares(workdir)
    total = sum(t[2] for t in shares)
    print(f"\n  per rule, last run (Snakemake's benchmark files; job wall seconds, start-up "
          f"included; {total:.1f} s over all jobs):")
    print(f"  {'rule':<22}{'jobs':>5}{'wall s':>9}{'share':>8}{'CPU s':>8}")
    for rule, n, w, c in shares:
        print(f"  {rule:<22}{n:5d}{w:9.2f}{100 * w / total:7.1f}%{c:8.2f}")
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

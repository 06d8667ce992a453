"""The validity study of docs/validity.md: bias and coverage of every 2l method, per parameter.

Four designs (``bench/validity.yaml``): (a) the tutorial's interaction
model, (b) a random-slope variance small in standardised units with
unequal clusters, (c) 200 clusters of 5 with an ICC of 0.1, (d) design (a)
with a slope variance 5 times as large (cluster slopes reliable enough that
the report raises no flag). Arms: 2l.pan,
2l.norm, 2l.lmer, 2l.pmm (FCS; the passive product in design (a)), 2l.smc
(the analysis model as substantive model, assessment as auxiliary), and
the reference arms ``complete`` and ``cca``. Every replicate runs through
:mod:`mlmice.simulation` exactly as the pipeline's ``simulation`` block does.

Batches of replicates are written to ``<out>/<design>/batch_<k>.parquet``
as they finish, so an interrupted run resumes where it stopped and raising
``--replicates`` runs only the new ones. ``--summarise`` writes
``summary.parquet``, the figure and the tables of ``docs/validity.md``.

Usage::

    python bench/validity.py [--replicates 200] [--batch 10] [--jobs 2]
        [--designs tutorial small_slope small_clusters larger_slope]
        [--out results/validity]
    python bench/validity.py --summarise [--out results/validity]
        (also compares with <out>_log when that run exists)

``--arms`` runs some imputation arms only, ``--maxit`` changes the
iterations per chain and ``--m`` the number of imputations (with another
``--out``: a sensitivity run, paired by replicate with the default one).
``--varcomp-scale log`` pools the variance components on the log scale
(:mod:`mlmice.pooling.varcomp`); with the same seeds the imputations are
those of the default run, so ``--out results/validity_log`` next to
``results/validity`` gives paired differences of the two poolings.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before NumPy is imported

import yaml  # noqa: E402

from mlmice.simulation import Study, run_batch  # noqa: E402

HERE = Path(__file__).resolve().parent
PASSIVE = "extraversion_experience"


def study_config(name: str, spec: dict, *, varcomp_scale: str = "raw",
                 only: list[str] | None = None, maxit: int | None = None,
                 m: int | None = None) -> dict:
    """The ``simulation`` block of one design, arms built from the shared spec."""
    d = spec["designs"][name]
    slope = "extraversion_ij |" in d["smc_model"]
    pm = {t: dict(row) for t, row in spec["fcs_predictor_matrix"].items()}
    if not slope:
        pm["popularity_ij"]["extraversion_ij"] = 3
    arms = {}
    for method in (only or spec["arms"]):
        meth = {"popularity_ij": method, "extraversion_ij": method}
        pred = {t: dict(row) for t, row in pm.items()}
        options = {}
        if method == "2l.smc":
            options = {v: {"model": d["smc_model"], "auxiliary": ["assessment_ij"]}
                       for v in meth}
        elif d.get("passive"):
            meth[PASSIVE] = d["passive"]
            pred["popularity_ij"][PASSIVE] = 1
        arms[method] = {"method": meth, "predictor_matrix": pred, "method_options": options,
                        "m": m or spec["m"], "maxit": maxit or spec["maxit"]}
    return {"seed": d["seed"], "generator": d["generator"], "amputation": d["amputation"],
            "arms": arms, "models": d["models"], "varcomp_scale": varcomp_scale}


def _run(args):
    name, cfg, reps, path = args
    t0 = time.process_time()
    est, fail = run_batch(Study.from_config(cfg), reps)
    est.assign(design=name).to_parquet(path, index=False)
    fail.assign(design=name).to_parquet(path.with_name(path.stem + "_failures.parquet"),
                                        index=False)
    return name, reps[0], reps[-1], time.process_time() - t0, len(fail)


def run(args) -> None:
    from multiprocessing import Pool
    spec = yaml.safe_load((HERE / "validity.yaml").read_text())
    jobs = []
    for name in args.designs:
        cfg = study_config(name, spec, varcomp_scale=args.varcomp_scale, only=args.arms,
                           maxit=args.maxit, m=args.m)
        folder = args.out / name
        folder.mkdir(parents=True, exist_ok=True)
        for start in range(0, args.replicates, args.batch):
            reps = list(range(start, min(start + args.batch, args.replicates)))
            path = folder / f"batch_{start // args.batch:04d}.parquet"
            if not path.exists():
                jobs.append((name, cfg, reps, path))
    # interleave designs so that every design progresses
    jobs.sort(key=lambda j: (j[2][0], j[0]))
    print(f"{len(jobs)} batches to run on {args.jobs} processes", flush=True)
    with Pool(args.jobs) as pool:
        for name, r0, r1, cpu, n_fail in pool.imap_unordered(_run, jobs):
            print(f"{name}: replicates {r0}-{r1} in {cpu:.0f} CPU s ({n_fail} failures)",
                  flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--designs", nargs="+",
                        default=["tutorial", "small_slope", "small_clusters",
                                 "larger_slope"])
    parser.add_argument("--out", type=Path, default=Path("results/validity"))
    parser.add_argument("--varcomp-scale", choices=["raw", "log"], default="raw")
    parser.add_argument("--arms", nargs="+", default=None,
                        help="imputation arms to run (default: all of validity.yaml)")
    parser.add_argument("--maxit", type=int, default=None,
                        help="iterations per chain (default: validity.yaml's maxit)")
    parser.add_argument("--m", type=int, default=None,
                        help="imputations per arm (default: validity.yaml's m)")
    parser.add_argument("--summarise", action="store_true")
    args = parser.parse_args(argv)
    if args.summarise:
        from validity_report import summarise, summarise_scales  # bench/validity_report.py
        summarise(args.out)
        log_out = args.out.with_name(args.out.name + "_log")
        if log_out.is_dir():
            summarise_scales(args.out, log_out)
    else:
        run(args)


if __name__ == "__main__":
    main()

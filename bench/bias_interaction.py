"""Bias of the tutorial's interaction model: tutorial imputation vs ``2l.smc`` vs complete cases.

The tutorial's analysis model with a random slope and a cross-level
interaction,

    popularity_ij ~ gender_ij + extraversion_ij + experience_j
                    + extraversion_ij:experience_j + (1 + extraversion_ij | cluster_id)

fitted by ML on ``popular_MAR.RData`` after multiple imputation, compared
with the same fit on the complete data ``popular.RData`` (the truth) and with
complete-case analysis (both from ``../shared/reference/lme4_popular.json``,
lme4). Imputation specifications:

(a) the tutorial's: 2l.pmm for popularity, extraversion and assessment,
    2l.bin for gender, 2lonly.pmm for experience, the passive product, the
    tutorial's predictor matrix (codes 3/4);
(b) the same, but popularity and extraversion imputed by ``2l.smc`` with the
    interaction model as the substantive model;
(c) as (b), with the teacher's assessment as an auxiliary variable of
    ``2l.smc`` (option ``auxiliary``).

R's mice (m = 50) for reference: ``../shared/reference/pool_popular_m50.json``.
``MC se`` is the Monte Carlo standard error of a pooled estimate,
sqrt(B / m). Numbers are printed, never asserted. The machine is shared: elapsed seconds
are inflated by other jobs.

Usage::

    python bench/bias_interaction.py [--m 20] [--maxit 15] [--seed 2024]
        [--shared ../shared]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before NumPy is imported

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import mlmice as mm  # noqa: E402
from mlmice import tutorial  # noqa: E402

MODEL = tutorial.MODELS["interaction"]
SMC_TARGETS = ("popularity_ij", "extraversion_ij")


def specifications(data: pd.DataFrame) -> dict[str, dict]:
    """The two imputation specifications: name -> mice keyword arguments."""
    pred = tutorial.tutorial_predictor_matrix(data)
    pmm = {"method": tutorial.tutorial_method(), "predictor_matrix": pred}
    meth = tutorial.tutorial_method()
    for v in SMC_TARGETS:
        meth[v] = "2l.smc"
    smc = {"method": meth, "predictor_matrix": pred,
           "method_options": {v: {"model": MODEL} for v in SMC_TARGETS}}
    aux = {"method": meth, "predictor_matrix": pred,
           "method_options": {v: {"model": MODEL, "auxiliary": ["assessment_ij"]}
                              for v in SMC_TARGETS}}
    return {"tutorial (2l.pmm)": pmm, "2l.smc": smc, "2l.smc+aux": aux}


def pooled_fixef(imp) -> tuple[pd.Series, pd.Series]:
    """Rubin's pooled fixed effects of the interaction model and their Monte Carlo SE.

    The Monte Carlo standard error of the pooled estimate is
    :math:`\\sqrt{B / m}` (B the between-imputation variance).
    """
    tab = mm.pool(imp.fit(MODEL, reml=False)).pooled.set_index("term")
    return tab["estimate"].astype(float), np.sqrt(tab["b"].astype(float) / imp.m)


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=20)
    parser.add_argument("--maxit", type=int, default=15)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--shared", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared")
    args = parser.parse_args(argv)

    ref = json.loads((args.shared / "reference" / "lme4_popular.json").read_text())
    truth = pd.Series(ref["truth"]["interaction"]["fixef"], dtype=float)
    cca = pd.Series(ref["complete_case"]["interaction"]["fixef"], dtype=float)
    r_m50 = json.loads((args.shared / "reference" / "pool_popular_m50.json").read_text())
    r_tab = pd.DataFrame(r_m50["models"]["interaction"]["mice_pool"])
    r_mice = pd.Series(r_tab["estimate"].to_numpy(), index=r_tab["term"], dtype=float)

    data = tutorial.with_interaction(
        tutorial.read_popular(args.shared / "data" / "popular_MAR.RData"))
    table = pd.DataFrame({"truth": truth, "bias CCA": cca - truth,
                          "bias R mice m=50": r_mice.reindex(truth.index) - truth})
    for name, kwargs in specifications(data).items():
        start = time.perf_counter()
        imp = mm.mice(data, m=args.m, maxit=args.maxit, seed=args.seed, **kwargs)
        q, mcse = pooled_fixef(imp)
        print(f"{name}: m = {args.m}, maxit = {args.maxit}, "
              f"{time.perf_counter() - start:.1f} s elapsed")
        table[f"bias {name}"] = q.reindex(truth.index) - truth
        table[f"MC se {name}"] = mcse.reindex(truth.index)
    cca_bias, pmm = table["bias CCA"].abs(), table["bias tutorial (2l.pmm)"].abs()
    for name in ("2l.smc", "2l.smc+aux"):
        smc = table[f"bias {name}"].abs()
        table[f"{name} closer than CCA"] = smc < cca_bias
        table[f"{name} closer than 2l.pmm"] = smc < pmm
    with pd.option_context("display.float_format", "{:.4f}".format):
        print(table.T.to_string())
    return table


if __name__ == "__main__":
    main()

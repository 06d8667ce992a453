"""mlmice's 2l.polr + 2lonly.polyreg against jomo on the same 30 data sets.

tests/r/jomo_categorical.R simulates 30 data sets of the design of
mlmice.simulate_tracks (80 schools of 15 pupils; an ordinal pupil variable ``track``
and a nominal school type ``school`` missing at random), imputes them with jomo (a
joint model of latent normals with random intercepts; m = 20) and pools the analysis
model ``y ~ track + x + school + (1 | cluster_id)``. Here the same data sets are
imputed by mlmice (``track`` by 2l.polr, ``school`` by 2lonly.polyreg; m = 10) and
the pooled estimates compared, data set by data set, with each other and with the
complete-data fits.

We do not agree with jomo, and jomo is the one that is off. Over the 30 data sets
(2026-12-05) mlmice is within 5 % of the complete-data fit on every parameter, jomo
is 11 % high on ``x``, 9 % on the vocational-school contrast and 6 % on the intercept
variance, 2-4 % low on the track contrasts (differences of 5-19 MC SEs). jomo models
``y`` and the latent normal behind ``track`` as jointly normal, so in its imputations
``y`` depends on the latent variable linearly, not on the category with free effects
as in the analysis model: the track effects shrink towards a line and part of them
moves to ``x``, which is correlated with the latent variable. mlmice's chained
equations impute ``track`` given ``y`` and the school dummies, the analysis model's
variables, and so stay closer. The test therefore holds mlmice to the complete-data
fit and checks that it is closer to it than jomo, and prints both.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlmice as mm

R_DIR = Path(__file__).parent / "r"
FORMULA = "y ~ track + x + school + (1 | cluster_id)"
FIXED = ("(Intercept)", "trackmiddle", "trackhigh", "tracktop", "x", "schoolgeneral",
         "schoolvocational")
VARIANCES = ("Intercept~~Intercept|cluster_id", "Residual~~Residual")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def oracle():
    data = pd.read_csv(R_DIR / "jomo_categorical.csv.gz")
    ref = json.loads((R_DIR / "jomo_categorical.json").read_text())
    return data, ref


def _impute(d: pd.DataFrame, seed: int) -> dict:
    frame = pd.DataFrame({
        "cluster_id": d["cluster_id"].to_numpy(), "x": d["x"].to_numpy(),
        "y": d["y"].to_numpy(),
        "track": pd.Categorical(d["track"], categories=["low", "middle", "high", "top"],
                                ordered=True),
        "school": pd.Categorical(d["school"], categories=["academic", "general",
                                                          "vocational"])})
    pred = pd.DataFrame(0, index=frame.columns, columns=frame.columns)
    pred.loc["track", ["cluster_id", "x", "y", "school"]] = [-2, 1, 1, 1]
    pred.loc["school", ["cluster_id", "x", "y", "track"]] = [-2, 1, 1, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        imp = mm.mice(frame, m=10, maxit=10, seed=seed, predictor_matrix=pred,
                      method={"track": "2l.polr", "school": "2lonly.polyreg"}, n_jobs=2)
        fits = imp.fit(FORMULA, reml=False)
        est = mm.pool(fits).estimate
        extra = mm.test_estimates(fits, extra_pars=True).extra_pars["Estimate"]
    return {**{t: float(est[t]) for t in FIXED}, **{t: float(extra[t]) for t in VARIANCES}}


def _r(entry: dict) -> dict:
    return {**{t: entry["fixed"][t] for t in FIXED},
            **{t: entry["variance"][t] for t in VARIANCES}}


def test_pooled_analysis_agrees_with_jomo(oracle):
    data, ref = oracle
    ours, jomo, complete = [], [], []
    for r in range(ref["R"]):
        ours.append(_impute(data[data["rep"] == r + 1], seed=r))
        jomo.append(_r(ref["jomo"][r]))
        complete.append(_r(ref["complete"][r]))
    ours, jomo, complete = pd.DataFrame(ours), pd.DataFrame(jomo), pd.DataFrame(complete)
    diff = ours - jomo
    z = diff.mean() / (diff.std(ddof=1) / np.sqrt(len(diff)))
    report = pd.DataFrame({"ours": ours.mean(), "jomo": jomo.mean(),
                           "complete": complete.mean(), "z ours - jomo": z,
                           "ours vs complete %": 100 * (ours - complete).mean()
                           / complete.mean().abs(),
                           "jomo vs complete %": 100 * (jomo - complete).mean()
                           / complete.mean().abs()})
    print(f"\nmlmice against jomo, means over {len(diff)} data sets:\n{report.to_string()}")
    paired = ours - complete
    mcse = 100 * paired.std(ddof=1) / np.sqrt(len(paired)) / complete.mean().abs()
    # every parameter within 10 % of the complete-data fit; the paired MC SEs are 0.3-2 %
    # (3.9 % for the general-school contrast, the smallest effect), so a 10 % error is
    # 2.5-30 MC SEs away and fails
    assert (report["ours vs complete %"].abs() < 10).all(), report
    assert (mcse < 4).all(), mcse.to_string()
    # and closer to it than jomo on average over the parameters
    assert (report["ours vs complete %"].abs().mean()
            < report["jomo vs complete %"].abs().mean()), report

"""mlmice's 2l.pan, 2l.norm and 2l.smc against R on the same 50 data sets.

tests/r/oracle_two_level.R simulated 50 data sets with a random-slope variance that is
small in standardised units (outcome sd about 8, slope variance 0.2 on a predictor with
sd 2: the design on which the old 2l.pan prior inflated the slope variance by 22 %), and
imputed them with R's mice (2l.pan, 2l.norm; y missing) and jomo.lmer (y and x missing,
the analysis model as substantive model), m = 10 each, then fitted
lmer(y ~ x + w + (1 + x | g), REML = FALSE): Rubin's pooled fixed effects and mitml's
averaged variance components.

Here the same data sets are imputed by mlmice and pooled the same way, and for each
parameter the paired difference d_r = ours_r - R_r over the 50 data sets is compared
with its Monte Carlo SE sd(d) / sqrt(50) (about 2-3 % of the slope variance, so a 10 %
error fails):

- 2l.pan with R's prior (``prior="mice"``) and 2l.norm: every parameter within 3 MC SEs
  of R: the same model and sampler.
- 2l.pan with its default prior ("flat-variances"): fixed effects and residual variance
  within 3 MC SEs; the slope variance lower than R's, whose identity prior (raw units)
  inflates it (measured against the complete-data fit: R +8.9 %, ours -4.0 %; +1.0 %
  with the uniform prior "flat", the default of 0.2).
- 2l.smc against jomo.lmer: fixed effects within 3 MC SEs. The variance components
  differ by prior: against the complete data jomo gives -0.3 % (MC SE 1.2) on the
  intercept variance and -6.9 % (5.8) on the slope variance, ours +1.5 % (1.3) and
  +1.1 % (5.7) (the uniform prior +1.8 % and +10.7 %). The test bounds ours against the
  complete-data fit. With 50 data sets the slope variance's MC SE is 5.7 %, too large to
  resolve a 10 % error: ``test_variance_recovery.py`` does that, over 200 replicates.
  (Before 2l.smc's covariate step shared the outcome step's parameter draw, ours was
  +6.9 % here: the same within this MC error.)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlmice as mm

R_DIR = Path(__file__).resolve().parent / "r"
FORMULA = "y ~ x + w + (1 + x | g)"
VARIANCES = ("Intercept~~Intercept|g", "x~~x|g", "Intercept~~x|g", "Residual~~Residual")
FIXED = ("(Intercept)", "x", "w")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def oracle():
    data = pd.read_csv(R_DIR / "oracle_two_level.csv.gz")
    ref = json.loads((R_DIR / "oracle_two_level.json").read_text())
    return data, ref


def _pooled(imp) -> dict:
    fits = imp.fit(FORMULA, reml=False)
    est = mm.pool(fits).estimate
    extra = mm.test_estimates(fits, extra_pars=True).extra_pars["Estimate"]
    return {**{t: float(est[t]) for t in FIXED}, **{t: float(extra[t]) for t in VARIANCES}}


def _impute(d: pd.DataFrame, method: str, seed: int, options: dict | None = None) -> dict:
    if method == "2l.smc":
        frame = pd.DataFrame({"g": d["g"], "x": d["x_smc"], "w": d["w"], "y": d["y_smc"]})
        meth = {"y": "2l.smc", "x": "2l.smc"}
        pred = pd.DataFrame(0, index=frame.columns, columns=frame.columns)
        pred.loc["y", ["g", "x", "w"]] = [-2, 1, 1]
        pred.loc["x", ["g", "y", "w"]] = [-2, 1, 1]
        options = {v: {"model": FORMULA, **(options or {})} for v in meth}
        imp = mm.mice(frame, m=10, maxit=10, method=meth, predictor_matrix=pred,
                      method_options=options, seed=seed, n_jobs=2)
    else:
        frame = pd.DataFrame({"g": d["g"], "x": d["x"], "w": d["w"], "y": d["y_pan"]})
        pred = pd.DataFrame(0, index=frame.columns, columns=frame.columns)
        pred.loc["y", ["g", "x", "w"]] = [-2, 2, 0 if method == "2l.norm" else 1]
        imp = mm.mice(frame, m=10, maxit=1, method={"y": method}, predictor_matrix=pred,
                      seed=seed, method_options={"y": options} if options else None)
    return _pooled(imp)


def _r_values(entry: dict) -> dict:
    return {**{t: entry["fixed"][t] for t in FIXED},
            **{t: entry["variance"][t] for t in VARIANCES}}


def _compare(oracle, method, r_key, options=None):
    data, ref = oracle
    ours, theirs, complete = [], [], []
    for r in range(ref["R"]):
        d = data[data["rep"] == r + 1]
        ours.append(_impute(d, method, seed=r, options=options))
        theirs.append(_r_values(ref[r_key][r]))
        complete.append(_r_values(ref["complete"][r]))
    ours, theirs, complete = pd.DataFrame(ours), pd.DataFrame(theirs), pd.DataFrame(complete)
    diff = ours - theirs
    z = diff.mean() / (diff.std(ddof=1) / np.sqrt(len(diff)))
    rel = (ours - complete).mean() / complete.mean()
    report = pd.DataFrame({"ours": ours.mean(), "R": theirs.mean(), "complete": complete.mean(),
                           "z vs R": z, "ours vs complete": rel})
    print(f"\n{method} {options or ''} against R ({r_key}), means over {len(diff)} data "
          f"sets:\n{report}")
    return z, rel, report


@pytest.mark.parametrize("method,options", [("2l.pan", {"prior": "mice"}), ("2l.norm", None)],
                         ids=["2l.pan-mice-prior", "2l.norm"])
def test_same_model_matches_r(oracle, method, options):
    z, _, report = _compare(oracle, method, method, options)
    assert (z.abs() < 3).all(), report


def test_pan_default_prior_against_r(oracle):
    z, _, report = _compare(oracle, "2l.pan", "2l.pan")
    assert (z[list(FIXED) + ["Residual~~Residual"]].abs() < 3).all(), report
    assert z["x~~x|g"] < 0, report          # R's raw-unit identity prior inflates it


def test_smc_against_jomo(oracle):
    z, rel, report = _compare(oracle, "2l.smc", "jomo")
    assert (z[list(FIXED)].abs() < 3).all(), report
    assert abs(rel["Intercept~~Intercept|g"]) < 0.04 and abs(rel["Residual~~Residual"]) < 0.02
    assert rel["x~~x|g"] < 0.2, report      # +1.1 % (MC SE 5.7); 0.1's prior +100 %


@pytest.fixture(scope="module")
def oracle_binary():
    data = pd.read_csv(R_DIR / "oracle_norm_binary.csv.gz")
    ref = json.loads((R_DIR / "oracle_norm_binary.json").read_text())
    return data, ref


def test_norm_with_a_binary_predictor_matches_r(oracle_binary):
    """Item 4 of the validity issue, settled by replication: 2l.norm with a binary
    level-1 and a level-2 predictor (both code 2, as mice's 2l.norm needs) on R's 40 data
    sets, m = 20 each (tests/r/oracle_norm_binary.R). Paired differences of the pooled
    estimates within 3 MC SEs, the binary predictor's coefficient included."""
    data, ref = oracle_binary
    formula = "y ~ x + w + (1 | g)"
    fixed = ("(Intercept)", "x", "w")
    variances = ("Intercept~~Intercept|g", "Residual~~Residual")
    ours, theirs = [], []
    for r in range(ref["R"]):
        d = data[data["rep"] == r + 1]
        frame = pd.DataFrame({"g": d["g"], "x": d["x"].astype(float), "w": d["w"],
                              "y": d["y_mis"]})
        pred = pd.DataFrame(0, index=frame.columns, columns=frame.columns)
        pred.loc["y", ["g", "x", "w"]] = [-2, 2, 2]
        imp = mm.mice(frame, m=20, maxit=1, method={"y": "2l.norm"}, predictor_matrix=pred,
                      seed=100 + r)
        fits = imp.fit(formula, reml=False)
        est = mm.pool(fits).estimate
        extra = mm.test_estimates(fits, extra_pars=True).extra_pars["Estimate"]
        ours.append({**{t: float(est[t]) for t in fixed},
                     **{t: float(extra[t]) for t in variances}})
        entry = ref["2l.norm"][r]
        theirs.append({**{t: entry["fixed"][t] for t in fixed},
                       **{t: entry["variance"][t] for t in variances}})
    diff = pd.DataFrame(ours) - pd.DataFrame(theirs)
    z = diff.mean() / (diff.std(ddof=1) / np.sqrt(len(diff)))
    print(f"\n2l.norm with a binary predictor, ours - R over {len(diff)} data sets:\n"
          f"{pd.DataFrame({'diff': diff.mean(), 'z': z})}")
    assert (z.abs() < 3).all(), z

"""mlmice.pipeline: what the pipeline's jobs do, tested in process."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlmice as mm
from mlmice.impute.sampler import run_chain
from mlmice.impute.spec import ImputationSpec, validate_spec
from mlmice.pipeline import (
    chain_key,
    fit_tables,
    fits_from_tables,
    mids_from_files,
    model_tests_table,
    pooled_tables,
    resume_chain,
)
from mlmice.pooling import pooled_table, test_estimates


@pytest.fixture(scope="module")
def small():
    data = mm.simulate_popularity(n_clusters=10, cluster_size=6, seed=3).data
    rng = np.random.default_rng(2)
    data.loc[rng.random(len(data)) < 0.2, "popularity_ij"] = np.nan
    spec = validate_spec(data, method={"popularity_ij": "2l.pan"}, cluster="cluster_id",
                         predictor_matrix=None)
    return data, spec.to_dict()


def test_resume_chain_continues_bit_identically(small, tmp_path):
    data, spec = small
    lines = []
    first = resume_chain(data, spec, chain=1, maxit=2, seed=5, saved=tmp_path, log=lines.append)
    assert first.iteration == 2 and "initial values drawn" in lines[0]
    lines.clear()
    longer = resume_chain(data, spec, chain=1, maxit=4, seed=5, saved=tmp_path,
                          log=lines.append)
    assert "continuing from the state saved at iteration 2" in lines[0]
    assert sum("done in" in line for line in lines) == 2          # only two new iterations
    fresh = run_chain(data, ImputationSpec.from_dict(spec, data), chain=1, maxit=4, seed=5)
    pd.testing.assert_frame_equal(longer.imputations_frame(), fresh.imputations_frame())
    folder = tmp_path / chain_key(data, spec, 5) / "chain_1"
    assert sorted(p.name for p in folder.iterdir()) == ["iter_2", "iter_4"]
    # another seed is another chain: nothing to continue
    lines.clear()
    resume_chain(data, spec, chain=1, maxit=1, seed=6, saved=tmp_path, log=lines.append)
    assert "initial values drawn" in lines[0]


def test_fit_tables_pool_like_the_fits(small, tmp_path):
    data, spec = small
    files = []
    for c in (1, 2, 3):
        state = resume_chain(data, spec, chain=c, maxit=2, seed=5, saved=tmp_path / "saved")
        state.to_files(tmp_path / f"chain_{c}")
        files.append(tmp_path / f"chain_{c}" / "state.json")
    imp = mids_from_files(data, spec, files)
    assert imp.m == 3
    formula = "popularity_ij ~ extraversion_ij + (1 | cluster_id)"
    sets = [("cca", 0, data)] + [("imputation", i, imp.complete(i)) for i in (1, 2, 3)]
    tables = fit_tables(formula, sets, reml=False)
    assert set(tables) == {"estimates", "vcov", "varcorr", "fits"}
    assert tables["fits"]["dataset"].tolist() == ["cca", "imputation", "imputation",
                                                  "imputation"]
    assert tables["fits"]["nobs"].iloc[0] == int(data["popularity_ij"].notna().sum())
    from_tables = pooled_table(fits_from_tables(**tables))
    direct = pooled_table(imp.fit(formula, reml=False))
    cols = ["estimate", "std_error", "df", "p_value"]
    fixed = from_tables["kind"] == "fixed"
    np.testing.assert_allclose(from_tables.loc[fixed, cols].to_numpy(dtype=float),
                               direct.loc[direct["kind"] == "fixed", cols].to_numpy(dtype=float),
                               rtol=1e-8)
    # the analyze job's pooling: the same tables as pooling the fits, on either scale
    for scale in ("raw", "log"):
        lines = []
        pooled = pooled_tables(tables, model="m1", varcomp_scale=scale, log=lines.append)
        assert set(pooled) == {"pooled", "mitml", "compare"}
        expected = pooled_table(imp.fit(formula, reml=False), varcomp_scale=scale)
        pd.testing.assert_frame_equal(pooled["pooled"], expected, rtol=1e-8)
        pd.testing.assert_frame_equal(
            pooled["mitml"], test_estimates(imp.fit(formula, reml=False), extra_pars=True,
                                            varcomp_scale=scale).to_frame(), rtol=1e-8)
        assert set(pooled["compare"]["model"]) == {"m1"}
        assert "pooled 3 fits" in lines[0]
    assert not pooled["compare"].empty

    small_model = "popularity_ij ~ (1 | cluster_id)"
    full = imp.fit(formula, reml=False)
    null = imp.fit(small_model, reml=False)
    table = model_tests_table(full, null, model={"name": "a", "reml": False},
                              null_model={"name": "b", "reml": False})
    assert table["method"].tolist() == ["D1", "D3"]
    assert table["note"].iloc[0] == "parameters tested: extraversion_ij"
    assert (table["p_value"] >= 0).all()
    same = model_tests_table(full, full, model={"name": "a", "reml": False},
                             null_model={"name": "a2", "reml": True})
    assert same["note"].tolist() == [
        "not defined: the models have the same fixed effects (they differ in random effects "
        "only)", "D3 needs ML fits (reml: false); not computed"]
    assert same["f_value"].isna().all()


def test_ampute_arguments_from_a_config_block():
    from mlmice.pipeline import ampute_arguments

    block = {"prop": 0.3, "mech": "MAR", "seed": 4, "type": "LEFT",
             "patterns": [{"missing": ["y"], "freq": 2, "weights": {"x": 1.0}},
                          {"missing": ["x"], "type": "MID"}],
             "level2": {"w": 0.1}}
    kw = ampute_arguments(block, cluster="g")
    assert kw == {"prop": 0.3, "mech": "MAR", "seed": 4, "cluster": "g",
                  "patterns": [["y"], ["x"]], "freq": [2, 1], "type": ["LEFT", "MID"],
                  "weights": [{"x": 1.0}, None], "level2": {"w": 0.1}}
    # MCAR takes no weights; without patterns the block's type is ampute's type
    assert ampute_arguments({"mech": "MCAR", "patterns": [{"missing": ["y"],
                                                           "weights": {"x": 1}}]}
                            )["type"] == ["RIGHT"]
    assert "weights" not in ampute_arguments({"mech": "MCAR", "patterns": [
        {"missing": ["y"], "weights": {"x": 1}}]})
    assert ampute_arguments({}) == {"type": "RIGHT"}


def test_truth_coded_otherwise_is_refused():
    """A complete file read on its own may code a categorical otherwise (other categories,
    another reference): its terms would share names with the MI terms but not meaning."""
    from mlmice.pipeline.tables import check_same_coding
    base = pd.DataFrame({"g": [1, 1, 2, 2], "y": [1.0, 2.0, 3.0, 4.0],
                         "s": pd.Categorical(["a", "b", "c", "a"], categories=["a", "b", "c"])})
    other = base.assign(s=pd.Categorical(base["s"].astype(str), categories=["b", "a", "c"]))
    formula = "y ~ s + (1 | g)"
    check_same_coding(formula, [("truth", 0, base), ("cca", 0, base.copy())])
    with pytest.raises(ValueError, match=r"variable 's' is coded differently in the truth data "
                                         r"\(categories a, b, c\) and the cca data "
                                         r"\(categories b, a, c\)"):
        check_same_coding(formula, [("truth", 0, base), ("cca", 0, other)])
    # a binary variable whose labels are the other way round
    flip = base.assign(s=[0.0, 1.0, 1.0, 0.0])
    flip.attrs["labels"] = {"s": {0: "no", 1: "yes"}}
    flop = flip.copy()
    flop.attrs["labels"] = {"s": {0: "yes", 1: "no"}}
    with pytest.raises(ValueError, match=r"codes 0 = no, 1 = yes\) and the cca data "
                                         r"\(codes 0 = yes, 1 = no\)"):
        check_same_coding(formula, [("truth", 0, flip), ("cca", 0, flop)])

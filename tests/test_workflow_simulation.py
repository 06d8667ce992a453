"""A study's `simulation` block through the snakemake command line.

A tiny study (5 replicates in batches of 2, one 2l.pan arm, m = 2) runs end to
end; the tests check the summary's columns, that the pipeline's numbers equal
an in-process run of the same replicates (so they do not depend on the batch
or the executor), that raising `replicates` runs only the new and the changed
batch, and that a reserved arm name fails before any job.
"""

from __future__ import annotations

import copy

import pandas as pd
import pytest
from test_workflow import _dry_run, _rules, _snakemake, _write_config, run_pipeline

import mlmice as mm
from mlmice.simulation import SUMMARY_COLUMNS, Study, run_batch

pytestmark = pytest.mark.slow

STUDY = {
    "data": {"simulate": {"n_clusters": 12, "cluster_size": 8, "seed": 5},
             "cluster": "cluster_id", "id": "unit_id", "level2": ["experience_j"]},
    "amputation": {"mech": "MAR", "prop": 0.3, "seed": 3, "patterns": [
        {"missing": ["popularity_ij"], "weights": {"assessment_ij": 1}}]},
    "models": [{"name": "ri", "formula": "popularity_ij ~ extraversion_ij + (1 | cluster_id)",
                "reml": False}],
    "imputation": {"method": {"popularity_ij": "2l.pan"},
                   "predictor_matrix": {"popularity_ij": {
                       "cluster_id": -2, "extraversion_ij": 1, "assessment_ij": 1}},
                   "m": 2, "maxit": 1},
    "simulation": {
        "replicates": 5, "batch": 2, "seed": 4,
        "generator": {"popularity": {"n_clusters": 15, "cluster_size": [6, 10]}},
        "arms": {"pan": {"method": {"popularity_ij": "2l.pan"},
                         "predictor_matrix": {"popularity_ij": {
                             "cluster_id": -2, "extraversion_ij": 1, "assessment_ij": 1}},
                         "m": 2, "maxit": 1}}},
}
CONFIG = {"studies": {"tiny": STUDY}}


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    return run_pipeline(tmp_path_factory.mktemp("simulation"), CONFIG)


def test_summary_and_figure(simulated):
    out = simulated / "results/tiny/simulation"
    summary = pd.read_parquet(out / "summary.parquet")
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert set(summary["arm"]) == {"complete", "cca", "pan"}
    assert (summary["n_replicates"] == 5).all()
    assert (out / "performance.png").stat().st_size > 10_000
    assert pd.read_parquet(out / "failures.parquet").empty


def test_report_has_the_simulation_section(simulated):
    html = (simulated / "results/tiny/report.html").read_text()
    assert "9. Simulation study" in html
    assert "5 replicates; 0 arm runs failed." in html
    assert "The study's simulation block: replicates of generated data" in html
    assert "rel. bias vs complete %" in html
    assert "a covariance (corr.) is given in % of the square root" in html


def test_pipeline_equals_in_process_run(simulated):
    """Batches of 2 in separate jobs give what one in-process batch of 5 gives."""
    piped = pd.read_parquet(simulated / "results/tiny/simulation/estimates.parquet")
    cfg = {**STUDY["simulation"], "amputation": STUDY["amputation"],
           "models": STUDY["models"], "cluster": "cluster_id"}
    direct, _ = run_batch(Study.from_config(cfg), range(5))
    key = ["replicate", "arm", "model", "term"]
    pd.testing.assert_frame_equal(piped.sort_values(key).reset_index(drop=True),
                                  direct.sort_values(key).reset_index(drop=True),
                                  check_dtype=False)


def test_more_replicates_run_only_new_batches(simulated):
    more = copy.deepcopy(CONFIG)
    more["studies"]["tiny"]["simulation"]["replicates"] = 8
    jobs = _dry_run(simulated, more)
    batches = sorted(w["batch"] for r, w in jobs if r == "simulate")
    # batch 2 held replicate 4 and now holds 4-5; batch 3 (6-7) is new
    assert batches == ["0002", "0003"]
    assert _rules(jobs).get("simulation_summary") == 1


def test_reserved_arm_name_fails_before_any_job(simulated):
    bad = copy.deepcopy(CONFIG)
    arms = bad["studies"]["tiny"]["simulation"]["arms"]
    arms["cca"] = arms["pan"]
    original = (simulated / "config.yaml").read_text()
    try:
        _write_config(simulated, bad)
        run = _snakemake(simulated, "--dry-run")
    finally:
        (simulated / "config.yaml").write_text(original)
    assert run.returncode != 0
    text = run.stdout + run.stderr
    assert "config error at studies.tiny.simulation.arms" in text and "cca" in text, text[-2000:]


def test_resampling_a_users_file(tmp_path):
    """generator.resample: whole clusters of a complete file; the truth is the fit on the
    whole file, so bias and coverage are defined; the file is an input of every batch."""
    source = mm.simulate_popularity(n_clusters=20, cluster_size=8, seed=3).data
    source.to_csv(tmp_path / "source.csv", index=False)
    study = copy.deepcopy(STUDY)
    del study["imputation"]
    study["simulation"].update(replicates=3, batch=3, generator={
        "resample": {"file": str(tmp_path / "source.csv"), "cluster": "cluster_id"}})
    _write_config(tmp_path, {"studies": {"boot": study}})
    run = _snakemake(tmp_path, "results/boot/simulation/summary.parquet")
    assert run.returncode == 0, run.stderr[-5000:]
    summary = pd.read_parquet(tmp_path / "results/boot/simulation/summary.parquet")
    truth = mm.lmer(STUDY["models"][0]["formula"], data=source, reml=False).fixef
    fixed = summary[(summary["kind"] == "fixed") & (summary["arm"] == "pan")]
    assert fixed.set_index("term")["true_value"].to_dict() == pytest.approx(truth.to_dict())
    assert fixed["coverage"].notna().all()


def test_models_and_amputation_are_checked_against_the_generated_data(tmp_path):
    """A study that only simulates, from a ';'-separated file of its own: its amputation and
    models name the file's variables, not the case study's data (which were checked before,
    rejecting this valid design); a model variable the file lacks fails before any job."""
    source = mm.simulate_popularity(n_clusters=20, cluster_size=8, seed=3).data
    source.rename(columns={"popularity_ij": "y"}).to_csv(
        tmp_path / "source.csv", index=False, sep=";", decimal=",")
    study = copy.deepcopy(STUDY)
    del study["imputation"]
    study["amputation"]["patterns"] = [{"missing": ["y"], "weights": {"assessment_ij": 1}}]
    study["models"][0]["formula"] = "y ~ extraversion_ij + (1 | cluster_id)"
    arm = study["simulation"]["arms"]["pan"]
    arm["method"] = {"y": "2l.pan"}
    arm["predictor_matrix"] = {"y": arm["predictor_matrix"]["popularity_ij"]}
    study["simulation"]["generator"] = {"resample": {
        "file": str(tmp_path / "source.csv"), "cluster": "cluster_id", "id": "unit_id",
        "csv": {"sep": ";", "decimal": ","}}}
    _write_config(tmp_path, {"studies": {"own": study}})
    run = _snakemake(tmp_path, "--dry-run", "results/own/simulation/summary.parquet")
    assert run.returncode == 0, run.stderr[-3000:]
    study["models"][0]["formula"] = "y ~ motivation + (1 | cluster_id)"
    _write_config(tmp_path, {"studies": {"own": study}})
    run = _snakemake(tmp_path, "--dry-run")
    text = run.stdout + run.stderr
    assert run.returncode != 0
    assert ("config error at studies.own.models[0].formula: variable 'motivation' is not in "
            "the simulated data (simulation.generator)") in text, text[-2000:]
    # the id is a role, not a variable: ampute leaves it alone
    generator = mm.simulation.make_generator(study["simulation"]["generator"])
    assert "unit_id" not in generator.generate(1).attrs["roles"]["level1"]


@pytest.mark.parametrize("where", ["imputation", "arm"])
def test_misspelt_method_option_fails_before_any_job(tmp_path, where):
    """A method option the method does not have ('donorz') is a config error naming the
    key path and the closest option, for the study's imputation and for an arm."""
    cfg = copy.deepcopy(CONFIG)
    study = cfg["studies"]["tiny"]
    if where == "imputation":
        study["imputation"]["method"]["popularity_ij"] = "2l.pmm"
        study["imputation"]["method_options"] = {"popularity_ij": {"donorz": 3}}
        key = "studies.tiny.imputation.method_options.popularity_ij"
        hint = "did you mean 'donors'?"
    else:
        study["simulation"]["arms"]["pan"]["method_options"] = {"popularity_ij": {"pior": "x"}}
        key = "studies.tiny.simulation.arms.pan.method_options.popularity_ij"
        hint = "did you mean 'prior'?"
    _write_config(tmp_path, cfg)
    run = _snakemake(tmp_path, "--dry-run")
    assert run.returncode != 0
    text = run.stdout + run.stderr
    assert f"config error at {key}" in text and hint in text, text[-2000:]


def test_deleted_chain_file_reruns_its_chain(simulated):
    """Chain files are targets: deleting one reruns that chain (and what depends on it),
    not 'Nothing to be done'."""
    from test_workflow import _jobs
    path = simulated / "results/tiny/impute/chain_1/imputations.parquet"
    backup = path.read_bytes()
    path.unlink()
    try:
        run = _snakemake(simulated, "--dry-run")
        assert run.returncode == 0, run.stderr[-3000:]
        jobs = _jobs(run)
    finally:
        path.write_bytes(backup)
    assert ("impute", {"study": "tiny", "chain": "1"}) in jobs


def test_visit_sequence_and_variables_keys(tmp_path):
    """imputation.visit_sequence reaches the specification; data.drop leaves a column out
    of the data every stage reads; unknown names are config errors at their key."""
    import json
    cfg = copy.deepcopy(CONFIG)
    study = cfg["studies"]["tiny"]
    del study["simulation"]
    study["data"]["drop"] = ["gender_ij"]
    study["amputation"]["patterns"].append({"missing": ["extraversion_ij"]})
    study["imputation"]["method"]["extraversion_ij"] = "2l.pmm"
    study["imputation"]["predictor_matrix"]["extraversion_ij"] = {
        "cluster_id": -2, "popularity_ij": 1}
    study["imputation"]["visit_sequence"] = ["extraversion_ij", "popularity_ij"]
    _write_config(tmp_path, cfg)
    run = _snakemake(tmp_path, "results/tiny/impute/spec.json")
    assert run.returncode == 0, run.stderr[-3000:]
    spec = json.loads((tmp_path / "results/tiny/impute/spec.json").read_text())
    assert spec["visit_sequence"] == ["extraversion_ij", "popularity_ij"]
    data = pd.read_parquet(tmp_path / "results/tiny/data/complete.parquet")
    assert "gender_ij" not in data.columns and "assessment_ij" in data.columns
    cases = (("drop", ["nope"], "studies.tiny.data.drop"),
             ("variables", ["cluster_id", "nope"], "studies.tiny.data.variables[1]"))
    for key, value, where in cases:
        bad = copy.deepcopy(cfg)
        bad["studies"]["tiny"]["data"][key] = value
        _write_config(tmp_path, bad)
        run = _snakemake(tmp_path, "--dry-run")
        assert run.returncode != 0
        text = run.stdout + run.stderr
        assert f"config error at {where}" in text, text[-2000:]

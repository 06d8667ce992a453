"""The pipeline's data stage, end to end: Snakefile + config -> Parquet artifacts.

Each test runs Snakemake in a temporary working directory with the
repository's Snakefile and a small config written there.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlmice.amputation import ampute
from mlmice.io import read_data, read_parquet
from mlmice.simulate import simulate_popularity

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"

def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory",
           str(workdir), "--cores", "1", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=workdir)


def _write_config(workdir: Path, config: dict) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


SIM = {"simulate": {"n_clusters": 6, "cluster_size": 5, "seed": 3}, "cluster": "cluster_id",
       "id": "unit_id", "level2": ["experience_j"]}
AMP = {"prop": 0.5, "seed": 4, "patterns": [
    {"missing": ["popularity_ij"], "freq": 2, "weights": {"assessment_ij": 1}},
    {"missing": ["extraversion_ij", "assessment_ij"], "freq": 1}]}


@pytest.mark.slow
def test_simulated_and_user_file_studies(tmp_path):
    # a user's incomplete file with its complete version (like popular_MAR / popular)
    truth = simulate_popularity(n_clusters=4, cluster_size=5, seed=8).data
    truth["gender_ij"] = truth["gender_ij"].map({0.0: "boy", 1.0: "girl"})
    inc = truth.copy()
    inc.loc[[1, 7], "popularity_ij"] = np.nan
    (tmp_path / "in").mkdir()
    truth.to_csv(tmp_path / "in" / "complete.csv", index=False)
    inc.to_csv(tmp_path / "in" / "incomplete.csv", index=False)
    config = {"studies": {
        "sim": {"data": SIM, "amputation": AMP},
        "user": {"data": {"file": "in/incomplete.csv", "complete_file": "in/complete.csv",
                          "cluster": "cluster_id", "id": "unit_id"}},
    }}
    _write_config(tmp_path, config)
    run = _snakemake(tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    # neither study has an imputation model or models: said, not a silent stop
    out = run.stdout + run.stderr
    for study in ("sim", "user"):
        assert (f"{study}: studies.{study}.imputation.method and studies.{study}.models are "
                "empty, so this study stops after loading its data") in out
    assert "mlmice init in/incomplete.csv --cluster cluster_id" in out

    data = tmp_path / "results" / "sim" / "data"
    complete = read_parquet(data / "complete.parquet")
    expected = simulate_popularity(**SIM["simulate"]).data
    pd.testing.assert_frame_equal(complete, expected)
    assert complete.attrs["labels"] == {"gender_ij": {0: "boy", 1: "girl"}}
    incomplete = read_parquet(data / "incomplete.parquet")
    kwargs = {"prop": 0.5, "seed": 4, "cluster": "cluster_id", "mech": "MAR",
              "patterns": [["popularity_ij"], ["extraversion_ij", "assessment_ij"]],
              "freq": [2, 1], "weights": [{"assessment_ij": 1}, None], "type": ["RIGHT"] * 2}
    pd.testing.assert_frame_equal(incomplete, ampute(complete, **kwargs).amp)
    assert incomplete["popularity_ij"].isna().any()
    assert incomplete.attrs == complete.attrs
    assert (tmp_path / "logs" / "ampute" / "sim.log").read_text().startswith("amputed")

    user = tmp_path / "results" / "user" / "data"
    u_inc = read_parquet(user / "incomplete.parquet")
    u_comp = read_parquet(user / "complete.parquet")
    assert u_inc["popularity_ij"].isna().sum() == 2
    assert u_comp.notna().all().all()
    assert u_inc.attrs["labels"] == u_comp.attrs["labels"] == {"gender_ij": {0: "boy", 1: "girl"}}
    pd.testing.assert_frame_equal(u_comp, read_data(tmp_path / "in" / "complete.csv",
                                                    cluster="cluster_id", id="unit_id"))
    # nothing left to do on a second run
    again = _snakemake(tmp_path, "-n")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.slow                       # a snakemake process each (about 11 s)
@pytest.mark.parametrize(("study", "message"), [
    ({"data": {**SIM, "clustr": "cluster_id"}, "amputation": AMP},
     "config error at studies.s.data: unknown key 'clustr'; did you mean 'cluster'?"),
    ({"data": {**SIM, "simulate": {"n_clusters": "many"}}, "amputation": AMP},
     "config error at studies.s.data.simulate.n_clusters: 'many' is not of type"),
    ({"data": SIM, "amputation": {"patterns": [{"missing": ["popularty"]}]}},
     "studies.s.amputation.patterns[0].missing: variable 'popularty' is not in the data"),
    ({"data": {**SIM, "cluster": "class"}, "amputation": AMP},
     "studies.s.data.cluster: variable 'class' is not in the data"),
    ({"data": SIM, "amputation": AMP, "models": [{"name": "m", "formula": "popularity ~ 1"}]},
     "studies.s.models[0].formula: variable 'popularity' is not in the data"),
])
def test_config_errors_fail_before_any_job_naming_the_key(tmp_path, study, message):
    _write_config(tmp_path, {"studies": {"s": study}})
    run = _snakemake(tmp_path, "-n")
    assert run.returncode != 0
    assert message in run.stdout + run.stderr, (run.stdout + run.stderr)[-2000:]
    assert not (tmp_path / "results").exists()


@pytest.mark.slow                       # dry run and lint (about 22 s)
def test_repository_config_plans_the_data_stage_and_lints_clean(tmp_path):
    # the README's `snakemake --cores all` in a fresh clone: rule all = the data files
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    plan = _snakemake(tmp_path, "-n", "--quiet", "rules")
    assert plan.returncode == 0, plan.stderr[-2000:]
    out = plan.stdout + plan.stderr
    for rule in ("load", "ampute", "all"):
        assert rule in out
    lint = _snakemake(tmp_path, "--lint")
    assert lint.returncode == 0, lint.stdout[-2000:]
    assert "Congratulations" in lint.stdout + lint.stderr
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    study = config["studies"]["popularity"]
    assert [m["name"] for m in study["models"]] == ["null_single", "intercept_only",
                                                    "predictors", "random_slope", "interaction"]
    assert study["imputation"]["m"] == 5 and study["imputation"]["seed"] == 2024


def test_every_schema_key_has_a_description_and_a_default():
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    defs = schema["$defs"]

    def resolve(node):
        while "$ref" in node:
            target = defs[node["$ref"].split("/")[-1]]
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        if "then" in node:
            node = {**resolve(node["then"]), **{k: v for k, v in node.items() if k != "then"}}
        return node

    problems, seen = [], set()

    def walk(node, path):
        node = resolve(node)
        for name, sub in node.get("properties", {}).items():
            key = f"{path}.{name}"
            full = resolve(sub)
            if "description" not in full:
                problems.append(f"{key}: no description")
            if "default" not in sub and name not in node.get("required", []):
                problems.append(f"{key}: no default")
            if key not in seen:
                seen.add(key)
                walk(sub, key)
        for sub_key in ("additionalProperties", "items"):
            sub = node.get(sub_key)
            if isinstance(sub, dict):
                walk(sub, f"{path}[]")

    walk(schema, "config")
    assert not problems, problems
    assert len(seen) > 35


def test_config_errors_name_the_key_path():
    """One short line per schema violation, naming the full key path (and the closest
    known key for a misspelt one) instead of jsonschema's dump of the sub-schema."""
    from mlmice.config_check import config_errors
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    cfg = {"studies": {"s": {"imputation": {"maxitt": 3}}}}
    assert config_errors(cfg, schema) == [
        "config error at studies.s.imputation: unknown key 'maxitt'; did you mean 'maxit'? "
        "(keys: method, predictor_matrix, method_options, visit_sequence, m, maxit, "
        "rhat_threshold, seed)"]
    cfg = {"studies": {"s": {"models": [{"name": "a b", "formula": "y ~ x"}]}}}
    (msg,) = config_errors(cfg, schema)
    assert msg.startswith("config error at studies.s.models[0].name: 'a b' does not match")
    cfg = {"studies": {"s": {"imputation": {"m": 10**9}}}}
    (msg,) = config_errors(cfg, schema)
    assert msg.startswith("config error at studies.s.imputation.m: 1000000000 is greater")
    # a reserved arm name says so (jsonschema: "should not be valid under {'enum': ...}")
    cfg = {"studies": {"s": {"simulation": {"arms": {"cca": {"method": {},
                                                             "predictor_matrix": {}}}}}}}
    assert config_errors(cfg, schema) == [
        "config error at studies.s.simulation.arms: the name 'cca' is reserved (complete, "
        "cca); choose another"]

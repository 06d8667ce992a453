"""`mlmice init`: a config for a researcher's own file, then the pipeline on it alone."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from test_workflow import _jobs, _snakemake

import mlmice as mm
from mlmice.cli import init_config, main


def _own_file(tmp_path, *, european: bool = False):
    """A researcher's file; ``european``: ';'-separated with decimal commas, '.' for a
    missing value (as SPSS exports in such locales write it) and a never-observed column."""
    df = mm.simulate_popularity(n_clusters=24, cluster_size=10, seed=8).data
    rng = np.random.default_rng(1)
    df.loc[rng.random(len(df)) < 0.2, "popularity_ij"] = np.nan
    df.loc[rng.random(len(df)) < 0.1, "gender_ij"] = np.nan
    df.loc[df.cluster_id.isin([3, 7]), "experience_j"] = np.nan
    df["constant"] = 1.0
    df = df.rename(columns={"assessment_ij": "teacher rating"})
    path = tmp_path / "pupils.csv"
    if european:
        df["homework"] = np.nan
        df["track"] = np.array(["low", "mid", "high"])[rng.integers(0, 3, len(df))]
        df.loc[rng.random(len(df)) < 0.1, "track"] = None
        df.to_csv(path, index=False, sep=";", decimal=",", na_rep=".")
    else:
        df.to_csv(path, index=False)
    return path


def test_init_writes_the_expected_config(tmp_path):
    cfg = yaml.safe_load(init_config(_own_file(tmp_path), cluster="cluster_id", id="unit_id"))
    study = cfg["studies"]["pupils"]
    assert study["amputation"] is None
    assert study["data"]["level2"] == ["experience_j"]
    assert study["pooling"] == {"varcomp_scale": "raw"}
    assert study["imputation"]["method"] == {"popularity_ij": "2l.pmm", "gender_ij": "2l.bin",
                                             "experience_j": "2lonly.pmm"}
    row = study["imputation"]["predictor_matrix"]["popularity_ij"]
    assert row == {"cluster_id": -2, "gender_ij": 3, "extraversion_ij": 3, "experience_j": 1,
                   "teacher rating": 3}      # the constant column is left out
    assert study["models"][0]["formula"] == (
        "popularity_ij ~ gender_ij + extraversion_ij + experience_j + `teacher rating` "
        "+ (1 | cluster_id)")


def test_init_notes_a_level2_variable_with_one_typing_error(tmp_path):
    df = mm.simulate_popularity(n_clusters=20, cluster_size=6, seed=3).data
    df.loc[df.index[:15], "popularity_ij"] = np.nan
    df.loc[df.index[df.cluster_id == 7][0], "experience_j"] += 1        # one typo
    path = tmp_path / "typo.csv"
    df.to_csv(path, index=False)
    text = init_config(path, cluster="cluster_id", id="unit_id")
    assert ("# experience_j is constant within all clusters but 7: a data error? Corrected, "
            "it is level 2.") in text
    assert "level-2 variables: none" in text


def test_init_names_the_reference_of_an_unordered_categorical(tmp_path):
    df = mm.simulate_popularity(n_clusters=12, cluster_size=5, seed=3).data
    df["ses"] = np.array(["low", "high", "mid"])[np.arange(len(df)) % 3]
    df.loc[df.index[:6], "popularity_ij"] = np.nan
    path = tmp_path / "ses.csv"
    df.to_csv(path, index=False)
    text = init_config(path, cluster="cluster_id", id="unit_id")
    assert "# Unordered categorical (first category the reference): ses [high, low, mid]." in text
    assert "under data.ordered" in text


def test_init_errors(tmp_path, capsys):
    assert main(["init", str(tmp_path / "nope.csv"), "--cluster", "g"]) == 2
    assert "does not exist" in capsys.readouterr().err
    path = _own_file(tmp_path)
    out = tmp_path / "config.yaml"
    out.write_text("mine")
    assert main(["init", str(path), "--cluster", "cluster_id", "--out", str(out)]) == 2
    assert "exists; choose another --out or add --force" in capsys.readouterr().err
    assert out.read_text() == "mine"
    complete = tmp_path / "complete.csv"
    mm.simulate_popularity(n_clusters=5, cluster_size=4).data.to_csv(complete, index=False)
    assert main(["init", str(complete), "--cluster", "cluster_id"]) == 2
    assert "no variable has missing values" in capsys.readouterr().err


@pytest.mark.slow
def test_init_then_pipeline_end_to_end(tmp_path):
    """Three commands: init, run (only this study: the default one is not merged in), and
    a targeted run with the target before --configfile; on a file written in a European
    locale with '.' for missing values and a column that is never observed."""
    path = _own_file(tmp_path, european=True)
    init = [sys.executable, "-m", "mlmice.cli", "init", str(path), "--cluster", "cluster_id",
            "--id", "unit_id", "--out", str(tmp_path / "mine.yaml")]
    run = subprocess.run(init, capture_output=True, text=True, check=False)
    assert run.returncode == 2 and "separated by ';'" in run.stderr
    run = subprocess.run([*init, "--sep", ";", "--decimal", ","], capture_output=True,
                         text=True, check=False)
    assert run.returncode == 2 and "mixes numbers with the text '.'" in run.stderr
    run = subprocess.run([*init, "--sep", ";", "--decimal", ",", "--na-values", "."],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    data = yaml.safe_load((tmp_path / "mine.yaml").read_text())["studies"]["pupils"]["data"]
    assert data["csv"] == {"sep": ";", "decimal": ",", "na_values": ["."]}
    assert data["drop"] == ["homework"]
    dry = _snakemake(tmp_path, "--dry-run", "--configfile", str(tmp_path / "mine.yaml"))
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert {w["study"] for _, w in _jobs(dry) if "study" in w} == {"pupils"}
    target = "results/pupils/pooled/ri_popularity_ij.parquet"
    run = _snakemake(tmp_path, target, "--configfile", str(tmp_path / "mine.yaml"))
    assert run.returncode == 0, run.stderr[-3000:]
    assert (tmp_path / target).exists()
    assert not (tmp_path / "results/pupils/report.html").exists()
    run = _snakemake(tmp_path, "--configfile", str(tmp_path / "mine.yaml"))
    assert run.returncode == 0, run.stderr[-3000:]
    assert (tmp_path / "results/pupils/report.html").exists()
    assert not (tmp_path / "results/popularity").exists()
    incomplete = mm.read_parquet(tmp_path / "results/pupils/data/incomplete.parquet")
    assert incomplete["popularity_ij"].isna().sum() == pd.read_csv(
        path, sep=";", decimal=",", na_values=["."])["popularity_ij"].isna().sum() > 0
    assert incomplete["teacher rating"].dtype == np.float64
    assert list(incomplete["track"].cat.categories) == ["high", "low", "mid"]
    page = (tmp_path / "results/pupils/report.html").read_text()
    assert "high, low, mid" in page                      # the variables table names them


def test_init_picks_categorical_methods(tmp_path):
    # a text column with a few repeated values is a categorical variable: 2l.polyreg at
    # level 1, 2lonly.polyreg at level 2, and no random-intercept model with it as outcome
    import pandas as pd

    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(30), 8)
    df = pd.DataFrame({"school": g + 1, "score": rng.normal(size=g.size),
                       "kind": np.array(["public", "private", "charter"])[g % 3],
                       "track": rng.choice(["a", "b", "c", "d"], size=g.size)})
    df.loc[rng.random(g.size) < 0.2, "track"] = None
    df.loc[df["school"].isin([2, 5]), "kind"] = None
    df.loc[rng.random(g.size) < 0.1, "score"] = np.nan
    df.to_csv(tmp_path / "own.csv", index=False)
    config = yaml.safe_load(init_config(tmp_path / "own.csv", cluster="school"))
    study = config["studies"]["own"]
    assert study["imputation"]["method"] == {"score": "2l.pmm", "kind": "2lonly.polyreg",
                                             "track": "2l.polyreg"}
    assert [m["name"] for m in study["models"]] == ["ri_score"]

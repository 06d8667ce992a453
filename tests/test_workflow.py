"""The whole pipeline, end to end, through the snakemake command line.

A small study (96 pupils in 12 classes, the tutorial's imputation model, m = 2,
maxit = 3, two analysis models) runs once in a temporary directory; the tests
then check every artifact of DESIGN.md's data contracts, that the pipeline's
chains and pooled tables equal what the engine computes in process, and, from
the job lists of dry runs, that only new work is recomputed (more chains, more
iterations continued from the saved state, a changed formula) and that a bad
config fails before any job runs, naming the key.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.image import imread

from mlmice.compare import COMPARE_COLUMNS
from mlmice.impute.sampler import Mids, run_chain
from mlmice.impute.spec import ImputationSpec
from mlmice.impute.state import ChainState
from mlmice.io import read_parquet
from mlmice.pooling import pooled_table
from mlmice.pooling.table import TABLE_COLUMNS

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
STUDY = "small"
#: The study of the workflow tests, from the workflow's own test config (as in the
#: snakemake-workflows catalog: .test/config_<case>/config.yaml).
CONFIG = yaml.safe_load((REPO / ".test" / "config_small" / "config.yaml").read_text())
MODELS = CONFIG["studies"][STUDY]["models"]
SECTIONS = ["Summary", "1. Data and study", "2. Imputation model", "3. Convergence",
            "4. Imputed against observed values", "5. Pooled results per model",
            "6. Tests between models",
            "7. Comparison with the truth and the complete-case analysis", "8. Warnings",
            "9. Simulation study", "10. Methods paragraph"]

pytestmark = pytest.mark.slow


def _snakemake(workdir: Path, *args: str, cores: int = 2) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory",
           str(workdir), "--cores", str(cores), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=workdir)


def _write_config(workdir: Path, config: dict) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def _jobs(run: subprocess.CompletedProcess) -> list[tuple[str, dict]]:
    """(rule, wildcards) of every job a dry run lists, without the target rule `all`."""
    jobs: list[list] = []
    for line in (run.stdout + run.stderr).splitlines():
        rule = re.match(r"^\s*(?:local)?rule (\w+):\s*$", line)
        if rule:
            jobs.append([rule.group(1), {}])
            continue
        wc = re.match(r"^\s*wildcards: (.*)$", line)
        if wc and jobs:
            jobs[-1][1] = dict(kv.split("=", 1) for kv in wc.group(1).split(", "))
    return [(r, w) for r, w in jobs if r != "all"]


def _rules(jobs) -> dict[str, int]:
    out: dict[str, int] = {}
    for rule, _ in jobs:
        out[rule] = out.get(rule, 0) + 1
    return out


def _dry_run(workdir: Path, config: dict) -> list[tuple[str, dict]]:
    """Job list of a dry run with ``config``; the pipeline's own config is restored after."""
    original = (workdir / "config.yaml").read_text()
    try:
        _write_config(workdir, config)
        run = _snakemake(workdir, "--dry-run")
        assert run.returncode == 0, run.stderr[-3000:]
        return _jobs(run)
    finally:
        (workdir / "config.yaml").write_text(original)


def run_pipeline(workdir: Path, config: dict) -> Path:
    """Write ``config`` into ``workdir`` and run the whole pipeline there; it must pass."""
    _write_config(workdir, config)
    run = _snakemake(workdir)
    assert run.returncode == 0, run.stderr[-5000:]
    return workdir


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return run_pipeline(tmp_path_factory.mktemp("pipeline"), CONFIG)


def _chain_data(results: Path):
    data = read_parquet(results / "impute" / "data.parquet")
    spec = ImputationSpec.from_dict(json.loads((results / "impute" / "spec.json").read_text()),
                                    data)
    return data, spec


# ---------------------------------------------------------------------- artifacts


def test_data_contract_artifacts(pipeline):
    res = pipeline / "results" / STUDY
    complete = read_parquet(res / "data" / "complete.parquet")
    incomplete = read_parquet(res / "data" / "incomplete.parquet")
    assert complete.shape == incomplete.shape == (96, 7)
    assert complete.attrs["labels"] == incomplete.attrs["labels"] == {
        "gender_ij": {0: "boy", 1: "girl"}}
    assert incomplete["popularity_ij"].isna().any()

    # impute/chain_{i}: imputed values (row, variable, value), trace, state
    for c in (1, 2):
        chain = res / "impute" / f"chain_{c}"
        imps = pd.read_parquet(chain / "imputations.parquet")
        assert list(imps.columns) == ["row", "variable", "value"]
        assert imps["row"].dtype == np.int64 and imps["value"].dtype == np.float64
        n_missing = incomplete.isna().sum()
        for variable, group in imps.groupby("variable"):
            if variable != "extraversion_experience":
                assert len(group) == n_missing[variable]
                assert np.array_equal(group["row"], np.flatnonzero(
                    incomplete[variable].isna()))
        trace = pd.read_parquet(chain / "trace.parquet")
        assert list(trace.columns) == ["iteration", "variable", "mean", "sd"]
        assert sorted(trace["iteration"].unique()) == [1, 2, 3]
        state = json.loads((chain / "state.json").read_text())
        assert state["iteration"] == 3 and state["chain"] == c and state["seed"] == 11

    rhat = pd.read_parquet(res / "diagnostics" / "rhat.parquet")
    assert {"variable", "statistic", "rhat", "flag"} <= set(rhat.columns)
    assert set(rhat["variable"]) >= {"popularity_ij", "extraversion_ij"}

    # analysis/{model}: tidy fits per data set with nobs and df_com
    for model in MODELS:
        est = pd.read_parquet(res / "analysis" / model["name"] / "estimates.parquet")
        assert {"dataset", "imputation", "term", "estimate", "std_error", "nobs",
                "df_com"} <= set(est.columns)
        assert est["estimate"].dtype == np.float64 and est["nobs"].dtype == np.int64
        sets = est[["dataset", "imputation"]].drop_duplicates().apply(tuple, axis=1).tolist()
        assert sets == [("truth", 0), ("cca", 0), ("imputation", 1), ("imputation", 2)]
        assert (est.loc[est["dataset"] == "truth", "nobs"] == 96).all()
        assert (est.loc[est["dataset"] == "cca", "nobs"] < 96).all()
        varcorr = pd.read_parquet(res / "analysis" / model["name"] / "varcorr.parquet")
        assert {"grp", "var1", "var2", "vcov", "sdcor"} <= set(varcorr.columns)

        pooled = pd.read_parquet(res / "pooled" / f"{model['name']}.parquet")
        assert list(pooled.columns) == TABLE_COLUMNS
        assert (pooled["m"] == 2).all()
        assert set(pooled.loc[pooled["kind"] == "extra_par", "term"]) == {
            "Intercept~~Intercept|cluster_id", "Residual~~Residual", "ICC|cluster_id"}
        mitml = pd.read_parquet(res / "pooled" / "mitml" / f"{model['name']}.parquet")
        assert set(mitml.loc[mitml["kind"] == "extra_par", "term"]) == {
            "Intercept~~Intercept|cluster_id", "Residual~~Residual", "ICC|cluster_id"}

    tests = pd.read_parquet(res / "tests" / "predictors.parquet")
    assert list(tests["method"]) == ["D1", "D3"]
    assert (tests["df1"] == 3).all() and (tests["p_value"].between(0, 1)).all()
    first = pd.read_parquet(res / "tests" / f"{MODELS[0]['name']}.parquet")
    assert first.empty and list(first.columns) == list(tests.columns)   # no model before it

    compare = pd.read_parquet(res / "compare" / "estimates.parquet")
    assert list(compare.columns) == COMPARE_COLUMNS
    per_model = [pd.read_parquet(res / "compare" / "models" / f"{m['name']}.parquet")
                 for m in MODELS]
    pd.testing.assert_frame_equal(compare, pd.concat(per_model, ignore_index=True))
    truth = pd.read_parquet(res / "analysis" / "predictors" / "estimates.parquet").query(
        "dataset == 'truth' and effect == 'fixed'")
    fixed = compare.query("model == 'predictors' and kind == 'fixed'")
    np.testing.assert_array_equal(fixed["truth"], truth["estimate"])
    assert set(compare["model"]) == {m["name"] for m in MODELS}
    assert set(compare["closer"]) <= {"MI", "CCA", "equal"}

    pngs = list(res.rglob("*.png"))
    assert len(pngs) >= 10
    for png in pngs:
        image = imread(png)
        assert image.ndim == 3 and min(image.shape[:2]) > 100, png


def test_chains_equal_the_engine(pipeline):
    # chain c of the pipeline is run_chain(chain=c) with SeedSequence(seed, spawn_key=(c,))
    res = pipeline / "results" / STUDY
    data, spec = _chain_data(res)
    for c in (1, 2):
        expected = run_chain(data, spec, chain=c, maxit=3, seed=11)
        got = pd.read_parquet(res / "impute" / f"chain_{c}" / "imputations.parquet")
        pd.testing.assert_frame_equal(got, expected.imputations_frame(), check_exact=True)


def test_pooled_tables_equal_the_engine(pipeline):
    res = pipeline / "results" / STUDY
    data, spec = _chain_data(res)
    chains = [ChainState.from_files(res / "impute" / f"chain_{c}", data, spec=spec)
              for c in (1, 2)]
    imp = Mids.from_chains(data, spec, chains)
    for model in MODELS:
        expected = pooled_table(imp.fit(model["formula"], reml=False))
        got = pd.read_parquet(res / "pooled" / f"{model['name']}.parquet")
        # the same fits, refitted: equal up to rounding (a p-value near 1e-29 moves by
        # ~1e-9 relative when its t statistic moves by 1e-12)
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-7, atol=0)


class _Page(HTMLParser):
    """Headings (h1-h3), table cells and all visible text of a report."""

    def __init__(self):
        super().__init__()
        self.headings, self.cells, self.text, self._in = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self._in.append(tag)
        if tag in ("h1", "h2", "h3", "td", "th"):
            (self.headings if tag.startswith("h") and tag != "th" else self.cells).append("")

    def handle_endtag(self, tag):
        while self._in and self._in.pop() != tag:
            pass

    def handle_data(self, data):
        if "style" in self._in or "script" in self._in:
            return
        self.text.append(data)
        for tags, out in ((("h1", "h2", "h3"), self.headings), (("td", "th"), self.cells)):
            if any(t in self._in for t in tags) and out:
                out[-1] += data


#: What a cell or a sentence of the report must never show: missing or infinite values
#: printed by Python or pandas, raw reprs, exponent forms of df, a p-value of exactly 0.
RAW = re.compile(r"\b(nan|NaN|inf|None|NaT)\b|<NA>|array\(|dtype|object at 0x|e\+0\d")


def test_report_html(pipeline):
    """report.html parses; its sections come in order; no cell or text shows a raw value."""
    html = (pipeline / "results" / STUDY / "report.html").read_text()
    page = _Page()
    page.feed(html)
    headings = [h.replace("\u00b6", "").strip() for h in page.headings]   # nbconvert anchors
    positions = [headings.index(h) for h in SECTIONS]
    assert positions == sorted(positions), headings
    assert html.count("data:image/png;base64,") >= 10
    assert "import base64" not in html          # the code is hidden
    # it opens offline: no script, style or image from the network; every figure has an
    # alt text of its own
    assert not re.search(r"""(src|href)=["']https?://""", html), re.findall(
        r"""(?:src|href)=["']https?://[^"']+""", html)[:3]
    assert "No description has been provided" not in html
    assert 'alt="Trace plots: mean and sd of the imputed values' in html
    assert "summary(pool(fit), conf.int = TRUE)" in html
    assert "testEstimates(fit, extra.pars = TRUE)" in html
    bad = [c for c in page.cells if RAW.search(c)]
    assert not bad, bad[:5]
    text = " ".join(page.text)
    assert not RAW.search(text), RAW.search(text)
    # p-values: three decimals or "< 0.001", never 0 or an exponent
    p_cells = re.findall(r"<td[^>]*>(&lt; 0\.001|0\.\d{3}|1\.000)</td>", html)
    assert p_cells
    # the summary, the data section's facts and the methods paragraph
    assert re.search(r"\b\d+ points? to check", text), text[:500]
    assert "96 rows in 12 clusters" in text
    assert "We created m = 2 imputed data sets, each after 3 iterations" in text
    assert "Variable popularity_ij was imputed by 2l.pmm" in text
    assert "commit" in text and "numpy" in text
    # no simulation block: section 9 says so and explains no simulation
    assert "This study has no simulation block" in text
    assert "simulation block: replicates of generated data" not in text


def test_lint_and_snakemake_report(pipeline):
    lint = _snakemake(pipeline, "--lint")
    assert lint.returncode == 0, lint.stdout[-2000:] + lint.stderr[-2000:]
    assert "Congratulations" in lint.stdout + lint.stderr
    run = _snakemake(pipeline, "--report", "report.zip")
    assert run.returncode == 0, run.stderr[-3000:]
    assert (pipeline / "report.zip").stat().st_size > 10_000


# ---------------------------------------------------------------------- incremental runs


def test_changed_formula_reruns_only_that_model(pipeline):
    config = copy.deepcopy(CONFIG)
    config["studies"][STUDY]["models"][1]["formula"] += " + assessment_ij"
    jobs = _dry_run(pipeline, config)
    assert _rules(jobs) == {"analyze": 1, "compare": 1, "report": 1}
    models = {w.get("model") for r, w in jobs if r == "analyze"}
    assert models == {"predictors"}


def test_log_scale_pooling_refits_but_never_reimputes(pipeline):
    # pooling.varcomp_scale reaches the analyze jobs, which pool (and nothing upstream):
    # their tables equal the engine's log-scale pooling of the same imputations
    config = copy.deepcopy(CONFIG)
    config["studies"][STUDY]["pooling"] = {"varcomp_scale": "log"}
    jobs = _dry_run(pipeline, config)
    assert _rules(jobs) == {"analyze": len(MODELS), "compare": 1, "report": 1}
    original = (pipeline / "config.yaml").read_text()
    targets = [f"results/{STUDY}/pooled/{mod['name']}.parquet" for mod in MODELS]
    try:
        _write_config(pipeline, config)
        run = _snakemake(pipeline, *targets)
        assert run.returncode == 0, run.stderr[-3000:]
        res = pipeline / "results" / STUDY
        data, spec = _chain_data(res)
        imp = Mids.from_chains(data, spec, [ChainState.from_files(res / "impute" / f"chain_{c}",
                                                                  data, spec=spec)
                                            for c in (1, 2)])
        for model in MODELS:
            fits = imp.fit(model["formula"], reml=False)
            got = pd.read_parquet(res / "pooled" / f"{model['name']}.parquet")
            expected = pooled_table(fits, varcomp_scale="log")
            pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-7, atol=0)
            raw = pooled_table(fits)
            assert not np.allclose(got["estimate"], raw["estimate"], rtol=1e-9)
    finally:
        (pipeline / "config.yaml").write_text(original)
        run = _snakemake(pipeline, *targets)
        assert run.returncode == 0, run.stderr[-3000:]


def test_more_chains_run_only_the_new_chains(pipeline):
    config = copy.deepcopy(CONFIG)
    config["studies"][STUDY]["imputation"]["m"] = 5
    jobs = _dry_run(pipeline, config)
    chains = sorted(int(w["chain"]) for r, w in jobs if r == "impute")
    assert chains == [3, 4, 5]
    rules = _rules(jobs)
    assert not {"load", "ampute", "validate_spec", "inspect"} & set(rules)
    assert rules["analyze"] == 2 and rules["report"] == 1


def test_more_iterations_continue_from_saved_state(pipeline):
    # last test of the module: it leaves the chains at maxit = 5
    config = copy.deepcopy(CONFIG)
    config["studies"][STUDY]["imputation"]["maxit"] = 5
    jobs = _dry_run(pipeline, config)
    assert sorted(int(w["chain"]) for r, w in jobs if r == "impute") == [1, 2]
    assert not {"load", "ampute", "validate_spec", "inspect"} & set(_rules(jobs))

    _write_config(pipeline, config)
    res = pipeline / "results" / STUDY
    targets = [f"results/{STUDY}/impute/chain_{c}/state.json" for c in (1, 2)]
    run = _snakemake(pipeline, *targets)
    assert run.returncode == 0, run.stderr[-3000:]
    data, spec = _chain_data(res)
    for c in (1, 2):
        log = (pipeline / "logs" / "impute" / STUDY / f"chain_{c}.log").read_text()
        assert "continuing from the state saved at iteration 3" in log
        assert "iteration 4/5" in log and "iteration 5/5" in log
        assert "iteration 1/5" not in log               # 2 more iterations, not 5
        fresh = run_chain(data, spec, chain=c, maxit=5, seed=11)   # bit-identical
        got = pd.read_parquet(res / "impute" / f"chain_{c}" / "imputations.parquet")
        pd.testing.assert_frame_equal(got, fresh.imputations_frame(), check_exact=True)
        trace = pd.read_parquet(res / "impute" / f"chain_{c}" / "trace.parquet")
        pd.testing.assert_frame_equal(trace, fresh.trace_frame().drop(columns="chain"),
                                      check_exact=True)


# ---------------------------------------------------------------------- bad configs


def _bad(config_change):
    config = copy.deepcopy(CONFIG)
    config_change(config["studies"][STUDY])
    return config


BAD = {
    "unknown key": (lambda s: s["imputation"].update(maxiter=3), "maxiter"),
    "unknown variable": (lambda s: s["imputation"]["method"].update(popularity="2l.pmm"),
                         "studies.small.imputation.method"),
    "wrong code": (lambda s: s["imputation"]["predictor_matrix"]["gender_ij"].update(
        popularity_ij=5), "predictor_matrix"),
    "2lonly on level 1": (lambda s: s["imputation"]["method"].update(gender_ij="2lonly.pmm"),
                          "studies.small.imputation.method.gender_ij"),
    "method typo": (lambda s: s["imputation"]["method"].update(gender_ij="2l.binn"),
                    "studies.small.imputation.method.gender_ij: unknown imputation method "
                    "'2l.binn'"),
    "passive unknown name": (lambda s: s["imputation"]["method"].update(
        popularity_ij="~ I(extraversion_ij * experiance_j)"),
        "studies.small.imputation.method.popularity_ij: passive expression "
        "'~ I(extraversion_ij * experiance_j)' names unknown variable(s) experiance_j"),
    "pooling scale": (lambda s: s.update(pooling={"varcomp_scale": "geometric"}),
                      "varcomp_scale"),
    "passive code": (lambda s: s["imputation"]["method"].update(
        popularity_ij='~ I(__import__("os"))'),
        "studies.small.imputation.method.popularity_ij: passive expression"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_config_fails_before_any_job(tmp_path, case):
    change, key = BAD[case]
    _write_config(tmp_path, _bad(change))
    run = _snakemake(tmp_path, "--dry-run")
    out = run.stdout + run.stderr
    assert run.returncode != 0
    assert key in out, out[-2000:]
    assert _jobs(run) == []
    assert not (tmp_path / "results").exists()


def test_method_options_reach_the_chains(tmp_path):
    # imputation.method_options -> validate_spec -> spec.json -> every chain:
    # 2l.smc gets the analysis model it must be compatible with
    config = copy.deepcopy(CONFIG)
    imp = config["studies"][STUDY]["imputation"]
    model = ("popularity_ij ~ gender_ij + extraversion_ij + experience_j"
             " + extraversion_ij:experience_j + (1 + extraversion_ij | cluster_id)")
    imp["method"].update({"popularity_ij": "2l.smc", "extraversion_ij": "2l.smc"})
    imp["method_options"] = {"popularity_ij": {"model": model},
                             "extraversion_ij": {"model": model, "n_mh": 5}}
    _write_config(tmp_path, config)
    target = f"results/{STUDY}/impute/chain_1/imputations.parquet"
    run = _snakemake(tmp_path, target)
    assert run.returncode == 0, run.stderr[-3000:]
    spec = json.loads((tmp_path / f"results/{STUDY}/impute/spec.json").read_text())
    assert spec["options"]["extraversion_ij"] == {"model": model, "n_mh": 5}
    data = read_parquet(tmp_path / f"results/{STUDY}/impute/data.parquet")
    expected = run_chain(data, ImputationSpec.from_dict(spec, data), chain=1, maxit=3, seed=11)
    expected.to_files(tmp_path / "engine")
    got = pd.read_parquet(tmp_path / target)
    pd.testing.assert_frame_equal(got, pd.read_parquet(tmp_path / "engine" /
                                                       "imputations.parquet"))
    assert np.isfinite(got["value"]).all()

    # an option the method does not know fails in validate_spec, naming it
    imp["method_options"]["extraversion_ij"]["n_mhh"] = 1
    _write_config(tmp_path / "bad", config)
    run = _snakemake(tmp_path / "bad", target)
    assert run.returncode != 0
    assert "n_mhh" in (run.stdout + run.stderr + "".join(
        p.read_text() for p in (tmp_path / "bad" / "logs").rglob("*.log")))

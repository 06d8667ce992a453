# Input functions and params slices of the stages after the data stage
# (inspect, impute, analyze, pool, report), kept apart from the rules as
# `snakemake --lint` asks. Included after common.smk.

from pathlib import Path

# ---------------------------------------------------------------------- inspect


def analysis_variables(wildcards):
    """The variables to inspect: all but the cluster and id columns."""
    data = STUDIES[wildcards.study]["data"]
    return {"exclude": [v for v in (data["cluster"], data["id"]) if v is not None]}


# ---------------------------------------------------------------------- impute


def imputation(study):
    """The imputation block of a study's config."""
    return STUDIES[study]["imputation"]


def chain_numbers(study):
    """Chains 1..m of a study."""
    return list(range(1, imputation(study)["m"] + 1))


def chain_files(study, name):
    """One file of every chain of a study, in chain order."""
    return [f"results/{study}/impute/chain_{c}/{name}" for c in chain_numbers(study)]


def chain_inputs(wildcards):
    """The imputed values of every chain (input of the analysis stages)."""
    return chain_files(wildcards.study, "imputations.parquet")


def spec_params(wildcards):
    """Method vector, predictor matrix and cluster variable for mlmice's validate_spec."""
    study = wildcards.study
    imp = imputation(study)
    return {
        "method": dict(imp["method"]),
        "predictor_matrix": {t: dict(row) for t, row in imp["predictor_matrix"].items()},
        "method_options": {v: dict(o) for v, o in imp.get("method_options", {}).items()},
        "visit_sequence": imp.get("visit_sequence"),
        "cluster": STUDIES[study]["data"]["cluster"],
    }


# ---------------------------------------------------------------------- analyze


def models(study):
    """The study's analysis models, in order."""
    return STUDIES[study]["models"]


def model_names(study):
    return [model["name"] for model in models(study)]


def model_config(study, name):
    """One model of a study by name; an unknown name is an error naming the study."""
    for model in models(study):
        if model["name"] == name:
            return model
    raise ConfigError(f"study {study!r} has no model named {name!r} "
                      f"(models: {', '.join(model_names(study))})")


def model_params(wildcards):
    """Name, formula and fitting options of the model in the wildcards."""
    model = model_config(wildcards.study, wildcards.model)
    return {"name": model["name"], "formula": " ".join(model["formula"].split()),
            "reml": model["reml"]}


def analysis_inputs(wildcards):
    """Complete data (if any), incomplete data, and every chain's imputations."""
    study = wildcards.study
    out = {"incomplete": f"results/{study}/data/incomplete.parquet",
           "imputed_data": f"results/{study}/impute/data.parquet",
           "spec": f"results/{study}/impute/spec.json",
           "chains": chain_files(study, "imputations.parquet")}
    if has_complete(study):
        out["complete"] = f"results/{study}/data/complete.parquet"
    return out


def analysis_files(study, model):
    return {name: f"results/{study}/analysis/{model}/{name}.parquet"
            for name in ("estimates", "vcov", "varcorr", "fits")}


# ---------------------------------------------------------------------- analyze: tests


def previous_model(study, name):
    """The model before ``name`` in the study's sequence (tests compare the two)."""
    names = model_names(study)
    k = names.index(model_config(study, name)["name"])
    if k == 0:
        raise ConfigError(f"study {study!r}: model {name!r} is the first of the sequence; "
                          "there is no model before it to test against")
    return model_config(study, names[k - 1])


def null_model_params(wildcards):
    """The model before the one in the wildcards (the null model of its tests), or None
    for the first model of the sequence."""
    study, name = wildcards.study, wildcards.model
    if model_names(study).index(model_config(study, name)["name"]) == 0:
        return None
    null = previous_model(study, name)
    return {"name": null["name"], "formula": " ".join(null["formula"].split()),
            "reml": null["reml"]}


def test_names(study):
    """Models that have a model before them."""
    return model_names(study)[1:]


# ---------------------------------------------------------------------- report


REPORT_NOTEBOOK = str(Path(workflow.current_basedir).parent / "notebooks" / "report.ipynb")


def report_inputs(wildcards):
    """Every artifact the report shows (so it is rebuilt when any changes)."""
    study = wildcards.study
    names = model_names(study)
    out = {
        "notebook": REPORT_NOTEBOOK,
        "data": f"results/{study}/impute/data.parquet",
        "inspect": [f"results/{study}/inspect/{f}" for f in
                    ("missing.parquet", "md_pattern.parquet", "flux.parquet", "observed.png",
                     "pattern.png", "corr.png", "flux.png")],
        "spec": [f"results/{study}/impute/methods.parquet", f"results/{study}/impute/spec.json",
                 f"results/{study}/impute/predictor_matrix.png"],
        "diagnostics": [f"results/{study}/diagnostics/{f}" for f in
                        ("trace.png", "rhat.parquet", "events.parquet")],
        "imputed": f"results/{study}/diagnostics/imputed",
        "pooled": [f"results/{study}/pooled/{n}.parquet" for n in names]
        + [f"results/{study}/pooled/mitml/{n}.parquet" for n in names],
        "fits": [f"results/{study}/analysis/{n}/fits.parquet" for n in names],
        "tests": [f"results/{study}/tests/{n}.parquet" for n in test_names(study)],
        "compare": [f"results/{study}/compare/estimates.parquet",
                    f"results/{study}/compare/estimates.png"],
        "simulation": simulation_outputs(study),
    }
    return out


def report_params(wildcards):
    """The notebook's parameters."""
    study = wildcards.study
    imp = imputation(study)
    return {"study": study, "results_dir": f"results/{study}",
            "models": [{"name": m["name"], "formula": " ".join(m["formula"].split()),
                        "reml": m["reml"]} for m in models(study)],
            "m": imp["m"], "maxit": imp["maxit"], "seed": imp["seed"],
            "rhat_threshold": imp["rhat_threshold"],
            "has_truth": has_complete(study),
            "has_simulation": simulation(study) is not None,
            "config": json.loads(json.dumps(STUDIES[study], default=str))}


def report_outputs(study):
    """The report of a study that has an imputation model and analysis models.

    A study without either stops at its data files (the data stage's targets).
    """
    if not imputation(study)["method"] or not models(study):
        return []
    return [f"results/{study}/report.html"]


# ---------------------------------------------------------------------- simulation


def simulation(study):
    """The study's simulation block (None when it has none)."""
    return STUDIES[study].get("simulation")


def simulation_batches(study):
    """Batch numbers 0..B-1 of the study's simulation."""
    sim = simulation(study)
    return list(range(-(-sim["replicates"] // sim["batch"])))


def simulation_batch_files(study, failures=False):
    suffix = "_failures" if failures else ""
    return [f"results/{study}/simulation/batches/batch_{b:04d}{suffix}.parquet"
            for b in simulation_batches(study)]


def batch_replicates(wildcards):
    """The replicates of one batch: batch * size .. min(replicates, (batch + 1) * size) - 1."""
    sim = simulation(wildcards.study)
    start = int(wildcards.batch) * sim["batch"]
    return list(range(start, min(start + sim["batch"], sim["replicates"])))


def simulation_params(wildcards):
    """The simulation block with the study's amputation, models and cluster variable."""
    study = wildcards.study
    sim = simulation(study)
    amputation = STUDIES[study]["amputation"]
    if amputation is None:
        raise ConfigError(f"config error at {_key(study, 'simulation')}: a simulation needs "
                          f"the study's amputation block ({_key(study, 'amputation')} is "
                          "null)")
    return {"seed": sim["seed"], "generator": sim["generator"], "arms": sim["arms"],
            "amputation": amputation, "models": models(study),
            "cluster": STUDIES[study]["data"]["cluster"],
            "varcomp_scale": STUDIES[study]["pooling"]["varcomp_scale"]}


def simulation_input(wildcards):
    """The resampled file, when the generator resamples one (tracked as an input)."""
    resample = simulation(wildcards.study)["generator"].get("resample")
    return {"file": resample["file"]} if resample else {}


def simulation_runtime(wildcards):
    """Minutes to ask of a cluster for one batch: 2 per replicate and arm, at least 10."""
    sim = simulation(wildcards.study)
    return max(10, 2 * sim["batch"] * len(sim["arms"]))


def simulation_outputs(study):
    """The summary files of a study's simulation (none without a simulation block)."""
    if simulation(study) is None:
        return []
    return [f"results/{study}/simulation/{name}"
            for name in ("summary.parquet", "failures.parquet", "performance.png")]


def chain_outputs(study):
    """Every file of every chain: targets of `all`, so that a deleted or damaged chain
    file is recomputed (Snakemake does not rerun a job for a missing intermediate file
    when everything after it is present)."""
    if not report_outputs(study):
        return []
    return [path for name in ("imputations.parquet", "trace.parquet", "events.parquet",
                              "state.json")
            for path in chain_files(study, name)]

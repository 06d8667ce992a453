# Helpers for the rules: config checks that need the data's variable names,
# per-study input functions, params slices and wildcard constraints.
# Schema validation (types, unknown keys, defaults) happens in the Snakefile.

import difflib
import json
import re
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

from mlmice.pipeline.config import ampute_arguments
from mlmice.formula import FormulaError, parse_formula
from mlmice.impute.passive import parse_passive
from mlmice.impute.methods.base import check_options
from mlmice.impute.spec import SpecError, method_level
from mlmice.io import read_columns
from mlmice.simulate import COLUMNS as SIMULATED_COLUMNS
from mlmice.simulation.generators import generated_columns

STUDIES = config["studies"]


class ConfigError(WorkflowError):
    """A configuration that cannot work with the data; names the key at fault."""


def _key(study, *parts):
    path = f"studies.{study}"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def simulated(study):
    """True when the study runs on the embedded simulated data."""
    return STUDIES[study]["data"]["file"] is None


def amputed(study):
    """True when the study's incomplete data are made by the ampute rule."""
    return STUDIES[study]["amputation"] is not None


def has_complete(study):
    """True when a complete version of the data exists (truth for comparisons)."""
    return amputed(study) or STUDIES[study]["data"]["complete_file"] is not None


def data_columns(study):
    """Column names of the study's data (after data.variables and data.drop), read from the
    file header where possible."""
    data = STUDIES[study]["data"]
    if data["file"] is None:
        columns = list(SIMULATED_COLUMNS)
    else:
        try:
            columns = read_columns(data["file"], object=data["object"], csv=data["csv"])
        except (OSError, ValueError) as exc:
            raise ConfigError(f"config error at {_key(study, 'data', 'file')}: {exc}") from None
    for key in ("variables", "drop"):
        _check_names(study, list(data[key] or []), columns, "data", key)
    keep = data["variables"] if data["variables"] is not None else columns
    roles = [c for c in (data["cluster"], data["id"]) if c in columns]
    return roles + [c for c in keep if c not in roles and c not in set(data["drop"])]


def _check_names(study, names, known, *key, listed=True, data_name="the data"):
    """Every name must be a variable of the data; the error names the key (a list entry by
    its position when ``listed`` is True, a mapping key by its name when False, the key
    itself when None: a formula) and the closest variable."""
    known = list(known)
    for i, name in enumerate(names):
        if name not in known:
            if listed is None or (listed and len(names) == 1):
                where = _key(study, *key)
            else:
                where = _key(study, *key, i if listed else name)
            close = difflib.get_close_matches(str(name), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"config error at {where}: variable {name!r} is not in "
                              f"{data_name}{hint} (variables: {', '.join(known)})")


def _formula_variables(study, i, formula):
    """The data variables of a model formula, by the engine's own formula parser (backtick
    quoted names included), so the config check accepts exactly what lmer accepts."""
    try:
        return list(parse_formula(formula).variables)
    except FormulaError as exc:
        raise ConfigError(f"config error at {_key(study, 'models', i, 'formula')}: {exc}") from None


def _check_method(study, name, meth, known, *key):
    """A method must be registered; a passive expression must parse and name known variables."""
    where = f"config error at {_key(study, *key, 'method', name)}"
    if not meth:
        return
    try:
        method_level(meth)
        expr = parse_passive(meth) if meth.strip().startswith("~") else None
    except (SpecError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    unknown = sorted(set(expr.variables) - set(known)) if expr is not None else []
    if unknown:
        raise ConfigError(f"{where}: passive expression {meth!r} names unknown variable(s) "
                          f"{', '.join(unknown)} (variables: {', '.join(known)})")


def check_study(study):
    """Check every variable name of one study's config against its data."""
    cfg = STUDIES[study]
    data = cfg["data"]
    columns = data_columns(study)
    if data["file"] is None and not amputed(study):
        raise ConfigError(f"config error at {_key(study, 'amputation')}: the simulated data "
                          "are complete; give an amputation (or a data.file)")
    if data["complete_file"] is not None and amputed(study):
        raise ConfigError(f"config error at {_key(study, 'data', 'complete_file')}: not used "
                          "with amputation (the amputed data.file is the complete version)")
    _check_names(study, [data["cluster"]], columns, "data", "cluster")
    if data["id"] is not None:
        _check_names(study, [data["id"]], columns, "data", "id")
    _check_names(study, data["level2"], columns, "data", "level2")
    _check_names(study, list(data["labels"]), columns, "data", "labels", listed=False)
    _check_names(study, list(data["ordered"]), columns, "data", "ordered", listed=False)
    # the amputation and the models serve the case study (when it imputes) and the
    # simulation (when there is one): each must fit the data of the ones that run
    sim = cfg.get("simulation")
    targets = []
    known = _check_imputation(study, cfg["imputation"], columns, data, "imputation")
    if cfg["imputation"]["method"] or sim is None:
        targets.append(("the data", [c for c in columns if c not in (data["cluster"], data["id"])],
                        known))
    if sim is not None:
        sim_columns, sim_cluster, sim_id = _simulation_columns(study, sim)
        sim_known = list(sim_columns)
        for arm, block in sim["arms"].items():
            sim_known += _check_imputation(study, block, sim_columns, data, "simulation",
                                           "arms", arm, cluster=sim_cluster)
        targets.append(("the simulated data (simulation.generator)",
                        [c for c in sim_columns if c not in (sim_cluster, sim_id)],
                        list(dict.fromkeys(sim_known))))
    amp = cfg["amputation"]
    for data_name, variables, _ in targets:
        if amp is None:
            break
        for i, pattern in enumerate(amp["patterns"]):
            _check_names(study, pattern["missing"], variables, "amputation", "patterns", i,
                         "missing", data_name=data_name)
            _check_names(study, list(pattern["weights"] or {}), variables, "amputation",
                         "patterns", i, "weights", listed=False, data_name=data_name)
        _check_names(study, list(amp["level2"]), variables, "amputation", "level2",
                     listed=False, data_name=data_name)
    names = [model["name"] for model in cfg["models"]]
    for i, model in enumerate(cfg["models"]):
        if names.count(model["name"]) > 1:
            raise ConfigError(f"config error at {_key(study, 'models', i, 'name')}: "
                              f"model name {model['name']!r} is used twice")
        for data_name, _, known_here in targets:
            _check_names(study, _formula_variables(study, i, model["formula"]), known_here,
                         "models", i, "formula", listed=None, data_name=data_name)


def _check_imputation(study, imp, columns, data, *key, cluster=None):
    """Method names, passive expressions, predictor-matrix names and method options of an
    imputation block (the study's or a simulation arm's); returns the known variables."""
    passive = [v for v, meth in imp["method"].items() if meth.strip().startswith("~")]
    known = columns + [v for v in passive if v not in columns]
    _check_names(study, list(imp["method"]), known, *key, "method", listed=False)
    for name, meth in imp["method"].items():
        _check_method(study, name, meth, known, *key)
        if meth.strip().startswith("2lonly") and name not in data["level2"]:
            raise ConfigError(f"config error at {_key(study, *key, 'method', name)}: "
                              f"{meth!r} imputes level-2 variables only, but {name!r} is not "
                              f"declared level 2 (data.level2: {list(data['level2'])})")
    for target, row in imp["predictor_matrix"].items():
        _check_names(study, [target], known, *key, "predictor_matrix")
        _check_names(study, list(row), known, *key, "predictor_matrix", target, listed=False)
    for name, opts in (imp.get("method_options") or {}).items():
        where = f"config error at {_key(study, *key, 'method_options', name)}"
        meth = imp["method"].get(name, "")
        if not meth or meth.strip().startswith("~"):
            raise ConfigError(f"{where}: {name!r} has no imputation method in "
                              f"{_key(study, *key, 'method')}")
        try:
            check_options(meth, opts, variable=name, columns=known,
                          cluster=cluster or data["cluster"])
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return known


def _simulation_columns(study, sim):
    """Column names, cluster and id variable of the data a simulation generates."""
    try:
        return generated_columns(sim["generator"])
    except (OSError, ValueError) as exc:
        raise ConfigError(f"config error at "
                          f"{_key(study, 'simulation', 'generator', 'resample', 'file')}: "
                          f"{exc}") from None


def stop_notice(study):
    """Why a study stops at its data files (no imputation model or no analysis model).

    None when it runs to its report. Said at every start, so that a config without
    ``imputation.method`` or ``models`` does not end in silence after loading the data.
    """
    cfg = STUDIES[study]
    missing = [_key(study, *k.split(".")) for k, empty in (
        ("imputation.method", not cfg["imputation"]["method"]),
        ("models", not cfg["models"])) if empty]
    if not missing:
        return None
    if cfg.get("simulation") is not None and cfg["models"]:
        # a study that only simulates: its case study stops at the data, by design
        return (f"{study}: {missing[0]} is empty, so the case study stops after loading "
                f"its data; the simulation runs (results/{study}/simulation/), without a "
                "report (which needs an imputed case study)")
    path = cfg["data"]["file"] or "<data file>"
    return (f"{study}: {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} empty, "
            f"so this study stops after loading its data (results/{study}/data/). For a "
            f"commented starting config run: mlmice init {path} --cluster "
            f"{cfg['data']['cluster']} --out mine.yaml")


for _study in STUDIES:
    check_study(_study)
    if stop_notice(_study):
        logger.warning(stop_notice(_study))


def _regex(names):
    """Wildcard constraint matching exactly these study names (or nothing)."""
    return "|".join(re.escape(n) for n in names) if names else "(?!x)x"


AMPUTED = _regex([s for s in STUDIES if amputed(s)])
NOT_AMPUTED = _regex([s for s in STUDIES if not amputed(s)])
WITH_COMPLETE = _regex([s for s in STUDIES if has_complete(s)])

ALL_STUDIES = _regex(list(STUDIES))


# Which ready job runs first when cores are short (Snakemake's `priority:`): the
# longer a job's path to the report, the earlier it runs, so that the long single
# jobs (the analysis chain, the figures) do not start last and leave a core idle
# while the report waits. The path lengths are job seconds of the default study
# (bench/bench_pipeline.py): impute 1.2 + analyze 1 + compare 1.3 + report 3.8,
# plot_imputed 2 + report, trace 1.6 + report, inspect 2 + report.
PRIORITY = {"impute": 50, "analyze": 40, "plot_imputed": 35, "trace": 30, "compare": 20,
            "inspect": 5}


def data_outputs(study):
    """The data files of one study."""
    out = [f"results/{study}/data/incomplete.parquet"]
    if has_complete(study):
        out.insert(0, f"results/{study}/data/complete.parquet")
    return out


def all_outputs():
    """The final targets: every study's data files (later stages add theirs)."""
    return [path for study in STUDIES for path in data_outputs(study)]


# ---------------------------------------------------------------------- input functions


def _complete_source(study):
    data = STUDIES[study]["data"]
    return data["file"] if amputed(study) else data["complete_file"]


def complete_input(wildcards):
    """The file the complete data are read from ({} for simulated data)."""
    path = _complete_source(wildcards.study)
    return {} if path is None else {"file": path}


def incomplete_input(wildcards):
    """The user's incomplete data file."""
    return {"file": STUDIES[wildcards.study]["data"]["file"]}


# ---------------------------------------------------------------------- params slices


def _read_options(study):
    data = STUDIES[study]["data"]
    return {"cluster": data["cluster"], "id": data["id"], "object": data["object"],
            "level2": list(data["level2"]), "labels": dict(data["labels"]),
            "variables": data["variables"], "drop": list(data["drop"]),
            "csv": {**data["csv"], "na_values": list(data["csv"]["na_values"])},
            "ordered": {k: list(v) for k, v in data["ordered"].items()}}


def complete_params(wildcards):
    """How to make the complete data: simulate, or read the complete file."""
    study = wildcards.study
    if simulated(study):
        data = STUDIES[study]["data"]
        return {"simulate": dict(data["simulate"]),
                "select": {"cluster": data["cluster"], "id": data["id"],
                           "variables": data["variables"], "drop": list(data["drop"])}}
    return {"read": _read_options(study)}


def incomplete_params(wildcards):
    """How to read the user's incomplete file."""
    return {"read": _read_options(wildcards.study)}


def ampute_params(wildcards):
    """Keyword arguments of mlmice.ampute for the study."""
    study = wildcards.study
    return ampute_arguments(STUDIES[study]["amputation"],
                            cluster=STUDIES[study]["data"]["cluster"])

# mlmice: multiple imputation of incomplete multilevel data.
# The stages of the tutorial "Imputation of incomplete multilevel data"
# (Oberman and Vink) as cached jobs; the case study is config.yaml.


import sys
from pathlib import Path

from snakemake.common.configfile import load_configfile
from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

from mlmice.config_check import config_errors
from mlmice.pipeline import cancel_pending_timers, failed_job_messages

min_version("9.0")


# The case study in config.yaml runs only when no --configfile is given: a user's
# config replaces it instead of merging into it (Snakemake would otherwise run both).
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


# every schema violation as one line naming its key path, before Snakemake's own
# validation (which fills in the defaults)
_problems = config_errors(
    config, load_configfile(Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")
)
if _problems:
    raise WorkflowError("\n".join(_problems))
validate(config, schema="workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/stages.smk"


wildcard_constraints:
    study=ALL_STUDIES,
    chain=r"[1-9][0-9]*",
    model=r"[A-Za-z0-9_-]+",
    batch=r"[0-9]{4}[0-9]*",


include: "workflow/rules/data.smk"
include: "workflow/rules/inspect.smk"
include: "workflow/rules/impute.smk"
include: "workflow/rules/analyze.smk"
include: "workflow/rules/pool.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/simulation.smk"


# When the workflow ends, Snakemake's job-rate timers would keep the process alive
# for about a second more (mlmice.pipeline.hooks).
onsuccess:
    cancel_pending_timers()


onerror:
    cancel_pending_timers()
    # each script writes its error to its own log; show it here, where the user looks
    for message in failed_job_messages(log):
        print(f"mlmice: {message}", file=sys.stderr)


# seconds of work each: on a cluster they run on the submitting machine
localrules:
    load,
    load_incomplete,
    ampute,
    validate_spec,
    trace,
    compare,
    simulation_summary,


rule all:
    input:
        all_outputs(),
        [report_outputs(study) for study in STUDIES],
        [simulation_outputs(study) for study in STUDIES],
        [chain_outputs(study) for study in STUDIES],
    default_target: True

# Stage 1, data: the analysis frames every later stage reads.
#   results/{study}/data/complete.parquet    when a complete version exists
#   results/{study}/data/incomplete.parquet  the data to impute
# Binary variables are coded 0/1 with their labels in the Parquet metadata.


rule load:
    input:
        unpack(complete_input),
    output:
        data="results/{study}/data/complete.parquet",
    log:
        "logs/load/{study}.log",
    params:
        source=complete_params,
    wildcard_constraints:
        study=WITH_COMPLETE,
    conda:
        "../../envs/mlmice.yaml"
    script:
        "../../scripts/load.py"


rule load_incomplete:
    input:
        unpack(incomplete_input),
    output:
        data="results/{study}/data/incomplete.parquet",
    log:
        "logs/load_incomplete/{study}.log",
    params:
        source=incomplete_params,
    wildcard_constraints:
        study=NOT_AMPUTED,
    conda:
        "../../envs/mlmice.yaml"
    script:
        "../../scripts/load.py"


rule ampute:
    input:
        complete="results/{study}/data/complete.parquet",
    output:
        incomplete="results/{study}/data/incomplete.parquet",
    log:
        "logs/ampute/{study}.log",
    params:
        amputation=ampute_params,
    wildcard_constraints:
        study=AMPUTED,
    conda:
        "../../envs/mlmice.yaml"
    script:
        "../../scripts/ampute.py"

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
    benchmark:
        "benchmarks/load/{study}.tsv"
    params:
        source=complete_params,
    wildcard_constraints:
        study=WITH_COMPLETE,
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
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
    benchmark:
        "benchmarks/load_incomplete/{study}.tsv"
    params:
        source=incomplete_params,
    wildcard_constraints:
        study=NOT_AMPUTED,
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
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
    benchmark:
        "benchmarks/ampute/{study}.tsv"
    params:
        amputation=ampute_params,
    wildcard_constraints:
        study=AMPUTED,
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/mlmice.yaml"
    script:
        "../../scripts/ampute.py"

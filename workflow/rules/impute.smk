# Stage 3, imputation: the specification checked once, one job per chain,
# then the chain diagnostics (trace plots, R-hat) and imputed-vs-observed plots.
#   results/{study}/impute/data.parquet        incomplete data + passive variables
#   results/{study}/impute/spec.json           the validated imputation model
#   results/{study}/impute/chain_{chain}/      imputations, trace, events, state
#   results/{study}/impute/saved/...           chain states kept to continue later
#   results/{study}/diagnostics/...            trace, R-hat, imputed-vs-observed


rule validate_spec:
    input:
        data="results/{study}/data/incomplete.parquet",
    output:
        data="results/{study}/impute/data.parquet",
        spec="results/{study}/impute/spec.json",
        methods="results/{study}/impute/methods.parquet",
    log:
        "logs/validate_spec/{study}.log",
    benchmark:
        "benchmarks/validate_spec/{study}.tsv"
    params:
        spec=spec_params,
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/mlmice.yaml"
    script:
        "../../scripts/validate_spec.py"


rule impute:
    input:
        data="results/{study}/impute/data.parquet",
        spec="results/{study}/impute/spec.json",
    output:
        imputations="results/{study}/impute/chain_{chain}/imputations.parquet",
        trace="results/{study}/impute/chain_{chain}/trace.parquet",
        events="results/{study}/impute/chain_{chain}/events.parquet",
        state="results/{study}/impute/chain_{chain}/state.json",
    log:
        "logs/impute/{study}/chain_{chain}.log",
    benchmark:
        "benchmarks/impute/{study}/chain_{chain}.tsv"
    params:
        maxit=lambda wildcards: imputation(wildcards.study)["maxit"],
        seed=lambda wildcards: imputation(wildcards.study)["seed"],
        saved=lambda wildcards: f"results/{wildcards.study}/impute/saved",
    priority: PRIORITY["impute"]
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    conda:
        "../../envs/mlmice.yaml"
    script:
        "../../scripts/impute.py"


rule trace:
    input:
        data="results/{study}/impute/data.parquet",
        spec="results/{study}/impute/spec.json",
        traces=lambda wildcards: chain_files(wildcards.study, "trace.parquet"),
        events=lambda wildcards: chain_files(wildcards.study, "events.parquet"),
    output:
        trace="results/{study}/diagnostics/trace.parquet",
        rhat="results/{study}/diagnostics/rhat.parquet",
        events="results/{study}/diagnostics/events.parquet",
        plot=report(
            "results/{study}/diagnostics/trace.png",
            caption="../report/trace.rst",
            category="3. Convergence",
        ),
    log:
        "logs/trace/{study}.log",
    benchmark:
        "benchmarks/trace/{study}.tsv"
    params:
        threshold=lambda wildcards: imputation(wildcards.study)["rhat_threshold"],
    priority: PRIORITY["trace"]
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/mlmice.yaml"
    script:
        "../../scripts/trace.py"


rule plot_imputed:
    input:
        data="results/{study}/impute/data.parquet",
        spec="results/{study}/impute/spec.json",
        chains=chain_inputs,
    output:
        plots=report(
            directory("results/{study}/diagnostics/imputed"),
            patterns=["{kind}_{variable}.png"],
            caption="../report/imputed.rst",
            category="4. Imputed vs observed",
        ),
    log:
        "logs/plot_imputed/{study}.log",
    benchmark:
        "benchmarks/plot_imputed/{study}.tsv"
    priority: PRIORITY["plot_imputed"]
    threads: 1
    resources:
        mem_mb=1500,
        runtime=20,
    conda:
        "../../envs/mlmice.yaml"
    script:
        "../../scripts/plot_imputed.py"

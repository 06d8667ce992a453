# Stage 2, inspection of the incomplete data (the tutorial's section 3):
# observed-value distributions, missing-data pattern, correlations of the observed
# values, influx/outflux, and the predictor matrix of the validated imputation model.
#   results/{study}/inspect/{observed,pattern,corr,flux}.png
#   results/{study}/inspect/{missing,md_pattern,flux}.parquet
#   results/{study}/impute/predictor_matrix.png


rule inspect:
    input:
        data="results/{study}/data/incomplete.parquet",
        spec="results/{study}/impute/spec.json",
    output:
        missing="results/{study}/inspect/missing.parquet",
        md_pattern="results/{study}/inspect/md_pattern.parquet",
        flux="results/{study}/inspect/flux.parquet",
        observed_plot=report(
            "results/{study}/inspect/observed.png",
            caption="../report/observed.rst",
            category="1. Data and study",
        ),
        pattern_plot=report(
            "results/{study}/inspect/pattern.png",
            caption="../report/pattern.rst",
            category="1. Data and study",
        ),
        corr_plot=report(
            "results/{study}/inspect/corr.png",
            caption="../report/corr.rst",
            category="1. Data and study",
        ),
        flux_plot=report(
            "results/{study}/inspect/flux.png",
            caption="../report/flux.rst",
            category="1. Data and study",
        ),
        predictor_matrix=report(
            "results/{study}/impute/predictor_matrix.png",
            caption="../report/predictor_matrix.rst",
            category="2. Imputation model",
        ),
    log:
        "logs/inspect/{study}.log",
    benchmark:
        "benchmarks/inspect/{study}.tsv"
    params:
        variables=analysis_variables,
    priority: PRIORITY["inspect"]
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/mlmice.yaml"
    script:
        "../../scripts/inspect.py"

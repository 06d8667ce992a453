# Stage 5, pooling and comparison:
#   results/{study}/pooled/{model}.parquet          mice::pool + summary for the fixed
#                                                   effects, mitml's pooled variance
#                                                   components (kind = extra_par)
#   results/{study}/pooled/mitml/{model}.parquet    mitml::testEstimates(extra.pars = TRUE)
#   results/{study}/compare/models/{model}.parquet  truth, CCA and MI side by side
#   results/{study}/compare/estimates.parquet       all models; + estimates.png
# The per-model comparison is written by the pool job (it needs the same inputs
# and no fit), which saves one job start per model.


rule pool:
    input:
        estimates="results/{study}/analysis/{model}/estimates.parquet",
        vcov="results/{study}/analysis/{model}/vcov.parquet",
        varcorr="results/{study}/analysis/{model}/varcorr.parquet",
        fits="results/{study}/analysis/{model}/fits.parquet",
    output:
        pooled="results/{study}/pooled/{model}.parquet",
        mitml="results/{study}/pooled/mitml/{model}.parquet",
        compare="results/{study}/compare/models/{model}.parquet",
    params:
        varcomp_scale=lambda wildcards: STUDIES[wildcards.study]["pooling"]["varcomp_scale"],
    log:
        "logs/pool/{study}/{model}.log",
    benchmark:
        "benchmarks/pool/{study}/{model}.tsv"
    priority: PRIORITY["pool"]
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/mlmice.yaml"
    script:
        "../../scripts/pool.py"


rule compare:
    input:
        tables=lambda wildcards: expand("results/{study}/compare/models/{model}.parquet",
                                        study=wildcards.study,
                                        model=model_names(wildcards.study)),
    output:
        table="results/{study}/compare/estimates.parquet",
        plot=report(
            "results/{study}/compare/estimates.png",
            caption="../report/compare.rst",
            category="7. Comparison with the truth and CCA",
        ),
    log:
        "logs/compare/{study}.log",
    benchmark:
        "benchmarks/compare/{study}.tsv"
    priority: PRIORITY["compare"]
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/mlmice.yaml"
    script:
        "../../scripts/compare.py"

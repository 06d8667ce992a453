# Stage 5, pooling and comparison. Each model is pooled in its analyze job
# (analyze.smk: pooled/{model}, pooled/mitml/{model}, compare/models/{model}), where
# its fits are already loaded: a pool job per model cost more in job starts than the
# pooling itself. Here, every model's truth / CCA / MI table in one table and figure:
#   results/{study}/compare/estimates.parquet   all models
#   results/{study}/compare/estimates.png


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

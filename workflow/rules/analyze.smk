# Stage 4, analysis: each model of the sequence fitted to the complete data
# (truth, when there is a complete version), to the complete cases (CCA) and to
# every imputed data set, and tested against the model before it on the imputed
# data. One job per model: a changed formula reruns that model's jobs only (its
# formula is a param, so Snakemake sees the change), and the tests of the model
# after it.
#   results/{study}/analysis/{model}/estimates.parquet  tidy rows per data set
#   results/{study}/analysis/{model}/vcov.parquet       covariance of the fixed effects
#   results/{study}/analysis/{model}/varcorr.parquet    variance components
#   results/{study}/analysis/{model}/fits.parquet       nobs, df_com, loglik, warnings
#   results/{study}/tests/{model}.parquet               D1 and D3 of {model} against the
#                                                       model before it (mitml::testModels;
#                                                       no rows for the first model)


rule analyze:
    input:
        unpack(analysis_inputs),
    output:
        estimates="results/{study}/analysis/{model}/estimates.parquet",
        vcov="results/{study}/analysis/{model}/vcov.parquet",
        varcorr="results/{study}/analysis/{model}/varcorr.parquet",
        fits="results/{study}/analysis/{model}/fits.parquet",
        tests="results/{study}/tests/{model}.parquet",
    log:
        "logs/analyze/{study}/{model}.log",
    benchmark:
        "benchmarks/analyze/{study}/{model}.tsv"
    params:
        model=model_params,
        null_model=null_model_params,
    priority: PRIORITY["analyze"]
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/mlmice.yaml"
    script:
        "../../scripts/analyze.py"

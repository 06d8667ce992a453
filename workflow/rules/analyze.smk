# Stage 4, analysis, and the pooling of stage 5: each model of the sequence fitted to the
# complete data (truth, when there is a complete version), to the complete cases
# (CCA) and to every imputed data set; Rubin's rules over the imputed fits, side by
# side with the truth and CCA; and the model tested against the model before it on
# the imputed data. One job per model: a changed formula reruns that model's job
# only (its formula is a param, so Snakemake sees the change), and the tests of the
# model after it. A changed pooling option (pooling.varcomp_scale) refits the models
# (about a second each) but never reimputes: pooling in a job of its own cost more in
# job starts than these refits (bench/bench_pipeline.py: 1.8 s of the default
# pipeline's wall clock).
#   results/{study}/analysis/{model}/estimates.parquet  tidy rows per data set
#   results/{study}/analysis/{model}/vcov.parquet       covariance of the fixed effects
#   results/{study}/analysis/{model}/varcorr.parquet    variance components
#   results/{study}/analysis/{model}/fits.parquet       nobs, df_com, loglik, warnings
#   results/{study}/pooled/{model}.parquet              mice::pool + summary for the fixed
#                                                       effects, mitml's pooled variance
#                                                       components (kind = extra_par)
#   results/{study}/pooled/mitml/{model}.parquet        mitml::testEstimates(extra.pars)
#   results/{study}/compare/models/{model}.parquet      truth, CCA and MI side by side
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
        pooled="results/{study}/pooled/{model}.parquet",
        mitml="results/{study}/pooled/mitml/{model}.parquet",
        compare="results/{study}/compare/models/{model}.parquet",
        tests="results/{study}/tests/{model}.parquet",
    log:
        "logs/analyze/{study}/{model}.log",
    benchmark:
        "benchmarks/analyze/{study}/{model}.tsv"
    params:
        model=model_params,
        null_model=null_model_params,
        varcomp_scale=lambda wildcards: STUDIES[wildcards.study]["pooling"]["varcomp_scale"],
    priority: PRIORITY["analyze"]
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/mlmice.yaml"
    script:
        "../../scripts/analyze.py"

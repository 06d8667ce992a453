# Simulation study, for a study with a `simulation` block (mlmice.simulation):
#   results/{study}/simulation/batches/batch_{batch}.parquet   estimates of one batch
#   results/{study}/simulation/batches/batch_{batch}_failures.parquet
#   results/{study}/simulation/estimates.parquet   every replicate, arm, model, term
#   results/{study}/simulation/failures.parquet    replicate, arm, error
#   results/{study}/simulation/summary.parquet     performance measures with MC SEs
#   results/{study}/simulation/performance.png     bias and coverage per term and arm
# One job runs `batch` replicates, so a replicate pays no job or Python start.


rule simulate:
    input:
        unpack(simulation_input),
    output:
        estimates="results/{study}/simulation/batches/batch_{batch}.parquet",
        failures="results/{study}/simulation/batches/batch_{batch}_failures.parquet",
    log:
        "logs/simulate/{study}/{batch}.log",
    benchmark:
        "benchmarks/simulate/{study}/{batch}.tsv"
    params:
        study=simulation_params,
        replicates=batch_replicates,
    threads: 1
    resources:
        runtime=simulation_runtime,
        mem_mb=2000,
    conda:
        "../../envs/mlmice.yaml"
    script:
        "../../scripts/simulate.py"


rule simulation_summary:
    input:
        estimates=lambda wc: simulation_batch_files(wc.study),
        failures=lambda wc: simulation_batch_files(wc.study, failures=True),
    output:
        estimates="results/{study}/simulation/estimates.parquet",
        failures="results/{study}/simulation/failures.parquet",
        summary="results/{study}/simulation/summary.parquet",
        figure=report(
            "results/{study}/simulation/performance.png",
            caption="../report/simulation.rst",
            category="9. Simulation study",
        ),
    log:
        "logs/simulation_summary/{study}.log",
    benchmark:
        "benchmarks/simulation_summary/{study}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/mlmice.yaml"
    script:
        "../../scripts/simulation_summary.py"

# ruff: noqa: F821  (Snakemake injects the `snakemake` object)
# One batch of replicates of the study's simulation (mlmice.simulation.run_batch).
import sys

sys.stderr = open(snakemake.log[0], "w")

from mlmice.simulation import Study, run_batch  # noqa: E402

estimates, failures = run_batch(Study.from_config(snakemake.params.study),
                                snakemake.params.replicates)
print(f"replicates {snakemake.params.replicates}: {len(estimates)} estimates, "
      f"{len(failures)} failures\n{failures.to_string()}", file=sys.stderr)
estimates.to_parquet(snakemake.output.estimates, index=False)
failures.to_parquet(snakemake.output.failures, index=False)

# ruff: noqa: F821  (Snakemake injects the `snakemake` object)
# All batches of the study's simulation: stacked tables, performance measures, figure.
import sys

sys.stderr = open(snakemake.log[0], "w")

from mlmice.plots import plot_performance  # noqa: E402
from mlmice.simulation import collect_batches, covariances_in_correlation_units  # noqa: E402

estimates, failures, summary = collect_batches(snakemake.input.estimates,
                                               snakemake.input.failures)
print(f"{estimates['replicate'].nunique()} replicates, {len(failures)} failures",
      file=sys.stderr)
estimates.to_parquet(snakemake.output.estimates, index=False)
failures.to_parquet(snakemake.output.failures, index=False)
summary.to_parquet(snakemake.output.summary, index=False)
# covariances in correlation units, as the report's table gives them
plot_performance(covariances_in_correlation_units(summary), path=snakemake.output.figure)

# ruff: noqa: F821  (Snakemake injects the `snakemake` object)
# Chain diagnostics over all chains: the trace, R-hat per variable and statistic,
# the logged events, and the trace plot. Cluster-level variables whose missing
# values were all filled from their cluster (nothing imputed) have no chain.
import sys

sys.stderr = open(snakemake.log[0], "w")

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from mlmice.diagnostics import rhat, trace_frame  # noqa: E402
from mlmice.impute.state import read_chain_file  # noqa: E402
from mlmice.io import read_parquet  # noqa: E402
from mlmice.plots import plot_trace  # noqa: E402
from mlmice.reporting import filled_only_variables  # noqa: E402


def chain_of(path):
    return int(Path(path).parent.name.removeprefix("chain_"))


traces = [read_chain_file(p).assign(chain=chain_of(p)) for p in snakemake.input.traces]
spec = json.loads(Path(snakemake.input.spec).read_text())
filled = filled_only_variables(read_parquet(snakemake.input.data), spec["method"],
                               spec["cluster"])
trace = trace_frame(pd.concat(traces, ignore_index=True))
trace = trace[~trace["variable"].isin(filled)]
events = pd.concat([read_chain_file(p).assign(chain=chain_of(p)) for p in snakemake.input.events],
                   ignore_index=True)
events = events.reindex(columns=["chain", "iteration", "variable", "event"])
table = rhat(trace, threshold=float(snakemake.params.threshold))
print(f"R-hat flags: {sorted(set(table.loc[table['flag'], 'variable']))}", file=sys.stderr)

trace.to_parquet(snakemake.output.trace, index=False)
table.to_parquet(snakemake.output.rhat, index=False)
events.astype({"chain": "int64", "iteration": "int64"}).to_parquet(snakemake.output.events,
                                                                   index=False)
plot_trace(trace, path=snakemake.output.plot)

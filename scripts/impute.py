# ruff: noqa: F821  (Snakemake injects the `snakemake` object)
# Stage 3: one imputation chain, continued from a saved state with the same data,
# specification and seed where there is one (mlmice.pipeline.resume_chain).
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import json  # noqa: E402
from pathlib import Path  # noqa: E402

from mlmice.io import read_parquet  # noqa: E402
from mlmice.pipeline import resume_chain  # noqa: E402

state = resume_chain(read_parquet(snakemake.input.data),
                     json.loads(Path(snakemake.input.spec).read_text()),
                     chain=int(snakemake.wildcards.chain), maxit=int(snakemake.params.maxit),
                     seed=int(snakemake.params.seed), saved=snakemake.params.saved,
                     log=lambda line: print(line, file=sys.stderr))
state.to_files(Path(snakemake.output.state).parent)
print(f"chain {state.chain}: {state.iteration} iterations, {len(state.events_frame())} "
      "logged event(s)", file=sys.stderr)

# ruff: noqa: F821  (Snakemake injects the `snakemake` object)
# One imputation chain. A chain state saved by an earlier run with the same data,
# specification and seed at iteration k <= maxit is continued for maxit - k more
# iterations (bit-identical to a fresh run: the generator restarts where it stopped).
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import hashlib  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from mlmice.impute.sampler import continue_chain, run_chain  # noqa: E402
from mlmice.impute.spec import ImputationSpec  # noqa: E402
from mlmice.impute.state import ChainState  # noqa: E402
from mlmice.io import read_parquet  # noqa: E402

chain = int(snakemake.wildcards.chain)
maxit = int(snakemake.params.maxit)
seed = int(snakemake.params.seed)
data = read_parquet(snakemake.input.data)
spec_dict = json.loads(Path(snakemake.input.spec).read_text())
spec = ImputationSpec.from_dict(spec_dict, data)

# saved states are keyed by what determines a chain: data, specification, seed
key = hashlib.sha256()
key.update(pd.util.hash_pandas_object(data, index=False).to_numpy().tobytes())
key.update(json.dumps(spec_dict, sort_keys=True).encode())
key.update(str(seed).encode())
saved = Path(snakemake.params.saved) / key.hexdigest()[:16] / f"chain_{chain}"

state = None
done = sorted((int(p.name.removeprefix("iter_")) for p in saved.glob("iter_*")
               if (p / "state.json").exists()), reverse=True)
for k in (k for k in done if k <= maxit):
    try:
        candidate = ChainState.from_files(saved / f"iter_{k}", data, spec=spec)
    except ValueError as exc:
        print(f"saved state {saved / f'iter_{k}'} not usable: {exc}", file=sys.stderr)
        continue
    if candidate.seed == seed and candidate.chain == chain:
        state = candidate
        print(f"chain {chain}: continuing from the state saved at iteration {k} "
              f"({saved / f'iter_{k}'})", file=sys.stderr)
        break
if state is None:
    state = run_chain(data, spec, chain=chain, maxit=0, seed=seed)
    print(f"chain {chain}: initial values drawn (seed {seed})", file=sys.stderr)

while state.iteration < maxit:
    start = time.perf_counter()
    state = continue_chain(state, maxit=1)
    print(f"chain {chain}: iteration {state.iteration}/{maxit} done in "
          f"{time.perf_counter() - start:.2f} s", file=sys.stderr)

state.to_files(Path(snakemake.output.state).parent)
if not (saved / f"iter_{maxit}" / "state.json").exists():
    state.to_files(saved / f"iter_{maxit}")
events = state.events_frame()
print(f"chain {chain}: {state.iteration} iterations, {len(events)} logged event(s)",
      file=sys.stderr)

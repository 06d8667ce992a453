# ruff: noqa: F821  (Snakemake injects the `snakemake` object)
# Pooled tests of a model against the model before it in the sequence
# (mitml::testModels): D1 (Wald test of the added fixed effects, when there are
# any) and D3 (pooled likelihood-ratio test, for ML fits).
import sys

sys.stderr = open(snakemake.log[0], "w")

import json  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from mlmice.impute.sampler import Mids  # noqa: E402
from mlmice.impute.state import ChainState  # noqa: E402
from mlmice.io import read_parquet  # noqa: E402
from mlmice.pooling import test_models  # noqa: E402

warnings.simplefilter("always")
warnings.showwarning = lambda msg, cat, *a, **k: print(f"{cat.__name__}: {msg}", file=sys.stderr)

data = read_parquet(snakemake.input.data)
spec = json.loads(Path(snakemake.input.spec).read_text())
chains = [ChainState.from_files(Path(p).parent, data) for p in snakemake.input.chains]
imp = Mids.from_chains(data, spec, chains)
full_cfg, null_cfg = snakemake.params.models["model"], snakemake.params.models["null_model"]
full = imp.fit(full_cfg["formula"], reml=full_cfg["reml"])
null = imp.fit(null_cfg["formula"], reml=null_cfg["reml"])

rows = []
for method in ("D1", "D3"):
    row = {"model": full_cfg["name"], "null_model": null_cfg["name"], "method": method,
           "note": ""}
    if method == "D3" and (full_cfg["reml"] or null_cfg["reml"]):
        row["note"] = "D3 needs ML fits (reml: false); not computed"
    else:
        try:
            result = test_models(full, null, method=method)
            row.update(result.to_frame().iloc[0].to_dict())
            if method == "D1":
                row["note"] = "parameters tested: " + ", ".join(result.parameters)
        except ValueError as exc:
            same = "same fixed effects" in str(exc)
            row["note"] = ("not defined: the models have the same fixed effects (they differ "
                           "in random effects only)" if same else f"not computed: {exc}")
    print(row, file=sys.stderr)
    rows.append(row)

columns = ["model", "null_model", "method", "use", "m", "df_com", "f_value", "df1", "df2",
           "p_value", "riv", "note"]
table = pd.DataFrame(rows).reindex(columns=columns)
table = table.astype({"use": "string", "m": "float64", **{c: "float64" for c in columns[5:11]}})
table.to_parquet(snakemake.output.tests, index=False)

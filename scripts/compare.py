# ruff: noqa: F821  (Snakemake injects the `snakemake` object)
# Truth, complete-case analysis and MI side by side for one model.
import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd  # noqa: E402

from mlmice.compare import closer_sentences, compare_estimates  # noqa: E402

table = compare_estimates(pd.read_parquet(snakemake.input.estimates),
                          pd.read_parquet(snakemake.input.varcorr),
                          pd.read_parquet(snakemake.input.pooled),
                          pd.read_parquet(snakemake.input.mitml),
                          model=snakemake.wildcards.model)
print("\n".join(closer_sentences(table)), file=sys.stderr)
table.to_parquet(snakemake.output.compare, index=False)

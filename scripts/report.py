# ruff: noqa: F821  (Snakemake injects the `snakemake` object)
# Stage 6: execute the report notebook with the study's parameters and write it
# as HTML without code (mlmice.reporting.render_report).
import sys

sys.stderr = open(snakemake.log[0], "w")

import os  # noqa: E402

from mlmice.reporting.render import render_report  # noqa: E402

parameters = dict(snakemake.params.notebook)
parameters["results_dir"] = os.path.abspath(parameters["results_dir"])
size = render_report(snakemake.input.notebook, executed=snakemake.output.notebook,
                     html=snakemake.output.html, parameters=parameters,
                     title=f"mlmice report: {parameters['study']}")
print(f"wrote {snakemake.output.html} ({size / 1e6:.1f} MB)", file=sys.stderr)

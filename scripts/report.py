# ruff: noqa: F821  (Snakemake injects the `snakemake` object)
# Execute the report notebook with papermill, then convert it to HTML without the
# code (as `jupyter nbconvert --no-input --to html`).
import sys

sys.stderr = open(snakemake.log[0], "w")

import os  # noqa: E402
from pathlib import Path  # noqa: E402

import nbformat  # noqa: E402
import papermill  # noqa: E402
from nbconvert import HTMLExporter  # noqa: E402

parameters = dict(snakemake.params.notebook)
parameters["results_dir"] = os.path.abspath(parameters["results_dir"])
papermill.execute_notebook(snakemake.input.notebook, snakemake.output.notebook,
                           parameters=parameters, kernel_name="python3", cwd=os.getcwd(),
                           progress_bar=False, log_output=False)
notebook = nbformat.read(snakemake.output.notebook, as_version=4)
exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True,
                        exclude_output_prompt=True)
html, _ = exporter.from_notebook_node(notebook,
                                      resources={"metadata": {"name": f"mlmice report: "
                                                              f"{parameters['study']}"}})
Path(snakemake.output.html).write_text(html, encoding="utf-8")
print(f"wrote {snakemake.output.html} ({len(html) / 1e6:.1f} MB)", file=sys.stderr)

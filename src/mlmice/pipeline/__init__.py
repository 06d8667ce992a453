"""What the pipeline's jobs do, as library functions (the scripts in ``scripts/`` only
read ``snakemake.input``/``params``, call these and write ``snakemake.output``).

* :mod:`~mlmice.pipeline.chains`: a chain continued from a saved state or run afresh
  (:func:`resume_chain`), and the imputation result rebuilt from chain files
  (:func:`mids_from_files`);
* :mod:`~mlmice.pipeline.config`: a config block as keyword arguments (the
  ``amputation`` block for :func:`mlmice.ampute`: :func:`ampute_arguments`);
* :mod:`~mlmice.pipeline.tables`: one model fitted to several data sets as long
  tables (:func:`fit_tables`), and those tables back as fits that
  :func:`mlmice.pool` accepts (:func:`fits_from_tables`), and the pooled tests
  between two models as a table (:func:`model_tests_table`).
"""

from mlmice.pipeline.chains import chain_key, mids_from_files, resume_chain
from mlmice.pipeline.config import ampute_arguments
from mlmice.pipeline.tables import fit_tables, fits_from_tables, model_tests_table

__all__ = ["ampute_arguments", "chain_key", "fit_tables", "fits_from_tables", "mids_from_files",
           "model_tests_table", "resume_chain"]

"""What the pipeline's jobs do, as library functions (the scripts in ``scripts/`` only
read ``snakemake.input``/``params``, call these and write ``snakemake.output``).

* :mod:`~mlmice.pipeline.chains`: a chain continued from a saved state or run afresh
  (:func:`resume_chain`), and the imputation result rebuilt from chain files
  (:func:`mids_from_files`);
* :mod:`~mlmice.pipeline.config`: a config block as keyword arguments (the
  ``amputation`` block for :func:`mlmice.ampute`: :func:`ampute_arguments`);
* :mod:`~mlmice.pipeline.hooks`: what the Snakefile does when the workflow ends
  (:func:`cancel_pending_timers`; :func:`failed_job_messages` after an error);
* :mod:`~mlmice.pipeline.tables`: one model fitted to several data sets as long
  tables (:func:`fit_tables`), and those tables back as fits that
  :func:`mlmice.pool` accepts (:func:`fits_from_tables`), and the pooled tests
  between two models as a table (:func:`model_tests_table`; :func:`no_tests_table`
  for the first model of a sequence), and Rubin's rules over the fits' tables
  (:func:`pooled_tables`).
"""

import importlib

# imported lazily: a job imports only the module it calls (its start-up is part of its
# cost; see bench/bench_pipeline.py)
_EXPORTS = {"chain_key": "chains", "mids_from_files": "chains", "resume_chain": "chains",
            "ampute_arguments": "config", "cancel_pending_timers": "hooks",
            "failed_job_messages": "hooks",
            "fit_tables": "tables", "fits_from_tables": "tables",
            "model_tests_table": "tables", "no_tests_table": "tables",
            "pooled_tables": "tables"}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"mlmice.pipeline.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'mlmice.pipeline' has no attribute {name!r}")

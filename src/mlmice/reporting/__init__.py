"""What the report says, as library functions (the notebook only lays them out).

* :mod:`~mlmice.reporting.formatting`: one format per kind of number;
* :mod:`~mlmice.reporting.study`: the data and the study (clusters, ICCs,
  source, missingness, versions and commit);
* :mod:`~mlmice.reporting.summary`: the results in plain words, with flags;
* :mod:`~mlmice.reporting.identification`: the reliability of cluster slopes;
* :mod:`~mlmice.reporting.methods_text`: a methods paragraph for a paper;
* :mod:`~mlmice.reporting.render`: the notebook run and written as HTML.
"""

from mlmice.reporting.formatting import fmt, fmt_df, fmt_int, fmt_p, format_frame
from mlmice.reporting.identification import slope_reliability
from mlmice.reporting.methods_text import methods_paragraph
from mlmice.reporting.study import (
    complete_cases,
    complete_cases_text,
    data_source,
    describe_clusters,
    filled_only_variables,
    icc_table,
    level2_fill,
    missingness_text,
    provenance,
)
from mlmice.reporting.summary import Finding, findings, headline_table

__all__ = ["Finding", "complete_cases", "complete_cases_text", "data_source", "describe_clusters",
           "filled_only_variables", "findings", "fmt", "fmt_df", "fmt_int", "fmt_p",
           "format_frame", "headline_table", "icc_table", "level2_fill", "methods_paragraph",
           "missingness_text", "provenance", "slope_reliability"]

"""Simulation studies: generators, arms, replicates and performance measures.

A study generates complete data, deletes values, imputes them under each
arm and analyses every data set; :func:`performance_measures` turns the
replicates' estimates into bias, coverage and the rest with their Monte
Carlo SEs (Morris, White and Crowther 2019). The pipeline's ``simulation``
block and ``bench/validity.py`` both run on this module.
"""

from mlmice.simulation.collect import collect_batches
from mlmice.simulation.generators import (
    Generator,
    PopularityGenerator,
    ResampleGenerator,
    make_generator,
)
from mlmice.simulation.performance import (
    ESTIMATE_COLUMNS,
    SUMMARY_COLUMNS,
    correlation_scale,
    covariances_in_correlation_units,
    performance_measures,
)
from mlmice.simulation.study import REFERENCE_ARMS, Arm, Model, Study, run_batch, run_replicate

__all__ = ["ESTIMATE_COLUMNS", "REFERENCE_ARMS", "SUMMARY_COLUMNS", "Arm", "Generator", "Model",
           "collect_batches", "correlation_scale", "covariances_in_correlation_units",
           "PopularityGenerator", "ResampleGenerator", "Study", "make_generator",
           "performance_measures", "run_batch", "run_replicate"]

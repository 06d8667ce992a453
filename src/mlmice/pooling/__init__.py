"""Pooling analyses of multiply-imputed data.

* :mod:`~mlmice.pooling.rubin`: Rubin's rules and the df formulas of mice and mitml;
* :mod:`~mlmice.pooling.extract`: reading estimates and covariances out of fits;
* :mod:`~mlmice.pooling.pooled`: :func:`pool` (``mice::pool``);
* :mod:`~mlmice.pooling.varcomp`: variance components under mitml's names;
* :mod:`~mlmice.pooling.estimates`: :func:`test_estimates` (``mitml::testEstimates``);
* :mod:`~mlmice.pooling.models`: :func:`test_models` (``mitml::testModels``, D1/D2/D3);
* :mod:`~mlmice.pooling.loglik`, :mod:`~mlmice.pooling.params`: likelihoods for D3;
* :mod:`~mlmice.pooling.table`: :func:`pooled_table`, the pipeline's pooled artifact.

The public entry points are re-exported by :mod:`mlmice.pool`.
"""

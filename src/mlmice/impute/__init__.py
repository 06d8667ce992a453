"""Multiple imputation by chained equations for multilevel data."""

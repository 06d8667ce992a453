"""Linear and generalised linear mixed models (lme4-equivalent)."""

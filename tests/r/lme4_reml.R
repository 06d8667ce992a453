# REML fits (lme4's default criterion) of the same models, tight optimiser:
# the script lme4_tight.R with REML = TRUE.
# Usage: Rscript tests/r/lme4_reml.R DATA_DIR OUT_JSON
a <- commandArgs(TRUE)
here <- dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)))
system2("Rscript", c(file.path(here, "lme4_tight.R"), a[1], a[2], "TRUE"))

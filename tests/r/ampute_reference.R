# Reference for tests/test_ampute.py: per-row amputation probabilities of
# mice::ampute (continuous logistic probabilities, one MAR pattern), estimated
# as the mean missingness indicator over many replications on fixed data.
# Usage: Rscript tests/r/ampute_reference.R tests/r/ampute_reference.csv
suppressPackageStartupMessages(library(mice))
out <- commandArgs(TRUE)[1]
set.seed(20240)
n <- 400
x1 <- rnorm(n)
x2 <- 0.5 * x1 + rnorm(n)
x3 <- rnorm(n)
dat <- data.frame(y = x1 + x2 + rnorm(n), x1 = x1, x2 = x2, x3 = x3)
reps <- 2000
pattern <- c(0, 1, 1, 1)          # amputate y; MAR on x1, x2, x3 with weights 1, 2, 0
weights <- c(0, 1, 2, 0)
res <- dat
for (type in c("RIGHT", "LEFT", "MID", "TAIL")) {
  miss <- numeric(n)
  for (r in seq_len(reps)) {
    a <- ampute(dat, prop = 0.4, patterns = pattern, weights = weights, mech = "MAR",
                type = type)
    miss <- miss + is.na(a$amp$y)
  }
  res[[paste0("p_", tolower(type))]] <- miss / reps
}
res$reps <- reps
res$software <- paste("R", getRversion(), "mice", packageVersion("mice"))
write.csv(res, out, row.names = FALSE)

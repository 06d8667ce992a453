# Reference numbers for mlmice.diagnostics (tests/test_diagnostics.py).
#
# 1. mice::md.pattern and mice::flux on the tutorial's popular_MAR data
#    (gender recoded 1/2 -> 0/1, which changes nothing here: only NA matters).
# 2. posterior::rhat (rank-normalised split R-hat, Vehtari et al. 2021) and
#    posterior::autocorrelation at lag 1 on synthetic draws (iterations x chains),
#    with the draws themselves, so the test recomputes them in Python.
#
# Usage (from the repository root):
#   Rscript tests/r/diagnostics.R ../shared/data tests/r/diagnostics.json
# Software: R 4.2.2, mice 3.15.0, posterior 1.4.0, jsonlite.
suppressPackageStartupMessages({library(mice); library(posterior); library(jsonlite)})
a <- commandArgs(TRUE)
load(file.path(a[1], "popular_MAR.RData"))
dat <- popular_MAR
dat$gender_ij <- dat$gender_ij - 1

mdp <- md.pattern(dat, plot = FALSE)
fl <- flux(dat)

set.seed(20240808)
draws <- list(
  # well mixed: iid normal, as many iterations as a typical mice run
  iid_10x5 = matrix(rnorm(10 * 5), 10, 5),
  # odd number of iterations: split_chains drops the middle draw
  iid_11x5 = matrix(rnorm(11 * 5), 11, 5),
  # many chains and iterations
  iid_40x100 = matrix(rnorm(40 * 100), 40, 100),
  # trending mean (not converged) plus noise
  trend_20x5 = matrix(rep(seq(0, 2, length.out = 20), 5) + rnorm(20 * 5, sd = 0.3), 20, 5),
  # chains stuck at different levels
  shifted_15x4 = matrix(rnorm(15 * 4) + rep(c(0, 0, 1, 1), each = 15), 15, 4),
  # ties: rounded draws (rank ties are averaged)
  ties_12x3 = matrix(round(rnorm(12 * 3), 1), 12, 3),
  # AR(1) chains with strong autocorrelation
  ar1_30x5 = sapply(1:5, function(j) as.numeric(arima.sim(list(ar = 0.8), n = 30)))
)
draws <- lapply(draws, function(x) round(x, 8))
rh <- lapply(names(draws), function(nm) {
  x <- draws[[nm]]
  list(name = nm, draws = x, rhat = rhat(x), rhat_basic = rhat_basic(x, split = TRUE),
       ac1 = apply(x, 2, function(ch) autocorrelation(ch)[2]))
})

out <- list(
  note = paste("md.pattern(popular_MAR, plot = FALSE) and flux(popular_MAR) from mice;",
               "posterior::rhat, rhat_basic and autocorrelation(.)[2] per chain on draws",
               "(matrix iterations x chains, rounded to 8 decimals before use)"),
  software = paste("R", getRversion(), "mice", packageVersion("mice"),
                   "posterior", packageVersion("posterior")),
  md_pattern = list(counts = as.integer(rownames(mdp)[-nrow(mdp)]),
                    columns = colnames(mdp)[-ncol(mdp)],
                    table = unname(mdp)),
  flux = list(variable = rownames(fl), pobs = fl$pobs, influx = fl$influx,
              outflux = fl$outflux, ainb = fl$ainb, aout = fl$aout, fico = fl$fico),
  rhat = rh)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, matrix = "rowmajor"),
           a[2])

# jomo.lmer's mixing and cost per sweep, for bench/smc_vs_jomo.py (mlmice's 2l.smc
# against jomo at equal mixing). Data: the first 5 data sets of oracle_two_level.csv.gz
# (y and x missing, about 20 % each; the substantive model y ~ x + w + (1 + x | g)).
# Per data set:
#   * one chain of jomo.lmer with nbetween = 1: after jomo's default burn-in of 1000
#     sweeps, 500 consecutive sweeps, each kept as an imputation; per sweep the mean of
#     the imputed values of x and of y (the statistic mlmice's trace records);
#   * the CPU seconds of jomo.lmer at the settings of issue #18 (nburn = 1000,
#     nbetween = 200, nimp = 20) and of a run of 2000 extra sweeps (nburn = 3000 against
#     nburn = 1000, nimp = 2): the cost of one sweep.
# Run from tests/r: Rscript jomo_mixing.R   (about 3 CPU minutes)
# Writes jomo_mixing.json.
suppressPackageStartupMessages({library(jomo); library(jsonlite)})
set.seed(20261205)
FORMULA <- y ~ x + w + (1 + x | g)
data <- read.csv(gzfile("oracle_two_level.csv.gz"))
cpu <- function(expr) {
  t0 <- proc.time()
  force(expr)
  t <- proc.time() - t0
  unname(t[["user.self"]] + t[["sys.self"]])
}
run <- function(d, nburn, nbetween, nimp) {
  dat <- data.frame(y = d$y_smc, x = d$x_smc, w = d$w, g = d$g)
  jomo.lmer(FORMULA, dat, level = c(1, 1, 2, 1), nburn = nburn, nbetween = nbetween,
            nimp = nimp, output = 0)
}
out <- list(formula = deparse(FORMULA), n_keep = 500, nburn = 1000,
            versions = list(R = R.version.string,
                            jomo = as.character(packageVersion("jomo"))),
            datasets = list())
for (r in 1:5) {
  d <- data[data$rep == r, ]
  miss_x <- is.na(d$x_smc); miss_y <- is.na(d$y_smc)
  imp <- NULL
  cpu_chain <- cpu(imp <- run(d, nburn = 1000, nbetween = 1, nimp = 500))
  chain_x <- sapply(1:500, function(i) mean(imp$x[imp$Imputation == i][miss_x]))
  chain_y <- sapply(1:500, function(i) mean(imp$y[imp$Imputation == i][miss_y]))
  cpu_default <- cpu(run(d, nburn = 1000, nbetween = 200, nimp = 20))
  cpu_short <- cpu(run(d, nburn = 1000, nbetween = 1, nimp = 2))
  cpu_long <- cpu(run(d, nburn = 3000, nbetween = 1, nimp = 2))
  out$datasets[[r]] <- list(rep = r, n = nrow(d), n_missing_x = sum(miss_x),
                            n_missing_y = sum(miss_y), chain_x = chain_x, chain_y = chain_y,
                            cpu_chain = cpu_chain, cpu_default_m20 = cpu_default,
                            cpu_per_sweep = (cpu_long - cpu_short) / 2000)
  cat(sprintf("data set %d: per sweep %.2f ms, m = 20 at defaults %.1f s\n", r,
              1000 * (cpu_long - cpu_short) / 2000, cpu_default))
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), "jomo_mixing.json")

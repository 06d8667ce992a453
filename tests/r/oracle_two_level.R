# R as the oracle for the two-level methods (issue: valid inference for every parameter).
# 50 simulated data sets with a random-slope variance that is small in standardised units
# but not in raw ones (outcome sd about 8, slope variance 0.2 on a predictor with sd 2, as
# the real data that showed the 2l.pan prior problem). For each data set:
#   * y missing at random given x and w (about 25 %): mice's 2l.pan (x code 2, w code 1)
#     and 2l.norm (x code 2 only: mice's 2l.norm drops code-1 predictors), m = 10,
#     maxit = 1 (one incomplete variable: each imputation is one proper draw);
#   * y and x missing (about 20 % each): jomo.lmer with the analysis model as the
#     substantive model (nburn = 500, nbetween = 100, m = 10), for mlmice's 2l.smc;
#   * the analysis model lmer(y ~ x + w + (1 + x | g), REML = FALSE) on each imputed data
#     set: fixed effects pooled by Rubin's rules (mice::pool), variance components
#     averaged (mitml::testEstimates(extra.pars = TRUE)); and on the complete data.
# Run from tests/r: Rscript oracle_two_level.R   (R 4.2.2, mice 3.15.0, pan 1.6,
# jomo 2.7-4, lme4 1.1-31, mitml 0.4-4; about 40 CPU minutes)
# Writes oracle_two_level.csv.gz (rep, g, x, w, y, y_pan, x_smc, y_smc) and
# oracle_two_level.json (per method, per data set: pooled estimates and variance
# components).
suppressPackageStartupMessages({
  library(mice); library(lme4); library(mitml); library(jomo); library(jsonlite)
  library(broom.mixed)
})
set.seed(20261204)
R <- 50; J <- 80; m <- 10
FORMULA <- y ~ x + w + (1 + x | g)

simulate_one <- function(r) {
  nj <- sample(10:26, J, replace = TRUE)
  g <- rep(seq_len(J), nj)
  n <- length(g)
  x <- rnorm(n, 0, 2)
  w <- rnorm(J)[g]
  b0 <- rnorm(J, 0, 3); b1 <- rnorm(J, 0, sqrt(0.2))
  y <- 50 + 2 * x + 3 * w + b0[g] + b1[g] * x + rnorm(n, 0, 6)
  zx <- (x - mean(x)) / sd(x); zw <- (w - mean(w)) / sd(w)
  y_pan <- ifelse(runif(n) < plogis(-1.3 + 0.7 * zx + 0.5 * zw), NA, y)
  y_smc <- ifelse(runif(n) < plogis(-1.5 + 0.6 * zw), NA, y)
  x_smc <- ifelse(runif(n) < plogis(-1.6 - 0.5 * zw), NA, x)
  data.frame(rep = r, g = g, x = x, w = w, y = y, y_pan = y_pan, x_smc = x_smc,
             y_smc = y_smc)
}

summarise_fits <- function(datasets) {
  fits <- lapply(datasets, function(d) lmer(FORMULA, data = d, REML = FALSE))
  pooled <- summary(pool(as.mira(fits)))
  est <- setNames(pooled$estimate, as.character(pooled$term))
  te <- testEstimates(as.mitml.result(fits), extra.pars = TRUE)
  extra <- te$extra.pars[, 1]
  list(fixed = as.list(est), variance = as.list(extra))
}

complete_fit <- function(d) {
  fit <- lmer(FORMULA, data = d, REML = FALSE)
  vc <- as.data.frame(VarCorr(fit))
  list(fixed = as.list(fixef(fit)),
       variance = list(`Intercept~~Intercept|g` = vc$vcov[1], `x~~x|g` = vc$vcov[2],
                       `Intercept~~x|g` = vc$vcov[3], `Residual~~Residual` = vc$vcov[4]))
}

impute_mice <- function(d, method) {
  dat <- data.frame(g = d$g, x = d$x, w = d$w, y = d$y_pan)
  pred <- make.predictorMatrix(dat)
  pred[,] <- 0
  pred["y", c("g", "x", "w")] <- c(-2, 2, if (method == "2l.norm") 0 else 1)
  meth <- c(g = "", x = "", w = "", y = method)
  imp <- mice(dat, m = m, maxit = 1, method = meth, predictorMatrix = pred, print = FALSE)
  lapply(seq_len(m), function(i) complete(imp, i))
}

impute_jomo <- function(d) {
  dat <- data.frame(y = d$y_smc, x = d$x_smc, w = d$w, g = d$g)
  imp <- jomo.lmer(FORMULA, dat, level = c(1, 1, 2, 1), nburn = 500, nbetween = 100,
                   nimp = m, output = 0)
  lapply(seq_len(m), function(i) {
    di <- imp[imp$Imputation == i, c("y", "x", "w", "clus")]
    names(di)[4] <- "g"
    di
  })
}

data <- do.call(rbind, lapply(seq_len(R), simulate_one))
out <- list(R = R, J = J, m = m, formula = deparse(FORMULA), complete = list(),
            `2l.pan` = list(), `2l.norm` = list(), jomo = list(), seconds = list())
for (r in seq_len(R)) {
  d <- data[data$rep == r, ]
  out$complete[[r]] <- complete_fit(d)
  t0 <- proc.time()[["elapsed"]]
  out$`2l.pan`[[r]] <- summarise_fits(impute_mice(d, "2l.pan"))
  t1 <- proc.time()[["elapsed"]]
  out$`2l.norm`[[r]] <- summarise_fits(impute_mice(d, "2l.norm"))
  t2 <- proc.time()[["elapsed"]]
  out$jomo[[r]] <- summarise_fits(impute_jomo(d))
  t3 <- proc.time()[["elapsed"]]
  out$seconds[[r]] <- c(pan = t1 - t0, norm = t2 - t1, jomo = t3 - t2)
  cat(sprintf("data set %d: pan %.1f s, norm %.1f s, jomo %.1f s\n", r, t1 - t0, t2 - t1,
              t3 - t2))
}
data$g <- data$g - 1L
num <- c("x", "w", "y", "y_pan", "x_smc", "y_smc")
data[num] <- lapply(data[num], signif, digits = 8)
con <- gzfile("oracle_two_level.csv.gz", "w")
write.csv(data, con, row.names = FALSE, na = "")
close(con)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), "oracle_two_level.json")

# Reference fits for mlmice.impute.methods._lmm_fit (the two-level LMM fit used by
# 2l.lmer / 2l.pmm / the Gibbs starts). Run from tests/r: Rscript two_level_lmm_fit.R
# Writes two_level_lmm_fit.csv (the data) and two_level_lmm_fit.json (lme4 fits).
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
set.seed(20240601)
J <- 30
nj <- sample(1:25, J, replace = TRUE)          # unbalanced, includes tiny clusters
g <- rep(seq_len(J) - 1L, nj)
n <- length(g)
x1 <- rnorm(n)
w <- rnorm(J)[g + 1L]
b0 <- rnorm(J, 0, 0.8); b1 <- rnorm(J, 0, 0.4)
y <- 2 + 0.5 * x1 - 0.3 * w + b0[g + 1L] + b1[g + 1L] * x1 + rnorm(n, 0, 1)
y <- 10 * y + 50                                  # a unit far from standardised
dat <- data.frame(g = g, x1 = x1, w = w, y = y)
write.csv(dat, "two_level_lmm_fit.csv", row.names = FALSE)
dat$g <- factor(dat$g)
ctrl <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhobeg = 2e-4, rhoend = 2e-10, maxfun = 1e5))
out <- list()
for (spec in list(c("intercept", "y ~ x1 + w + (1 | g)", "TRUE"),
                  c("slope", "y ~ x1 + w + (1 + x1 | g)", "TRUE"),
                  c("slope_ml", "y ~ x1 + w + (1 + x1 | g)", "FALSE"))) {
  fit <- lmer(as.formula(spec[2]), data = dat, REML = as.logical(spec[3]), control = ctrl)
  re <- ranef(fit, condVar = TRUE)$g
  pv <- attr(re, "postVar")
  out[[spec[1]]] <- list(
    formula = spec[2], reml = as.logical(spec[3]),
    beta = unname(fixef(fit)), vcov = unname(as.matrix(vcov(fit))),
    sigma = sigma(fit), psi = unname(VarCorr(fit)$g[, , drop = FALSE]),
    ranef = unname(as.matrix(re)),
    postvar = lapply(seq_len(dim(pv)[3]), function(j) unname(pv[, , j])),
    deviance = if (as.logical(spec[3])) unname(REMLcrit(fit)) else unname(deviance(fit)))
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "two_level_lmm_fit.json")

# lme4 fits with several grouping factors on simulated three-level data (pupils in
# classes in schools) written beside this script: nested intercepts (school and
# school:class, which lme4 reorders by number of levels) and a random slope at the
# school level plus a class intercept. Tight optimiser as in lme4_tight.R.
# Usage: Rscript tests/r/lme4_nested.R OUT_DIR   (writes lme4_nested.csv and .json)
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
out <- commandArgs(TRUE)[1]
set.seed(42)
S <- 30; K <- 4; m <- 10
d <- expand.grid(pupil = 1:m, class = 1:K, school = 1:S)
d$x <- rnorm(nrow(d))
u_s <- rnorm(S, sd = 0.7); v_s <- rnorm(S, sd = 0.3); u_c <- rnorm(S * K, sd = 0.5)
d$y <- 1 + 0.4 * d$x + u_s[d$school] + v_s[d$school] * d$x + u_c[(d$school - 1) * K + d$class] + rnorm(nrow(d))
d$y[sample(nrow(d), 40)] <- NA
write.csv(d, file.path(out, "lme4_nested.csv"), row.names = FALSE)
ctrl <- lmerControl(optimizer = "nloptwrap",
                    optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-15, xtol_rel = 0, ftol_rel = 0, maxeval = 1e6))
models <- list(
  nested = y ~ x + (1 | school) + (1 | school:class),
  slope_nested = y ~ x + (1 + x | school) + (1 | school:class))
fit1 <- function(f, reml) {
  m <- lmer(f, data = d, REML = reml, control = ctrl)
  vc <- as.data.frame(VarCorr(m))
  list(n = nobs(m), fixef = as.list(fixef(m)), se = as.list(sqrt(diag(as.matrix(vcov(m))))),
       varcomp = lapply(seq_len(nrow(vc)), function(i) list(grp = vc$grp[i], var1 = vc$var1[i], var2 = vc$var2[i], vcov = vc$vcov[i], sdcor = vc$sdcor[i])),
       theta = unname(getME(m, "theta")), loglik = as.numeric(logLik(m)), ngrps = as.list(ngrps(m)),
       ranef = lapply(re <- ranef(m, condVar = TRUE), function(r) as.matrix(r[1:3, , drop = FALSE])),
       condvar = lapply(re, function(r) { pv <- attr(r, "postVar"); if (is.list(pv)) pv <- pv[[1]]; pv[, , 2] }))
}
res <- list(software = paste("R", getRversion(), "lme4", packageVersion("lme4")),
            formulas = lapply(models, function(f) paste(deparse(f, width.cutoff = 500), collapse = "")),
            ml = lapply(models, fit1, reml = FALSE), reml = lapply(models, fit1, reml = TRUE))
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"), file.path(out, "lme4_nested.json"))

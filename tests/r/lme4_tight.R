# Tight lme4 fits (ML and REML) of the tutorial's models, to check that mlmice.lmer
# reaches the optimum. lme4's default optimiser stops short (up to 5e-4 relative in
# variance components). nloptwrap with xtol_abs = 1e-14, ftol_abs = 1e-15 alone still
# stops early (its default relative tolerances xtol_rel = 1e-6 / ftol_rel apply first:
# gradients of up to 0.02 remained), so the relative tolerances are set to 0 as well.
# Usage: Rscript tests/r/lme4_tight.R DATA_DIR OUT_JSON REML(TRUE/FALSE)
# Writes lme4_tight.json (REML = FALSE) and, via lme4_reml.R, lme4_reml.json.
suppressPackageStartupMessages({library(lme4); library(jsonlite); library(broom.mixed)})
a <- commandArgs(TRUE)
reml <- if (length(a) >= 3) as.logical(a[3]) else FALSE
load(file.path(a[1], "popular.RData")); load(file.path(a[1], "popular_MAR.RData"))
popular$gender_ij <- as.numeric(popular$gender_ij == "girl")   # 0 = boy, 1 = girl
popular_MAR$gender_ij <- popular_MAR$gender_ij - 1              # stored as 1/2 there
models <- list(
  intercept_only = popularity_ij ~ (1 | cluster_id),
  predictors = popularity_ij ~ gender_ij + extraversion_ij + experience_j + (1 | cluster_id),
  random_slope = popularity_ij ~ gender_ij + extraversion_ij + experience_j + (1 + extraversion_ij | cluster_id),
  interaction = popularity_ij ~ gender_ij + extraversion_ij + experience_j + extraversion_ij:experience_j + (1 + extraversion_ij | cluster_id),
  # beyond the tutorial: uncorrelated slopes, two terms on one factor, crossed factors, 3 effects
  uncorrelated = popularity_ij ~ extraversion_ij + (1 + extraversion_ij || cluster_id),
  two_terms = popularity_ij ~ gender_ij + extraversion_ij + (1 + extraversion_ij | cluster_id) + (0 + gender_ij | cluster_id),
  crossed = popularity_ij ~ gender_ij + (1 | cluster_id) + (1 | extraversion_ij),
  three_effects = popularity_ij ~ gender_ij + extraversion_ij + (1 + extraversion_ij + gender_ij | cluster_id))
ctrl <- lmerControl(optimizer = "nloptwrap",
                    optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-15, xtol_rel = 0, ftol_rel = 0, maxeval = 1e6))
fit1 <- function(f, d) {
  m <- lmer(f, data = d, REML = reml, control = ctrl)
  vc <- as.data.frame(VarCorr(m))
  devfun <- lmer(f, data = d, REML = reml, devFunOnly = TRUE)
  th1 <- getME(m, "theta"); th1[] <- ifelse(getME(m, "lower") == 0, 1, 0.1)
  re <- ranef(m, condVar = TRUE)
  g1 <- names(re)[1]
  pv <- attr(re[[g1]], "postVar")
  if (is.list(pv)) pv <- pv[[1]]
  td <- as.data.frame(tidy(m, conf.int = TRUE))
  list(n = nobs(m), fixef = as.list(fixef(m)), se = as.list(sqrt(diag(as.matrix(vcov(m))))),
       vcov = as.matrix(vcov(m)),
       varcomp = lapply(seq_len(nrow(vc)), function(i) list(grp = vc$grp[i], var1 = vc$var1[i], var2 = vc$var2[i], vcov = vc$vcov[i], sdcor = vc$sdcor[i])),
       theta = unname(getME(m, "theta")), sigma = sigma(m),
       loglik = as.numeric(logLik(m)), aic = AIC(m), bic = BIC(m),
       criterion = if (reml) REMLcrit(m) else deviance(m),
       devfun_at = list(theta = unname(th1), value = devfun(th1)),
       ngrps = as.list(ngrps(m)),
       ranef_group = g1, ranef_first5 = as.matrix(re[[g1]][1:5, , drop = FALSE]),
       condvar_first = pv[, , 1], fitted_first5 = unname(fitted(m)[1:5]),
       tidy = lapply(seq_len(nrow(td)), function(i) as.list(td[i, ])),
       messages = as.list(m@optinfo$conv$lme4$messages))
}
out <- list(
  note = paste("lme4 fits with REML =", reml, "and nloptwrap xtol_abs = 1e-14, ftol_abs = 1e-15;",
               "gender 0 = boy, 1 = girl; devfun_at = the profiled deviance / REML criterion at theta",
               "(diagonal 1, off-diagonal 0.1); ranef/condvar of the first grouping factor"),
  software = paste("R", getRversion(), "lme4", packageVersion("lme4"), "broom.mixed", packageVersion("broom.mixed")),
  reml = reml,
  formulas = lapply(models, function(f) paste(deparse(f, width.cutoff = 500), collapse = "")),
  truth = lapply(models, fit1, d = popular),
  complete_case = lapply(models, fit1, d = popular_MAR))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"), a[2])

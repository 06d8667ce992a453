# Reference numbers for mlmice.test_models (tests/test_pool_models.py).
# mitml::testModels (D1, D2 wald, D2 likelihood, D3) and mice::D1/D2/D3 for
# successive nested models of the tutorial's sequence, fitted with lm / lmer
# (REML = FALSE) on the five data sets completed by R mice
# (../shared/reference/mice_completed_long.csv). Per-imputation inputs
# (coefficients, full vcov, VarCorr rows, logLik) are stored too, so that the
# Python tests can recompute every statistic from R's own fits, and mitml's
# log-likelihoods at the pooled parameters (D3) are stored to check the
# log-likelihood evaluator on its own.
# Usage: Rscript tests/r/pool_tests.R ../shared/reference/mice_completed_long.csv tests/r/pool_tests.json
suppressPackageStartupMessages({library(mice); library(lme4); library(mitml); library(jsonlite); library(broom.mixed)})
a <- commandArgs(TRUE)
long <- read.csv(a[1])
# rebuild a mids object from the completed data sets: a cell is "imputed" where
# the five data sets disagree (a cell imputed with the same value in all five
# is data-identical either way), so complete(imp, i) is data set i
sets <- unname(split(long, long$.imp))
orig <- sets[[1]]
for (v in setdiff(names(orig), c(".imp", ".id"))) {
  same <- Reduce(`&`, lapply(sets[-1], function(s) s[[v]] == orig[[v]]))
  orig[[v]][!same] <- NA
}
orig$.imp <- 0
imp <- as.mids(rbind(orig, long))
for (i in 1:5) stopifnot(isTRUE(all.equal(complete(imp, i), sets[[i]][, names(complete(imp, i))], check.attributes = FALSE)))
models <- list(
  null_single = popularity_ij ~ 1,
  lm_extraversion = popularity_ij ~ extraversion_ij,
  intercept_only = popularity_ij ~ (1 | cluster_id),
  predictors = popularity_ij ~ gender_ij + extraversion_ij + experience_j + (1 | cluster_id),
  random_slope = popularity_ij ~ gender_ij + extraversion_ij + experience_j + (1 + extraversion_ij | cluster_id),
  interaction = popularity_ij ~ gender_ij + extraversion_ij + experience_j + extraversion_ij:experience_j + (1 + extraversion_ij | cluster_id))
# with(imp, ...) as the tutorial does: mice's D3 refits each model through
# update(), which needs the data in the formula's environment
fit_mira <- function(f) {
  fl <- str2lang(paste(deparse(f), collapse = ""))   # a call: the formula is made in the data's env
  if (is.null(findbars(f))) eval(bquote(with(imp, lm(.(fl))))) else
    eval(bquote(with(imp, lmer(.(fl), REML = FALSE))))
}
miras <- lapply(models, fit_mira)
fits <- lapply(miras, function(x) x$analyses)
vc_rows <- function(f) {
  if (!inherits(f, "merMod")) return(list(grp = "Residual", var1 = NA, var2 = NA, vcov = sigma(f)^2, sdcor = sigma(f)))
  v <- as.data.frame(VarCorr(f)); lapply(as.list(v), function(x) if (is.factor(x)) as.character(x) else x)
}
per_imp <- lapply(fits, function(fl) lapply(fl, function(f) {
  ll <- logLik(f)
  list(coef = as.list(if (inherits(f, "merMod")) fixef(f) else coef(f)),
       vcov = unname(as.matrix(vcov(f))), varcorr = vc_rows(f),
       loglik = as.numeric(ll), df_loglik = attr(ll, "df"), nobs = nobs(f),
       df_residual = df.residual(f))
}))
tm <- function(expr) tryCatch({
  r <- suppressWarnings(expr); t <- r$test
  list(F = t[1, 1], df1 = t[1, 2], df2 = t[1, 3], p = t[1, 4], RIV = t[1, 5])
}, error = function(e) list(error = conditionMessage(e)))
md <- function(expr) tryCatch({
  r <- suppressWarnings(expr); t <- r$result
  out <- list(F = t[1], df1 = t[2], df2 = t[3], p = t[4], RIV = t[5], dfcom = r$dfcom)
  if (!is.null(r$deviances)) out$deviances <- lapply(r$deviances, unname)
  out
}, error = function(e) list(error = conditionMessage(e)))
ull <- function(fl) tryCatch({
  u <- mitml:::.evaluateUserLogLik(fl); list(LL = unname(u$LL), LL_pooled = unname(u$LL.pooled), df = u$df)
}, error = function(e) list(error = conditionMessage(e)))
pairs <- list(c("lm_extraversion", "null_single"), c("intercept_only", "null_single"), c("predictors", "intercept_only"),
              c("random_slope", "predictors"), c("interaction", "random_slope"),
              c("interaction", "predictors"))
comparisons <- lapply(pairs, function(p) {
  f1 <- fits[[p[1]]]; f0 <- fits[[p[2]]]
  dfcom <- df.residual(f1[[1]])
  list(model = p[1], null_model = p[2],
       mitml = list(D1 = tm(testModels(f1, f0, method = "D1")),
                    D1_dfcom = c(tm(testModels(f1, f0, method = "D1", df.com = dfcom)), list(df_com = dfcom)),
                    D2 = tm(testModels(f1, f0, method = "D2")),
                    D2_likelihood = tm(testModels(f1, f0, method = "D2", use = "likelihood")),
                    D3 = tm(testModels(f1, f0, method = "D3"))),
       mice = list(D1 = md(D1(miras[[p[1]]], miras[[p[2]]])),
                   D2 = md(D2(miras[[p[1]]], miras[[p[2]]])),
                   D3 = md(D3(miras[[p[1]]], miras[[p[2]]]))))
})
extra_pars <- lapply(fits, function(fl) {
  te <- suppressWarnings(testEstimates(fl, extra.pars = TRUE))
  as.list(setNames(te$extra.pars[, 1], rownames(te$extra.pars)))
})
out <- list(note = "mitml::testModels and mice::D1/D2/D3 on the completed data in mice_completed_long.csv (fits: lm, lmer REML = FALSE); per_imputation holds each fit's inputs; user_loglik is mitml:::.evaluateUserLogLik (LL at own estimates, LL_pooled at the parameters averaged over imputations); extra_pars is testEstimates(fits, extra.pars = TRUE)$extra.pars",
            software = paste("R", getRversion(), "mice", packageVersion("mice"), "lme4", packageVersion("lme4"), "mitml", packageVersion("mitml")),
            formulas = lapply(models, function(f) paste(deparse(f, width.cutoff = 500), collapse = "")),
            per_imputation = per_imp,
            user_loglik = lapply(fits, ull),
            extra_pars = extra_pars,
            comparisons = comparisons)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"), a[2])

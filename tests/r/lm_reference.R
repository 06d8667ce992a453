# R's lm on the complete popularity data with a factor, an interaction and I():
# coefficients, SEs, sigma, logLik, AIC, BIC, deviance and broom::tidy(conf.int = TRUE).
# Usage: Rscript tests/r/lm_reference.R DATA_DIR OUT_JSON
suppressPackageStartupMessages({library(jsonlite); library(broom)})
a <- commandArgs(TRUE); load(file.path(a[1], "popular.RData"))
# gender stays a factor (boy/girl): the coefficient is named gender_ijgirl
f <- popularity_ij ~ gender_ij * extraversion_ij + I(extraversion_ij^2) + experience_j
m <- lm(f, data = popular)
td <- as.data.frame(tidy(m, conf.int = TRUE))
out <- list(formula = paste(deparse(f, width.cutoff = 500), collapse = ""),
            n = nobs(m), coef = as.list(coef(m)), se = as.list(sqrt(diag(vcov(m)))),
            sigma = sigma(m), loglik = as.numeric(logLik(m)), aic = AIC(m), bic = BIC(m),
            deviance = deviance(m), df_residual = df.residual(m),
            tidy = lapply(seq_len(nrow(td)), function(i) as.list(td[i, ])))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), a[2])

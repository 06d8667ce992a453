# Reference imputation distributions of mice's 2l.pan, 2l.norm and 2l.lmer on one
# small data set, for tests/test_methods_two_level.py (mlmice's methods must give the
# same distribution of imputed values within Monte Carlo error).
# Run from tests/r: Rscript two_level_methods_r.R  (R 4.2.2, mice 3.15.0, pan 1.6, lme4)
# Writes two_level_methods_r.csv (data: g, x, y with NA) and two_level_methods_r.json
# (per missing row: mean and variance of K imputations, per method).
suppressPackageStartupMessages({library(mice); library(jsonlite)})
set.seed(7)
J <- 30; nj <- 12
g <- rep(seq_len(J), each = nj)
n <- length(g)
x <- rnorm(n)
b0 <- rnorm(J, 0, 0.7); b1 <- rnorm(J, 0, 0.35)
y <- 1 + 0.6 * x + b0[g] + b1[g] * x + rnorm(n, 0, 0.8)
ry <- runif(n) > 0.3
# standardise with the observed mean and (population) sd, as mlmice does internally,
# so that pan's default priors (a = 1, Binv = 1, c = q, Dinv = I) are identical
m <- mean(y[ry]); s <- sqrt(mean((y[ry] - m)^2))
y <- (y - m) / s
y[!ry] <- NA
write.csv(data.frame(g = g - 1L, x = x, y = y), "two_level_methods_r.csv", row.names = FALSE)
X <- cbind(x = x, g = g)
type <- c(x = 2, g = -2)
K <- 400
draw <- function(fun) {
  imps <- vapply(seq_len(K), function(k) fun(y = y, ry = ry, x = X, type = type),
                 numeric(sum(!ry)))
  list(mean = unname(rowMeans(imps)), var = unname(apply(imps, 1, var)))
}
out <- list(K = K,
            pan = draw(mice.impute.2l.pan),
            norm = draw(mice.impute.2l.norm),
            lmer = draw(mice.impute.2l.lmer))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), "two_level_methods_r.json")

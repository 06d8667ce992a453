# R as the oracle for 2l.norm with a binary level-1 predictor and a level-2 predictor
# (issue: valid inference for every parameter, item 4: one m = 100 run put the pooled
# coefficient of the binary predictor 2.4 MC SEs from R's). 40 data sets, 60 clusters
# of 15; y missing at random given w (about 25 %); mice's 2l.norm with x and w coded 2
# (mice's 2l.norm drops predictors coded 1, so both enter as random effects there and
# here), m = 20, maxit = 1; analysis lmer(y ~ x + w + (1 | g), REML = FALSE): Rubin's
# pooled fixed effects and averaged variance components; and the complete-data fit.
# Run from tests/r: Rscript oracle_norm_binary.R   (R 4.2.2, mice 3.15.0, lme4 1.1-31,
# mitml 0.4-4; about 20 CPU minutes). Writes oracle_norm_binary.csv.gz and .json.
suppressPackageStartupMessages({
  library(mice); library(lme4); library(mitml); library(jsonlite); library(broom.mixed)
})
set.seed(4122026)
R <- 40; J <- 60; nj <- 15; m <- 20
FORMULA <- y ~ x + w + (1 | g)

simulate_one <- function(r) {
  g <- rep(seq_len(J), each = nj)
  n <- length(g)
  x <- rbinom(n, 1, 0.5)
  w <- rnorm(J)[g]
  y <- 1 + 0.5 * x + 0.4 * w + rnorm(J, 0, 0.6)[g] + rnorm(n)
  y_mis <- ifelse(runif(n) < plogis(-1.2 + 0.8 * w), NA, y)
  data.frame(rep = r, g = g, x = x, w = w, y = y, y_mis = y_mis)
}

summarise_fits <- function(datasets) {
  fits <- lapply(datasets, function(d) lmer(FORMULA, data = d, REML = FALSE))
  pooled <- summary(pool(as.mira(fits)))
  est <- setNames(pooled$estimate, as.character(pooled$term))
  te <- testEstimates(as.mitml.result(fits), extra.pars = TRUE)
  list(fixed = as.list(est), variance = as.list(te$extra.pars[, 1]))
}

data <- do.call(rbind, lapply(seq_len(R), simulate_one))
out <- list(R = R, m = m, formula = deparse(FORMULA), complete = list(), `2l.norm` = list())
for (r in seq_len(R)) {
  d <- data[data$rep == r, ]
  fit <- lmer(FORMULA, data = d, REML = FALSE)
  vc <- as.data.frame(VarCorr(fit))
  out$complete[[r]] <- list(fixed = as.list(fixef(fit)),
                            variance = list(`Intercept~~Intercept|g` = vc$vcov[1],
                                            `Residual~~Residual` = vc$vcov[2]))
  dat <- data.frame(g = d$g, x = d$x, w = d$w, y = d$y_mis)
  pred <- make.predictorMatrix(dat)
  pred[,] <- 0
  pred["y", c("g", "x", "w")] <- c(-2, 2, 2)
  imp <- mice(dat, m = m, maxit = 1, method = c(g = "", x = "", w = "", y = "2l.norm"),
              predictorMatrix = pred, print = FALSE)
  out$`2l.norm`[[r]] <- summarise_fits(lapply(seq_len(m), function(i) complete(imp, i)))
  cat(sprintf("data set %d\n", r))
}
data$g <- data$g - 1L
num <- c("w", "y", "y_mis")
data[num] <- lapply(data[num], signif, digits = 8)
con <- gzfile("oracle_norm_binary.csv.gz", "w")
write.csv(data, con, row.names = FALSE, na = "")
close(con)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), "oracle_norm_binary.json")

# Reference for tests/test_level_two.py: R mice's 2lonly.norm and 2lonly.pmm on
# simulated two-level data (60 clusters of 3-10 rows; x level 1, z and w level 2;
# w missing for whole clusters, more often when z is high). m = 200, maxit = 1 (only
# w is incomplete), then the pooled mean of w and the pooled cluster-level
# regression lm(w ~ z + xbar) on one row per cluster.
# Usage: Rscript tests/r/mice_level_two.R  (writes mice_level_two.json beside it)
suppressPackageStartupMessages({library(mice); library(jsonlite)})
out_dir <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
set.seed(20)
G <- 60
size <- sample(3:10, G, replace = TRUE)
g <- rep(seq_len(G), size)
z <- rnorm(G)
w <- 2 + 0.8 * z + rnorm(G, sd = 0.6)
u <- rnorm(G, sd = 0.5)
x <- u[g] + 0.5 * z[g] + rnorm(length(g))
gone <- which(runif(G) < plogis(-1 + 1.2 * z))
wfull <- w[g]
wobs <- wfull; wobs[g %in% gone] <- NA
dat <- data.frame(g = g, x = x, z = z[g], w = wobs)
pred <- make.predictorMatrix(dat)
pred[, "g"] <- -2
res <- list()
for (meth in c("2lonly.norm", "2lonly.pmm")) {
  mth <- make.method(dat); mth["w"] <- meth
  imp <- mice(dat, m = 200, maxit = 1, method = mth, predictorMatrix = pred, seed = 1,
              printFlag = FALSE)
  est <- t(sapply(seq_len(200), function(i) {
    d <- complete(imp, i)
    cl <- aggregate(cbind(w, z, x) ~ g, data = d, FUN = mean)
    c(coef(lm(w ~ z + x, data = cl)), mean_w = mean(cl$w))
  }))
  res[[meth]] <- lapply(colnames(est), function(k) list(term = k, estimate = mean(est[, k]),
                                                        b = var(est[, k])))
}
out <- list(note = paste("mice m = 200, maxit = 1, seed = 1; per imputation: one row per",
                         "cluster (cluster means), lm(w ~ z + xbar) and mean(w); mean and",
                         "variance over imputations"),
            software = paste("R", getRversion(), "mice", packageVersion("mice")),
            missing_clusters = length(gone),
            data = as.list(dat), results = res)
writeLines(toJSON(out, auto_unbox = TRUE, digits = 15, pretty = TRUE, na = "null"),
           file.path(out_dir, "mice_level_two.json"))

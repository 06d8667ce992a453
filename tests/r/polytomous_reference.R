# mice's polyreg and polr: the class probabilities each missing row is drawn from,
# for tests/test_polytomous.py. mice 3.15.0 draws an imputation from
# predict(fit, type = "probs") of nnet::multinom (polyreg) or MASS::polr (polr),
# fitted on the observed rows plus mice:::augment's pseudo-rows; those
# probabilities are the per-row distribution of the imputations.
# Data (simulated here, written to polytomous_reference.csv): 300 rows, numeric x1
# and x2, a nominal predictor f (3 categories, as its dummies fb and fc, as mice
# passes a factor predictor), an ordinal target yo (4 categories) and a nominal
# target yn (3 categories), each missing in about 25 % of the rows.
# mice 3.15.0 (Debian's) has mice issue #713: augment() turns an ordered factor into
# an unordered one with alphabetical levels, so polr fitted "high" < "low" < "mid" <
# "top" here; fixed in mice 3.18 (pull request #714). This script applies that fix
# (the augmented target keeps the factor's levels and order), so the reference is
# the behaviour of current mice, which mlmice follows.
# Run from tests/r: Rscript polytomous_reference.R   (seconds)
suppressPackageStartupMessages({library(mice); library(jsonlite)})
set.seed(20261205)
n <- 300
x1 <- rnorm(n); x2 <- rnorm(n)
f <- factor(sample(c("a", "b", "c"), n, replace = TRUE))
fb <- as.numeric(f == "b"); fc <- as.numeric(f == "c")
lat <- 1.1 * x1 - 0.6 * x2 + 0.8 * fb + rlogis(n)
yo <- cut(lat, c(-Inf, -1, 0.4, 1.8, Inf), labels = c("low", "mid", "high", "top"),
          ordered_result = TRUE)
eta_b <- 0.3 + 0.9 * x1 - 0.5 * fc
eta_c <- -0.2 - 0.7 * x2 + 0.6 * fb
pr <- cbind(1, exp(eta_b), exp(eta_c)); pr <- pr / rowSums(pr)
yn <- factor(apply(pr, 1, function(p) sample(c("u", "v", "w"), 1, prob = p)))
yo[runif(n) < 0.25] <- NA
yn[runif(n) < 0.25] <- NA
x <- cbind(x1 = x1, x2 = x2, fb = fb, fc = fc)

posterior <- function(y, method) {
  ry <- !is.na(y); wy <- !ry
  aug <- mice:::augment(y, ry, x, wy)
  aug$y <- factor(as.character(aug$y), levels = levels(y), ordered = is.ordered(y))  # #713
  xy <- cbind.data.frame(y = aug$y, x = aug$x)
  fit <- if (method == "polr") {
    MASS::polr(formula(xy), data = xy[aug$ry, , drop = FALSE], weights = aug$w[aug$ry])
  } else {
    nnet::multinom(formula(xy), data = xy[aug$ry, , drop = FALSE],
                   weights = aug$w[aug$ry], maxit = 100, trace = FALSE, MaxNWts = 1500)
  }
  post <- predict(fit, xy[aug$wy, , drop = FALSE], type = "probs")
  list(rows = which(wy) - 1L, levels = levels(y), probs = unname(post))
}

out <- list(versions = list(R = R.version.string, mice = as.character(packageVersion("mice")),
                            MASS = as.character(packageVersion("MASS")),
                            nnet = as.character(packageVersion("nnet"))),
            polr = posterior(yo, "polr"), polyreg = posterior(yn, "polyreg"))
write.csv(data.frame(x1 = signif(x1, 10), x2 = signif(x2, 10), f = f, yo = yo, yn = yn),
          "polytomous_reference.csv", row.names = FALSE, na = "")
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), "polytomous_reference.json")

# Reference numbers for tests/test_logreg.py: mice's augmented logistic fit.
# Run from the repository root:  Rscript tests/r/logreg_reference.R
# Writes tests/r/logreg_reference.json. R 4.2.2, mice 3.15.0.
suppressPackageStartupMessages({library(mice); library(jsonlite)})
cases <- list()
make_case <- function(name, y, ry, x) {
  aug <- mice:::augment(y, ry, x, !ry)
  xa <- cbind(1, as.matrix(aug$x))
  fit <- glm.fit(x = xa[aug$ry, , drop = FALSE], y = aug$y[aug$ry],
                 family = quasibinomial(link = logit), weights = aug$w[aug$ry],
                 control = glm.control(epsilon = 1e-12, maxit = 100))
  s <- summary.glm(fit)
  list(name = name, y = y, ry = ry, x = unname(as.matrix(x)),
       x_aug = unname(as.matrix(aug$x[-seq_along(y), , drop = FALSE])),
       y_aug = aug$y[-seq_along(y)], w_aug = aug$w[-seq_along(y)],
       coef = unname(coef(fit)), cov_unscaled = unname(s$cov.unscaled))
}
set.seed(11)
n <- 60
x <- data.frame(a = rnorm(n), b = rbinom(n, 1, 0.4), c = runif(n, 0, 10))
y <- rbinom(n, 1, plogis(-0.5 + 0.8 * x$a + 1.2 * x$b - 0.1 * x$c))
ry <- runif(n) > 0.25
cases[[1]] <- make_case("ordinary", y, ry, x)
# complete separation on the observed rows: y = 1 exactly when a > 0
ys <- as.numeric(x$a > 0)
cases[[2]] <- make_case("separated", ys, ry, x[, c("a", "b")])
write_json(list(software = paste(R.version.string, "mice", packageVersion("mice")),
                cases = cases), "tests/r/logreg_reference.json", digits = NA, auto_unbox = TRUE,
           matrix = "rowmajor")

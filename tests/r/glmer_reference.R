# Reference numbers for tests/test_glmer.py: lme4::glmer on the complete tutorial data.
# Run from the repository root:  Rscript tests/r/glmer_reference.R
# Reads ../shared/data/popular.RData; writes tests/r/glmer_reference.json.
# R 4.2.2, lme4 1.1-31.
#
# For each model: lme4's default fit (estimates, theta, VarCorr, logLik, SEs),
# and, at lme4's estimates, the exact Laplace log-likelihood computed here
# independently of lme4 (per-cluster Newton for the conditional modes, then
# the log-determinant), to show the gap to lme4's reported logLik (lme4's
# PIRLS takes the weights from the previous iterate).
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
e <- new.env()
load("../shared/data/popular.RData", envir = e)
d <- as.data.frame(e$popular)
d$gender_ij <- as.numeric(d$gender_ij == "girl")   # boy/girl -> 0/1

# exact Laplace log-likelihood at (beta, Sigma) for one grouping factor
laplace_loglik <- function(fit) {
  X <- getME(fit, "X"); y <- getME(fit, "y")
  beta <- fixef(fit)
  vc <- VarCorr(fit)[[1]]
  Zn <- colnames(vc)
  Zm <- cbind(1, as.matrix(d[, setdiff(Zn, "(Intercept)"), drop = FALSE]))[, seq_along(Zn), drop = FALSE]
  L <- t(chol(vc[, , drop = FALSE] + 0))   # Sigma = L L'
  g <- factor(d$cluster_id)
  eta0 <- drop(X %*% beta)
  total <- 0
  for (lev in levels(g)) {
    i <- which(g == lev)
    Zj <- Zm[i, , drop = FALSE] %*% L
    u <- rep(0, ncol(Zj))
    for (it in 1:100) {
      mu <- plogis(eta0[i] + drop(Zj %*% u))
      grad <- crossprod(Zj, y[i] - mu) - u
      H <- crossprod(Zj * (mu * (1 - mu)), Zj) + diag(ncol(Zj))
      step <- solve(H, grad)
      u <- u + drop(step)
      if (max(abs(step)) < 1e-13) break
    }
    eta <- eta0[i] + drop(Zj %*% u)
    mu <- plogis(eta)
    H <- crossprod(Zj * (mu * (1 - mu)), Zj) + diag(ncol(Zj))
    ll <- sum(dbinom(y[i], 1, mu, log = TRUE)) - 0.5 * sum(u^2) -
      0.5 * as.numeric(determinant(H, logarithm = TRUE)$modulus)
    total <- total + ll
  }
  total
}

describe <- function(fit) {
  vc <- as.data.frame(VarCorr(fit))
  list(formula = deparse(formula(fit)), nAGQ = fit@devcomp$dims[["nAGQ"]],
       fixef = as.list(fixef(fit)), se = as.list(sqrt(diag(as.matrix(vcov(fit))))),
       vcov = unname(as.matrix(vcov(fit))),
       theta = unname(getME(fit, "theta")),
       varcorr = lapply(seq_len(nrow(vc)), function(k) as.list(vc[k, ])),
       loglik = as.numeric(logLik(fit)), deviance = deviance(fit),
       nobs = nobs(fit), ngroups = as.list(ngrps(fit)),
       messages = fit@optinfo$conv$lme4$messages,
       laplace_loglik_at_estimates = if (fit@devcomp$dims[["nAGQ"]] == 1) laplace_loglik(fit) else NULL)
}

fits <- list(
  intercept = glmer(gender_ij ~ popularity_ij + (1 | cluster_id), data = d, family = binomial),
  slope = glmer(gender_ij ~ popularity_ij + (1 + popularity_ij | cluster_id), data = d,
                family = binomial),
  agq25 = glmer(gender_ij ~ popularity_ij + (1 | cluster_id), data = d, family = binomial,
                nAGQ = 25)
)
out <- lapply(fits, describe)
# a model on which lme4's optimiser stops short (convergence warning, max|grad| 0.15)
out$two_slopes <- describe(suppressWarnings(glmer(
  gender_ij ~ popularity_ij + extraversion_ij + (1 + popularity_ij + extraversion_ij | cluster_id),
  data = d, family = binomial)))
# a tighter optimisation of lme4's own objectives, to show how far the default stops short
tight <- glmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10, maxfun = 1e5))
out$agq25_tight <- describe(update(fits$agq25, control = tight))
out$intercept_tight <- describe(update(fits$intercept, control = tight))
out$software <- paste(R.version.string, "lme4", packageVersion("lme4"))
write_json(out, "tests/r/glmer_reference.json", digits = NA, auto_unbox = TRUE, null = "null",
           pretty = TRUE)

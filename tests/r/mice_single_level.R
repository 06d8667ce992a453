# Reference for tests/test_methods_single.py: R mice with pmm and with norm on
# mice's nhanes data (25 rows; age complete, bmi/hyp/chl incomplete), m = 200,
# maxit = 20, then pool(with(imp, lm(chl ~ age + bmi))) and the pooled mean of bmi.
# Usage: Rscript tests/r/mice_single_level.R  (writes mice_single_level.json beside it)
suppressPackageStartupMessages({library(mice); library(jsonlite)})
out_dir <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
dat <- mice::nhanes
res <- list()
for (meth in c("pmm", "norm")) {
  imp <- mice(dat, m = 200, maxit = 20, method = meth, seed = 1, printFlag = FALSE)
  fit <- with(imp, lm(chl ~ age + bmi))
  p <- pool(fit)$pooled
  mb <- pool(with(imp, lm(bmi ~ 1)))$pooled
  res[[meth]] <- list(
    lm = lapply(seq_len(nrow(p)), function(i) list(term = as.character(p$term[i]),
      estimate = p$estimate[i], b = p$b[i], ubar = p$ubar[i])),
    bmi_mean = list(estimate = mb$estimate[1], b = mb$b[1], ubar = mb$ubar[1]))
}
out <- list(note = "mice::nhanes; mice(m = 200, maxit = 20, seed = 1, method = pmm or norm); pooled lm(chl ~ age + bmi) and lm(bmi ~ 1)",
            software = paste("R", getRversion(), "mice", packageVersion("mice")),
            data = lapply(as.list(dat), function(x) ifelse(is.na(x), NA, x)),
            results = res)
writeLines(toJSON(out, auto_unbox = TRUE, digits = 12, pretty = TRUE, na = "null"),
           file.path(out_dir, "mice_single_level.json"))

"""A methods paragraph ready to paste into a paper.

:func:`methods_paragraph` writes what the reporting recommendations for
multiple imputation ask of a methods section (Sterne et al. 2009, box 1; van
Buuren 2018, section 12.2): the software and its version, the number of
missing values, the imputation method of every incomplete variable, the
predictors of each imputation model in words, the number of imputations and
iterations, the evidence of convergence, and how the results were pooled.
It states what was done, not whether it was right: the compatibility
cautions and the results stay in the report's other sections.

References
----------
Sterne, J. A. C. et al. (2009). Multiple imputation for missing data in
epidemiological and clinical research: potential and pitfalls. *BMJ* 338,
b2393.
van Buuren, S. (2018). *Flexible Imputation of Missing Data* (2nd ed.),
section 12.2 (reporting).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mlmice.reporting.formatting import fmt, fmt_int

__all__ = ["METHOD_WORDS", "methods_paragraph", "predictors_in_words"]

#: What each method does, in words for a methods section.
METHOD_WORDS = {
    "pmm": "predictive mean matching",
    "norm": "Bayesian linear regression",
    "logreg": "Bayesian logistic regression",
    "mean": "the observed mean (single imputation, not recommended)",
    "2l.pan": "a two-level linear mixed model with a homogeneous residual variance, "
              "drawn by Gibbs sampling as in mice's 2l.pan (Schafer and Yucel 2002)",
    "2l.norm": "a two-level linear mixed model with cluster-specific residual variances, "
               "as in mice's 2l.norm (Kasim and Raudenbush 1998)",
    "2l.lmer": "a two-level linear mixed model fitted by REML with drawn parameters, "
               "as in mice's 2l.lmer",
    "2l.pmm": "two-level predictive mean matching on the predictions of a linear mixed "
              "model with drawn random effects, as in miceadds' 2l.pmm",
    "2l.bin": "a two-level logistic mixed model drawn by Polya-Gamma Gibbs sampling, "
              "in the role of mice's 2l.bin",
    "2l.smc": "substantive-model-compatible imputation from the analysis model "
              "(Goldstein et al. 2014; Erler et al. 2016)",
    "2lonly.norm": "Bayesian linear regression at the cluster level, as in mice's 2lonly.norm",
    "2lonly.pmm": "predictive mean matching at the cluster level, as in mice's 2lonly.pmm",
    "2lonly.mean": "the cluster's observed value, else the mean over clusters",
}

#: Predictor codes in words (mice's conventions for multilevel imputation).
CODE_WORDS = {1: "fixed effect", 2: "fixed and random effect",
              3: "fixed effect and cluster mean", 4: "fixed and random effect and cluster mean"}


#: How the variance components were pooled, per ``pooling.varcomp_scale``.
VARCOMP_WORDS = {
    "raw": "variance components and intraclass correlations were averaged over the "
           "imputations",
    "log": "variance components were averaged over the imputations on the log scale "
           "(geometric means), their correlations on Fisher's z scale, and intraclass "
           "correlations were computed from the pooled components",
}


def predictors_in_words(target: str, row: Mapping[str, int]) -> str:
    """One imputation model's predictors, e.g. ``"x (fixed effect), z (...)"``."""
    parts = [f"{v} ({CODE_WORDS[int(c)]})" for v, c in row.items()
             if v != target and int(c) in CODE_WORDS]
    return ", ".join(parts) if parts else "no predictors"


def _join(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def methods_paragraph(*, spec: Mapping, n_missing: Mapping[str, int], n_rows: int,
                      n_clusters: int, incomplete_rows: int, m: int, maxit: int, seed,
                      max_rhat: float | None, rhat_threshold: float,
                      models: Sequence[Mapping], version: str,
                      filled: Mapping[str, tuple[int, int]] | None = None,
                      varcomp_scale: str = "raw") -> list[str]:
    """The methods paragraph, as a list of sentences (plain text, no markup).

    Parameters
    ----------
    spec : mapping
        The imputation spec as ``impute/spec.json`` stores it: ``method``,
        ``predictor_matrix`` (target -> predictor -> code), ``cluster``.
    n_missing : mapping
        Missing values per variable in the incomplete data.
    n_rows, n_clusters, incomplete_rows : int
        Rows, clusters, rows with at least one missing value.
    m, maxit, seed
        Imputations, iterations per chain, the seed.
    max_rhat : float or None
        Largest R-hat over the imputed variables (None when no chain has one).
    rhat_threshold : float
    models : sequence of mapping
        ``name``, ``formula``, ``reml`` per analysis model.
    version : str
        mlmice's version.
    filled : mapping, optional
        Level-2 variable -> (rows filled from their cluster's observed value,
        rows imputed), see :func:`mlmice.reporting.study.level2_fill`.
    varcomp_scale : {"raw", "log"}, default "raw"
        How the variance components were pooled (the config's
        ``pooling.varcomp_scale``).

    Returns
    -------
    list of str
    """
    filled = dict(filled or {})
    method = spec["method"]
    pm = spec["predictor_matrix"]
    cluster = spec.get("cluster", "the cluster")
    imputed = [v for v, meth in method.items()
               if meth and not meth.startswith("~") and int(n_missing.get(v, 0)) > 0]
    out = [f"Missing values were handled by multiple imputation by chained equations "
           f"(fully conditional specification; van Buuren 2018) for multilevel data, "
           f"following Oberman and Vink, in mlmice {version} (Python). "
           f"Of {fmt_int(n_rows)} rows in {fmt_int(n_clusters)} clusters ({cluster}), "
           f"{fmt_int(incomplete_rows)} ({fmt(100 * incomplete_rows / max(n_rows, 1), 2)} %) "
           "had at least one missing value: "
           + _join([f"{v} {fmt_int(n_missing[v])}" for v in imputed]) + "."]
    for v in imputed:
        meth = method[v]
        words = METHOD_WORDS.get(meth, "")
        text = f"Variable {v} was imputed by {meth}" + (f", {words}" if words else "")
        n_fill, n_imp = filled.get(v, (0, int(n_missing[v]))) if meth.startswith("2lonly") \
            else (0, int(n_missing[v]))
        if n_fill and n_imp == 0:
            which = ("its missing value lay in a cluster where it was observed: it took"
                     if n_fill == 1 else f"each of its {fmt_int(n_fill)} missing values lay in "
                     "a cluster where it was observed: they took")
            out.append(f"Variable {v} is constant within clusters, and {which} the cluster's "
                       "value; none was imputed.")
            continue
        if n_fill:
            text += (f"; {fmt_int(n_fill)} of its {fmt_int(n_missing[v])} missing values lay in "
                     f"clusters where it was observed and took the cluster's value, "
                     f"{fmt_int(n_imp)} were imputed")
        if meth == "2l.smc":
            model = (spec.get("options") or {}).get(v, {}).get("model", "")
            text += f", with the analysis model {model}" if model else ""
        else:
            text += f"; predictors: {predictors_in_words(v, pm.get(v, {}))}"
        out.append(text + ".")
    passive = [v for v, meth in method.items() if meth and meth.startswith("~")]
    for v in passive:
        out.append(f"The variable {v} was computed from its parts after every imputation step "
                   f"(passive imputation, {method[v]}).")
    conv = ("Convergence was judged by trace plots of the mean and standard deviation of the "
            "imputed values and by the rank-normalised split R-hat (Vehtari et al. 2021)")
    if max_rhat is not None and np.isfinite(max_rhat):
        verdict = "below" if max_rhat < rhat_threshold else "above"
        conv += f", at most {fmt(max_rhat)} ({verdict} {fmt(rhat_threshold)})"
    iterations = f"{maxit} iteration" + ("" if maxit == 1 else "s")
    out.append(f"We created m = {m} imputed data sets, each after {iterations} of "
               f"the sampler (seed {seed}). " + conv + ".")
    fits = sorted({"restricted maximum likelihood" if mod.get("reml") else "maximum likelihood"
                   for mod in models})
    out.append(f"The analysis models ({_join([mod['name'] for mod in models])}) were fitted "
               f"to every imputed data set by {' or '.join(fits)}, and their fixed effects "
               "were pooled by Rubin's rules (Rubin 1987) with the degrees of freedom of "
               "Barnard and Rubin (1999); " + VARCOMP_WORDS[varcomp_scale] + ".")
    if len(models) > 1:
        out.append("Nested models were compared by pooled Wald tests (D1) and pooled "
                   "likelihood-ratio tests (D3; Meng and Rubin 1992).")
    return out

r"""The data and the study, described for the report's first section.

- :func:`describe_clusters`: rows, clusters and cluster sizes.
- :func:`icc_table`: per variable, the intraclass correlation of its observed
  values, the one-way ANOVA estimator for unequal cluster sizes (Snijders and
  Bosker 2012, section 3.3.1),

  .. math::

      \hat\rho = \frac{MSB - MSW}{MSB + (\tilde n - 1)\, MSW}, \qquad
      \tilde n = \frac{N - \sum_j n_j^2 / N}{J - 1},

  with :math:`MSB` and :math:`MSW` the between- and within-cluster mean
  squares of the :math:`N` observed values in :math:`J` clusters. It is a
  description of the data, not of the analysis model (whose ICC, after
  imputation, is in the pooled results); it may be slightly negative.
- :func:`data_source` and :func:`missingness_text`: where the data came from
  and how their values went missing, in words, from the study's config.
- :func:`complete_cases`: what list-wise deletion keeps of rows and clusters.
- :func:`level2_fill` and :func:`filled_only_variables`: missing values of
  cluster-level variables that are filled from their cluster's observed
  value rather than imputed.
- :func:`provenance`: mlmice's version, the versions of the packages it
  computes with, Python and the commit of the working directory.

References
----------
Snijders, T. A. B. and Bosker, R. J. (2012). *Multilevel Analysis* (2nd ed.).
Sage. Section 3.3.1.
"""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from mlmice.reporting.formatting import fmt, fmt_int

__all__ = ["complete_cases", "data_source", "describe_clusters", "filled_only_variables",
           "icc_table", "level2_fill", "missingness_text", "provenance"]

#: Packages whose versions the report prints (those the numbers depend on).
PACKAGES = ("mlmice", "numpy", "scipy", "pandas", "statsmodels", "pyarrow", "matplotlib",
            "snakemake", "papermill")


def describe_clusters(frame: pd.DataFrame, cluster: str) -> dict:
    """Rows, clusters and the smallest, median, mean and largest cluster size."""
    sizes = frame.groupby(cluster, sort=False).size()
    return {"n_rows": int(len(frame)), "n_clusters": int(len(sizes)),
            "size_min": int(sizes.min()), "size_median": float(sizes.median()),
            "size_mean": float(sizes.mean()), "size_max": int(sizes.max())}


def _anova_icc(values: np.ndarray, groups: np.ndarray) -> float:
    codes, groups = np.unique(groups, return_inverse=True)
    J, N = len(codes), len(values)
    if J < 2 or N <= J:
        return float("nan")
    n = np.bincount(groups, minlength=J).astype(float)
    means = np.bincount(groups, weights=values, minlength=J) / n
    grand = values.mean()
    msb = float(np.sum(n * (means - grand) ** 2) / (J - 1))
    msw = float(np.sum((values - means[groups]) ** 2) / (N - J))
    n_tilde = (N - np.sum(n ** 2) / N) / (J - 1)
    denom = msb + (n_tilde - 1) * msw
    return float((msb - msw) / denom) if denom > 0 else float("nan")


def icc_table(frame: pd.DataFrame, cluster: str, *, variables: Sequence[str],
              level2: Sequence[str] = ()) -> pd.DataFrame:
    """Per variable: its level, the observed values, the ICC of those values.

    Parameters
    ----------
    frame : DataFrame
        The (incomplete) data.
    cluster : str
    variables : sequence of str
        Numeric variables to describe (0/1 variables included).
    level2 : sequence of str
        Cluster-level variables: their ICC is 1 by definition and is left blank.

    Returns
    -------
    DataFrame with columns ``variable, level, observed, missing, icc``.
    """
    rows = []
    for var in variables:
        col = frame[var]
        obs = col.notna().to_numpy()
        icc = float("nan")
        if var not in level2 and pd.api.types.is_numeric_dtype(col):
            icc = _anova_icc(col.to_numpy(dtype=float)[obs], frame[cluster].to_numpy()[obs])
        rows.append({"variable": var, "level": 2 if var in level2 else 1,
                     "observed": int(obs.sum()), "missing": int((~obs).sum()), "icc": icc})
    return pd.DataFrame(rows, columns=["variable", "level", "observed", "missing", "icc"])


def complete_cases(frame: pd.DataFrame, cluster: str, variables: Sequence[str]) -> dict:
    """Rows and clusters left by list-wise deletion on ``variables``."""
    keep = frame[list(variables)].notna().all(axis=1)
    return {"n_rows": int(keep.sum()), "n_clusters": int(frame.loc[keep, cluster].nunique()),
            "n_clusters_lost": int(frame[cluster].nunique() - frame.loc[keep, cluster].nunique())}


def complete_cases_text(frame: pd.DataFrame, cluster: str,
                        model_variables: Mapping[str, Sequence[str]]) -> str:
    """What complete-case analysis keeps, in words, over the models (each deletes the
    rows with a missing value in its own variables, so the count differs between them).

    Parameters
    ----------
    frame : DataFrame
        The incomplete data.
    cluster : str
    model_variables : mapping
        Model name -> the data variables of its formula.
    """
    n = len(frame)
    kept = {name: complete_cases(frame, cluster, list(v)) for name, v in model_variables.items()
            if v}
    if not kept:
        return ""
    rows = {name: k["n_rows"] for name, k in kept.items()}
    lost = max(k["n_clusters_lost"] for k in kept.values())
    low, high = min(rows, key=rows.get), max(rows, key=rows.get)
    if rows[low] == rows[high]:
        text = (f"Complete-case analysis (CCA) of the models keeps {fmt_int(rows[low])} rows "
                f"({fmt(100 * rows[low] / n, 2)} %)")
    else:
        text = (f"Complete-case analysis (CCA) keeps from {fmt_int(rows[low])} rows "
                f"({fmt(100 * rows[low] / n, 2)} %, model {low}) to {fmt_int(rows[high])} "
                f"({fmt(100 * rows[high] / n, 2)} %, model {high}), as each model deletes the "
                "rows missing one of its own variables")
    if lost:
        worst = max(kept, key=lambda m: kept[m]["n_clusters_lost"])
        whole = "whole cluster" if lost == 1 else "whole clusters"
        if rows[low] == rows[high]:
            return f"{text} and loses {fmt_int(lost)} {whole}."
        return f"{text}, and loses up to {fmt_int(lost)} {whole} (model {worst})."
    return f"{text}; every cluster keeps some rows."


def data_source(data_config: Mapping) -> str:
    """Where the data came from, in plain text, from a study's ``data`` block."""
    if data_config.get("file"):
        text = f"Read from the file {data_config['file']}"
        if data_config.get("object"):
            text += f" (object {data_config['object']})"
        return text + "."
    sim = dict(data_config.get("simulate") or {})
    args = ", ".join(f"{k}={sim[k]!r}" for k in ("n_clusters", "cluster_size", "seed")
                     if k in sim)
    return ("Simulated by mlmice (mlmice.simulate_popularity(" + args + ")): "
            "a two-level data set with the structure of the tutorial's popularity data "
            "(pupils in classes; Hox, Moerbeek and van de Schoot 2017), whose true "
            "parameters are known.")


def missingness_text(amputation: Mapping | None, missing: pd.DataFrame, *,
                     n_rows: int, n_incomplete: int | None = None) -> str:
    """How the values went missing and how many, in words.

    Parameters
    ----------
    amputation : dict or None
        The study's ``amputation`` block; None when the data file was incomplete.
    missing : DataFrame
        ``variable, n_missing`` (``inspect/missing.parquet``).
    n_rows : int
    n_incomplete : int, optional
        Rows with a missing value: what the amputation made, beside the share it was
        asked for (``prop``; ampute's draws make the two differ).
    """
    counts = missing[missing["n_missing"] > 0]
    amounts = ", ".join(
        f"{r.variable} {fmt_int(r.n_missing)} ({fmt(100 * r.n_missing / n_rows, 2)} %)"
        for r in counts.itertuples(index=False)) or "none"
    if not amputation:
        return (f"The values missing in the file itself: {amounts}. Why they are missing is "
                "not known to mlmice; multiple imputation assumes they are missing at random "
                "given the variables of the imputation model.")
    mech = amputation.get("mech", "MAR")
    words = {"MCAR": "completely at random (MCAR)",
             "MAR": "at random (MAR): the chance to lose a value depends on observed variables",
             "MNAR": "not at random (MNAR): the chance depends on the value itself"}[mech]
    patterns = amputation.get("patterns") or []
    parts = []
    for p in patterns:
        w = p.get("weights")
        on = (" depending on " + ", ".join(f"{k}" for k in w)) if w and mech != "MCAR" else ""
        parts.append(f"{' and '.join(p['missing'])}{on}")
    pat = ("; patterns: " + "; ".join(parts)) if parts else ""
    share = f"asked to make a share {fmt(amputation.get('prop', 0.5))} of the rows incomplete"
    if n_incomplete is not None:
        share += (f", it made {fmt_int(n_incomplete)} rows "
                  f"({fmt(100 * n_incomplete / n_rows, 3)} %) incomplete")
    return (f"Values were removed from the complete data by mlmice's ampute (as "
            f"mice::ampute), missing {words}; {share}{pat}. Missing values: {amounts}.")


def _git_commit(directory: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(directory), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=10, check=False)
        dirty = subprocess.run(["git", "-C", str(directory), "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown (git not available)"
    if out.returncode != 0:
        return "unknown (not a git checkout)"
    return out.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def provenance(directory=".") -> dict:
    """Versions of mlmice, its numerical packages and Python, and the git commit.

    Returns
    -------
    dict with ``python``, ``platform``, ``commit`` and one key per package in
    :data:`PACKAGES` (``"not installed"`` where absent).
    """
    out = {"python": platform.python_version(), "platform": platform.platform(terse=True),
           "commit": _git_commit(Path(directory))}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def level2_fill(frame: pd.DataFrame, cluster: str, variable: str) -> tuple[int, int]:
    """Missing values of a cluster-level variable: (filled, imputed) rows.

    A ``2lonly`` method fills a missing value from the cluster's observed value
    when the cluster has one (the variable is constant within clusters);
    only clusters with no observed value are imputed.
    """
    miss = frame[variable].isna()
    observed_clusters = set(frame.loc[~miss, cluster].unique())
    in_observed = frame.loc[miss, cluster].isin(observed_clusters)
    return int(in_observed.sum()), int((~in_observed).sum())


def filled_only_variables(frame: pd.DataFrame, method: Mapping[str, str],
                          cluster: str) -> list[str]:
    """Cluster-level variables (``2lonly`` methods) whose missing values are all filled.

    Every missing value of such a variable lies in a cluster where the
    variable is observed, so the sampler copies the cluster's value and
    imputes nothing: it has no chain to diagnose and no imputed values to
    compare with the observed ones.
    """
    out = []
    for var, meth in method.items():
        if not (meth or "").startswith("2lonly") or var not in frame.columns:
            continue
        n_filled, n_imputed = level2_fill(frame, cluster, var)
        if n_filled > 0 and n_imputed == 0:
            out.append(var)
    return out

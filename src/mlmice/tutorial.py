"""The tutorial's case study in one place: its data coding, imputation model and models.

Oberman and Vink, "Imputation of incomplete multilevel data" (the R
tutorial mlmice ports) analyses the popularity data of Hox, Moerbeek and van
de Schoot (2017, *Multilevel Analysis*, 3rd ed.): 2000 pupils in 100
classes, with pupil popularity, gender, extraversion and the teacher's
assessment (level 1) and teacher experience (level 2).

* :func:`read_popular` reads ``popular.RData`` (gender an R factor
  ``boy``/``girl``) or ``popular_MAR.RData`` (gender stored 1/2) into the
  analysis frame with one coding, 0 = boy, 1 = girl, labels included.
* :func:`with_interaction` adds the passive product ``extraversion_experience``.
* :func:`tutorial_method` and :func:`tutorial_predictor_matrix` give the
  tutorial's imputation model; in R (``../shared/reference/r_timing.R``,
  specification a)::

      meth[c("popularity_ij", "extraversion_ij", "assessment_ij")] <- "2l.pmm"
      meth["gender_ij"] <- "2l.bin"; meth["experience_j"] <- "2lonly.pmm"
      meth["extraversion_experience"] <- "~ I(extraversion_ij * experience_j)"
      pred[, "cluster_id"] <- -2; pred[, "unit_id"] <- 0
      pred[, "extraversion_experience"] <- 0; pred["extraversion_experience", ] <- 0
      pred["popularity_ij", c("gender_ij", "extraversion_ij", "experience_j",
                              "assessment_ij", "extraversion_experience")] <- c(3, 4, 1, 1, 1)
      pred["gender_ij", "popularity_ij"] <- 2; pred["extraversion_ij", "popularity_ij"] <- 2
      pred["experience_j", "popularity_ij"] <- 2; pred["assessment_ij", "popularity_ij"] <- 4

  ``codes34=False`` gives the ``pool_reference.R`` variant with codes 1/2
  (for 2l.pan, which knows no cluster means).
* :data:`MODELS` is the tutorial's model sequence (lme4 syntax, fitted by ML).
"""

from __future__ import annotations

from types import MappingProxyType

import pandas as pd

__all__ = ["GENDER_LABELS", "MODELS", "PASSIVE", "read_popular", "tutorial_method",
           "tutorial_predictor_matrix", "with_interaction"]

GENDER_LABELS: MappingProxyType = MappingProxyType({0: "boy", 1: "girl"})

#: The passive imputation of the cross-level interaction (mice's ``~ I()`` syntax).
PASSIVE = "~ I(extraversion_ij * experience_j)"

#: The tutorial's five analysis models, name -> lme4 formula, in the order fitted.
MODELS: MappingProxyType = MappingProxyType({
    "null_single": "popularity_ij ~ 1",
    "intercept_only": "popularity_ij ~ (1 | cluster_id)",
    "predictors": "popularity_ij ~ gender_ij + extraversion_ij + experience_j + (1 | cluster_id)",
    "random_slope": "popularity_ij ~ gender_ij + extraversion_ij + experience_j"
                    " + (1 + extraversion_ij | cluster_id)",
    "interaction": "popularity_ij ~ gender_ij + extraversion_ij + experience_j"
                   " + extraversion_ij:experience_j + (1 + extraversion_ij | cluster_id)",
})


def read_popular(path) -> pd.DataFrame:
    """Read the tutorial's ``popular.RData`` or ``popular_MAR.RData``.

    Parameters
    ----------
    path : str or Path
        Either file (or a file of the same layout).

    Returns
    -------
    pandas.DataFrame
        The analysis frame of :func:`mlmice.io.read_data` with cluster
        ``cluster_id`` (``unit_id`` is kept as an ordinary column). Gender is
        0 = boy, 1 = girl in both files: the complete file's factor levels
        and the incomplete file's codes 1/2 both put boys first, so the
        labels :data:`GENDER_LABELS` are set for either.
    """
    from mlmice.io import read_data

    df = read_data(path, cluster="cluster_id")
    df.attrs["labels"] = {**df.attrs.get("labels", {}), "gender_ij": dict(GENDER_LABELS)}
    return df


def with_interaction(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with ``extraversion_experience = extraversion_ij * experience_j``.

    Missing when either factor is missing; :data:`PASSIVE` keeps it equal to
    the product during imputation.
    """
    df = df.copy()
    df["extraversion_experience"] = df["extraversion_ij"] * df["experience_j"]
    return df


def tutorial_method(*, gender: str = "2l.bin", level1: str = "2l.pmm",
                    level2: str = "2lonly.pmm") -> dict[str, str]:
    """The tutorial's method vector, variable -> mice method name.

    Parameters
    ----------
    gender : str
        Method for ``gender_ij`` (the tutorial's ``2l.bin``).
    level1 : str
        Method for popularity, extraversion and assessment (``2l.pmm``).
    level2 : str
        Method for teacher experience (``2lonly.pmm``).
    """
    return {"popularity_ij": level1, "gender_ij": gender, "extraversion_ij": level1,
            "assessment_ij": level1, "experience_j": level2,
            "extraversion_experience": PASSIVE}


def tutorial_predictor_matrix(df: pd.DataFrame, *, codes34: bool = True) -> pd.DataFrame:
    """The tutorial's predictor matrix for ``with_interaction(read_popular(...))``.

    Parameters
    ----------
    df : pandas.DataFrame
        The data with the tutorial's columns (``unit_id``, ``cluster_id``,
        the five variables and ``extraversion_experience``).
    codes34 : bool
        True: the tutorial's codes 3 and 4 (cluster means added). False:
        codes 1 and 2 in their place (``pool_reference.R``).

    Returns
    -------
    pandas.DataFrame
        Rows = targets, columns = predictors, miceadds codes (see
        :mod:`mlmice.impute.spec`); the diagonal is 0.
    """
    from mlmice.impute.spec import make_predictor_matrix

    pred = make_predictor_matrix(df)
    pred["cluster_id"] = -2
    pred["unit_id"] = 0
    pred["extraversion_experience"] = 0
    pred.loc["extraversion_experience"] = 0
    pop = ["gender_ij", "extraversion_ij", "experience_j", "assessment_ij",
           "extraversion_experience"]
    pred.loc["popularity_ij", pop] = [3, 4, 1, 1, 1] if codes34 else [1, 2, 1, 1, 1]
    pred.loc[["gender_ij", "extraversion_ij", "experience_j"], "popularity_ij"] = 2
    pred.loc["assessment_ij", "popularity_ij"] = 4 if codes34 else 2
    for name in df.columns:
        pred.loc[name, name] = 0
    return pred

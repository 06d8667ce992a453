"""One analysis model over several data sets, as the long tables the pipeline stores.

:func:`fit_tables` fits the model to each data set (the truth, the complete
cases, every imputation) and returns four tables, one row block per data set
(``dataset``, ``imputation``): tidy estimates, the covariance of the fixed
effects in long form, the variance components, and one row of fit
information (nobs, df_com, log-likelihood, convergence, warnings).
:func:`fits_from_tables` reads the imputation blocks back as light fit
objects with what Rubin's rules need (``fixef``, ``vcov``, ``varcorr``,
``dfcom``), so that pooling runs from the stored tables without refitting;
:func:`pooled_tables` pools them (the pipeline's ``pooled/`` and
``compare/models/`` tables).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from types import SimpleNamespace

import numpy as np
import pandas as pd

__all__ = ["fit_tables", "fits_from_tables", "model_tests_table", "no_tests_table",
           "pooled_tables"]

#: Columns of :func:`model_tests_table` (``tests/<model>.parquet``).
TEST_COLUMNS = ["model", "null_model", "method", "use", "m", "df_com", "f_value", "df1", "df2",
                "p_value", "riv", "note"]

KEYS = ["dataset", "imputation"]


def _fit(formula: str, data: pd.DataFrame, reml: bool):
    from mlmice.linear_model import lm
    from mlmice.mixed import lmer

    return lmer(formula, data=data, reml=reml) if "|" in formula else lm(formula, data=data)


def _ordered(frames) -> pd.DataFrame:
    out = pd.concat(frames, ignore_index=True)
    out = out[KEYS + [c for c in out.columns if c not in KEYS]]
    return out.astype({"dataset": str, "imputation": "int64"})


def _coding(data: pd.DataFrame, var: str):
    """How a variable's values map to terms: its categories (in order) or value labels."""
    col = data[var]
    if isinstance(col.dtype, pd.CategoricalDtype):
        return ("categories", tuple(map(str, col.cat.categories)), bool(col.cat.ordered))
    labels = (data.attrs.get("labels") or {}).get(var)
    return ("labels", tuple(sorted((int(k), str(v)) for k, v in labels.items()))) \
        if labels else None


def check_same_coding(formula: str, datasets: Sequence[tuple[str, int, pd.DataFrame]]) -> None:
    """Raise if a variable of ``formula`` is coded differently between the data sets.

    The truth (a complete file read on its own), the complete cases and the imputed data
    are compared term by term; a categorical with other categories, another order or
    another reference, or a binary variable with its labels the other way round, would
    give terms of one name but different meaning, compared silently.
    """
    from mlmice.formula import parse_formula

    variables = list(parse_formula(formula).variables)
    first_name, _, first = datasets[0]
    for name, _, data in datasets[1:]:
        for var in variables:
            if var in first.columns and var in data.columns:
                a, b = _coding(first, var), _coding(data, var)
                if a != b:
                    raise ValueError(
                        f"variable {var!r} is coded differently in the {first_name} data "
                        f"({_describe_coding(a)}) and the {name} data ({_describe_coding(b)}): "
                        "the same term names would mean different parameters. Give both "
                        "files the same categories (data.ordered sets their order)")


def _describe_coding(coding) -> str:
    if coding is None:
        return "numbers"
    if coding[0] == "categories":
        return ("ordered " if coding[2] else "") + "categories " + ", ".join(coding[1])
    return "codes " + ", ".join(f"{k} = {v}" for k, v in coding[1])


def fit_tables(formula: str, datasets: Sequence[tuple[str, int, pd.DataFrame]], *,
               reml: bool = False, log=lambda _: None) -> dict[str, pd.DataFrame]:
    """Fit ``formula`` (lmer with a ``( | )`` term, else lm) to every data set.

    Parameters
    ----------
    formula : str
    datasets : sequence of (name, imputation, DataFrame)
        ``name`` is "truth", "cca" or "imputation"; ``imputation`` 0 for the first two.
    reml : bool
    log : callable
        Receives one line per fit.

    Returns
    -------
    dict with DataFrames ``estimates``, ``vcov``, ``varcorr`` and ``fits``.
    """
    check_same_coding(formula, datasets)
    estimates, vcovs, varcorrs, infos = [], [], [], []
    for name, i, data in datasets:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = _fit(formula, data, reml)
        messages = [f"{w.category.__name__}: {w.message}" for w in caught]
        key = {"dataset": name, "imputation": int(i)}
        estimates.append(fit.tidy(conf_int=True).assign(**key, nobs=fit.nobs,
                                                        df_com=float(fit.dfcom)))
        v = fit.vcov
        vcovs.append(pd.DataFrame({**key,
                                   "row": np.repeat(v.index.to_numpy(dtype=str), v.shape[1]),
                                   "column": np.tile(v.columns.to_numpy(dtype=str), v.shape[0]),
                                   "value": v.to_numpy(dtype=float).ravel()}))
        varcorrs.append(fit.varcorr.assign(**key))
        ngroups = fit.ngroups
        infos.append({**key, "nobs": int(fit.nobs), "n_dropped": int(fit.n_dropped),
                      "ngroups": int(next(iter(ngroups.values()))) if ngroups else 0,
                      "df_com": float(fit.dfcom), "loglik": float(fit.loglik),
                      "aic": float(fit.aic), "bic": float(fit.bic),
                      "converged": bool(fit.converged), "singular": bool(fit.singular),
                      "warnings": "; ".join(messages)})
        log(f"{name} {i}: nobs {fit.nobs}, loglik {fit.loglik:.3f}"
            + (f"; {'; '.join(messages)}" if messages else ""))
    est = _ordered(estimates)
    est["group"] = est["group"].astype("string")
    vc = _ordered(varcorrs)
    vc[["grp", "var1", "var2"]] = vc[["grp", "var1", "var2"]].astype("string")
    return {"estimates": est.astype({"nobs": "int64", "df_com": "float64"}),
            "vcov": _ordered(vcovs), "varcorr": vc, "fits": _ordered([pd.DataFrame(infos)])}


def fits_from_tables(estimates: pd.DataFrame, vcov: pd.DataFrame, varcorr: pd.DataFrame,
                     fits: pd.DataFrame) -> list[SimpleNamespace]:
    """The imputation blocks of :func:`fit_tables`'s tables as fits for :func:`mlmice.pool`.

    Each has ``fixef`` (Series), ``vcov`` (DataFrame), ``varcorr`` and ``dfcom``,
    in the order of the imputations.
    """
    def imputations(frame):
        return frame[frame["dataset"] == "imputation"]

    estimates, vcov = imputations(estimates), imputations(vcov)
    varcorr, info = imputations(varcorr), imputations(fits)
    out = []
    for i, block in estimates[estimates["effect"] == "fixed"].groupby("imputation", sort=True):
        terms = list(block["term"])
        v = vcov[vcov["imputation"] == i].pivot(index="row", columns="column", values="value")
        vc = varcorr[varcorr["imputation"] == i][["grp", "var1", "var2", "vcov", "sdcor"]]
        out.append(SimpleNamespace(
            fixef=pd.Series(block["estimate"].to_numpy(), index=terms),
            vcov=v.loc[terms, terms], varcorr=vc.reset_index(drop=True),
            dfcom=float(info.loc[info["imputation"] == i, "df_com"].iloc[0])))
    return out


def pooled_tables(tables: dict[str, pd.DataFrame], *, model: str, varcomp_scale: str = "raw",
                  log=lambda _: None) -> dict[str, pd.DataFrame]:
    """Rubin's rules over the imputation blocks of :func:`fit_tables`'s ``tables``.

    Parameters
    ----------
    tables : dict of DataFrame
        ``estimates``, ``vcov``, ``varcorr`` and ``fits``, as :func:`fit_tables`
        returns them.
    model : str
        The model's name (a column of the comparison table).
    varcomp_scale : {"raw", "log"}
        How the variance components are averaged
        (:func:`mlmice.pooling.varcomp.pooled_misc_parameters`).
    log : callable
        Receives the tables as text, for the job's log.

    Returns
    -------
    dict of DataFrame
        ``pooled``: ``mice::pool`` + ``summary`` for the fixed effects with mitml's
        pooled variance components (:func:`mlmice.pooling.pooled_table`);
        ``mitml``: ``mitml::testEstimates(extra.pars = TRUE)``; ``compare``: the
        truth, the complete cases and MI side by side
        (:func:`mlmice.compare.compare_estimates`).
    """
    from mlmice.compare import closer_sentences, compare_estimates
    from mlmice.pooling import pooled_table, test_estimates

    fits = fits_from_tables(tables["estimates"], tables["vcov"], tables["varcorr"],
                            tables["fits"])
    pooled = pooled_table(fits, varcomp_scale=varcomp_scale)
    mitml = test_estimates(fits, extra_pars=True, varcomp_scale=varcomp_scale)
    log(f"pooled {len(fits)} fits\n{pooled.to_string()}\n{mitml}")
    mitml = mitml.to_frame()
    compare = compare_estimates(tables["estimates"], tables["varcorr"], pooled, mitml,
                                model=model)
    log("\n".join(closer_sentences(compare)))
    return {"pooled": pooled, "mitml": mitml, "compare": compare}


def model_tests_table(full, null, *, model: dict, null_model: dict,
                      log=lambda _: None) -> pd.DataFrame:
    """D1 and D3 of ``model`` against ``null_model`` (``mitml::testModels``), one row each.

    Parameters
    ----------
    full, null : fits of the two models to every imputed data set (``Mids.fit``)
    model, null_model : dict
        ``name`` and ``reml`` of each model.

    Returns
    -------
    DataFrame with columns :data:`TEST_COLUMNS`. A test that is not defined
    (D1 between models with the same fixed effects; D3 with REML fits) has
    empty statistics and says why in ``note``.
    """
    from mlmice.pooling import SameFixedEffectsError, test_models

    rows = []
    for method in ("D1", "D3"):
        row = {"model": model["name"], "null_model": null_model["name"], "method": method,
               "note": ""}
        if method == "D3" and (model["reml"] or null_model["reml"]):
            row["note"] = "D3 needs ML fits (reml: false); not computed"
        else:
            try:
                result = test_models(full, null, method=method)
            except SameFixedEffectsError:
                row["note"] = ("not defined: the models have the same fixed effects (they "
                               "differ in random effects only)")
            except ValueError as exc:
                row["note"] = f"not computed: {exc}"
            else:
                row.update(result.to_frame().iloc[0].to_dict())
                if method == "D1":
                    row["note"] = "parameters tested: " + ", ".join(result.parameters)
        log(str(row))
        rows.append(row)
    return _tests_frame(rows)


def no_tests_table() -> pd.DataFrame:
    """The tests table of the first model of a sequence: no rows (no model before it)."""
    return _tests_frame([])


def _tests_frame(rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=TEST_COLUMNS)
    return table.astype({"model": "string", "null_model": "string", "method": "string",
                         "use": "string", "m": "float64", "note": "string",
                         **{c: "float64" for c in TEST_COLUMNS[5:11]}})

"""A catalogue of bad inputs: each stops with a clear error that names what is wrong.

Every case is a row of :data:`CASES`: where the input enters (data file, API call,
damaged state, simulation config), what is wrong, the call, the error class and a
pattern the message must contain (the file, variable, key, row or value at fault,
and what to do where there is a choice). ``docs/errors.md`` is generated from the
table (``python tests/test_bad_input.py > docs/errors.md``); a test keeps it current.
The pipeline's config errors and the report's escaping are checked at the end by
running snakemake.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlmice as mm
from mlmice.impute.spec import SpecError
from mlmice.impute.state import ChainState

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Case:
    id: str
    layer: str
    what: str
    call: object          # callable(tmp_path) that must raise
    error: type
    match: str            # regex the message must contain


def _pop(n_clusters=10, size=5, seed=1):
    return mm.simulate_popularity(n_clusters=n_clusters, cluster_size=size, seed=seed).data


def _inc(changes=None):
    df = _pop()
    df.loc[:7, "popularity_ij"] = np.nan
    for (row, col), value in (changes or {}).items():
        df.loc[row, col] = value
    return df


def _csv(tmp, text, name="data.csv"):
    path = tmp / name
    path.write_bytes(text.encode("latin-1") if isinstance(text, str) else text)
    return path


def _read(text, name="data.csv", **kw):
    return lambda tmp: mm.read_data(_csv(tmp, text, name), **{"cluster": "g", **kw})


def _mice(df=None, **kw):
    def call(tmp):
        data = _inc() if df is None else df
        pred = kw.pop("predictor_matrix", None)
        if pred is None:
            pred = mm.make_predictor_matrix(data, cluster="cluster_id")
        args = {"m": 2, "maxit": 1, "method": {"popularity_ij": "2l.pmm"}, **kw}
        return mm.mice(data, predictor_matrix=pred, **args)
    return call


def _lmer(formula, df=None, **kw):
    return lambda tmp: mm.lmer(formula, data=_pop() if df is None else df, **kw)


def _ampute(**kw):
    return lambda tmp: mm.ampute(_pop(), **{"seed": 1, **kw})


def _state(damage):
    """Write one chain state, damage it, read it back."""
    def call(tmp):
        data = _inc()
        imp = mm.mice(data, m=1, maxit=1, method={"popularity_ij": "2l.pmm"},
                      predictor_matrix=mm.make_predictor_matrix(data, cluster="cluster_id"),
                      seed=1)
        folder = imp.chains[0].to_files(tmp / "chain_1")
        damage(folder)
        return ChainState.from_files(folder, data)
    return call


def _edit_json(change):
    def damage(folder):
        meta = json.loads((folder / "state.json").read_text())
        change(meta)
        (folder / "state.json").write_text(json.dumps(meta))
    return damage


def _study(**changes):
    base = {"seed": 1, "generator": {"popularity": {"n_clusters": 10, "cluster_size": 5}},
            "amputation": {"prop": 0.3, "patterns": [{"missing": ["popularity_ij"]}]},
            "arms": {"pan": {"method": {"popularity_ij": "2l.pan"},
                             "predictor_matrix": {"popularity_ij": {"cluster_id": -2}}}},
            "models": [{"name": "ri", "formula": "popularity_ij ~ (1 | cluster_id)"}]}
    base.update(changes)
    return lambda tmp: mm.simulation.Study.from_config(base)


GOOD = "g,x,y\n1,1.5,2\n1,2.5,3\n2,0.5,1\n2,1.0,4\n"
SAV_GARBAGE = bytes(range(256)) * 4

CASES = [
    # ------------------------------------------------------------------ data files
    Case("file-missing", "data file", "the file does not exist",
         lambda tmp: mm.read_data(tmp / "nope.csv", cluster="g"), FileNotFoundError,
         r"data file '.*nope\.csv' does not exist"),
    Case("file-type", "data file", "an unsupported file type",
         _read(GOOD, name="data.xlsx"), ValueError, r"unknown file type '\.xlsx'; supported"),
    Case("file-empty", "data file", "an empty CSV", _read(""), ValueError, r"is empty"),
    Case("csv-duplicate-column", "data file", "a CSV naming a column twice",
         _read("g,x,x\n1,2,3\n"), ValueError, r"column name\(s\) \['x'\] occur more than once"),
    Case("csv-not-utf8", "data file", "a CSV that is not UTF-8 text",
         _read(b"g,x\n1,\xe9\xff\n"), ValueError, r"is not UTF-8 text; save it as UTF-8"),
    Case("csv-ragged", "data file", "a CSV row with too many fields",
         _read("g,x\n1,2\n1,2,3,4\n"), ValueError, r"could not be read as CSV"),
    Case("csv-inf", "data file", "an infinite value",
         _read("g,x\n1,inf\n1,2\n2,3\n"), ValueError,
         r"variable 'x' has 1 infinite or too large value\(s\).*row\(s\) 0"),
    Case("csv-huge", "data file", "a value whose square overflows (1e300)",
         _read("g,x\n1,1e300\n1,2\n2,3\n"), ValueError,
         r"variable 'x' has 1 infinite or too large value\(s\).*1e\+300"),
    Case("csv-minus-inf", "data file", "minus infinity",
         _read("g,x\n1,-inf\n1,2\n2,3\n"), ValueError, r"'x' has 1 infinite"),
    Case("csv-missing-code", "data file", "'.' for a missing value (SPSS, Stata exports)",
         _read("g,x\n1,1.5\n1,.\n2,3\n"), ValueError,
         r"variable 'x' mixes numbers with the text '\.' \(1 row\(s\), the first at row 1.*"
         r"data\.csv\.na_values"),
    Case("csv-decimal-comma", "data file", "numbers with decimal commas",
         _read('g,x\n1,"1,5"\n1,"2,5"\n2,"3,0"\n'), ValueError,
         r"variable 'x' has numbers with a decimal comma \(e\.g\. '1,5'.*data\.csv\.decimal"),
    Case("csv-semicolons", "data file", "a file separated by ';' (European locales)",
         _read("g;x\n1;1,5\n2;3\n"), ValueError,
         r"header 'g;x' reads as one column.*separated by ';': set csv sep"),
    Case("csv-bad-option", "data file", "a csv option that does not exist",
         _read(GOOD, csv={"delimiter": ";"}), ValueError, r"csv options \['delimiter'\]"),
    Case("sav-corrupt", "data file", "a damaged .sav file",
         lambda tmp: mm.read_data(_csv(tmp, SAV_GARBAGE, "data.sav"), cluster="g"),
         ValueError, r"data\.sav' could not be read as SPSS \.sav"),
    Case("rdata-corrupt", "data file", "a damaged .RData file",
         lambda tmp: mm.read_data(_csv(tmp, SAV_GARBAGE, "data.RData"), cluster="g"),
         ValueError, r"data\.RData' could not be read as R data"),
    Case("parquet-corrupt", "data file", "a damaged .parquet file",
         lambda tmp: mm.read_data(_csv(tmp, b"PAR1garbage", "data.parquet"), cluster="g"),
         ValueError, r"data\.parquet' could not be read as Parquet"),
    Case("columns-sav-corrupt", "data file", "reading the columns of a damaged .sav",
         lambda tmp: mm.io.read_columns(_csv(tmp, SAV_GARBAGE, "data.sav")), ValueError,
         r"could not be read as SPSS"),
    Case("columns-parquet-corrupt", "data file", "reading the columns of a damaged .parquet",
         lambda tmp: mm.io.read_columns(_csv(tmp, b"PAR1x", "data.parquet")), ValueError,
         r"could not be read as Parquet"),
    Case("columns-csv-duplicate", "data file", "reading the columns of a CSV naming one twice",
         lambda tmp: mm.io.read_columns(_csv(tmp, "a,a\n1,2\n")), ValueError,
         r"\['a'\] occur more than once"),
    Case("cluster-absent", "data file", "a cluster variable that is not a column",
         _read(GOOD, cluster="class"), ValueError, r"cluster variable 'class' not found"),
    Case("cluster-missing-values", "data file", "missing values in the cluster variable",
         _read("g,x\n1,1\n,2\n2,3\n"), ValueError,
         r"cluster variable 'g' has 1 missing value\(s\), at row\(s\) 1"),
    Case("id-absent", "data file", "an id variable that is not a column",
         _read(GOOD, id="pupil"), ValueError, r"id variable 'pupil' not found"),
    Case("id-is-cluster", "data file", "the same variable as id and cluster",
         _read(GOOD, id="g"), ValueError, r"id and cluster are the same variable 'g'"),
    Case("id-not-unique", "data file", "an id repeated within a cluster",
         _read("g,i,x\n1,1,2\n1,1,3\n2,1,4\n", id="i"), ValueError,
         r"id variable 'i' is not unique within clusters"),
    Case("level2-varies", "data file", "a declared level-2 variable varying within a cluster",
         _read(GOOD, level2=["x"]), ValueError, r"'x'.*(varies|differ)"),
    Case("level2-absent", "data file", "a level-2 variable that is not a column",
         _read(GOOD, level2=["w"]), ValueError, r"level2 variable 'w' not found"),
    Case("factor-many-levels", "data file", "a text column with many values",
         _read("g,x\n1,a\n1,b\n2,c\n"), ValueError, r"'x'"),
    Case("labels-unknown-var", "data file", "labels for a variable not in the file",
         _read(GOOD, labels={"z": {0: "a", 1: "b"}}), ValueError,
         r"labels: variable 'z' is not in"),
    Case("labels-one-code", "data file", "labels with one code",
         _read(GOOD, labels={"x": {0: "a"}}), ValueError,
         r"labels\['x'\]: give two codes \(a binary variable\) or more"),
    Case("ordered-missing-category", "data file", "an ordinal's declared categories lack one",
         _read("g,s\n1,low\n1,high\n2,mid\n", ordered={"s": ["low", "high"]}), ValueError,
         r"data\.ordered\['s'\] lacks the value\(s\) \['mid'\]"),
    # ------------------------------------------------------------------ lmer / lm
    Case("lmer-inf-predictor", "API: lmer", "an infinite predictor value",
         _lmer("popularity_ij ~ extraversion_ij + (1 | cluster_id)",
               df=_pop().assign(extraversion_ij=lambda d: d.extraversion_ij.where(
                   d.index != 3, np.inf))),
         ValueError, r"column 'extraversion_ij' has an infinite or too large value \(inf\) "
                     r"in row 3"),
    Case("lmer-huge-predictor", "API: lmer", "a predictor value of 1e300",
         _lmer("popularity_ij ~ extraversion_ij + (1 | cluster_id)",
               df=_pop().assign(extraversion_ij=lambda d: d.extraversion_ij.where(
                   d.index != 3, 1e300))),
         ValueError, r"'extraversion_ij' has an infinite or too large value \(1e\+300\)"),
    Case("lmer-huge-response", "API: lmer", "a response value of 1e300",
         _lmer("popularity_ij ~ extraversion_ij + (1 | cluster_id)",
               df=_pop().assign(popularity_ij=lambda d: d.popularity_ij.where(
                   d.index != 4, 1e300))),
         ValueError, r"response 'popularity_ij' is infinite or too large \(1e\+300\) in row 4"),
    Case("lmer-unknown-variable", "API: lmer", "a formula naming an unknown variable",
         _lmer("popularity_ij ~ extraversion + (1 | cluster_id)"), ValueError,
         r"'extraversion' in formula .* not found in data"),
    Case("lmer-no-response", "API: lmer", "a formula without a response",
         _lmer("~ extraversion_ij + (1 | cluster_id)"), ValueError, r"has no response"),
    Case("lmer-one-level", "API: lmer", "a grouping factor with one level",
         _lmer("popularity_ij ~ extraversion_ij + (1 | g1)", df=_pop().assign(g1=1)),
         ValueError, r"grouping factor 'g1' has 1 level"),
    Case("lmer-unbalanced-parens", "API: lmer", "a formula with an unclosed parenthesis",
         _lmer("popularity_ij ~ (1 | cluster_id"), ValueError, r"popularity_ij ~ \(1"),
    Case("lmer-no-random", "API: lmer", "a formula without a random term",
         _lmer("popularity_ij ~ extraversion_ij"), ValueError, r"random"),
    Case("lmer-text-response", "API: lmer", "a text response",
         _lmer("t ~ extraversion_ij + (1 | cluster_id)", df=_pop().assign(t="a")),
         ValueError, r"response 't' is not numeric"),
    Case("lmer-all-missing", "API: lmer", "no complete row",
         _lmer("popularity_ij ~ extraversion_ij + (1 | cluster_id)",
               df=_pop().assign(extraversion_ij=np.nan)), ValueError,
         r"no rows left after removing rows with missing values"),
    Case("lmer-formula-type", "API: lmer", "a formula that is not a string",
         lambda tmp: mm.lmer(42, data=_pop()), (TypeError, ValueError), r"formula"),
    Case("lm-unknown-variable", "API: lm", "lm with an unknown variable",
         lambda tmp: mm.lm("popularity_ij ~ nope", data=_pop()), ValueError, r"'nope'"),
    Case("lmer-flag-text", "API: lmer", "check_conv='no' (text is truthy)",
         _lmer("popularity_ij ~ (1 | cluster_id)", check_conv="no"), TypeError,
         r"check_conv must be True or False, got 'no'"),
    Case("lmer-data-none", "API: lmer", "data=None",
         lambda tmp: mm.lmer("popularity_ij ~ (1 | cluster_id)", data=None), TypeError,
         r"data is None; pass the pandas DataFrame"),
    Case("lmer-theta0-text", "API: lmer", "a start value that is not numbers",
         _lmer("popularity_ij ~ (1 | cluster_id)", theta0="a"), TypeError,
         r"theta0 must be 1 numbers"),
    Case("lmer-theta0-nan", "API: lmer", "a start value NaN",
         _lmer("popularity_ij ~ (1 | cluster_id)", theta0=[np.nan]), ValueError,
         r"theta0 == \[nan\] has non-finite values"),
    Case("lm-duplicated-columns", "API: lm", "data with two columns of one name",
         lambda tmp: mm.lm("popularity_ij ~ gender_ij",
                           data=pd.concat([_pop(), _pop()[["gender_ij"]]], axis=1)),
         ValueError, r"more than one column named gender_ij"),
    Case("glmer-constant-response", "API: glmer", "a 0/1 response that is always 0",
         lambda tmp: mm.glmer("gender_ij ~ popularity_ij + (1 | cluster_id)",
                              data=_pop().assign(gender_ij=0.0)), ValueError,
         r"the response is 0 in all 50 rows: a logistic model needs both outcomes"),
    # ------------------------------------------------------------------ mice
    Case("mice-m-zero", "API: mice", "m = 0", _mice(m=0), ValueError, r"m == 0, must be >= 1"),
    Case("mice-m-huge", "API: mice", "m = 10**9 (memory)", _mice(m=10**9), ValueError,
         r"m == 1000000000 .* need about .* GB, above memory_limit_gb == 8; lower m"),
    Case("mice-maxit-negative", "API: mice", "maxit = -1", _mice(maxit=-1), ValueError,
         r"maxit == -1, must be >= 0"),
    Case("mice-m-float", "API: mice", "m = 2.5", _mice(m=2.5), (TypeError, ValueError), r"m"),
    Case("mice-unknown-method", "API: mice", "an unknown method name",
         _mice(method={"popularity_ij": "2l.magic"}), SpecError,
         r"popularity_ij: unknown imputation method '2l\.magic'"),
    Case("mice-misspelt-option", "API: mice", "a misspelt method option (donorz)",
         _mice(method_options={"popularity_ij": {"donorz": 5}}), SpecError,
         r"popularity_ij: method 2l\.pmm has no option 'donorz'; did you mean 'donors'\?"),
    Case("mice-option-no-method", "API: mice", "options for a variable without a method",
         _mice(method_options={"gender_ij": {"donors": 5}}), SpecError,
         r"method_options names 'gender_ij', which has no imputation method"),
    Case("mice-options-not-dict", "API: mice", "method options that are not a dict",
         _mice(method_options={"popularity_ij": 5}), SpecError,
         r"popularity_ij: method_options must be a dict"),
    Case("mice-bad-prior", "API: mice", "an unknown prior of 2l.pan",
         _mice(method={"popularity_ij": "2l.pan"},
               method_options={"popularity_ij": {"prior": "jeffreys"}}), Exception,
         r"option prior == 'jeffreys' of method 2l\.pan, must be one of "
         r"\('flat-variances', 'flat', 'mice'\)"),
    Case("mice-inf-predictor", "API: mice", "an infinite value in a predictor",
         _mice(df=_inc({(9, "assessment_ij"): np.inf})), SpecError,
         r"variable 'assessment_ij' has 1 infinite or too large value\(s\).*row\(s\) 9"),
    Case("mice-huge-target", "API: mice", "a value of 1e300 in the imputed variable",
         _mice(df=_inc({(20, "popularity_ij"): 1e300})), SpecError,
         r"variable 'popularity_ij' has 1 infinite or too large value"),
    Case("mice-no-cluster", "API: mice", "a 2l method without a cluster variable (-2)",
         _mice(predictor_matrix=pd.DataFrame(0, index=_inc().columns, columns=_inc().columns)),
         SpecError, r"popularity_ij.*-2"),
    Case("mice-impute-cluster", "API: mice", "imputing the cluster variable",
         _mice(method={"popularity_ij": "2l.pmm", "cluster_id": "pmm"}), SpecError,
         r"cluster_id: the cluster variable cannot be imputed"),
    Case("mice-2lonly-varies", "API: mice", "2lonly.mean on a level-1 variable",
         _mice(method={"popularity_ij": "2lonly.mean"}), SpecError,
         r"popularity_ij.*2lonly"),
    Case("mice-code-single-level", "API: mice", "code 2 with a single-level method",
         _mice(method={"popularity_ij": "pmm"},
               predictor_matrix=pd.DataFrame(0, index=_inc().columns, columns=_inc().columns
                                             ).assign(extraversion_ij=2)), SpecError,
         r"popularity_ij.*code"),
    Case("mice-passive-unknown", "API: mice", "a passive expression naming an unknown variable",
         _mice(df=_inc().assign(pp=np.nan),
               method={"popularity_ij": "2l.pmm", "pp": "~ I(nope * 2)"}), SpecError,
         r"pp: passive expression .* names unknown variable\(s\) nope"),
    Case("mice-passive-syntax", "API: mice", "a passive expression that does not parse",
         _mice(df=_inc().assign(pp=np.nan),
               method={"popularity_ij": "2l.pmm", "pp": "~ I(a *"}), SpecError, r"pp: "),
    Case("mice-passive-eval", "API: mice", "a passive expression calling a Python function",
         _mice(df=_inc().assign(pp=np.nan),
               method={"popularity_ij": "2l.pmm", "pp": "~ __import__('os')"}), SpecError,
         r"pp: "),
    Case("mice-nonstring-columns", "API: mice", "column names that are not strings",
         _mice(df=_inc().rename(columns={"assessment_ij": 7})), SpecError,
         r"column names must be strings"),
    Case("mice-bin-not-binary", "API: mice", "2l.bin on a variable that is not 0/1",
         _mice(method={"popularity_ij": "2l.bin"}), SpecError, r"popularity_ij.*0/1"),
    Case("mice-n-jobs", "API: mice", "n_jobs = 0", _mice(n_jobs=0), ValueError, r"n_jobs"),
    Case("mice-memory-limit", "API: mice", "a memory limit of 0", _mice(memory_limit_gb=0),
         ValueError, r"memory_limit_gb == 0"),
    Case("mice-smc-no-model", "API: mice", "2l.smc without its analysis model",
         _mice(method={"popularity_ij": "2l.smc"}), Exception,
         r"popularity_ij: method 2l\.smc needs the option 'model'"),
    Case("mice-not-a-frame", "API: mice", "a NumPy array instead of a DataFrame",
         lambda tmp: mm.mice(_inc().to_numpy()), TypeError,
         r"data must be a pandas DataFrame, got ndarray"),
    Case("mice-no-rows", "API: mice", "a data frame without rows",
         lambda tmp: mm.mice(_inc().iloc[:0]), SpecError, r"data has no rows"),
    Case("mice-option-type", "API: mice", "donors: 1.5 (a method option of the wrong kind)",
         _mice(method={"popularity_ij": "pmm"}, method_options={"popularity_ij": {"donors": 1.5}}),
         SpecError, r"option donors of method pmm must be a whole number, got 1\.5"),
    Case("mice-option-yaml-number", "API: mice", "ridge: '1e-5' (YAML reads it as text)",
         _mice(method={"popularity_ij": "norm"},
               method_options={"popularity_ij": {"ridge": "1e-5"}}),
         SpecError, r"must be a number, got '1e-5' \(a string: YAML reads 1e-5 as text"),
    Case("mice-option-range", "API: mice", "donors: 0",
         _mice(method_options={"popularity_ij": {"donors": 0}}), SpecError,
         r"option donors == 0, must be >= 1"),
    Case("mice-smc-group", "API: mice", "2l.smc's model grouped by another variable",
         _mice(method={"popularity_ij": "2l.smc"}, method_options={"popularity_ij": {
             "model": "popularity_ij ~ gender_ij + (1 | experience_j)"}}), SpecError,
         r"groups by 'experience_j', but the cluster variable is 'cluster_id'"),
    Case("mice-smc-unknown-variable", "API: mice", "2l.smc's model naming an unknown variable",
         _mice(method={"popularity_ij": "2l.smc"}, method_options={"popularity_ij": {
             "model": "popularity_ij ~ gendr + (1 | cluster_id)"}}), SpecError,
         r"names \['gendr'\], which are not variables of the data"),
    Case("mice-boolean-norm", "API: mice", "norm on a true/false column",
         _mice(_inc().assign(popularity_ij=pd.array([True, None] * 25, dtype="boolean")),
               method={"popularity_ij": "norm"}), SpecError,
         r"popularity_ij: method 'norm' imputes continuous values, but popularity_ij is "
         r"boolean"),
    Case("mice-visit-unknown", "API: mice", "a visit sequence naming an unknown variable",
         _mice(visit_sequence=["nope"]), SpecError, r"visit_sequence names 'nope'"),
    # ------------------------------------------------------------------ ampute
    Case("ampute-prop", "API: ampute", "a proportion above 1", _ampute(prop=1.5), ValueError,
         r"prop"),
    Case("ampute-mech", "API: ampute", "an unknown mechanism", _ampute(mech="NMAR"),
         ValueError, r"mech == 'NMAR', must be one of"),
    Case("ampute-pattern-variable", "API: ampute", "a pattern naming an unknown variable",
         _ampute(patterns=[["nope"]]), ValueError, r"patterns\[0\]: variable\(s\) \['nope'\]"),
    Case("ampute-pattern-values", "API: ampute", "a pattern matrix with a 2",
         _ampute(patterns=np.full((1, 5), 2)), ValueError, r"patterns can only contain 0 and 1"),
    Case("ampute-weights-var", "API: ampute", "weights naming a variable outside the pattern",
         _ampute(patterns=[["popularity_ij"]], weights=[{"nope": 1}]), ValueError,
         r"weights\[0\]: variable 'nope'"),
    Case("ampute-cluster", "API: ampute", "level2 amputation without cluster",
         _ampute(level2={"experience_j": 0.2}), ValueError, r"level2 needs cluster="),
    Case("ampute-type", "API: ampute", "an unknown logistic type", _ampute(type="UP"),
         ValueError, r"type"),
    Case("ampute-flat-pattern", "API: ampute", "one pattern given as a flat list of names",
         _ampute(patterns=["popularity_ij"]), ValueError,
         r"give a list of patterns, each the list of variables it makes missing, e\.g\. "
         r"\[\['popularity_ij'\]\]"),
    Case("ampute-weights-dict", "API: ampute", "weights as one mapping, not one per pattern",
         _ampute(patterns=[["popularity_ij"]], weights={"gender_ij": 1}), ValueError,
         r"give one weight mapping per pattern, as a list"),
    Case("simulate-params-dict", "API: simulate_popularity", "params as a dict",
         lambda tmp: mm.simulate_popularity(n_clusters=5, cluster_size=4,
                                            params={"sigma2": 1.0}), TypeError,
         r"params must be a PopularityParams, got dict"),
    Case("ampute-inf", "API: ampute", "an infinite value",
         lambda tmp: mm.ampute(_pop().assign(popularity_ij=np.r_[np.inf, np.ones(49)]), seed=1),
         ValueError, r"variable 'popularity_ij' has infinite values at rows \[0\]"),
    # ------------------------------------------------------------------ pooling
    Case("pool-empty", "API: pool", "no fits", lambda tmp: mm.pool([]), ValueError, r"fits"),
    Case("pool-not-fits", "API: pool", "objects that are not fits",
         lambda tmp: mm.pool([1, 2]), (TypeError, ValueError), r"imputation 1|fit"),
    Case("test-estimates-flag-text", "API: test_estimates", "extra_pars='no' (text is truthy)",
         lambda tmp: mm.test_estimates([mm.lm("popularity_ij ~ 1", data=_pop())] * 2,
                                       extra_pars="no"), TypeError,
         r"extra_pars must be True or False, got 'no'"),
    Case("pool-mixed-analyses", "API: pool", "an lmer fit pooled with an lm fit",
         lambda tmp: mm.pool([mm.lmer("popularity_ij ~ gender_ij + (1 | cluster_id)",
                                      data=_pop()),
                              mm.lm("popularity_ij ~ gender_ij", data=_pop())]), ValueError,
         r"not the same analysis on every imputation \(model: 'LmerResult' in imputation 1"),
    Case("test-models-counts", "API: test_models", "a different number of fits per model",
         lambda tmp: mm.test_models([mm.lm("popularity_ij ~ extraversion_ij", data=_pop())] * 2,
                                    [mm.lm("popularity_ij ~ 1", data=_pop())] * 3),
         ValueError, r"model has 2 fits but null_model has 3"),
    # ------------------------------------------------------------------ damaged chain state
    Case("state-edited", "chain state", "state.json edited by hand (iteration changed)",
         _state(_edit_json(lambda m: m.update(iteration=m["iteration"] + 5))), ValueError,
         r"state\.json: its content does not match its checksum \(edited by hand\?\)"),
    Case("state-old-version", "chain state", "a state written by another mlmice version",
         _state(_edit_json(lambda m: m.update(mlmice_version="0.0.1"))), ValueError,
         r"written by mlmice 0\.0\.1, this is mlmice .*; the chain must be recomputed"),
    Case("state-no-version", "chain state", "a state written before versions were recorded",
         _state(_edit_json(lambda m: m.pop("mlmice_version"))), ValueError,
         r"written by mlmice \(unknown\)"),
    Case("state-garbage-parquet", "chain state", "imputations.parquet overwritten with garbage",
         _state(lambda f: (f / "imputations.parquet").write_bytes(b"garbage")), ValueError,
         r"imputations\.parquet: its content does not match the checksum"),
    Case("state-file-deleted", "chain state", "trace.parquet deleted",
         _state(lambda f: (f / "trace.parquet").unlink()), ValueError,
         r"trace\.parquet: missing; the chain must be recomputed"),
    Case("state-other-parquet", "chain state", "imputations.parquet replaced by another valid one",
         _state(lambda f: pd.DataFrame({"row": [0], "variable": ["x"], "value": [1.0]})
                .to_parquet(f / "imputations.parquet")), ValueError,
         r"imputations\.parquet: its content does not match"),
    Case("state-json-missing", "chain state", "state.json deleted",
         _state(lambda f: (f / "state.json").unlink()), FileNotFoundError,
         r"no chain state in .*state\.json missing"),
    Case("state-format", "chain state", "a state of another format",
         _state(_edit_json(lambda m: m.update(format="other/9"))), ValueError,
         r"format 'other/9', expected"),
    # ------------------------------------------------------------------ simulation
    Case("sim-reserved-arm", "simulation", "an arm named cca",
         _study(arms={"cca": {"method": {"popularity_ij": "2l.pan"},
                              "predictor_matrix": {}}}), ValueError,
         r"\['cca'\] are reserved for the reference arms"),
    Case("sim-generator-param", "simulation", "an unknown generator parameter",
         _study(generator={"popularity": {"params": {"tau": 1}}}), ValueError,
         r"unknown parameters \['tau'\]"),
    Case("sim-two-generators", "simulation", "two generators at once",
         _study(generator={"popularity": {}, "resample": {"file": "x.csv", "cluster": "g"}}),
         ValueError, r"exactly one of 'popularity', 'tracks' and 'resample'"),
    Case("sim-cluster-size-range", "simulation", "a cluster-size range with min > max",
         _study(generator={"popularity": {"cluster_size": [9, 3]}}), ValueError,
         r"cluster_size: \[min, max\] needs 1 <= min <= max"),
    Case("sim-psd", "simulation", "a random-effect covariance that is not positive semi-definite",
         _study(generator={"popularity": {"params": {"tau_cov": 5.0}}}), ValueError,
         r"do not form a positive semi-definite covariance matrix"),
    Case("sim-resample-incomplete", "simulation", "resampling a file with missing values",
         lambda tmp: mm.simulation.make_generator({"resample": {
             "file": str(_csv(tmp, "g,x\n1,\n1,2\n2,3\n")), "cluster": "g"}}), ValueError,
         r"columns \['x'\] have missing values; resampling needs complete data"),
    Case("sim-performance-columns", "simulation", "a summary of a table without estimates",
         lambda tmp: mm.simulation.performance_measures(pd.DataFrame({"arm": []})), ValueError,
         r"estimates lack the columns"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, tmp_path):
    with pytest.raises(case.error) as info:
        case.call(tmp_path)
    assert re.search(case.match, str(info.value)), str(info.value)
    assert "Traceback" not in str(info.value)


def test_catalogue_is_large_and_ids_unique():
    assert len(CASES) + len(PIPELINE_CASES) >= 80
    ids = [c.id for c in CASES] + [c[0] for c in PIPELINE_CASES]
    assert len(ids) == len(set(ids))


def test_figure_names_are_safe():
    from mlmice.plots import figure_name
    for name in ("a/b", "<svg onload=alert(1)>", "..", "x y", "é"):
        out = figure_name("strip", name)
        assert re.fullmatch(r"strip_[A-Za-z0-9_.-]+\.png", out), out
        assert "/" not in out and not out.startswith(".")
    assert figure_name("strip", "a/b") != figure_name("strip", "a_b")


# ---------------------------------------------------------------------- the pipeline

PIPELINE_CASES = [
    ("cfg-unknown-key", "config", "a misspelt key",
     lambda c: c["studies"]["s"].update(modles=[]), r"modles"),
    ("cfg-unknown-variable", "config", "a method for a variable not in the data",
     lambda c: c["studies"]["s"]["imputation"]["method"].update(nope="pmm"),
     r"config error at studies\.s\.imputation\.method.*'nope' is not in the data"),
    ("cfg-misspelt-variable", "config", "a misspelt variable name",
     lambda c: c["studies"]["s"]["imputation"]["method"].update(populartiy_ij="2l.pmm"),
     r"config error at studies\.s\.imputation\.method\.populartiy_ij: variable "
     r"'populartiy_ij' is not in the data; did you mean 'popularity_ij'\?"),
    ("cfg-option-value", "config", "a method option value of the wrong kind",
     lambda c: c["studies"]["s"]["imputation"].update(
         method_options={"popularity_ij": {"donors": 2.5}}),
     r"config error at studies\.s\.imputation\.method_options\.popularity_ij: "
     r"popularity_ij: option donors of method .*pmm must be a whole number, got 2\.5"),
    ("cfg-unknown-method", "config", "an unknown method name",
     lambda c: c["studies"]["s"]["imputation"]["method"].update(popularity_ij="2l.magic"),
     r"config error at studies\.s\.imputation\.method\.popularity_ij"),
    ("cfg-misspelt-option", "config", "a misspelt method option",
     lambda c: c["studies"]["s"]["imputation"].update(
         method_options={"popularity_ij": {"donorz": 5}}),
     r"config error at studies\.s\.imputation\.method_options\.popularity_ij: .*did you "
     r"mean 'donors'"),
    ("cfg-code", "config", "an invalid predictor code",
     lambda c: c["studies"]["s"]["imputation"]["predictor_matrix"]["popularity_ij"].update(
         gender_ij=7), r"7"),
    ("cfg-m-huge", "config", "m above 10000",
     lambda c: c["studies"]["s"]["imputation"].update(m=10**9), r"1000000000"),
    ("cfg-model-variable", "config", "a model naming an unknown variable",
     lambda c: c["studies"]["s"]["models"][0].update(formula="popularity_ij ~ nope"),
     r"config error at studies\.s\.models\[0\]\.formula.*'nope'"),
    ("cfg-formula-syntax", "config", "a model formula that does not parse",
     lambda c: c["studies"]["s"]["models"][0].update(formula="popularity_ij ~ (1 | "),
     r"config error at studies\.s\.models\[0\]\.formula: "),
    ("cfg-passive-unknown", "config", "a passive expression naming an unknown variable",
     lambda c: c["studies"]["s"]["imputation"]["method"].update(pp="~ I(nope * 2)"),
     r"passive expression .* names unknown variable\(s\) nope"),
]

SMALL = {"studies": {"s": {
    "data": {"simulate": {"n_clusters": 8, "cluster_size": 6, "seed": 2},
             "cluster": "cluster_id", "id": "unit_id", "level2": ["experience_j"]},
    "amputation": {"prop": 0.3, "seed": 1, "patterns": [
        {"missing": ["popularity_ij"], "weights": {"assessment_ij": 1}}]},
    "imputation": {"method": {"popularity_ij": "2l.pmm"},
                   "predictor_matrix": {"popularity_ij": {
                       "cluster_id": -2, "extraversion_ij": 1, "assessment_ij": 1}},
                   "m": 2, "maxit": 1},
    "models": [{"name": "ri", "formula": "popularity_ij ~ extraversion_ij + (1 | cluster_id)"}],
}}}


@pytest.mark.slow
@pytest.mark.parametrize("case", PIPELINE_CASES, ids=[c[0] for c in PIPELINE_CASES])
def test_bad_config_fails_before_any_job(case, tmp_path):
    import copy

    from test_workflow import _snakemake, _write_config
    cfg = copy.deepcopy(SMALL)
    case[3](cfg)
    _write_config(tmp_path, cfg)
    run = _snakemake(tmp_path, "--dry-run")
    text = run.stdout + run.stderr
    assert run.returncode != 0
    assert re.search(case[4], text), text[-3000:]
    assert "Traceback" not in text, text[-3000:]


@pytest.mark.slow
def test_backtick_names_pass_the_config_check(tmp_path):
    """One grammar: a formula with backtick-quoted names (a space, a non-ASCII letter)
    that lmer accepts also passes the pipeline's config check."""
    import copy

    from test_workflow import _snakemake, _write_config
    df = mm.simulate_popularity(n_clusters=8, cluster_size=6, seed=4).data
    df = df.rename(columns={"popularity_ij": "popularity ij", "extraversion_ij": "extraversión"})
    df.to_csv(tmp_path / "mine.csv", index=False)
    formula = "`popularity ij` ~ `extraversión` + (1 | cluster_id)"
    mm.lmer(formula, data=df)
    cfg = copy.deepcopy(SMALL)
    study = cfg["studies"]["s"]
    study["data"] = {"file": str(tmp_path / "mine.csv"), "cluster": "cluster_id",
                     "id": "unit_id", "level2": ["experience_j"]}
    study["amputation"]["patterns"] = [{"missing": ["popularity ij"]}]
    study["imputation"] = {"method": {"popularity ij": "2l.pmm"}, "predictor_matrix": {
        "popularity ij": {"cluster_id": -2, "extraversión": 1}}, "m": 2, "maxit": 1}
    study["models"] = [{"name": "ri", "formula": formula}]
    _write_config(tmp_path, cfg)
    run = _snakemake(tmp_path, "--dry-run")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


MARKUP_COLUMN = "<svg onload=alert(1)>"
MARKUP_PASSIVE = "<img src=x onerror=alert(2)>"


@pytest.mark.slow
def test_report_escapes_user_text(tmp_path):
    """A column and a passive variable named with markup reach report.html as text: an
    HTML parse finds no svg element and no event-handler attribute, and the names appear
    escaped (the column is imputed, so its figures, tables and headings show it)."""
    import copy

    from test_workflow import _snakemake, _write_config
    df = mm.simulate_popularity(n_clusters=10, cluster_size=6, seed=4).data
    df = df.rename(columns={"assessment_ij": MARKUP_COLUMN})
    df.loc[df.index % 5 == 0, MARKUP_COLUMN] = np.nan
    df.loc[df.index % 4 == 1, "popularity_ij"] = np.nan
    df.to_csv(tmp_path / "mine.csv", index=False)
    cfg = copy.deepcopy(SMALL)
    study = cfg["studies"]["s"]
    study["data"] = {"file": str(tmp_path / "mine.csv"), "cluster": "cluster_id",
                     "id": "unit_id", "level2": ["experience_j"]}
    study["amputation"] = None
    study["imputation"]["method"] = {"popularity_ij": "2l.pmm", MARKUP_COLUMN: "2l.pmm",
                                     MARKUP_PASSIVE: "~ I(extraversion_ij * experience_j)"}
    study["imputation"]["predictor_matrix"] = {
        "popularity_ij": {"cluster_id": -2, "extraversion_ij": 1, MARKUP_PASSIVE: 1},
        MARKUP_COLUMN: {"cluster_id": -2, "extraversion_ij": 1, "popularity_ij": 1}}
    _write_config(tmp_path, cfg)
    run = _snakemake(tmp_path)
    assert run.returncode == 0, run.stderr[-5000:]
    page = (tmp_path / "results/s/report.html").read_text()
    parser = _Collector()
    parser.feed(page)
    assert not [t for t, _ in parser.tags if t == "svg"]
    handlers = [(t, a) for t, a in parser.tags for k in a if k.startswith("on")]
    assert not handlers, handlers[:3]
    assert not [a for t, a in parser.tags if t == "img" and a.get("src") == "x"]
    assert "&lt;svg onload=alert(1)&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert list((tmp_path / "results/s/diagnostics/imputed").glob("strip__svg*.png"))


# ---------------------------------------------------------------------- docs/errors.md

def render_catalogue() -> str:
    lines = ["# What mlmice refuses, and what it says", "",
             "Generated from `tests/test_bad_input.py` (`python tests/test_bad_input.py > "
             "docs/errors.md`); every row is a test. Each bad input stops with an error that "
             "names the file, key, variable, row or value at fault, before any work where it "
             "can.", ""]
    layers = list(dict.fromkeys(c.layer for c in CASES))
    for layer in layers:
        lines += [f"## {layer}", "", "| case | input | error | message contains |",
                  "|---|---|---|---|"]
        for c in (c for c in CASES if c.layer == layer):
            err = c.error.__name__ if isinstance(c.error, type) else " or ".join(
                e.__name__ for e in c.error)
            pattern = c.match.replace("|", "\\|")
            lines.append(f"| `{c.id}` | {c.what} | {err} | `{pattern}` |")
        lines.append("")
    lines += ["## pipeline config (checked before any job)", "",
              "| case | input | message contains |", "|---|---|---|"]
    for case in PIPELINE_CASES:
        pattern = case[4].replace("|", "\\|")
        lines.append(f"| `{case[0]}` | {case[2]} | `{pattern}` |")
    lines += ["", "The report escapes every user text (variable, level, model and term "
              "names, formulas, labels, messages): `test_report_escapes_user_text`.", ""]
    return "\n".join(lines)


def test_errors_doc_is_current():
    doc = REPO / "docs" / "errors.md"
    assert doc.read_text() == render_catalogue(), (
        "docs/errors.md is out of date: python tests/test_bad_input.py > docs/errors.md")


if __name__ == "__main__":
    sys.stdout.write(render_catalogue())


@pytest.mark.slow
def test_killed_run_resumes_to_identical_results(tmp_path):
    """Fault tolerance: a run killed mid-way (SIGKILL to snakemake and its jobs) resumes
    after --unlock with --rerun-incomplete, and its Parquet outputs are byte-identical
    to an uninterrupted run's."""
    import os
    import signal
    import subprocess
    import time

    from test_workflow import SNAKEFILE, _snakemake, _write_config
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    for d in (clean, killed):
        _write_config(d, SMALL)
    assert _snakemake(clean, cores=1).returncode == 0
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory",
           str(killed), "--cores", "1"]
    proc = subprocess.Popen(cmd, cwd=killed, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    target = killed / "results/s/impute/chain_1/state.json"
    deadline = time.time() + 300
    while not target.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "results/s/report.html").exists()
    assert _snakemake(killed, "--unlock").returncode == 0
    run = _snakemake(killed, "--rerun-incomplete", cores=1)
    assert run.returncode == 0, run.stderr[-3000:]
    files = sorted(p.relative_to(clean) for p in (clean / "results").rglob("*.parquet"))
    assert files
    for rel in files:
        assert (killed / rel).read_bytes() == (clean / rel).read_bytes(), rel

"""Passive expressions: parser, evaluation, and passive variables inside the sampler."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlmice.impute.methods.base import ImputationMethod, MethodResult, register_method
from mlmice.impute.passive import is_passive, parse_passive
from mlmice.impute.sampler import mice

COLS = {"a": np.array([1.0, 2.0, 4.0]), "b": np.array([3.0, -1.0, 0.5]),
        "c.d": np.array([1.0, np.e, 10.0])}


@pytest.mark.parametrize("text,expected", [
    ("~ I(a * b)", COLS["a"] * COLS["b"]),
    ("~ a + b * 2", COLS["a"] + COLS["b"] * 2),
    ("~ (a + b) * 2", (COLS["a"] + COLS["b"]) * 2),
    ("~ a - b - 1", COLS["a"] - COLS["b"] - 1),
    ("~ a / b / 2", COLS["a"] / COLS["b"] / 2),
    ("~ -a^2", -(COLS["a"] ** 2)),            # R: ^ binds tighter than unary minus
    ("~ a^b^2", COLS["a"] ** (COLS["b"] ** 2)),  # right associative
    ("~ 2 ** a", 2.0 ** COLS["a"]),
    ("~ log(c.d) + exp(b) - sqrt(a)", np.log(COLS["c.d"]) + np.exp(COLS["b"]) - np.sqrt(COLS["a"])),
    ("~ I(abs(b) * 1.5e1)", np.abs(COLS["b"]) * 15.0),
    ("a*b", COLS["a"] * COLS["b"]),
])
def test_expressions_evaluate_like_numpy(text, expected):
    expr = parse_passive(text)
    np.testing.assert_array_equal(expr.evaluate(COLS), expected)


def test_variables_and_is_passive():
    assert parse_passive("~ I(extraversion_ij * experience_j)").variables == {
        "extraversion_ij", "experience_j"}
    assert is_passive(" ~ a") and not is_passive("pmm") and not is_passive("")


@pytest.mark.parametrize("text,message", [
    ("~ a +", "unexpected end of expression"),
    ("~ (a + b", "expected ')'"),
    ("~ a b", "unexpected 'b'"),
    ("~ system(a)", "allowed: I, abs, exp, log, log10, log1p, log2, sqrt"),
    ("~ a:b", "unsupported operator ':'"),
    ("~ log(a, b)", "log() takes one argument"),
    ("~ a; b", "unexpected character ';'"),
    ("~", "empty expression"),
    ("~ __import__('os')", "unexpected character"),
])
def test_syntax_errors_name_the_problem(text, message):
    with pytest.raises(ValueError, match="passive expression .*" + message.replace("(", r"\(")
                       .replace(")", r"\)")):
        parse_passive(text)


def test_one_grammar_for_formulas_and_passive_expressions():
    # the same text means the same thing in a formula and in a passive expression
    from mlmice.design import model_frame
    from mlmice.formula import FormulaError, parse_formula

    data = pd.DataFrame({"y": [1.0, 2.0, 3.5, 2.0], "a": [1.0, 2.0, 4.0, 3.0],
                         "b": [3.0, -1.0, 0.5, 2.0]})
    for text in ("log2(a) * b^2", "-a**2 + log1p(a) / b"):
        passive = parse_passive("~ " + text).evaluate({c: data[c].to_numpy() for c in "ab"})
        X = model_frame(f"y ~ 0 + I({text})", data).X[:, 0]
        np.testing.assert_allclose(X, passive, rtol=1e-15)
    for bad in ("system(a)", "eval(a)"):
        with pytest.raises(ValueError, match="unknown function"):
            parse_passive("~ " + bad)
        with pytest.raises(FormulaError, match="unknown function"):
            parse_formula(f"y ~ I({bad})")


def test_never_uses_eval_on_names():
    # a name that is a Python builtin is just a variable
    expr = parse_passive("~ print + 1")
    assert expr.variables == {"print"}
    with pytest.raises(KeyError, match="needs print"):
        expr.evaluate(COLS)


def _data(seed=11):
    rng = np.random.default_rng(seed)
    n, G = 300, 30
    g = np.repeat(np.arange(G), n // G)
    z = np.repeat(rng.normal(3, 1, G), n // G)
    x = rng.normal(size=n) + 0.3 * z
    y = 1 + x + 0.5 * z + 0.4 * x * z + rng.normal(size=n)
    df = pd.DataFrame({"g": g, "x": x, "z": z, "y": y})
    df.loc[rng.random(n) < 0.25, "x"] = np.nan
    df.loc[np.isin(g, [2, 5]), "z"] = np.nan
    df.loc[rng.random(n) < 0.2, "y"] = np.nan
    df["xz"] = df.x * df.z
    df["xz2"] = df.xz ** 2
    return df


def test_passive_stays_equal_to_its_parts():
    df = _data()
    meth = {"x": "pmm", "z": "2lonly.norm", "y": "norm", "xz": "~ I(x * z)", "xz2": "~ xz^2"}
    pred = pd.DataFrame(0, index=df.columns, columns=df.columns)
    pred.loc["x", ["y", "z"]] = 1
    pred.loc["y", ["x", "z", "xz"]] = 1
    pred.loc["z", ["x", "y"]] = 1
    pred.loc[["z"], "g"] = -2
    imp = mice(df, m=2, maxit=3, method=meth, predictor_matrix=pred, seed=5)
    for i in (1, 2):
        c = imp.complete(i)
        assert not c.isna().any().any()
        np.testing.assert_allclose(c.xz, c.x * c.z, rtol=1e-15)
        np.testing.assert_allclose(c.xz2, c.xz ** 2, rtol=1e-15)
    # passive values are traced like any imputed variable
    assert set(imp.trace.variable) == {"x", "z", "y", "xz", "xz2"}


class _Recorder(ImputationMethod):
    """Records, at each call, whether the passive predictor equals x * z right now."""

    level = "1"
    seen: list = []

    def impute(self, data, rng):
        cols = dict(zip(data.names, data.x.T, strict=True))
        type(self).seen.append(np.array_equal(cols["xz"], cols["x"] * cols["z"]))
        return MethodResult(values=np.full(int(data.wy.sum()), np.mean(data.y[data.ry])))


register_method("test.record_passive")(_Recorder)


def test_passive_is_recomputed_before_the_next_variable_uses_it():
    df = _data()
    meth = {"x": "norm", "z": "2lonly.norm", "y": "test.record_passive", "xz": "~ I(x * z)",
            "xz2": "~ xz^2"}
    pred = pd.DataFrame(0, index=df.columns, columns=df.columns)
    pred.loc["x", ["y", "z"]] = 1
    pred.loc["y", ["x", "z", "xz"]] = 1
    pred.loc["z", ["x", "y"]] = 1
    pred.loc["z", "g"] = -2
    _Recorder.seen = []
    mice(df, m=1, maxit=4, method=meth, predictor_matrix=pred, seed=2)
    assert _Recorder.seen == [True] * 4

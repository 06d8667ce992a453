"""Tests of the lme4 formula parser (mlmice.formula).

Term labels are compared with R's ``attr(terms(f), "term.labels")`` as R 4.2
prints them (shown in comments).
"""

from __future__ import annotations

import numpy as np
import pytest

from mlmice.formula import FormulaError, evaluate, parse_formula


@pytest.mark.parametrize(
    ("text", "intercept", "labels"),
    [
        ("y ~ 1", True, []),
        ("y ~ a + b", True, ["a", "b"]),
        # R: attr(terms(y ~ a*b), "term.labels") -> "a" "b" "a:b"
        ("y ~ a*b", True, ["a", "b", "a:b"]),
        # R orders by interaction order, then appearance
        ("y ~ a:b + c", True, ["c", "a:b"]),
        ("y ~ 0 + a", False, ["a"]),
        ("y ~ a - 1", False, ["a"]),
        ("y ~ -1 + a", False, ["a"]),
        # R: terms(y ~ b:a + a) -> "a" "b:a"  (factors ordered by first appearance)
        ("y ~ b:a + a", True, ["a", "b:a"]),
        # R deparses I(a*b) as "I(a * b)" and I(a^2) as "I(a^2)"
        ("y ~ I(a*b) + I(a^2)", True, ["I(a * b)", "I(a^2)"]),
        ("y ~ a*b - a:b", True, ["a", "b"]),
        ("y ~ a + a", True, ["a"]),
    ],
)
def test_fixed_terms(text, intercept, labels):
    f = parse_formula(text)
    assert f.response == "y"
    assert f.intercept is intercept
    assert f.term_labels() == labels
    assert not f.random


def test_random_terms():
    f = parse_formula("y ~ x + (1 + x | g) + (0 + z | h) + (1 | a:b)")
    assert f.term_labels() == ["x"]
    r1, r2, r3 = f.random
    assert (r1.intercept, r1.terms, r1.group_label, r1.correlated) == (True, (("x",),), "g", True)
    assert (r2.intercept, r2.terms, r2.group_label) == (False, (("z",),), "h")
    assert r3.group == ("a", "b") and r3.group_label == "a:b"
    assert f.variables == ("y", "x", "z", "g", "h", "a", "b")


def test_double_bar_expands_like_lme4():
    # lme4::expandDoubleVerts(y ~ (1 + x || g)) -> y ~ ((1 | g)) + ((0 + x | g))
    f = parse_formula("y ~ (x || g)")
    assert [(r.intercept, r.terms, r.correlated) for r in f.random] == [
        (True, (), False), (False, (("x",),), False)]


def test_implicit_random_intercept():
    f = parse_formula("y ~ (x | g)")
    assert f.random[0].intercept is True


def test_expression_evaluation_is_safe_arithmetic():
    f = parse_formula("log(y) ~ I(a * b) + I(a^2) + I(-a / 2)")
    data = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0]), "y": np.array([1.0, np.e])}
    ev = {lab: evaluate(f.expressions[lab], data.__getitem__) for lab in f.term_labels()}
    np.testing.assert_allclose(ev["I(a * b)"], [3.0, 8.0])
    np.testing.assert_allclose(ev["I(a^2)"], [1.0, 4.0])
    np.testing.assert_allclose(ev["I(-a/2)"], [-0.5, -1.0])
    np.testing.assert_allclose(evaluate(f.expressions["log(y)"], data.__getitem__), [0.0, 1.0])


def test_no_response():
    f = parse_formula("~ a + (1 | g)")
    assert f.response is None


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("y ~ a/b", "a/b"),
        ("y ~ (a + b)^2", "(a + b)^2"),
        ("y ~ offset(x)", "offset(x)"),
        ("y ~ foo(x)", "foo(x)"),
        ("y ~ a %in% b", "%in%"),
        ("y ~ 1 | g", "1 | g"),
        ("y ~ (0 | g)", "0 | g"),
        ("y ~ I(__import__('os'))", "'"),
        ("y ~ a +", "end of formula"),
        ("y a", "no '~'"),
        ("y ~ 2", "'2'"),
        ("y ~ .", "'.' (all other columns)"),
    ],
)
def test_unsupported_constructs_are_quoted(text, quoted):
    with pytest.raises(FormulaError, match=None) as info:
        parse_formula(text)
    assert quoted in str(info.value)


def test_not_a_string():
    with pytest.raises(TypeError, match="formula must be a str"):
        parse_formula(3)

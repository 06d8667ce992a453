"""Passive imputation: variables computed from other variables.

A method string that starts with ``~`` (as in mice) declares a passive
variable, for example ``"~ I(extraversion_ij * experience_j)"``. Its value is
never drawn; the sampler recomputes it from the current completed data right
after any variable it depends on has been imputed (van Buuren 2018, *Flexible
Imputation of Missing Data*, 2nd ed., section 6.4, "passive imputation").

The expression is parsed by a small recursive-descent parser into a tree and
evaluated on NumPy arrays; nothing the user writes is passed to ``eval``.

Grammar (``^`` binds tighter than unary minus, as in R, and is right
associative)::

    expression := ["~"] sum
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/") unary)*
    unary      := ("-" | "+") unary | power
    power      := atom ["^" unary]
    atom       := NUMBER | NAME | FUNCTION "(" sum ")" | "(" sum ")"
    FUNCTION   := I | log | exp | sqrt | abs

``I(...)`` is the identity (R's "as is"); arithmetic outside ``I()`` is also
read as arithmetic, not as formula interaction syntax, because a passive
variable is one column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PassiveExpression", "parse_passive", "is_passive"]

_FUNCTIONS = {
    "I": lambda a: a,
    "log": np.log,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "abs": np.abs,
}

_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z][A-Za-z0-9_.]*|\.[A-Za-z_][A-Za-z0-9_.]*|`[^`]+`)"
    r"|(?P<op>\*\*|[-+*/^()~]))"
)


def is_passive(method: str) -> bool:
    """True when a method string declares a passive variable (starts with ``~``)."""
    return isinstance(method, str) and method.strip().startswith("~")


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            bad = text[pos:].strip()[:1]
            raise ValueError(f"passive expression {text!r}: unexpected character {bad!r} "
                             f"at position {pos}")
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "name" and value.startswith("`"):
            value = value[1:-1]
        if kind == "op" and value == "**":
            value = "^"
        tokens.append((kind, value))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def _peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else (None, None)

    def _take(self):
        tok = self._peek()
        self.i += 1
        return tok

    def _fail(self, what: str):
        raise ValueError(f"passive expression {self.text!r}: {what}")

    def _expect(self, op: str):
        kind, value = self._take()
        if kind != "op" or value != op:
            self._fail(f"expected {op!r}, found {value!r}" if value else f"expected {op!r} "
                       "at the end")

    def parse(self):
        if self._peek() == ("op", "~"):
            self._take()
        if self._peek() == (None, None):
            self._fail("empty expression")
        tree = self._sum()
        if self.i != len(self.tokens):
            self._fail(f"unexpected {self._peek()[1]!r}")
        return tree

    def _sum(self):
        left = self._product()
        while self._peek() in (("op", "+"), ("op", "-")):
            op = self._take()[1]
            left = ("bin", op, left, self._product())
        return left

    def _product(self):
        left = self._unary()
        while self._peek() in (("op", "*"), ("op", "/")):
            op = self._take()[1]
            left = ("bin", op, left, self._unary())
        return left

    def _unary(self):
        if self._peek() == ("op", "-"):
            self._take()
            return ("neg", self._unary())
        if self._peek() == ("op", "+"):
            self._take()
            return self._unary()
        return self._power()

    def _power(self):
        base = self._atom()
        if self._peek() == ("op", "^"):
            self._take()
            return ("bin", "^", base, self._unary())
        return base

    def _atom(self):
        kind, value = self._take()
        if kind == "num":
            return ("num", float(value))
        if kind == "name":
            if self._peek() == ("op", "("):
                if value not in _FUNCTIONS:
                    self._fail(f"unknown function {value!r}; allowed: "
                               f"{', '.join(sorted(_FUNCTIONS))}")
                self._take()
                arg = self._sum()
                self._expect(")")
                return ("call", value, arg)
            return ("var", value)
        if kind == "op" and value == "(":
            inner = self._sum()
            self._expect(")")
            return inner
        self._fail(f"unexpected {value!r}" if value else "unexpected end of expression")
        return None  # pragma: no cover


def _variables(tree) -> set[str]:
    tag = tree[0]
    if tag == "var":
        return {tree[1]}
    if tag == "num":
        return set()
    if tag == "neg":
        return _variables(tree[1])
    if tag == "call":
        return _variables(tree[2])
    return _variables(tree[2]) | _variables(tree[3])


def _evaluate(tree, columns: Mapping[str, np.ndarray]):
    tag = tree[0]
    if tag == "num":
        return tree[1]
    if tag == "var":
        return np.asarray(columns[tree[1]], dtype=float)
    if tag == "neg":
        return -_evaluate(tree[1], columns)
    if tag == "call":
        return _FUNCTIONS[tree[1]](_evaluate(tree[2], columns))
    op, left, right = tree[1], _evaluate(tree[2], columns), _evaluate(tree[3], columns)
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        return left / right
    return np.power(left, right)


@dataclass(frozen=True)
class PassiveExpression:
    """A parsed passive expression.

    Attributes
    ----------
    text : str
        The method string as written (e.g. ``"~ I(a * b)"``).
    variables : frozenset of str
        The variables the expression reads.
    """

    text: str
    tree: tuple
    variables: frozenset

    def evaluate(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Evaluate on arrays: ``columns[name]`` is an array for every name used.

        Invalid operations (log of a negative number, division by zero) give
        NaN/inf without a warning; the sampler checks results and raises an
        error naming the passive variable.
        """
        missing = sorted(self.variables - set(columns))
        if missing:
            raise KeyError(f"passive expression {self.text!r} needs {', '.join(missing)}")
        with np.errstate(all="ignore"):
            out = _evaluate(self.tree, columns)
        return np.asarray(out, dtype=float)


def parse_passive(text: str) -> PassiveExpression:
    """Parse a passive method string such as ``"~ I(extraversion_ij * experience_j)"``.

    Raises
    ------
    ValueError
        With the expression and the offending token.
    """
    if not isinstance(text, str):
        raise TypeError(f"passive expression must be a string, got {type(text).__name__}")
    tree = _Parser(text.strip()).parse()
    return PassiveExpression(text=text, tree=tree, variables=frozenset(_variables(tree)))


def add_passive_columns(data: pd.DataFrame, method) -> pd.DataFrame:
    """Add a column for every passive method (``"~ expr"``) not yet in ``data``.

    The sampler recomputes passive columns after every visit; before the
    first one the column must exist. Its values are the expression on the
    current (incomplete) data: NaN where an input is missing.

    Parameters
    ----------
    data : DataFrame
    method : dict or Series
        Variable -> method.

    Returns
    -------
    DataFrame
        A copy with the new columns (``data`` itself when there are none).
    """
    items = method.items() if hasattr(method, "items") else []
    new = {name: meth for name, meth in items
           if isinstance(meth, str) and is_passive(meth) and name not in data.columns}
    if not new:
        return data
    data = data.copy()
    for name, meth in new.items():
        expr = parse_passive(meth)
        data[name] = expr.evaluate({v: data[v].to_numpy(dtype=float, na_value=float("nan"))
                                    for v in expr.variables})
    return data

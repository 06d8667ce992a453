"""The one expression grammar of mlmice: tokeniser, parser, whitelist, evaluation.

Model formulas (:mod:`mlmice.formula`: ``y ~ a*b + I(x^2) + (1 + x | g)``), passive
expressions (:mod:`mlmice.impute.passive`: ``~ I(a * b)``) and the config check
(which parses both) read text with this module, so the same text means the same
thing everywhere and one whitelist says what may be computed. Nothing the user
writes reaches Python's ``eval``: text becomes a tree of :class:`Node`, and only
:func:`evaluate` computes on it, with the arithmetic operators and the functions of
:data:`FUNCTIONS`.

Grammar (R's operator precedence, R Language Definition section 10.4.2; ``^`` is
right associative and binds tighter than unary minus, ``-a^2 = -(a^2)``)::

    expression := operand (BINARY operand)*     precedence climbing, lowest first:
                                                | ||   + -   * /   : (then ^)
    operand    := ("-" | "+") operand           binds tighter than * and +
                | primary
    primary    := NUMBER | NAME | NAME "(" [expression ("," expression)*] ")"
                | "(" expression ")"
    NAME       := letter or "." then letters, digits, "." and "_"; or `any text`
    NUMBER     := 1, 2.5, .5, 1e-3
    FUNCTION   := I | abs | exp | log | log10 | log1p | log2 | sqrt

``**`` is read as ``^`` (as R's parser does). Which constructs a context allows is
its own business: a formula gives ``+ - * / : ^ |`` their model-formula meaning
outside ``I()``, an arithmetic expression (:func:`parse_arithmetic`, used by
passive variables and formula responses) only ``+ - * / ^`` and the functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = ["ARITHMETIC", "FUNCTIONS", "Node", "Parser", "check_arithmetic", "deparse",
           "evaluate", "parse_arithmetic", "tokenize", "variables_of"]

#: The functions an expression may call, with ``I`` (R's "as is", the identity).
FUNCTIONS = {
    "abs": np.abs, "exp": np.exp, "log": np.log, "log10": np.log10, "log1p": np.log1p,
    "log2": np.log2, "sqrt": np.sqrt,
}
#: The arithmetic operators.
ARITHMETIC = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "^": np.power}

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>`[^`]+`|[A-Za-z.][A-Za-z0-9._]*)
  | (?P<op>\*\*|\|\||%[^%]*%|[~+\-*/:^|(),])
    """,
    re.VERBOSE,
)

_BINARY_PREC = {"|": 1, "||": 1, "+": 2, "-": 2, "*": 3, "/": 3, ":": 5, "^": 6}
_RIGHT_ASSOC = {"^"}


def _allowed() -> str:
    return ", ".join(["I"] + sorted(FUNCTIONS))


def tokenize(text: str, *, what: str = "formula", error=ValueError
             ) -> list[tuple[str, str, int]]:
    """``(kind, value, position)`` tokens, ending with ``("end", "", len(text))``.

    ``what`` names the text in error messages ("formula", "passive expression").
    """
    tokens = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise error(f"{what} {text!r}: unexpected character "
                        f"{text[pos]!r} at position {pos}")
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "name" and value.startswith("`"):
            value = value[1:-1]
        if kind == "op" and value == "**":
            value = "^"
        if kind != "ws":
            tokens.append((kind, value, pos))
        pos = m.end()
    tokens.append(("end", "", len(text)))
    return tokens


@dataclass(frozen=True)
class Node:
    """A node of the syntax tree.

    ``kind`` is one of ``name``, ``num``, ``call`` (``value`` = function name),
    ``binop`` (``value`` = operator), ``neg``, ``paren``, ``bar`` (``value`` =
    ``"|"`` or ``"||"``).
    """

    kind: str
    value: object = None
    args: tuple = ()


class Parser:
    """Recursive-descent (precedence-climbing) parser of the grammar above.

    Parameters
    ----------
    text : str
    what : str
        The noun for error messages ("formula", "passive expression").
    error : exception class
        Raised on a syntax error (a ``ValueError`` subclass).
    """

    def __init__(self, text: str, *, what: str = "formula", error=ValueError):
        self.text = text
        self.what = what
        self.error = error
        self.tokens = tokenize(text, what=what, error=error)
        self.i = 0

    def _end_word(self) -> str:
        return "end of " + ("formula" if self.what == "formula" else "expression")

    def peek(self):
        return self.tokens[self.i]

    def take(self):
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, value: str):
        kind, val, pos = self.take()
        if val != value or kind == "end":
            raise self.error(f"{self.what} {self.text!r}: expected {value!r} at "
                             f"position {pos}, found {val or self._end_word()!r}")

    def expect_end(self):
        kind, val, pos = self.peek()
        if kind != "end":
            raise self.error(f"{self.what} {self.text!r}: unexpected {val!r} at "
                             f"position {pos}")

    def parse_expr(self, min_prec: int = 0) -> Node:
        left = self.parse_unary()
        while True:
            kind, val, pos = self.peek()
            if kind != "op" or val not in _BINARY_PREC and not val.startswith("%"):
                return left
            if val.startswith("%"):
                raise self.error(f"{self.what} {self.text!r}: unsupported operator {val!r}")
            prec = _BINARY_PREC[val]
            if prec < min_prec:
                return left
            self.take()
            next_min = prec if val in _RIGHT_ASSOC else prec + 1
            right = self.parse_expr(next_min)
            if val in ("|", "||"):
                left = Node("bar", val, (left, right))
            else:
                left = Node("binop", val, (left, right))

    def parse_unary(self) -> Node:
        kind, val, pos = self.peek()
        if kind == "op" and val in ("-", "+"):
            self.take()
            operand = self.parse_expr(4)  # binds tighter than * and +, looser than : and ^
            return Node("neg", None, (operand,)) if val == "-" else operand
        return self.parse_primary()

    def parse_primary(self) -> Node:
        kind, val, pos = self.take()
        if kind == "num":
            return Node("num", float(val))
        if kind == "name":
            if self.peek()[1] == "(":
                self.take()
                args = []
                if self.peek()[1] != ")":
                    args.append(self.parse_expr())
                    while self.peek()[1] == ",":
                        self.take()
                        args.append(self.parse_expr())
                self.expect(")")
                return Node("call", val, tuple(args))
            return Node("name", val)
        if kind == "op" and val == "(":
            inner = self.parse_expr()
            self.expect(")")
            return Node("paren", None, (inner,))
        where = self._end_word() if kind == "end" else repr(val)
        raise self.error(f"{self.what} {self.text!r}: unexpected {where} at position {pos}")


def check_arithmetic(node: Node, *, text: str, what: str = "formula",
                     error=ValueError) -> None:
    """Raise ``error`` unless ``node`` is arithmetic: + - * / ^ and whitelisted calls."""
    if node.kind == "call":
        if not (node.value == "I" or node.value in FUNCTIONS):
            raise error(f"{what} {text!r}: unknown function {node.value!r} in "
                        f"{deparse(node)!r}; allowed: {_allowed()}")
        if len(node.args) != 1:
            raise error(f"{what} {text!r}: {node.value}() takes one argument, got "
                        f"{len(node.args)} in {deparse(node)!r}")
        check_arithmetic(node.args[0], text=text, what=what, error=error)
    elif node.kind == "binop":
        if node.value not in ARITHMETIC:
            raise error(f"{what} {text!r}: unsupported operator {node.value!r} in "
                        f"{deparse(node)!r}")
        for a in node.args:
            check_arithmetic(a, text=text, what=what, error=error)
    elif node.kind in ("neg", "paren"):
        check_arithmetic(node.args[0], text=text, what=what, error=error)
    elif node.kind == "bar":
        raise error(f"{what} {text!r}: random-effects bar inside expression "
                    f"{deparse(node)!r}")


def parse_arithmetic(text: str, *, what: str = "expression", error=ValueError) -> Node:
    """Parse an arithmetic expression, with an optional leading ``~`` (``"~ I(a * b)"``)."""
    parser = Parser(text, what=what, error=error)
    if parser.peek()[:2] == ("op", "~"):
        parser.take()
    if parser.peek()[0] == "end":
        raise error(f"{what} {text!r}: empty expression")
    node = parser.parse_expr()
    parser.expect_end()
    check_arithmetic(node, text=text, what=what, error=error)
    return node


def deparse(node: Node) -> str:
    """R's ``deparse`` of an expression (spacing as R prints it)."""
    if node.kind == "name":
        return str(node.value)
    if node.kind == "num":
        v = float(node.value)
        return str(int(v)) if v.is_integer() else repr(v)
    if node.kind == "neg":
        return "-" + deparse(node.args[0])
    if node.kind == "paren":
        return "(" + deparse(node.args[0]) + ")"
    if node.kind == "call":
        return f"{node.value}(" + ", ".join(deparse(a) for a in node.args) + ")"
    if node.kind == "binop":
        op = node.value
        left, right = (deparse(a) for a in node.args)
        if op in ("^", ":", "/"):
            return f"{left}{op}{right}"
        return f"{left} {op} {right}"
    if node.kind == "bar":
        return f"{deparse(node.args[0])} {node.value} {deparse(node.args[1])}"
    raise ValueError(f"cannot deparse node {node!r}")  # pragma: no cover


def evaluate(node: Node, columns) -> np.ndarray:
    """Evaluate an arithmetic expression on data.

    Parameters
    ----------
    node : Node
        A ``name``, ``num``, ``neg``, ``paren``, arithmetic ``binop``
        (``+ - * / ^``) or a call to ``I`` or a function of :data:`FUNCTIONS`.
    columns : callable
        ``columns(name) -> ndarray`` returning a numeric column.

    Returns
    -------
    ndarray of float
        Invalid operations (log of a negative number, division by zero) give NaN or
        inf without a warning; callers check the result.
    """
    if node.kind == "name":
        return np.asarray(columns(node.value), dtype=float)
    if node.kind == "num":
        return np.asarray(float(node.value))
    if node.kind == "neg":
        return -evaluate(node.args[0], columns)
    if node.kind == "paren":
        return evaluate(node.args[0], columns)
    if node.kind == "binop" and node.value in ARITHMETIC:
        left, right = (evaluate(a, columns) for a in node.args)
        with np.errstate(all="ignore"):
            return ARITHMETIC[node.value](left, right)
    if node.kind == "call" and len(node.args) == 1:
        if node.value == "I":
            return evaluate(node.args[0], columns)
        if node.value in FUNCTIONS:
            with np.errstate(all="ignore"):
                return FUNCTIONS[node.value](evaluate(node.args[0], columns))
    raise ValueError(f"unsupported expression {deparse(node)!r}; use I(...) with "
                     f"+ - * / ^ or one of {_allowed()}")


def variables_of(node: Node) -> list[str]:
    """Data variable names used in an expression, in order of appearance."""
    out: list[str] = []

    def walk(n: Node):
        if n.kind == "name":
            if n.value not in out:
                out.append(n.value)
        else:
            for a in n.args:
                if isinstance(a, Node):
                    walk(a)

    walk(node)
    return out

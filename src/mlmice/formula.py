"""lme4 model formulas, parsed (never evaluated).

A formula such as ``y ~ a + b + a:b + I(x^2) + (1 + x | g)`` is tokenised and
parsed by a small recursive-descent parser into

* the response (a variable name or an arithmetic expression),
* the fixed part: an intercept flag and an ordered list of *terms*, each term a
  tuple of *factor labels* (``("a",)``, ``("a", "b")`` for ``a:b``,
  ``("I(x^2)",)``), ordered as R's ``terms()`` orders them (by interaction
  order, then by first appearance), and
* the random part: one :class:`RandomTerm` per ``(lhs | g)`` bar, with
  ``(x || g)`` expanded into uncorrelated terms as ``lme4::expandDoubleVerts``
  does.

The algebra follows R's model formulae (Chambers and Hastie 1992, *Statistical
Models in S*, ch. 2; Wilkinson and Rogers 1973): ``a + b`` is the union of the
terms, ``a:b`` their pairwise interactions, ``a*b = a + b + a:b``, ``- t``
removes a term, ``0``/``-1`` remove the intercept. Random-effect bars follow
Bates et al. (2015), *Fitting linear mixed-effects models using lme4*, JSS
67(1), section 2.1.

Expressions (``I(a * b)``, ``I(a^2)``, ``log(x)``) are kept as syntax trees
and evaluated on data only by :func:`evaluate` with a whitelist of arithmetic
operators and functions; nothing the user writes reaches Python's ``eval``.
Unsupported constructs (``a/b`` nesting, ``(a + b)^2``, ``%in%``, ``offset()``,
unknown functions) raise :class:`FormulaError` quoting the construct.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Formula", "FormulaError", "RandomTerm", "parse_formula", "evaluate"]


class FormulaError(ValueError):
    """A formula that cannot be parsed or uses an unsupported construct."""


# --------------------------------------------------------------------------- tokens

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>`[^`]+`|[A-Za-z.][A-Za-z0-9._]*)
  | (?P<op>\|\||%[^%]*%|[~+\-*/:^|(),])
    """,
    re.VERBOSE,
)


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise FormulaError(f"cannot parse formula {text!r}: unexpected character "
                               f"{text[pos]!r} at position {pos}")
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "name" and value.startswith("`"):
            value = value[1:-1]
        if kind != "ws":
            tokens.append((kind, value, pos))
        pos = m.end()
    tokens.append(("end", "", len(text)))
    return tokens


# --------------------------------------------------------------------------- syntax tree

@dataclass(frozen=True)
class Node:
    """A node of the formula's syntax tree.

    ``kind`` is one of ``name``, ``num``, ``call`` (``value`` = function name),
    ``binop`` (``value`` = operator), ``neg``, ``paren``, ``bar`` (``value`` =
    ``"|"`` or ``"||"``).
    """

    kind: str
    value: object = None
    args: tuple = ()


_BINARY_PREC = {"|": 1, "||": 1, "+": 2, "-": 2, "*": 3, "/": 3, ":": 5, "^": 6}
_RIGHT_ASSOC = {"^"}


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self):
        return self.tokens[self.i]

    def take(self):
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, value: str):
        kind, val, pos = self.take()
        if val != value or kind == "end":
            raise FormulaError(f"cannot parse formula {self.text!r}: expected {value!r} at "
                               f"position {pos}, found {val or 'end of formula'!r}")

    def parse_expr(self, min_prec: int = 0) -> Node:
        left = self.parse_unary()
        while True:
            kind, val, pos = self.peek()
            if kind != "op" or val not in _BINARY_PREC and not val.startswith("%"):
                return left
            if val.startswith("%"):
                raise FormulaError(f"unsupported operator {val!r} in formula {self.text!r}")
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
        where = "end of formula" if kind == "end" else repr(val)
        raise FormulaError(f"cannot parse formula {self.text!r}: unexpected {where} at "
                           f"position {pos}")


# --------------------------------------------------------------------------- deparse

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
    raise FormulaError(f"cannot deparse node {node!r}")  # pragma: no cover


# --------------------------------------------------------------------------- evaluation

_FUNCTIONS = {
    "log": np.log, "exp": np.exp, "sqrt": np.sqrt, "abs": np.abs,
    "log2": np.log2, "log10": np.log10, "log1p": np.log1p,
}
_ARITH = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "^": np.power}


def evaluate(node: Node, columns) -> np.ndarray:
    """Evaluate an arithmetic expression node on data.

    Parameters
    ----------
    node : Node
        A ``name``, ``num``, ``neg``, ``paren``, arithmetic ``binop``
        (``+ - * / ^``) or a call to ``I`` or one of ``log, exp, sqrt, abs,
        log2, log10, log1p``.
    columns : callable
        ``columns(name) -> ndarray`` returning a numeric column.

    Returns
    -------
    ndarray of float
    """
    if node.kind == "name":
        return np.asarray(columns(node.value), dtype=float)
    if node.kind == "num":
        return np.asarray(float(node.value))
    if node.kind == "neg":
        return -evaluate(node.args[0], columns)
    if node.kind == "paren":
        return evaluate(node.args[0], columns)
    if node.kind == "binop" and node.value in _ARITH:
        left, right = (evaluate(a, columns) for a in node.args)
        with np.errstate(all="ignore"):
            return _ARITH[node.value](left, right)
    if node.kind == "call":
        if node.value == "I" and len(node.args) == 1:
            return evaluate(node.args[0], columns)
        if node.value in _FUNCTIONS and len(node.args) == 1:
            with np.errstate(all="ignore"):
                return _FUNCTIONS[node.value](evaluate(node.args[0], columns))
    raise FormulaError(f"unsupported expression {deparse(node)!r}; use I(...) with "
                       f"+ - * / ^ or one of {sorted(_FUNCTIONS)}")


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


# --------------------------------------------------------------------------- term algebra

@dataclass(frozen=True)
class RandomTerm:
    """One random-effects term ``(lhs | group)``.

    Attributes
    ----------
    intercept : bool
        Whether the term has a random intercept (``(1 + x | g)``, ``(x | g)``).
    terms : tuple of tuple of str
        The non-intercept terms of the left-hand side (as in the fixed part).
    group : tuple of str
        The grouping factor's variables (``("g",)``; ``("a", "b")`` for
        ``(1 | a:b)``).
    group_label : str
        The grouping factor's name as lme4 prints it (``"g"``, ``"a:b"``).
    correlated : bool
        False for terms produced by ``||`` (their effects are uncorrelated,
        each its own term).
    text : str
        The term as written.
    """

    intercept: bool
    terms: tuple[tuple[str, ...], ...]
    group: tuple[str, ...]
    group_label: str
    correlated: bool = True
    text: str = ""


@dataclass(frozen=True)
class Formula:
    """A parsed lme4 formula.

    Attributes
    ----------
    text : str
        The formula as given.
    response : str or None
        Label of the response (``"y"`` or ``"log(y)"``); None for a one-sided formula.
    intercept : bool
        Whether the fixed part has an intercept.
    terms : tuple of tuple of str
        The fixed terms in R's order; each is a tuple of factor labels.
    random : tuple of RandomTerm
        The random-effects terms in the order written (``||`` expanded).
    expressions : dict
        Factor label -> syntax tree (:class:`Node`) for every label used.
    variables : tuple of str
        The data variables the formula uses (response first), in order.
    """

    text: str
    response: str | None
    intercept: bool
    terms: tuple[tuple[str, ...], ...]
    random: tuple[RandomTerm, ...]
    expressions: dict = field(default_factory=dict, compare=False)
    variables: tuple[str, ...] = ()

    @property
    def has_random(self) -> bool:
        return bool(self.random)

    def term_labels(self) -> list[str]:
        """Fixed term labels as R's ``attr(terms(f), "term.labels")``."""
        return [":".join(t) for t in self.terms]

    def fixed_text(self) -> str:
        """The formula without its random terms (lme4's ``nobars``)."""
        rhs = ["1" if self.intercept else "0"] + self.term_labels()
        lhs = self.response or ""
        return f"{lhs} ~ {' + '.join(rhs)}".strip()

    def __str__(self) -> str:
        return self.text


class _Expander:
    """Expand a right-hand-side syntax tree into terms (R's formula algebra)."""

    def __init__(self, text: str):
        self.text = text
        self.expressions: dict[str, Node] = {}
        self.order: list[str] = []  # factor labels by first appearance

    def factor(self, node: Node) -> str:
        label = deparse(node)
        if label not in self.expressions:
            self.expressions[label] = node
            self.order.append(label)
        return label

    def expand(self, node: Node, allow_bars: bool):
        """Return (terms, intercept_delta, bars).

        terms: list of frozensets (ordered, unique); intercept_delta: +1 add,
        -1 remove, 0 unchanged; bars: list of bar nodes.
        """
        k = node.kind
        if k == "num":
            if node.value == 1:
                return [], +1, []
            if node.value == 0:
                return [], -1, []
            raise FormulaError(f"numeric term {deparse(node)!r} in formula {self.text!r}; "
                               "only 0 and 1 are allowed (use I(...) for constants)")
        if k == "name" and node.value == ".":
            raise FormulaError(f"'.' (all other columns) is not supported in formula "
                               f"{self.text!r}; name the variables")
        if k == "name" or k == "call":
            if k == "call" and node.value in ("offset", "poly", "ns", "bs", "factor",
                                              "as.factor", "scale", "C", "strata"):
                raise FormulaError(f"unsupported construct {deparse(node)!r} in formula "
                                   f"{self.text!r}")
            if k == "call":
                # validate now so the error quotes the construct
                self._check_expression(node)
            return [frozenset([self.factor(node)])], 0, []
        if k == "paren":
            inner = node.args[0]
            if inner.kind == "bar":
                if not allow_bars:
                    raise FormulaError(f"random-effects term ({deparse(inner)}) is not "
                                       f"allowed here in formula {self.text!r}")
                return [], 0, [inner]
            return self.expand(inner, allow_bars=False)
        if k == "bar":
            raise FormulaError(f"random-effects term {deparse(node)!r} must be in parentheses "
                               f"in formula {self.text!r}")
        if k == "neg":
            terms, icpt, bars = self.expand(node.args[0], allow_bars=False)
            if terms:
                raise FormulaError(f"unsupported construct {deparse(node)!r} at the start "
                                   f"of formula {self.text!r}")
            return [], -icpt, []
        if k == "binop":
            op = node.value
            left, right = node.args
            if op == "+":
                lt, li, lb = self.expand(left, allow_bars)
                rt, ri, rb = self.expand(right, allow_bars)
                return _union(lt, rt), (ri if ri != 0 else li), lb + rb
            if op == "-":
                lt, li, lb = self.expand(left, allow_bars)
                rt, ri, rb = self.expand(right, allow_bars=False)
                icpt = li
                if ri == +1:
                    icpt = -1
                elif ri == -1:
                    icpt = +1
                return [t for t in lt if t not in set(rt)], icpt, lb
            if op in (":", "*"):
                lt, li, lb = self.expand(left, allow_bars=False)
                rt, ri, rb = self.expand(right, allow_bars=False)
                if li or ri:
                    raise FormulaError(f"unsupported construct {deparse(node)!r} in formula "
                                       f"{self.text!r}")
                inter = _union([], [a | b for a in lt for b in rt])
                if op == ":":
                    return inter, 0, []
                return _union(_union(lt, rt), inter), 0, []
            raise FormulaError(f"unsupported operator {op!r} in {deparse(node)!r} (formula "
                               f"{self.text!r}); write the terms out, e.g. a + a:b")
        raise FormulaError(f"unsupported construct {deparse(node)!r} in formula "
                           f"{self.text!r}")  # pragma: no cover

    def _check_expression(self, node: Node) -> None:
        if node.kind == "call":
            if not (node.value == "I" or node.value in _FUNCTIONS) or len(node.args) != 1:
                raise FormulaError(f"unsupported function call {deparse(node)!r} in formula "
                                   f"{self.text!r}; supported: I(), "
                                   f"{', '.join(sorted(_FUNCTIONS))}")
            self._check_expression(node.args[0])
        elif node.kind == "binop":
            if node.value not in _ARITH:
                raise FormulaError(f"unsupported operator {node.value!r} in expression "
                                   f"{deparse(node)!r} (formula {self.text!r})")
            for a in node.args:
                self._check_expression(a)
        elif node.kind in ("neg", "paren"):
            self._check_expression(node.args[0])
        elif node.kind == "bar":
            raise FormulaError(f"random-effects bar inside expression {deparse(node)!r}")

    def ordered(self, terms: list[frozenset]) -> tuple[tuple[str, ...], ...]:
        """Sort terms as R does: by order, then first appearance; factors by appearance."""
        rank = {lab: i for i, lab in enumerate(self.order)}
        as_tuples = [tuple(sorted(t, key=rank.__getitem__)) for t in terms]
        idx = sorted(range(len(as_tuples)), key=lambda i: (len(as_tuples[i]), i))
        return tuple(as_tuples[i] for i in idx)


def _union(a: list, b: list) -> list:
    out = list(a)
    for t in b:
        if t not in out:
            out.append(t)
    return out


def _split_sum(node: Node) -> list[tuple[int, Node]]:
    """Top-level summands of a right-hand side with their sign."""
    if node.kind == "binop" and node.value in ("+", "-"):
        left = _split_sum(node.args[0])
        right = _split_sum(node.args[1])
        if node.value == "-":
            right = [(-s, n) for s, n in right]
        return left + right
    if node.kind == "neg":
        return [(-s, n) for s, n in _split_sum(node.args[0])]
    return [(+1, node)]


def _group_of(node: Node, text: str) -> tuple[tuple[str, ...], str]:
    if node.kind == "name":
        return (str(node.value),), str(node.value)
    if node.kind == "binop" and node.value == ":":
        left, _ = _group_of(node.args[0], text)
        right, _ = _group_of(node.args[1], text)
        names = left + right
        return names, ":".join(names)
    if node.kind == "paren":
        return _group_of(node.args[0], text)
    raise FormulaError(f"unsupported grouping factor {deparse(node)!r} in formula {text!r}; "
                       "use a variable name or an interaction a:b")


def parse_formula(text: str) -> Formula:
    """Parse an lme4/R model formula.

    Parameters
    ----------
    text : str
        For example ``"popularity ~ gender + extrav + (1 + extrav | class)"``,
        ``"y ~ 0 + a*b + I(x^2) + (x || g)"``.

    Returns
    -------
    Formula
        Response label, intercept flag, fixed terms in R's order, random terms
        (``||`` expanded into one uncorrelated term per effect) and the syntax
        tree of every factor label.

    Raises
    ------
    FormulaError
        On a syntax error or an unsupported construct; the message quotes it.

    Examples
    --------
    >>> f = parse_formula("y ~ a*b + (1 + a | g)")
    >>> f.term_labels()
    ['a', 'b', 'a:b']
    >>> f.random[0].group_label
    'g'
    """
    if isinstance(text, Formula):
        return text
    if not isinstance(text, str):
        raise TypeError(f"formula must be a str, got {type(text).__name__}")
    parser = _Parser(text)
    if parser.peek()[1] == "~":
        lhs = None
    else:
        lhs = parser.parse_expr()
    kind, val, pos = parser.take()
    if val != "~":
        raise FormulaError(f"formula {text!r} has no '~' (write it as 'response ~ terms')")
    rhs = parser.parse_expr()
    kind, val, pos = parser.peek()
    if kind != "end":
        raise FormulaError(f"cannot parse formula {text!r}: unexpected {val!r} at position {pos}")

    exp = _Expander(text)
    response = None
    expressions: dict[str, Node] = {}
    if lhs is not None:
        if lhs.kind in ("name", "call", "paren", "binop", "neg"):
            if lhs.kind != "name":
                exp._check_expression(lhs)
            response = deparse(lhs)
            expressions[response] = lhs
        else:
            raise FormulaError(f"unsupported response {deparse(lhs)!r} in formula {text!r}")

    terms, icpt, bars = exp.expand(rhs, allow_bars=True)
    intercept = icpt >= 0
    fixed_terms = exp.ordered(terms)

    random: list[RandomTerm] = []
    for bar in bars:
        lhs_node, grp_node = bar.args
        group, group_label = _group_of(grp_node, text)
        sub = _Expander(text)
        sub.expressions = exp.expressions
        sub.order = exp.order
        rterms, ricpt, _ = sub.expand(lhs_node, allow_bars=False)
        r_intercept = ricpt >= 0
        r_terms = sub.ordered(rterms)
        if not r_intercept and not r_terms:
            raise FormulaError(f"random-effects term ({deparse(bar)}) has no effects in "
                               f"formula {text!r}")
        if bar.value == "|":
            random.append(RandomTerm(r_intercept, r_terms, group, group_label, True,
                                     f"({deparse(bar)})"))
        else:
            # lme4::expandDoubleVerts: (1 + x || g) -> (1 | g) + (0 + x | g)
            if r_intercept:
                random.append(RandomTerm(True, (), group, group_label, False,
                                         f"(1 | {group_label})"))
            for t in r_terms:
                lab = ":".join(t)
                random.append(RandomTerm(False, (t,), group, group_label, False,
                                         f"(0 + {lab} | {group_label})"))
    expressions.update(exp.expressions)

    variables: list[str] = []
    for label in ([response] if response else []) + list(exp.order):
        for v in variables_of(expressions[label]):
            if v not in variables:
                variables.append(v)
    for rt in random:
        for v in rt.group:
            if v not in variables:
                variables.append(v)
    return Formula(text=text, response=response, intercept=intercept, terms=fixed_terms,
                   random=tuple(random), expressions=expressions, variables=tuple(variables))

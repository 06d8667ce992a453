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

The text is read by the project's one expression grammar (:mod:`mlmice.expressions`,
shared with passive variables). Expressions (``I(a * b)``, ``I(a^2)``, ``log(x)``)
are kept as syntax trees and evaluated on data only by :func:`evaluate` with its
whitelist of arithmetic operators and functions; nothing the user writes reaches
Python's ``eval``.
Unsupported constructs (``a/b`` nesting, ``(a + b)^2``, ``%in%``, ``offset()``,
unknown functions) raise :class:`FormulaError` quoting the construct.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlmice.expressions import (
    Node,
    Parser,
    check_arithmetic,
    deparse,
    evaluate,
    variables_of,
)

__all__ = ["Formula", "FormulaError", "RandomTerm", "parse_formula", "evaluate"]


class FormulaError(ValueError):
    """A formula that cannot be parsed or uses an unsupported construct."""


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
        check_arithmetic(node, text=self.text, what="formula", error=FormulaError)

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
    parser = Parser(text, what="formula", error=FormulaError)
    if parser.peek()[1] == "~":
        lhs = None
    else:
        lhs = parser.parse_expr()
    kind, val, pos = parser.take()
    if val != "~":
        raise FormulaError(f"formula {text!r} has no '~' (write it as 'response ~ terms')")
    rhs = parser.parse_expr()
    parser.expect_end()

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

"""Passive imputation: variables computed from other variables.

A method string that starts with ``~`` (as in mice) declares a passive
variable, for example ``"~ I(extraversion_ij * experience_j)"``. Its value is
never drawn; the sampler recomputes it from the current completed data right
after any variable it depends on has been imputed (van Buuren 2018, *Flexible
Imputation of Missing Data*, 2nd ed., section 6.4, "passive imputation").

The expression is read by the project's one expression grammar
(:mod:`mlmice.expressions`, shared with model formulas) and must be arithmetic:
``+ - * / ^`` (``**`` reads as ``^``), numbers, variable names (backticks for any
name) and the functions ``I, abs, exp, log, log10, log1p, log2, sqrt``; ``^`` binds
tighter than unary minus and is right associative, as in R. It is kept as a syntax
tree and evaluated on NumPy arrays; nothing the user writes is passed to ``eval``.
``I(...)`` is the identity (R's "as is"); arithmetic outside ``I()`` is also read as
arithmetic, not as formula interaction syntax, because a passive variable is one
column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mlmice.expressions import Node, evaluate, parse_arithmetic, variables_of

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PassiveExpression", "parse_passive", "is_passive"]

def is_passive(method: str) -> bool:
    """True when a method string declares a passive variable (starts with ``~``)."""
    return isinstance(method, str) and method.strip().startswith("~")


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
    tree: Node
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
        return np.asarray(evaluate(self.tree, columns.__getitem__), dtype=float)


def parse_passive(text: str) -> PassiveExpression:
    """Parse a passive method string such as ``"~ I(extraversion_ij * experience_j)"``.

    Raises
    ------
    ValueError
        With the expression and the offending token.
    """
    if not isinstance(text, str):
        raise TypeError(f"passive expression must be a string, got {type(text).__name__}")
    tree = parse_arithmetic(text.strip(), what="passive expression")
    return PassiveExpression(text=text, tree=tree, variables=frozenset(variables_of(tree)))


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

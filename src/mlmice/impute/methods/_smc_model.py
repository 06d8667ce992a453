"""The substantive (analysis) model of ``2l.smc``: parsed once, evaluated on current data.

The substantive model is a two-level linear mixed model written in lme4
syntax, for example ::

    popularity_ij ~ gender_ij + extraversion_ij + experience_j
                    + extraversion_ij:experience_j + (1 + extraversion_ij | cluster_id)

:class:`SubstantiveModel` checks that the formula is of the kind ``2l.smc``
handles (a plain numeric response, exactly one random-effects term with a
random intercept whose slopes are also fixed effects, no factors) and builds,
for given column values, the fixed-effects matrix ``X`` (R's column names,
products for ``a:b``, ``I(...)`` expressions) with
:func:`mlmice.design.numeric_design` (no pandas: the Metropolis-Hastings steps
build it once per step), and the positions of the random-effects
columns ``Z`` within ``X``. The grouping factor of the random term is the
imputation's cluster variable (predictor code -2); its name in the formula is
only checked not to be one of the model's other variables.
"""

from __future__ import annotations

import numpy as np

from mlmice.design import numeric_design
from mlmice.formula import FormulaError, parse_formula


class SubstantiveModel:
    """A parsed two-level substantive model for ``2l.smc``.

    Parameters
    ----------
    formula : str
        lme4 formula of the analysis model.
    variable : str
        The variable being imputed (for messages; must occur in the formula).
    option : str
        Name of the method option that held the formula (for messages).

    Attributes
    ----------
    response : str
        Name of the response variable.
    covariates : tuple of str
        The other data variables the fixed and random parts use.
    group : str
        Name of the grouping factor in the formula.
    z_terms : list of str
        Column names of ``Z`` (``"(Intercept)"`` first).

    Raises
    ------
    ValueError
        Naming the variable and the option: unparsable formula, a response
        that is an expression, no or several random terms, no random
        intercept, a random slope that is not a fixed effect, or ``variable``
        not in the model.
    """

    def __init__(self, formula: str, *, variable: str, option: str = "model"):
        where = f"{variable}: option {option!r} of method 2l.smc"
        if not isinstance(formula, str) or "~" not in formula:
            raise ValueError(f"{where} must be an lme4 formula 'y ~ x + (1 + x | g)', "
                             f"got {formula!r}")
        try:
            f = parse_formula(formula)
        except FormulaError as exc:
            raise ValueError(f"{where}: {exc}") from None
        self.formula = f
        self.text = formula
        resp = f.expressions.get(f.response) if f.response else None
        if resp is None or resp.kind != "name":
            raise ValueError(f"{where}: the response must be a variable name, got "
                             f"{f.response!r}")
        self.response = resp.value
        if len(f.random) != 1:
            raise ValueError(f"{where}: needs exactly one random-effects term (1 + ... | g), "
                             f"found {len(f.random)} in {formula!r}")
        rt = f.random[0]
        if not rt.intercept:
            raise ValueError(f"{where}: the random term {rt.text!r} must include a random "
                             "intercept")
        if len(rt.group) != 1:
            raise ValueError(f"{where}: the grouping factor must be one variable, got "
                             f"{rt.group_label!r}")
        if not f.intercept:
            raise ValueError(f"{where}: the fixed part must include an intercept")
        missing_fixed = [":".join(t) for t in rt.terms if t not in f.terms]
        if missing_fixed:
            raise ValueError(f"{where}: random slopes {missing_fixed} must also be fixed "
                             "effects")
        self.group = rt.group[0]
        self.z_terms = ["(Intercept)"] + [":".join(t) for t in rt.terms]
        used = [v for v in f.variables if v not in (self.response, self.group)]
        if self.group in used:
            raise ValueError(f"{where}: the grouping factor {self.group!r} is also a "
                             "covariate")
        self.covariates = tuple(used)
        self._z_index: np.ndarray | None = None
        if variable != self.response and variable not in self.covariates:
            raise ValueError(f"{where}: {variable!r} does not occur in the model {formula!r}")

    @property
    def variables(self) -> tuple[str, ...]:
        """Response first, then the covariates."""
        return (self.response, *self.covariates)

    def design(self, columns: dict[str, np.ndarray]) -> tuple[np.ndarray, list[str],
                                                                np.ndarray]:
        """Fixed-effects matrix of the model on the given columns.

        Parameters
        ----------
        columns : dict
            Every covariate name -> ndarray (n,), all finite.

        Returns
        -------
        X : ndarray (n, p)
            With the intercept first; no columns dropped.
        x_names : list of str
        z_index : ndarray of int (q,)
            Columns of ``X`` that form ``Z`` (intercept first).
        """
        X, names = numeric_design(self.formula, {v: columns[v] for v in self.covariates})
        if not np.all(np.isfinite(X)):
            raise ValueError(f"model {self.text!r}: covariates must be complete and finite")
        if self._z_index is None:
            self._z_index = np.asarray([names.index(t) for t in self.z_terms], dtype=int)
        return X, names, self._z_index

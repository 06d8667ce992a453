"""Is an imputation model compatible with an analysis model? Notes for the user.

Fully conditional specification imputes each variable from a regression on
the others. With a linear mixed analysis model that has a **random slope**
or a **product term** (an interaction, e.g. a cross-level interaction
``x:w``), the usual FCS methods (``2l.pan``, ``2l.norm``, ``2l.lmer``,
``2l.pmm``, with the outcome as a predictor and a passive product) are not
compatible with it: no joint distribution has those conditionals and the
analysis model (Enders, Du and Keller 2020; Grund, Lüdtke and Robitzsch
2018). The pooled estimates of the interaction, of the slope variance and of
the fixed effects involved are then biased (the tutorial design of
``docs/validity.md``; the tutorial's own 2l.pmm specification attenuates the
cross-level interaction). Substantive-model-compatible imputation
(``2l.smc`` with the analysis model as option ``model``) is the remedy.

:func:`compatibility_notes` lists, per analysis model, the incomplete
variables in such terms that an FCS method imputes.

References
----------
Enders, C. K., Du, H. and Keller, B. T. (2020). A model-based imputation
procedure for multilevel regression models with random coefficients,
interaction effects, and nonlinear terms. Psychological Methods, 25(1), 88-112.

Grund, S., Lüdtke, O. and Robitzsch, A. (2018). Multiple imputation of missing
data for multilevel models: simulations and recommendations. Organizational
Research Methods, 21(1), 111-149.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mlmice.formula import parse_formula

__all__ = ["compatibility_notes"]

COMPATIBLE = "2l.smc"


def _names(text: str) -> set[str]:
    """Variable names inside one term label such as ``I(a * b)``."""
    f = parse_formula(f"y__ ~ {text}")
    return {v for v in f.variables if v != "y__"}


def compatibility_notes(models: Sequence[Mapping], method: Mapping[str, str],
                        n_missing: Mapping[str, int] | None = None) -> list[dict]:
    """Analysis models whose random slopes or products meet FCS-imputed variables.

    Parameters
    ----------
    models : sequence of dict
        Each with ``name`` and ``formula`` (lme4 syntax).
    method : mapping
        Imputation method per variable (``""`` or absent: not imputed;
        ``"~ ..."``: passive).
    n_missing : mapping, optional
        Missing values per variable; variables with none are not a concern.

    Returns
    -------
    list of dict
        One per model with a concern: ``model``, ``terms`` (the random slopes
        and products involved), ``variables`` (incomplete, FCS-imputed),
        ``methods`` and ``note`` (a sentence for the report).
    """
    out = []
    for model in models:
        f = parse_formula(model["formula"])
        special = [":".join(t) for t in f.terms if len(t) > 1]
        special += [t[0] for t in f.terms if len(t) == 1 and "*" in t[0]]
        slopes = [":".join(t) for r in f.random for t in r.terms]
        involved: dict[str, set[str]] = {}
        for term in special + [f"random slope of {s}" for s in slopes]:
            label = term.removeprefix("random slope of ")
            for v in _names(label) | ({f.response} if f.response else set()):
                involved.setdefault(v, set()).add(term)
        concern = {}
        for v, terms in involved.items():
            meth = method.get(v, "") or ""
            if not meth or meth.startswith("~") or meth == COMPATIBLE:
                continue
            if n_missing is not None and int(n_missing.get(v, 0)) == 0:
                continue
            if meth.startswith("2lonly") and v != f.response:
                continue        # a level-2 variable: its cluster value, no slope
            concern[v] = (meth, terms)
        if not concern:
            continue
        terms = sorted(set().union(*(t for _, t in concern.values())))
        variables = sorted(concern)
        methods = {v: concern[v][0] for v in variables}
        described = ", ".join(f"{v} ({methods[v]})" for v in variables)
        note = (f"Model {model['name']} has {', '.join(terms)}; {described} "
                f"{'is' if len(variables) == 1 else 'are'} imputed by fully conditional "
                "specification, which is not compatible with random slopes or products: "
                "expect bias in those terms and in the random-slope variance "
                "(docs/validity.md). Imputing them with 2l.smc and this model as its "
                "option 'model' is compatible.")
        out.append({"model": model["name"], "terms": terms, "variables": variables,
                    "methods": methods, "note": note})
    return out

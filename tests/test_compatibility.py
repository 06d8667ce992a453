"""compatibility_notes: FCS-imputed variables in random slopes or products are flagged."""

from mlmice.compatibility import compatibility_notes

MODELS = [
    {"name": "ri", "formula": "y ~ x + w + (1 | g)"},
    {"name": "slope", "formula": "y ~ x + w + (1 + x | g)"},
    {"name": "cross", "formula": "y ~ x * w + (1 | g)"},
    {"name": "expr", "formula": "y ~ x + I(x * w) + (1 | g)"},
]


def test_random_intercept_model_is_never_flagged():
    notes = compatibility_notes(MODELS[:1], {"y": "2l.pmm", "x": "2l.pan"})
    assert notes == []


def test_slopes_and_products_with_fcs_are_flagged():
    notes = compatibility_notes(MODELS, {"y": "2l.pmm", "x": "2l.pan", "w": "2lonly.pmm"})
    by_model = {n["model"]: n for n in notes}
    assert set(by_model) == {"slope", "cross", "expr"}
    assert by_model["slope"]["variables"] == ["x", "y"]
    assert by_model["cross"]["terms"] == ["x:w"]
    assert by_model["expr"]["terms"] == ["I(x * w)"]
    assert "2l.smc" in by_model["slope"]["note"]
    assert "x (2l.pan), y (2l.pmm) are imputed" in by_model["slope"]["note"]


def test_smc_complete_and_passive_are_not_flagged():
    assert compatibility_notes(MODELS, {"y": "2l.smc", "x": "2l.smc"}) == []
    assert compatibility_notes(MODELS, {"y": "2l.pmm", "x": "2l.pan"},
                               n_missing={"y": 0, "x": 0}) == []
    assert compatibility_notes(MODELS[2:3], {"y": "", "x": "~ I(a + b)"}) == []

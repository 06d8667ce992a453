"""mlmice.compare: truth, CCA and MI side by side (tutorial section 4.8)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlmice as mm
from mlmice.compare import COMPARE_COLUMNS, closer_sentences, compare_estimates
from mlmice.plots import plot_compare
from mlmice.pooling.varcomp import misc_parameters


def _analysis(fits: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    est = pd.concat([f.tidy(conf_int=True).assign(dataset=name) for name, f in fits.items()],
                    ignore_index=True)
    vc = pd.concat([f.varcorr.assign(dataset=name) for name, f in fits.items()],
                   ignore_index=True)
    return est, vc


@pytest.fixture(scope="module")
def fits():
    df = mm.simulate_popularity(n_clusters=15, cluster_size=6, seed=2).data
    formula = "popularity_ij ~ extraversion_ij + (1 | cluster_id)"
    truth = mm.lmer(formula, data=df, reml=False)
    cca = mm.lmer(formula, data=df.iloc[::2], reml=False)        # half the rows
    return formula, df, truth, cca


def test_table_against_its_inputs(fits):
    formula, df, truth, cca = fits
    est, vc = _analysis({"truth": truth, "cca": cca})
    pooled = pd.DataFrame({"term": list(truth.fixef.index),
                           "estimate": truth.fixef.to_numpy() + [0.01, -0.001],
                           "std_error": truth.se.to_numpy() * 1.1,
                           "conf_low": truth.fixef.to_numpy() - 1.0,
                           "conf_high": truth.fixef.to_numpy() + 1.0})
    extra = pd.DataFrame({"term": ["Intercept~~Intercept|cluster_id", "Residual~~Residual"],
                          "kind": "extra_par", "estimate": [0.5, 0.7]})
    table = compare_estimates(est, vc, pooled, extra, model="m1")
    assert list(table.columns) == COMPARE_COLUMNS
    fixed = table[table["kind"] == "fixed"].set_index("term")
    np.testing.assert_allclose(fixed["truth"], truth.fixef.to_numpy(), rtol=0, atol=0)
    np.testing.assert_allclose(fixed["cca"], cca.fixef.to_numpy(), rtol=0, atol=0)
    np.testing.assert_allclose(fixed["cca_se"], cca.se.to_numpy(), rtol=0, atol=0)
    np.testing.assert_allclose(fixed["mi_error"], [0.01, -0.001], rtol=1e-9, atol=1e-15)
    # MI is off by 0.01 / 0.001 by construction; CCA (half the data) is off by more here
    cca_off = np.abs(cca.fixef.to_numpy() - truth.fixef.to_numpy())
    assert list(fixed["closer"]) == ["MI" if c > m else "CCA"
                                     for c, m in zip(cca_off, [0.01, 0.001], strict=True)]
    var = table[table["kind"] == "variance"].set_index("term")
    expected = misc_parameters(truth)
    assert var.loc["Residual~~Residual", "truth"] == pytest.approx(
        expected["Residual~~Residual"], rel=1e-12)
    assert var.loc["Residual~~Residual", "mi"] == 0.7
    assert np.isnan(var["mi_se"]).all()
    sentences = closer_sentences(table)
    assert len(sentences) == len(table)
    assert all("closer to the truth" in s or "equally close" in s for s in sentences)


def test_without_truth(fits):
    formula, df, truth, cca = fits
    est, vc = _analysis({"cca": cca})
    pooled = truth.tidy(conf_int=True).query("effect == 'fixed'")
    table = compare_estimates(est, vc, pooled, None, model="m1")
    assert table["truth"].isna().all() and (table["closer"] == "").all()
    assert closer_sentences(table)[0].startswith("m1, (Intercept): no truth")


def test_plot_compare(tmp_path, fits):
    formula, df, truth, cca = fits
    est, vc = _analysis({"truth": truth, "cca": cca})
    pooled = cca.tidy(conf_int=True).query("effect == 'fixed'")
    table = compare_estimates(est, vc, pooled, None, model="m1")
    fig = plot_compare(table, path=tmp_path / "c.png")
    ax = fig.axes[0]
    # truth at 0 on the standardised axis, its interval near +-1.96
    truth_points = [line for line in ax.get_lines() if line.get_label().startswith("truth")][0]
    np.testing.assert_allclose(truth_points.get_xdata(), 0.0, atol=1e-12)
    assert (tmp_path / "c.png").stat().st_size > 1000
    assert len(fig.axes) == 1                      # no variance rows: one panel
    with pytest.raises(ValueError, match="no fixed-effect rows"):
        plot_compare(table[table["kind"] == "variance"])


def test_missing_columns_named(fits):
    formula, df, truth, cca = fits
    est, vc = _analysis({"truth": truth})
    with pytest.raises(ValueError, match="pooled lacks column"):
        compare_estimates(est, vc, pd.DataFrame({"term": ["x"]}), None, model="m")


def test_plot_compare_variance_panel(fits):
    """Variances and the ICC as % difference from the truth; covariances left out."""
    formula, df, truth, cca = fits
    est, vc = _analysis({"truth": truth, "cca": cca})
    pooled = cca.tidy(conf_int=True).query("effect == 'fixed'")
    table = compare_estimates(est, vc, pooled, None, model="m1")
    var = pd.DataFrame([{"model": "m1", "kind": "variance", "term": t, "truth": tv, "cca": cv,
                         "mi": mv} for t, tv, cv, mv in (
        ("Intercept~~Intercept|cluster_id", 2.0, 1.0, 2.2),
        ("Intercept~~x|cluster_id", 0.0, 0.1, -0.1),          # a covariance: not shown
        ("ICC|cluster_id", 0.4, 0.3, 0.4))])
    fig = plot_compare(pd.concat([table, var], ignore_index=True))
    ax_v = fig.axes[1]
    assert [t.get_text() for t in ax_v.get_yticklabels()] == [
        "m1: Intercept~~Intercept|cluster_id", "m1: ICC|cluster_id"]
    points = {line.get_label(): line.get_xdata() for line in ax_v.get_lines()
              if not line.get_label().startswith("_")}
    np.testing.assert_allclose(points["CCA"], [-50.0, -25.0])
    np.testing.assert_allclose(points["MI"], [10.0, 0.0])

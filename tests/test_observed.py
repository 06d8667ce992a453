"""mlmice.plots.plot_observed: the observed-value distributions figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlmice as mm
from mlmice.plots import plot_observed


@pytest.fixture(scope="module")
def data():
    df = mm.simulate_popularity(n_clusters=8, cluster_size=5, seed=4).data
    df.loc[[0, 3, 9], "popularity_ij"] = np.nan
    return df


def test_panels_bars_and_histograms(tmp_path, data):
    variables = ["popularity_ij", "gender_ij", "extraversion_ij", "experience_j"]
    fig = plot_observed(data, variables=variables, path=tmp_path / "o.png")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title().split(":")[0] for ax in visible] == variables
    assert visible[0].get_title() == "popularity_ij: 37 observed, 3 missing"
    # gender: two bars of proportions summing to 1, labelled with the value labels
    heights = [p.get_height() for p in visible[1].patches]
    assert len(heights) == 2 and sum(heights) == pytest.approx(1.0)
    assert [t.get_text() for t in visible[1].get_xticklabels()] == ["boy", "girl"]
    assert (tmp_path / "o.png").stat().st_size > 1000


def test_errors_name_the_variable(data):
    with pytest.raises(ValueError, match="'nope' is not a column"):
        plot_observed(data, variables=["nope"])



def test_a_never_observed_variable_gets_a_panel_that_says_so(data):
    """Shown, not refused: the pipeline's inspection is where a user learns of it."""
    empty = data.assign(popularity_ij=np.nan)
    fig = plot_observed(empty, variables=["popularity_ij", "gender_ij"])
    panel = fig.axes[0]
    assert panel.get_title() == "popularity_ij: 0 observed, 40 missing"
    assert [t.get_text() for t in panel.texts] == ["never observed"]
    assert not panel.patches


def test_a_categorical_gets_bars_of_its_categories_in_order():
    frame = pd.DataFrame({"ses": pd.Categorical(["low", "high", None, "low", "mid"],
                                                categories=["low", "mid", "high"],
                                                ordered=True),
                          "y": [1.0, 2.0, 3.0, 4.0, 5.0]})
    fig = plot_observed(frame)
    panel = fig.axes[0]
    assert panel.get_title() == "ses: 4 observed, 1 missing"
    assert [t.get_text() for t in panel.get_xticklabels()] == ["low", "mid", "high"]
    assert [p.get_height() for p in panel.patches] == pytest.approx([0.5, 0.25, 0.25])
    with pytest.raises(ValueError, match="'t' is neither numeric nor categorical"):
        plot_observed(frame.assign(t="text"), variables=["t"])

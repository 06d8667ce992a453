"""mlmice.plots: every figure is rendered to PNG and the data it drew is checked.

The tutorial data (popular_MAR) and the five data sets completed by R's mice
(``../shared/reference/mice_completed_long.csv``) feed the data and
imputed-value looks; trace plots use synthetic trace frames (and any
Mids-like object with the same attributes).
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import QuadMesh
from matplotlib.image import AxesImage, imread
from numpy.testing import assert_allclose, assert_array_equal

from mlmice import plots
from mlmice.diagnostics import flux, md_pattern, rhat
from mlmice.tutorial import tutorial_method, tutorial_predictor_matrix, with_interaction

matplotlib.use("Agg")     # mlmice.plots never uses pyplot; this keeps any test GUI-free


# -- fixtures ---------------------------------------------------------------

@pytest.fixture(scope="module")
def tutorial_model(popular_mar):
    """The pan variant of the tutorial's model (as ../shared/reference/pool_reference.R)."""
    pred = tutorial_predictor_matrix(with_interaction(popular_mar), codes34=False)
    meth = pd.Series(tutorial_method(level1="2l.pan", level2="2lonly.mean"))
    return pred, meth.reindex(pred.index, fill_value="")


def synthetic_trace(*, n_iter: int, m: int, variables, seed: int = 1,
                    drift: float = 0.0) -> pd.DataFrame:
    """Per variable, then chain: mean = drift * iteration + N(0, 1), sd = N(1, 0.1^2)."""
    rng = np.random.default_rng(seed)
    variables = list(variables)
    it = np.arange(1, n_iter + 1)
    z = rng.standard_normal((len(variables) * m, 2, n_iter))   # the mean's draws, then the sd's
    return pd.DataFrame({"iteration": np.tile(it, len(variables) * m),
                         "chain": np.tile(np.repeat(np.arange(1, m + 1), n_iter), len(variables)),
                         "variable": np.repeat(variables, m * n_iter),
                         "mean": (drift * it + z[:, 0, :]).ravel(),
                         "sd": (1 + 0.1 * z[:, 1, :]).ravel()})


def check_png(path, fig):
    """The PNG exists and has the figure's size in pixels at the saving dpi."""
    image = imread(path)
    width, height = fig.get_size_inches() * 150
    assert image.shape[0] == pytest.approx(height, abs=2)
    assert image.shape[1] == pytest.approx(width, abs=2)
    return image


def panel(fig, gid):
    found = [ax for ax in fig.axes if ax.get_gid() == gid]
    assert len(found) == 1, f"no single panel {gid!r} among {[a.get_gid() for a in fig.axes]}"
    return found[0]


def labels(ticklabels):
    return [t.get_text() for t in ticklabels]


# -- plot_pattern -------------------------------------------------------------

def test_plot_pattern_draws_md_pattern(popular_mar, tmp_path):
    fig = plots.plot_pattern(popular_mar, path=tmp_path / "pattern.png")
    check_png(tmp_path / "pattern.png", fig)
    table = md_pattern(popular_mar)
    ax = panel(fig, "pattern")
    mesh = next(c for c in ax.collections if isinstance(c, QuadMesh))
    cells = np.asarray(mesh.get_array()).reshape(len(table) - 1, popular_mar.shape[1])
    assert_array_equal(cells, table.iloc[:-1, :-1].to_numpy())
    # pattern counts on the left: R's md.pattern row names 1486, 296, 168, 8, 38, 3, 1
    assert labels(ax.get_yticklabels()) == ["1486", "296", "168", "8", "38", "3", "1"]
    assert labels(ax.get_xticklabels()) == list(table.columns[:-1])
    bottom, right = ax.child_axes
    assert labels(bottom.get_xticklabels()) == ["0", "0", "1", "3", "47", "214", "502"]
    assert labels(right.get_yticklabels()) == ["0", "1", "2", "2", "3", "1", "2"]
    assert "767 missing cells" in fig.get_suptitle()


def test_plot_pattern_subset_and_many_patterns(popular_mar):
    class FakeMids:
        data = popular_mar

    fig = plots.plot_pattern(FakeMids(), variables=["popularity_ij", "gender_ij"])
    assert labels(panel(fig, "pattern").get_xticklabels()) == ["gender_ij", "popularity_ij"]
    rng = np.random.default_rng(2)
    wide = pd.DataFrame(rng.normal(size=(300, 30))).add_prefix("item_")
    wide = wide.mask(rng.random(wide.shape) < 0.2)
    fig = plots.plot_pattern(wide)
    assert fig.get_size_inches()[1] < 16          # height is capped: report size
    assert len(panel(fig, "pattern").get_yticklabels()) <= 40
    with pytest.raises(KeyError, match="nope"):
        plots.plot_pattern(popular_mar, variables=["nope", "gender_ij"])


# -- plot_corr ----------------------------------------------------------------

def test_plot_corr_values(popular_mar, tmp_path):
    fig = plots.plot_corr(popular_mar, path=tmp_path / "corr.png")
    check_png(tmp_path / "corr.png", fig)
    ax = panel(fig, "corr")
    image = next(a for a in ax.get_images() if isinstance(a, AxesImage))
    expected = popular_mar.corr().to_numpy().copy()
    np.fill_diagonal(expected, np.nan)
    assert_allclose(np.ma.filled(image.get_array(), np.nan), expected)
    texts = [t for t in ax.texts if t.get_gid() == "corr-value"]
    assert len(texts) == 7 * 6
    # popularity x assessment: r = 0.84 in the tutorial data
    i, j = 2, 6
    text = next(t for t in texts if t.get_position() == (j, i))
    assert text.get_text() == f"{expected[i, j]:.2f}"


def test_plot_corr_30_variables_short_labels():
    rng = np.random.default_rng(4)
    wide = pd.DataFrame(rng.normal(size=(80, 30))).add_prefix("questionnaire_item_")
    fig = plots.plot_corr(wide)
    texts = [t.get_text() for t in panel(fig, "corr").texts]
    assert len(texts) == 30 * 29
    assert all(len(t) <= 4 and "-0.00" not in t for t in texts)   # ".12", "-.05"
    # fewer than two numeric variables: a figure that says so (the pipeline still has one)
    fig = plots.plot_corr(pd.DataFrame({"a": ["x", "y"], "b": [1.0, 2.0]}))
    assert "no correlations to show" in fig.axes[0].texts[0].get_text()


# -- plot_flux ----------------------------------------------------------------

def test_plot_flux_points_and_labels_do_not_overlap(popular_mar, tmp_path):
    fig = plots.plot_flux(popular_mar, path=tmp_path / "flux.png")
    check_png(tmp_path / "flux.png", fig)
    fx = flux(popular_mar)
    ax = fig.axes[0]
    points = next(c for c in ax.collections if c.get_gid() == "flux-points")
    assert_allclose(points.get_offsets(), fx[["influx", "outflux"]].to_numpy())
    texts = [t for t in ax.texts if t.get_gid() == "flux-label"]
    assert [t.get_text().strip() for t in texts] == list(fx.index)
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in texts]
    for a in range(len(boxes)):
        for b in range(a + 1, len(boxes)):
            assert not boxes[a].overlaps(boxes[b]), (texts[a].get_text(), texts[b].get_text())


# -- plot_pred ----------------------------------------------------------------

def test_plot_pred_codes_and_methods(tutorial_model, tmp_path):
    pred, meth = tutorial_model
    fig = plots.plot_pred(pred, method=meth, path=tmp_path / "pred.png")
    check_png(tmp_path / "pred.png", fig)
    ax = panel(fig, "pred")
    codes = [(t.get_position(), t.get_text()) for t in ax.texts if t.get_gid() == "pred-code"]
    nonzero = np.argwhere(pred.to_numpy() != 0)
    assert len(codes) == len(nonzero)
    drawn = {(int(y - 0.5), int(x - 0.5)): int(text) for (x, y), text in codes}
    assert drawn == {(i, j): int(pred.iat[i, j]) for i, j in nonzero}
    assert drawn[(2, 4)] == 2          # popularity <- extraversion: random slope
    assert labels(ax.get_yticklabels()) == list(pred.index)
    (right,) = ax.child_axes
    assert labels(right.get_yticklabels())[2:6] == ["2l.pan", "2l.bin", "2l.pan", "2lonly.mean"]
    assert labels(right.get_yticklabels())[0] == "-"
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["-2: cluster variable", "0: not a predictor", "1: fixed effect",
                      "2: fixed + random effect"]


def test_plot_pred_from_mids_like_and_errors(tutorial_model):
    pred, meth = tutorial_model

    class FakeMids:
        predictor_matrix = pred
        method = meth

    fig = plots.plot_pred(FakeMids())
    (right,) = panel(fig, "pred").child_axes
    assert labels(right.get_yticklabels())[-1] == meth.iloc[-1]
    bad = pred.copy()
    bad.loc["gender_ij", "assessment_ij"] = 5
    with pytest.raises(ValueError, match=r"pred\['gender_ij', 'assessment_ij'\] == 5"):
        plots.plot_pred(bad)


# -- plot_trace ---------------------------------------------------------------

def chain_lines(ax):
    (collection,) = [c for c in ax.collections if c.get_gid() == "chains"]
    return collection.get_segments()


def test_plot_trace_lines(tmp_path):
    tr = synthetic_trace(n_iter=10, m=5, variables=["popularity_ij", "gender_ij", "z"])
    fig = plots.plot_trace(tr, variables=["gender_ij", "popularity_ij"],
                           path=tmp_path / "trace.png")
    check_png(tmp_path / "trace.png", fig)
    res = rhat(tr).set_index(["variable", "statistic"])
    for var in ("gender_ij", "popularity_ij"):
        for stat in ("mean", "sd"):
            ax = panel(fig, f"trace:{var}:{stat}")
            segments = chain_lines(ax)
            assert len(segments) == 5                         # one line per chain
            for chain, xy in enumerate(segments, start=1):
                want = tr[(tr["variable"] == var) & (tr["chain"] == chain)]
                assert_array_equal(xy[:, 0], want["iteration"])
                assert_array_equal(xy[:, 1], want[stat])
            assert f"{res.loc[(var, stat), 'rhat']:.2f}" in ax.get_title(loc="left")
    assert not any(ax.get_gid() == "trace:z:mean" for ax in fig.axes)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["1", "2", "3", "4", "5"]


def test_plot_trace_30_variables_100_chains(tmp_path):
    variables = [f"variable_{k}" for k in range(30)]
    tr = synthetic_trace(n_iter=8, m=100, variables=variables)
    fig = plots.plot_trace(tr, show_rhat=False, path=tmp_path / "trace_big.png")
    check_png(tmp_path / "trace_big.png", fig)
    panels = [ax for ax in fig.axes if (ax.get_gid() or "").startswith("trace:")]
    assert len(panels) == 60
    assert all(len(chain_lines(ax)) == 100 for ax in panels)
    # data order kept (variable_10 after variable_9, not after variable_1)
    assert [ax.get_gid() for ax in panels][18:22] == [
        "trace:variable_9:mean", "trace:variable_9:sd", "trace:variable_10:mean",
        "trace:variable_10:sd"]
    assert not fig.legends                                    # a colour bar instead
    assert fig.get_size_inches()[1] < 20


def test_plot_trace_mids_like_and_errors():
    tr = synthetic_trace(n_iter=4, m=2, variables=["a"])

    class FakeMids:
        trace = tr

    assert len(plots.plot_trace(FakeMids()).axes) >= 2
    tr["sd"] = np.nan                  # one imputed value: no sd
    ax = panel(plots.plot_trace(tr), "trace:a:sd")
    assert [t.get_gid() for t in ax.texts] == ["no-values"]
    with pytest.raises(KeyError, match="nope"):
        plots.plot_trace(tr, variables=["nope"])


# -- plot_imputed -------------------------------------------------------------

def test_plot_imputed_strip(mice_completed_long, popular_mar, tmp_path):
    where = popular_mar.isna()
    fig = plots.plot_imputed(mice_completed_long, "popularity_ij", kind="strip", where=where,
                             path=tmp_path / "strip.png")
    check_png(tmp_path / "strip.png", fig)
    ax = panel(fig, "imputed:popularity_ij")
    obs = next(c for c in ax.collections if c.get_gid() == "observed")
    imp = next(c for c in ax.collections if c.get_gid() == "imputed")
    observed = popular_mar["popularity_ij"].dropna().to_numpy()
    assert obs.get_offsets().shape == (observed.size, 2)               # 1786 observed
    assert_array_equal(obs.get_offsets()[:, 1], observed)
    assert np.all(np.abs(obs.get_offsets()[:, 0]) <= 0.3)
    offsets = imp.get_offsets()
    assert offsets.shape == (5 * 214, 2)
    position = np.rint(offsets[:, 0]).astype(int)
    assert_array_equal(np.bincount(position), [0, 214, 214, 214, 214, 214])
    missing = where["popularity_ij"].to_numpy()
    for i in range(1, 6):
        want = mice_completed_long.loc[mice_completed_long[".imp"] == i, "popularity_ij"].to_numpy()
        assert_array_equal(offsets[position == i, 1], want[missing])
    colours = {tuple(np.round(c.get_facecolor()[0][:3], 3)) for c in (obs, imp)}
    assert colours == {tuple(np.round(matplotlib.colors.to_rgb(c), 3))
                       for c in (plots.OBSERVED, plots.IMPUTED)}
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["observed", "imputed"]


def test_plot_imputed_density_and_hist(mice_completed_long, popular_mar, tmp_path):
    where = popular_mar.isna()
    fig = plots.plot_imputed(mice_completed_long, "extraversion_ij", kind="density", where=where,
                             path=tmp_path / "density.png")
    check_png(tmp_path / "density.png", fig)
    ax = panel(fig, "imputed:extraversion_ij")
    gids = sorted(line.get_gid() for line in ax.lines)
    assert gids == ["imputed-1", "imputed-2", "imputed-3", "imputed-4", "imputed-5", "observed"]
    observed_line = next(line for line in ax.lines if line.get_gid() == "observed")
    # a density integrates to about one over the drawn range
    assert np.trapezoid(observed_line.get_ydata(), observed_line.get_xdata()) == \
        pytest.approx(1.0, abs=0.02)

    fig = plots.plot_imputed(mice_completed_long, "extraversion_ij", kind="hist", where=where,
                             path=tmp_path / "hist.png")
    check_png(tmp_path / "hist.png", fig)
    ax = panel(fig, "imputed:extraversion_ij")
    heights = {}
    for patch in ax.patches:
        heights[patch.get_gid()] = heights.get(patch.get_gid(), 0.0) + patch.get_height()
    assert heights["observed"] == pytest.approx(2000 - 502)
    assert heights["imputed"] == pytest.approx(502)         # mean count per imputation


def test_plot_imputed_by_cluster(mice_completed_long, popular_mar, tmp_path):
    where = popular_mar.isna()
    for kind in ("hist", "density", "strip"):
        fig = plots.plot_imputed(mice_completed_long, "popularity_ij", kind=kind, by_cluster=True,
                                 where=where, cluster="cluster_id", n_clusters=4,
                                 path=tmp_path / f"cluster_{kind}.png")
        check_png(tmp_path / f"cluster_{kind}.png", fig)
        panels = [ax for ax in fig.axes if (ax.get_gid() or "").startswith("imputed:")]
        assert [ax.get_title() for ax in panels] == [f"cluster_id {c}" for c in
                                                    (1, 2, 3, 4)]
    # strip panel of cluster 1: its observed and imputed values only
    ax = panels[0]
    in_cluster = (popular_mar["cluster_id"] == 1).to_numpy()
    n_obs = int((in_cluster & popular_mar["popularity_ij"].notna().to_numpy()).sum())
    n_mis = int((in_cluster & popular_mar["popularity_ij"].isna().to_numpy()).sum())
    obs = next(c for c in ax.collections if c.get_gid() == "observed")
    imp = next(c for c in ax.collections if c.get_gid() == "imputed")
    assert len(obs.get_offsets()) == n_obs
    assert len(imp.get_offsets()) == 5 * n_mis


def test_plot_imputed_mids_like_and_errors(mice_completed_long, popular_mar):
    long = mice_completed_long
    where = popular_mar.isna()

    class FakeMids:
        cluster = "cluster_id"

        def complete(self, action):
            assert action == "long"
            return long

    FakeMids.where = where
    fig = plots.plot_imputed(FakeMids(), "gender_ij", kind="density", by_cluster=True,
                             n_clusters=5)
    panels = [ax for ax in fig.axes if (ax.get_gid() or "").startswith("imputed:")]
    # gender's 3 missing values lie in clusters 31 and 82 (two in one class)
    missing = popular_mar["gender_ij"].isna().to_numpy()
    clusters = sorted(popular_mar.loc[missing, "cluster_id"].astype(int).unique())
    assert [ax.get_title() for ax in panels] == [f"cluster_id {c}" for c in clusters]
    # a 0/1 variable gets bars of the share per value, not a kernel density
    ax = panels[0]
    observed = [p.get_height() for p in ax.patches if p.get_gid() == "observed"]
    in_cluster = (popular_mar["cluster_id"] == clusters[0]).to_numpy() & ~missing
    share_girls = popular_mar.loc[in_cluster, "gender_ij"].mean()
    assert_allclose(observed, [1 - share_girls, share_girls])
    assert sum(line.get_gid().startswith("imputed-") for line in ax.lines) == 5
    imputed = [p.get_height() for p in ax.patches if p.get_gid() == "imputed"]
    assert_allclose(sum(imputed), 1.0)          # the mean share over imputations
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1"]
    # one imputed value per imputation (experience_j): a rug, not a density
    fig = plots.plot_imputed(FakeMids(), "experience_j", kind="density")
    rug = next(line for line in fig.axes[0].lines if line.get_gid() == "imputed-rug")
    want = long.loc[long[".id"] == np.flatnonzero(where["experience_j"])[0], "experience_j"]
    assert_array_equal(np.sort(rug.get_xdata()), np.sort(want.to_numpy()))
    with pytest.raises(ValueError, match="kind == 'box'"):
        plots.plot_imputed(FakeMids(), "gender_ij", kind="box")
    with pytest.raises(KeyError, match="nope"):
        plots.plot_imputed(FakeMids(), "nope")
    with pytest.raises(ValueError, match="cluster="):
        plots.plot_imputed(long, "gender_ij", where=where, by_cluster=True)
    text = long.assign(gender_ij=long["gender_ij"].map({0: "boy", 1: "girl"}))
    with pytest.raises(TypeError, match="'gender_ij' is neither numeric nor categorical"):
        plots.plot_imputed(text, "gender_ij", where=where)


def test_plot_imputed_value_labels(mice_completed_long, popular_mar):
    """Discrete values carry their labels (boy/girl), in the bar and the strip looks."""
    where = popular_mar.isna()
    for kind, axis in (("density", "x"), ("strip", "y")):
        fig = plots.plot_imputed(mice_completed_long, "gender_ij", kind=kind, where=where,
                                 labels={0: "boy", 1: "girl"})
        ax = panel(fig, "imputed:gender_ij")
        ticks = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
        assert [t.get_text() for t in ticks] == ["boy", "girl"]


def test_plot_imputed_binary_strip_jitters_within_levels(mice_completed_long, popular_mar):
    fig = plots.plot_imputed(mice_completed_long, "gender_ij", where=popular_mar.isna(), seed=3)
    ax = panel(fig, "imputed:gender_ij")
    obs = next(c for c in ax.collections if c.get_gid() == "observed").get_offsets()[:, 1]
    assert_array_equal(np.rint(obs), popular_mar["gender_ij"].dropna().to_numpy())
    assert np.all(np.abs(obs - np.rint(obs)) <= 0.12) and np.ptp(obs - np.rint(obs)) > 0.1
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "1"]
    again = plots.plot_imputed(mice_completed_long, "gender_ij", where=popular_mar.isna(), seed=3)
    assert_array_equal(next(c for c in panel(again, "imputed:gender_ij").collections
                            if c.get_gid() == "observed").get_offsets()[:, 1], obs)


def test_figures_and_rhat_from_mlmice_mice(popular_mar):
    # the real imputation result (mlmice.impute.sampler.Mids), small and fast
    import mlmice

    data = popular_mar.drop(columns="unit_id")
    imp = mlmice.mice(data, m=2, maxit=4, seed=1, cluster="cluster_id")
    imputed_vars = [v for v in data.columns if imp.method[v] != ""]
    res = rhat(imp)
    assert list(res["variable"].unique()) == imputed_vars
    assert (res["n_chains"] == 2).all() and (res["n_iterations"] == 4).all()
    fig = plots.plot_trace(imp)
    for var in imputed_vars:
        assert len(chain_lines(panel(fig, f"trace:{var}:mean"))) == 2
    fig = plots.plot_pred(imp)
    n_codes = sum(t.get_gid() == "pred-code" for t in panel(fig, "pred").texts)
    assert n_codes == int((imp.predictor_matrix.to_numpy() != 0).sum())
    fig = plots.plot_imputed(imp, "popularity_ij")
    ax = panel(fig, "imputed:popularity_ij")
    imputed = next(c for c in ax.collections if c.get_gid() == "imputed")
    assert len(imputed.get_offsets()) == 2 * int(data["popularity_ij"].isna().sum())
    fig = plots.plot_imputed(imp, "popularity_ij", kind="hist", by_cluster=True, n_clusters=2)
    titles = [ax.get_title() for ax in fig.axes if (ax.get_gid() or "").startswith("imputed:")]
    assert titles == ["cluster_id 1", "cluster_id 2"]       # float ids 1.0, 2.0 shown as ints


def test_density_curve_equals_scipy_gaussian_kde():
    from scipy.stats import gaussian_kde

    from mlmice.plots.imputed import _density_curve

    rng = np.random.default_rng(5)
    grid = np.linspace(-4, 6, 101)
    for values in (rng.normal(size=50), rng.gamma(2.0, size=9000), np.array([0.0, 1.0])):
        np.testing.assert_allclose(_density_curve(values, grid, chunk=1000),
                                   gaussian_kde(values)(grid), rtol=1e-10, atol=1e-15)
    assert _density_curve(np.array([1.0]), grid) is None
    assert _density_curve(np.array([2.0, 2.0]), grid) is None


def test_plot_imputed_categorical_shows_its_categories():
    import mlmice as mm

    df = mm.simulate_tracks(30, 8, seed=2)
    df.loc[::4, "track"] = np.nan
    imp = mm.mice(df, m=2, maxit=1, seed=1, method={"track": "polr"})
    fig = plots.plot_imputed(imp, "track", kind="density")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["low", "middle", "high", "top"]
    fig = plots.plot_imputed(imp, "track", kind="strip")
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["low", "middle", "high",
                                                                     "top"]
    with pytest.raises(TypeError, match="neither numeric nor categorical"):
        plots.plot_imputed(imp.complete("long").assign(track=lambda d: d["track"].astype(str)),
                           "track", where=imp.where)


def test_plot_performance_keeps_a_zero_covariance_in_correlation_units():
    """A covariance whose truth is 0 has no relative bias of its own, but in correlation
    units (labelled "(corr.)") it has one, and the figure must show it: design (b) of
    docs/validity.md, where 2l.smc misses the target there by 15 points."""
    from mlmice.simulation import covariances_in_correlation_units
    rows = []
    for arm, shift in (("complete", 0.0), ("mi", 0.02)):
        for term, kind, truth, mean in (("x", "fixed", 1.0, 1.0), ("z", "fixed", 0.0, 0.0),
                                        ("a~~a|g", "variance", 1.0, 1.0),
                                        ("b~~b|g", "variance", 0.04, 0.04),
                                        ("a~~b|g", "variance", 0.0, 0.0)):
            rows.append({"arm": arm, "model": "m", "kind": kind, "term": term,
                         "true_value": truth, "mean_estimate": mean + shift,
                         "n_replicates": 100,
                         "bias_vs_complete": shift, "bias_vs_complete_mcse": 0.001,
                         "relative_bias_vs_complete": shift / mean if mean else np.nan,
                         "relative_bias_vs_complete_mcse": 0.001,
                         "coverage": 0.95 if kind == "fixed" else np.nan,
                         "coverage_mcse": 0.01 if kind == "fixed" else np.nan})
    summary = covariances_in_correlation_units(pd.DataFrame(rows))
    fig = plots.plot_performance(summary)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "a~~b|g (corr.)" in labels                 # 0.02 / sqrt(1 * 0.04) = 0.1
    assert "z" not in labels                          # a fixed effect of 0 stays out
    assert {"x", "a~~a|g", "b~~b|g"} <= set(labels)


def test_plot_performance_shows_every_model():
    """Every model gets its row of panels (the figure showed the last model only, which in
    a study may be one without a known truth)."""
    rows = [{"arm": arm, "model": model, "kind": "fixed", "term": "x", "true_value": 1.0,
             "mean_estimate": 1.0, "n_replicates": 20, "relative_bias_vs_complete": 0.01,
             "relative_bias_vs_complete_mcse": 0.005, "coverage": 0.95,
             "coverage_mcse": 0.02} for model in ("ri", "slope") for arm in ("complete", "mi")]
    fig = plots.plot_performance(pd.DataFrame(rows))
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles.count("model ri: 20 replicates") == 1
    assert titles.count("model slope: 20 replicates") == 1
    assert len(fig.axes) == 4
    with pytest.raises(ValueError, match="model 'nope' is not in the summary"):
        plots.plot_performance(pd.DataFrame(rows), model="nope")

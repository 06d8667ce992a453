"""The chained-equations sampler: reproducibility, chain state, events, errors, cluster ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlmice as mm
from mlmice.impute.errors import SpecError
from mlmice.impute.methods.base import (
    ImputationError,
    ImputationMethod,
    MethodResult,
    register_method,
)
from mlmice.impute.sampler import Mids, continue_chain, mice, run_chain
from mlmice.impute.spec import validate_spec
from mlmice.impute.state import ChainState


def make_data(seed=7, G=20, size=10):
    """Two-level data: y (level 1), x (level 1), w (level 2), all incomplete."""
    rng = np.random.default_rng(seed)
    n = G * size
    g = np.repeat(np.arange(G), size)
    u = np.repeat(rng.normal(0, 0.7, G), size)
    w = np.repeat(rng.normal(10, 2, G), size)
    x = rng.normal(size=n) + u
    y = 2 + 0.8 * x + 0.3 * w + u + rng.normal(size=n)
    df = pd.DataFrame({"g": g, "x": x, "w": w, "y": y})
    df.loc[rng.random(n) < 0.2, "x"] = np.nan
    df.loc[rng.random(n) < 0.3, "y"] = np.nan
    df.loc[np.isin(g, [3, 8]), "w"] = np.nan
    return df


METHOD = {"x": "pmm", "w": "2lonly.pmm", "y": "norm"}


def make_pred(df):
    pred = pd.DataFrame(0, index=df.columns, columns=df.columns)
    pred.loc[["x", "y"], ["x", "w", "y"]] = 1
    pred.loc["w", ["x", "y"]] = 1
    pred.loc["w", "g"] = -2
    for name in df.columns:
        pred.loc[name, name] = 0
    return pred


def run(df=None, **kw):
    df = make_data() if df is None else df
    args = {"m": 2, "maxit": 3, "method": METHOD, "predictor_matrix": make_pred(df), "seed": 42}
    args.update(kw)
    return mice(df, **args)


def assert_same(a: Mids, b: Mids, chains=None):
    chains = range(1, a.m + 1) if chains is None else chains
    for i in chains:
        pd.testing.assert_frame_equal(a.complete(i), b.complete(i))
        ta, tb = a.chains[i - 1], b.chains[i - 1]
        assert ta.rng_state == tb.rng_state
        pd.testing.assert_frame_equal(ta.trace_frame(), tb.trace_frame())


def test_same_seed_identical_different_seed_differs():
    a, b, c = run(), run(), run(seed=43)
    assert_same(a, b)
    assert not a.complete(1).equals(c.complete(1))
    assert not a.complete(1).equals(a.complete(2))   # chains differ from each other


def test_chain_unchanged_when_m_grows():
    small, big = run(m=2), run(m=4)
    assert_same(small, big, chains=[1, 2])


def test_iterate_equals_one_long_run():
    long = run(maxit=5)
    short = run(maxit=2)
    assert short.iterate(maxit=3) is short
    assert short.iteration == 5
    assert_same(long, short)


def test_add_chains_leaves_old_chains_untouched():
    base = run(m=2)
    before = [base.complete(i) for i in (1, 2)]
    base.add_chains(m=2)
    assert base.m == 4
    for i in (1, 2):
        pd.testing.assert_frame_equal(base.complete(i), before[i - 1])
    assert_same(base, run(m=4))


def test_state_round_trip_and_continue(tmp_path):
    df = make_data()
    spec = validate_spec(df, method=METHOD, predictor_matrix=make_pred(df))
    state = run_chain(df, spec, chain=2, maxit=2, seed=42)
    state.to_files(tmp_path / "chain_2")
    back = ChainState.from_files(tmp_path / "chain_2", df)
    assert back.chain == 2 and back.iteration == 2 and back.rng_state == state.rng_state
    for name in state.values:
        np.testing.assert_array_equal(back.values[name], state.values[name])
    pd.testing.assert_frame_equal(back.trace_frame(), state.trace_frame())
    assert back.events == state.events
    # continue from files == one long run
    cont = continue_chain(back, maxit=3)
    long = run(m=2, maxit=5)
    ref = long.chains[1]
    assert cont.rng_state == ref.rng_state
    for name in ref.values:
        np.testing.assert_array_equal(cont.values[name], ref.values[name])
    # files hold no pickle: Parquet + JSON only
    assert sorted(p.name for p in (tmp_path / "chain_2").iterdir()) == [
        "events.parquet", "imputations.parquet", "state.json", "trace.parquet"]


def test_from_chains_equals_mice(tmp_path):
    df = make_data()
    spec = validate_spec(df, method=METHOD, predictor_matrix=make_pred(df))
    for c in (1, 2):
        run_chain(df, spec, chain=c, maxit=3, seed=42).to_files(tmp_path / f"chain_{c}")
    chains = [ChainState.from_files(tmp_path / f"chain_{c}", df) for c in (2, 1)]
    combined = Mids.from_chains(df, spec.to_dict(), chains)
    assert_same(combined, run())
    pd.testing.assert_frame_equal(combined.trace, run().trace)


def test_mids_files_round_trip(tmp_path):
    imp = run(m=3)
    imp.to_files(tmp_path)
    back = Mids.from_files(tmp_path, make_data())
    assert_same(imp, back)
    pd.testing.assert_frame_equal(back.logged_events, imp.logged_events)
    assert_same(back.iterate(maxit=1), run(m=3, maxit=4))


def test_from_files_refuses_other_data(tmp_path):
    df = make_data()
    spec = validate_spec(df, method=METHOD, predictor_matrix=make_pred(df))
    run_chain(df, spec, chain=1, maxit=1, seed=1).to_files(tmp_path)
    other = df.copy()
    other.loc[0, "x"] = np.nan if not np.isnan(other.loc[0, "x"]) else 0.0
    with pytest.raises(ValueError, match="the data do not match the chain's data"):
        ChainState.from_files(tmp_path, other)


def test_from_chains_refuses_mixed_iterations():
    df = make_data()
    spec = validate_spec(df, method=METHOD, predictor_matrix=make_pred(df))
    a = run_chain(df, spec, chain=1, maxit=1, seed=1)
    b = run_chain(df, spec, chain=2, maxit=2, seed=1)
    with pytest.raises(ValueError, match="chains are at different iterations: chain 1: 1, "
                                         "chain 2: 2"):
        Mids.from_chains(df, spec, [a, b])


def test_n_jobs_gives_identical_results():
    a = run(m=3, n_jobs=1)
    b = run(m=3, n_jobs=2)
    assert_same(a, b)
    a.iterate(maxit=1, n_jobs=1)
    b.iterate(maxit=1, n_jobs=2)
    assert_same(a, b)


def test_complete_long_where_and_trace():
    df = make_data()
    imp = run(m=3, maxit=4)
    long = imp.complete("long")
    assert list(long.columns[:2]) == [".imp", ".id"]
    assert list(long.columns[2:]) == list(df.columns)
    assert len(long) == 3 * len(df) and set(long[".imp"]) == {1, 2, 3}
    np.testing.assert_array_equal(long.loc[long[".imp"] == 2, ".id"], np.arange(len(df)))
    pd.testing.assert_frame_equal(long[long[".imp"] == 2].drop(columns=[".imp", ".id"])
                                  .reset_index(drop=True), imp.complete(2))
    assert len(imp.complete("long", include=True)) == 4 * len(df)
    pd.testing.assert_frame_equal(imp.where, df.isna() & df.columns.isin(list(METHOD)))
    tr = imp.trace
    assert list(tr.columns) == ["iteration", "chain", "variable", "mean", "sd"]
    assert len(tr) == 3 * 4 * 3
    last = tr[(tr.chain == 2) & (tr.iteration == 4) & (tr.variable == "y")]
    imputed = imp.complete(2).y[df.y.isna()]
    assert last["mean"].item() == pytest.approx(imputed.mean(), rel=1e-12)
    assert last["sd"].item() == pytest.approx(imputed.std(ddof=1), rel=1e-12)
    assert imp.complete(1).notna().all().all()
    # the level-2 variable stays constant within clusters
    assert (imp.complete(1).groupby("g").w.nunique() == 1).all()


def test_maxit_zero_gives_draws_from_observed():
    df = make_data()
    imp = run(maxit=0)
    c = imp.complete(1)
    assert np.isin(c.x[df.x.isna()], df.x.dropna()).all()
    assert np.isin(c.w[df.w.isna()], df.w.dropna()).all()
    assert imp.trace.empty and imp.iteration == 0


def test_constant_and_collinear_predictors_removed_and_logged():
    df = make_data().assign(const=1.0)
    df["x2"] = 2 * df.x.fillna(0) + 1          # complete, collinear with ... itself only
    df["x3"] = df.x2 * 3 - 2                      # collinear with x2
    meth = {"x": "pmm", "w": "2lonly.pmm", "y": "norm"}
    pred = make_pred(df)
    pred.loc["y", ["const", "x2", "x3"]] = 1
    imp = mice(df, m=1, maxit=2, method=meth, predictor_matrix=pred, seed=3)
    ev = imp.logged_events
    ev_y = ev[ev.variable == "y"]
    assert list(ev.columns) == ["chain", "iteration", "variable", "event"]
    assert set(ev_y.event) == {"predictor 'const' removed: constant",
                               "predictor 'x3' removed: collinear"}
    assert sorted(ev_y.iteration.unique()) == [1, 2]


class _FailOnSecondIteration(ImputationMethod):
    level = "1"
    calls = 0

    def impute(self, data, rng):
        type(self).calls += 1
        if type(self).calls > 1:
            raise np.linalg.LinAlgError("Singular matrix")
        return MethodResult(values=np.zeros(int(data.wy.sum())))


class _ReturnsNaN(ImputationMethod):
    level = "1"

    def impute(self, data, rng):
        return MethodResult(values=np.full(int(data.wy.sum()), np.nan))


register_method("test.fail2")(_FailOnSecondIteration)
register_method("test.nan")(_ReturnsNaN)


def test_method_failure_names_variable_iteration_chain():
    _FailOnSecondIteration.calls = 0
    with pytest.raises(ImputationError, match=r"chain 1, iteration 2: imputing 'y' with "
                                              r"'test.fail2' failed: LinAlgError: Singular"):
        run(m=1, method={**METHOD, "y": "test.fail2"})


def test_non_finite_imputations_are_an_error():
    with pytest.raises(ImputationError, match=r"chain 1, iteration 1: imputing 'x' with "
                                              r"'test.nan' returned non-finite values"):
        run(m=1, method={**METHOD, "x": "test.nan"})


def test_cluster_ids_int_string_categorical_give_identical_results():
    df = make_data()
    ref = run(df)
    as_str = df.assign(g=[f"class{v:02d}" for v in df.g])
    as_cat = df.assign(g=pd.Categorical(as_str.g, categories=sorted(set(as_str.g))))
    for other in (as_str, as_cat):
        imp = run(other)
        for i in (1, 2):
            got = imp.complete(i).drop(columns="g")
            pd.testing.assert_frame_equal(got, ref.complete(i).drop(columns="g"))
        assert imp.complete(1).g.equals(other.g)


def test_singleton_clusters_and_clusters_with_nothing_observed():
    df = make_data(G=12, size=8)
    # a singleton cluster whose only row is missing y; a cluster with y missing everywhere
    single = df.iloc[[0]].assign(g=99, y=np.nan)
    df = pd.concat([df, single], ignore_index=True)
    df.loc[df.g == 5, "y"] = np.nan
    imp = run(df, m=2, maxit=2)
    c = imp.complete(2)
    assert c.notna().all().all()


def test_argument_errors():
    df = make_data()
    with pytest.raises(ValueError, match="m == 0, must be >= 1"):
        run(m=0)
    with pytest.raises(ValueError, match="maxit == -1, must be >= 0"):
        run(maxit=-1)
    with pytest.raises(ValueError, match="n_jobs == 0"):
        run(n_jobs=0)
    with pytest.raises(TypeError, match="seed must be a non-negative int or None"):
        run(seed=np.random.default_rng(1))
    with pytest.raises(ValueError, match="seed == -1, must be >= 0"):
        run(seed=-1)
    imp = run(df)
    with pytest.raises(ValueError, match=r"action == 3, must be in 1..2"):
        imp.complete(3)
    with pytest.raises(ValueError, match="action == 'wide'"):
        imp.complete("wide")


@pytest.mark.filterwarnings("ignore:boundary \\(singular\\) fit")
def test_fit_returns_one_fit_per_imputation_that_pool_accepts():
    from mlmice.linear_model import lm
    from mlmice.mixed import lmer
    from mlmice.pooling.pooled import pool

    imp = run(m=3, maxit=2)
    fits = imp.fit("y ~ x + w + (1 | g)", reml=False)
    assert len(fits) == 3 and fits.formula == "y ~ x + w + (1 | g)"
    direct = lmer("y ~ x + w + (1 | g)", data=imp.complete(2), reml=False)
    pd.testing.assert_series_equal(fits[1].fixef, direct.fixef)
    pooled = pool(fits)
    assert pooled.m == 3
    assert list(pooled.pooled.term) == ["(Intercept)", "x", "w"]
    np.testing.assert_allclose(pooled.estimate.to_numpy(),
                               np.mean([f.fixef.to_numpy() for f in fits], axis=0), rtol=1e-12)
    single = imp.fit("y ~ x")
    assert single.reml is None
    pd.testing.assert_series_equal(single[0].fixef, lm("y ~ x", data=imp.complete(1)).fixef)
    with pytest.raises(ValueError, match=r"family= needs a model with a \(... \| group\) term"):
        imp.fit("y ~ x", family="binomial")
    # a generalised linear mixed model per completed data set (with(imp, glmer(...)))
    from mlmice.mixed import glmer

    df = make_data()
    df["b"] = (df.x.fillna(0) + np.random.default_rng(1).normal(size=len(df)) > 0).astype(float)
    imp = run(df, m=2, maxit=1)
    glm_fits = imp.fit("b ~ y + (1 | g)", family="binomial")
    assert glm_fits.family == "binomial" and len(glm_fits) == 2
    pd.testing.assert_series_equal(
        glm_fits[1].fixef, glmer("b ~ y + (1 | g)", data=imp.complete(2), family="binomial").fixef)


def test_visit_sequence_and_defaults():
    df = make_data()
    rev = run(visit_sequence=["y", "w", "x"])
    assert rev.visit_sequence == ("y", "w", "x")
    assert not rev.complete(1).equals(run().complete(1))
    # default method and predictor matrix (mice's make.method / make.predictorMatrix)
    imp = mice(df, m=1, maxit=1, seed=1, cluster="g")
    assert imp.method.to_dict() == {"g": "", "x": "pmm", "w": "pmm", "y": "pmm"}
    assert (imp.predictor_matrix["g"].iloc[1:] == -2).all()
    assert imp.complete(1).notna().all().all()
    # seed=None draws entropy and records it, so the run can be repeated
    a = mice(df, m=1, maxit=1, method=METHOD, predictor_matrix=make_pred(df))
    b = mice(df, m=1, maxit=1, method=METHOD, predictor_matrix=make_pred(df), seed=a.seed)
    assert_same(a, b)


@pytest.mark.filterwarnings("ignore::Warning")
def test_two_level_methods_with_awkward_clusters():
    from mlmice.impute.methods.base import available_methods

    needed = {"2l.pmm", "2l.pan", "2l.bin"}
    if not needed <= set(available_methods()):
        pytest.skip(f"{sorted(needed - set(available_methods()))} not registered yet")
    df = make_data(seed=2, G=12, size=8)
    rng = np.random.default_rng(0)
    df["b"] = (rng.random(len(df)) < 0.4).astype(float)
    df.loc[rng.random(len(df)) < 0.15, "b"] = np.nan
    df = pd.concat([df, df.iloc[[0]].assign(g=99, y=np.nan)], ignore_index=True)  # singleton
    df.loc[df.g == 5, "y"] = np.nan                                              # nothing observed
    meth = {"x": "2l.pan", "w": "2lonly.norm", "y": "2l.pmm", "b": "2l.bin"}
    pred = pd.DataFrame(1, index=df.columns, columns=df.columns)
    pred["g"] = -2
    pred.loc["g"] = 0
    pred.loc["y", "x"] = 2
    for name in df.columns:
        pred.loc[name, name] = 0
    ref = mice(df, m=1, maxit=2, method=meth, predictor_matrix=pred, seed=9)
    assert ref.complete(1).notna().all().all()
    labels = df.assign(g=[f"k{v:03d}" for v in df.g])
    for other in (labels, labels.assign(g=pd.Categorical(labels.g))):
        imp = mice(other, m=1, maxit=2, method=meth, predictor_matrix=pred, seed=9)
        pd.testing.assert_frame_equal(imp.complete(1).drop(columns="g"),
                                      ref.complete(1).drop(columns="g"))


def test_trace_sd_of_constant_imputations_is_exactly_zero():
    # 2lonly.mean fills the fully missing clusters 3 and 8 with one grand mean:
    # the trace sd is 0, not rounding noise (a trace plot would show a 1e-15 axis)
    df = make_data()
    df["w"] = df["w"] * 1.1   # values whose mean is not exact in binary
    imp = mice(df, m=2, maxit=2, method={**METHOD, "w": "2lonly.mean"},
               predictor_matrix=make_pred(df), seed=3)
    sd = imp.trace.loc[imp.trace["variable"] == "w", "sd"]
    assert len(sd) == 4 and (sd == 0.0).all()
    assert (imp.trace.loc[imp.trace["variable"] == "y", "sd"] > 0.5).all()


def test_builtin_methods_load_on_first_use_and_the_table_is_complete():
    import importlib
    import pkgutil

    import mlmice.impute.methods as methods
    from mlmice.impute.methods.base import (
        _REGISTRY,
        BUILTIN_METHODS,
        builtin_level,
        method_class,
    )

    # every built-in name resolves to a class of that name from its module, and its
    # level read off the name (which spares the analysis jobs the import) is the class's
    for name, module in BUILTIN_METHODS.items():
        cls = method_class(name)
        assert cls.name == name and cls.__module__ == f"mlmice.impute.methods.{module}"
        assert builtin_level(name) == cls.level, name
    # and every method a built-in module registers is in the table
    for info in pkgutil.iter_modules(methods.__path__):
        importlib.import_module(f"mlmice.impute.methods.{info.name}")
    builtin = {n for n, c in _REGISTRY.items() if c.__module__.startswith("mlmice.")}
    assert builtin == set(BUILTIN_METHODS)
    with pytest.raises(ValueError, match="unknown imputation method '2l.nope'; known methods: "
                                         ".*2l.pan"):
        method_class("2l.nope")


# methods that keep a state between calls (2l.bin, 2l.pan, 2l.pmm with a random slope):
# the state travels with the chain and through its files, so resuming is exact
STATEFUL = {"x": "2l.pan", "w": "2lonly.pmm", "y": "2l.pmm", "b": "2l.bin"}


def _stateful_data():
    df = make_data()
    rng = np.random.default_rng(3)
    df["b"] = (rng.random(len(df)) < 0.3 + 0.04 * np.nan_to_num(df["x"])).astype(float)
    df.loc[rng.random(len(df)) < 0.15, "b"] = np.nan
    pred = make_pred(df)
    pred.loc[["x", "y", "b"], "g"] = -2
    pred.loc["y", "x"] = 2                       # a random slope: 2l.pmm refits warm
    pred.loc[["x", "y"], "b"] = 1
    pred.loc["b", ["x", "y", "w"]] = 1
    pred.loc["w", "b"] = 1
    return df, pred


def test_method_states_make_resuming_from_files_exact(tmp_path):
    df, pred = _stateful_data()
    spec = validate_spec(df, method=STATEFUL, predictor_matrix=pred)
    long = run_chain(df, spec, chain=1, maxit=5, seed=9)
    assert set(long.method_state) == {"x", "y", "b"}       # 2lonly.pmm keeps none
    assert long.method_state["b"]["beta"].ndim == 1
    short = run_chain(df, spec, chain=1, maxit=2, seed=9)
    short.to_files(tmp_path / "c1")
    back = ChainState.from_files(tmp_path / "c1", df)
    for name, st in short.method_state.items():
        for key, value in st.items():
            np.testing.assert_array_equal(back.method_state[name][key], value)
    resumed = continue_chain(back, maxit=3)
    assert resumed.rng_state == long.rng_state
    for name in long.values:
        np.testing.assert_array_equal(resumed.values[name], long.values[name])
    # without the states the continuation is a different (restarted) chain
    back.method_state = {}
    restarted = continue_chain(back, maxit=3)
    assert not np.array_equal(restarted.values["b"], long.values["b"]) or not np.array_equal(
        restarted.values["x"], long.values["x"])


def test_two_level_smc_state_makes_resuming_exact(tmp_path):
    # 2l.smc keeps each sampler's last draw (substantive model "sub.", covariate model
    # "cov.") and continues it with n_warm sweeps; the outcome step also leaves its draw
    # of the substantive model ("theta."), which the covariate step uses from then on
    df, pred = _stateful_data()
    df = df.drop(columns="b")
    pred = pred.drop(index="b", columns="b")
    pred.loc["x", "y"] = 1
    method = {"x": "2l.smc", "y": "2l.smc", "w": "2lonly.pmm"}
    options = {v: {"model": "y ~ x + w + (1 + x | g)"} for v in ("x", "y")}
    spec = validate_spec(df, method=method, predictor_matrix=pred, method_options=options)
    first = run_chain(df, spec, chain=1, maxit=1, seed=5)
    # x is visited before y: at the first iteration no outcome draw exists yet
    assert {k.split(".")[0] for k in first.method_state["x"]} == {"sub", "cov"}
    long = run_chain(df, spec, chain=1, maxit=4, seed=5)
    assert {k.split(".")[0] for k in long.method_state["x"]} == {"cov"}
    assert {k.split(".")[0] for k in long.method_state["y"]} == {"sub", "theta"}
    assert long.method_state["y"]["theta.b"].shape == (df["g"].nunique(), 2)
    short = run_chain(df, spec, chain=1, maxit=2, seed=5)
    short.to_files(tmp_path / "c1")
    resumed = continue_chain(ChainState.from_files(tmp_path / "c1", df), maxit=2)
    for name in long.values:
        np.testing.assert_array_equal(resumed.values[name], long.values[name])


def test_two_level_bin_state_is_reexpressed_for_new_standardisation():
    # the same linear predictor and random-effect distribution after the predictors'
    # centring and scaling change (what happens when the predictors are re-imputed)
    from mlmice.impute.methods._two_level_design import _SEP, _carry_over

    rng = np.random.default_rng(4)
    n, J = 60, 6
    cluster = np.repeat(np.arange(J), n // J)
    raw = np.column_stack([np.ones(n), rng.normal(3, 2, n), rng.normal(-1, 0.5, n)])
    old_c, old_s = np.r_[0, 2.5, -0.8], np.r_[1, 1.7, 0.6]
    new_c, new_s = np.r_[0, 3.1, -1.2], np.r_[1, 2.2, 0.4]
    beta, b = rng.normal(size=3), rng.normal(size=(J, 2))
    psi = np.array([[0.5, 0.1], [0.1, 0.2]])
    state = {"beta": beta, "b": b, "psi_inv": np.linalg.inv(psi), "x_center": old_c,
             "x_scale": old_s, "z_center": old_c[:2], "z_scale": old_s[:2],
             "x_names": _SEP.join("abc"), "z_names": _SEP.join("ab")}
    got = _carry_over(state, x_names=list("abc"), z_names=list("ab"), x_center=new_c,
                      x_scale=new_s, z_center=new_c[:2], z_scale=new_s[:2], n_clusters=J)
    xo, xn = (raw - old_c) / old_s, (raw - new_c) / new_s
    eta_old = xo @ beta + np.einsum("ia,ia->i", xo[:, :2], b[cluster])
    eta_new = xn @ got.beta + np.einsum("ia,ia->i", xn[:, :2], got.b[cluster])
    np.testing.assert_allclose(eta_new, eta_old, rtol=1e-12)
    # b_new = M b_old, so Psi_new = M Psi M'; the linear predictor's random part has the
    # same variance at every row
    var_old = np.einsum("ia,ab,ib->i", xo[:, :2], psi, xo[:, :2])
    var_new = np.einsum("ia,ab,ib->i", xn[:, :2], np.linalg.inv(got.psi_inv), xn[:, :2])
    np.testing.assert_allclose(var_new, var_old, rtol=1e-12)
    # other predictors: no carry-over
    assert _carry_over(state, x_names=list("abd"), z_names=list("ab"), x_center=new_c,
                       x_scale=new_s, z_center=new_c[:2], z_scale=new_s[:2],
                       n_clusters=J) is None


def test_complete_keeps_pandas_nullable_types_where_the_values_allow():
    """A boolean, Int64 or Float64 column comes back in its type (an analysis then names
    its terms as for the incomplete data); norm on an Int64 count gives floats."""
    data = mm.simulate_popularity(n_clusters=20, cluster_size=10, seed=1).data
    data["girl"] = pd.array(data.pop("gender_ij") > 0, dtype="boolean")
    data["score"] = pd.array(data["popularity_ij"].round().astype(int), dtype="Int64")
    data["extra"] = pd.array(data["extraversion_ij"], dtype="Float64")
    data.loc[:20, "girl"] = pd.NA
    data.loc[5:30, "score"] = pd.NA
    data.loc[10:40, "extra"] = pd.NA
    data = data.drop(columns=["popularity_ij", "extraversion_ij"])
    imp = mm.mice(data, m=1, maxit=1, seed=1,
                  method={"girl": "logreg", "score": "pmm", "extra": "norm"})
    done = imp.complete(1)
    assert done[["girl", "score", "extra"]].dtypes.astype(str).tolist() == [
        "boolean", "Int64", "Float64"]
    assert not done[["girl", "score", "extra"]].isna().any().any()
    imp = mm.mice(data, m=1, maxit=1, seed=1,
                  method={"girl": "pmm", "score": "norm", "extra": "pmm"})
    assert imp.complete(1)["score"].dtype == np.float64       # 12.37 is no Int64
    with pytest.raises(SpecError, match="girl is boolean"):
        mm.mice(data, m=1, maxit=1, method={"girl": "norm", "score": "pmm", "extra": "pmm"})


def test_fit_passes_factors_and_checks_reml():
    data = mm.simulate_popularity(n_clusters=10, cluster_size=8, seed=2).data
    data["band"] = (data["experience_j"] // 10).astype(float)     # numeric codes 0, 1, 2
    data.loc[:9, "popularity_ij"] = np.nan
    imp = mm.mice(data, m=2, maxit=1, seed=1, method={"popularity_ij": "pmm"})
    fits = imp.fit("popularity_ij ~ band + (1 | cluster_id)", factors="band")
    assert [t for t in fits[0].fixef.index if t.startswith("band")] == ["band1", "band2"]
    with pytest.raises(TypeError, match="reml must be True or False, got 'x'"):
        imp.fit("popularity_ij ~ band", reml="x")

"""The package's public surface: lazy exports and validation helpers."""

import numpy as np
import pytest

import mlmice
from mlmice._validation import check_random_state, check_scalar


def test_version_and_unknown_attribute():
    assert mlmice.__version__
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        mlmice.nope  # noqa: B018


def test_chain_streams_do_not_depend_on_number_of_chains():
    # chain i's stream is a function of (seed, i) only: DESIGN.md, Randomness
    a = check_random_state(7, chain=3).random(5)
    b = check_random_state(7, chain=3).random(5)
    c = check_random_state(7, chain=2).random(5)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_check_scalar_messages():
    with pytest.raises(ValueError, match="m == 0, must be >= 1"):
        check_scalar(0, "m", kind=int, min_val=1)
    with pytest.raises(TypeError, match="m must be int"):
        check_scalar(1.5, "m", kind=int, min_val=1)
    with pytest.raises(ValueError, match="seed == -1"):
        check_random_state(-1)


def test_exports_are_never_shadowed_by_submodules():
    # ``import mlmice.<sub>`` binds <sub> on the package; a public function with
    # the same name as a module would then be replaced by the module.
    import importlib
    import pkgutil

    for info in pkgutil.walk_packages(mlmice.__path__, prefix="mlmice."):
        importlib.import_module(info.name)
    for name in mlmice._EXPORTS:
        assert callable(getattr(mlmice, name)), f"mlmice.{name} is shadowed by a submodule"


def test_distribution_helpers_equal_scipy_stats():
    from scipy import stats

    from mlmice import _distributions as d

    x = np.array([-40.0, -3.0, -0.5, 0.0, 1.2, 8.0, 40.0])
    q = np.array([1e-12, 0.025, 0.5, 0.975, 1 - 1e-9])
    for df in (1.0, 3.7, 50.0, 1e6, np.inf):
        np.testing.assert_array_equal(d.t_sf(x, df), stats.t.sf(x, df))
        np.testing.assert_array_equal(d.t_ppf(q, df), stats.t.ppf(q, df))
    for dfn, dfd in ((1, 20.5), (3, 67.4), (2, 1e5)):
        np.testing.assert_array_equal(d.f_sf(np.abs(x), dfn, dfd), stats.f.sf(np.abs(x), dfn, dfd))
    np.testing.assert_array_equal(d.norm_sf(x), stats.norm.sf(x))
    np.testing.assert_array_equal(d.norm_ppf(q), stats.norm.ppf(q))


def test_version_matches_pyproject():
    """Chain states record mlmice.__version__; it must be the installed package's."""
    import re
    from pathlib import Path
    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert re.search(r'^version = "([^"]+)"', text, re.M).group(1) == mlmice.__version__


@pytest.mark.parametrize("package", ["mlmice.plots", "mlmice.pipeline"])
def test_lazy_subpackages_export_what_they_list(package):
    import importlib

    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        module.nope  # noqa: B018


def test_report_helpers_do_not_import_matplotlib_or_scipy_stats():
    # the report notebook imports figure_name and mlmice.reporting; matplotlib and
    # scipy.stats cost about 1 s of the report job (bench/bench_pipeline.py)
    import subprocess
    import sys

    code = ("import sys; from mlmice.plots import figure_name, OBSERVED; import mlmice.reporting; "
            "print(sorted(m for m in ('matplotlib', 'scipy.stats') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_snakefile_imports_no_lapack():
    # the Snakefile and common.smk import these to check a config; scipy.linalg is
    # imported when the first collinearity check runs, not at every Snakemake start
    import subprocess
    import sys

    code = ("import sys; import mlmice.config_check, mlmice.pipeline.config, mlmice.formula, "
            "mlmice.impute.passive, mlmice.impute.methods.base, mlmice.impute.spec, mlmice.io, "
            "mlmice.simulate; print('scipy.linalg' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

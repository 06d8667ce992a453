"""Shared test fixtures.

Tests that need the tutorial's data or R's reference results read them from
``../shared`` (next to the repository). In a user's clone that folder is
absent and those tests skip with a clear reason; in CI it is present and
they run. Set ``MLMICE_SHARED`` to point elsewhere.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

# Small dense problems dominate the suite; threaded BLAS only oversubscribes
# the cores (Snakemake jobs get the same setting from their `threads: 1`).
# Set before any test module imports numpy.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MLMICE_SHARED", REPO.parent / "shared"))
TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    """Mark every test that reads ../shared with ``shared`` (from its fixtures), so that
    ``-m "not shared"`` selects exactly the tests a user's clone can run."""
    for item in items:
        if "shared_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.shared)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """Path to ../shared; skips the test when it is absent."""
    if not (SHARED / "data").is_dir():
        pytest.skip(f"../shared not found at {SHARED} (the tutorial data and R references "
                    "are only present in the project's CI and development machines)")
    return SHARED


@pytest.fixture(scope="session")
def shared_data(shared_dir) -> Path:
    return shared_dir / "data"


@pytest.fixture(scope="session")
def shared_reference(shared_dir) -> Path:
    return shared_dir / "reference"


@pytest.fixture(scope="session")
def load_reference(shared_reference):
    """Load a JSON file from ../shared/reference by name."""

    def _load(name: str):
        with open(shared_reference / name) as fh:
            return json.load(fh)

    return _load


@pytest.fixture(scope="session")
def popular_complete(shared_data):
    """The tutorial's complete ``popular.RData`` (gender 0 = boy, 1 = girl).

    Shared by the whole session: tests that change it must copy it first.
    """
    from mlmice.tutorial import read_popular

    return read_popular(shared_data / "popular.RData")


@pytest.fixture(scope="session")
def popular_mar(shared_data):
    """The tutorial's incomplete ``popular_MAR.RData`` (gender 1/2 -> 0 = boy, 1 = girl).

    Shared by the whole session: tests that change it must copy it first.
    """
    from mlmice.tutorial import read_popular

    return read_popular(shared_data / "popular_MAR.RData")


@pytest.fixture(scope="session")
def mice_completed_long(shared_reference):
    """R mice's five completed data sets of popular_MAR (``pool_reference.R``), long form.

    Columns ``.imp`` (1..5), ``.id`` (0-based row position, R's minus one), then
    the data. Shared by the whole session: copy before changing.
    """
    import pandas as pd

    long = pd.read_csv(shared_reference / "mice_completed_long.csv")
    long[".id"] = long[".id"] - 1          # R's .id is 1-based; ours is the row position
    return long


@pytest.fixture(scope="session")
def mice_completed(shared_reference):
    """The same five completed data sets as a list of DataFrames (imputation 1 first)."""
    import pandas as pd

    long = pd.read_csv(shared_reference / "mice_completed_long.csv")
    return [g.drop(columns=[".imp", ".id"]).reset_index(drop=True)
            for _, g in long.groupby(".imp", sort=True)]

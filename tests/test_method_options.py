"""Every method's options, with their defaults: docs/method_options.md is generated from
the methods' own declarations (``python tests/test_method_options.py >
docs/method_options.md``) and kept current by a test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mlmice.impute.methods.base import available_methods, check_options, get_method

REPO = Path(__file__).resolve().parents[1]


def builtin_methods() -> list[str]:
    """mlmice's own methods (other tests register test methods in the same registry)."""
    return [m for m in available_methods()
            if type(get_method(m)).__module__.startswith("mlmice.")]


def render() -> str:
    lines = ["# Imputation methods and their options", "",
             "Generated from the methods' declarations (`python tests/test_method_options.py "
             "> docs/method_options.md`). Give options per variable in "
             "`imputation.method_options` (config) or `method_options=` (`mlmice.mice`); a "
             "name a method does not have is an error that names the closest.", "",
             "| method | option | default | meaning |", "|---|---|---|---|"]
    for name in builtin_methods():
        opts = get_method(name).options
        if not opts:
            lines.append(f"| `{name}` | (none) | | |")
        for opt, (default, text) in opts.items():
            shown = "required" if default is None and opt == "model" else repr(default)
            lines.append(f"| `{name}` | `{opt}` | `{shown}` | {text} |")
    return "\n".join(lines) + "\n"


def test_doc_is_current():
    assert (REPO / "docs" / "method_options.md").read_text() == render(), (
        "docs/method_options.md is out of date: python tests/test_method_options.py > "
        "docs/method_options.md")


@pytest.mark.parametrize("name", builtin_methods())
def test_every_declared_option_is_accepted(name):
    """Every declared name, with its declared default (which must pass the check of its
    own kind of value)."""
    check_options(name, {k: default for k, (default, _) in get_method(name).options.items()},
                  variable="y")


if __name__ == "__main__":
    sys.stdout.write(render())

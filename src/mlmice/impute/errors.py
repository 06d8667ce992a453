"""The errors of an imputation specification (shared by the spec and its defaults)."""

from __future__ import annotations

__all__ = ["SpecError", "SpecWarning"]


class SpecError(ValueError):
    """An imputation specification that cannot work with the data."""


class SpecWarning(UserWarning):
    """A valid specification with a questionable choice (see ``ImputationSpec.notes``)."""

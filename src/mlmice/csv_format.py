"""How a CSV file is written: its separator, decimal mark and missing-value codes.

R's ``read.csv`` assumes commas, decimal points and ``NA``; files exported in
European locales use ``;`` and decimal commas, and SPSS or Stata exports write
``.`` for a missing value. Read with the wrong assumptions such a file does not
fail: a number with a decimal comma, or a column with ``.`` in it, becomes text,
and text becomes a categorical variable. The checks here turn each of those
into an error that names the variable and row and the option to set
(:func:`mlmice.read_data`'s ``csv``, the config's ``data.csv``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

__all__ = ["CSV_DEFAULTS", "check_csv_header", "check_not_mixed", "csv_format"]


#: How a CSV file is written, when the user does not say (R's read.csv).
CSV_DEFAULTS = {"sep": ",", "decimal": ".", "na_values": []}


def csv_format(csv: Mapping | None) -> dict:
    """The CSV options ``sep``, ``decimal`` and ``na_values`` with their defaults, checked."""
    fmt = {**CSV_DEFAULTS, **(csv or {})}
    unknown = sorted(set(fmt) - set(CSV_DEFAULTS))
    if unknown:
        raise ValueError(f"csv options {unknown} are unknown; known: {sorted(CSV_DEFAULTS)}")
    if fmt["decimal"] not in (".", ","):
        raise ValueError(f"csv decimal == {fmt['decimal']!r}, must be '.' or ','")
    if not isinstance(fmt["sep"], str) or len(fmt["sep"]) != 1 or fmt["sep"] == fmt["decimal"]:
        raise ValueError(f"csv sep == {fmt['sep']!r}: one character, not the decimal mark")
    na = fmt["na_values"]
    if isinstance(na, str) or not all(isinstance(v, str) for v in na):
        raise ValueError(f"csv na_values must be a list of text values, got {na!r}")
    fmt["na_values"] = list(na)
    return fmt


def check_csv_header(path: Path, fmt: Mapping) -> list[str]:
    """The header's column names; a header read as one column that holds another
    separator is an error saying which to set, a file that is not UTF-8 one too."""
    import csv
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh, delimiter=fmt["sep"]), [])
    except UnicodeDecodeError:
        raise ValueError(f"data file {str(path)!r} is not UTF-8 text; save it as UTF-8 "
                         "CSV") from None
    if len(header) == 1:
        other = [c for c in ";\t,|" if c != fmt["sep"] and c in header[0]]
        if other:
            shown = {"\t": "a tab ('\\t')"}.get(other[0], repr(other[0]))
            raise ValueError(f"data file {str(path)!r}: its header {header[0][:60]!r} reads as "
                             f"one column with the separator {fmt['sep']!r}; it seems to be "
                             f"separated by {shown}: set csv sep (config data.csv.sep), and "
                             "decimal: ',' if its numbers have decimal commas")
    return header


def check_not_mixed(obs: pd.Series, num: pd.Series, name: str, source: str) -> None:
    """A column of numbers with some text in it is an error naming the text (and a
    column of numbers written with decimal commas one that says so).

    The text is most often a missing-value code ('.', 'NA ', '-') or a number written
    with a decimal comma; read as categories it would turn every number into a category
    and the code into an observed value, silently.
    """
    text = obs[num.isna()].astype(str)
    comma = text.str.fullmatch(r"\s*[-+]?\d*,\d+\s*")      # a number with a decimal comma
    if comma.all():
        raise ValueError(f"{source}: variable {name!r} has numbers with a decimal comma "
                         f"(e.g. {text.iloc[0]!r}, {_where(text)}); set csv decimal: ',' "
                         "(config data.csv.decimal, with data.csv.sep: ';' if ';' separates "
                         "the fields)")
    if not (num.notna().any() or comma.any()):
        return                                              # text only: a categorical
    other = text[~comma]
    tokens = list(dict.fromkeys(other))[:3]
    fix = (f"list it in csv na_values (config data.csv.na_values, e.g. [{tokens[0]!r}])"
           if str(source).lower().endswith(".csv") else "make it a missing value in the file")
    raise ValueError(f"{source}: variable {name!r} mixes numbers with the text "
                     f"{', '.join(map(repr, tokens))} ({_where(other)}); if that marks a "
                     f"missing value, {fix}; otherwise recode the column")


def _where(values: pd.Series) -> str:
    return f"{len(values)} row(s), the first at row {values.index[0]} (0-based)"

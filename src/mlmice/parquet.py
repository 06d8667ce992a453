"""The pipeline's artifact format: an analysis frame in Parquet, with labels and roles.

:func:`write_parquet` stores ``df.attrs["labels"]`` (value labels of coded variables)
and ``df.attrs["roles"]`` (:class:`Roles`: cluster, id, level-1 and level-2 and binary
variables) as JSON in the Parquet schema metadata (key ``mlmice``);
:func:`read_parquet` gives them back, so every artifact of the pipeline keeps one
coding. The analysis frame itself is described in :mod:`mlmice.io`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

__all__ = ["Roles", "read_parquet", "write_parquet"]

_META_KEY = b"mlmice"


@dataclass(frozen=True)
class Roles:
    """Roles of the variables of a two-level data set.

    Attributes
    ----------
    cluster : str
        Name of the cluster (level-2 unit) identifier.
    id : str or None
        Name of the unit (level-1) identifier, if any.
    level1 : tuple of str
        Analysis variables that vary within at least one cluster.
    level2 : tuple of str
        Analysis variables constant within every cluster where observed.
    binary : tuple of str
        Analysis variables coded 0/1 (a flag: each is also level 1 or level 2).
    """

    cluster: str
    id: str | None
    level1: tuple[str, ...]
    level2: tuple[str, ...]
    binary: tuple[str, ...]

    @property
    def variables(self) -> tuple[str, ...]:
        """All analysis variables (level 1 then level 2)."""
        return self.level1 + self.level2

    def to_dict(self) -> dict:
        """Plain JSON-able dict (lists instead of tuples)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: Mapping) -> Roles:
        return cls(cluster=d["cluster"], id=d.get("id"), level1=tuple(d.get("level1", ())),
                   level2=tuple(d.get("level2", ())), binary=tuple(d.get("binary", ())))


def write_parquet(df: pd.DataFrame, path) -> None:
    """Write an analysis frame to Parquet, keeping labels and roles.

    ``df.attrs["labels"]`` and ``df.attrs["roles"]`` are stored as JSON under
    the schema metadata key ``mlmice``; the row index is not stored.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = {"labels": {var: {str(k): str(v) for k, v in m.items()}
                       for var, m in df.attrs.get("labels", {}).items()},
            "roles": _jsonable_roles(df.attrs.get("roles"))}
    plain = pd.DataFrame(df, copy=False)
    plain.attrs = {}
    table = pa.Table.from_pandas(plain, preserve_index=False)
    schema_meta = dict(table.schema.metadata or {})
    schema_meta[_META_KEY] = json.dumps(meta).encode()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.replace_schema_metadata(schema_meta), str(path))


def read_parquet(path) -> pd.DataFrame:
    """Read a Parquet file written by :func:`write_parquet` (or any Parquet file).

    Labels come back as ``df.attrs["labels"]`` with integer codes, roles as
    ``df.attrs["roles"]`` (a dict; :meth:`Roles.from_dict` makes the object).
    """
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(str(path))
    except FileNotFoundError:
        raise FileNotFoundError(f"Parquet file {str(path)!r} does not exist") from None
    df = table.to_pandas()
    df.attrs = {}
    raw = (table.schema.metadata or {}).get(_META_KEY)
    labels, roles = {}, None
    if raw:
        meta = json.loads(raw)
        labels = {var: {int(k): v for k, v in m.items()}
                  for var, m in meta.get("labels", {}).items()}
        roles = meta.get("roles")
    df.attrs["labels"] = labels
    if roles is not None:
        df.attrs["roles"] = roles
    return df


def _jsonable_roles(roles):
    if roles is None:
        return None
    if isinstance(roles, Roles):
        return roles.to_dict()
    return {k: (list(v) if isinstance(v, tuple | list) else v) for k, v in dict(roles).items()}

"""Table metadata: what each column of a table is, and what is needed to generate values like it.

Every column gets one kind: ``numeric``, ``categorical``, ``boolean``, ``datetime``, ``id`` (unique keys,
never learned; fresh ones are generated) or ``constant``. The metadata also records the dtype the column
was read with, so generated values can be turned back into a table that looks like the input.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import pandas as pd

from ganforge.errors import ConfigError, DataError

KINDS = ("numeric", "categorical", "boolean", "datetime", "id", "constant")


@dataclass
class ColumnMeta:
    """What one column is and what is needed to generate values like it (see the module docstring)."""

    name: str
    kind: str
    dtype: str
    integer: bool = False
    nan_rate: float = 0.0
    min: float | None = None
    max: float | None = None
    categories: list | None = None
    frequencies: list[float] | None = None
    value: Any = None
    datetime_format: str | None = None


FIELDS = tuple(f.name for f in fields(ColumnMeta))


@dataclass
class TableMetadata:
    """Metadata of every column of a table, in table order, and its number of rows."""

    columns: list[ColumnMeta]
    n_rows: int

    def names(self) -> list[str]:
        """Column names in table order."""
        return [c.name for c in self.columns]

    def kinds(self) -> dict[str, str]:
        """Column name -> kind."""
        return {c.name: c.kind for c in self.columns}

    def __getitem__(self, name: str) -> ColumnMeta:
        for column in self.columns:
            if column.name == name:
                return column
        raise ConfigError(f"no column {name!r} in the table; columns are {listing(self.names())}")

    def to_dict(self) -> dict:
        """A JSON-safe dict; :meth:`from_dict` turns it back into an equal object."""
        return {"n_rows": int(self.n_rows), "columns": [asdict(c) for c in self.columns]}

    @classmethod
    def from_dict(cls, d: dict) -> TableMetadata:
        """Inverse of :meth:`to_dict`; ``ConfigError`` when ``d`` is not table metadata."""
        if not isinstance(d, dict) or not isinstance(d.get("columns"), list) or "n_rows" not in d:
            raise ConfigError("table metadata must be an object with 'n_rows' and a 'columns' list")
        columns = []
        for entry in d["columns"]:
            if not isinstance(entry, dict) or not {"name", "kind", "dtype"} <= set(entry):
                raise ConfigError(f"each column in table metadata needs name, kind and dtype; got {entry!r}")
            unknown = sorted(set(entry) - set(FIELDS))
            if unknown:
                raise ConfigError(
                    f"unknown field(s) {', '.join(unknown)} in table metadata of {entry['name']!r}"
                )
            if entry["kind"] not in KINDS:
                raise ConfigError(f"unknown kind {entry['kind']!r} for column {entry['name']!r}")
            columns.append(ColumnMeta(**entry))
        return cls(columns, int(d["n_rows"]))

    def summary(self) -> str:
        """A short table for people: one line per column with its kind, dtype and key facts."""
        rows = [("column", "kind", "dtype", "details")]
        rows += [(c.name, c.kind, c.dtype, _facts(c)) for c in self.columns]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = ["  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows]
        return f"{self.n_rows} rows, {len(self.columns)} columns\n" + "\n".join(
            line.rstrip() for line in lines
        )


def _facts(c: ColumnMeta) -> str:
    if c.kind == "numeric":
        facts = f"{_number(c.min)} .. {_number(c.max)}" + (", integer" if c.integer else "")
    elif c.kind == "datetime":
        lo, hi = (pd.Timestamp(x, unit="s") for x in (c.min, c.max))
        facts = f"{lo} .. {hi}" + (f", format {c.datetime_format}" if c.datetime_format else "")
    elif c.kind in ("categorical", "boolean"):
        cats, freqs = c.categories or [], c.frequencies or []
        top = f", top {cats[0]!r} {freqs[0]:.0%}" if cats and freqs else ""
        facts = f"{len(cats)} categories{top}"
    elif c.kind == "id":
        facts = "unique ids, generated fresh"
    else:
        facts = f"always {c.value!r}"
    return facts + (f", {c.nan_rate:.1%} missing" if c.nan_rate > 0 else "")


def _number(x: float | None) -> str:
    if x is None:
        return "?"
    return f"{x:.0f}" if float(x).is_integer() and abs(x) < 1e15 else f"{x:.6g}"


def listing(names: list[str], limit: int = 10) -> str:
    shown = ", ".join(map(repr, names[:limit]))
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_unique(names: list[str], where: str) -> None:
    seen = pd.Series(names)
    dups = seen[seen.duplicated()].unique().tolist()
    if dups:
        raise DataError(f"{where} has duplicate column names {listing(dups)}; give every column its own name")

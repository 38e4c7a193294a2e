"""Tabular data: read a CSV/Parquet table and infer what each column is, so a tabular GAN can model it.

Every column gets one kind: ``numeric``, ``categorical``, ``boolean``, ``datetime``, ``id`` (unique keys,
never learned; fresh ones are generated) or ``constant``. The metadata also records the dtype the column
was read with, so generated values can be turned back into a table that looks like the input.
Everything here is pandas + numpy; nothing imports torch.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import os
import re
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as pdt
from pandas.tseries.api import guess_datetime_format

from ganforge.errors import ConfigError, DataError

KINDS = ("numeric", "categorical", "boolean", "datetime", "id", "constant")
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")
MIN_ROWS_FOR_ID = 20  # below this, "all values distinct" says nothing about a column being a key

_ID_NAME = re.compile(r"(^|[_\-\s])(id|uuid|key)$|\bid\b", re.IGNORECASE)
_CAMEL_ID = re.compile(r"[a-z0-9](Id|ID|Uuid|UUID|Key)$")
_BOOL_WORDS = (frozenset({"true", "false"}), frozenset({"yes", "no"}))
_EPOCH = pd.Timestamp(0)
_SNIFF_BYTES = 64 * 1024
_OBJECT_FAMILIES = {
    "string": "text",
    "boolean": "bool",
    "integer": "number",
    "floating": "number",
    "mixed-integer-float": "number",
    "decimal": "number",
    "date": "date",
    "datetime": "date",
    "datetime64": "date",
}


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


_FIELDS = tuple(f.name for f in fields(ColumnMeta))


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
        raise ConfigError(f"no column {name!r} in the table; columns are {_listing(self.names())}")

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
            unknown = sorted(set(entry) - set(_FIELDS))
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


def _listing(names: list[str], limit: int = 10) -> str:
    shown = ", ".join(map(repr, names[:limit]))
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


# --- reading -------------------------------------------------------------------------------------


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a ``.csv``/``.tsv``/``.txt`` (delimiter sniffed) or ``.parquet``/``.pq`` file into a DataFrame.

    Column names are stripped of whitespace and must be unique. Every problem is a one-line ``DataError``.
    """
    p = Path(path)
    supported = ", ".join(TABLE_SUFFIXES)
    if not p.exists():
        raise DataError(f"no such file: {p}")
    if p.is_dir():
        raise DataError(f"{p} is a folder, not a table; point to a file ending in {supported}")
    suffix = p.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DataError(f"{p} has unsupported extension {suffix or '(none)'!r}; use one of {supported}")
    df = _read_parquet(p) if suffix in (".parquet", ".pq") else _read_text_table(p, suffix)
    if df.shape[1] == 0:
        raise DataError(f"{p} has no columns; it needs a header row and data rows")
    if len(df) == 0:
        raise DataError(f"{p} has no rows (only column names); add data rows")
    names = [str(c).strip() for c in df.columns]
    _check_unique(names, str(p))
    df.columns = names
    return df


def _check_unique(names: list[str], where: str) -> None:
    seen = pd.Series(names)
    dups = seen[seen.duplicated()].unique().tolist()
    if dups:
        raise DataError(
            f"{where} has duplicate column names {_listing(dups)}; give every column its own name"
        )


def _read_parquet(p: Path) -> pd.DataFrame:
    try:
        import pyarrow

        errors: tuple[type[BaseException], ...] = (pyarrow.ArrowException, OSError, ValueError, TypeError)
    except ImportError:
        raise DataError(f"reading {p} needs pyarrow; install it or convert the table to CSV") from None
    try:
        return pd.read_parquet(p)
    except errors as e:
        raise DataError(f"cannot read {p} as Parquet (corrupt or not Parquet): {_one_line(e)}") from None


def _read_text_table(p: Path, suffix: str) -> pd.DataFrame:
    with open(p, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if not head.strip():
        raise DataError(f"{p} is empty; it needs a header row and data rows")
    if b"\x00" in head:
        raise DataError(f"{p} holds binary data, not text; give a CSV/TSV text file or a .parquet file")
    sample = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    if len(head) == _SNIFF_BYTES and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # drop the line the read cut in two
    sep = "\t" if suffix == ".tsv" else _sniff_delimiter(sample)
    header = next(csv.reader(io.StringIO(sample), delimiter=sep, skipinitialspace=True), [])
    _check_unique([h.strip() for h in header], str(p))
    try:
        return pd.read_csv(p, sep=sep, skipinitialspace=True, low_memory=False)
    except UnicodeDecodeError as e:
        raise DataError(f"{p} is not UTF-8 text ({_one_line(e)}); save it as UTF-8") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{p} is empty; it needs a header row and data rows") from None
    except (pd.errors.ParserError, ValueError, OSError) as e:
        raise DataError(f"cannot read {p} as a table: {_one_line(e)}") from None


def _sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;|").delimiter
    except csv.Error:  # one column, or too irregular to tell: comma is the common case
        return ","


def read_metadata_overrides(path: str | Path) -> dict:
    """Read a JSON object of per-column overrides (see :func:`infer_metadata`); ``ConfigError`` if unusable."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"no such metadata overrides file: {p}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ConfigError(f"{p} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except (UnicodeDecodeError, OSError) as e:
        raise ConfigError(f"cannot read metadata overrides {p}: {_one_line(e)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p} must hold a JSON object mapping column names to overrides")
    return data


# --- inference -----------------------------------------------------------------------------------


def infer_metadata(df: pd.DataFrame, overrides: dict | None = None) -> TableMetadata:
    """Infer the kind and facts of every column of ``df``, then apply ``overrides``.

    Rules, first match wins: a single distinct value is ``constant``; bool dtype and two-valued
    true/false or yes/no text are ``boolean``; datetime dtypes and text that parses with one date
    format are ``datetime``; whole numbers that are all distinct and either named like an id or
    consecutive (the latter only from 20 rows on), and all-distinct text in 20+ rows, are ``id``;
    numbers that are only 0 and 1 are ``categorical`` (nothing is lost, and no rounding is needed);
    other numbers, including text in which every value is a number, are ``numeric``; the rest is
    ``categorical``. ``overrides`` maps column names (optionally under ``"columns"``) to ColumnMeta
    fields; a given ``kind`` is computed from the data instead of inferred.
    """
    if not isinstance(df, pd.DataFrame) or df.shape[1] == 0 or len(df) == 0:
        raise DataError("the table is empty; it needs at least one column and one row")
    names = [str(c) for c in df.columns]
    _check_unique(names, "the table")
    wanted = _column_overrides(overrides, names)
    columns = []
    for i, name in enumerate(names):
        series = df.iloc[:, i]
        extra = dict(wanted.get(name, {}))
        if "kind" in extra:
            meta = _forced_meta(name, series, extra.pop("kind"), extra.get("datetime_format"), len(df))
        else:
            meta = _infer_column(name, series, len(df))
        for key, val in extra.items():
            setattr(meta, key, val)
        columns.append(meta)
    return TableMetadata(columns, len(df))


def _column_overrides(overrides: dict | None, names: list[str]) -> dict[str, dict]:
    if overrides is None:
        return {}
    if not isinstance(overrides, dict):
        raise ConfigError("metadata overrides must be a mapping of column name to fields")
    if "columns" in overrides and "columns" not in names:
        extra = sorted(set(overrides) - {"columns"})
        if extra:
            raise ConfigError(f"unknown key(s) {', '.join(map(repr, extra))} next to 'columns' in overrides")
        overrides = overrides["columns"]
        if not isinstance(overrides, dict):
            raise ConfigError("'columns' in metadata overrides must map column names to fields")
    allowed = [f for f in _FIELDS if f != "name"]
    for name, spec in overrides.items():
        if name not in names:
            raise ConfigError(
                f"overrides name column {name!r}, which the table lacks; columns are {_listing(names)}"
            )
        if not isinstance(spec, dict):
            raise ConfigError(
                f'overrides for column {name!r} must be an object like {{"kind": "categorical"}}'
            )
        for key in spec:
            if key not in allowed:
                raise ConfigError(
                    f"unknown field {key!r} in overrides for column {name!r}; use {', '.join(allowed)}"
                )
        if "kind" in spec and spec["kind"] not in KINDS:
            raise ConfigError(
                f"unknown kind {spec['kind']!r} for column {name!r}; use one of {', '.join(KINDS)}"
            )
    return overrides


def _prepare(name: str, series: pd.Series) -> tuple[pd.Series, pd.Series, dict]:
    """The series (tz-aware times in UTC), its non-missing values, and the fields every kind shares."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC")
    present = series.dropna()
    if present.empty:
        raise DataError(f"column {name!r} has no values (all missing); drop it or fill it in")
    return (
        series,
        present,
        {"name": name, "dtype": str(series.dtype), "nan_rate": float(series.isna().mean())},
    )


def _infer_column(name: str, series: pd.Series, n_rows: int) -> ColumnMeta:
    series, present, base = _prepare(name, series)
    family = _family(name, series.dtype, present)
    if present.nunique() == 1:
        return _constant_meta(present, base)
    if family in ("datetime", "date"):
        return _datetime_meta(name, present, base, None)
    if family == "bool":
        return _categorical_meta(present, base, "boolean")
    if family == "category":
        return _categorical_meta(present, base, "categorical")
    numbers = _numbers(present)
    if family == "text":
        parsed = numbers.notna().to_numpy()
        if not parsed.all():
            if parsed.mean() >= 0.5:
                raise _not_numeric(name, present, parsed, "is mostly numbers but")
            return _infer_text(name, present, base, n_rows)
    values = numbers.to_numpy(dtype="float64")
    whole = _whole(name, values)
    if whole and _is_int_id(name, values, n_rows):
        return _int_id_meta(values, base)
    if whole and values.min() == 0 and values.max() == 1:
        return _categorical_meta(present, base, "categorical")
    return _numeric_meta(values, base, whole)


def _infer_text(name: str, present: pd.Series, base: dict, n_rows: int) -> ColumnMeta:
    distinct = present.unique()
    if len(distinct) == 2 and frozenset(str(v).lower() for v in distinct) in _BOOL_WORDS:
        return _categorical_meta(present, base, "boolean")
    fmt = _guess_format(present)
    if fmt is not None:
        return _datetime_meta(name, present, base, fmt)
    if n_rows >= MIN_ROWS_FOR_ID and len(distinct) == len(present):
        return _text_id_meta(present, base)
    return _categorical_meta(present, base, "categorical")


def _family(name: str, dtype: Any, present: pd.Series) -> str:
    """What the values are: datetime, bool, category, number, text or date (Python date objects)."""
    if pdt.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pdt.is_bool_dtype(dtype):
        return "bool"
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pdt.is_complex_dtype(dtype):
        raise DataError(
            f"column {name!r} holds complex numbers, which ganforge cannot model; split or drop it"
        )
    if pdt.is_numeric_dtype(dtype):
        return "number"
    if not (pdt.is_object_dtype(dtype) or pdt.is_string_dtype(dtype)):
        raise DataError(
            f"column {name!r} has dtype {dtype}, which ganforge cannot model; convert it to numbers or text"
        )
    family = _OBJECT_FAMILIES.get(pdt.infer_dtype(present, skipna=True))
    if family is not None:
        return family
    families = present.map(_value_family)
    firsts = present[~families.duplicated()]
    if len(firsts) == 1:
        kind = type(firsts.iloc[0]).__name__
        raise DataError(
            f"column {name!r} holds {kind} values, which ganforge cannot model; convert them to text"
        )
    shown = " and ".join(
        f"{type(v).__name__} (e.g. {_short(v)} in row {_short(i)})" for i, v in firsts.items()
    )
    raise DataError(
        f"column {name!r} mixes value types: {shown}; make every value one type or set the column's kind in the overrides"
    )


def _value_family(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int | float | decimal.Decimal | np.number):
        return "number"
    if isinstance(value, dt.date | np.datetime64):
        return "date"
    return type(value).__name__


def _short(value: Any) -> str:
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 40 else text[:37] + "..."


def _not_numeric(name: str, present: pd.Series, parsed: np.ndarray, how: str) -> DataError:
    bad = present[~parsed]
    return DataError(
        f"column {name!r} {how} row {_short(bad.index[0])} has {_short(bad.iloc[0])}, which is not a number "
        f"({len(bad)} such value(s)); fix or blank them, or set the column's kind to 'categorical' in the overrides"
    )


def _numbers(present: pd.Series) -> pd.Series:
    """Values as float64, NaN where a value is not a number."""
    if pdt.is_numeric_dtype(present.dtype) and not isinstance(present.dtype, pd.CategoricalDtype):
        return present.astype("float64")
    return pd.to_numeric(present.astype(object), errors="coerce").astype("float64")


def _whole(name: str, values: np.ndarray) -> bool:
    if not np.isfinite(values).all():
        raise DataError(f"column {name!r} has infinite values; replace them with numbers or leave them empty")
    return bool(np.all(values == np.round(values)))


def _is_int_id(name: str, values: np.ndarray, n_rows: int) -> bool:
    if len(pd.unique(values)) != len(values):
        return False
    if _ID_NAME.search(name) or _CAMEL_ID.search(name):
        return True
    return n_rows >= MIN_ROWS_FOR_ID and values.max() - values.min() + 1 == len(values)


def _numeric_meta(values: np.ndarray, base: dict, whole: bool) -> ColumnMeta:
    return ColumnMeta(kind="numeric", integer=whole, min=float(values.min()), max=float(values.max()), **base)


def _constant_meta(present: pd.Series, base: dict) -> ColumnMeta:
    return ColumnMeta(kind="constant", value=_json_scalar(present.mode(dropna=True).iloc[0]), **base)


def _categorical_meta(present: pd.Series, base: dict, kind: str) -> ColumnMeta:
    counts = present.value_counts(sort=False)
    counts = counts[counts > 0]
    try:
        by_value = counts.index.argsort()
    except TypeError:  # values of different types (a forced kind): order them by their text
        by_value = counts.index.astype(str).argsort()
    counts = counts.iloc[by_value]
    counts = counts.iloc[np.argsort(-counts.to_numpy(), kind="stable")]
    categories = [_json_scalar(v) for v in counts.index.tolist()]
    frequencies = (counts.to_numpy() / counts.to_numpy().sum()).tolist()
    return ColumnMeta(kind=kind, categories=categories, frequencies=frequencies, **base)


def _datetime_meta(name: str, present: pd.Series, base: dict, fmt: str | None) -> ColumnMeta:
    seconds = _seconds(_parse_dates(present, fmt))
    if np.isnan(seconds).any():
        raise DataError(
            f"column {name!r} has dates pandas cannot represent (before 1677 or after 2262); drop them"
        )
    return ColumnMeta(
        kind="datetime", min=float(seconds.min()), max=float(seconds.max()), datetime_format=fmt, **base
    )


def _int_id_meta(values: np.ndarray, base: dict) -> ColumnMeta:
    lo, hi = float(values.min()), float(values.max())
    return ColumnMeta(kind="id", integer=True, min=lo, max=hi, value={"max": int(hi)}, **base)


def _text_id_meta(present: pd.Series, base: dict) -> ColumnMeta:
    text = present.astype(str)
    prefix = os.path.commonprefix(text.tolist())
    # generated ids are longer than every real one, so they can never be equal to one
    width = max(6, int(text.str.len().max()) - len(prefix) - 2)
    return ColumnMeta(kind="id", value={"prefix": prefix, "width": width}, **base)


def _guess_format(present: pd.Series) -> str | None:
    """A date format (with a year) that parses every value, or None; plain numbers never get here."""
    first = str(present.iloc[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for dayfirst in (False, True):
            fmt = guess_datetime_format(first, dayfirst=dayfirst)
            if fmt and ("%Y" in fmt or "%y" in fmt) and _parse_dates(present, fmt).notna().all():
                return fmt
    return None


def _parse_dates(series: pd.Series, fmt: str | None) -> pd.Series:
    """Datetimes (NaT where unparseable); tz-aware results are made naive UTC."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    if pdt.is_datetime64_any_dtype(series.dtype):
        parsed = series
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(series, format=fmt, errors="coerce", utc=fmt is not None and "%z" in fmt)
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed


def _seconds(times: pd.Series) -> np.ndarray:
    return ((times - _EPOCH) / pd.Timedelta(seconds=1)).to_numpy(dtype="float64", na_value=np.nan)


def _json_scalar(value: Any) -> Any:
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if value is None or isinstance(value, str | bool | int | float):
        return value
    return str(value)


def _forced_meta(name: str, series: pd.Series, kind: str, fmt: str | None, n_rows: int) -> ColumnMeta:
    """Metadata of ``kind`` computed from the data, for a kind the user chose."""
    series, present, base = _prepare(name, series)
    is_time = pdt.is_datetime64_any_dtype(series.dtype)
    if kind == "constant":
        return _constant_meta(present, base)
    if kind in ("categorical", "boolean"):
        if kind == "boolean" and present.nunique() > 2:
            raise ConfigError(
                f"column {name!r} has {present.nunique()} distinct values; 'boolean' needs at most 2"
            )
        return _categorical_meta(present, base, kind)
    if kind == "datetime":
        family = "datetime" if is_time else _family(name, series.dtype, present)
        if family == "number":
            raise ConfigError(f"column {name!r} holds numbers, not dates; it cannot be 'datetime'")
        if family == "text" and fmt is None:
            fmt = _guess_format(present)
            if fmt is None:
                raise ConfigError(
                    f"column {name!r} is not dates in one format; give its 'datetime_format' too"
                )
        if _parse_dates(present, fmt).isna().any():
            raise ConfigError(f"column {name!r} does not parse as dates with format {fmt!r}; fix the format")
        return _datetime_meta(name, present, base, fmt)
    if is_time:
        raise ConfigError(
            f"column {name!r} holds dates; it can only be 'datetime', 'categorical' or 'constant'"
        )
    numbers = _numbers(present)
    parsed = numbers.notna().to_numpy()
    if kind == "numeric":
        if not parsed.all():
            raise ConfigError(str(_not_numeric(name, present, parsed, "cannot be 'numeric':")))
        values = numbers.to_numpy(dtype="float64")
        return _numeric_meta(values, base, _whole(name, values))
    if parsed.all():
        values = numbers.to_numpy(dtype="float64")
        if not _whole(name, values):
            raise ConfigError(f"column {name!r} holds fractional numbers; 'id' needs whole numbers or text")
        return _int_id_meta(values, base)
    return _text_id_meta(present, base)


# --- values to floats and back -------------------------------------------------------------------


def _target(meta: ColumnMeta) -> Any:
    try:
        return pdt.pandas_dtype(meta.dtype)
    except TypeError:
        return None


def _is_text(dtype: Any) -> bool:
    return dtype is not None and (pdt.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype))


def column_to_float(series: pd.Series, meta: ColumnMeta) -> np.ndarray:
    """A numeric or datetime column as float64 (datetimes: seconds since the Unix epoch), NaN if missing."""
    if meta.kind == "numeric":
        plain = series.astype(object) if isinstance(series.dtype, pd.CategoricalDtype) else series
        out = pd.to_numeric(plain, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    elif meta.kind == "datetime":
        out = _seconds(_parse_dates(series, meta.datetime_format))
    else:
        raise ConfigError(
            f"column {meta.name!r} is {meta.kind}; only numeric and datetime columns become floats"
        )
    bad = np.isnan(out) & series.notna().to_numpy()
    if bad.any():
        raise DataError(
            f"column {meta.name!r} has {_short(series[bad].iloc[0])} in row {_short(series.index[bad][0])}, "
            f"which is not {'a number' if meta.kind == 'numeric' else 'a date'}; fix the value or the metadata"
        )
    return out


def float_to_column(values: np.ndarray, meta: ColumnMeta) -> pd.Series:
    """Inverse of :func:`column_to_float`: clip to [min, max], round integers, restore the dtype."""
    if meta.kind not in ("numeric", "datetime"):
        raise ConfigError(
            f"column {meta.name!r} is {meta.kind}; only numeric and datetime columns come from floats"
        )
    v = np.asarray(values, dtype="float64").reshape(-1)
    lo = -np.inf if meta.min is None else meta.min
    hi = np.inf if meta.max is None else meta.max
    v = np.clip(v, lo, hi)
    missing = np.isnan(v)
    if meta.kind == "datetime":
        return _restore_times(v, missing, meta)
    if meta.integer:
        v = np.round(v)
    target = _target(meta)
    s = pd.Series(v, name=meta.name)
    if _is_text(target):
        filled = np.where(missing, 0.0, v)
        text = (filled.astype(np.int64) if meta.integer else filled).astype(str).astype(object)
        text[missing] = np.nan
        return pd.Series(text, name=meta.name, dtype=object).astype(target)
    if pdt.is_bool_dtype(target):
        return s.astype("boolean" if missing.any() else bool)
    if target is None or (missing.any() and isinstance(target, np.dtype) and target.kind in "iu"):
        return s
    return s.astype(target)


def _restore_times(seconds: np.ndarray, missing: np.ndarray, meta: ColumnMeta) -> pd.Series:
    micros = np.where(missing, 0, np.rint(seconds * 1e6)).astype(np.int64)  # float64 keeps microseconds
    times = pd.Series(pd.to_datetime(micros, unit="us"), name=meta.name).mask(missing)
    target = _target(meta)
    if meta.datetime_format is not None:
        if "%z" in meta.datetime_format:
            times = times.dt.tz_localize("UTC")
        text = times.dt.strftime(meta.datetime_format)
        return text.astype(target) if _is_text(target) else text
    if isinstance(target, pd.DatetimeTZDtype):
        return times.dt.tz_localize("UTC").astype(target)
    if isinstance(target, np.dtype) and target.kind == "M":
        return times.astype(target)
    return times


def categories_to_column(codes: np.ndarray, meta: ColumnMeta) -> pd.Series:
    """Integer codes into ``meta.categories`` (-1 is missing) as a column of the original dtype."""
    if meta.kind not in ("categorical", "boolean") or not meta.categories:
        raise ConfigError(f"column {meta.name!r} is {meta.kind} without categories; it has no category codes")
    codes = np.asarray(codes).reshape(-1)
    if codes.size and not np.issubdtype(codes.dtype, np.integer):
        raise DataError(f"category codes for column {meta.name!r} must be integers; got {codes.dtype}")
    k = len(meta.categories)
    bad = (codes < -1) | (codes >= k)
    if bad.any():
        raise DataError(f"category code {codes[bad][0]} for column {meta.name!r} is outside [-1, {k})")
    table = np.empty(k + 1, dtype=object)
    table[:k] = meta.categories
    table[k] = np.nan
    return _cast(pd.Series(table[np.where(codes < 0, k, codes)], name=meta.name, dtype=object), meta)


def generate_ids(meta: ColumnMeta, n: int, start: int = 0) -> pd.Series:
    """``n`` fresh ids for an id column, unequal to every id in the data (and to those of other ``start``)."""
    if meta.kind != "id" or not isinstance(meta.value, dict):
        raise ConfigError(f"column {meta.name!r} is {meta.kind}, not an id column; it has no ids to generate")
    if n < 0 or start < 0:
        raise ConfigError(f"generate_ids needs n >= 0 and start >= 0; got n={n}, start={start}")
    counter = start + np.arange(n, dtype=np.int64)
    target = _target(meta)
    if "max" in meta.value:
        ids = pd.Series(int(meta.value["max"]) + 1 + counter, name=meta.name)
        return ids.astype(str).astype(target) if _is_text(target) else _cast(ids, meta)
    prefix, width = str(meta.value["prefix"]), int(meta.value["width"])
    ids = prefix + "syn" + pd.Series(counter, name=meta.name).astype(str).str.zfill(width)
    return _cast(ids.astype(object), meta)


def _cast(series: pd.Series, meta: ColumnMeta) -> pd.Series:
    """``series`` as ``meta.dtype`` where that is possible, else as close as it gets."""
    target = _target(meta)
    if target is None:
        return series
    if isinstance(target, pd.CategoricalDtype):
        cats = meta.categories if meta.kind == "categorical" else None
        return series.astype(pd.CategoricalDtype(cats) if cats else "category")
    if meta.datetime_format is not None and pdt.is_datetime64_any_dtype(series.dtype):
        series = _restore_times(_seconds(_parse_dates(series, None)), series.isna().to_numpy(), meta)
    if isinstance(target, pd.DatetimeTZDtype) and not pdt.is_datetime64_any_dtype(series.dtype):
        series = pd.to_datetime(series, errors="coerce", utc=True)
    if isinstance(target, pd.DatetimeTZDtype) and not isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_localize("UTC")
    try:
        return series.astype(target)
    except (TypeError, ValueError):  # e.g. missing values in an int64 column
        fallback = (
            "boolean" if pdt.is_bool_dtype(target) else "float64" if pdt.is_integer_dtype(target) else None
        )
        try:
            return series.astype(fallback) if fallback else series
        except (TypeError, ValueError):
            return series


def restore_dtypes(df: pd.DataFrame, meta: TableMetadata) -> pd.DataFrame:
    """A copy of ``df`` with every column known to ``meta`` cast back to its recorded dtype where possible."""
    out = df.copy()
    for column in meta.columns:
        if column.name in out.columns:
            out[column.name] = _cast(out[column.name], column)
    return out

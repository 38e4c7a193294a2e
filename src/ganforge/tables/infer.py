"""Infer the kind and facts of every column of a table, then apply the user's per-column overrides."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import re
import warnings
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as pdt
from pandas.tseries.api import guess_datetime_format

from ganforge.errors import ConfigError, DataError
from ganforge.tables.columns import parse_dates, short_text, to_seconds
from ganforge.tables.meta import FIELDS, KINDS, ColumnMeta, TableMetadata, check_unique, listing

MIN_ROWS_FOR_ID = 20  # below this, "all values distinct" says nothing about a column being a key

_ID_NAME = re.compile(r"(^|[_\-\s])(id|uuid|key)$|\bid\b", re.IGNORECASE)
_CAMEL_ID = re.compile(r"[a-z0-9](Id|ID|Uuid|UUID|Key)$")
_BOOL_WORDS = (frozenset({"true", "false"}), frozenset({"yes", "no"}))
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
    check_unique(names, "the table")
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
    allowed = [f for f in FIELDS if f != "name"]
    for name, spec in overrides.items():
        if name not in names:
            raise ConfigError(
                f"overrides name column {name!r}, which the table lacks; columns are {listing(names)}"
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
        f"{type(v).__name__} (e.g. {short_text(v)} in row {short_text(i)})" for i, v in firsts.items()
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


def _not_numeric(name: str, present: pd.Series, parsed: np.ndarray, how: str) -> DataError:
    bad = present[~parsed]
    return DataError(
        f"column {name!r} {how} row {short_text(bad.index[0])} has {short_text(bad.iloc[0])}, which is not a number "
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
    seconds = to_seconds(parse_dates(present, fmt))
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
            if fmt and ("%Y" in fmt or "%y" in fmt) and parse_dates(present, fmt).notna().all():
                return fmt
    return None


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
        if parse_dates(present, fmt).isna().any():
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

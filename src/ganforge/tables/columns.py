"""Column values to floats or category codes and back, in the dtypes the table was read with."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as pdt

from ganforge.errors import ConfigError, DataError
from ganforge.tables.meta import ColumnMeta, TableMetadata

_EPOCH = pd.Timestamp(0)


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
        out = to_seconds(parse_dates(series, meta.datetime_format))
    else:
        raise ConfigError(
            f"column {meta.name!r} is {meta.kind}; only numeric and datetime columns become floats"
        )
    bad = np.isnan(out) & series.notna().to_numpy()
    if bad.any():
        raise DataError(
            f"column {meta.name!r} has {short_text(series[bad].iloc[0])} in row {short_text(series.index[bad][0])}, "
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
        series = _restore_times(to_seconds(parse_dates(series, None)), series.isna().to_numpy(), meta)
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


def short_text(value: Any) -> str:
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_dates(series: pd.Series, fmt: str | None) -> pd.Series:
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


def to_seconds(times: pd.Series) -> np.ndarray:
    return ((times - _EPOCH) / pd.Timedelta(seconds=1)).to_numpy(dtype="float64", na_value=np.nan)

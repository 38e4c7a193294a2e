"""Tabular data: read a CSV/Parquet table and infer what each column is, so a tabular GAN can model it.

Every column gets one kind: ``numeric``, ``categorical``, ``boolean``, ``datetime``, ``id`` (unique keys,
never learned; fresh ones are generated) or ``constant``. The metadata also records the dtype the column
was read with, so generated values can be turned back into a table that looks like the input.
Everything here is pandas + numpy; nothing imports torch.
"""

from __future__ import annotations

import csv
import io
import json
import warnings
from pathlib import Path

import pandas as pd

from ganforge.errors import ConfigError, DataError
from ganforge.tables.infer import MIN_ROWS_FOR_ID, infer_metadata
from ganforge.tables.meta import KINDS, ColumnMeta, TableMetadata, check_unique

__all__ = [
    "KINDS",
    "MIN_ROWS_FOR_ID",
    "TABLE_SUFFIXES",
    "ColumnMeta",
    "TableMetadata",
    "infer_metadata",
    "read_metadata_overrides",
    "read_table",
]

TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")
_SNIFF_BYTES = 64 * 1024


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
    check_unique(names, str(p))
    df.columns = names
    return df


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
    try:
        header = next(csv.reader(io.StringIO(sample), delimiter=sep, skipinitialspace=True), [])
    except csv.Error:  # e.g. a bare carriage return inside a field: take the first line as it splits
        header = next(csv.reader(sample.splitlines()[:1], delimiter=sep, skipinitialspace=True), [])
    check_unique([h.strip() for h in header], str(p))
    try:
        with warnings.catch_warnings():
            # index_col=False: a row with more fields than the header is an error, not a silent shift of
            # every column by one (pandas would take the first field as the row index)
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(p, sep=sep, skipinitialspace=True, low_memory=False, index_col=False)
    except pd.errors.ParserWarning:
        raise DataError(
            f"{p}: data rows have more fields than the header's {len(header)} columns; fix the header or the rows"
        ) from None
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

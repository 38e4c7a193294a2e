"""Table data layer: reading files, inferring column kinds, and turning values into floats/codes and back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ganforge.errors import ConfigError, DataError
from ganforge.tables.columns import (
    categories_to_column,
    column_to_float,
    float_to_column,
    generate_ids,
    restore_dtypes,
)
from ganforge.tables.data import (
    ColumnMeta,
    TableMetadata,
    infer_metadata,
    read_metadata_overrides,
    read_table,
)

ADULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "adult" / "adult.data"
ADULT_NAMES = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
]


def kinds_of(df: pd.DataFrame, overrides: dict | None = None) -> dict[str, str]:
    return infer_metadata(df, overrides).kinds()


def one(series: list | pd.Series, name: str = "x", **kw) -> ColumnMeta:
    """Metadata of a one-column table (plus a filler column so the table is not trivially small)."""
    s = pd.Series(series, **kw)
    return infer_metadata(pd.DataFrame({name: s, "filler": np.arange(len(s)) % 3}))[name]


def mixed_table(n: int = 30) -> pd.DataFrame:
    """One column of every kind."""
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "user_id": np.arange(100, 100 + n),
            "code": [f"AB-{k:04d}" for k in rng.permutation(n)],
            "age": rng.integers(18, 90, n),
            "score": rng.normal(size=n),
            "city": rng.choice(["Oslo", "Lima", "Pune"], n),
            "active": rng.choice([True, False], n),
            "joined": pd.date_range("2020-01-01", periods=n, freq="37h").strftime("%Y-%m-%d %H:%M:%S"),
            "seen": pd.date_range("2021-05-01", periods=n, freq="D"),
            "country": ["NO"] * n,
        }
    )


def assert_one_line_naming(excinfo: pytest.ExceptionInfo, *parts: str) -> None:
    msg = str(excinfo.value)
    assert "\n" not in msg, msg
    for part in parts:
        assert part in msg, msg


# --- metadata object -----------------------------------------------------------------------------


def test_every_kind_is_inferred_and_survives_a_json_round_trip() -> None:
    meta = infer_metadata(mixed_table())
    assert meta.kinds() == {
        "user_id": "id",
        "code": "id",
        "age": "numeric",
        "score": "numeric",
        "city": "categorical",
        "active": "boolean",
        "joined": "datetime",
        "seen": "datetime",
        "country": "constant",
    }
    assert meta.n_rows == 30 and meta.names()[0] == "user_id"
    back = TableMetadata.from_dict(json.loads(json.dumps(meta.to_dict(), allow_nan=False)))
    assert back == meta
    assert meta["country"].value == "NO" and meta["joined"].datetime_format == "%Y-%m-%d %H:%M:%S"
    with pytest.raises(ConfigError, match="'nope'"):
        meta["nope"]
    with pytest.raises(ConfigError, match="unknown kind 'weird'"):
        TableMetadata.from_dict({"n_rows": 1, "columns": [{"name": "a", "kind": "weird", "dtype": "int64"}]})


def test_summary_has_one_line_per_column_with_its_key_facts() -> None:
    df = pd.DataFrame({"age": [20, 30, None, 50], "pet": ["cat", "dog", "cat", "cat"]})
    lines = infer_metadata(df).summary().splitlines()
    assert lines[0] == "4 rows, 2 columns"
    age = next(line for line in lines if line.startswith("age"))
    pet = next(line for line in lines if line.startswith("pet"))
    assert "numeric" in age and "float64" in age and "20 .. 50" in age and "25.0% missing" in age
    assert "categorical" in pet and "2 categories" in pet and "'cat' 75%" in pet


# --- inference -----------------------------------------------------------------------------------


def test_numeric_columns_know_integer_range_and_missing_share() -> None:
    ints = one([3, 1, 2, 7])
    assert (ints.kind, ints.integer, ints.min, ints.max, ints.dtype) == ("numeric", True, 1.0, 7.0, "int64")
    with_nan = one([1.0, np.nan, 4.0, 2.0])  # integers with blanks are read as float64
    assert (with_nan.kind, with_nan.integer, with_nan.nan_rate) == ("numeric", True, 0.25)
    floats = one([0.5, 1.25, 3.0, 2.0])
    assert floats.kind == "numeric" and not floats.integer
    nullable = one([1, None, 5, 2], dtype="Int64")
    assert (nullable.kind, nullable.integer, nullable.dtype, nullable.max) == ("numeric", True, "Int64", 5.0)


def test_all_distinct_floats_are_numeric_but_all_distinct_text_is_an_id() -> None:
    rng = np.random.default_rng(1)
    assert one(rng.normal(size=40)).kind == "numeric"
    assert one([f"u{k}x" for k in rng.permutation(40)]).kind == "id"
    assert one([f"u{k}x" for k in range(19)]).kind == "categorical"  # too few rows to call it a key
    assert one(rng.permutation(np.arange(5, 45))).kind == "id"  # consecutive integers
    assert one(rng.choice(1000, 40, replace=False) * 7).kind == "numeric"  # distinct, not consecutive
    assert one([9, 4, 17], name="customer_id").kind == "id"
    assert one([9, 4, 17], name="Order ID").kind == "id"
    assert one([9, 4, 17], name="idea").kind == "numeric"
    assert one([9, 4, 9], name="customer_id").kind == "numeric"  # repeated values are no key


def test_numeric_text_is_numeric_and_a_mostly_numeric_column_is_an_error() -> None:
    text = one(["1", "2.5", "10", None])
    assert (text.kind, text.integer, text.min, text.max, text.dtype) == (
        "numeric",
        False,
        1.0,
        10.0,
        "object",
    )
    with pytest.raises(DataError) as excinfo:
        infer_metadata(pd.DataFrame({"qty": ["1", "2", "abc"]}))
    assert_one_line_naming(excinfo, "'qty'", "'abc'", "row 2")
    assert one(["a", "b", "1", "a"]).kind == "categorical"  # mostly text: the "1" is a category


def test_mixed_python_types_are_an_error_naming_both() -> None:
    df = pd.DataFrame({"ok": [1, 2, 3], "bad": pd.Series([1, "two", 3], dtype=object)})
    with pytest.raises(DataError) as excinfo:
        infer_metadata(df)
    assert_one_line_naming(excinfo, "'bad'", "int (e.g. 1", "str (e.g. 'two'")


def test_all_missing_column_is_an_error() -> None:
    with pytest.raises(DataError) as excinfo:
        infer_metadata(pd.DataFrame({"a": [1, 2], "gone": [None, None]}))
    assert_one_line_naming(excinfo, "column 'gone' has no values (all missing)")


def test_constant_columns_keep_their_value_and_missing_share() -> None:
    assert (one([5, 5, 5]).kind, one([5, 5, 5]).value) == ("constant", 5)
    with_nan = one(["x", None, "x", "x"])
    assert (with_nan.kind, with_nan.value, with_nan.nan_rate) == ("constant", "x", 0.25)


def test_boolean_comes_from_bool_dtype_and_yes_no_text_but_not_from_zero_one() -> None:
    flags = one([True, False, True, True])
    assert (flags.kind, flags.categories, flags.frequencies) == ("boolean", [True, False], [0.75, 0.25])
    words = one(["Yes", "no", "Yes", None])
    assert (words.kind, words.categories, words.dtype) == ("boolean", ["Yes", "no"], "object")
    zero_one = one([0, 1, 1, 0, 1])
    assert (zero_one.kind, zero_one.categories, zero_one.frequencies) == ("categorical", [1, 0], [0.6, 0.4])
    assert one(["yes", "no", "maybe"]).kind == "categorical"


def test_categories_are_ordered_by_frequency_then_value() -> None:
    meta = one(["b", "c", "a", "c", "b", "d", None])
    assert meta.categories == ["b", "c", "a", "d"]
    assert meta.frequencies == pytest.approx([2 / 6, 2 / 6, 1 / 6, 1 / 6])
    assert meta.nan_rate == pytest.approx(1 / 7)
    many = one([f"v{k % 25}" for k in range(100)])  # high cardinality is still categorical
    assert many.kind == "categorical" and len(many.categories) == 25
    cat = one(pd.Categorical(["lo", "hi", "hi"], categories=["lo", "hi", "mid"]))
    assert (cat.kind, cat.categories, cat.dtype) == ("categorical", ["hi", "lo"], "category")


def test_datetimes_from_dtype_and_text_but_never_from_plain_numbers() -> None:
    text = one(["2021-03-04", "2020-01-01", None, "2022-12-31"])
    assert (text.kind, text.datetime_format, text.dtype) == ("datetime", "%Y-%m-%d", "object")
    assert text.min == pd.Timestamp("2020-01-01").timestamp()
    assert text.max == pd.Timestamp("2022-12-31").timestamp()
    dayfirst = one(["01/02/2020", "25/12/2021", "13/01/2020"])
    assert (dayfirst.kind, dayfirst.datetime_format) == ("datetime", "%d/%m/%Y")
    native = one(pd.to_datetime(["2020-01-01", "2020-06-01", None]))
    assert (native.kind, native.datetime_format, native.dtype) == ("datetime", None, "datetime64[ns]")
    aware = one(pd.to_datetime(["2020-01-01 01:00", "2020-06-01 00:00"]).tz_localize("Europe/Oslo"))
    assert (aware.kind, aware.dtype, aware.min) == ("datetime", "datetime64[ns, UTC]", 1577836800.0)
    assert one(["20200101", "20210304", "20220505"]).kind == "numeric"
    assert one(["Jan", "Feb", "Mar", "Jan"]).kind == "categorical"
    assert one(["2020-01-01", "2020-02-01", "soon"]).kind == "categorical"


def test_adult_census_columns_are_integers_or_categories_with_question_marks_kept() -> None:
    df = pd.read_csv(ADULT, header=None, names=ADULT_NAMES, skipinitialspace=True)
    meta = infer_metadata(df)
    integers = {"age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"}
    for column in meta.columns:
        assert column.nan_rate == 0.0, column.name
        if column.name in integers:
            assert (column.kind, column.integer) == ("numeric", True), column.name
        else:
            assert column.kind == "categorical", column.name
    for name in ("workclass", "occupation", "native-country"):
        assert "?" in meta[name].categories, name
    assert meta["sex"].categories == ["Male", "Female"] and meta["age"].min == 17


# --- overrides -----------------------------------------------------------------------------------


def test_overrides_force_a_kind_and_recompute_its_fields(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {"zip": [1010, 2020, 1010, 3030], "qty": ["1", "2", "x", "3"], "n": [1.0, 2.0, 2.0, 4.0]}
    )
    path = tmp_path / "meta.json"
    path.write_text(json.dumps({"columns": {"zip": {"kind": "categorical"}, "qty": {"kind": "categorical"}}}))
    meta = infer_metadata(df, read_metadata_overrides(path))
    assert meta["zip"].categories == [1010, 2020, 3030] and meta["zip"].min is None
    assert meta["qty"].kind == "categorical"  # overriding fixes the "mostly numbers" error
    meta = infer_metadata(df[["zip", "n"]], {"n": {"integer": False}, "zip": {"kind": "id"}})
    assert (meta["n"].kind, meta["n"].integer, meta["n"].max) == ("numeric", False, 4.0)
    assert meta["zip"].kind == "id" and meta["zip"].value == {"max": 3030}
    flags = infer_metadata(pd.DataFrame({"f": ["0", "1", "1"]}), {"f": {"kind": "numeric"}})["f"]
    assert (flags.kind, flags.integer, flags.min, flags.max) == ("numeric", True, 0.0, 1.0)
    with pytest.raises(ConfigError) as excinfo:
        infer_metadata(df, {"qty": {"kind": "numeric"}})
    assert_one_line_naming(excinfo, "'qty'", "'x'")


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"zap": {"kind": "numeric"}}, "'zap'"),
        ({"columns": {"zap": {"kind": "id"}}}, "'zap'"),
        ({"zip": {"kind": "money"}}, "unknown kind 'money'"),
        ({"zip": {"colour": "red"}}, "unknown field 'colour'"),
        ({"zip": "categorical"}, "'zip'"),
    ],
)
def test_bad_overrides_are_config_errors_naming_the_problem(overrides: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        infer_metadata(pd.DataFrame({"zip": [1, 2, 3]}), overrides)
    assert_one_line_naming(excinfo, needle)


def test_reading_overrides_reports_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as excinfo:
        read_metadata_overrides(tmp_path / "none.json")
    assert_one_line_naming(excinfo, "none.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"a": {"kind": "id"},\n')
    with pytest.raises(ConfigError) as excinfo:
        read_metadata_overrides(broken)
    assert_one_line_naming(excinfo, "broken.json", "not valid JSON", "line 2")


# --- floats and codes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "series",
    [
        pd.Series([3, -2, 10, 7], name="x"),
        pd.Series([1.5, np.nan, -0.25, 8.0], name="x"),
        pd.Series([1.0, np.nan, 4.0, 2.0], name="x"),
        pd.Series([1, None, 5, 2], dtype="Int64", name="x"),
        pd.Series(["2020-01-05 10:11:12", np.nan, "1999-12-31 23:59:59"], name="x"),
        pd.Series(
            pd.to_datetime(["2020-01-05 10:11:12.250", None, "1970-01-01"], format="ISO8601"), name="x"
        ),
        pd.Series(pd.to_datetime(["2020-01-05 10:11", "2021-07-01 00:00"]).tz_localize("UTC"), name="x"),
        pd.Series(["4", "17", np.nan, "-3"], name="x"),
    ],
)
def test_floats_round_trip_to_the_same_column(series: pd.Series) -> None:
    meta = one(series)
    floats = column_to_float(series, meta)
    assert floats.dtype == np.float64 and np.isnan(floats).tolist() == series.isna().tolist()
    back = float_to_column(floats, meta)
    assert str(back.dtype) == str(series.dtype)
    pd.testing.assert_series_equal(back, series.reset_index(drop=True), check_names=False)


def test_generated_floats_are_clipped_rounded_and_typed() -> None:
    ints = one([3, 1, 2, 7])
    out = float_to_column(np.array([2.6, -40.0, 99.0, 1.2]), ints)
    assert out.dtype == np.int64 and out.tolist() == [3, 1, 7, 1]
    nullable = one([1, None, 5], dtype="Int64")
    out = float_to_column(np.array([np.nan, 2.4]), nullable)
    assert str(out.dtype) == "Int64" and out.isna().tolist() == [True, False] and out[1] == 2
    whole_floats = one([1.0, np.nan, 4.0])
    out = float_to_column(np.array([np.nan, 2.4]), whole_floats)
    assert out.dtype == np.float64 and out.isna().tolist() == [True, False] and out[1] == 2.0
    dates = one(["2020-01-01", "2020-12-31", "2020-05-05"])
    assert float_to_column(np.array([0.0, 4e9]), dates).tolist() == ["2020-01-01", "2020-12-31"]


def test_category_codes_restore_values_dtype_and_missing() -> None:
    flags = one([True, False, True])
    out = categories_to_column(np.array([1, 0, 0]), flags)
    assert out.dtype == bool and out.tolist() == [False, True, True]
    text = one(["b", "a", "b", None])
    out = categories_to_column(np.array([0, -1, 1]), text)
    assert out.dtype == object and out[0] == "b" and pd.isna(out[1]) and out[2] == "a"
    zero_one = one([0, 1, 1])
    out = categories_to_column(np.array([1, 0]), zero_one)
    assert out.dtype == np.int64 and out.tolist() == [0, 1]
    cat = one(pd.Categorical(["lo", "hi", "hi"]))
    out = categories_to_column(np.array([1, 0]), cat)
    assert isinstance(out.dtype, pd.CategoricalDtype) and out.tolist() == ["lo", "hi"]
    with pytest.raises(DataError, match="outside"):
        categories_to_column(np.array([2]), zero_one)


def test_generated_ids_are_fresh_unique_and_keep_the_prefix() -> None:
    numbers = one(np.arange(100, 140), name="user_id")
    ids = generate_ids(numbers, 5, start=10)
    assert ids.dtype == np.int64 and ids.tolist() == [150, 151, 152, 153, 154]
    real = [f"cust-{k:03d}" for k in range(40)]
    text = one(real, name="customer")
    first, later = generate_ids(text, 50), generate_ids(text, 50, start=50)
    both = pd.concat([first, later])
    assert both.is_unique and both.str.startswith("cust-0").all() and "syn" in first[0]
    assert not both.isin(real).any()
    with pytest.raises(ConfigError, match="not an id"):
        generate_ids(one([1.5, 2.5, 3.5]), 3)


def test_restore_dtypes_undoes_what_concatenation_does() -> None:
    df = pd.DataFrame(
        {
            "n": pd.Series([1, None, 3], dtype="Int64"),
            "c": pd.Categorical(["a", "b", "a"]),
            "t": pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03"]),
        }
    )
    meta = infer_metadata(df)
    glued = pd.concat([df.astype(object), df.astype(object)], ignore_index=True)
    restored = restore_dtypes(glued, meta)
    assert restored.dtypes.astype(str).tolist() == ["Int64", "category", "datetime64[ns]"]
    assert restored["n"].isna().sum() == 2 and restored["c"].tolist() == ["a", "b", "a"] * 2


# --- reading files -------------------------------------------------------------------------------


def test_read_table_reads_csv_tsv_txt_and_parquet_alike(tmp_path: Path) -> None:
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    (tmp_path / "t.csv").write_text(" a , b\n1, x\n2, y\n3, z\n")
    (tmp_path / "t.tsv").write_text("a\tb\n1\tx\n2\ty\n3\tz\n")
    (tmp_path / "t.txt").write_text("a;b\n1;x\n2;y\n3;z\n")
    df.to_parquet(tmp_path / "t.parquet")
    df.to_parquet(tmp_path / "t.pq")
    for name in ("t.csv", "t.tsv", "t.txt", "t.parquet", "t.pq"):
        pd.testing.assert_frame_equal(read_table(tmp_path / name), df, obj=name)


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("missing.csv", None, "no such file"),
        ("folder.csv", "DIR", "is a folder"),
        ("table.xlsx", b"PK\x03\x04", "unsupported extension '.xlsx'; use one of .csv, .tsv"),
        ("noise.parquet", bytes(range(256)) * 4, "cannot read"),
        ("image.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("latin.csv", "name,town\nJos\xe9,M\xe1laga\n".encode("latin-1"), "not UTF-8"),
        ("empty.csv", b"", "is empty"),
        ("header.csv", b"a,b\n", "no rows"),
        ("dups.csv", b"a,b,a\n1,2,3\n", "duplicate column names 'a'"),
        ("spaces.csv", b"a, a \n1,2\n", "duplicate column names 'a'"),
        ("ragged.csv", b"a,b\n1,2\n3,4,5,6\n", "cannot read"),
    ],
)
def test_read_table_errors_are_one_line_naming_the_file(
    tmp_path: Path, name: str, content: bytes | str | None, needle: str
) -> None:
    path = tmp_path / name
    if content == "DIR":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError) as excinfo:
        read_table(path)
    assert_one_line_naming(excinfo, str(path), needle)


def test_rows_with_more_fields_than_the_header_are_refused_not_shifted(tmp_path):
    """pandas would read the first field as the row index and shift every column by one."""
    path = tmp_path / "ragged.csv"
    path.write_text("age,city\n30,Oslo,extra\n41,Rome,extra\n")
    with pytest.raises(DataError, match="more fields than the header's 2 columns"):
        read_table(path)
    (tmp_path / "fine.csv").write_text("age,city\n30,Oslo\n41,Rome\n")
    assert read_table(tmp_path / "fine.csv")["age"].tolist() == [30, 41]


def test_a_bare_carriage_return_in_a_field_is_read_as_a_line_break(tmp_path: Path) -> None:
    """Found by the property test on generated CSV files: the header check raised the csv module's own
    error ("new-line character seen in unquoted field") instead of reading the file or one clear line."""
    path = tmp_path / "cr.csv"
    path.write_bytes(b"a,b\nx\ry,1\n3,4\n")
    df = read_table(path)
    assert list(df.columns) == ["a", "b"] and df["a"].tolist() == ["x", "y", "3"]

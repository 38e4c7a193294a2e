"""Time series in, windows out: reading one long series or a panel of many (an id column), checking it,
min-max scaling every feature to [0, 1] and cutting fixed-length windows (the TimeGAN protocol: Yoon,
Jarrett and van der Schaar, NeurIPS 2019), and the way back: generated sequences to rows with an id and a
continued time column.

A numeric feature with missing values gets an indicator channel (1 where the value is missing), so the
generator learns where values are missing as well as the values themselves; decoding puts NaN back where
the indicator is on. Text and yes/no features, and integer ones with at most 20 values, are categories
(one-hot channels). In a panel, columns that never change within a series are its static attributes.
"""

from __future__ import annotations

import gzip
import numbers
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ganforge.errors import ConfigError, DataError

BUILTINS = ("sines", "stocks", "energy")
SEQUENCE = "sequence"  # the id column of sampled sequences when the input had none


def builtin_frame(name: str) -> tuple[pd.DataFrame, str | None, str | None]:
    """(frame, time column, id column) of a built-in: ``stocks`` (daily GOOG prices 2004-2019, 3,685 x 6)
    and ``energy`` (one house's appliance energy every 10 minutes, 19,735 x 28; UCI, CC BY 4.0), the two
    real data sets of the TimeGAN paper, shipped compressed; ``sines``, generated as in that paper."""
    if name == "sines":
        return sines(), "t", SEQUENCE
    with gzip.open(Path(__file__).parent / "builtin" / f"{name}.csv.gz", "rt") as fh:
        return pd.read_csv(fh), None, None


def sines(n: int = 10_000, length: int = 24, features: int = 5, seed: int = 0) -> pd.DataFrame:
    """``n`` independent sequences of ``features`` sine waves, each with its own frequency and phase drawn
    from U(0, 0.1) (as the TimeGAN paper generates its Sines data), in long layout: sequence, t, x0...."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0, 0.1, (n, 1, features))
    phase = rng.uniform(0, 0.1, (n, 1, features))
    t = np.arange(length)[None, :, None]
    x = (np.sin(freq * t + phase) + 1) / 2  # (n, length, features) in [0, 1]
    frame = pd.DataFrame(x.reshape(n * length, features), columns=[f"x{k}" for k in range(features)])
    frame.insert(0, "t", np.tile(np.arange(length), n))
    frame.insert(0, SEQUENCE, np.repeat(np.arange(n), length))
    return frame


def read_series(data: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, str, str | None, str | None]:
    """(frame, where it came from, built-in time column, built-in id column) for a CSV/Parquet file, a
    DataFrame or a built-in name."""
    if isinstance(data, pd.DataFrame):
        return data, "DataFrame", None, None
    if str(data) in BUILTINS and not Path(data).exists():
        frame, time, ids = builtin_frame(str(data))
        return frame, str(data), time, ids
    from ganforge.tables.data import read_table

    if not Path(data).exists() and not Path(data).suffix:
        raise DataError(f"no such file or built-in: {data} (built-ins: {', '.join(BUILTINS)})")
    return read_table(data), str(data), None, None


def _feature_names(frame: pd.DataFrame, time: str | None, id: str | None, window: int, scaling: str) -> list:
    """The feature columns (all but ``time`` and ``id``), after the settings and the layout are checked."""
    if window < 2:
        raise ConfigError(f"--window must be >= 2 (got {window})")
    if scaling not in SCALINGS:
        raise ConfigError(f"scaling must be one of {', '.join(SCALINGS)} (got {scaling!r})")
    for flag, col in (("--time", time), ("--id", id)):
        if col is not None and col not in frame.columns:
            raise DataError(f"{flag} {col!r} is not a column (columns: {', '.join(map(str, frame.columns))})")
    if time is not None and time == id:
        raise DataError(f"--time and --id name the same column {time!r}")
    names = [c for c in frame.columns if c not in (time, id)]
    if not names:
        raise DataError("no feature column to learn besides the time and id columns")
    if id is None and len(frame) < window:
        n = len(frame)
        raise DataError(
            f"the series has {n} step{'s' if n != 1 else ''}, fewer than the window of {window}; "
            "give a smaller --window"
        )
    return names


def _numeric_values(frame: pd.DataFrame, numeric: list) -> np.ndarray:
    """The numeric columns as float64 (NaN kept); an infinite value or an all-missing column is refused."""
    values = frame[numeric].to_numpy(dtype=np.float64)
    if not np.isfinite(values[~np.isnan(values)]).all():
        bad = numeric[int(np.argwhere(np.isinf(values))[0][1])]
        raise DataError(f"column {bad!r} holds infinite values")
    empty = [c for c, all_nan in zip(numeric, np.isnan(values).all(axis=0), strict=True) if all_nan]
    if empty:
        raise DataError(f"column {empty[0]!r} has no values (all missing); drop it")
    return values


@dataclass
class SeriesCodec:
    """What turns rows into scaled channels and back; saved in config.json.

    Channels, in order: the numeric features scaled to [0, 1]; one missing-value indicator per numeric
    feature with gaps; one-hot groups of the categorical features; then the static attributes (panels
    only: columns whose value never changes within a series), constant over time: numeric ones scaled,
    categorical ones one-hot. A numeric column equal to an earlier one in every row is learned once and
    copied back on decoding (``copies``)."""

    features: list[str]
    low: list[float]
    high: list[float]
    missing: list[bool]  # a feature with NaN in the data has an indicator channel
    integer: list[bool]  # integer features are rounded on decoding
    time: str | None = None
    id: str | None = None
    time_kind: str | None = None  # "datetime" | "number"
    time_step: float | None = None  # seconds (datetime) or units between steps
    time_last: float | None = None  # the latest time in the data (seconds since the epoch for datetimes)
    id_kind: str = "number"  # the input's ids were "number" or "text"
    window: int = 24
    columns: list[str] = field(default_factory=list)  # the input's column order
    categorical: list[str] = field(default_factory=list)  # time-varying categorical features
    static: list[str] = field(default_factory=list)  # per-series attributes (panels)
    levels: dict[str, list[Any]] = field(default_factory=dict)  # the categories of every categorical column
    bounds: dict[str, list[Any]] = field(default_factory=dict)  # numeric static: [low, high, integer]
    copies: dict[str, str] = field(default_factory=dict)  # column -> the earlier column it always equals
    lengths: list[int] = field(default_factory=list)  # steps per series of a panel (up to 10,000 kept)
    scaling: str = "minmax"  # "minmax" | "quantile" | "auto" (see fit)
    quantiles: list[list[float]] = field(default_factory=list)  # per feature: its knots, or [] (min-max)

    @property
    def channels(self) -> int:
        return self.varying_channels + self.static_channels

    @property
    def varying_channels(self) -> int:
        return len(self.features) + sum(self.missing) + sum(len(self.levels[c]) for c in self.categorical)

    @property
    def static_channels(self) -> int:
        return sum(len(self.levels[c]) if c in self.levels else 1 for c in self.static)

    def groups(self) -> list[list[int]]:
        """[start, size] of every one-hot group among the channels."""
        out, at = [], len(self.features) + sum(self.missing)
        for c in self.categorical:
            out.append([at, len(self.levels[c])])
            at += len(self.levels[c])
        for c in self.static:
            size = len(self.levels[c]) if c in self.levels else 1
            if c in self.levels:
                out.append([at, size])
            at += size
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(
        cls, frame: pd.DataFrame, time: str | None, id: str | None, window: int, scaling: str = "minmax"
    ) -> SeriesCodec:
        """Check the frame and learn the scaling; every problem is one DataError line. ``scaling``:
        "minmax" (each numeric feature's range onto [0, 1]) or "quantile" (each feature through its own
        distribution function, so every feature's values spread evenly over [0, 1]) or "auto" (quantile
        for a heavy-tailed feature, |skewness| > 2, whose range its rare extremes set; min-max for the
        others, whose changes from step to step the scaling keeps in proportion)."""
        names = _feature_names(frame, time, id, window, scaling)
        static = _static_columns(frame, names, id)
        numeric = [c for c in names if _is_number(frame[c]) and not _few_integers(frame[c])]
        categorical = [c for c in names if c not in numeric]
        levels = {str(c): _category_levels(frame[c], str(c)) for c in categorical}
        values = _numeric_values(frame, numeric)
        low, high = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
        varying = [c for c in names if c not in static]
        if not varying:
            raise DataError("no feature changes within a series: there are no dynamics to learn")
        vary_num = [j for j, c in enumerate(numeric) if c not in static]
        if all(low[j] == high[j] for j in vary_num) and all(
            len(levels[str(c)]) < 2 for c in categorical if c not in static
        ):
            raise DataError("every feature is constant: there are no dynamics to learn")
        copies = _copies(frame, [numeric[j] for j in vary_num])
        keep = [j for j in vary_num if numeric[j] not in copies]
        codec = cls(
            features=[str(numeric[j]) for j in keep],
            low=[float(low[j]) for j in keep],
            high=[float(high[j]) for j in keep],
            missing=[bool(np.isnan(values[:, j]).any()) for j in keep],
            integer=[pd.api.types.is_integer_dtype(frame[numeric[j]]) for j in keep],
            time=time,
            id=id,
            window=window,
            columns=[str(c) for c in frame.columns],
            categorical=[str(c) for c in categorical if c not in static],
            static=[str(c) for c in static],
            levels=levels,
            bounds={
                str(c): [
                    float(low[numeric.index(c)]),
                    float(high[numeric.index(c)]),
                    bool(pd.api.types.is_integer_dtype(frame[c])),
                ]
                for c in static
                if c in numeric
            },  # fmt: skip
            copies=copies,
        )
        codec.scaling = scaling
        if scaling != "minmax":
            columns = [values[:, numeric.index(c)] for c in codec.features]
            codec.quantiles = [
                _knots(v) if scaling == "quantile" or _heavy_tailed(v) else [] for v in columns
            ]
        if id is not None:
            codec.id_kind = "number" if pd.api.types.is_numeric_dtype(frame[id]) else "text"
            sizes = frame.groupby(id, sort=False).size().to_numpy()
            if len(sizes) > MAX_LENGTHS:
                sizes = np.random.default_rng(0).choice(sizes, MAX_LENGTHS, replace=False)
            codec.lengths = [int(s) for s in sizes]
        if time is not None:
            codec._fit_time(frame)
        return codec

    def _fit_time(self, frame: pd.DataFrame) -> None:
        col = frame[self.time]
        if pd.api.types.is_numeric_dtype(col):
            t, self.time_kind = col.to_numpy(dtype=np.float64), "number"
        else:
            parsed = pd.to_datetime(col, errors="coerce")
            if parsed.isna().any():
                row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
                raise DataError(f"--time {self.time!r}: {col.iloc[row]!r} (row {row + 1}) is not a time")
            t, self.time_kind = parsed.astype("int64").to_numpy() / 1e9, "datetime"
        if np.isnan(t).any():
            raise DataError(f"--time {self.time!r} has missing values")
        rows = _rows_by_id(frame, self.id)
        steps = []
        for g, idx in rows.items():
            d = np.diff(t[idx])
            where = f" of id {_plain(g)!r}" if self.id is not None else ""
            if (d == 0).any():
                raise DataError(f"duplicate timestamps{where} at {col.iloc[idx[int(np.argmax(d == 0))]]!r}")
            if (d < 0).any():
                raise DataError(
                    f"timestamps{where} go backwards after {col.iloc[idx[int(np.argmax(d < 0))]]!r}; "
                    f"sort the file by {self.id + ' and ' if self.id else ''}{self.time}"
                )
            steps.append(d)
        d = np.concatenate(steps) if steps else np.array([])
        self.time_step = float(np.median(d)) if len(d) else 1.0
        self.time_last = float(t.max())

    # ------------------------------------------------------------------ encode
    def rows(self, frame: pd.DataFrame) -> np.ndarray:
        """Every row's channels (rows, channels) float32: scaled numbers, missing-value indicators, one-hot
        categories, then the static attributes."""
        wanted = self.features + self.categorical + self.static
        missing_cols = [c for c in wanted if c not in frame.columns]
        if missing_cols:
            raise DataError(f"the data lacks the column {missing_cols[0]!r} the model was trained on")
        values = frame[self.features].to_numpy(dtype=np.float64)
        scaled = self.scale(values)
        nan = np.isnan(scaled)
        scaled[nan] = 0.0
        parts = [scaled, nan[:, np.array(self.missing, dtype=bool)]]
        parts += [_one_hot(frame[c], self.levels[c], c) for c in self.categorical]
        for c in self.static:
            if c in self.levels:
                parts.append(_one_hot(frame[c], self.levels[c], c))
            else:
                low, high, _ = self.bounds[c]
                v = frame[c].to_numpy(dtype=np.float64)[:, None]
                parts.append(np.clip((v - low) / (high - low if high > low else 1.0), 0.0, 1.0))
        return np.concatenate(parts, axis=1).astype(np.float32)

    def sequences(self, frame: pd.DataFrame) -> list[np.ndarray]:
        """The frame's series (one per id, in order of appearance), each (steps, channels) float32 scaled
        to [0, 1]; a series shorter than the window is refused."""
        x = self.rows(frame)
        if self.id is None:
            parts = [x]
            names = ["the series"]
        else:
            rows = _rows_by_id(frame, self.id)
            parts = [x[idx] for idx in rows.values()]
            names = [f"id {_plain(g)!r}" for g in rows]
        short = [(name, len(p)) for name, p in zip(names, parts, strict=True) if len(p) < self.window]
        if short and len(short) == len(parts):
            name, n = short[0]
            raise DataError(
                f"{name} has {n} step{'s' if n != 1 else ''}, fewer than the window of {self.window}; "
                "give a smaller --window"
            )
        if short:
            raise DataError(
                f"{len(short):,} of {len(parts):,} series are shorter than the window of {self.window} "
                f"({short[0][0]} has {short[0][1]} steps); give a smaller --window or drop those ids"
            )
        return parts

    def windows(self, frame: pd.DataFrame, stride: int = 1, length: int | None = None) -> np.ndarray:
        """Every window of ``length`` steps (default: the window; sliding by ``stride``) of every series:
        (n, length, channels)."""
        length = length or self.window
        out = [
            np.lib.stride_tricks.sliding_window_view(s, length, axis=0)[::stride].transpose(0, 2, 1)
            for s in self.sequences(frame)
        ]
        return np.ascontiguousarray(np.concatenate(out))

    def scale(self, values: np.ndarray) -> np.ndarray:
        """Numeric features (..., features) -> channels in [0, 1] (NaN stays NaN)."""
        out = np.clip((values - np.array(self.low)) / _span(self.low, self.high), 0.0, 1.0)
        for j, knots in enumerate(self.quantiles):
            if knots:
                v, k = values[..., j], np.array(knots)
                # between two knots: linear from the last level of the lower to the first of the upper (what
                # ``unscale`` inverts exactly); a value the knots repeat, exactly: the middle of its levels
                u = np.interp(v, k, np.linspace(0.0, 1.0, len(k)))
                xp, first, count = np.unique(k, return_index=True, return_counts=True)
                at = np.clip(np.searchsorted(xp, v), 0, len(xp) - 1)
                exact = xp[at] == v
                u[exact] = ((first + (count - 1) / 2) / (len(k) - 1))[at[exact]]
                out[..., j] = np.where(np.isnan(v), np.nan, u)
        return out

    def unscale(self, x: np.ndarray) -> np.ndarray:
        """Channels in [0, 1] (..., features) -> the features' values (the inverse of ``scale``)."""
        out = np.array(self.low) + x * (np.array(self.high) - np.array(self.low))
        for j, knots in enumerate(self.quantiles):
            if knots:
                out[..., j] = np.interp(x[..., j], np.linspace(0.0, 1.0, len(knots)), knots)
        return out

    def minmax(self, x: np.ndarray) -> np.ndarray:
        """Channels (..., channels) with the numeric features min-max scaled, as the TimeGAN protocol
        compares windows, whatever the scaling the model learned in."""
        if not any(self.quantiles):
            return x
        k = len(self.features)
        out = x.copy()
        out[..., :k] = np.clip(
            (self.unscale(x[..., :k].astype(np.float64)) - np.array(self.low)) / _span(self.low, self.high),
            0.0, 1.0,
        )  # fmt: skip
        return out

    # ------------------------------------------------------------------ decode
    def harden(self, x: np.ndarray) -> np.ndarray:
        """Generated channels as encoding would give them: one-hot groups by their largest channel,
        missing-value indicators 0 or 1 (a missing value's channel 0), values within [0, 1]."""
        x = np.clip(x, 0.0, 1.0)
        k = len(self.features)
        flags = x[..., k : k + sum(self.missing)] > 0.5
        x[..., k : k + sum(self.missing)] = flags
        x[..., np.flatnonzero(self.missing)] *= ~flags
        for start, size in self.groups():
            block = x[..., start : start + size]
            x[..., start : start + size] = block.argmax(axis=-1)[..., None] == np.arange(size)
        return x

    def decode(self, x: np.ndarray, first_id: int = 0, lengths: np.ndarray | None = None) -> pd.DataFrame:
        """Generated (n, length, channels) in [0, 1] -> rows in the input's layout: an id column (the
        input's, or "sequence"), the time column continued after the data's last time, the features.
        ``lengths`` (one per sequence, each <= length) cuts sequences short."""
        n, length, _ = x.shape
        k = len(self.features)
        values = self.unscale(x[:, :, :k].astype(np.float64))
        flags = x[:, :, k : k + sum(self.missing)] > 0.5
        for j, col in enumerate(np.flatnonzero(self.missing)):
            values[:, :, col][flags[:, :, j]] = np.nan
        for j, is_int in enumerate(self.integer):
            if is_int:
                values[:, :, j] = np.round(values[:, :, j])
        frame = pd.DataFrame(values.reshape(n * length, k), columns=self.features)
        for j, is_int in enumerate(self.integer):
            if is_int and not np.isnan(values[:, :, j]).any():
                frame[self.features[j]] = frame[self.features[j]].astype(np.int64)
        at = k + sum(self.missing)
        for c in self.categorical:
            size = len(self.levels[c])
            frame[c] = _from_codes(x[:, :, at : at + size].argmax(axis=2).ravel(), self.levels[c])
            at += size
        for c in self.static:  # constant over time: the first step's value, for every step
            if c in self.levels:
                size = len(self.levels[c])
                codes = np.repeat(x[:, 0, at : at + size].argmax(axis=1), length)
                frame[c] = _from_codes(codes, self.levels[c])
            else:
                size, (low, high, integer) = 1, self.bounds[c]
                v = np.repeat(low + x[:, 0, at].astype(np.float64) * (high - low), length)
                frame[c] = np.round(v).astype(np.int64) if integer else v
            at += size
        for c, source in self.copies.items():
            frame[c] = frame[source]
        ids = np.repeat(np.arange(first_id, first_id + n), length)
        id_name = self.id or SEQUENCE
        id_values: Any = [f"synthetic-{i}" for i in ids] if self.id_kind == "text" else ids
        frame.insert(0, id_name, id_values)
        if self.time is not None:
            step = self.time_step or 1.0
            t = (self.time_last or 0.0) + step * np.tile(np.arange(1, length + 1), n)
            times: Any = pd.to_datetime(t, unit="s") if self.time_kind == "datetime" else t
            if (
                self.time_kind == "number"
                and float(step).is_integer()
                and float(self.time_last or 0).is_integer()
            ):
                times = t.astype(np.int64)
            frame.insert(1, self.time, times)
        if lengths is not None:
            keep = np.tile(np.arange(length), n) < np.repeat(lengths, length)
            frame = frame[keep].reset_index(drop=True)
        order = [c for c in self.columns if c in frame.columns]
        return (
            frame[[id_name] + [c for c in order if c != id_name]]
            if id_name not in self.columns
            else frame[order]
        )

    # ------------------------------------------------------------------ sampling helpers
    def draw_lengths(self, n: int, seed: int | None) -> np.ndarray | None:
        """Lengths for ``n`` sampled sequences drawn from the panel's own when they differ (None: one long
        series, or series of one length, are sampled a window at a time)."""
        if len(set(self.lengths)) < 2:  # one long series, or series of one length: the window
            return None
        return np.random.default_rng(seed).choice(np.array(self.lengths), n)

    def attribute_values(self, conditions: dict[str, Any]) -> np.ndarray:
        """``{"shop": "north", "size": 120}`` -> the static channels (static_channels,) with the given
        attributes filled in and NaN where the model draws them; a bad name or value is one line."""
        out = np.full(self.static_channels, np.nan, dtype=np.float32)
        if conditions and not self.static:
            raise DataError(
                "this model has no static attributes to condition on (a panel's columns that never change "
                "within a series are its attributes)"
            )
        starts, at = {}, 0
        for c in self.static:
            starts[c] = at
            at += len(self.levels[c]) if c in self.levels else 1
        for name, value in conditions.items():
            if name not in starts:
                what = (
                    "changes within a series"
                    if name in self.features + self.categorical
                    else "is not a column"
                )
                raise DataError(f"-c {name}: {name!r} {what}; static attributes: {', '.join(self.static)}")
            if isinstance(value, tuple):
                raise DataError(f"-c {name}: give one value (NAME=VALUE), not a range")
            s = starts[name]
            if name in self.levels:
                names = [str(v) for v in self.levels[name]]
                at = _level_index(self.levels[name], value)
                if at is None:
                    raise DataError(
                        f"-c {name}={value}: not one of its values ({', '.join(names[:10])}"
                        f"{', ...' if len(names) > 10 else ''})"
                    )
                out[s : s + len(names)] = 0.0
                out[s + at] = 1.0
            else:
                low, high, _ = self.bounds[name]
                if (
                    not isinstance(value, numbers.Real)
                    or isinstance(value, bool)
                    or not low <= float(value) <= high
                ):
                    raise DataError(f"-c {name}={value}: give a number from {low:g} to {high:g}")
                out[s] = (float(value) - low) / (high - low) if high > low else 0.0
        return out


MAX_LEVELS = 100  # categories a categorical feature may have
FEW_LEVELS = 20  # an integer feature with at most this many values is categorical
MAX_LENGTHS = 10_000  # series lengths of a panel kept for sampling


def _rows_by_id(frame: pd.DataFrame, id: str | None) -> dict[Any, np.ndarray]:
    """{id: its rows' positions, in file order}, ids in order of appearance (one long series: one entry);
    a missing id is refused."""
    if id is None:
        return {None: np.arange(len(frame))}
    if frame[id].isna().any():
        row = int(np.flatnonzero(frame[id].isna().to_numpy())[0])
        raise DataError(f"--id {id!r} is missing in row {row + 1}; every row needs the id of its series")
    return dict(frame.groupby(id, sort=False).indices)


SCALINGS = ("auto", "minmax", "quantile")  # how numeric features become channels (SeriesCodec.fit)
QUANTILE_KNOTS = 257  # levels of each feature's distribution function kept (scaling "quantile")


def _knots(v: np.ndarray) -> list[float]:
    """The values at evenly spaced levels of ``v``'s distribution function (missing values left out)."""
    return [float(q) for q in np.quantile(v[~np.isnan(v)], np.linspace(0.0, 1.0, QUANTILE_KNOTS))]


def _heavy_tailed(v: np.ndarray) -> bool:
    v = v[~np.isnan(v)]
    sd = v.std()
    return bool(sd > 0 and abs(((v - v.mean()) ** 3).mean() / sd**3) > 2.0)


def _span(low: list[float], high: list[float]) -> np.ndarray:
    lo, hi = np.array(low), np.array(high)
    return np.where(hi > lo, hi - lo, 1.0)


def _is_number(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col) and col.dtype != bool


def _plain(v: Any) -> Any:
    """A JSON-able Python value of a category (NaN -> None)."""
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
        return None
    return v.item() if isinstance(v, np.generic) else v


def _order(v: Any) -> tuple[bool, bool, Any]:
    """Numbers in numeric order, then texts, then the missing value."""
    number = isinstance(v, int | float) and not isinstance(v, bool)
    return (v is None, not number, v if number else str(v))


def _level_index(levels: list[Any], value: Any) -> int | None:
    """Where ``value`` (as given: text from the command line, or a Python value) is among ``levels``:
    yes/no levels take true/false/yes/no/1/0, whole-number levels take 2 or 2.0, others their text."""
    text = str(value).strip().lower()
    for i, level in enumerate(levels):
        if isinstance(level, bool):
            if text in (("true", "yes", "1") if level else ("false", "no", "0")):
                return i
        elif isinstance(level, int) and isinstance(value, numbers.Real) and float(value) == level:
            return i
        elif str(level) == str(value):
            return i
    return None


def _key(v: Any) -> str:
    return f"{type(v).__name__}:{v}"


def _one_hot(col: pd.Series, levels: list[Any], name: str) -> np.ndarray:
    lookup = {_key(v): i for i, v in enumerate(levels)}
    found, uniques = pd.factorize(col, use_na_sentinel=False)  # each distinct value looked up once
    index = np.array([lookup.get(_key(_plain(v)), -1) for v in uniques], dtype=np.int64)
    codes = index[found]
    if (codes < 0).any():
        bad = col.to_numpy()[int(np.argmax(codes < 0))]
        raise DataError(f"column {name!r} holds {bad!r}, a value the model was not trained on")
    return (codes[:, None] == np.arange(len(levels))).astype(np.float32)


def _category_levels(col: pd.Series, name: str) -> list[Any]:
    """A categorical column's values (JSON-able, in order), checked: times, other objects and more than
    MAX_LEVELS values are refused in one line."""
    _check_category_column(col, name)
    found = pd.unique(col)
    if len(found) > MAX_LEVELS:
        raise DataError(
            f"column {name!r} has {len(found):,} different values; a categorical feature may have at most "
            f"{MAX_LEVELS} (if it names the series, give it as --id; else drop it)"
        )
    return sorted((_plain(v) for v in found), key=_order)


def _check_category_column(col: pd.Series, name: str) -> None:
    """Categories are texts, whole numbers or yes/no: a column of times (the usual forgotten --time) or
    of other objects is refused in one line."""
    hint = f"column {name!r} holds times: give it as --time (or drop it)"
    if pd.api.types.is_datetime64_any_dtype(col) or pd.api.types.is_timedelta64_dtype(col):
        raise DataError(hint)
    sample = col.dropna().head(50)
    kinds = {type(_plain(v)) for v in sample}
    if not kinds <= {str, int, float, bool}:
        other = next(k for k in kinds if k not in (str, int, float, bool))
        if other.__module__.startswith(("datetime", "pandas")):
            raise DataError(hint)
        raise DataError(f"column {name!r} holds {other.__name__} values; give text, numbers or yes/no")
    if kinds == {str} and len(sample) and sample.str.contains(r"\d[-/:.]\d").all():
        try:
            pd.to_datetime(sample, format="mixed")
        except (ValueError, TypeError):
            return
        raise DataError(hint)


def _from_codes(codes: np.ndarray, levels: list[Any]) -> Any:
    values = np.array(levels, dtype=object)[codes]
    kinds = {type(v) for v in levels if v is not None}
    if None not in levels and kinds and kinds <= {bool}:
        return values.astype(bool)
    if None not in levels and kinds and kinds <= {int}:
        return values.astype(np.int64)
    return values


def _few_integers(col: pd.Series) -> bool:
    """An integer column with at most FEW_LEVELS values (a count, a switch position, a rating) is
    learned as categories: its samples then take only the values the data has."""
    return pd.api.types.is_integer_dtype(col) and col.nunique() <= FEW_LEVELS


def _static_columns(frame: pd.DataFrame, names: list[Any], id: str | None) -> list[Any]:
    """A panel's columns whose value never changes within a series (numeric ones without gaps)."""
    if id is None or frame[id].nunique() < 2:
        return []
    sizes = frame.groupby(id, sort=False)[id].transform("size")
    longer = frame[sizes.to_numpy() > 1]  # a one-step series never changes: it says nothing
    if longer[id].nunique() < 2:
        return []
    per_id = longer.groupby(id, sort=False)[names].nunique(dropna=False)
    out = []
    for c in names:
        if (per_id[c] == 1).all() and not (_is_number(frame[c]) and frame[c].isna().any()):
            out.append(c)
    return out


def _copies(frame: pd.DataFrame, names: list[Any]) -> dict[str, str]:
    """Columns equal to an earlier one in every row: {column: the earlier column}."""
    out: dict[str, str] = {}
    for j, c in enumerate(names):
        for earlier in names[:j]:
            if (
                earlier not in out
                and frame[c].dtype == frame[earlier].dtype
                and frame[c].equals(frame[earlier])
            ):
                out[str(c)] = str(earlier)
                break
    return out

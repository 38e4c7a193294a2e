"""Time series in, windows out: reading one long series or a panel of many (an id column), checking it,
min-max scaling every feature to [0, 1] and cutting fixed-length windows (the TimeGAN protocol: Yoon,
Jarrett and van der Schaar, NeurIPS 2019), and the way back: generated sequences to rows with an id and a
continued time column.

Features are numeric. A feature with missing values gets an indicator channel (1 where the value is
missing), so the generator learns where values are missing as well as the values themselves; decoding
puts NaN back where the indicator is above one half.
"""

from __future__ import annotations

import gzip
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


@dataclass
class SeriesCodec:
    """What turns rows into scaled channels and back; saved in config.json."""

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

    @property
    def channels(self) -> int:
        return len(self.features) + sum(self.missing)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(cls, frame: pd.DataFrame, time: str | None, id: str | None, window: int) -> SeriesCodec:
        """Check the frame and learn the scaling; every problem is one DataError line."""
        if window < 2:
            raise ConfigError(f"--window must be >= 2 (got {window})")
        for flag, col in (("--time", time), ("--id", id)):
            if col is not None and col not in frame.columns:
                raise DataError(
                    f"{flag} {col!r} is not a column (columns: {', '.join(map(str, frame.columns))})"
                )
        if time is not None and time == id:
            raise DataError(f"--time and --id name the same column {time!r}")
        features = [c for c in frame.columns if c not in (time, id)]
        if not features:
            raise DataError("no feature column to learn besides the time and id columns")
        text = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c]) or frame[c].dtype == bool]
        if text:
            raise DataError(
                f"column {text[0]!r} is not numeric; time-series features must be numbers (give it as --id "
                "or --time, or drop it)"
            )
        if id is None and len(frame) < window:
            n = len(frame)
            raise DataError(
                f"the series has {n} step{'s' if n != 1 else ''}, fewer than the window of {window}; "
                "give a smaller --window"
            )
        values = frame[features].to_numpy(dtype=np.float64)
        if not np.isfinite(values[~np.isnan(values)]).all():
            bad = features[int(np.argwhere(np.isinf(values))[0][1])]
            raise DataError(f"column {bad!r} holds infinite values")
        empty = [c for c, all_nan in zip(features, np.isnan(values).all(axis=0), strict=True) if all_nan]
        if empty:
            raise DataError(f"column {empty[0]!r} has no values (all missing); drop it")
        low, high = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
        if (low == high).all():
            raise DataError("every feature is constant: there are no dynamics to learn")
        codec = cls(
            features=[str(c) for c in features],
            low=low.tolist(),
            high=high.tolist(),
            missing=np.isnan(values).any(axis=0).tolist(),
            integer=[pd.api.types.is_integer_dtype(frame[c]) for c in features],
            time=time,
            id=id,
            window=window,
            columns=[str(c) for c in frame.columns],
        )
        if id is not None:
            codec.id_kind = "number" if pd.api.types.is_numeric_dtype(frame[id]) else "text"
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
        groups = frame[self.id].to_numpy() if self.id is not None else np.zeros(len(t))
        steps = []
        for g in pd.unique(groups):
            tg = t[groups == g]
            d = np.diff(tg)
            where = f" of id {g!r}" if self.id is not None else ""
            if (d == 0).any():
                raise DataError(
                    f"duplicate timestamps{where} at {col[groups == g].iloc[int(np.argmax(d == 0))]!r}"
                )
            if (d < 0).any():
                raise DataError(
                    f"timestamps{where} go backwards after {col[groups == g].iloc[int(np.argmax(d < 0))]!r}; "
                    f"sort the file by {self.id + ' and ' if self.id else ''}{self.time}"
                )
            steps.append(d)
        d = np.concatenate(steps) if steps else np.array([])
        self.time_step = float(np.median(d)) if len(d) else 1.0
        self.time_last = float(t.max())

    # ------------------------------------------------------------------ encode
    def sequences(self, frame: pd.DataFrame) -> list[np.ndarray]:
        """The frame's series (one per id, in order of appearance), each (steps, channels) float32 scaled
        to [0, 1] with indicator channels; a series shorter than the window is refused."""
        missing_cols = [c for c in self.features if c not in frame.columns]
        if missing_cols:
            raise DataError(f"the data lacks the column {missing_cols[0]!r} the model was trained on")
        values = frame[self.features].to_numpy(dtype=np.float64)
        span = np.where(
            np.array(self.high) > np.array(self.low), np.array(self.high) - np.array(self.low), 1.0
        )
        scaled = np.clip((values - np.array(self.low)) / span, 0.0, 1.0)
        nan = np.isnan(scaled)
        scaled[nan] = 0.0
        x = np.concatenate([scaled, nan[:, np.array(self.missing, dtype=bool)]], axis=1).astype(np.float32)
        if self.id is None:
            parts = [x]
            names = ["the series"]
        else:
            ids = frame[self.id].to_numpy()
            order = pd.unique(ids)
            index = pd.Index(ids)
            parts = [x[index.get_indexer_for([g])] for g in order]
            names = [f"id {g!r}" for g in order]
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

    def windows(self, frame: pd.DataFrame, stride: int = 1) -> np.ndarray:
        """Every window of ``window`` steps (sliding by ``stride``) of every series: (n, window, channels)."""
        out = [
            np.lib.stride_tricks.sliding_window_view(s, self.window, axis=0)[::stride].transpose(0, 2, 1)
            for s in self.sequences(frame)
        ]
        return np.ascontiguousarray(np.concatenate(out))

    # ------------------------------------------------------------------ decode
    def decode(self, x: np.ndarray, first_id: int = 0) -> pd.DataFrame:
        """Generated (n, length, channels) in [0, 1] -> rows in the input's layout: an id column (the
        input's, or "sequence"), the time column continued after the data's last time, the features."""
        n, length, _ = x.shape
        k = len(self.features)
        values = np.array(self.low) + x[:, :, :k].astype(np.float64) * (
            np.array(self.high) - np.array(self.low)
        )
        flags = x[:, :, k:] > 0.5
        for j, col in enumerate(np.flatnonzero(self.missing)):
            values[:, :, col][flags[:, :, j]] = np.nan
        for j, is_int in enumerate(self.integer):
            if is_int:
                values[:, :, j] = np.round(values[:, :, j])
        frame = pd.DataFrame(values.reshape(n * length, k), columns=self.features)
        for j, is_int in enumerate(self.integer):
            if is_int and not np.isnan(values[:, :, j]).any():
                frame[self.features[j]] = frame[self.features[j]].astype(np.int64)
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
        order = [c for c in self.columns if c in frame.columns]
        return (
            frame[[id_name] + [c for c in order if c != id_name]]
            if id_name not in self.columns
            else frame[order]
        )

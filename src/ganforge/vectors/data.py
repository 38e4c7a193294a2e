"""Vectors from a file or an array, standardised per column (the codec saved with the run)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganforge.errors import DataError

SUFFIXES = (".csv", ".npy")


def read_vectors(data: str | Path | np.ndarray) -> tuple[np.ndarray, list[str], str]:
    """(float32 array (N, d), column names, where it came from) from a .csv of numbers (header row), a
    .npy array or an array; one clear DataError for anything else."""
    if isinstance(data, np.ndarray):
        arr, names, where = data, [], "array"
    else:
        path = Path(data)
        if path.suffix.lower() not in SUFFIXES:
            raise DataError(f"{path}: vectors are read from .csv (numbers, header row) or .npy files")
        if not path.is_file():
            raise DataError(f"{path}: no such file")
        if path.suffix.lower() == ".npy":
            arr, names = np.load(path, allow_pickle=False), []
        else:
            import pandas as pd

            df = pd.read_csv(path)
            bad = [c for c in df.columns if not np.issubdtype(df[c].dtype, np.number)]
            if bad:
                raise DataError(f"{path}: vectors are numbers; column {bad[0]!r} is not numeric")
            arr, names = df.to_numpy(), [str(c) for c in df.columns]
        where = str(path.resolve())
    arr = np.asarray(arr, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[0] < 2 or arr.shape[1] < 1:
        raise DataError(f"vectors must be a 2-D table with at least 2 rows (got shape {arr.shape})")
    if not np.isfinite(arr).all():
        raise DataError("vectors must be finite numbers (found NaN or infinity)")
    return arr, names or [f"x{i}" for i in range(arr.shape[1])], where


@dataclass
class VectorCodec:
    """Per-column mean and scale: the networks see standardised vectors, users see their own units."""

    mean: list[float]
    scale: list[float]
    names: list[str]

    @classmethod
    def fit(cls, x: np.ndarray, names: list[str]) -> VectorCodec:
        std = x.std(0)
        return cls(x.mean(0).tolist(), np.where(std > 0, std, 1.0).tolist(), list(names))

    def encode(self, x: np.ndarray) -> np.ndarray:
        return ((x - np.asarray(self.mean)) / np.asarray(self.scale)).astype(np.float32)

    def decode(self, z: np.ndarray) -> np.ndarray:
        return (z * np.asarray(self.scale) + np.asarray(self.mean)).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "scale": self.scale, "names": self.names}


def write_vectors(x: np.ndarray, names: list[str], out: Path) -> Path:
    """``x`` as .csv (with the column names) or .npy, chosen by ``out``'s suffix."""
    out = Path(out)
    if out.suffix.lower() not in SUFFIXES:
        raise DataError(f"--out must end in .csv or .npy (got {out.name})")
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".npy":
        np.save(out, x)
    else:
        import pandas as pd

        pd.DataFrame(x, columns=names).to_csv(out, index=False)
    return out

"""Sharded generation speed: table rows/s into Parquet shards (1 and 2 worker processes) and image/s into
PNG-tar shards (watermarked and labelled), with ``ganforge.sampling.sharded.sample_shards``.

Models: a TableGAN trained 50 steps on UCI Adult (speed does not depend on how well it is trained) and an
ImageGAN at 16 px, width 8, trained 5 steps on digits. Each figure is one fresh job into an empty folder.
"wall" is the whole call: loading the model and, with 2 workers, starting two Python processes that
import torch (several seconds on this machine); "overhead" is the wall time of the same call for one row
per shard, and "net" divides the rows by wall minus overhead (the steady rate a long job approaches).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/_scale_sampling.py [--rows 200000] [--shards 8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

ADULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "adult" / "adult.data"
ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
                 "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week",
                 "native-country", "income"]  # fmt: skip


def _timed_job(run: Path, n: int, out: Path, shards: int, workers: int) -> float:
    from ganforge.sampling.sharded import sample_shards

    start = time.perf_counter()
    sample_shards(run, n, out, shards, workers=workers, seed=0, report=lambda line: None)
    return time.perf_counter() - start


def _rates(run: Path, n: int, shards: int, workers: int, tmp: Path, what: str) -> dict[str, Any]:
    overhead = _timed_job(run, shards, tmp / f"{what}-overhead-{workers}", shards, workers)
    wall = _timed_job(run, n, tmp / f"{what}-{workers}", shards, workers)
    net = n / (wall - overhead) if wall > overhead else None
    return {"workers": workers, "wall_s": round(wall, 2), "overhead_s": round(overhead, 2),
            f"{what}_per_s_wall": round(n / wall), f"{what}_per_s_net": round(net) if net else None}  # fmt: skip


def train_models(tmp: Path) -> tuple[Path, Path]:
    """A table run (Adult, 50 steps) and an image run (digits, 16 px, 5 steps) in ``tmp``."""
    from ganforge.images.builtin import load_builtin
    from ganforge.images.model import ImageGAN
    from ganforge.tables.model import TableGAN

    adult = pd.read_csv(ADULT, names=ADULT_COLUMNS, header=None, skipinitialspace=True)
    TableGAN(steps=50, device="cpu").fit(adult, out=tmp / "table")
    digits = load_builtin("digits", 16, max_images=256)
    ImageGAN(resolution=16, width=8, steps=5, batch_size=16, device="cpu").fit(digits, out=tmp / "image")
    return tmp / "table", tmp / "image"


def run(rows: int = 200_000, shards: int = 8, images: int = 2_000) -> dict[str, Any]:
    """Rows/s into Parquet shards with 1 and 2 workers, and images/s into PNG-tar shards (1 worker)."""
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        table, image = train_models(tmp)
        return {
            "rows": rows,
            "shards": shards,
            "table_parquet": [_rates(table, rows, shards, w, tmp, "rows") for w in (1, 2)],
            "images": images,
            "image_png_tar": [_rates(image, images, shards, 1, tmp, "images")],
        }


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--shards", type=int, default=8)
    p.add_argument("--images", type=int, default=2_000)
    a = p.parse_args()
    save("scale_sampling", run(a.rows, a.shards, a.images))

"""Peak memory of a short training run as the data grows 1x, 4x, 16x: streamed against in-memory.

Images: 1,500 / 6,000 / 24,000 generated 64 px RGB PNGs (8 class sub-folders; 12 KiB of pixels each,
so 24,000 decode to ~280 MiB) written to a temporary folder. Tables: UCI Adult repeated to 32k / 128k /
512k rows, Parquet with 16k-row row groups.
Every measurement is a fresh worker process training ``--steps`` steps (images: 64 px, width 16,
batch 32; tables: batch 500, hidden 64x64; health monitor off) that reports its peak resident set
(``ru_maxrss``), so no run inherits another's memory; "imports" is a worker that only imports
ganforge and torch, the floor every figure stands on.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/_scale_memory.py          # ~10 minutes on 2 cores
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/_scale_memory.py --scales 1 4
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

BASE_IMAGES = 1_500
IMAGE_SIDE = 64
IMAGE_CLASSES = 8
BASE_ROWS = 32_000
ROW_GROUP = 16_000
ADULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "adult" / "adult.data"
ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
                 "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week",
                 "native-country", "income"]  # fmt: skip


def colour_images(rng: np.random.Generator, n: int, label: int) -> np.ndarray:
    """``n`` varied 64 px RGB pictures: a tinted gradient, a disc and grain; ``label`` sets the hue family.

    Colour and varied on purpose: grey 28 px files are so small that a whole folder fits in the noise
    of a process's memory, which hides whether streaming keeps it flat.
    """
    side = IMAGE_SIDE
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / (side - 1)
    angle = rng.uniform(0, 2 * np.pi, (n, 1, 1)).astype(np.float32)
    t = np.clip(0.5 + (xx - 0.5) * np.cos(angle) + (yy - 0.5) * np.sin(angle), 0, 1)[..., None]
    tint = np.roll(np.array([1.0, 0.5, 0.2], np.float32), label % 3) * (0.6 + 0.05 * label)
    c1, c2, disc = (rng.uniform(0, 255, (n, 1, 1, 3)).astype(np.float32) * tint for _ in range(3))
    image = c1 * (1 - t) + c2 * t
    cy, cx, r = (rng.uniform(lo, hi, (n, 1, 1)) for lo, hi in ((0.2, 0.8), (0.2, 0.8), (0.1, 0.35)))
    inside = ((yy - cy) ** 2 + (xx - cx) ** 2 < r**2)[..., None]
    image = np.where(inside, disc, image) + 8 * rng.standard_normal((n, side, side, 3), np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_images(folder: Path, n: int) -> Path:
    """``n`` generated colour images as PNGs, ``IMAGE_CLASSES`` class sub-folders (fast: no compression)."""
    from PIL import Image

    rng = np.random.default_rng(n)
    for start in range(0, n, 500):
        count = min(500, n - start)
        labels = rng.integers(0, IMAGE_CLASSES, count)
        for label in range(IMAGE_CLASSES):
            (folder / f"class{label}").mkdir(parents=True, exist_ok=True)
            where = np.flatnonzero(labels == label)
            for i, image in zip(where, colour_images(rng, len(where), label), strict=True):
                Image.fromarray(image, "RGB").save(
                    folder / f"class{label}" / f"{start + i:06d}.png", compress_level=0
                )
    return folder


def write_table(path: Path, rows: int) -> Path:
    """Adult rows repeated to ``rows`` rows, Parquet with ``ROW_GROUP``-row row groups."""
    adult = pd.read_csv(ADULT, names=ADULT_COLUMNS, header=None, skipinitialspace=True)
    reps = -(-rows // len(adult))
    df = pd.concat([adult] * reps, ignore_index=True).iloc[:rows]
    df.to_parquet(path, row_group_size=ROW_GROUP)
    return path


def worker(kind: str, data: str, stream: bool, steps: int) -> dict[str, Any]:
    """Train briefly in this process; return its peak RSS (MiB) and seconds."""
    import torch

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    if kind == "images":
        from ganforge import ImageGAN

        gan = ImageGAN(resolution=IMAGE_SIDE, width=16, steps=steps, batch_size=32, device="cpu", seed=0)
        gan.fit(data, stream=stream, health="off")
    elif kind == "table":
        from ganforge.tables.model import TableGAN

        TableGAN(steps=steps, batch_size=500, hidden=(64, 64), device="cpu", seed=0).fit(
            data, stream=stream, health="off"
        )
    else:  # "imports": the floor
        import ganforge.images.model  # noqa: F401
        import ganforge.tables.model  # noqa: F401
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"peak_rss_mib": round(peak_kib / 1024, 1), "seconds": round(time.perf_counter() - t0, 1)}


def measure(kind: str, data: Path | str, stream: bool, steps: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", kind, "--data", str(data), "--steps", str(steps)]
    cmd += ["--stream"] if stream else []
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"worker failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(scales: tuple[int, ...] = (1, 4, 16), steps: int = 30) -> dict[str, Any]:
    """Peak RSS per modality, scale and path; also written to benchmarks/results/scale_memory.json."""
    results: dict[str, Any] = {
        "steps": steps,
        "imports": measure("imports", "-", False, 0),
        "images": [],
        "table": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for scale in scales:
            folder = write_images(Path(tmp) / f"images{scale}", BASE_IMAGES * scale)
            table = write_table(Path(tmp) / f"table{scale}.parquet", BASE_ROWS * scale)
            for stream in (True, False):
                for kind, data, size in (("images", folder, BASE_IMAGES), ("table", table, BASE_ROWS)):
                    row = {"scale": scale, "items": size * scale, "stream": stream}
                    results[kind].append(row | measure(kind, data, stream, steps))
                    print(json.dumps({kind: results[kind][-1]}), flush=True)
    return results


def table_text(results: dict[str, Any]) -> str:
    lines = [
        f"imports only: {results['imports']['peak_rss_mib']} MiB",
        "kind    items    streamed MiB  in-memory MiB",
    ]
    for kind in ("images", "table"):
        by = {(r["items"], r["stream"]): r["peak_rss_mib"] for r in results[kind]}
        for items in sorted({r["items"] for r in results[kind]}):
            lines.append(
                f"{kind:7s} {items:>7,}  {by.get((items, True), '-'):>12}  {by.get((items, False), '-'):>13}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--worker", choices=["images", "table", "imports"])
    parser.add_argument("--data")
    parser.add_argument("--stream", action="store_true")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.data, args.stream, args.steps)))
        return
    np.seterr(all="ignore")
    results = run(tuple(args.scales), args.steps)
    print(table_text(results))
    save("scale_memory", results)


if __name__ == "__main__":
    main()

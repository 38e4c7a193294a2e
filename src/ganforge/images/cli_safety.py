"""The images wing's part of ``ganforge verify`` (is the mark in this image, which run made it?), the
writing of generated images (files, grids, tar shards), each PNG labelled as synthetic."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from rich.markup import escape

from ganforge.core.io import substream_seed
from ganforge.errors import GanforgeError


def find_runs(root: Path, depth: int = 3) -> dict[str, str]:
    """Watermark model id -> run directory, for image runs at or below ``root`` (``depth`` levels)."""
    from ganforge.safety.payload import saved_model_id

    if not root.is_dir():
        raise GanforgeError(f"--runs {root}: not a directory")
    found: dict[str, str] = {}
    level = [root]
    for _ in range(depth + 1):
        nxt = []
        for folder in level:
            cfg = folder / "config.json"
            if cfg.is_file():
                try:
                    config = json.loads(cfg.read_text())
                except (OSError, ValueError):
                    continue
                ident = saved_model_id(config) if config.get("kind") == "image" else None
                if ident:
                    found.setdefault(ident, str(folder))
                continue
            try:
                nxt += [p for p in sorted(folder.iterdir()) if p.is_dir() and not p.name.startswith(".")]
            except OSError:
                continue
        level = nxt
    return found


def write_images(images: np.ndarray, out: Path, grid: bool, model_id: str | None) -> Path:
    """Write generated images as one grid PNG (``out`` a .png, or ``out/grid.png``) or as one PNG per
    image in the folder ``out``; with ``model_id`` each PNG carries the synthetic label (the pixels are
    expected to be marked already). Returns the file or folder written."""
    from ganforge.images.data import save_grid
    from ganforge.images.watermark import label_text, save_png

    if grid:
        path = out if out.suffix.lower() == ".png" else out / "grid.png"
        save_grid(images, path, text=label_text(model_id) if model_id else None)
        return path
    out.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(images):
        if model_id:
            save_png(im, out / f"{i:06d}.png", model_id)
        else:
            Image.fromarray(im[..., 0] if im.shape[2] == 1 else im).save(out / f"{i:06d}.png")
    return out


def verify_file(path: Path, known: dict[str, str], named_runs: bool) -> tuple[str, int]:
    """``ganforge verify`` of one image: its line and status (0 marked, 1 not, 2 not a readable image)."""
    from ganforge.errors import DataError
    from ganforge.images.watermark import verify as verify_image

    name = escape(str(path))
    try:
        result = verify_image(path, runs=known)
    except DataError as e:
        return f"{name}: [red]error[/]: {escape(str(e).removeprefix(f'{path}: '))}", 2
    label = "labelled synthetic" if result.label_present else "no synthetic label"
    if not result.found:
        return f"{name}: [yellow]no watermark found[/]; {label}", 1
    where = f", run {escape(result.run)}" if result.run else (", run unknown" if named_runs else "")
    acc = f"{result.bit_accuracy:.2f}" if result.bit_accuracy is not None else "-"
    return (
        f"{name}: [green]watermark found[/]: model {result.model_id}{where} (bit accuracy {acc}, {result.how}); {label}",
        0,
    )


SHARD_IMAGE_CHUNK = 256  # images generated per call in a shard; each chunk has its own seed


def write_tar_shard(task: Any, model: Any, fh: Any) -> int:
    """The shard's images as PNG members named by global index, watermarked and labelled."""
    start, stop = task.span
    width = max(9, len(str(task.n - 1)))
    with tarfile.open(fileobj=fh, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for j, lo in enumerate(range(start, stop, SHARD_IMAGE_CHUNK)):
            count = min(SHARD_IMAGE_CHUNK, stop - lo)
            seed = substream_seed(task.seed, task.k, j)
            images = model.sample(count, labels=task.klass, seed=seed, watermark=task.watermark)
            for i, image in enumerate(images):
                data = shard_png(image, model.model_id if task.watermark else None)
                info = tarfile.TarInfo(f"{lo + i:0{width}d}.png")
                # fixed metadata: the tar's bytes depend only on the images (reproducible shards)
                info.size, info.mtime, info.mode = len(data), 0, 0o644
                tar.addfile(info, io.BytesIO(data))
    return stop - start


def shard_png(image: np.ndarray, model_id: str | None) -> bytes:
    from PIL import Image

    from ganforge.safety.label import png_bytes

    if model_id:
        return png_bytes(image, model_id)
    buf = io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[2] == 1 else image).save(buf, format="PNG")
    return buf.getvalue()

"""``ganforge evaluate``: FID/KID of a run's samples against real images, recorded in the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress

from . import artifact
from .api import load
from .errors import ConfigError, DataError


def reference_images(gan: Any, ref: str | None, split: str, n: int) -> tuple[np.ndarray, str]:
    """Real images to compare with: ``ref`` (folder or built-in) or the data the run was trained on."""
    from .data.builtin import resolve_image_source

    rc = gan.recipe_config
    spec = ref or gan.data_info.get("spec")
    if spec is None:
        raise DataError("this run does not record where its training data is; pass --ref FOLDER")
    ds = resolve_image_source(spec, rc.resolution, channels=rc.channels, split=split)
    if len(ds.images) > n:
        pick = np.random.default_rng(0).choice(len(ds.images), size=n, replace=False)
        return ds.images[np.sort(pick)], f"{ds.source}, {n} of {len(ds.images)}"
    return ds.images, ds.source


def evaluate_run(
    run: str | Path,
    ref: str | None = None,
    split: str = "train",
    n: int = 2000,
    extractor: str = "inception",
    seed: int = 0,
    console: Console | None = None,
) -> dict[str, Any]:
    """Compute FID and KID for ``n`` generated images and store them in config.json and card.md."""
    from .metrics.fid import image_distance, images_key, stats_cache_dir

    if n < 2:
        raise ConfigError(f"-n must be >= 2 (got {n})")
    if split not in ("train", "test"):
        raise ConfigError(f"--split must be train or test (got {split})")
    gan = load(run)
    real, ref_desc = reference_images(gan, ref, split, n)
    fake = gan.sample(n, seed=seed)
    # Reference features are cached by content, so any run compared with the same images reuses them.
    cache = stats_cache_dir() / f"images-{images_key(real, extractor)}.npz"
    with Progress(console=console or Console(stderr=True), transient=True) as progress:
        task = progress.add_task(f"{extractor} features", total=len(real) + len(fake))
        result = image_distance(real, fake, extractor=extractor, kid=True, cache_path=cache,
                                progress=lambda k: progress.advance(task, k))  # fmt: skip
    result = {
        k: (round(float(v), 6) if isinstance(v, (float, np.floating)) else v) for k, v in result.items()
    }
    result |= {"reference": ref_desc, "split": split, "seed": seed}
    gan.metrics.setdefault("evaluations", {})[extractor] = result
    gan.metrics["evaluation"] = {f"{extractor} FID": result["fid"], f"{extractor} KID": result["kid"],
                                 "images": n, "reference": ref_desc}  # fmt: skip
    artifact.update_config(run, metrics=gan.metrics)
    from .api import _card

    artifact.write_card(Path(run), _card(gan))
    return result

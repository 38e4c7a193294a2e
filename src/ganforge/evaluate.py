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


def evaluate_table_run(
    run: str | Path,
    real: str | Path | None = None,
    holdout: str | Path | None = None,
    target: str | None = None,
    n: int | None = None,
    seed: int = 0,
    max_rows: int | None = 50_000,
) -> dict[str, Any]:
    """Quality, ML efficacy, detection, copies and out-of-range values of a table run's samples.

    ``real`` defaults to the file the run was trained on; ``n`` (synthetic rows) to the real row count.
    The figures are stored in config.json and card.md.
    """
    from .data.tables import read_table
    from .metrics.tabular import evaluate_table
    from .tabular import _card

    gan = load(run)
    source = real or gan.data_info.get("source")
    if source is None or source == "DataFrame":
        raise DataError("this run was trained on an in-memory table; pass --real DATA.csv")
    real_df = read_table(source)
    missing = [c for c in gan.metadata.names() if c not in real_df.columns]
    if missing:
        raise DataError(f"{source} lacks the model's columns: {', '.join(missing)}")
    real_df = real_df[gan.metadata.names()]
    hold_df = read_table(holdout)[gan.metadata.names()] if holdout is not None else None
    target = target or gan.data_info.get("target")
    if n is not None and n < 1:
        raise ConfigError(f"-n must be >= 1 (got {n})")
    synth = gan.sample(n or len(real_df), seed=seed)
    result = evaluate_table(real_df, synth, gan.metadata.kinds(), holdout=hold_df, target=target,
                            max_rows=max_rows, seed=seed)  # fmt: skip
    result |= {"real": str(source), "holdout": str(holdout) if holdout else None, "seed": seed}
    gan.metrics["evaluation"] = table_summary(result)
    gan.metrics["evaluation_details"] = result
    artifact.update_config(Path(run), metrics=gan.metrics)
    artifact.write_card(Path(run), _card(gan))
    return result


def table_summary(result: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of :func:`evaluate_table_run`'s result, flat, for the card and the CLI."""
    q = result["quality"]
    out = {
        "quality": q["score"],
        "column shapes": q["column_shapes"]["score"],
        "column pair trends": q["column_pair_trends"]["score"],
        "detection score": result["detection"]["score"],
        "identical rows share": result["identical_rows"]["share"],
        "out-of-range values": result["out_of_bounds"]["count"],
    }
    ml = result.get("ml_efficacy")
    if ml:
        for key in ("tstr_accuracy", "trtr_accuracy", "tstr_r2", "trtr_r2"):
            if ml.get(key) is not None:
                out[key.replace("_", " ").replace("tstr", "TSTR").replace("trtr", "TRTR")] = ml[key]
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}

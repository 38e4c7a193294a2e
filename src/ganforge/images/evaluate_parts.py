"""The parts of ``ganforge evaluate`` for images that need the training data: memorisation (with the
panel of samples beside their nearest training images) and augmentation utility."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from ganforge.core.config import write_json
from ganforge.core.io import rounded
from ganforge.errors import ConfigError, DataError
from ganforge.images.data import ImageDataset, make_grid, to_pil

EVAL_DIR = "evaluation"  # inside the run directory: nearest.png, memorisation.json
MEMORISATION_EXTRACTOR = ("effnet-lite0", 128)  # cheap features for nearest-neighbour search
MEMORISATION_SPACES = ("features", "pixels")
PANEL_PAIRS = 16


def has_model_classes(ds: ImageDataset, gan: Any) -> bool:
    """True when ``ds`` is labelled with exactly the classes the model was trained on."""
    return ds.labels is not None and tuple(ds.class_names) == tuple(gan.recipe_config.class_names)


def image_memorisation(
    train: ImageDataset,
    fake: np.ndarray,
    run: Path,
    space: str,
    max_train: int,
    seed: int,
    progress: Progress,
) -> dict[str, Any]:
    """Nearest training image of every sample against a leave-one-out real baseline, searching at most
    ``max_train`` training images; writes ``evaluation/nearest.png`` (closest samples beside their nearest
    training images) and ``evaluation/memorisation.json``. ``closest[i]["train"]`` indexes ``train``."""
    from ganforge.metrics.memorisation import memorisation

    pick = np.arange(len(train.images))
    if len(pick) > max_train:  # a fixed subset, so its features are cached across runs and evaluations
        pick = np.sort(np.random.default_rng(0).choice(len(pick), size=max_train, replace=False))
    ref_x, fake_x, space_name = _memorisation_space(train.images[pick], fake, space, progress)
    result = memorisation(fake_x, ref_x, n_pairs=PANEL_PAIRS, seed=seed)
    for pair in result["closest"]:
        pair["train"] = int(pick[pair["train"]])
    result = rounded(result) | {
        "space": space_name,
        "training_data": train.source,
        "train_searched": len(pick),
        "train_total": len(train.images),
        "panel": f"{EVAL_DIR}/nearest.png",
    }
    out = run / EVAL_DIR
    out.mkdir(parents=True, exist_ok=True)
    save_nearest_panel(fake, train.images, result["closest"], out / "nearest.png")
    write_json(out / "memorisation.json", result)
    return result


def _memorisation_space(
    train: np.ndarray, fake: np.ndarray, space: str, progress: Progress
) -> tuple[np.ndarray, np.ndarray, str]:
    """Training and generated images as vectors to search: pixels in [0, 1] or cheap CNN features."""
    if space == "pixels":
        flat = [x.reshape(len(x), -1).astype(np.float32) / 255.0 for x in (train, fake)]
        return flat[0], flat[1], "pixels"
    from ganforge.metrics.features import get_extractor
    from ganforge.metrics.fid import cached_stats, images_key, stats_cache_dir

    name, size = MEMORISATION_EXTRACTOR
    ext = get_extractor(name, input_size=size)
    task = progress.add_task(f"{ext.name} features (memorisation)", total=len(train) + len(fake))
    advance = lambda j: progress.advance(task, j)  # noqa: E731
    cache = stats_cache_dir() / f"images-{images_key(train, ext.name)}.npz"
    train_x = cached_stats(train, ext, cache, advance).features
    assert train_x is not None  # cached_stats keeps features
    return train_x, ext(fake, progress=advance), ext.name


def save_nearest_panel(
    samples: np.ndarray, train: np.ndarray, pairs: list[dict[str, Any]], path: Path, per_row: int = 4
) -> None:
    """PNG of (sample | nearest training image) pairs, closest first, ``per_row`` pairs per row."""
    if not pairs:
        return
    scale = max(1, 64 // samples.shape[1])  # small images are enlarged (nearest neighbour) to be seen
    tiles = []
    for p in pairs:
        pair = np.stack([samples[p["sample"]], train[p["train"]]])
        # A grey frame sets each pair apart and shows where dark-background images meet.
        tiles.append(
            make_grid(pair.repeat(scale, axis=1).repeat(scale, axis=2), nrow=2, padding=2, pad_value=128)
        )
    to_pil(make_grid(np.stack(tiles), nrow=per_row, padding=8, pad_value=255)).save(path)


def image_augment_utility(
    gan: Any, train: ImageDataset, real_per_class: int, synthetic_per_class: int, seed: int
) -> dict[str, Any]:
    """:func:`~ganforge.images.augment_utility.augment_utility` with the run's training data: its test split when
    it has one, else the training images the classifier does not train on."""
    from ganforge.images.augment_utility import augment_utility, pick_per_class
    from ganforge.images.builtin import resolve_image_source

    rc = gan.recipe_config
    if not has_model_classes(train, gan):
        raise DataError(f"the training data ({train.source}) no longer carries the model's classes")
    try:
        test = resolve_image_source(gan.data_info["spec"], rc.resolution, channels=rc.channels, split="test")
        train_images, train_labels = train.images, train.labels
    except ConfigError:  # a folder has no test split: test on the training images not picked
        pick = pick_per_class(train.labels, real_per_class, rc.num_classes, seed)
        rest = np.setdiff1d(np.arange(len(train.images)), pick)
        test = ImageDataset(train.images[rest], train.labels[rest], train.class_names,
                            f"{train.source}, images not used to train the classifier")  # fmt: skip
        train_images, train_labels = train.images[pick], train.labels[pick]

    def sample_class(c: int, m: int) -> np.ndarray:
        return gan.sample(m, labels=[c] * m, seed=seed + 1000 + c)

    result = augment_utility(train_images, train_labels, test.images, test.labels, sample_class, rc.num_classes,
                             real_per_class, synthetic_per_class, seed)  # fmt: skip
    return rounded(result) | {"test_data": test.source}


def print_image_result(result: dict[str, Any], run: Path, console: Console) -> None:
    """The figures of :func:`ganforge.images.evaluate.evaluate_run` as ``ganforge evaluate`` prints them."""
    console.print(
        f"FID {result['fid']:.2f}   KID {result['kid'] * 1000:.2f} ± {result['kid_std'] * 1000:.2f} (x1e-3)   "
        + escape(f"[{result['extractor']}, {result['n_fake']} generated vs {result['n_real']} real]"),
        soft_wrap=True,
    )
    if "prdc" in result:
        p = result["prdc"]
        console.print(
            f"precision {p['precision']:.3f}   recall {p['recall']:.3f}   density {p['density']:.3f}   "
            f"coverage {p['coverage']:.3f}   " + escape(f"[k={p['k']}, same features]"),
            soft_wrap=True,
        )
    if result.get("per_class"):
        table = Table("class", "FID", "KID x1e-3", "generated", "real", title="per class")
        for r in result["per_class"]:
            fid = f"{r['fid']:.2f}" if r["fid"] is not None else "-"
            kid = f"{r['kid'] * 1000:.2f}" if r["kid"] is not None else "-"
            table.add_row(escape(f"{r['class']} {r['name']}"), fid, kid, str(r["n_fake"]), str(r["n_real"]))
        console.print(table)
    if "memorisation" in result:
        m = result["memorisation"]
        verdict = "[bold red]FLAGGED[/]" if m["flagged"] else "[green]not flagged[/]"
        where = f"[{m['space']}, {m['train_searched']:,} of {m['train_total']:,} training images searched]"
        console.print(
            f"memorisation: {m['memorised_share']:.1%} of samples as close to a training image as the closest "
            f"{m['quantile']:.0%} of real images are (real baseline {m['baseline_share']:.1%}): {verdict}   "
            f"{escape(where)}\n  nearest training images: {escape(str(Path(run) / m['panel']))}",
            soft_wrap=True,
        )
    if "memorisation_skipped" in result:
        console.print(escape(result["memorisation_skipped"]), style="yellow", soft_wrap=True)
    if "augment_utility" in result:
        a = result["augment_utility"]
        console.print(
            f"augment utility: accuracy {a['real_accuracy']:.1%} with {a['real_per_class']} real/class, "
            f"{a['augmented_accuracy']:.1%} adding {a['synthetic_per_class']} generated/class "
            f"([bold]{a['gain'] * 100:+.1f}[/] points); {a['synthetic_accuracy']:.1%} on generated only",
            soft_wrap=True,
        )

"""``ganforge evaluate`` of an image run: how good, how varied and how original its samples are,
recorded in the run.

FID/KID, precision/recall/density/coverage and per-class FID/KID in one feature space, memorisation
(each sample's nearest training image against a real baseline) and, on request, the augmentation
utility of class-conditional samples. Figures go to config.json (``metrics``) and card.md; the
memorisation panel and details to ``RUN/evaluation/``. docs/evaluation.md explains every figure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress

from ganforge.engine import artifact
from ganforge.engine.model import load
from ganforge.errors import ConfigError, DataError
from ganforge.images.data import ImageDataset
from ganforge.images.evaluate_parts import (
    MEMORISATION_SPACES,
    has_model_classes,
    image_augment_utility,
    image_memorisation,
    rounded,
)
from ganforge.metrics.prdc import DEFAULT_K


def reference_images(gan: Any, ref: str | None, split: str, n: int) -> ImageDataset:
    """Real images to compare with (``source`` describes them): ``ref`` (folder or built-in) or the data
    the run was trained on, at most ``n`` of them chosen at random (always the same ones)."""
    from ganforge.images.builtin import resolve_image_source

    rc = gan.recipe_config
    spec = ref or gan.data_info.get("spec")
    if spec is None:
        raise DataError("this run does not record where its training data is; pass --ref FOLDER")
    if ref is None and gan.data_info.get("stream"):  # a folder of any size: decode only the n picked
        return _streamed_subset(gan, spec, n)
    ds = resolve_image_source(spec, rc.resolution, channels=rc.channels, split=split)
    if len(ds.images) <= n:
        return ds
    pick = np.sort(np.random.default_rng(0).choice(len(ds.images), size=n, replace=False))
    labels = ds.labels[pick] if ds.labels is not None else None
    return ImageDataset(ds.images[pick], labels, ds.class_names, f"{ds.source}, {n} of {len(ds.images)}")


def training_images(gan: Any) -> ImageDataset:
    """The training split of the data the run was trained on, as the model sees it."""
    from ganforge.images.builtin import resolve_image_source

    spec = gan.data_info.get("spec")
    if spec is None:
        raise DataError("this run does not record where its training data is (trained on an in-memory set)")
    if gan.data_info.get("stream"):  # nearest neighbours among a bounded random subset
        return _streamed_subset(gan, spec, STREAMED_TRAINING_IMAGES)
    rc = gan.recipe_config
    return resolve_image_source(spec, rc.resolution, channels=rc.channels, split="train")


STREAMED_TRAINING_IMAGES = 20_000  # memorisation checks of a streamed run look at this many training images


def _streamed_subset(gan: Any, folder: str, n: int) -> ImageDataset:
    """At most ``n`` images of a streamed run's folder, the same random ones each time, decoded alone.

    They are exactly the images an in-memory load would pick (same file order, same decoding)."""
    from ganforge.images.stream import StreamingImageFolder

    rc = gan.recipe_config
    ds = StreamingImageFolder(folder, rc.resolution, channels=rc.channels)
    total = len(ds)
    pick = np.arange(total)
    if total > n:
        pick = np.sort(np.random.default_rng(0).choice(total, size=n, replace=False))
    images, labels = ds.read(pick)
    source = ds.source if total <= n else f"{ds.source}, {n} of {total}"
    return ImageDataset(images, labels, ds.class_names, source)


def _check_image_options(
    n: int, split: str, prdc: bool, per_class_n: int | None, space: str, memorisation_n: int
) -> None:
    if n < 2:
        raise ConfigError(f"-n must be >= 2 (got {n})")
    if prdc and n <= DEFAULT_K:
        raise ConfigError(f"-n must be > {DEFAULT_K} for precision/recall ({DEFAULT_K} nearest neighbours)")
    if split not in ("train", "test"):
        raise ConfigError(f"--split must be train or test (got {split})")
    if per_class_n is not None and per_class_n < 2:
        raise ConfigError(f"--per-class-n must be >= 2 (got {per_class_n})")
    if space not in MEMORISATION_SPACES:
        raise ConfigError(f"--memorisation-space must be features or pixels (got {space})")
    if memorisation_n < 3:
        raise ConfigError(f"--memorisation-n must be >= 3 (got {memorisation_n})")


def evaluate_run(
    run: str | Path,
    ref: str | None = None,
    split: str = "train",
    n: int = 2000,
    extractor: str = "inception",
    seed: int = 0,
    console: Console | None = None,
    prdc: bool = True,
    per_class: bool | None = None,
    per_class_n: int | None = None,
    memorisation: bool = True,
    memorisation_space: str = "pixels",
    memorisation_n: int = 100_000,
    augment_utility: bool = False,
    real_per_class: int = 20,
    synthetic_per_class: int = 200,
) -> dict[str, Any]:
    """Evaluate ``n`` generated images and store the figures in config.json, card.md and evaluation/.

    ``per_class`` None: per-class FID/KID when the model is conditional and the reference images carry
    its classes (``per_class_n`` images per class and side, default: all of the ``n`` on each side).
    ``memorisation`` searches ``memorisation_n`` training images in ``memorisation_space``.
    Returns the FID/KID figures with "prdc" and "per_class" entries, plus "memorisation" and
    "augment_utility" when computed.
    """
    _check_image_options(n, split, prdc, per_class_n, memorisation_space, memorisation_n)
    gan = load(run)
    k = gan.recipe_config.num_classes
    if not k and (augment_utility or per_class):
        what = "--augment-utility" if augment_utility else "--per-class"
        raise ConfigError(f"{what} needs a class-conditional model; {run} is unconditional")
    real = reference_images(gan, ref, split, n)
    train, skipped = _training_data_for(gan, memorisation, augment_utility)
    want_per_class = _want_per_class(gan, real, per_class)
    # Conditional models: every class equally often, so each class has ~n/k samples for per-class figures.
    labels = np.random.default_rng(seed).permutation(np.arange(n) % k) if k else None
    fake = gan.sample(n, labels=labels.tolist() if labels is not None else None, seed=seed)
    evals = gan.metrics.setdefault("evaluations", {})
    with Progress(console=console or Console(stderr=True), transient=True) as progress:
        result = _feature_figures(gan, real, fake, labels, extractor, prdc, want_per_class, per_class_n,
                                  seed, progress) | {"reference": real.source, "split": split, "seed": seed}  # fmt: skip
        evals[extractor] = dict(result)
        if memorisation and train is not None:
            result["memorisation"] = image_memorisation(
                train, fake, Path(run), memorisation_space, memorisation_n, seed, progress
            )
            # The figures go to config.json; the sample/training-image pairs stay in memorisation.json.
            evals["memorisation"] = {key: v for key, v in result["memorisation"].items() if key != "closest"}
        elif memorisation:
            result["memorisation_skipped"] = skipped
    if augment_utility:
        result["augment_utility"] = evals["augment_utility"] = image_augment_utility(
            gan, train, real_per_class, synthetic_per_class, seed
        )
    gan.metrics["evaluation"] = image_summary(evals[extractor], evals, n)
    artifact.update_config(run, metrics=gan.metrics)
    gan.write_card(Path(run))
    return result


def _want_per_class(gan: Any, real: ImageDataset, per_class: bool | None) -> bool:
    """Per-class figures: asked for, or by default when the model is conditional and the reference
    images carry its classes (asked for on unlabelled references is an error)."""
    want = per_class if per_class is not None else bool(gan.recipe_config.num_classes)
    if want and not has_model_classes(real, gan):
        if per_class:
            raise DataError(f"the reference images ({real.source}) are not labelled with the model's classes")
        return False
    return want


def _feature_figures(
    gan: Any, real: ImageDataset, fake: np.ndarray, labels: np.ndarray | None, extractor: str, prdc: bool,
    per_class: bool, per_class_n: int | None, seed: int, progress: Progress,
) -> dict[str, Any]:  # fmt: skip
    """FID/KID (and PRDC, per-class figures) of ``fake`` against ``real`` in one feature space."""
    from ganforge.metrics.features import get_extractor
    from ganforge.metrics.fid import FeatureStats, cached_stats, images_key, stats_cache_dir, stats_distance
    from ganforge.metrics.prdc import prdc as prdc_metrics

    ext = get_extractor(extractor)
    # Reference features are cached by content, so any run compared with the same images reuses them.
    cache = stats_cache_dir() / f"images-{images_key(real.images, ext.name)}.npz"
    task = progress.add_task(f"{extractor} features", total=len(real.images) + len(fake))
    advance = lambda j: progress.advance(task, j)  # noqa: E731
    real_stats = cached_stats(real.images, ext, cache, advance)
    fake_stats = FeatureStats.from_features(ext(fake, progress=advance), ext.name, keep=True)
    result = rounded(stats_distance(real_stats, fake_stats))
    if prdc:
        result["prdc"] = rounded(prdc_metrics(real_stats.features, fake_stats.features))
    if per_class:
        per_class_args = (real_stats.features, fake_stats.features, labels, per_class_n, ext, seed)
        result["per_class"] = _per_class(gan, real, *per_class_args, advance)
    return result


def _training_data_for(gan: Any, memorisation: bool, augment_utility: bool) -> tuple[Any, str]:
    """The training images when memorisation or augmentation utility need them, else None and why not.

    Memorisation is on by default, so a run whose training data cannot be found only skips it; the
    augmentation utility, asked for explicitly, fails with the reason.
    """
    if not (memorisation or augment_utility):
        return None, ""
    try:
        return training_images(gan), ""
    except (DataError, ConfigError) as e:
        if augment_utility:
            raise
        return None, f"memorisation skipped: {e}"


def _per_class(
    gan: Any,
    real: ImageDataset,
    real_feats: np.ndarray,
    fake_feats: np.ndarray,
    fake_labels: np.ndarray,
    per_class_n: int | None,
    ext: Any,
    seed: int,
    advance: Any,
) -> list[dict[str, Any]]:
    """FID/KID of each class's samples against the reference images of that class."""
    from ganforge.metrics.fid import features_frechet_distance, kid

    out = []
    for c, name in enumerate(gan.recipe_config.class_names):
        r = real_feats[real.labels == c][:per_class_n]
        f = fake_feats[fake_labels == c][:per_class_n]
        if per_class_n is not None and len(f) < per_class_n:  # more asked for than the main sample holds
            extra = gan.sample(per_class_n - len(f), labels=[c] * (per_class_n - len(f)), seed=seed + 1 + c)
            f = np.concatenate([f, ext(extra, progress=advance)])
        row: dict[str, Any] = {"class": c, "name": name, "n_real": len(r), "n_fake": len(f)}
        if min(len(r), len(f)) >= 2:
            kid_mean, kid_std = kid(r, f)
            row |= rounded({"fid": features_frechet_distance(r, f), "kid": kid_mean, "kid_std": kid_std})
        else:
            row |= {"fid": None, "kid": None, "kid_std": None}
        out.append(row)
    return out


def image_summary(result: dict[str, Any], evals: dict[str, Any], n: int) -> dict[str, Any]:
    """The headline figures for the card: this extractor's distances, and the latest memorisation and
    augmentation-utility results stored in the run."""
    ext = result["extractor"]
    out: dict[str, Any] = {f"{ext} FID": result["fid"], f"{ext} KID": result["kid"], "images": n,
                           "reference": result["reference"]}  # fmt: skip
    out |= {
        k: v for k, v in result.get("prdc", {}).items() if k in ("precision", "recall", "density", "coverage")
    }
    scored = [c for c in result.get("per_class", []) if c["fid"] is not None]
    if scored:
        worst = max(scored, key=lambda c: c["fid"])
        out["worst class FID"] = f"{worst['fid']:.2f} ({worst['name']})"
    mem = evals.get("memorisation")
    if mem:
        out["memorised share"] = mem["memorised_share"]
        out["memorisation baseline"] = mem["baseline_share"]
        out["memorisation flagged"] = mem["flagged"]
    aug = evals.get("augment_utility")
    if aug:
        out["augmentation gain"] = aug["gain"]
    return out


def evaluate_cli(run: Path, options: dict[str, Any], console: Console, out_console: Console) -> None:
    """``ganforge evaluate`` of an image run: measure, store in the run, print."""
    from ganforge.images.evaluate_parts import print_image_result

    keys = ("ref", "split", "extractor", "seed", "prdc", "per_class", "per_class_n", "memorisation",
            "memorisation_space", "memorisation_n", "augment_utility", "real_per_class", "synthetic_per_class")  # fmt: skip
    result = evaluate_run(run, n=options["n"] or 2000, console=console, **{k: options[k] for k in keys})
    print_image_result(result, run, out_console)

"""Image data: read a folder of images into one uint8 array, resize it, and write image grids.

Everything here is numpy + Pillow; nothing imports torch, so the data layer can be used (and tested)
without the training stack.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image, ImageOps

from ganforge.errors import ConfigError, DataError, warn_caller

SUPPORTED_RESOLUTIONS = (16, 28, 32, 56, 64, 128)

# Modes whose pixels carry one grey value (plus maybe alpha); "P" is decided from its palette.
_GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_PARALLEL_ABOVE = 1000  # below this a thread pool costs more than it saves
_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass
class ImageDataset:
    """Images of one resolution, as ``uint8`` array ``(N, H, W, C)`` with ``C`` 1 or 3, and their labels.

    ``labels`` is ``int64`` ``(N,)`` indexing ``class_names``, or ``None`` (and ``class_names == []``)
    when the data is unlabelled. ``source`` says where the images came from, for reports and cards.
    """

    images: np.ndarray = field(repr=False)
    labels: np.ndarray | None = field(repr=False)
    class_names: list[str]
    source: str

    def __post_init__(self) -> None:
        imgs = self.images
        if (
            not isinstance(imgs, np.ndarray)
            or imgs.dtype != np.uint8
            or imgs.ndim != 4
            or imgs.shape[1] != imgs.shape[2]
            or imgs.shape[3] not in (1, 3)
        ):
            got = f"{imgs.dtype} {imgs.shape}" if isinstance(imgs, np.ndarray) else type(imgs).__name__
            raise DataError(f"images must be a uint8 array of shape (N, H, H, 1 or 3); got {got}")
        self.class_names = [str(name) for name in self.class_names]
        if self.labels is None:
            if self.class_names:
                raise DataError("class_names were given without labels; pass labels or class_names=[]")
            return
        labels = np.asarray(self.labels)
        if labels.shape != (len(imgs),) or not np.issubdtype(labels.dtype, np.integer):
            raise DataError(
                f"labels must be integers of shape ({len(imgs)},); got {labels.dtype} {labels.shape}"
            )
        if not self.class_names:
            raise DataError("labels were given without class_names; name every class")
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.class_names)):
            raise DataError(f"labels must lie in [0, {len(self.class_names)}) to match class_names")
        self.labels = labels.astype(np.int64, copy=False)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def num_classes(self) -> int:
        """Number of classes; 0 when unlabelled."""
        return len(self.class_names)

    @property
    def resolution(self) -> int:
        """Side of the (square) images in pixels."""
        return int(self.images.shape[1])

    @property
    def channels(self) -> int:
        """1 for grey, 3 for RGB."""
        return int(self.images.shape[3])


def check_resolution(resolution: int) -> int:
    """Return ``resolution`` if it is one of :data:`SUPPORTED_RESOLUTIONS`, else raise ``ConfigError``."""
    if isinstance(resolution, bool) or resolution not in SUPPORTED_RESOLUTIONS:
        supported = ", ".join(map(str, SUPPORTED_RESOLUTIONS))
        raise ConfigError(f"resolution {resolution!r} is not supported; choose one of {supported}")
    return int(resolution)


def check_channels(channels: int | None) -> int | None:
    """Return ``channels`` if it is None (auto), 1 or 3, else raise ``ConfigError``."""
    if channels is not None and (isinstance(channels, bool) or channels not in (1, 3)):
        raise ConfigError(f"channels must be 1 (grey), 3 (RGB) or left unset for auto; got {channels!r}")
    return channels


def check_max_images(max_images: int | None) -> int | None:
    """Return ``max_images`` if it is None or an integer >= 2, else raise ``ConfigError``."""
    if max_images is not None and (isinstance(max_images, bool) or not isinstance(max_images, int)):
        raise ConfigError(f"max_images must be a whole number; got {max_images!r}")
    if max_images is not None and max_images < 2:
        raise ConfigError(f"max_images must be at least 2 (a GAN needs at least 2 images); got {max_images}")
    return max_images


def parallel_map(fn: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """``list(map(fn, items))``, on threads for large inputs (Pillow releases the GIL while decoding)."""
    if len(items) <= _PARALLEL_ABOVE:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        return list(pool.map(fn, items))


def _scan(root: Path) -> list[Path]:
    """All non-hidden files below ``root``, in a stable (sorted) order."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(folder) / f for f in sorted(files) if not f.startswith("."))
    return found


def _probe(path: Path) -> tuple[int, int] | None:
    """The size of ``path`` if Pillow recognises it as an image (reads the header only), else None."""
    try:
        with Image.open(path) as img:
            return img.size
    except Exception:  # Pillow raises many types for files that are not images; all mean "skip"
        return None


def is_grey(img: Image.Image) -> bool:
    if img.mode == "P":
        palette = np.asarray(img.getpalette() or [0, 0, 0]).reshape(-1, 3)
        return bool((palette == palette[:, :1]).all())
    return img.mode in _GREY_MODES


def _wide_grey_to_l(img: Image.Image) -> Image.Image:
    """16/32-bit integer and float grey to 8-bit; Pillow's own convert would clip instead of scaling."""
    arr = np.asarray(img).astype(np.float64)
    if img.mode == "F":
        scale = 255.0 if arr.size and arr.max() <= 1.0 else 1.0
    elif img.mode.startswith("I;16") or (arr.size and arr.max() > 255):
        scale = 255.0 / 65535.0
    else:
        scale = 1.0
    return Image.fromarray(np.clip(np.rint(arr * scale), 0, 255).astype(np.uint8), "L")


def _to_l_or_rgb(img: Image.Image, grey: bool) -> Image.Image:
    """Convert any mode to "L" (grey) or "RGB", compositing transparency onto white."""
    if img.mode.startswith("I") or img.mode == "F":
        img = _wide_grey_to_l(img)
    if img.mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in img.info:
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img.convert("RGBA"))
    return img.convert("L" if grey else "RGB")


def decode_file(path: Path, resolution: int) -> tuple[np.ndarray, bool] | None:
    """Decode, centre-crop and resize one file to ``(res, res, 1|3)``; None when it cannot be decoded."""
    try:
        with Image.open(path) as img:
            img.draft(None, (resolution, resolution))  # JPEG: decode at a reduced scale, much faster
            img.load()
            grey = is_grey(img)
            try:
                oriented = ImageOps.exif_transpose(img)
            except Exception:  # broken EXIF should not cost a good image
                oriented = img
            img = _to_l_or_rgb(oriented, grey)
    except Exception:  # truncated, corrupt or unsupported image data
        return None
    w, h = img.size
    side = min(w, h)
    box = ((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side)
    img = img.resize((resolution, resolution), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
    arr = np.asarray(img, dtype=np.uint8)
    return (arr[..., None] if arr.ndim == 2 else arr), grey


def set_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """``(N, H, W, C)`` to ``channels``; RGB to grey uses Pillow's ITU-R 601-2 luma so both paths agree."""
    if images.shape[-1] == channels:
        return images
    if channels == 3:
        return np.repeat(images, 3, axis=-1)
    rgb = images.astype(np.uint32)
    luma = (rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) >> 16
    return luma.astype(np.uint8)[..., None]


def auto_resolution(sizes: list[tuple[int, int]]) -> int:
    """The largest supported resolution not above the median shorter side (at least the smallest)."""
    median_side = float(np.median([min(s) for s in sizes]))
    fitting = [r for r in SUPPORTED_RESOLUTIONS if r <= median_side]
    return fitting[-1] if fitting else SUPPORTED_RESOLUTIONS[0]


def class_folder(root: Path, path: Path) -> str | None:
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else None


def warn_skipped(paths: list[Path], what: str, root: Path) -> None:
    if paths:
        example = paths[0].relative_to(root)
        warn_caller(f"skipped {len(paths)} {what} in {root} (e.g. {example})")


def load_image_folder(
    path: str | os.PathLike[str],
    resolution: int | None,
    channels: int | None = None,
    max_images: int | None = None,
) -> ImageDataset:
    """Read every image below ``path`` into an :class:`ImageDataset` of square ``resolution`` images.

    Files are found recursively (hidden ones skipped) and count as images when Pillow can open them;
    other files and corrupt images are skipped with a warning. Images in two or more first-level
    sub-folders are labelled by sub-folder name (sorted). Each image is centre-cropped to a square and
    resized with Lanczos. ``channels`` None means 1 if every image is grey, else 3; transparency is
    composited on white. ``resolution`` None picks the largest supported size not above the median
    image side. ``max_images`` keeps a fixed-seed random subset.
    """
    if resolution is not None:
        check_resolution(resolution)
    check_channels(channels)
    check_max_images(max_images)
    root = Path(path)
    if not root.exists():
        raise DataError(f"no such folder: {root}")
    if not root.is_dir():
        raise DataError(f"{root} is a file, not a folder; point to a folder of images")
    files = _scan(root)
    if not files:
        raise DataError(f"folder {root} is empty; put images in it (or one sub-folder of images per class)")

    sizes = parallel_map(_probe, files)
    images = [f for f, s in zip(files, sizes, strict=True) if s is not None]
    warn_skipped(
        [f for f, s in zip(files, sizes, strict=True) if s is None], "file(s) that are not images", root
    )
    if not images:
        raise DataError(f"no readable images in {root}: none of its {len(files)} file(s) is an image")
    res = resolution if resolution is not None else auto_resolution([s for s in sizes if s is not None])

    folders = [class_folder(root, f) for f in images]
    class_names = sorted({c for c in folders if c is not None})
    if len(class_names) >= 2 and None in folders:
        loose = images[folders.index(None)].name
        raise DataError(
            f"{root} has images directly inside it (e.g. {loose}) next to class folders "
            f"{', '.join(class_names[:5])}; move them into a class folder or delete the class folders"
        )
    if len(class_names) < 2:
        class_names = []

    decoded, corrupt = _decode_subset(images, res, max_images)
    warn_skipped(corrupt, "corrupt or truncated image(s)", root)
    if not decoded:
        raise DataError(f"no readable images in {root}: all {len(images)} image(s) are corrupt or truncated")
    if len(decoded) == 1:
        raise DataError(f"only 1 readable image in {root}; need at least 2 images")

    keep = sorted(decoded)
    grey = all(decoded[i][1] for i in keep)
    target = channels if channels is not None else (1 if grey else 3)
    arrays = np.stack([set_channels(decoded[i][0][None], target)[0] for i in keep])
    labels = None
    if class_names:
        index = {name: k for k, name in enumerate(class_names)}
        labels = np.array([index[folders[i]] for i in keep], dtype=np.int64)
    return ImageDataset(arrays, labels, class_names, f"folder {root}")


def _decode_subset(
    images: list[Path], resolution: int, max_images: int | None
) -> tuple[dict[int, tuple[np.ndarray, bool]], list[Path]]:
    """Decode all images, or a fixed-seed random ``max_images`` of them, replacing corrupt ones."""
    n = len(images)
    want = n if max_images is None else min(n, max_images)
    order = np.arange(n) if want == n else np.random.default_rng(0).permutation(n)
    decoded: dict[int, tuple[np.ndarray, bool]] = {}
    corrupt: list[Path] = []
    pos = 0
    while len(decoded) < want and pos < n:
        batch = [int(i) for i in order[pos : pos + want - len(decoded)]]
        pos += len(batch)
        results = parallel_map(lambda p: decode_file(p, resolution), [images[i] for i in batch])
        for i, result in zip(batch, results, strict=True):
            if result is None:
                corrupt.append(images[i])
            else:
                decoded[i] = result
    return decoded, corrupt


def resize_dataset(ds: ImageDataset, resolution: int, channels: int | None = None) -> ImageDataset:
    """Return ``ds`` resized (Lanczos) to ``resolution`` and converted to ``channels`` (None keeps them)."""
    check_resolution(resolution)
    check_channels(channels)
    images = ds.images
    if ds.resolution != resolution:
        size = (resolution, resolution)

        def resize_one(image: np.ndarray) -> np.ndarray:
            out = np.asarray(to_pil(image).resize(size, Image.Resampling.LANCZOS), dtype=np.uint8)
            return out.reshape(resolution, resolution, image.shape[-1])

        resized = parallel_map(resize_one, list(images))
        images = np.stack(resized) if resized else np.zeros((0, *size, ds.channels), np.uint8)
    images = set_channels(images, channels if channels is not None else ds.channels)
    labels = None if ds.labels is None else ds.labels.copy()
    return ImageDataset(images, labels, list(ds.class_names), ds.source)


def to_pil(image: np.ndarray) -> Image.Image:
    """``(H, W, 1|3)`` (or ``(H, W)``) uint8 array to a Pillow image in mode "L" or "RGB"."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3)):
        raise DataError(
            f"an image must be a uint8 array of shape (H, W, 1 or 3); got {arr.dtype} {arr.shape}"
        )
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    return Image.fromarray(np.ascontiguousarray(arr), "L" if arr.ndim == 2 else "RGB")


def make_grid(
    images: np.ndarray, nrow: int | None = None, padding: int = 2, pad_value: int = 0
) -> np.ndarray:
    """Tile ``(N, H, W, C)`` uint8 images into one ``(H', W', C)`` array, ``nrow`` images per row.

    ``nrow`` None makes the grid roughly square. ``padding`` pixels of ``pad_value`` separate the
    images and frame the grid, so the result is ``rows*(H+p)+p`` by ``cols*(W+p)+p`` pixels.
    """
    arr = np.asarray(images)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[3] not in (1, 3) or len(arr) == 0:
        raise DataError(
            f"make_grid needs uint8 images of shape (N>0, H, W, 1 or 3); got {arr.dtype} {arr.shape}"
        )
    if nrow is not None and nrow < 1:
        raise ConfigError(f"nrow must be at least 1; got {nrow}")
    if padding < 0:
        raise ConfigError(f"padding must be 0 or more; got {padding}")
    n, h, w, c = arr.shape
    cols = min(n, nrow if nrow is not None else math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    grid = np.full((rows * (h + padding) + padding, cols * (w + padding) + padding, c), pad_value, np.uint8)
    for k in range(n):
        top = padding + (k // cols) * (h + padding)
        left = padding + (k % cols) * (w + padding)
        grid[top : top + h, left : left + w] = arr[k]
    return grid


def save_grid(
    images: np.ndarray,
    path: str | os.PathLike[str],
    nrow: int | None = None,
    padding: int = 2,
    text: dict[str, str] | None = None,
) -> None:
    """Write ``images`` as one grid image (see :func:`make_grid`); PNG unless the suffix says otherwise.

    ``text``: PNG text chunks to store with it (e.g. the synthetic-content label).
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fmt = None if out.suffix else "PNG"
    extra = {}
    if text and (fmt or out.suffix.lower()) in ("PNG", ".png"):
        from PIL import PngImagePlugin

        extra["pnginfo"] = info = PngImagePlugin.PngInfo()
        for key, value in text.items():
            info.add_text(key, value)
    to_pil(make_grid(images, nrow=nrow, padding=padding)).save(out, format=fmt, **extra)

"""Built-in image datasets that work offline: Fashion-MNIST, sklearn digits and rendered colour emoji.

Each comes from a system or pip package (never a download at run time); when one is missing the error
says which package to install.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganforge.errors import ConfigError, DataError
from ganforge.images.data import (
    ImageDataset,
    check_channels,
    check_max_images,
    check_resolution,
    load_image_folder,
    resize_dataset,
)

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
EMOJI_FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
_EMOJI_FONT_SIZE = 109  # the only size the CBDT bitmap strikes in Noto Color Emoji come in
_EMOJI_RES = 64
_SPLITS = ("train", "test", "all")


@dataclass(frozen=True)
class BuiltinInfo:
    """What a built-in dataset is and how to install it when it is missing."""

    name: str
    description: str
    native_resolution: int
    channels: int
    classes: int | None
    how_to_install: str

    def installed(self) -> bool:
        """True when everything this dataset is read or rendered from is present on this machine."""
        return _INSTALLED[self.name]()


def _fashion_dir() -> Path:
    return Path(os.environ.get("GANFORGE_FASHION_MNIST_DIR") or FASHION_MNIST_DIR)


def _fashion_files(split: str) -> tuple[Path, Path]:
    prefix = "train" if split == "train" else "t10k"
    folder = _fashion_dir()
    return folder / f"{prefix}-images-idx3-ubyte.gz", folder / f"{prefix}-labels-idx1-ubyte.gz"


def _has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


_INSTALLED: dict[str, Callable[[], bool]] = {
    "fashion-mnist": lambda: all(p.is_file() for s in ("train", "test") for p in _fashion_files(s)),
    "digits": lambda: _has_module("sklearn"),
    "emoji": lambda: Path(EMOJI_FONT).is_file() and _has_module("emoji"),
}

BUILTINS: dict[str, BuiltinInfo] = {
    "fashion-mnist": BuiltinInfo(
        "fashion-mnist",
        "Zalando Fashion-MNIST: 60k train + 10k test grey 28x28 clothing photos, 10 classes",
        28,
        1,
        10,
        "apt-get install dataset-fashion-mnist (or point GANFORGE_FASHION_MNIST_DIR at the IDX .gz files)",
    ),
    "digits": BuiltinInfo(
        "digits",
        "scikit-learn handwritten digits: 1,797 grey 8x8 scans, served upscaled to 16x16, 10 classes",
        16,
        1,
        10,
        "pip install scikit-learn",
    ),
    "emoji": BuiltinInfo(
        "emoji",
        "Noto Color Emoji rendered to ~2.3k RGB 64x64 images on white, unlabelled",
        _EMOJI_RES,
        3,
        None,
        "apt-get install fonts-noto-color-emoji && pip install emoji",
    ),
}


def _known_names() -> str:
    return ", ".join(BUILTINS)


def builtin_name(name: str) -> str | None:
    """The canonical built-in name for ``name`` ("Fashion_MNIST" -> "fashion-mnist"), or None."""
    key = str(name).strip().lower().replace("_", "-")
    return key if key in BUILTINS else None


def load_builtin(
    name: str, resolution: int | None = None, split: str = "train", max_images: int | None = None
) -> ImageDataset:
    """Load built-in dataset ``name`` at ``resolution`` (None: its native one) as an :class:`ImageDataset`.

    ``split`` is "train", "test" or "all". ``max_images`` keeps only the first that many images of the
    split (for emoji it also limits how many are rendered when nothing is cached yet).
    """
    key = builtin_name(name)
    if key is None:
        raise DataError(f"unknown built-in dataset {name!r}; known: {_known_names()}")
    if split not in _SPLITS:
        raise ConfigError(f"split must be one of {', '.join(_SPLITS)}; got {split!r}")
    if resolution is not None:
        check_resolution(resolution)
    check_max_images(max_images)
    info = BUILTINS[key]
    if not info.installed():
        raise DataError(f"built-in dataset {key!r} is not installed; install it with: {info.how_to_install}")
    loaders = {"fashion-mnist": _load_fashion_mnist, "digits": _load_digits, "emoji": _load_emoji}
    ds = loaders[key](split, max_images)
    target = resolution if resolution is not None else info.native_resolution
    return ds if ds.resolution == target else resize_dataset(ds, target)


def resolve_image_source(
    data: str | os.PathLike[str],
    resolution: int | None,
    channels: int | None = None,
    max_images: int | None = None,
    split: str = "train",
) -> ImageDataset:
    """Load ``data`` as a folder of images if such a path exists, else as a built-in dataset name.

    ``resolution`` None means the built-in's native size, or for a folder the largest supported size
    not above the images' median side. A folder has no test split: ``split="test"`` is refused for one.
    """
    check_channels(channels)
    path = Path(data)
    key = builtin_name(str(data))
    if not path.exists():
        if key is None:
            raise DataError(
                f"no folder or built-in dataset named {str(data)!r} (built-ins: {_known_names()})"
            )
        ds = load_builtin(key, resolution, split=split, max_images=max_images)
        return (
            ds if channels is None or channels == ds.channels else resize_dataset(ds, ds.resolution, channels)
        )
    if split == "test":
        raise ConfigError(f"folder {path} has no test split; point to a separate folder of test images")
    if split not in _SPLITS:
        raise ConfigError(f"split must be one of {', '.join(_SPLITS)}; got {split!r}")
    return load_image_folder(path, resolution, channels=channels, max_images=max_images)


# --- Fashion-MNIST -------------------------------------------------------------------------------


def _read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    """Parse one gzip IDX file (big-endian header: magic, then ``ndim`` dimension sizes, then uint8 data)."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DataError(
            f"cannot read {path} ({exc}); reinstall: {BUILTINS['fashion-mnist'].how_to_install}"
        ) from exc
    header = 4 * (1 + ndim)
    if len(raw) < header or int.from_bytes(raw[:4], "big") != magic:
        raise DataError(f"{path} is not an IDX file of the expected kind; reinstall dataset-fashion-mnist")
    dims = [int.from_bytes(raw[4 * (1 + k) : 4 * (2 + k)], "big") for k in range(ndim)]
    if len(raw) - header != int(np.prod(dims)):
        raise DataError(f"{path} is truncated ({len(raw) - header} bytes of data for shape {dims})")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _load_fashion_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    image_file, label_file = _fashion_files(split)
    images = _read_idx(image_file, 0x803, 3)
    labels = _read_idx(label_file, 0x801, 1)
    if len(images) != len(labels) or images.shape[1:] != (28, 28) or labels.max(initial=0) > 9:
        raise DataError(f"Fashion-MNIST {split} files in {image_file.parent} do not match; reinstall them")
    return images, labels


def _load_fashion_mnist(split: str, max_images: int | None) -> ImageDataset:
    parts = [_load_fashion_split(s) for s in (("train", "test") if split == "all" else (split,))]
    images = np.concatenate([p[0] for p in parts])[:max_images, :, :, None]
    labels = np.concatenate([p[1] for p in parts])[:max_images].astype(np.int64)
    return ImageDataset(images, labels, list(FASHION_MNIST_CLASSES), f"fashion-mnist ({split})")


# --- sklearn digits ------------------------------------------------------------------------------


def _load_digits(split: str, max_images: int | None) -> ImageDataset:
    from sklearn.datasets import load_digits  # imported late: sklearn is slow to import

    bunch = load_digits()
    # Values are ink counts 0..16; scale to 0..255 so they look like any other grey image.
    images = np.rint(np.asarray(bunch.images, dtype=np.float64) * (255.0 / 16.0)).astype(np.uint8)
    labels = np.asarray(bunch.target, dtype=np.int64)
    order = np.random.default_rng(0).permutation(len(images))
    n_train = int(round(0.8 * len(images)))
    chosen = {"train": order[:n_train], "test": order[n_train:], "all": np.arange(len(images))}[split]
    chosen = chosen[:max_images]
    names = [str(d) for d in range(10)]
    return ImageDataset(images[chosen][..., None], labels[chosen], names, f"sklearn digits ({split})")


# --- colour emoji --------------------------------------------------------------------------------


def _emoji_candidates() -> list[str]:
    """Fully-qualified emoji of at most two code points (ignoring variation selectors), sorted."""
    import emoji

    fully_qualified = emoji.STATUS["fully_qualified"]
    return sorted(
        e
        for e, meta in emoji.EMOJI_DATA.items()
        if meta.get("status") == fully_qualified and len(e.replace("\ufe0f", "")) <= 2
    )


def _emoji_in_split(code: str, split: str) -> bool:
    # A hash of the emoji itself decides its split, so the split never depends on which ones render.
    is_test = zlib.crc32(code.encode("utf-8")) % 10 == 0
    return split == "all" or is_test == (split == "test")


def _render_emoji(codes: list[str], limit: int | None) -> tuple[np.ndarray, list[str]]:
    """Render ``codes`` to 64x64 RGB on white, skipping blank and multi-glyph renders, up to ``limit``."""
    from PIL import Image, ImageDraw, ImageFont, features

    engine = ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC
    font = ImageFont.truetype(EMOJI_FONT, _EMOJI_FONT_SIZE, layout_engine=engine)
    canvas_w, canvas_h, cell = 320, 200, 136  # one glyph cell is 136 px wide at size 109
    box = ((canvas_w - cell) // 2, (canvas_h - cell) // 2, (canvas_w + cell) // 2, (canvas_h + cell) // 2)
    images, kept = [], []
    for code in codes:
        if limit is not None and len(kept) >= limit:
            break
        img = Image.new("RGB", (canvas_w, canvas_h), "white")
        ImageDraw.Draw(img).text(
            (canvas_w // 2, canvas_h // 2), code, font=font, embedded_color=True, anchor="mm"
        )
        ink = (np.asarray(img) < 248).any(axis=2)
        cols = np.flatnonzero(ink.any(axis=0))
        # Blank: the font has no glyph. Too wide: a sequence the font cannot join drew two glyphs.
        if ink.mean() < 0.005 or cols[-1] - cols[0] > 1.2 * cell:
            continue
        images.append(np.asarray(img.resize((_EMOJI_RES, _EMOJI_RES), Image.Resampling.LANCZOS, box=box)))
        kept.append(code)
    stack = np.stack(images) if images else np.zeros((0, _EMOJI_RES, _EMOJI_RES, 3), np.uint8)
    return stack, kept


def _emoji_cache_path() -> Path:
    import emoji

    root = Path(os.environ.get("GANFORGE_CACHE") or Path.home() / ".cache" / "ganforge")
    font_bytes = Path(EMOJI_FONT).stat().st_size
    return root / f"emoji-{_EMOJI_RES}px-emoji{emoji.__version__}-font{font_bytes}.npz"


def _read_emoji_cache(path: Path) -> tuple[np.ndarray, list[str]] | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            images, codes = z["images"], [str(c) for c in z["codes"]]
    except Exception:  # missing or damaged cache: render again
        return None
    ok = images.dtype == np.uint8 and images.shape[1:] == (_EMOJI_RES, _EMOJI_RES, 3)
    return (images, codes) if ok and len(codes) == len(images) else None


def _write_emoji_cache(path: Path, images: np.ndarray, codes: list[str]) -> None:
    """Write atomically (temp file + rename) so a crash never leaves a half-written cache behind."""
    from ganforge.core.io import atomic_file

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as fh:
            np.savez_compressed(fh, images=images, codes=np.array(codes, dtype=str))
    except OSError:
        pass  # a read-only cache dir only costs a re-render next time (atomic_file leaves no temp file)


def _load_emoji(split: str, max_images: int | None) -> ImageDataset:
    cache = _emoji_cache_path()
    cached = _read_emoji_cache(cache)
    if cached is None and max_images is None:
        cached = _render_emoji(_emoji_candidates(), None)
        _write_emoji_cache(cache, *cached)
    if cached is None:  # a quick partial load: render just enough, and cache nothing
        codes = [c for c in _emoji_candidates() if _emoji_in_split(c, split)]
        images, _ = _render_emoji(codes, max_images)
    else:
        keep = [i for i, c in enumerate(cached[1]) if _emoji_in_split(c, split)][:max_images]
        images = cached[0][keep]
    if len(images) < 2:
        raise DataError(f"only {len(images)} emoji rendered from {EMOJI_FONT}; the font may be damaged")
    return ImageDataset(images, None, [], f"noto color emoji ({split})")

"""Image-to-image data: single images read strictly, folders of paired (matched names) or unpaired
images, high-resolution photo sets for super-resolution, and edge maps for an offline pix2pix example.

numpy + Pillow (+ scikit-image for edges and its bundled photos); no torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ganforge.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# Real photos that ship inside scikit-image and scikit-learn: held-out ones form the test split.
PHOTO_TRAIN = ("astronaut.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png",
               "hubble_deep_field.jpg", "china.jpg")  # fmt: skip
PHOTO_TEST = ("coffee.png", "flower.jpg")
PHOTOS = "photos"


def read_image(path: str | Path) -> np.ndarray:
    """Decode one image file to uint8 ``(H, W, C)`` keeping its channels: 1 (grey), 3 (RGB) or 4 (RGBA).

    Palette images become RGB(A); a file that is not a readable image raises a one-line DataError.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"image not found: {path}")
    try:
        with Image.open(path) as img:
            img.load()
            img = ImageOps.exif_transpose(img) or img
            if img.mode in ("1", "I", "I;16", "F") or img.mode.startswith("I;"):
                img = img.convert("L")
            elif img.mode in ("LA", "La", "PA", "RGBa") or (img.mode == "P" and "transparency" in img.info):
                img = img.convert("RGBA")
            elif img.mode not in ("L", "RGB", "RGBA"):
                img = img.convert("RGB")
            arr = np.asarray(img, dtype=np.uint8)
    except Exception as e:  # truncated, corrupt or not an image at all
        raise DataError(f"cannot read image {path}: corrupt or not an image ({type(e).__name__})") from None
    return arr[..., None] if arr.ndim == 2 else arr


def to_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """Convert for training data: alpha composited onto white, then grey <-> RGB as asked."""
    img = Image.fromarray(image[..., 0] if image.shape[2] == 1 else image)
    if img.mode == "RGBA":
        img = Image.alpha_composite(Image.new("RGBA", img.size, "white"), img)
    arr = np.asarray(img.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly in ``folder`` (sorted); a missing or image-less folder is a DataError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"image folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return files


def _square(image: np.ndarray, resolution: int) -> np.ndarray:
    """Centre-crop to a square and resize to ``resolution`` (Lanczos)."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    img = Image.fromarray(image[..., 0] if image.shape[2] == 1 else image)
    img = img.resize(
        (resolution, resolution), Image.Resampling.LANCZOS, box=(left, top, left + side, top + side)
    )
    arr = np.asarray(img, dtype=np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr


def folder_channels(images: list[np.ndarray]) -> int:
    """1 when every image is grey, else 3."""
    return 1 if all(im.shape[2] == 1 for im in images) else 3


def load_folder(folder: str | Path, resolution: int) -> tuple[np.ndarray, list[str]]:
    """All images of ``folder`` as one ``(N, res, res, C)`` array (C: 1 if all grey, else 3) + their stems."""
    files = list_images(folder)
    raw = [read_image(p) for p in files]
    channels = folder_channels(raw)
    images = np.stack([_square(to_channels(im, channels), resolution) for im in raw])
    return images, [p.stem for p in files]


def match_pairs(folder_a: str | Path, folder_b: str | Path) -> list[tuple[Path, Path]]:
    """Files of A and B matched by name without extension; any unmatched name is a DataError."""
    a = {p.stem: p for p in list_images(folder_a)}
    b = {p.stem: p for p in list_images(folder_b)}
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    if only_a or only_b:
        parts = []
        if only_a:
            parts.append(
                f"{len(only_a)} in {folder_a} without a match in {folder_b} (e.g. {a[only_a[0]].name})"
            )
        if only_b:
            parts.append(
                f"{len(only_b)} in {folder_b} without a match in {folder_a} (e.g. {b[only_b[0]].name})"
            )
        raise DataError(f"paired folders must hold the same file names: {'; '.join(parts)}")
    return [(a[k], b[k]) for k in sorted(a)]


def load_paired(
    folder_a: str | Path, folder_b: str | Path, resolution: int
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Matched images of A and B, each ``(N, res, res, C_a / C_b)``, and the shared names."""
    pairs = match_pairs(folder_a, folder_b)
    if len(pairs) < 2:
        raise DataError("paired training needs at least 2 matched image pairs")
    raw_a, raw_b = [read_image(pa) for pa, _ in pairs], [read_image(pb) for _, pb in pairs]
    ca, cb = folder_channels(raw_a), folder_channels(raw_b)
    a = np.stack([_square(to_channels(im, ca), resolution) for im in raw_a])
    b = np.stack([_square(to_channels(im, cb), resolution) for im in raw_b])
    return a, b, [pa.stem for pa, _ in pairs]


def _photo_path(name: str) -> Path:
    if name in ("china.jpg", "flower.jpg"):
        import sklearn.datasets

        return Path(sklearn.datasets.__file__).parent / "images" / name
    import skimage.data

    return Path(skimage.data.__file__).parent / name


def load_photos(split: str = "train") -> list[np.ndarray]:
    """The real RGB photos bundled with scikit-image / scikit-learn: ``train`` (6) or ``test`` (2, held out)."""
    names = {"train": PHOTO_TRAIN, "test": PHOTO_TEST, "all": PHOTO_TRAIN + PHOTO_TEST}.get(split)
    if names is None:
        raise DataError(f"photos split must be train, test or all (got {split!r})")
    return [to_channels(read_image(_photo_path(n)), 3) for n in names]


def load_hr_images(data: str | Path, split: str = "train") -> tuple[list[np.ndarray], str]:
    """High-resolution images for super-resolution, at their own sizes, and a description.

    ``data``: a folder of images, ``photos`` (bundled real photos) or a built-in dataset name.
    """
    path = Path(data)
    if path.is_dir():
        raw = [read_image(p) for p in list_images(path)]
        channels = folder_channels(raw)
        return [to_channels(im, channels) for im in raw], str(path.resolve())
    if str(data) == PHOTOS:
        return load_photos(split), f"bundled photos ({split})"
    from ganforge.images.builtin import builtin_name, load_builtin

    if path.exists() or builtin_name(str(data)) is None:
        raise DataError(f"{data} is neither an image folder, '{PHOTOS}' nor a built-in dataset name")
    ds = load_builtin(str(data), split=split)
    return list(ds.images), ds.source


def edge_map(image: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """Canny edges of an image as black lines on white, uint8 ``(H, W, 1)``."""
    from skimage.feature import canny

    grey = to_channels(image, 1)[..., 0].astype(np.float64) / 255.0
    edges = canny(grey, sigma=sigma)
    return np.where(edges, 0, 255).astype(np.uint8)[..., None]


def write_edge_pairs(images: np.ndarray, out_a: str | Path, out_b: str | Path, sigma: float = 1.5) -> int:
    """Write edge maps to ``out_a`` and the images to ``out_b`` under matching names; returns the count."""
    out_a, out_b = Path(out_a), Path(out_b)
    out_a.mkdir(parents=True, exist_ok=True)
    out_b.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(images):
        Image.fromarray(edge_map(im, sigma)[..., 0]).save(out_a / f"{i:05d}.png")
        Image.fromarray(im[..., 0] if im.shape[2] == 1 else im).save(out_b / f"{i:05d}.png")
    return len(images)

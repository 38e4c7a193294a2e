"""Image folders of any size, streamed: one scan builds a compact file index, each batch decodes its files.

:func:`~ganforge.images.data.load_image_folder` decodes a whole folder into one array, which stops
working once the folder outgrows memory. :class:`StreamingImageFolder` keeps only the relative paths
(one fixed-width bytes array) and the labels (int16) and decodes the files a batch asks for, with the
same crop, resize and channel rules as the in-memory loader, so both give the same tensors.

Unreadable files met during training (a header that opens but data that does not decode, or a file
deleted since the scan) are *skipped and replaced*: the next readable file in index order stands in
for it, always the same one, so runs stay reproducible; each such file is warned about once.
Everything except :meth:`StreamingImageFolder.get` (which hands the engine tensors) is numpy + Pillow.
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ganforge.errors import DataError, warn_caller
from ganforge.images.data import (
    auto_resolution,
    check_channels,
    check_resolution,
    class_folder,
    decode_file,
    is_grey,
    parallel_map,
    set_channels,
    warn_skipped,
)

_SCAN_CHUNK = 4096  # files probed per step of the scan: bounds its memory, feeds the thread pool


def _walk(root: Path) -> Iterator[Path]:
    """Non-hidden files below ``root`` in the order of ``images._scan``, yielded one by one.

    ``_scan`` returns one list of every path, which is what a streamed folder must not hold.
    """
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(folder) / name


def _header(path: Path) -> tuple[int, bool, int, int] | None:
    """(shorter side, grey?, bytes, mtime in ns) from the file's header, or None when it is no image."""
    try:
        with Image.open(path) as img:
            side, grey = min(img.size), is_grey(img)
        st = path.stat()
    except Exception:  # Pillow raises many types for files that are not images; all mean "skip"
        return None
    return side, grey, st.st_size, st.st_mtime_ns


class StreamingImageFolder:
    """A folder of images as a BatchSource that decodes only the files each batch needs.

    Class sub-folders are labels exactly as in ``load_image_folder`` (two or more first-level folders;
    loose images next to them are an error). ``resolution`` None picks the size from the median image
    side; ``channels`` None means 1 when every image is grey (judged from the file headers), else 3.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        resolution: int | None,
        channels: int | None = None,
        workers: int = 4,
    ) -> None:
        if resolution is not None:
            check_resolution(resolution)
        check_channels(channels)
        root = Path(path)
        if not root.exists():
            raise DataError(f"no such folder: {root}")
        if not root.is_dir():
            raise DataError(f"{root} is a file, not a folder; point to a folder of images")
        self.root = root
        self.source = f"folder {root} (streamed)"
        paths, folders, median_side, grey, digest = self._scan(root)
        auto = auto_resolution([(median_side, median_side)])  # the helper takes the median of (w, h) pairs
        self.resolution = resolution if resolution is not None else auto
        self.channels = channels if channels is not None else (1 if grey else 3)
        self.paths = paths
        self.class_names, self.labels = _labels(root, paths, folders)
        digest.update(f"|{self.resolution}|{self.channels}|{self.class_names}".encode())
        self.fingerprint = digest.hexdigest()
        self._workers = max(1, min(workers, os.cpu_count() or 1))
        self._pool: ThreadPoolExecutor | None = None
        self._stand_in: dict[int, int] = {}  # unreadable index -> the readable one used instead

    # ------------------------------------------------------------------ the scan
    @staticmethod
    def _scan(
        root: Path,
    ) -> tuple[np.ndarray, tuple[np.ndarray, list[str | None]], float, bool, Any]:
        """Probe every file's header once; keep relative paths, folder ids, the median side, all-grey."""
        names: list[np.ndarray] = []
        folder_ids: list[np.ndarray] = []
        folder_index: dict[str | None, int] = {}
        sides: list[np.ndarray] = []
        grey, total, not_images = True, 0, []
        digest = hashlib.sha1()
        walk = _walk(root)
        while chunk := [p for _, p in zip(range(_SCAN_CHUNK), walk, strict=False)]:
            total += len(chunk)
            heads = parallel_map(_header, chunk)
            keep = [(p, h) for p, h in zip(chunk, heads, strict=True) if h is not None]
            not_images += [p for p, h in zip(chunk, heads, strict=True) if h is None][:1]
            rel = [os.fsencode(p.relative_to(root)) for p, _ in keep]
            for r, (_, (_, _, size, mtime)) in zip(rel, keep, strict=True):
                digest.update(b"%s\0%d\0%d\n" % (r, size, mtime))
            names.append(np.array(rel, dtype=np.bytes_) if rel else np.zeros(0, "S1"))
            ids = [folder_index.setdefault(class_folder(root, p), len(folder_index)) for p, _ in keep]
            folder_ids.append(np.array(ids, dtype=np.int32))
            sides.append(np.array([h[0] for _, h in keep], dtype=np.int32))
            grey = grey and all(h[1] for _, h in keep)
        if total == 0:
            raise DataError(
                f"folder {root} is empty; put images in it (or one sub-folder of images per class)"
            )
        paths = np.concatenate(names)
        skipped = total - len(paths)
        if skipped:
            # the helper counts the list it gets; one example path repeated keeps the scan's memory flat
            warn_skipped(not_images[:1] * skipped, "file(s) that are not images", root)
        if len(paths) == 0:
            raise DataError(f"no readable images in {root}: none of its {total} file(s) is an image")
        if len(paths) == 1:
            raise DataError(f"only 1 readable image in {root}; need at least 2 images")
        folder_names = [None] * len(folder_index)
        for name, i in folder_index.items():
            folder_names[i] = name
        median = float(np.median(np.concatenate(sides)))
        return paths, (np.concatenate(folder_ids), folder_names), median, grey, digest

    # ------------------------------------------------------------------ the dataset's face
    def __len__(self) -> int:
        return len(self.paths)

    @property
    def num_classes(self) -> int:
        """Number of classes; 0 when unlabelled."""
        return len(self.class_names)

    def unlabelled(self) -> StreamingImageFolder:
        """The same files without labels (an unconditional model on a labelled folder)."""
        other = copy.copy(self)
        other.labels, other.class_names = None, []
        return other

    def file(self, index: int) -> Path:
        """The path of image ``index``."""
        return self.root / os.fsdecode(bytes(self.paths[index]))

    def read(self, indices: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """Decode images ``indices`` to uint8 ``(n, H, W, C)`` and their int64 labels (or None)."""
        idx = [int(i) for i in np.asarray(indices).reshape(-1)]
        decoded = self._map(self._decode_one, idx)
        for k, result in enumerate(decoded):
            if result is None:
                idx[k] = self._replacement(idx[k])
                decoded[k] = self._decode_one(idx[k])
        res, ch = self.resolution, self.channels
        out = np.empty((len(idx), res, res, ch), dtype=np.uint8)
        for k, arr in enumerate(decoded):
            out[k] = set_channels(arr[None], ch)[0]  # type: ignore[index]
        labels = None if self.labels is None else self.labels[idx].astype(np.int64)
        return out, labels

    def get(self, indices: Any) -> tuple[Any, Any]:
        """BatchSource: ``(x, c)`` as ``ImageSource.get`` gives them: x in [-1, 1], NCHW; c int64 labels."""
        import torch  # the one place this module meets torch: the engine's protocol asks for tensors

        images, labels = self.read(indices.cpu().numpy() if hasattr(indices, "cpu") else indices)
        from ganforge.images.codec import encode_images

        return encode_images(images), (torch.from_numpy(labels) if labels is not None else None)

    def sample_images(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` (at most all) distinct random images, decoded: what health probes and monitors compare with."""
        pick = np.random.default_rng(seed).choice(len(self), size=min(n, len(self)), replace=False)
        return self.read(pick)[0]

    # ------------------------------------------------------------------ decoding
    def _map(self, fn: Any, items: list[int]) -> list[Any]:
        if len(items) < 8 or self._workers == 1:
            return [fn(i) for i in items]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._workers)  # Pillow decodes without the GIL
        return list(self._pool.map(fn, items))

    def _decode_one(self, index: int) -> np.ndarray | None:
        result = decode_file(self.file(index), self.resolution)
        return None if result is None else result[0]

    def _replacement(self, index: int) -> int:
        """The readable image used, every time, in place of unreadable ``index`` (the next one that decodes)."""
        if index in self._stand_in:
            return self._stand_in[index]
        n = len(self)
        for step in range(1, n):
            other = (index + step) % n
            if self._decode_one(other) is not None:
                warn_caller(
                    f"skipped unreadable image {self.file(index)}; using {self.file(other).name} in its place"
                )
                self._stand_in[index] = other
                return other
        raise DataError(f"no readable images left in {self.root}: every file fails to decode")

    def __getstate__(self) -> dict[str, Any]:  # a thread pool cannot cross process boundaries
        return self.__dict__ | {"_pool": None}


def _labels(
    root: Path, paths: np.ndarray, folders: tuple[np.ndarray, list[str | None]]
) -> tuple[list[str], np.ndarray | None]:
    """Class names (sorted) and int16 labels by first-level folder, by ``load_image_folder``'s rules.

    ``folders``: each image's folder id, and the id -> folder name table (None: directly in ``root``).
    """
    ids, names = folders
    class_names = sorted(n for n in names if n is not None)
    if len(class_names) < 2:
        return [], None
    if None in names:
        first = int(np.flatnonzero(ids == names.index(None))[0])
        example = Path(os.fsdecode(bytes(paths[first]))).name
        raise DataError(
            f"{root} has images directly inside it (e.g. {example}) next to class folders "
            f"{', '.join(class_names[:5])}; move them into a class folder or delete the class folders"
        )
    rank = {name: k for k, name in enumerate(class_names)}
    to_label = np.array([rank[n] for n in names if n is not None], dtype=np.int64)
    dtype = np.int16 if len(class_names) <= np.iinfo(np.int16).max else np.int32
    return class_names, to_label[ids].astype(dtype)

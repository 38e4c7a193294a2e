"""Audio data: read the user's sound files into fixed-length mono clips, and write clips as WAV.

Every clip goes through the same rule (``read_clip``), so a folder reads the same way each time:

1. decode with libsndfile (soundfile): WAV, FLAC, OGG (Vorbis, Opus), MP3, AIFF, AU and whatever else
   libsndfile opens, in any sample format (8/16/24/32-bit integer, float); only the first minute
   (``MAX_READ_SECONDS``) of a longer file is read;
2. mix to mono (the mean of the channels) and resample to ``sample_rate`` with a polyphase filter
   (``scipy.signal.resample_poly``, up/down factors reduced by their gcd);
3. if any sample lies outside [-1, 1] (float files, or resampling overshoot) divide by the peak;
   nothing else changes the level;
4. trim leading and trailing near-silence (samples below 1 % of the clip's peak);
5. fit to ``length`` samples: a shorter clip is centred, padded with zeros equally at both ends (the odd
   sample at the end); a longer one keeps the ``length`` samples centred on its centre of energy (the
   mean sample index weighted by the squared amplitude), shifted to stay inside the clip.

A folder is read recursively (``load_folder``): files are audio by suffix (``AUDIO_SUFFIXES``,
case-insensitive; hidden files and folders are ignored); two or more first-level sub-folders holding
audio make a labelled data set, one class per sub-folder (sorted by name), as image folders do.
Silent and unreadable files are skipped with a one-line reason in ``AudioData.skipped``.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ganforge.errors import ConfigError, DataError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif", ".au")
BUILTINS = ("spoken-digits",)
TRIM_FRACTION = 0.01  # leading / trailing samples below this fraction of the peak are silence
SILENT_PEAK = 1e-4  # a file whose peak (after the steps above) is below this is silent
MAX_READ_SECONDS = 60.0  # only the first minute of a longer file is read (memory stays bounded)
_WORKERS = 4


class _Unusable(Exception):
    """Why a file cannot be used (no path in the text: the caller adds the one it shows)."""


@dataclass
class AudioData:
    """Fixed-length mono clips and where they came from.

    ``clips`` is float32 ``(n, length)`` in [-1, 1]; ``labels`` int64 ``(n,)`` indexing ``class_names``, or
    None (and ``class_names == []``) when unlabelled. ``files[i]`` is clip i's path relative to the folder
    read; ``voices[i]`` who spoke it (the file name without suffix: for the spoken-digits built-in, the
    synthetic voice's name); both are empty for clips made in memory. ``skipped`` holds one line per file
    left out and why.
    """

    clips: np.ndarray = field(repr=False)
    labels: np.ndarray | None = field(repr=False)
    class_names: list[str]
    files: list[str] = field(repr=False)
    voices: list[str] = field(repr=False)
    sample_rate: int
    skipped: list[str] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        c = self.clips
        if not isinstance(c, np.ndarray) or c.dtype != np.float32 or c.ndim != 2:
            got = f"{c.dtype} {c.shape}" if isinstance(c, np.ndarray) else type(c).__name__
            raise DataError(f"clips must be a float32 array of shape (n, length); got {got}")
        for name, values in (("files", self.files), ("voices", self.voices)):
            if values and len(values) != len(c):  # empty: clips from memory, with no files behind them
                raise DataError(f"{len(c)} clips need {len(c)} {name} (or none); got {len(values)}")
        if self.labels is None:
            if self.class_names:
                raise DataError("class_names were given without labels; pass labels or class_names=[]")
            return
        labels = np.asarray(self.labels)
        if labels.shape != (len(c),):
            raise DataError(f"labels must have shape ({len(c)},) to match the clips; got {labels.shape}")
        if not np.issubdtype(labels.dtype, np.integer) or (
            len(labels) and (labels.min() < 0 or labels.max() >= len(self.class_names))
        ):
            raise DataError(
                f"labels must be whole numbers in [0, {len(self.class_names)}) to match class_names"
            )
        self.labels = labels.astype(np.int64)

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def length(self) -> int:
        """Samples per clip."""
        return int(self.clips.shape[1])

    @property
    def num_classes(self) -> int:
        """Number of classes (0 when unlabelled)."""
        return len(self.class_names)


def _check_rate_and_length(sample_rate: int, length: int) -> None:
    for name, value in (("sample_rate", sample_rate), ("length", length)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name} must be a positive whole number of samples; got {value!r}")


def fit_length(x: np.ndarray, length: int) -> np.ndarray:
    """Steps 4 and 5 of the module docstring: trim near-silence, then centre-pad or cut around the
    centre of energy to exactly ``length`` samples (float32)."""
    x = np.asarray(x, dtype=np.float32)
    peak = float(np.abs(x).max()) if x.size else 0.0
    if peak == 0.0:
        return np.zeros(length, np.float32)
    loud = np.flatnonzero(np.abs(x) >= TRIM_FRACTION * peak)
    x = x[loud[0] : loud[-1] + 1]
    if len(x) <= length:
        left = (length - len(x)) // 2
        return np.pad(x, (left, length - len(x) - left))
    energy = x.astype(np.float64) ** 2
    centre = float(np.dot(np.arange(len(x), dtype=np.float64), energy) / energy.sum())
    start = int(np.clip(round(centre) - length // 2, 0, len(x) - length))
    return np.ascontiguousarray(x[start : start + length])


def _decode(path: Path, sample_rate: int, length: int) -> np.ndarray:
    """read_clip's work; raises _Unusable with the reason alone."""
    import soundfile as sf

    if not path.exists():
        raise _Unusable("no such file; check the path")
    if path.is_dir():
        raise _Unusable("is a folder, not an audio file; pass one file (load_folder reads a folder)")
    if path.stat().st_size == 0:
        raise _Unusable("is an empty file (0 bytes); remove it or export it again")
    try:
        with sf.SoundFile(str(path)) as f:
            rate, frames = int(f.samplerate), int(f.frames)
            if rate <= 0:
                raise _Unusable(f"its header gives a sample rate of {rate} Hz; re-encode it as WAV or FLAC")
            x = f.read(frames=min(frames, int(MAX_READ_SECONDS * rate)), dtype="float32", always_2d=True)
    except sf.LibsndfileError as e:
        detail = " ".join((e.error_string or "").split()).rstrip(".") or f"libsndfile error {e.code}"
        if "not recognised" in detail.lower():
            raise _Unusable(
                f"not an audio file libsndfile can read ({detail}); convert it to WAV or FLAC, or remove it"
            ) from e
        if "does not exist" in detail.lower():  # libsndfile's words for some damaged MP3 files
            detail = "libsndfile could not open it"
        raise _Unusable(
            f"cannot be decoded ({detail}); the file may be damaged: re-export it, or remove it"
        ) from e
    except (RuntimeError, OSError, ValueError, MemoryError) as e:
        raise _Unusable(
            f"cannot be decoded ({' '.join(str(e).split()) or type(e).__name__}); re-export it, or remove it"
        ) from e
    if x.size == 0:
        raise _Unusable("holds 0 samples; remove it or record it again")
    if not np.isfinite(x).all():
        raise _Unusable("has NaN or infinite samples; re-export it, or remove it")
    x = x.mean(axis=1, dtype=np.float32) if x.shape[1] > 1 else x[:, 0]
    from ganforge.audio.spectral import resample  # here: importing this module stays free of torch

    x = resample(x, rate, sample_rate)
    peak = float(np.abs(x).max())
    if peak > 1.0:
        x = x / np.float32(peak)
    return fit_length(x, length)


def read_clip(path: str | os.PathLike[str], sample_rate: int, length: int) -> np.ndarray:
    """One file as a float32 ``(length,)`` mono clip in [-1, 1] at ``sample_rate`` (the rule in the module
    docstring). A silent file gives zeros. Raises DataError (one line naming the file) when the file is
    missing, not audio, damaged, empty or holds NaN / infinite samples."""
    _check_rate_and_length(sample_rate, length)
    try:
        return _decode(Path(path), int(sample_rate), int(length))
    except _Unusable as e:
        raise DataError(f"{path}: {e}") from None


def _scan(root: Path) -> tuple[list[Path], list[Path]]:
    """(audio files, other files) below ``root``, hidden ones ignored, sorted by relative path."""
    audio, other = [], []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            p = Path(folder) / name
            (audio if p.suffix.lower() in AUDIO_SUFFIXES else other).append(p)
    key = lambda p: p.relative_to(root).as_posix()  # noqa: E731
    return sorted(audio, key=key), sorted(other, key=key)


def _check_max_files(max_files: int | None) -> None:
    if max_files is not None and (
        isinstance(max_files, bool) or not isinstance(max_files, (int, np.integer)) or max_files < 1
    ):
        raise ConfigError(f"max_files must be a positive whole number or None; got {max_files!r}")


def _reading_order(classes: list[str | None]) -> list[int]:
    """Indices in the order files are read when only some are wanted: a fixed-seed shuffle within each
    class, then interleaved so any prefix has every class's first file and the classes in proportion."""
    rng = np.random.default_rng(0)
    keyed = []
    for k, name in enumerate(sorted(set(classes), key=lambda c: c or "")):
        members = [i for i, c in enumerate(classes) if c == name]
        for j, i in enumerate(rng.permutation(members)):
            keyed.append((j / len(members), k, int(i)))
    return [i for _, _, i in sorted(keyed)]


def _audio_files(root: Path) -> tuple[list[Path], list[str], list[str | None], list[str]]:
    """The audio files below ``root``, their relative paths, class folders (None each without classes)
    and the sorted class names (none unless two or more first-level folders hold audio). A missing
    folder, a file given for the folder, no audio, or loose files next to class folders: DataError."""
    if not root.exists():
        raise DataError(
            f"no such folder: {root}; DATA must be a folder of audio files ({', '.join(AUDIO_SUFFIXES)})"
        )
    if not root.is_dir():
        raise DataError(
            f"DATA must be a folder of audio files ({', '.join(AUDIO_SUFFIXES)}), not a file: "
            f"put {root.name} in a folder"
        )
    files, other = _scan(root)
    if not files:
        hint = (
            f" (it holds {len(other)} other file(s), e.g. {other[0].relative_to(root)}: "
            "convert them to WAV or FLAC)"
            if other
            else ""
        )
        raise DataError(f"no audio files ({', '.join(AUDIO_SUFFIXES)}) in {root}{hint}")
    rel = [p.relative_to(root).as_posix() for p in files]
    folders: list[str | None] = [r.split("/")[0] if "/" in r else None for r in rel]
    class_names = sorted({c for c in folders if c is not None})
    if len(class_names) >= 2 and None in folders:
        loose = rel[folders.index(None)]
        raise DataError(
            f"{root} mixes audio files at its top level (e.g. {loose}) with class sub-folders "
            f"({', '.join(class_names[:5])}{', ...' if len(class_names) > 5 else ''}): "
            "move the loose files into a class folder, or the class folders' files up"
        )
    if len(class_names) < 2:
        return files, rel, [None] * len(files), []
    return files, rel, folders, class_names


def _check_usable(
    root: Path, clips: dict[int, np.ndarray], reasons: dict[int, str], rel: list[str],
    folders: list[str | None], class_names: list[str], max_files: int | None,
) -> None:  # fmt: skip
    """Refuse a read that left no usable clip, or a class folder without one."""
    if not clips:
        first = min(reasons)
        raise DataError(
            f"no usable audio in {root}: {len(reasons)} file(s) read, all silent or unreadable "
            f"(first: {rel[first]}: {reasons[first]})"
        )
    tried = set(clips) | set(reasons)
    for name in class_names:
        if not any(folders[i] == name for i in clips):
            bad = [i for i in sorted(reasons) if folders[i] == name]
            every = all(i in tried for i, c in enumerate(folders) if c == name)
            scope = (
                f"{len(bad)} file(s)" if every else f"the {len(bad)} file(s) read of max_files={max_files}"
            )
            raise DataError(
                f"class folder {name!r} in {root} has no usable audio: {scope}, all silent or unreadable "
                f"(first: {rel[bad[0]]}: {reasons[bad[0]]})"
            )


def load_folder(
    path: str | os.PathLike[str], sample_rate: int, length: int, max_files: int | None = None
) -> AudioData:
    """Every audio file below the folder ``path`` as clips of ``length`` samples at ``sample_rate``.

    Two or more first-level sub-folders holding audio are classes (sorted by name); audio directly in the
    folder next to them is an error. Files are read on a few threads; silent (peak < 1e-4) and unreadable
    files are skipped, each with a reason in ``skipped``. ``max_files`` reads a fixed-seed random subset of
    about that many usable files (every class represented, in proportion), reading on past unusable ones.
    """
    _check_rate_and_length(sample_rate, length)
    _check_max_files(max_files)
    root = Path(path)
    files, rel, folders, class_names = _audio_files(root)
    if max_files is not None and class_names and max_files < len(class_names):
        raise ConfigError(
            f"max_files={max_files} is fewer than the {len(class_names)} class folders in {root}; "
            f"use at least {len(class_names)}"
        )

    order = list(range(len(files))) if max_files is None else _reading_order(folders)
    want = len(files) if max_files is None else min(int(max_files), len(files))
    clips: dict[int, np.ndarray] = {}
    reasons: dict[int, str] = {}

    def read_one(i: int) -> tuple[int, np.ndarray | None, str]:
        try:
            clip = _decode(files[i], int(sample_rate), int(length))
        except _Unusable as e:
            return i, None, str(e)
        if float(np.abs(clip).max()) < SILENT_PEAK:
            return i, None, f"silent (peak {float(np.abs(clip).max()):.1e}); remove it or record it again"
        return i, clip, ""

    pos = 0
    with ThreadPoolExecutor(max_workers=min(_WORKERS, os.cpu_count() or 1)) as pool:
        while len(clips) < want and pos < len(order):
            batch = order[pos : pos + max(want - len(clips), 1)]
            pos += len(batch)
            for i, clip, why in pool.map(read_one, batch):
                if clip is None:
                    reasons[i] = why
                else:
                    clips[i] = clip
    skipped = [f"{rel[i]}: {reasons[i]}" for i in sorted(reasons)]
    _check_usable(root, clips, reasons, rel, folders, class_names, max_files)
    keep = sorted(clips)
    labels = None
    if class_names:
        index = {name: k for k, name in enumerate(class_names)}
        labels = np.array([index[folders[i]] for i in keep], dtype=np.int64)
    return AudioData(
        clips=np.stack([clips[i] for i in keep]).astype(np.float32, copy=False),
        labels=labels,
        class_names=class_names,
        files=[rel[i] for i in keep],
        voices=[files[i].stem for i in keep],
        sample_rate=int(sample_rate),
        skipped=skipped,
    )


def load_audio(
    spec: str | os.PathLike[str],
    sample_rate: int,
    length: int,
    split: str = "train",
    max_files: int | None = None,
) -> AudioData:
    """A folder of audio files (``split`` must be "train"), or a built-in by name: "spoken-digits" (split
    "train" or "heldout"; the quick 7-voice build when ``$GANFORGE_SPOKEN_DIGITS=quick``). A string that
    names a built-in means the built-in; write ``./spoken-digits`` for a folder of that name."""
    _check_rate_and_length(sample_rate, length)
    if isinstance(spec, str) and spec in BUILTINS:
        from ganforge.audio import builtin

        if split not in builtin.SPLITS:
            raise DataError(
                f"the {spec} built-in has the splits {' and '.join(builtin.SPLITS)}; got split={split!r}"
            )
        folder = builtin.spoken_digits_dir(quick=builtin.quick_requested())
        data = load_folder(folder / split, sample_rate, length, max_files=max_files)
        data.class_names = [builtin.WORDS[int(name)] for name in data.class_names]  # folders 0..9
        return data
    path = Path(spec)
    if not path.exists():
        raise DataError(
            f"{spec} is neither a folder nor a built-in data set (built-ins: {', '.join(BUILTINS)})"
        )
    if split != "train":
        raise DataError(
            f"split={split!r} exists only for built-in data sets ({', '.join(BUILTINS)}); "
            "a folder has only 'train'"
        )
    return load_folder(path, sample_rate, length, max_files=max_files)


__all__ = [
    "AUDIO_SUFFIXES", "BUILTINS", "AudioData", "fit_length", "load_audio", "load_folder", "read_clip",
    "source_name",
]  # fmt: skip


def source_name(data: Any) -> str:
    """What the run was trained on, as evaluate and report will reload it: a built-in's name, a folder's
    absolute path, or "in memory"."""
    if isinstance(data, (AudioData, np.ndarray)):
        return "in memory"
    return data if isinstance(data, str) and data in BUILTINS else str(Path(data).resolve())

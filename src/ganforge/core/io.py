"""Files and fingerprints, written once for every wing: atomic writes (temp file + rename, so a crash
never leaves half a file), SHA-256 of files, content fingerprints of training data, and independent
random sub-streams."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], fsync: bool = False) -> Iterator[BinaryIO]:
    """An open binary file that becomes ``path`` only when the block ends without an error: it is
    written under a temp name in the same folder (``fh.name``, readable inside the block), then renamed;
    on an error the temp file is removed and ``path`` is untouched. ``fsync`` makes the bytes (and the
    rename) durable before the block returns, for files a crash must not lose."""
    path = Path(path)
    tmp = str(path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp"))
    # O_EXCL: a fresh file of this process's own; mode 0o666 minus the umask, as open() gives any file
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        with open(tmp, "wb") as fh:  # by name, so fh.name is the temp path
            yield fh
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
        if fsync:
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, fsync: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically (see ``atomic_file``)."""
    with atomic_file(path, fsync=fsync) as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Text (UTF-8) written atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """JSON (indented, keys sorted) written atomically."""
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fingerprint(parts: Iterable[bytes | np.ndarray | None]) -> str:
    """Content hash (SHA-1 hex) of arrays and byte strings in order (None parts are skipped), so a
    resume can refuse different data."""
    h = hashlib.sha1()
    for part in parts:
        if part is None:
            continue
        h.update(part if isinstance(part, bytes) else np.ascontiguousarray(part).tobytes())
    return h.hexdigest()


def substream_seed(seed: int, *key: int) -> int:
    """A 63-bit seed for the sub-stream ``key`` of ``seed``, independent of every other key's
    (``numpy.random.SeedSequence`` spawn keys)."""
    state = np.random.SeedSequence(seed, spawn_key=tuple(key)).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))


def rounded(value: Any) -> Any:
    """Floats rounded to 6 decimals, inside dicts and lists too (for readable JSON)."""
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return round(float(value), 6) if isinstance(value, (float, np.floating)) else value

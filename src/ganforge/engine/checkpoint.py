"""Weights and training state on disk: safetensors only, atomic writes, SHA-256 checked on load.

A training checkpoint is two files: ``ckpt-<step>.safetensors`` (every tensor: networks, optimiser
moments, RNG states) and ``checkpoint.json`` (the step, scalar state and the SHA-256 of the tensor file).
The tensor file is written under a temporary name, fsynced and renamed; only then is checkpoint.json
replaced, so at any instant checkpoint.json names a complete file whose checksum matches. A SIGKILL at
any point leaves the previous checkpoint usable.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ganforge.core.config import read_json, write_json
from ganforge.core.io import atomic_file, sha256_file
from ganforge.errors import CheckpointError

CHECKPOINT_INDEX = "checkpoint.json"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_tensors_atomic(
    tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None
) -> str:
    """Write tensors to ``path`` via temp file + fsync + rename; return the file's SHA-256."""
    # safetensors refuses tensors that share memory or are non-contiguous views; store plain copies.
    plain = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    try:
        with atomic_file(path, fsync=True) as fh:  # written by name (no second copy in memory), then synced
            save_file(plain, fh.name, metadata=metadata)
            digest = sha256_file(fh.name)
    except (SafetensorError, OSError) as e:  # e.g. a full disk: the previous file stays as it was
        raise CheckpointError(f"cannot write {path}: {e}; the previous checkpoint is intact") from None
    return digest


def load_tensors_checked(path: Path, sha256: str | None, *, what: str) -> dict[str, torch.Tensor]:
    """Load a safetensors file, refusing it if the checksum differs or the file is unreadable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what} is missing: {path}")
    if sha256 is not None and sha256_file(path) != sha256:
        raise CheckpointError(f"{what} is corrupt or was modified (checksum mismatch): {path}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{what} cannot be read ({path}): {e}") from None


def flatten_state(prefix: str, state: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Move every tensor of a nested state (optimiser state dicts) into ``tensors``; return the JSON rest."""
    if isinstance(state, torch.Tensor):
        key = prefix
        tensors[key] = state
        return {"__tensor__": key}
    if isinstance(state, dict):
        return {str(k): flatten_state(f"{prefix}/{k}", v, tensors) for k, v in state.items()} | {
            "__keys__": [[type(k).__name__, str(k)] for k in state]
        }
    if isinstance(state, (list, tuple)):
        return {"__list__": [flatten_state(f"{prefix}/{i}", v, tensors) for i, v in enumerate(state)]}
    return state


def unflatten_state(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten_state`."""
    if isinstance(skeleton, dict):
        if "__tensor__" in skeleton:
            return tensors[skeleton["__tensor__"]]
        if "__list__" in skeleton:
            return [unflatten_state(v, tensors) for v in skeleton["__list__"]]
        out = {}
        for kind, key in skeleton["__keys__"]:
            out[int(key) if kind == "int" else key] = unflatten_state(skeleton[key], tensors)
        return out
    return skeleton


def write_checkpoint(
    run_dir: Path, step: int, tensors: dict[str, torch.Tensor], state: dict[str, Any]
) -> Path:
    """Atomically write a training checkpoint for ``step`` and drop older ones."""
    run_dir = Path(run_dir)
    name = f"ckpt-{step:09d}.safetensors"
    digest = save_tensors_atomic(tensors, run_dir / name)
    write_json(run_dir / CHECKPOINT_INDEX, {"file": name, "sha256": digest, "step": step, "state": state})
    _fsync_dir(run_dir)
    for old in [*run_dir.glob("ckpt-*.safetensors*"), *run_dir.glob(".ckpt-*.tmp")]:  # and killed writes
        if old.name != name:
            old.unlink(missing_ok=True)
    return run_dir / name


def read_checkpoint(run_dir: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load the latest checkpoint of a run; every failure is a one-line CheckpointError."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run directory not found: {run_dir}")
    index = read_json(run_dir / CHECKPOINT_INDEX, what="checkpoint index")
    try:
        file, digest, state = index["file"], index["sha256"], index["state"]
    except KeyError as e:
        raise CheckpointError(f"checkpoint index {run_dir / CHECKPOINT_INDEX} lacks {e}") from None
    if "/" in file or "\\" in file or file.startswith("."):
        raise CheckpointError(f"checkpoint index names an invalid file: {file!r}")
    tensors = load_tensors_checked(run_dir / file, digest, what="checkpoint")
    return tensors, state


def has_checkpoint(run_dir: Path) -> bool:
    """True when ``run_dir`` holds a checkpoint index."""
    return (Path(run_dir) / CHECKPOINT_INDEX).is_file()


def dumps_compact(obj: Any) -> str:
    """JSON without spaces, for safetensors metadata values."""
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)

"""The one place that knows the kinds of data: kind name -> the wing that handles it.

A run directory's config.json names its ``kind``; ``load``, ``sample``, ``evaluate``, ``report``,
``serve``, ``verify``, ``export`` and sharded sampling look the kind up here and call the wing's
hooks (``core.protocols.Wing``). Wings are imported on demand, so a command pays only for the kind it
touches. Adding a kind of data is one line below plus the wing's own folder.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ganforge.errors import CheckpointError

if TYPE_CHECKING:
    from ganforge.core.protocols import Wing

# kind (as written in config.json) -> module whose WING attribute serves it
KINDS: dict[str, str] = {
    "image": "ganforge.images.wing",
    "superres": "ganforge.images.img2img.wing",
    "translate": "ganforge.images.img2img.wing",
    "table": "ganforge.tables.wing",
    "vector": "ganforge.vectors.wing",
    "series": "ganforge.timeseries.wing",
    "audio": "ganforge.audio.wing",
    "vocoder": "ganforge.audio.wing",
}


def wing(kind: str | None, where: object = None) -> Wing:
    """The wing that handles ``kind``; a CheckpointError naming the known kinds otherwise (and ``where``,
    the run directory, when given)."""
    if kind not in KINDS:
        known = ", ".join(sorted(KINDS))
        run = f"{where} holds " if where is not None else ""
        raise CheckpointError(f"{run}an unknown model kind {kind!r} (this ganforge knows: {known})")
    return importlib.import_module(KINDS[kind]).WING


def kinds() -> list[str]:
    """Every kind name, sorted."""
    return sorted(KINDS)


def wings() -> list[Wing]:
    """Every wing once (a wing may serve several kinds)."""
    seen: dict[str, Wing] = {}
    for path in KINDS.values():
        seen.setdefault(path, importlib.import_module(path).WING)
    return list(seen.values())

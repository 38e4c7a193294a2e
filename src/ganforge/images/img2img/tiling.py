"""Tiled inference for image-to-image networks: any image size in bounded memory, seams blended.

The input is cut into overlapping tiles; each is run with ``pad`` extra pixels of context (cropped from
the output), and neighbouring tiles are cross-faded over their overlap with linear ramps. Output rows
are finished one band of tiles at a time, so the working memory is one band, not the whole image.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ganforge.errors import ConfigError


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of ``tile`` pixels covering ``size`` with at least ``overlap`` in common."""
    if size <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, size - tile, step))
    return starts + [size - tile]


def _ramp(length: int, before: int, after: int) -> np.ndarray:
    """Weights 1 in the middle, rising over the ``before`` first and falling over the ``after`` last items."""
    w = np.ones(length, np.float32)
    if before:
        w[:before] = (np.arange(before, dtype=np.float32) + 0.5) / before
    if after:
        w[length - after :] = np.minimum(
            w[length - after :], (np.arange(after, 0, -1, dtype=np.float32) - 0.5) / after
        )
    return w


def tiled_apply(
    fn: Callable[[np.ndarray], np.ndarray], image: np.ndarray, scale: int, tile: int = 128, overlap: int = 16,
    pad: int = 16,
) -> np.ndarray:  # fmt: skip
    """Apply ``fn`` (uint8 ``(h, w, C)`` -> float ``(h*scale, w*scale, C)`` in 0..255) to ``image`` by tiles.

    Returns the uint8 ``(H*scale, W*scale, C)`` result.
    """
    if tile < 8 or overlap < 0 or pad < 0 or overlap >= tile:
        raise ConfigError(
            f"tiles need tile >= 8 and 0 <= overlap < tile, pad >= 0 (got {tile}, {overlap}, {pad})"
        )
    h, w, c = image.shape
    s = scale
    out = np.empty((h * s, w * s, c), np.uint8)
    ys, xs = tile_starts(h, tile, overlap), tile_starts(w, tile, overlap)
    pending = np.zeros((0, w * s, c), np.float32)  # rows not final yet, from pending_top on
    pending_w = np.zeros((0, 1, 1), np.float32)
    pending_top = 0
    for i, y0 in enumerate(ys):
        y1 = min(y0 + tile, h)
        band = np.zeros(((y1 - y0) * s, w * s, c), np.float32)
        for j, x0 in enumerate(xs):
            x1 = min(x0 + tile, w)
            py0, py1, px0, px1 = max(0, y0 - pad), min(h, y1 + pad), max(0, x0 - pad), min(w, x1 + pad)
            res = fn(image[py0:py1, px0:px1])
            res = res[(y0 - py0) * s : (y1 - py0) * s, (x0 - px0) * s : (x1 - px0) * s]
            left = (xs[j - 1] + tile - x0) * s if j > 0 else 0
            right = (x1 - xs[j + 1]) * s if j + 1 < len(xs) else 0
            band[:, x0 * s : x1 * s] += res * _ramp((x1 - x0) * s, left, right)[None, :, None]
        top = (ys[i - 1] + tile - y0) * s if i > 0 else 0
        bottom = (y1 - ys[i + 1]) * s if i + 1 < len(ys) else 0
        wy = _ramp((y1 - y0) * s, top, bottom)[:, None, None]
        # Merge into the pending rows (the overlap with the previous band), then finish what no later
        # band touches.
        start = y0 * s - pending_top
        grown = np.zeros((y1 * s - pending_top, w * s, c), np.float32)
        grown_w = np.zeros((y1 * s - pending_top, 1, 1), np.float32)
        grown[: len(pending)], grown_w[: len(pending)] = pending, pending_w
        grown[start:] += band * wy
        grown_w[start:] += wy
        done = (ys[i + 1] * s if i + 1 < len(ys) else h * s) - pending_top
        out[pending_top : pending_top + done] = np.clip(np.rint(grown[:done] / grown_w[:done]), 0, 255)
        pending, pending_w, pending_top = grown[done:], grown_w[done:], pending_top + done
    return out

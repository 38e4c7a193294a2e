"""An invisible watermark for small generated images, a PNG label, and ``verify``.

What is embedded: the 59 coded bits of :mod:`.payload` (a 20-bit model id, a 12-bit check, BCH parity).
Where: in the luminance, in low-to-middle frequencies of the DCT of the image's central square (a 10 %
margin stays unmarked, so a 10 % crop keeps the whole mark). How: the band is cut into cells of
neighbouring frequencies; each coded bit is a keyed random direction inside one cell, and the projection
of the image onto it, divided by the cell's own scale (the energy of the cell's unmarked part, floored in
proportion to the mean luminance), is quantised onto one of two interleaved lattices (rational dither
modulation). Quantising cancels the image's own content, which at 28-64 px would drown any additive
pattern weak enough to stay invisible; dividing by the cell's scale makes the mark indifferent to
brightness changes and to the smooth attenuation of JPEG and resizing.

``verify`` tries the image as it is, integer-upscaled, as a crop at every placement, resized, and as a
grid of tiles, and calls the mark found only when a BCH codeword with a valid check decodes (or, given
the ids of known runs, when at least 49 of 59 bits match one). The key is public and fixed: the mark
tells honest users where an image came from; it does not resist a deliberate forger.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections import Counter
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError
from scipy.fft import dctn, idctn

from ganforge.errors import DataError
from ganforge.safety.label import LABEL_KEYS, label_text, png_bytes, png_info, save_png  # noqa: F401
from ganforge.safety.payload import (  # noqa: F401  (re-exported: the watermark's public names live here)
    BCH_T,
    CHECK_BITS,
    CODE_BITS,
    ID_BITS,
    KEY,
    check_model_id,
    decode_bits,
    encode_id,
    model_id_from_digest,
    new_model_id,
)

NATIVE_SIZES = (16, 28, 32, 56, 64, 128)
BAND = (2.0, 0.40)  # lowest DCT radius (index units), highest radius as a fraction of the side
RINGS, SECTORS = 4, 3
ROUNDS = 10  # at most; most images are done after one or two
MARGIN = 0.8  # re-embed until every bit reads with at least this soft value (cos of the lattice phase)
MATCH_AGREE = 49  # of 59 bits agreeing with a known run's code: chance level 1.4e-7 per comparison
SPREAD = 1.6  # band coefficients per coded bit (the rest sets each cell's scale)
BORDER = 0.1  # unmarked margin (share of the side): crops of up to 10 % keep the whole mark
STEP = 0.3  # quantiser step, in units of the cell's scale (sets strength vs. visibility)
FLOOR, FLOOR_OFFSET = 0.8, 8.0  # cell scale floor: FLOOR * (mean luminance + FLOOR_OFFSET)
_LUMA = np.array([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class VerifyResult:
    """What ``verify`` found in one image.

    ``found``: a valid mark decoded. ``model_id``: the id it carries (5 hex digits) or None.
    ``bit_accuracy``: share of the 59 coded bits read correctly (1 - corrected errors / 59) when found.
    ``label``: the PNG text chunks labelling the image synthetic, or None when absent. ``how``: where the
    mark was found ("as is", "crop", "resized", "upscaled", "tiles k/n"). ``run``: the run directory whose
    id matches, when ``verify`` was given run directories.
    """

    found: bool
    model_id: str | None = None
    bit_accuracy: float | None = None
    label: dict[str, str] | None = None
    how: str = ""
    run: str | None = None
    tiles: tuple[int, int] | None = None

    @property
    def label_present(self) -> bool:
        """True when the file carries the ganforge synthetic-content label."""
        return bool(self.label) and self.label.get(LABEL_KEYS[0]) == "true"

    @property
    def confidence(self) -> float:
        """0 when not found, else the bit accuracy (how cleanly the mark decoded)."""
        return float(self.bit_accuracy or 0.0) if self.found else 0.0


# ---------------------------------------------------------------------------------------------- layout
@dataclass(frozen=True)
class _Layout:
    """Which DCT coefficients carry which bit, for one image side ``n`` (derived from the fixed key).

    Only the central ``n - 2 * border`` square is marked, so a crop of up to 10 % leaves the mark whole.
    """

    n: int
    border: int
    cells: list[tuple[np.ndarray, np.ndarray]]  # (flat coefficient indices, directions L_k x D_k)
    bit_of: list[np.ndarray]  # coded-bit index of each direction, per cell
    dither: list[np.ndarray]  # per direction, in [0, 1) step units


@functools.lru_cache(maxsize=16)
def _layout(n: int) -> _Layout:
    seed = int.from_bytes(hashlib.sha256(KEY + n.to_bytes(2, "big")).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    border = int(np.ceil(BORDER * n)) if n >= 24 else 0
    m = n - 2 * border
    u, v = np.meshgrid(np.arange(m), np.arange(m), indexing="ij")
    radius, angle = np.hypot(u, v).ravel(), np.arctan2(v, u).ravel()
    hi = BAND[1] * m
    while np.count_nonzero((radius >= BAND[0]) & (radius <= hi)) < SPREAD * CODE_BITS:
        hi += 0.5  # tiny images need a wider band to hold the code at all
    band = np.flatnonzero((radius >= BAND[0]) & (radius <= hi))
    band = band[np.argsort(radius[band], kind="stable")]
    # Cells of neighbouring frequencies (rings split into angular sectors): resizing and JPEG scale
    # nearby frequencies alike, and each cell is normalised by its own energy.
    groups = []
    for ring in np.array_split(band, RINGS):
        ring = ring[np.argsort(angle[ring], kind="stable")]
        groups += np.array_split(ring, SECTORS)
    sizes = np.array([len(g) for g in groups], float)
    counts = np.floor(CODE_BITS * sizes / sizes.sum()).astype(int)
    counts[np.argsort(-(CODE_BITS * sizes / sizes.sum() - counts))[: CODE_BITS - counts.sum()]] += 1
    order = rng.permutation(CODE_BITS)  # interleave: neighbouring code bits live in different cells
    cells, bit_of, dither, start = [], [], [], 0
    for idx, count in zip(groups, counts, strict=True):
        q, _ = np.linalg.qr(rng.standard_normal((len(idx), count)))
        cells.append((idx, q.T.copy()))
        bit_of.append(order[start : start + count])
        dither.append(rng.random(count))
        start += count
    return _Layout(n, border, cells, bit_of, dither)


def _window(y: np.ndarray, border: int) -> np.ndarray:
    return y[:, border : y.shape[1] - border, border : y.shape[2] - border] if border else y


def _luma(images: np.ndarray) -> np.ndarray:
    x = images.astype(np.float64)
    return x[..., 0] if x.shape[-1] == 1 else x @ _LUMA


def _floor(coef: np.ndarray) -> np.ndarray:
    """Smallest cell scale, proportional to the mean luminance (so brightness changes cancel out)."""
    m = np.sqrt(coef.shape[1])
    return FLOOR * (np.maximum(coef[:, :1], 0) / m + FLOOR_OFFSET)


def _cell_values(
    coef: np.ndarray, idx: np.ndarray, dirs: np.ndarray, floor: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Cell coefficients, their scale and the normalised projections.

    The scale is the RMS of the part of the cell orthogonal to the marked directions: the mark never
    changes it (one-shot embedding), and brightness or smooth filtering scale it like the projections.
    """
    c = coef[:, idx]
    q = c @ dirs.T
    rest = c - q @ dirs
    norm = np.sqrt((rest**2).sum(axis=1, keepdims=True) / (len(idx) - len(dirs)) + floor**2)
    return c, norm, q / norm


def _embed_luma(y: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """The luminance change (float) that puts ``bits`` (n, 59) into ``y`` (n, N, N)."""
    lay = _layout(y.shape[1])
    win = _window(y, lay.border)
    coef = dctn(win, axes=(1, 2), norm="ortho").reshape(len(y), -1)
    delta_coef, floor = np.zeros_like(coef), _floor(coef)
    for (idx, dirs), which, dith in zip(lay.cells, lay.bit_of, lay.dither, strict=True):
        _, norm, t = _cell_values(coef, idx, dirs, floor)
        offset = (dith + 0.5 * bits[:, which]) * STEP
        target = np.round((t - offset) / STEP) * STEP + offset
        delta_coef[:, idx] = ((target - t) * norm) @ dirs
    delta = np.zeros_like(y)
    _window(delta, lay.border)[:] = idctn(delta_coef.reshape(win.shape), axes=(1, 2), norm="ortho")
    return delta


def _soft_bits(y: np.ndarray) -> np.ndarray:
    """Per coded bit, a value in [-1, 1]: +1 = surely 0, -1 = surely 1 (y: (k, N, N) luminance)."""
    lay = _layout(y.shape[1])
    coef = dctn(_window(y, lay.border), axes=(1, 2), norm="ortho").reshape(len(y), -1)
    out, floor = np.zeros((len(y), CODE_BITS)), _floor(coef)
    for (idx, dirs), which, dith in zip(lay.cells, lay.bit_of, lay.dither, strict=True):
        t = _cell_values(coef, idx, dirs, floor)[2]
        out[:, which] = np.cos(2 * np.pi * (t / STEP - dith))
    return out


# ---------------------------------------------------------------------------------------------- embedding
def mark(images: np.ndarray, model_id: str) -> np.ndarray:
    """Embed the invisible mark carrying ``model_id`` in uint8 images ``(N, H, W, C)`` (C 1 or 3).

    Returns new uint8 images; the change is a few grey levels in the image's low-middle frequencies.
    """
    arr = np.asarray(images)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[1] != arr.shape[2] or arr.shape[3] not in (1, 3):
        raise DataError(f"mark needs uint8 images of shape (N, H, H, 1 or 3); got {arr.dtype} {arr.shape}")
    bits = np.broadcast_to(encode_id(model_id), (len(arr), CODE_BITS)).astype(np.float64)
    arr = arr.copy()
    out = arr.astype(np.float64)
    todo = np.arange(len(arr))
    for _ in range(ROUNDS):  # rounding and clipping to 0..255 disturb the mark: re-embed on the real pixels
        out[todo] += _embed_luma(_luma(arr[todo]), bits[todo])[..., None]
        arr[todo] = np.clip(np.round(out[todo]), 0, 255).astype(np.uint8)
        soft = _soft_bits(_luma(arr[todo])) * (1 - 2 * bits[todo])  # > 0: the bit reads right
        wrong = (soft < MARGIN).any(axis=1)
        todo = todo[wrong]
        if not len(todo):
            break
    return arr


# ---------------------------------------------------------------------------------------------- verify
def _resize(y: np.ndarray, n: int) -> np.ndarray:
    img = Image.fromarray(y.astype(np.float32), "F")
    return np.asarray(img.resize((n, n), Image.Resampling.BICUBIC), np.float64)


def _candidates(y: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Ways the (luminance) image may sit in a native frame: as is, upscaled, cropped, resized."""
    h, w = y.shape
    out: list[tuple[str, np.ndarray]] = []
    for n in NATIVE_SIZES:
        if h == w == n:
            out.append(("as is", y))
        elif h == w and h % n == 0:
            k = h // n
            out.append(("upscaled", y.reshape(n, k, n, k).mean(axis=(1, 3))))
        elif 0.8 * n <= min(h, w) and max(h, w) < n:  # a crop: try every placement in the frame
            for dy in range(n - h + 1):
                for dx in range(n - w + 1):
                    pad = ((dy, n - h - dy), (dx, n - w - dx))
                    out.append(("crop", np.pad(y, pad, mode="edge")))
    if not out:
        side = max(h, w)
        n = min(NATIVE_SIZES, key=lambda s: abs(np.log(side / s)))
        if 0.4 <= side / n <= 2.5:
            out.append(("resized", _resize(y, n)))
    return out


def _decode_frames(frames: list[tuple[str, np.ndarray]]) -> tuple[str, str, int] | None:
    by_size: dict[int, list[tuple[str, np.ndarray]]] = {}
    for how, y in frames:
        by_size.setdefault(y.shape[0], []).append((how, y))
    for group in by_size.values():
        soft = _soft_bits(np.stack([y for _, y in group]))
        for (how, _), s in zip(group, soft, strict=True):
            hit = decode_bits((s < 0).astype(np.uint8))
            if hit is not None:
                return hit[0], how, hit[1]
    return None


def _grid_layouts(y: np.ndarray) -> list[list[np.ndarray]]:
    """Tilings of a sample grid (ganforge grids: 2-px padding) that fit ``y``'s size, each a list of
    tiles; [] when ``y`` cannot be a grid."""
    h, w = y.shape
    layouts = []
    for n in NATIVE_SIZES:
        for pad in (2, 0):
            rows, cols = (h - pad) / (n + pad), (w - pad) / (n + pad)
            if rows.is_integer() and cols.is_integer() and rows * cols >= 2:
                tops = [pad + r * (n + pad) for r in range(int(rows))]
                lefts = [pad + c * (n + pad) for c in range(int(cols))]
                layouts.append([y[t : t + n, left : left + n] for t in tops for left in lefts])
    return layouts


def _decode_grid(y: np.ndarray) -> tuple[tuple[str, str, int] | None, tuple[int, int] | None]:
    """Decode every tile of every fitting layout; found when most tiles carry one id."""
    tiles = None
    for parts in _grid_layouts(y):
        found = [_decode_frames([("tile", t)]) for t in parts]
        ids = Counter(f[0] for f in found if f is not None)
        if tiles is None or sum(ids.values()) > tiles[0]:
            tiles = (sum(ids.values()), len(parts))
        if ids and ids.most_common(1)[0][1] * 2 > len(parts):
            ident = ids.most_common(1)[0][0]
            errs = max(f[2] for f in found if f is not None and f[0] == ident)
            return (ident, f"tiles {ids[ident]}/{len(parts)}", errs), (ids[ident], len(parts))
    return None, tiles


def read_image(
    source: str | os.PathLike[str] | Image.Image | np.ndarray,
) -> tuple[np.ndarray, dict[str, str]]:
    """Luminance (float, H x W) and PNG text chunks of a file, a PIL image or a uint8 array."""
    if isinstance(source, np.ndarray):
        arr = source if source.ndim == 3 else source[..., None]
        if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
            raise DataError(f"an image must be uint8 (H, W[, C]); got {source.dtype} {source.shape}")
        return _luma(arr[..., :3] if arr.shape[2] == 4 else arr), {}
    if isinstance(source, Image.Image):
        img = source
    else:
        try:
            img = Image.open(source)
            img.load()
        except FileNotFoundError:
            raise DataError(f"{source}: no such file") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
            raise DataError(f"{source}: not a readable image ({e.__class__.__name__})") from None
    text = {str(k): str(v) for k, v in getattr(img, "text", {}).items()}
    comment = img.info.get("comment", b"")
    comment = comment.decode("utf-8", "replace") if isinstance(comment, bytes) else str(comment)
    if comment.startswith("synthetic (ganforge model "):  # the GIF label written by `interpolate`
        text |= {LABEL_KEYS[0]: "true", LABEL_KEYS[1]: comment.removeprefix("synthetic (ganforge model ")[:5]}
    grey = img.mode in ("1", "L", "LA", "I", "I;16", "F")
    arr = np.asarray(img.convert("L" if grey else "RGB"))
    return _luma(arr[..., None] if grey else arr), text


def verify(
    image: str | os.PathLike[str] | Image.Image | np.ndarray, runs: dict[str, str] | None = None
) -> VerifyResult:
    """Look for the ganforge mark in one image (file path, PIL image or uint8 array).

    ``runs`` maps model ids to run names; a found id is then named. Grids of tiles are checked tile by
    tile and count as found when more than half the tiles carry the same id.
    """
    y, text = read_image(image)
    label = {k: v for k, v in text.items() if k.startswith("ganforge:")} or None
    hit = _decode_frames(_candidates(y))
    tiles = None
    if hit is None:
        hit, tiles = _decode_grid(y)
    if hit is None and runs:
        layouts = _grid_layouts(y)
        hit = _match_known(
            _candidates(y) or [("tile", t) for t in (layouts[0] if layouts else [])], list(runs)
        )
    if hit is None:
        return VerifyResult(False, label=label, tiles=tiles)
    ident, how, errs = hit
    run = (runs or {}).get(ident)
    return VerifyResult(True, ident, 1 - errs / CODE_BITS, label, how, run, tiles)


def _match_known(frames: list[tuple[str, np.ndarray]], ids: list[str]) -> tuple[str, str, int] | None:
    """Compare read bits with the codes of known model ids: tolerates twice the errors blind decoding
    does, at a chance level of 1.4e-7 per comparison."""
    if not frames or not ids:
        return None
    codes = np.stack([encode_id(i) for i in ids])
    best: tuple[int, str, str] = (-1, "", "")
    for n in {f.shape[0] for _, f in frames}:
        group = [(how, f) for how, f in frames if f.shape[0] == n]
        bits = (_soft_bits(np.stack([f for _, f in group])) < 0).astype(np.uint8)
        agree = (bits[:, None, :] == codes[None]).sum(axis=2)  # frames x ids
        i, j = np.unravel_index(int(agree.argmax()), agree.shape)
        if agree[i, j] > best[0]:
            best = (int(agree[i, j]), ids[j], group[i][0])
    if best[0] < MATCH_AGREE:
        return None
    return best[1], f"{best[2]}, matched to a known run", CODE_BITS - best[0]


def bit_accuracy(image: np.ndarray | Image.Image | str, model_id: str) -> float:
    """Share of the 59 coded bits that read back as embedded for ``model_id`` (best placement tried)."""
    y, _ = read_image(image)
    layouts = _grid_layouts(y)
    frames = _candidates(y) or [("tile", t) for t in (layouts[0][:1] if layouts else [])]
    if not frames:
        return 0.5
    expected = encode_id(model_id)
    best = 0.0
    for n in {f.shape[0] for _, f in frames}:
        soft = _soft_bits(np.stack([f for _, f in frames if f.shape[0] == n]))
        best = max(best, float(((soft < 0) == expected).mean(axis=1).max()))
    return best

"""An inaudible watermark for generated sound clips: the model id, read back from the sound alone.

What is embedded: the 59 coded bits of :mod:`ganforge.safety.payload` (a 20-bit model id, a 12-bit keyed
check, BCH parity correcting 5 errors), the same payload as the image mark.

Where: in the short-time spectrum (frames of 32 ms every 16 ms, sqrt-Hann windows, so overlap-add rebuilds
an unchanged clip exactly), between 125 Hz and 3.25 kHz, a band that survives a trip through 8 kHz. The
band is cut into 50 *pairs* of neighbouring 31.25 Hz bins (side A, side B). Every frame carries 4 of the
coded bits; each owns a random quarter of the pairs, spread over the whole band, and the layout repeats
every 15 frames (240 ms: 60 places for the 59 bits). All of it follows from the fixed public key, at any
sample rate from 8 to 48 kHz (frames and bins are set in seconds and hertz).

How: for one bit in one 240-ms period, A and B are the energies of the A and B sides of all the pairs the
bit owns, and the bit's value is the angle ``atan2(sqrt(A), sqrt(B))``. The angle is quantised onto one of
two interleaved lattices (dithered quantisation index modulation, step 0.094 rad, each angle moved 80 %
of the way: distortion compensation) by rotating the vector (sqrt B, sqrt A): the A bins get one gain,
the B bins another, and the energy of the bit's pairs is kept. So the change is proportional to the sound
already there (silence stays silent; the mark rides on the voice's own harmonics), the angle ignores the
clip's volume, and its noise depends on the bit's whole energy, not on its weaker side (a plain log ratio
of A and B is ruined by the near-empty bins between harmonics). Overlap-add blurs each change into the
neighbouring frames and bins, so the embedder re-reads the marked clip and corrects it (4 passes), then
takes any bit whose read-back vote is narrow the whole way to its lattice point (2 more passes, for those
clips only). The mark is about 30.5 dB below the clip (``snr_db``); a clip whose mark came out louder
than 30.2 dB below it gets the mark scaled down. A 1-s clip of a spoken digit holds it in its 0.3-0.6 s
of voice, where each bit gets one to three periods' worth of pairs.

Reading: each bit's soft value is the cosine of its angle's phase on the lattice, averaged over the
clip's periods weighted by their energy. The reader does not know where the clip started (it may have
been cropped), so it tries the frame grid at 32 shifts within a hop (every 0.5 ms; the angles tolerate
about 0.25 ms) times the 15 places of the first frame in the period: 480 alignments.

False positives: a random 59-bit word lies within 5 bits of one of the 2^20 valid codewords with
probability 2^20 * V(59, 5) / 2^59 = 1.0e-5 (V: Hamming ball volume), within 2 bits with 3.2e-9. The clip's
own grid ("as is", where an untouched generated clip is read) accepts up to 5 corrected bits; the other
479 alignments accept at most 2: 1.0e-5 + 479 * 3.2e-9 = 1.2e-5 per unmarked clip, about one false mark
in 87,000 clips (a 1.2 % chance in a batch of 1,000). Given known ids, a match of >= 49 of 59 bits at any
alignment adds at most 480 * 1.35e-7 = 6.5e-5 per known id per clip (a union bound; neighbouring
alignments are strongly correlated, so the real rate is lower). Measured: 0 of 1,000 varied unmarked
clips, blind and with 3 known ids.

Measured (``benchmarks/audio_watermark.py``: 100 speech-like 1-s clips at 16 kHz, 0.3-0.6 s of voice,
background noise 40-70 dB below the peak): all marks read back with every bit right untouched, after
16-bit WAV, 8 kHz resampling and back, +-10 % volume and 100 ms cut from either end (and 50-200 ms cut
from the start, with or without 16-bit WAV: all found), and after MP3 at 128 kbit/s (ffmpeg/LAME: all),
64 kbit/s (97 %) or AAC at 96 kbit/s (99 %). libsndfile's own MP3 encoder (what ``soundfile.write`` does,
about 46 kbit/s at 16 kHz) keeps 91 % of the bits: found in 68 % of clips blind, 86 % given the id; the
misses are mostly clips whose background noise is within 50 dB of the peak (at 44.1 kHz: all found).
NOT survived at this strength: default-quality Ogg Vorbis (Vorbis leaves 14-18 dB of noise above 750 Hz
in speech; 77 % of the bits survive, 3 % of clips are found blind, 25 % given the id; a step of 0.3 rad,
20.5 dB SNR, brings it to 80 %) and lossy codecs on 8 kHz clips (MP3 0 %, Vorbis 20 %). Other limits:
clips shorter than 0.25 s cannot carry the mark (``mark`` refuses them, ``verify_clip`` reports not
found); pitch or speed changes, time stretching, filtering within 125 Hz - 3.25 kHz and mixing with
other sound destroy or weaken it. The key is public and fixed, like the image mark's: the mark tells
honest users where a clip came from; it does not resist a deliberate forger.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft

from ganforge.errors import ConfigError, DataError
from ganforge.safety.payload import BCH_T, CODE_BITS, KEY, decode_bits, encode_id

HOP_SECONDS = 0.016  # frames of 32 ms every 16 ms (sqrt-Hann windows: overlap-add rebuilds a clip exactly)
LOW_HZ, N_PAIRS = 125.0, 50  # 50 pairs of neighbouring 31.25 Hz bins: 125 Hz .. 3.25 kHz
PERIOD_FRAMES, BITS_PER_FRAME = 15, 4  # the layout repeats every 15 frames (240 ms); 4 bits share a frame
STEP = 0.094  # quantiser step of a bit's angle (radians): strength against audibility
COMPENSATE = 0.8  # each angle is moved 80 % of the way to its lattice point (distortion compensation)
ROUNDS = 4  # embedding passes (each re-reads the marked clip and corrects what overlap-add blurred)
VOTE_MARGIN = 0.3  # bits that then read back with a weaker vote get two more passes, the whole way
GAIN_MAX = 10.0  # at most this gain on the nearly empty side of a bit's pairs
MIN_SNR_DB = 30.2  # a clip's mark that comes out louder than this (re the clip) is scaled down to it
SUB_OFFSETS = 32  # the reader tries the frame grid every hop / 32 samples (0.5 ms)...
MAX_ERRORS_SHIFTED = 2  # ...and accepts, off the clip's own grid, codewords with at most 2 corrected bits
MATCH_AGREE = 49  # of 59 bits agreeing with a known model's code
MIN_SECONDS = PERIOD_FRAMES * HOP_SECONDS + 0.01  # 0.25 s: one whole period
MIN_RATE, MAX_RATE = 8000, 48000
SILENCE = 1e-6  # a clip with no sample above this (-120 dBFS) is silent: there is nothing to read
CHUNK = 16  # clips embedded together (small chunks keep the spectra in cache)


@dataclass(frozen=True)
class AudioVerifyResult:
    """What ``verify_clip`` found in one clip.

    ``found``: a valid mark decoded (or, given known ids, one matched). ``model_id``: the id it carries (5
    hex digits) or None. ``bit_accuracy``: share of the 59 coded bits read correctly (1 - corrected errors
    / 59; for a match with a known id, the agreeing share). ``how``: where the mark was found ("as is",
    "offset 1600 samples", "..., matched to a known id") or why it was not ("too short ...").
    """

    found: bool
    model_id: str | None = None
    bit_accuracy: float | None = None
    how: str = ""

    @property
    def confidence(self) -> float:
        """0 when not found, else the bit accuracy."""
        return float(self.bit_accuracy or 0.0) if self.found else 0.0


# ---------------------------------------------------------------------------------------------- layout
@dataclass(frozen=True)
class _Grid:
    hop: int
    window: np.ndarray  # sqrt-Hann, 2 * hop samples (periodic)
    lo: int  # first bin of the first pair


@functools.lru_cache(maxsize=32)
def _grid(sample_rate: int) -> _Grid:
    hop = int(round(HOP_SECONDS * sample_rate))
    n_fft = 2 * hop
    window = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    return _Grid(hop, window, int(round(LOW_HZ * n_fft / sample_rate)))


@dataclass(frozen=True)
class _Layout:
    bit_of: np.ndarray  # (PERIOD_FRAMES * N_PAIRS,) the coded bit each pair of each frame carries
    onehot: np.ndarray  # the same as a 0/1 matrix (PERIOD_FRAMES * N_PAIRS, CODE_BITS)
    dither: np.ndarray  # (CODE_BITS,) each bit's lattice offset, in steps
    group_of: np.ndarray  # (N_PAIRS, PERIOD_FRAMES * BITS_PER_FRAME) 0/1: pair -> (place, group) slot
    slot_bit: np.ndarray  # (PERIOD_FRAMES * BITS_PER_FRAME, CODE_BITS) 0/1: slot -> coded bit


@functools.lru_cache(maxsize=1)
def _layout() -> _Layout:
    """Which bit each (frame of the period, pair) carries, from the fixed public key.

    Each frame of the period carries 4 bits; each of them gets a random quarter of the 50 pairs, spread
    over the whole band, so that every bit sees the loud harmonics of some part of the spectrum."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(KEY + b"audio-v1").digest()[:8], "big"))
    frame_bits = (rng.permutation(PERIOD_FRAMES * BITS_PER_FRAME) % CODE_BITS).reshape(PERIOD_FRAMES, -1)
    groups = np.stack([rng.permutation(N_PAIRS) % BITS_PER_FRAME for _ in range(PERIOD_FRAMES)])
    bit_of = np.take_along_axis(frame_bits, groups, axis=1).ravel()
    onehot = np.zeros((bit_of.size, CODE_BITS), np.float32)
    onehot[np.arange(bit_of.size), bit_of] = 1.0
    slots = np.arange(PERIOD_FRAMES)[:, None] * BITS_PER_FRAME + groups  # (place, pair) -> slot
    group_of = np.zeros((N_PAIRS, PERIOD_FRAMES * BITS_PER_FRAME), np.float32)
    group_of[np.tile(np.arange(N_PAIRS), PERIOD_FRAMES), slots.ravel()] = 1.0
    slot_bit = np.zeros((PERIOD_FRAMES * BITS_PER_FRAME, CODE_BITS), np.float32)
    slot_bit[np.arange(slot_bit.shape[0]), frame_bits.ravel()] = 1.0
    return _Layout(bit_of, onehot, rng.random(CODE_BITS), group_of, slot_bit)


# ---------------------------------------------------------------------------------------------- STFT
def _frames(x: np.ndarray, grid: _Grid, shift: int = 0) -> np.ndarray:
    """Windowed frames (n, M, 2 * hop) starting at samples ``m * hop - hop + shift``: with shift 0, every
    sample of ``x`` lies in exactly two frames."""
    hop = grid.hop
    n, length = x.shape
    front = hop - shift
    blocks = -(-(length + hop) // hop) + 1  # the same count for every shift
    padded = np.zeros((n, blocks * hop), np.float32)
    padded[:, front : front + length] = x
    view = np.lib.stride_tricks.sliding_window_view(padded, 2 * hop, axis=1)[:, ::hop]
    return view * grid.window


def _overlap_add(frames: np.ndarray, grid: _Grid, length: int) -> np.ndarray:
    hop = grid.hop
    n, m, _ = frames.shape
    frames = frames * grid.window
    out = np.zeros((n, m + 1, hop), np.float32)
    out[:, :m] += frames[..., :hop]
    out[:, 1:] += frames[..., hop:]
    return out.reshape(n, -1)[:, hop : hop + length]


def _pair_energy(spec: np.ndarray, grid: _Grid) -> np.ndarray:
    """Energy of each side of each pair, per frame: (n, M, N_PAIRS, 2)."""
    s = spec[..., grid.lo : grid.lo + 2 * N_PAIRS]
    e = s.real**2 + s.imag**2
    return e.reshape(*e.shape[:-1], N_PAIRS, 2)


def _bit_energy(pairs: np.ndarray) -> np.ndarray:
    """The energies of each bit's pair sides, summed per period: (n, I, CODE_BITS, 2), for frames read
    from the clip's own grid (frame 0 at place 0; a last, partial period padded with silence)."""
    n, m = pairs.shape[:2]
    periods = -(-m // PERIOD_FRAMES)
    out = np.zeros((n, periods * PERIOD_FRAMES, N_PAIRS, 2), pairs.dtype)
    out[:, :m] = pairs
    out = out.reshape(n, periods, PERIOD_FRAMES * N_PAIRS, 2).transpose(0, 1, 3, 2)
    return (out @ _layout().onehot).transpose(0, 1, 3, 2)


def _angle(e: np.ndarray, floor: float) -> np.ndarray:
    """The angle of (amplitude of side B, amplitude of side A): 0..pi/2, pi/4 when balanced."""
    return np.arctan2(np.sqrt(e[..., 0] + floor), np.sqrt(e[..., 1] + floor))


def _floor(grid: _Grid) -> float:
    return 1e-12 * grid.hop  # about -110 dBFS per side: digital silence gives pi/4, not NaN


# ---------------------------------------------------------------------------------------------- input
def _check_rate(sample_rate: object, what: str) -> int:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int | np.integer):
        raise ConfigError(f"{what}: sample_rate must be an integer number of Hz (got {sample_rate!r})")
    if not MIN_RATE <= int(sample_rate) <= MAX_RATE:
        raise ConfigError(f"{what}: sample_rate must be {MIN_RATE}..{MAX_RATE} Hz (got {sample_rate})")
    return int(sample_rate)


def _as_clips(clips: object, what: str, ndims: tuple[int, ...] = (1, 2)) -> np.ndarray:
    try:
        arr = np.asarray(clips)
    except (ValueError, TypeError):
        raise DataError(f"{what}: clips must be an array of float samples") from None
    if arr.ndim not in ndims or arr.dtype.kind != "f" or arr.shape[-1] == 0:
        shapes = " or ".join(("(samples,)", "(n, samples)")[d - 1] for d in ndims)
        raise DataError(
            f"{what}: expected float samples in [-1, 1] shaped {shapes}; got {arr.dtype} {arr.shape}"
        )
    x = arr.astype(np.float32)
    if not np.isfinite(x).all():
        raise DataError(f"{what}: the clip contains NaN or infinite samples")
    return x


# ---------------------------------------------------------------------------------------------- embedding
def mark(clips: np.ndarray, sample_rate: int, model_id: str) -> np.ndarray:
    """Embed the inaudible mark carrying ``model_id`` in mono clips ``(n, samples)`` or ``(samples,)``.

    Returns float32 clips of the same shape, clipped to [-1, 1], each at least 30.2 dB above its mark
    (``snr_db``). Clips shorter than 0.25 s cannot hold the 59 bits: DataError.
    """
    rate = _check_rate(sample_rate, "mark")
    x = _as_clips(clips, "mark")
    code = encode_id(model_id).astype(np.float64)
    single = x.ndim == 1
    x = np.atleast_2d(x)
    if x.shape[1] < MIN_SECONDS * rate:
        raise DataError(
            f"mark: a clip of {x.shape[1] / rate:.2f} s is too short to carry the mark "
            f"(at least {MIN_SECONDS:.2f} s)"
        )
    out = np.empty_like(x)
    for start in range(0, len(x), CHUNK):
        out[start : start + CHUNK] = _embed(x[start : start + CHUNK], _grid(rate), code)
    # a clip whose mark came out louder than MIN_SNR_DB allows gets it scaled down (a few in a hundred)
    change = out.astype(np.float64) - x
    power = (change**2).sum(axis=1)
    limit = (x.astype(np.float64) ** 2).sum(axis=1) * 10 ** (-MIN_SNR_DB / 10)
    scale = np.sqrt(np.minimum(1.0, limit / np.maximum(power, 1e-30)))
    out = np.clip(x + change * scale[:, None], -1.0, 1.0).astype(np.float32)
    return out[0] if single else out


def _embed(x: np.ndarray, grid: _Grid, code: np.ndarray) -> np.ndarray:
    lay = _layout()
    floor = _floor(grid)
    offset = (lay.dither + 0.5 * code) * STEP  # bit 0 and bit 1 lattices, half a step apart
    band = np.s_[..., grid.lo : grid.lo + 2 * N_PAIRS]

    def read(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        spec = sfft.rfft(_frames(y, grid), axis=-1, workers=-1)
        e = _bit_energy(_pair_energy(spec, grid))  # (n, I, B, 2)
        return spec, e, _angle(e, floor)

    def rotate(y: np.ndarray, spec: np.ndarray, angle: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Turn each bit's (amplitude B, amplitude A) to its target angle: the pair group's energy is kept
        and the change is proportional to the sound already there."""
        gains = np.stack([np.sin(target) / np.sin(angle), np.cos(target) / np.cos(angle)], -1)
        gains = np.clip(gains, 0.0, GAIN_MAX)[:, :, lay.bit_of]  # (n, I, PERIOD_FRAMES * N_PAIRS, 2)
        frames = spec.shape[1]
        spec[band] *= gains.reshape(len(y), -1, 2 * N_PAIRS)[:, :frames].astype(np.float32)
        return _overlap_add(sfft.irfft(spec, axis=-1, workers=-1), grid, y.shape[1])

    spec, e, angle = read(x)
    q = np.round((angle - offset) / STEP) * STEP + offset  # the nearest point of the bit's lattice...
    q = np.where(q < 0.5 * STEP, q + STEP, q)
    q = np.where(q > np.pi / 2 - 0.5 * STEP, q - STEP, q)  # ...kept inside (0, pi/2)
    target = angle + COMPENSATE * (q - angle)
    y = x
    for k in range(ROUNDS):  # overlap-add blurs each pass: re-read the marked clip and correct it
        if k:
            spec, e, angle = read(y)
        y = rotate(y, spec, angle, target)
    # The reader's vote on each bit (the clip's own grid): where it is narrow, go the whole way to the lattice
    spec, e, angle = read(y)
    weight = e.sum(-1)
    vote = (weight * np.cos(2 * np.pi * (angle - offset) / STEP)).sum(1) / np.maximum(weight.sum(1), floor)
    weak = (vote < VOTE_MARGIN) & (weight.sum(1) > 1e3 * floor)  # (n, B)
    redo = np.flatnonzero(weak.any(axis=1))
    if len(redo):  # only the narrow bits move; the others are left where they are
        z, spec, angle = y[redo], spec[redo], angle[redo]
        for k in range(2):
            if k:
                spec, _, angle = read(z)
            z = rotate(z, spec, angle, np.where(weak[redo, None, :], q[redo], angle))
        y[redo] = z
    return y


# ---------------------------------------------------------------------------------------------- reading
def _soft_bits(clip: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Soft bits in [-1, 1] (< 0 reads 1) at every tried alignment: (offsets (A,), soft (A, 59)).

    Offset o means: sample s of ``clip`` was sample s + o (modulo 240 ms) of the marked clip. Alignments:
    32 shifts of the frame grid within a hop x 15 places of the first frame in the period."""
    grid = _grid(rate)
    lay = _layout()
    floor = _floor(grid)
    x = clip[None].astype(np.float32)
    shifts = [(k * grid.hop) // SUB_OFFSETS for k in range(SUB_OFFSETS)]
    spec = sfft.rfft(np.concatenate([_frames(x, grid, s) for s in shifts]), axis=-1)
    pairs = _pair_energy(spec, grid)  # (K, M, N_PAIRS, 2)
    k, m = pairs.shape[:2]
    # per frame, the energy of each group of pairs as if the frame sat at each place of the period
    groups = (pairs.transpose(0, 1, 3, 2) @ lay.group_of).reshape(k, m, 2, PERIOD_FRAMES, BITS_PER_FRAME)
    groups = groups.transpose(0, 1, 3, 4, 2)  # (K, M, place, group, 2)
    periods = -(-(m + PERIOD_FRAMES - 1) // PERIOD_FRAMES)
    q = np.arange(periods * PERIOD_FRAMES)
    j = q[None] - np.arange(PERIOD_FRAMES)[:, None]  # the frame at position q when frame 0 sits at place p
    valid = ((j >= 0) & (j < m))[None, :, :, None, None]
    e = groups[:, j.clip(0, m - 1), (q % PERIOD_FRAMES)[None]] * valid  # (K, phase, Q, group, 2)
    e = e.reshape(k, PERIOD_FRAMES, periods, PERIOD_FRAMES * BITS_PER_FRAME, 2).swapaxes(-1, -2)
    e = (e @ lay.slot_bit).swapaxes(-1, -2)  # (K, phase, I, B, 2)
    weight = e.sum(-1)  # louder periods of a bit count more
    soft = np.cos(2 * np.pi * (_angle(e, floor) / STEP - lay.dither))  # +1: bit 0, -1: bit 1
    soft = (weight * soft).sum(2) / np.maximum(weight.sum(2), 1e-30)  # (K, phase, B)
    offsets = (np.arange(PERIOD_FRAMES)[None] * grid.hop - np.array(shifts)[:, None]) % (
        PERIOD_FRAMES * grid.hop
    )
    return offsets.ravel(), soft.reshape(-1, CODE_BITS)


def _describe(offset: int) -> str:
    return "as is" if offset == 0 else f"offset {offset} samples"


def verify_clip(clip: np.ndarray, sample_rate: int, known_ids: list[str] | None = None) -> AudioVerifyResult:
    """Look for the mark in one mono clip (float samples, any length; found=False when shorter than 0.25 s).

    Blind: a valid BCH codeword with its 12-bit check, on the clip's own frame grid with up to 5 corrected
    bits, or at any of the other 479 tried alignments with up to 2. With ``known_ids``: also a match of at
    least 49 of the 59 bits with one of their codes at any tried alignment.
    """
    rate = _check_rate(sample_rate, "verify")
    x = _as_clips(clip, "verify", (1,))
    codes = [(i, encode_id(i)) for i in (known_ids or [])]
    if len(x) < MIN_SECONDS * rate:
        return AudioVerifyResult(False, how=f"too short ({len(x) / rate:.2f} s < {MIN_SECONDS:.2f} s)")
    if not np.any(np.abs(x) > SILENCE):
        return AudioVerifyResult(False, how="silent")
    offsets, soft = _soft_bits(x, rate)
    bits = (soft < 0).astype(np.uint8)
    best: tuple[int, str, int] | None = None  # (corrected errors, id, offset)
    for a in np.argsort(offsets != 0, kind="stable"):  # the clip's own grid first
        hit = decode_bits(bits[a], BCH_T if offsets[a] == 0 else MAX_ERRORS_SHIFTED)
        if hit is not None and (best is None or hit[1] < best[0]):
            best = (hit[1], hit[0], int(offsets[a]))
            if offsets[a] == 0 or hit[1] == 0:
                break
    match: tuple[int, str, int] | None = None  # (agreeing bits, id, offset)
    if codes:
        agree = (bits[:, None, :] == np.stack([c for _, c in codes])[None]).sum(-1)  # alignments x ids
        a, i = np.unravel_index(int(agree.argmax()), agree.shape)
        if agree[a, i] >= MATCH_AGREE:
            match = (int(agree[a, i]), codes[i][0], int(offsets[a]))
    if best is not None:
        return AudioVerifyResult(True, best[1], 1 - best[0] / CODE_BITS, _describe(best[2]))
    if match is not None:
        how = f"{_describe(match[2])}, matched to a known id"
        return AudioVerifyResult(True, match[1], match[0] / CODE_BITS, how)
    return AudioVerifyResult(False)


def bit_accuracy(clip: np.ndarray, sample_rate: int, model_id: str) -> float:
    """Share of the 59 coded bits that read back as embedded for ``model_id`` (best alignment tried)."""
    rate = _check_rate(sample_rate, "bit_accuracy")
    x = _as_clips(clip, "bit_accuracy", (1,))
    code = encode_id(model_id)
    if len(x) < MIN_SECONDS * rate:
        return 0.5
    return float(((_soft_bits(x, rate)[1] < 0) == code).mean(axis=1).max())


def snr_db(clean: np.ndarray, marked: np.ndarray) -> float:
    """Signal-to-mark ratio in dB over everything given: 10 log10(sum clean^2 / sum (marked - clean)^2)."""
    a = np.asarray(clean, np.float64)
    b = np.asarray(marked, np.float64)
    if a.shape != b.shape:
        raise DataError(f"snr_db: shapes differ ({a.shape} vs {b.shape})")
    noise = float(((b - a) ** 2).sum())
    signal = float((a**2).sum())
    if noise == 0.0:
        return float("inf")
    return float(10 * np.log10(signal / noise)) if signal > 0 else float("-inf")


def read_audio(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """A sound file as mono float32 samples (channels averaged) and its sample rate."""
    from ganforge.core.extras import load

    sf = load("soundfile", "audio", "Reading audio files")
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    try:
        data, rate = sf.read(os.fspath(path), dtype="float32", always_2d=True)
    except (RuntimeError, OSError, ValueError, TypeError, EOFError) as e:
        raise DataError(f"{path}: not a readable sound file ({e.__class__.__name__})") from None
    if data.size == 0:
        raise DataError(f"{path}: the sound file holds no samples")
    return data.mean(axis=1), int(rate)


def verify_file(path: str | os.PathLike[str], known_ids: list[str] | None = None) -> AudioVerifyResult:
    """``verify_clip`` on a sound file (WAV, FLAC, OGG, MP3: whatever libsndfile reads), channels mixed."""
    clip, rate = read_audio(path)
    if not MIN_RATE <= rate <= MAX_RATE:
        raise DataError(f"{path}: sample rate {rate} Hz is outside {MIN_RATE}..{MAX_RATE} Hz")
    return verify_clip(clip, rate, known_ids)

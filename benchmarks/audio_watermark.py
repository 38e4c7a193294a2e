"""Audio watermark benchmark: how quiet, robust, specific and fast ``ganforge.audio.watermark`` is.

    .venv/bin/python benchmarks/audio_watermark.py [--clips 100] [--unmarked 1000] [--no-ffmpeg]

- clips: speech-like 1-s clips (a harmonic series with a gliding pitch under three moving formants,
  0.3-0.6 s of voice in the middle, silence and a little noise around it) at 16 kHz, each marked with
  its own random model id; SNR of the mark (all clips together, and the worst clip);
- robustness: per attack, the share of clips whose id is found blind (a valid BCH decode), found given
  the true id among 3 known ids (>= 49 of 59 bits), and the mean / worst bit accuracy (best alignment).
  Attacks: 16-bit WAV, 8 kHz and back (scipy polyphase), MP3 and Ogg Vorbis through libsndfile at its
  default settings (what ``soundfile.write`` does), MP3 at 64 and 128 kbit/s and AAC 96 kbit/s
  through ffmpeg, volume +-10 %, 100 ms cut from the start / the end, a random 50-200 ms cut, and a cut
  followed by 16-bit WAV; plus a subset at 8, 22.05, 44.1 and 48 kHz;
- strength: SNR and the Vorbis / MP3 found rates for larger quantiser steps than the default (the price
  of surviving Vorbis);
- false positives: ``verify_clip`` (blind, and with 3 known ids) on varied unmarked clips: white and
  pink noise, tones, chirps, unmarked voices, noise bursts, click trains, square waves, near-silence,
  0.3-2 s long at 8-48 kHz;
- speed: marking 1,000 one-second 16 kHz clips in one call; verifying one clip.

Results: benchmarks/results/audio_watermark.json.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import time
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

from ganforge.audio import watermark as wm  # noqa: E402

SR = 16000


def speech_like(rng: np.random.Generator, sr: int, seconds: float = 1.0, voiced: float = 0.5) -> np.ndarray:
    t = np.arange(int(sr * voiced)) / sr
    f0 = np.linspace(rng.uniform(85, 150), rng.uniform(130, 280), len(t)) * (
        1 + 0.03 * np.sin(2 * np.pi * 5 * t)
    )
    phase = 2 * np.pi * np.cumsum(f0) / sr
    f1, f2, f3 = rng.uniform(300, 800, 2), rng.uniform(900, 2300, 2), rng.uniform(2300, 3000, 2)
    formants = [np.linspace(a, b, len(t)) for a, b in (f1, f2, f3)]
    voice = np.zeros(len(t))
    for h in range(1, int(4000 / 85)):
        fh = h * f0
        gain = sum(
            g / (1 + ((fh - f) / (80 + 0.05 * f)) ** 2) for f, g in zip(formants, (1, 0.5, 0.25), strict=True)
        )
        voice += gain * np.sin(h * phase) * (fh < sr / 2)
    voice *= np.sin(np.pi * t / voiced) ** 0.5 * (1 + 0.3 * np.sin(2 * np.pi * rng.uniform(2, 6) * t))
    clip = np.zeros(int(sr * seconds))
    start = (len(clip) - len(voice)) // 2
    clip[start : start + len(voice)] = voice / np.abs(voice).max() * rng.uniform(0.3, 0.9)
    return (clip + 10 ** rng.uniform(-4, -2.5) * rng.standard_normal(len(clip))).astype(np.float32)


def unmarked(rng: np.random.Generator, index: int) -> tuple[np.ndarray, int]:
    sr = int(rng.choice([8000, 16000, 16000, 16000, 22050, 44100, 48000]))
    n = int(sr * rng.uniform(0.3, 2.0))
    t = np.arange(n) / sr
    kind = index % 9
    if kind == 0:
        x = rng.standard_normal(n)
    elif kind == 1:
        f = np.fft.rfftfreq(n, 1 / sr)
        x = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) / np.sqrt(np.maximum(f, 20)), n)
    elif kind == 2:
        x = sum(
            np.sin(2 * np.pi * rng.uniform(60, sr / 2.2) * t + rng.uniform(0, 6))
            for _ in range(rng.integers(1, 6))
        )
    elif kind == 3:
        f0, f1 = rng.uniform(50, sr / 2.2, 2)
        x = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * t[-1])))
    elif kind == 4:
        x = speech_like(rng, sr, n / sr, min(rng.uniform(0.2, 0.8), 0.9 * n / sr))
    elif kind == 5:
        x = rng.standard_normal(n) * (1 + np.sin(2 * np.pi * rng.uniform(1, 20) * t))
    elif kind == 6:
        x = np.zeros(n)
        x[:: int(sr / rng.uniform(2, 200))] = 1.0
    elif kind == 7:
        x = np.sign(np.sin(2 * np.pi * rng.uniform(50, 1000) * t))
    else:
        x = rng.standard_normal(n) * 10 ** rng.uniform(-6, -3)
    if kind != 8:
        x = x / np.abs(x).max() * rng.uniform(0.01, 0.95)
    return np.asarray(x, np.float32), sr


# ---------------------------------------------------------------------------------------------- attacks
def codec(x: np.ndarray, sr: int, fmt: str, subtype: str | None = None) -> np.ndarray:
    buf = io.BytesIO()
    sf.write(buf, x, sr, format=fmt, subtype=subtype)
    buf.seek(0)
    return sf.read(buf, dtype="float32")[0]


def ffmpeg(x: np.ndarray, sr: int, args: list[str], fmt: str) -> np.ndarray:
    """Encode with ffmpeg (``args``: codec options, ``fmt``: container) and decode back to float WAV."""
    wav = io.BytesIO()
    sf.write(wav, x, sr, format="WAV", subtype="FLOAT")
    enc = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", "pipe:0", *args, "-f", fmt, "pipe:1"],
        input=wav.getvalue(), capture_output=True, check=True,
    ).stdout  # fmt: skip
    back = ["-ar", str(sr), "-ac", "1", "-f", "wav", "-c:a", "pcm_f32le", "pipe:1"]
    dec = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", "pipe:0", *back], input=enc, capture_output=True, check=True
    ).stdout
    return sf.read(io.BytesIO(dec), dtype="float32")[0]


def resample_8k(x: np.ndarray, sr: int) -> np.ndarray:
    g = gcd(8000, sr)
    down = resample_poly(x, 8000 // g, sr // g)
    return resample_poly(down, sr // g, 8000 // g)[: len(x)].astype(np.float32)


def attacks(sr: int, rng: np.random.Generator, with_ffmpeg: bool) -> dict[str, Any]:
    cut = sr // 10
    out: dict[str, Any] = {
        "none": lambda x: x,
        "wav 16-bit": lambda x: codec(x, sr, "WAV", "PCM_16"),
        "8 kHz and back": lambda x: resample_8k(x, sr),
        "mp3 (libsndfile default)": lambda x: codec(x, sr, "MP3"),
        "ogg vorbis (libsndfile default)": lambda x: codec(x, sr, "OGG"),
        "volume +10 %": lambda x: np.clip(1.1 * x, -1, 1),
        "volume -10 %": lambda x: 0.9 * x,
        "100 ms cut from the start": lambda x: x[cut:],
        "100 ms cut from the end": lambda x: x[:-cut],
        "50-200 ms cut from the start": lambda x: x[int(rng.integers(sr // 20, sr // 5)) :],
        "cut + wav 16-bit": lambda x: codec(x[cut + int(rng.integers(0, sr // 100)) :], sr, "WAV", "PCM_16"),
    }
    if with_ffmpeg:
        out["mp3 128k (ffmpeg lame)"] = lambda x: ffmpeg(x, sr, ["-c:a", "libmp3lame", "-b:a", "128k"], "mp3")
        out["mp3 64k (ffmpeg lame)"] = lambda x: ffmpeg(x, sr, ["-c:a", "libmp3lame", "-b:a", "64k"], "mp3")
        out["aac 96k (ffmpeg)"] = lambda x: ffmpeg(x, sr, ["-c:a", "aac", "-b:a", "96k"], "adts")
    return out


def robustness(sr: int, n: int, seed: int, with_ffmpeg: bool, only: set[str] | None = None) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    clips = np.stack([speech_like(rng, sr, 1.0, rng.uniform(0.3, 0.6)) for _ in range(n)])
    ids = [f"{rng.integers(1 << 20):05x}" for _ in range(n)]
    marked = np.stack([wm.mark(c, sr, i) for c, i in zip(clips, ids, strict=True)])
    per_clip = [wm.snr_db(c, m) for c, m in zip(clips, marked, strict=True)]
    result: dict[str, Any] = {
        "clips": n,
        "snr_db": round(wm.snr_db(clips, marked), 2),
        "snr_db_worst_clip": round(min(per_clip), 2),
        "snr_db_median_clip": round(float(np.median(per_clip)), 2),
        "attacks": {},
    }
    for name, attack in attacks(sr, rng, with_ffmpeg).items():
        if only and name not in only:
            continue
        blind = matched = 0
        acc = []
        for clip, ident in zip(marked, ids, strict=True):
            sound = attack(clip)
            others = [f"{(int(ident, 16) + k * 7919) % (1 << 20):05x}" for k in (1, 2)]
            r = wm.verify_clip(sound, sr)
            blind += r.found and r.model_id == ident
            r = wm.verify_clip(sound, sr, known_ids=[others[0], ident, others[1]])
            matched += r.found and r.model_id == ident
            acc.append(wm.bit_accuracy(sound, sr, ident))
        result["attacks"][name] = {
            "found_blind": round(blind / n, 3),
            "found_known_id": round(matched / n, 3),
            "bit_accuracy_mean": round(float(np.mean(acc)), 4),
            "bit_accuracy_worst": round(float(np.min(acc)), 4),
        }
        print(f"  {sr} Hz {name:34s} {result['attacks'][name]}", flush=True)
    return result


def strength(n: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    clips = np.stack([speech_like(rng, SR, 1.0, rng.uniform(0.3, 0.6)) for _ in range(n)])
    default, floor, rows = wm.STEP, wm.MIN_SNR_DB, []
    try:
        for step in (default, 0.15, 0.2, 0.25, 0.3):
            wm.STEP = step
            wm.MIN_SNR_DB = floor if step == default else 0.0
            marked = wm.mark(clips, SR, "5a17e")
            row = {"step": step, "snr_db": round(wm.snr_db(clips, marked), 2)}
            for name, fmt in (("mp3", "MP3"), ("ogg", "OGG")):
                found = sum(wm.verify_clip(codec(m, SR, fmt), SR).model_id == "5a17e" for m in marked)
                row[f"{name}_found"] = round(found / n, 3)
            rows.append(row)
            print(f"  strength {row}", flush=True)
    finally:
        wm.STEP, wm.MIN_SNR_DB = default, floor
    return rows


def false_positives(n: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    known = ["5a17e", "00000", "fffff"]
    blind = matched = 0
    t = time.perf_counter()
    for index in range(n):
        clip, sr = unmarked(rng, index)
        blind += wm.verify_clip(clip, sr).found
        matched += wm.verify_clip(clip, sr, known_ids=known).found
    return {"clips": n, "found_blind": blind, "found_with_3_known_ids": matched,
            "seconds_per_clip_both_checks": round((time.perf_counter() - t) / n, 4)}  # fmt: skip


def speed(seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    base = np.stack([speech_like(rng, SR) for _ in range(100)])
    clips = np.tile(base, (10, 1))  # 1,000 one-second clips
    wm.mark(clips[:16], SR, "5a17e")  # warm-up (layout, FFT plans)
    t = time.perf_counter()
    marked = wm.mark(clips, SR, "5a17e")
    mark_s = time.perf_counter() - t
    t = time.perf_counter()
    for clip in marked[:50]:
        wm.verify_clip(clip, SR)
    return {
        "mark_1000_one_second_clips_s": round(mark_s, 3),
        "verify_one_clip_s": round((time.perf_counter() - t) / 50, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--unmarked", type=int, default=1000)
    parser.add_argument("--no-ffmpeg", action="store_true")
    args = parser.parse_args()
    with_ffmpeg = not args.no_ffmpeg and shutil.which("ffmpeg") is not None
    out: dict[str, Any] = {
        "settings": {
            "step": wm.STEP,
            "compensate": wm.COMPENSATE,
            "rounds": wm.ROUNDS,
            "min_snr_db": wm.MIN_SNR_DB,
        },
        "command": "python benchmarks/audio_watermark.py " + " ".join(sys.argv[1:]),
    }
    print("speed", flush=True)
    out["speed"] = speed(0)
    print(out["speed"], flush=True)
    print("robustness, 16 kHz", flush=True)
    out["robustness_16k"] = robustness(SR, args.clips, 1, with_ffmpeg)
    subset = {
        "none", "wav 16-bit", "8 kHz and back", "mp3 (libsndfile default)", "ogg vorbis (libsndfile default)",
        "100 ms cut from the start", "50-200 ms cut from the start",
    }  # fmt: skip
    out["robustness_other_rates"] = {
        str(sr): robustness(sr, max(args.clips // 4, 8), 2 + sr, False, subset)
        for sr in (8000, 22050, 44100, 48000)
    }
    print("strength", flush=True)
    out["strength_16k"] = strength(max(args.clips // 4, 12), 3)
    print("false positives", flush=True)
    out["false_positives"] = false_positives(args.unmarked, 4)
    print(out["false_positives"], flush=True)
    save("audio_watermark", out)


if __name__ == "__main__":
    main()

"""The ``spoken-digits`` built-in: the ten words "zero" .. "nine" spoken by about 850 synthetic voices,
made offline with espeak-ng and flite (an SC09-like data set that needs no download).

``spoken_digits_dir()`` builds the data set once into the cache (``$GANFORGE_CACHE``, else
``~/.cache/ganforge``) and returns its folder::

    spoken-digits-v1/
      train/<d>/<voice>.flac      d = "0" .. "9" (so a class's label is its digit)
      heldout/<d>/<voice>.flac
      voices.json                 every voice, its split and its command line; skipped voices; counts

Each file is the synthesiser's raw word (leading and trailing silence included), resampled to 16 kHz
mono, 16-bit FLAC; cutting or padding to a fixed length is the reader's job (``ganforge.audio.data``).

Voices. A voice is one (synthesiser, accent or voice, variant, speed, pitch) combination:

* espeak-ng: 8 English accents x every voice variant ``espeak-ng --voices=variant`` lists (101 in
  espeak-ng 1.51; whisper, croak and robot variants included: they still say the digit). Each
  (accent, variant) pair is one speaker identity and speaks at one of 3 x 3 (speed, pitch) settings,
  picked by a stable hash of the pair, so settings vary across speakers without multiplying the build.
  MBROLA voices (``mb/*``) are not used (they need extra packages).
* flite: kal, kal16, awb, slt, each at 3 duration stretches x 3 mean pitches; rms at 3 stretches only
  (flite ignores pitch settings for rms, so its pitch variants would be copies). awb_time is a
  limited-domain (clock) voice and is not used.

Held-out split: whole speaker identities, never just settings: the (accent, variant) pairs whose
SHA-256 of ``"<accent>+<variant>"`` falls in the lowest 15 % (about 15 % of the espeak speakers), and
the flite voice rms. A voice whose synthesis fails (or whose audio duplicates another voice's) is left
out and listed under ``skipped`` in voices.json.

The build writes into a temp folder beside the final one and renames it at the end, so an interrupted
build never leaves a half data set; a finished one is reused (its voices.json is the check).
``quick=True`` builds a 7-voice version (``spoken-digits-quick-v1``) in a few seconds, for tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganforge.audio.spectral import resample
from ganforge.errors import ConfigError, DataError

NAME = "spoken-digits"
VERSION = 1
SAMPLE_RATE = 16000
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SPLITS = ("train", "heldout")

ACCENTS = (
    "en", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029", "en-us-nyc",
)  # fmt: skip
ESPEAK_SPEEDS = (130, 150, 170)  # words per minute
ESPEAK_PITCHES = (35, 50, 65)  # 0-99, espeak-ng's default is 50
# flite voice -> mean pitches (Hz) around its natural one; () = the voice ignores int_f0_target_mean
FLITE_VOICES: dict[str, tuple[int, ...]] = {
    "kal": (80, 100, 125),
    "kal16": (80, 100, 125),
    "awb": (110, 140, 170),
    "rms": (),
    "slt": (145, 175, 210),
}
FLITE_STRETCHES = (0.85, 1.0, 1.2)  # duration_stretch: > 1 is slower
HELDOUT_PERCENT = 15  # of the espeak (accent, variant) pairs
HELDOUT_FLITE = ("rms",)

QUICK_ACCENTS = ("en-us", "en-gb-scotland")
QUICK_VARIANTS = ("m3", "f2", "croak")  # croak's two pairs fall in the held-out split
QUICK_FLITE = "rms"

ENV_QUICK = "GANFORGE_SPOKEN_DIGITS"  # "quick": load_audio("spoken-digits") uses the quick build
_SILENT = 1e-3  # a synthesised word quieter than this (peak) is a failure
_PAUSE_MS = 700  # between the words of one espeak-ng utterance
_GAP_FRAMES = 30  # 10 ms frames: a silence this long separates two words
_TIMEOUT_S = 60


@dataclass(frozen=True)
class Voice:
    """One voice of the plan: ``argv`` is its command line with ``OUT.wav`` and ``TEXT`` placeholders;
    ``utterance`` voices say all ten words in one call (split at the pauses afterwards)."""

    name: str
    synth: str
    speaker: str  # the speaker identity the held-out split is drawn over
    split: str
    argv: tuple[str, ...]
    settings: tuple[tuple[str, str | int | float], ...]
    utterance: bool = False

    def command(self, text: str, out: Path) -> list[str]:
        return [str(out) if a == "OUT.wav" else text if a == "TEXT" else a for a in self.argv]


def cache_root(cache: Path | str | None = None) -> Path:
    """``cache`` if given, else ``$GANFORGE_CACHE``, else ``~/.cache/ganforge``."""
    if cache is not None:
        return Path(cache)
    return Path(os.environ.get("GANFORGE_CACHE") or Path.home() / ".cache" / "ganforge")


def quick_requested() -> bool:
    """True when ``$GANFORGE_SPOKEN_DIGITS`` is ``quick`` (tests and demos), False when unset or ``full``."""
    value = os.environ.get(ENV_QUICK, "").strip().lower()
    if value not in ("", "full", "quick"):
        raise ConfigError(
            f"{ENV_QUICK}={value!r} is not understood; set it to 'quick' or 'full', or unset it"
        )
    return value == "quick"


def _stable_percent(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16) % 100


def heldout_speaker(accent: str, variant: str) -> bool:
    """Whether the espeak-ng speaker (accent, variant) belongs to the held-out split."""
    return _stable_percent(f"{accent}+{variant}") < HELDOUT_PERCENT


def _espeak_setting(accent: str, variant: str) -> tuple[int, int]:
    k = int(hashlib.sha256(f"setting/{accent}+{variant}".encode()).hexdigest()[:8], 16) % 9
    return ESPEAK_SPEEDS[k // 3], ESPEAK_PITCHES[k % 3]


def espeak_variants() -> list[str]:
    """The voice variants installed with espeak-ng (``!v/<name>`` files), in its listed order."""
    out = subprocess.run(
        ["espeak-ng", "--voices=variant"], capture_output=True, text=True, timeout=_TIMEOUT_S, check=False
    )
    if out.returncode != 0:
        return []
    names = []
    for line in out.stdout.splitlines()[1:]:
        for token in line.split():
            if token.startswith("!v/") and token[3:] not in names:
                names.append(token[3:])
    return names


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "_", text.lower())


def _espeak_voice(accent: str, variant: str, speed: int, pitch: int) -> Voice:
    split = "heldout" if heldout_speaker(accent, variant) else "train"
    argv = (
        "espeak-ng",
        "-m",
        "-v",
        f"{accent}+{variant}",
        "-s",
        str(speed),
        "-p",
        str(pitch),
        "-w",
        "OUT.wav",
        "TEXT",
    )
    return Voice(
        f"espeak-{accent}-{_slug(variant)}-s{speed}-p{pitch}",
        "espeak-ng",
        f"espeak-ng {accent}+{variant}",
        split,
        argv,
        (("accent", accent), ("variant", variant), ("speed", speed), ("pitch", pitch)),
        utterance=True,
    )


def _flite_voice(voice: str, stretch: float, f0: int | None) -> Voice:
    split = "heldout" if voice in HELDOUT_FLITE else "train"
    argv = ["flite", "-voice", voice, "-t", "TEXT", "-o", "OUT.wav", "--setf", f"duration_stretch={stretch}"]
    settings: list[tuple[str, str | int | float]] = [("voice", voice), ("duration_stretch", stretch)]
    name = f"flite-{voice}-d{stretch}"
    if f0 is not None:
        argv += ["--setf", f"int_f0_target_mean={f0}"]
        settings.append(("int_f0_target_mean", f0))
        name += f"-f{f0}"
    return Voice(name, "flite", f"flite {voice}", split, tuple(argv), tuple(settings))


def plan(quick: bool = False, variants: list[str] | None = None) -> list[Voice]:
    """Every voice of the build, in a fixed order (``variants`` defaults to espeak-ng's installed list)."""
    installed = espeak_variants() if variants is None else variants
    voices = []
    if quick:
        for accent in QUICK_ACCENTS:
            for variant in (v for v in QUICK_VARIANTS if v in installed):
                voices.append(_espeak_voice(accent, variant, ESPEAK_SPEEDS[1], ESPEAK_PITCHES[1]))
        pitches = FLITE_VOICES[QUICK_FLITE]
        voices.append(_flite_voice(QUICK_FLITE, 1.0, pitches[len(pitches) // 2] if pitches else None))
        return voices
    for accent in ACCENTS:
        for variant in installed:
            voices.append(_espeak_voice(accent, variant, *_espeak_setting(accent, variant)))
    for voice, pitches in FLITE_VOICES.items():
        for stretch in FLITE_STRETCHES:
            for f0 in pitches or (None,):
                voices.append(_flite_voice(voice, stretch, f0))
    return voices


def _espeak_text(words: tuple[str, ...]) -> str:
    """SSML (espeak-ng -m): each word its own sentence, so it gets an isolated word's falling tone and
    length; a long pause between words marks where to cut."""
    pause = f'<break time="{_PAUSE_MS}ms"/>'
    return "<speak>" + pause.join(f"<s>{w}.</s>" for w in words) + "</speak>"


def split_words(x: np.ndarray, rate: int, count: int) -> list[np.ndarray] | None:
    """Cut an utterance of ``count`` words separated by long pauses into the words (each with up to 100 ms
    of its surrounding silence), or None when the pauses do not give exactly ``count`` plausible words.

    Sound is a 10 ms frame whose RMS exceeds 1 % of the loudest frame's; silences longer than 300 ms
    separate words (stop closures inside a word are far shorter); each word must last 80 ms .. 2 s.
    """
    frame = max(1, rate // 100)
    n = len(x) // frame
    if n == 0:
        return None
    rms = np.sqrt((x[: n * frame].astype(np.float64).reshape(n, frame) ** 2).mean(axis=1))
    loud = np.flatnonzero(rms > 0.01 * rms.max()) if rms.max() > 0 else np.zeros(0, np.int64)
    if loud.size == 0:
        return None
    breaks = np.flatnonzero(np.diff(loud) > _GAP_FRAMES)
    starts = np.concatenate([loud[:1], loud[breaks + 1]])
    ends = np.concatenate([loud[breaks], loud[-1:]]) + 1
    lengths = ends - starts
    if len(starts) != count or lengths.min() < 8 or lengths.max() > 200:
        return None
    cuts = [0, *((ends[:-1] + starts[1:]) // 2), n]
    margin = 10  # frames
    return [
        x[max(cuts[i], starts[i] - margin) * frame : min(cuts[i + 1], ends[i] + margin) * frame]
        for i in range(count)
    ]


def _run(voice: Voice, text: str, out: Path, what: str) -> tuple[np.ndarray | None, int, str]:
    """Run the synthesiser once: (mono float32 audio, its rate, "") or (None, 0, why it failed)."""
    import soundfile as sf

    try:
        run = subprocess.run(
            voice.command(text, out), capture_output=True, text=True, timeout=_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, 0, f"{voice.synth} failed on {what}: {e}"
    try:
        if run.returncode != 0 or not out.exists():
            detail = " ".join((run.stderr or run.stdout).split())[:200] or f"exit status {run.returncode}"
            return None, 0, f"{voice.synth} failed on {what}: {detail}"
        x, rate = sf.read(out, dtype="float32", always_2d=True)
    except (RuntimeError, OSError) as e:
        return None, 0, f"{voice.synth} wrote unreadable audio for {what}: {e}"
    finally:
        out.unlink(missing_ok=True)
    x = x.mean(axis=1)
    if x.size == 0 or not np.isfinite(x).all() or np.abs(x).max() < _SILENT:
        return None, 0, f"{voice.synth} gave silent or empty audio for {what}"
    return x, rate, ""


def _to_int16(x: np.ndarray, rate: int) -> np.ndarray:
    return np.round(np.clip(resample(x, rate, SAMPLE_RATE), -1.0, 1.0) * 32767.0).astype(np.int16)


def _synthesise(voice: Voice, scratch: Path) -> tuple[dict[str, np.ndarray] | None, str, str]:
    """The ten words as int16 16 kHz arrays, how they were made ("utterance" or "per-word"), or
    (None, "", why it failed)."""
    out = scratch / f"{voice.name}.wav"
    if voice.utterance:
        x, rate, _ = _run(voice, _espeak_text(WORDS), out, "the ten-word utterance")
        parts = split_words(x, rate, len(WORDS)) if x is not None else None
        if parts is not None:
            return {w: _to_int16(p, rate) for w, p in zip(WORDS, parts, strict=True)}, "utterance", ""
    words: dict[str, np.ndarray] = {}
    for word in WORDS:  # one call per word: flite, and espeak voices whose pauses are not silent
        text = _espeak_text((word,)) if voice.utterance else word
        x, rate, why = _run(voice, text, out, repr(word))
        if x is None:
            return None, "", why
        words[word] = _to_int16(x, rate)
    return words, "per-word", ""


def _voice_files(tmp: Path, voice: Voice) -> list[Path]:
    return [tmp / voice.split / str(d) / f"{voice.name}.flac" for d in range(len(WORDS))]


def _make_voice(voice: Voice, tmp: Path, scratch: Path) -> tuple[str, str, str]:
    """Synthesise and write one voice's ten files: (how, SHA-256 of its audio, "") or ("", "", why not)."""
    import soundfile as sf

    words, how, why = _synthesise(voice, scratch)
    if words is None:
        return "", "", why
    for path, word in zip(_voice_files(tmp, voice), WORDS, strict=True):
        sf.write(path, words[word], SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return how, hashlib.sha256(b"".join(words[w].tobytes() for w in WORDS)).hexdigest(), ""


def _version(cmd: str) -> str:
    try:
        run = subprocess.run(
            [cmd, "--version"], capture_output=True, text=True, timeout=_TIMEOUT_S, check=False
        )
    except OSError:
        return "unknown"
    return " ".join((run.stdout or run.stderr).split())[:120] or "unknown"


def _clean_stale_builds(root: Path, final_name: str) -> None:
    """Remove temp folders of builds whose process is gone (killed mid-build)."""
    for stale in root.glob(f".{final_name}.building-*"):
        try:
            pid = int(stale.name.split("-")[-2])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(stale, ignore_errors=True)
        except (ValueError, IndexError, PermissionError, OSError):
            continue


def _build(voices: list[Voice], tmp: Path, quick: bool, workers: int) -> dict:
    """Synthesise every voice into ``tmp`` (split/digit/voice.flac); the contents of voices.json."""
    started = time.perf_counter()
    scratch = tmp / "_scratch"
    scratch.mkdir()
    for split in SPLITS:
        for d in range(len(WORDS)):
            (tmp / split / str(d)).mkdir(parents=True)
    with ThreadPoolExecutor(max_workers=workers) as pool:  # the work is in the synthesiser processes
        results = list(pool.map(lambda v: _make_voice(v, tmp, scratch), voices))
    shutil.rmtree(scratch, ignore_errors=True)

    kept: list[Voice] = []
    how: dict[str, str] = {}
    skipped: dict[str, str] = {}
    seen: dict[str, str] = {}
    for voice, (made, digest, why) in zip(voices, results, strict=True):
        if not made:
            skipped[voice.name] = why
        elif digest in seen:
            skipped[voice.name] = f"identical audio to {seen[digest]} (the same voice under another name)"
            for path in _voice_files(tmp, voice):
                path.unlink()
        else:
            seen[digest] = voice.name
            how[voice.name] = made
            kept.append(voice)
    for split in (None, *SPLITS):  # None: any voice at all
        if not any(split in (None, v.split) for v in kept):
            failed = [skipped[v.name] for v in voices if split in (None, v.split)]
            first = f" (first failure: {failed[0]})" if failed else ""
            what = f"any {split} voice" if split else "any voice"
            raise DataError(f"could not synthesise {what} of spoken-digits{first}; check espeak-ng and flite")
    counts = {
        split: {
            "voices": sum(v.split == split for v in kept),
            "clips": len(WORDS) * sum(v.split == split for v in kept),
        }
        for split in SPLITS
    }
    counts["total"] = {"voices": len(kept), "clips": len(WORDS) * len(kept)}
    return {
        "name": NAME,
        "version": VERSION,
        "quick": quick,
        "sample_rate": SAMPLE_RATE,
        "format": "FLAC, 16-bit PCM, mono; the raw synthesised word (silence not trimmed)",
        "classes": {str(d): word for d, word in enumerate(WORDS)},
        "heldout_rule": (
            f"espeak-ng (accent, variant) pairs with int(sha256('<accent>+<variant>')[:8], 16) % 100 < "
            f"{HELDOUT_PERCENT}, and the flite voices {', '.join(HELDOUT_FLITE)}; all their settings"
        ),
        "synthesisers": {"espeak-ng": _version("espeak-ng"), "flite": _version("flite")},
        "splits": {split: [v.name for v in kept if v.split == split] for split in SPLITS},
        "voices": {
            v.name: {
                "split": v.split,
                "synthesiser": v.synth,
                "speaker": v.speaker,
                "settings": dict(v.settings),
                "command": shlex.join(v.argv),
                "text": (
                    "all ten words in one call, cut at the pauses: " + _espeak_text(WORDS)
                    if how[v.name] == "utterance"
                    else "one call per word: " + (_espeak_text(("WORD",)) if v.utterance else "WORD")
                ),
            }
            for v in kept
        },
        "skipped": skipped,
        "counts": counts,
        "build_seconds": round(time.perf_counter() - started, 1),
        "workers": workers,
    }


def spoken_digits_dir(
    cache: Path | str | None = None, quick: bool = False, workers: int | None = None
) -> Path:
    """The folder of the spoken-digits built-in, building it first if the cache lacks it (see the module
    docstring). ``quick`` builds the tiny 7-voice version; ``workers`` synthesiser processes run at once
    (default: the CPU count, clamped to 2..4)."""
    root = cache_root(cache)
    final = root / (f"{NAME}-quick-v{VERSION}" if quick else f"{NAME}-v{VERSION}")
    if (final / "voices.json").is_file():
        return final
    missing = [cmd for cmd in ("espeak-ng", "flite") if shutil.which(cmd) is None]
    if missing:
        raise DataError(
            "the spoken-digits built-in needs espeak-ng and flite: apt-get install espeak-ng flite"
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
        _clean_stale_builds(root, final.name)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.building-{os.getpid()}-", dir=root))
        tmp.chmod(0o755)  # mkdtemp's 0o700 would make the finished data set private
    except OSError as e:
        raise DataError(
            f"cannot write the spoken-digits cache in {root} ({e.strerror or e}); "
            "set GANFORGE_CACHE to a writable folder"
        ) from e
    try:
        n = workers if workers is not None else min(4, max(2, os.cpu_count() or 2))
        info = _build(plan(quick), tmp, quick, max(1, n))
        (tmp / "voices.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        try:
            os.replace(tmp, final)
        except OSError:
            if not (final / "voices.json").is_file():  # not a finished build from a concurrent process
                raise
    except OSError as e:
        raise DataError(
            f"cannot write the spoken-digits cache in {root} ({e.strerror or e}); "
            "set GANFORGE_CACHE to a writable folder"
        ) from e
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def read_voices(folder: Path | str) -> dict:
    """The voices.json of a built spoken-digits folder."""
    return json.loads((Path(folder) / "voices.json").read_text(encoding="utf-8"))


__all__ = [
    "NAME", "SAMPLE_RATE", "WORDS", "SPLITS", "Voice", "cache_root", "heldout_speaker", "plan",
    "quick_requested", "read_voices", "spoken_digits_dir", "espeak_variants",
]  # fmt: skip

"""Audio data layer: reading real sound files of every common format and sample type, folders with and
without classes, bad files, WAV writing, and the synthesised spoken-digits built-in (its quick build)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ganforge.audio import builtin
from ganforge.audio.builtin import read_voices, split_words, spoken_digits_dir
from ganforge.audio.data import (
    AudioData,
    fit_length,
    load_audio,
    load_folder,
    read_clip,
)
from ganforge.audio.writer import wav_bytes, write_wav
from ganforge.errors import DataError

SR = 16000
HAVE_SYNTHS = shutil.which("espeak-ng") is not None and shutil.which("flite") is not None
needs_synths = pytest.mark.skipif(not HAVE_SYNTHS, reason="espeak-ng and flite are not installed")


def sine(seconds: float, rate: int, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float64)


def peak_hz(clip: np.ndarray, rate: int = SR) -> float:
    spectrum = np.abs(np.fft.rfft(clip * np.hanning(len(clip))))
    return float(np.fft.rfftfreq(len(clip), 1 / rate)[spectrum.argmax()])


def voiced(clip: np.ndarray) -> tuple[int, int]:
    """First and one-past-last non-zero sample."""
    nz = np.flatnonzero(clip)
    return int(nz[0]), int(nz[-1]) + 1


def write(path: Path, data: np.ndarray, rate: int = SR, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, rate, **kw)
    return path


def single_line_error(call, *args, match: str | None = None) -> str:
    with pytest.raises(DataError, match=match) as e:
        call(*args)
    text = str(e.value)
    assert "\n" not in text and text
    return text


# --- reading one clip ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "channels", "subtype"),
    [(48000, 2, "PCM_24"), (8000, 1, "PCM_U8"), (44100, 1, "PCM_32"), (22050, 2, "PCM_16")],
)
def test_any_rate_channels_and_sample_type_reads_as_mono_16k_with_the_tone_kept(
    tmp_path, rate, channels, subtype
):
    tone = sine(0.5, rate)
    data = np.stack([tone, 0.5 * tone], axis=1) if channels == 2 else tone  # right channel at half level
    path = write(tmp_path / "tone.wav", data, rate, subtype=subtype)
    clip = read_clip(path, SR, 16000)
    assert clip.dtype == np.float32 and clip.shape == (16000,)
    assert abs(peak_hz(clip) - 440.0) <= 2.0
    start, end = voiced(clip)
    assert abs((end - start) - 8000) <= 40  # 0.5 s at 16 kHz, trimmed by a sample or two of near-silence
    assert abs(start - (16000 - end)) <= 2  # centred: equal zero padding at both ends
    expected_amp = 0.5 * (0.75 if channels == 2 else 1.0)  # mean of the channels
    assert abs(np.abs(clip).max() - expected_amp) < 0.02


def test_float_file_beyond_full_scale_is_scaled_by_its_peak(tmp_path):
    tone = 3.0 * sine(0.5, SR, amp=1.0)
    path = write(tmp_path / "loud.wav", tone.astype(np.float32), subtype="FLOAT")
    clip = read_clip(path, SR, 8000)
    assert np.abs(clip).max() <= 1.0 and np.abs(clip).max() > 0.999
    np.testing.assert_allclose(clip, fit_length(tone / 3.0, 8000), atol=1e-4)  # only the level changed


@pytest.mark.parametrize(
    ("suffix", "lossy"), [(".flac", False), (".ogg", True), (".mp3", True), (".aiff", False)]
)
def test_compressed_formats_read_back(tmp_path, suffix, lossy):
    tone = sine(0.4, SR)
    path = write(tmp_path / f"tone{suffix}", tone)
    clip = read_clip(path, SR, 8000)
    assert abs(peak_hz(clip) - 440.0) <= 2.0
    if lossy:
        start, end = voiced(clip)
        assert abs((end - start) - 6400) < 1200  # encoder delay and fades may shift the edges a little
    else:
        np.testing.assert_allclose(clip, fit_length(tone, 8000), atol=2e-4)  # 16-bit quantisation only


def test_long_clip_is_cut_around_its_centre_of_energy_and_short_one_centred():
    x = np.zeros(3 * SR, np.float32)
    x[100:200] = x[-200:-100] = 0.01  # faint edges, kept by the trim (above 1 % of the peak)
    x[2 * SR - 800 : 2 * SR + 800] = 0.9  # the loud part, centred at 2 s
    out = fit_length(x, 4000)
    start, end = voiced(out)
    assert end - start == 1600 and abs(start - 1200) <= 1  # the whole burst, in the middle of the window
    short = fit_length(np.ones(5, np.float32), 10)
    np.testing.assert_array_equal(short, [0, 0, 1, 1, 1, 1, 1, 0, 0, 0])


def test_silent_file_reads_as_zeros(tmp_path):
    path = write(tmp_path / "silence.wav", np.zeros(SR))
    np.testing.assert_array_equal(read_clip(path, SR, 1000), np.zeros(1000, np.float32))


def test_bad_files_raise_one_line_naming_the_file(tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("these are my notes, not a recording\n")
    assert "notes.wav" in single_line_error(read_clip, text, SR, SR, match="not an audio file")

    good = write(tmp_path / "good.wav", sine(0.2, SR), subtype="PCM_16").read_bytes()
    broken = tmp_path / "broken.wav"
    broken.write_bytes(good[:20] + good[44:])  # the 'fmt ' chunk cut out of the header
    assert "broken.wav" in single_line_error(read_clip, broken, SR, SR)

    header_only = tmp_path / "header_only.wav"
    header_only.write_bytes(good[:44])
    single_line_error(read_clip, header_only, SR, SR, match="0 samples")

    nan = write(tmp_path / "nan.wav", np.array([0.1, np.nan, 0.2], np.float32), subtype="FLOAT")
    single_line_error(read_clip, nan, SR, SR, match="NaN")

    single_line_error(read_clip, tmp_path / "missing.wav", SR, SR, match="no such file")


# --- folders -------------------------------------------------------------------------------------------


def test_class_sub_folders_become_labels(tmp_path):
    write(tmp_path / "dog" / "b.wav", sine(0.3, 8000, 300), 8000)
    write(tmp_path / "cat" / "a.flac", sine(0.3, SR, 600))
    write(tmp_path / "dog" / "deeper" / "c.ogg", sine(0.3, 22050, 300), 22050)
    (tmp_path / "cat" / "readme.txt").write_text("not audio")
    data = load_folder(tmp_path, SR, 8000)
    assert data.class_names == ["cat", "dog"]
    assert data.files == ["cat/a.flac", "dog/b.wav", "dog/deeper/c.ogg"]
    assert data.labels.tolist() == [0, 1, 1] and data.labels.dtype == np.int64
    assert data.voices == ["a", "b", "c"] and data.sample_rate == SR and data.skipped == []
    assert [round(peak_hz(c)) for c in data.clips] == [600, 300, 300]


def test_flat_folder_is_unlabelled(tmp_path):
    for k in range(3):
        write(tmp_path / f"take{k}.WAV", sine(0.2, SR, 200 + 100 * k))
    data = load_folder(tmp_path, SR, 4000)
    assert data.labels is None and data.class_names == [] and len(data) == 3 and data.length == 4000


def test_silent_and_corrupt_files_are_skipped_with_reasons(tmp_path):
    for k in range(3):
        write(tmp_path / f"ok{k}.wav", sine(0.2, SR))
    write(tmp_path / "quiet.wav", np.zeros(SR))
    (tmp_path / "fake.wav").write_text("hello")
    data = load_folder(tmp_path, SR, 4000)
    assert data.files == ["ok0.wav", "ok1.wav", "ok2.wav"]
    reasons = dict(line.split(": ", 1) for line in data.skipped)
    assert set(reasons) == {"fake.wav", "quiet.wav"}
    assert "silent" in reasons["quiet.wav"] and "not an audio file" in reasons["fake.wav"]
    assert all("\n" not in line for line in data.skipped)


def test_max_files_reads_a_stable_subset_with_every_class(tmp_path):
    for name in ("a", "b"):
        for k in range(6):
            write(tmp_path / name / f"{k}.wav", sine(0.1, SR, 200 + 50 * k))
    (tmp_path / "a" / "bad.wav").write_text("x")
    first = load_folder(tmp_path, SR, 2000, max_files=4)
    again = load_folder(tmp_path, SR, 2000, max_files=4)
    assert len(first) == 4 and first.files == again.files
    assert sorted(set(first.labels.tolist())) == [0, 1]


def test_unusable_folders_raise_one_line(tmp_path):
    video = Path(__file__).parent / "fixtures" / "tiny_video.mp4"  # a real MP4 (MPEG-4 video, AAC sound)
    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy(video, empty / "video.mp4")
    assert "video.mp4" in single_line_error(load_folder, empty, SR, SR, match="no audio files")
    renamed = tmp_path / "renamed"  # the same video named as a sound file: skipped, then refused
    renamed.mkdir()
    shutil.copy(video, renamed / "clip.wav")
    assert "clip.wav" in single_line_error(load_folder, renamed, SR, SR, match="no usable audio")
    write(renamed / "tone.wav", sine(0.2, SR, 300))
    kept = load_folder(renamed, SR, SR)
    assert len(kept) == 1 and len(kept.skipped) == 1 and kept.skipped[0].startswith("clip.wav: ")

    bad = tmp_path / "bad"
    write(bad / "silent.wav", np.zeros(100))
    (bad / "text.wav").write_text("hi")
    msg = single_line_error(load_folder, bad, SR, SR, match="no usable audio")
    assert "2 file(s)" in msg and "silent" in msg

    single_line_error(load_folder, tmp_path / "nowhere", SR, SR, match="no such folder")
    one = write(tmp_path / "one.wav", sine(0.1, SR))
    single_line_error(load_folder, one, SR, SR, match="must be a folder")

    mixed = tmp_path / "mixed"
    for where in ("x/1.wav", "y/2.wav", "loose.wav"):
        write(mixed / where, sine(0.1, SR))
    single_line_error(load_folder, mixed, SR, SR, match="loose.wav")

    dead_class = tmp_path / "dead_class"
    write(dead_class / "x" / "1.wav", sine(0.1, SR))
    write(dead_class / "y" / "2.wav", np.zeros(SR))
    assert "'y'" in single_line_error(load_folder, dead_class, SR, SR, match="class folder")


def test_load_audio_names_the_builtins_and_checks_the_split(tmp_path):
    assert "spoken-digits" in single_line_error(load_audio, "no-such-dataset", SR, SR)
    write(tmp_path / "a.wav", sine(0.1, SR))
    single_line_error(load_audio, tmp_path, SR, SR, "heldout", match="only for built-in")
    single_line_error(load_audio, "spoken-digits", SR, SR, "test", match="heldout")
    assert len(load_audio(tmp_path, SR, SR)) == 1


# --- writing -------------------------------------------------------------------------------------------


def test_write_wav_round_trips_as_16_bit_pcm_atomically(tmp_path):
    rng = np.random.default_rng(0)
    clip = rng.uniform(-1, 1, 4000).astype(np.float32)
    clip[:2] = [1.5, -2.0]  # beyond full scale: clipped
    path = write_wav(tmp_path / "out.wav", clip, 22050)
    info = sf.info(path)
    assert (info.samplerate, info.channels, info.subtype, info.format) == (22050, 1, "PCM_16", "WAV")
    back, _ = sf.read(path, dtype="float32")
    np.testing.assert_allclose(back, np.clip(clip, -1, 1), atol=1.5 / 32768)
    assert os.listdir(tmp_path) == ["out.wav"]  # no temp file left beside it
    assert path.read_bytes() == wav_bytes(clip, 22050)
    single_line_error(write_wav, tmp_path / "nan.wav", np.array([0.0, np.nan]), SR, match="NaN")
    assert not (tmp_path / "nan.wav").exists()


def test_audio_data_checks_labels_and_allows_clips_without_files():
    clips = np.zeros((2, 10), np.float32)
    in_memory = AudioData(clips, np.array([1, 0]), ["a", "b"], [], [], SR)
    assert in_memory.labels.dtype == np.int64 and in_memory.num_classes == 2
    with pytest.raises(DataError):
        AudioData(clips, np.array([0, 2]), ["a", "b"], ["x", "y"], ["x", "y"], SR)
    with pytest.raises(DataError):
        AudioData(clips, None, [], ["only-one-file"], [], SR)


# --- the spoken-digits built-in ------------------------------------------------------------------------


def test_split_words_cuts_an_utterance_at_its_long_pauses():
    rate = 8000
    pause, word = np.zeros(int(0.7 * rate)), sine(0.3, rate)
    closure = np.zeros(int(0.1 * rate))  # a stop closure inside a word must not split it
    utterance = np.concatenate([pause] + [np.concatenate([word, closure, word, pause]) for _ in range(3)])
    parts = split_words(utterance, rate, 3)
    assert parts is not None and len(parts) == 3
    for part in parts:
        start, end = voiced(part)
        assert abs((end - start) - int(0.7 * rate)) < 0.02 * rate  # word + closure + word, whole
    noisy = utterance + 0.05 * np.random.default_rng(0).standard_normal(len(utterance))  # breath in pauses
    assert split_words(noisy, rate, 3) is None
    assert split_words(utterance, rate, 4) is None


@pytest.fixture(scope="module")
def quick_cache(tmp_path_factory):
    if not HAVE_SYNTHS:
        pytest.skip("espeak-ng and flite are not installed")
    cache = tmp_path_factory.mktemp("spoken-digits-cache")
    spoken_digits_dir(cache, quick=True)
    return cache


@needs_synths
def test_quick_build_holds_every_digit_in_both_splits_with_disjoint_speakers(quick_cache):
    folder = spoken_digits_dir(quick_cache, quick=True)
    info = read_voices(folder)
    voices = {split: set(info["splits"][split]) for split in ("train", "heldout")}
    assert voices["train"] and voices["heldout"] and not voices["train"] & voices["heldout"]
    speakers = {s: {info["voices"][v]["speaker"] for v in voices[s]} for s in voices}
    assert not speakers["train"] & speakers["heldout"]  # whole speakers held out, not just settings
    assert "flite rms" in speakers["heldout"]
    for split in voices:
        assert sorted(p.name for p in (folder / split).iterdir()) == [str(d) for d in range(10)]
        for d in range(10):
            assert {p.stem for p in (folder / split / str(d)).glob("*.flac")} == voices[split]
    some = next((folder / "train" / "7").glob("*.flac"))
    assert (sf.info(some).samplerate, sf.info(some).channels, sf.info(some).subtype) == (SR, 1, "PCM_16")
    assert info["counts"]["total"]["clips"] == 10 * len(info["voices"])
    assert not list(quick_cache.glob(".*building*"))  # the temp build folder was renamed away


@needs_synths
def test_a_finished_build_is_reused_not_rebuilt(quick_cache):
    folder = quick_cache / "spoken-digits-quick-v1"
    stamps = {p: p.stat().st_mtime_ns for p in [folder / "voices.json", *folder.rglob("*.flac")]}
    assert spoken_digits_dir(quick_cache, quick=True) == folder
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


@needs_synths
def test_builtin_clips_are_the_spoken_digit_their_label_says(quick_cache, monkeypatch):
    """Held-out speakers' digits are recognised by their nearest training clip (log-spectrogram cosine):
    far above the 10 % of chance only if every word was cut out and filed under the right digit."""
    from scipy.signal import stft

    monkeypatch.setenv("GANFORGE_CACHE", str(quick_cache))
    monkeypatch.setenv("GANFORGE_SPOKEN_DIGITS", "quick")
    train = load_audio("spoken-digits", SR, SR)
    held = load_audio("spoken-digits", SR, SR, split="heldout")
    assert (
        train.class_names == ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
        and np.bincount(train.labels).tolist() == [len(set(train.voices))] * 10
    )
    assert not set(train.voices) & set(held.voices)
    assert (np.abs(train.clips).max(axis=1) > 0.05).all()

    def features(clips: np.ndarray) -> np.ndarray:
        spec = np.log(np.abs(stft(clips, nperseg=512, noverlap=384)[2]) + 1e-3).reshape(len(clips), -1)
        spec -= spec.mean(axis=1, keepdims=True)
        return spec / np.linalg.norm(spec, axis=1, keepdims=True)

    nearest = (features(held.clips) @ features(train.clips).T).argmax(axis=1)
    assert (train.labels[nearest] == held.labels).mean() >= 0.6


@needs_synths
def test_a_failing_synthesiser_is_skipped_and_noted(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("espeak-ng"), bin_dir / "espeak-ng")
    fake = bin_dir / "flite"
    fake.write_text("#!/bin/sh\necho 'flite: voice not found' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    folder = spoken_digits_dir(tmp_path / "cache", quick=True)
    info = read_voices(folder)
    assert "voice not found" in info["skipped"]["flite-rms-d1.0"]
    assert all(v.startswith("espeak-") for v in info["voices"]) and info["splits"]["heldout"]

    (bin_dir / "espeak-ng").unlink()
    (bin_dir / "espeak-ng").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "espeak-ng").chmod(0o755)
    single_line_error(spoken_digits_dir, tmp_path / "cache2", True, match="could not synthesise")
    assert not (tmp_path / "cache2" / "spoken-digits-quick-v1").exists()
    assert not list((tmp_path / "cache2").glob(".*building*"))


def test_missing_synthesisers_say_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on it
    msg = single_line_error(spoken_digits_dir, tmp_path / "cache", True)
    assert msg == "the spoken-digits built-in needs espeak-ng and flite: apt-get install espeak-ng flite"


@needs_synths
def test_an_interrupted_build_leaves_no_half_data_set(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(builtin, "_build", interrupted)
    with pytest.raises(KeyboardInterrupt):
        spoken_digits_dir(tmp_path, quick=True)
    assert list(tmp_path.iterdir()) == []


def test_the_full_plan_holds_out_about_15_percent_of_speakers():
    variants = [f"v{k}" for k in range(100)]
    voices = builtin.plan(quick=False, variants=variants)
    espeak = [v for v in voices if v.synth == "espeak-ng"]
    assert len(espeak) == 8 * 100 and len({v.speaker for v in espeak}) == 800  # one setting per speaker
    held = sum(v.split == "heldout" for v in espeak) / len(espeak)
    assert 0.10 < held < 0.20
    assert {v.split for v in voices if v.speaker == "flite rms"} == {"heldout"}
    assert len({v.name for v in voices}) == len(voices)

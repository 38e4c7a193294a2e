"""The audio wing: a short run learns which pitch goes with which class (and a broken one does not),
resumes exactly, and the CLI trains, samples labelled WAV files and refuses bad input in one line."""

import json
import subprocess

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import ganforge_cmd

from ganforge import load
from ganforge.audio.model import AudioGAN
from ganforge.errors import ConfigError, DataError

SR, LENGTH = 8000, 4000  # half a second at 8 kHz: the networks run on 4,096 samples
FREQS = (500.0, 1500.0)  # the tone of each class


def tones(n: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` clips, each a tone of its class's pitch (+-3 %), a random phase and loudness."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    f = np.array(FREQS)[labels] * rng.uniform(0.97, 1.03, n)
    t = np.arange(LENGTH) / SR
    amp = rng.uniform(0.3, 0.8, n)
    x = amp[:, None] * np.sin(2 * np.pi * f[:, None] * t[None] + rng.uniform(0, 2 * np.pi, n)[:, None])
    return x.astype(np.float32), labels


def peak_hz(clips: np.ndarray) -> np.ndarray:
    return np.abs(np.fft.rfft(clips, axis=1)).argmax(axis=1) * SR / clips.shape[1]


FAST = {"seconds": LENGTH / SR, "sample_rate": SR, "batch_size": 32, "width": 8, "z_dim": 32, "device": "cpu"}


def test_a_short_run_learns_each_class_pitch_and_a_broken_one_does_not():
    clips, labels = tones()

    def on_pitch(gan: AudioGAN) -> float:
        out, asked = gan.generate(200, seed=1), gan.labels_for(200)
        return float(np.mean(np.abs(peak_hz(out) - np.array(FREQS)[asked]) < 100))

    quick = dict(FAST, steps=120, width=16)  # the default learning rates
    gan = AudioGAN(**quick).fit(clips, labels=labels)
    assert on_pitch(gan) > 0.9
    broken = AudioGAN(lr_g=0.0, **quick).fit(clips, labels=labels)  # G never learns
    assert on_pitch(broken) < 0.6


def test_resume_equals_uninterrupted(tmp_path):
    clips, labels = tones(64)
    kw = dict(FAST, width=4, checkpoint_every=3)
    full = AudioGAN(steps=6, arch="wave", **kw).fit(clips, out=tmp_path / "full", labels=labels)
    AudioGAN(steps=3, arch="wave", **kw).fit(clips, out=tmp_path / "part", labels=labels)
    resumed = AudioGAN.resume(tmp_path / "part", steps=6).fit(clips, out=tmp_path / "part", resume=True,
                                                               labels=labels)  # fmt: skip
    for name in ("G", "G_ema", "D"):
        a, b = getattr(full, name).state_dict(), getattr(resumed, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    again = load(tmp_path / "part")
    assert np.array_equal(full.sample(3, seed=4, watermark=False), again.sample(3, seed=4, watermark=False))
    with pytest.raises(DataError, match="different clips"):
        AudioGAN.resume(tmp_path / "part", steps=8).fit(clips[:32], out=tmp_path / "part", resume=True,
                                                        labels=labels[:32])  # fmt: skip


def write_folder(root, clips, labels, names=("low", "high")):
    for i, (clip, k) in enumerate(zip(clips, labels, strict=True)):
        (root / names[k]).mkdir(parents=True, exist_ok=True)
        sf.write(root / names[k] / f"{i:03d}.wav", clip, SR, subtype="PCM_16")


def run_cli(*args, timeout=300, env=None):
    import os

    return subprocess.run([*ganforge_cmd(), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})  # fmt: skip


def test_the_cli_trains_on_a_folder_and_samples_labelled_clips_of_a_named_class(tmp_path):
    clips, labels = tones(40)
    write_folder(tmp_path / "data", clips, labels)
    run = tmp_path / "run"
    proc = run_cli("train", "audio", tmp_path / "data", "--out", run, "--steps", "2", "--batch", "8", "--width", "4",
                   "--seconds", "0.5", "--sample-rate", SR, "--device", "cpu")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["kind"] == "audio" and config["recipe"]["class_names"] == ["high", "low"]
    proc = run_cli("sample", run, "-n", "3", "--class", "low", "--seed", "5", "--out", tmp_path / "clips")
    assert proc.returncode == 0, proc.stderr
    files = sorted(p.name for p in (tmp_path / "clips").glob("0*.wav"))
    assert files == ["0000_low.wav", "0001_low.wav", "0002_low.wav"]
    clip, rate = sf.read(tmp_path / "clips" / "0001_low.wav")
    assert rate == SR and clip.shape == (LENGTH,)
    grid, _ = sf.read(tmp_path / "clips" / "grid.wav")
    assert len(grid) == 3 * LENGTH + 2 * SR // 4  # three clips, two quarter-second gaps
    with sf.SoundFile(tmp_path / "clips" / "0000_low.wav") as f:
        assert "Synthetic audio" in f.comment and config["watermark_key_id"] in f.comment
    side = json.loads((tmp_path / "clips" / "grid.wav.provenance.json").read_text())
    assert side["synthetic"] is True and side["clips"] == 3 and side["class"] == "low"
    again = load(run).sample(3, seed=5, klass="low")  # the CLI wrote what the Python API makes
    assert np.abs(again[1] - clip).max() < 2 / 32768
    assert np.array_equal(load(run).sample(3, seed=5, klass="1"), again)  # digits: the index of "low"
    cache = {"GANFORGE_CACHE": str(tmp_path / "cache")}  # the digit classifier is cached there
    proc = run_cli("evaluate", run, "-n", "20", env=cache)
    assert proc.returncode == 0, proc.stderr
    scored = json.loads((run / "config.json").read_text())["metrics"]["evaluation"]
    assert scored["clips"] == 20 and scored["classifier_accuracy_real"] > 0.9  # the two tones told apart
    assert "training clips" in scored["real"]  # a folder has no held-out split: said so
    proc = run_cli("report", run, env=cache)
    assert proc.returncode == 0, proc.stderr
    html = (run / "report.html").read_text()
    assert html.count("data:audio/wav;base64,") >= 2 * 2 and 'id="sound"' in html  # generated and real
    for bad, needle in (("-3", "class index -3 is out of range"), ("--3", "unknown class '--3'"),
                        ("seven", "unknown class 'seven'")):  # fmt: skip
        assert_one_line(run_cli("sample", run, "-n", "1", "--class", bad, "--out", tmp_path / "x"), needle)


def assert_one_line(proc, needle):
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], proc.stderr


def test_bad_input_is_refused_in_one_line(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.wav").write_text("this is not audio")
    (tmp_path / "notes" / "b.wav").write_text("nor is this")
    common = ["--steps", "1", "--device", "cpu", "--out", tmp_path / "run"]
    cases = [
        (["train", "audio", tmp_path / "nowhere", *common], "neither a folder nor a built-in"),
        (["train", "audio", tmp_path / "notes", *common], "no usable audio"),
        (["train", "audio", tmp_path / "notes", "--arch", "midi", *common], "--arch must be one of"),
        (["train", "audio", tmp_path / "notes", "--seconds", "0", *common], "--seconds"),
        (
            ["train", "audio", tmp_path / "notes", "--seconds", "60", *common],
            "--seconds must be within 0.25..10",
        ),
        (
            ["train", "audio", tmp_path / "notes", "--seconds", "0.1", *common],
            "--seconds must be within 0.25..10",
        ),
        (
            ["train", "audio", tmp_path / "notes", "--sample-rate", "96000", *common],
            "--sample-rate must be within",
        ),
    ]
    for args, needle in cases:
        assert_one_line(run_cli(*args), needle)
    assert not (tmp_path / "run" / "config.json").exists()
    with pytest.raises(ConfigError, match="arch must be one of"):
        AudioGAN(arch="midi")
    clips, labels = tones(8)
    gan = AudioGAN(steps=1, **dict(FAST, width=2)).fit(clips, labels=labels)
    with pytest.raises(ConfigError, match="unknown class 'seven'"):
        gan.sample(2, klass="seven")
    with pytest.raises(DataError, match=r"must be an array \(n, 4000\)"):
        gan.fit(clips[:, :100])
    with pytest.raises(DataError, match="NaN"):
        gan.fit(np.full((4, LENGTH), np.nan, np.float32))


def varied(n: int, seed: int) -> np.ndarray:
    """Tones of any pitch (200..3,500 Hz), each sounding for a random stretch of the clip."""
    rng = np.random.default_rng(seed)
    t = np.arange(LENGTH) / SR
    f = rng.uniform(200, 3500, n)[:, None]
    start = rng.uniform(0, 0.3, n)[:, None]
    on = (t[None] >= start) & (t[None] < start + rng.uniform(0.1, 0.2, n)[:, None])
    return (0.5 * np.sin(2 * np.pi * f * t[None]) * on).astype(np.float32)


@pytest.mark.parametrize("arch", ["spec", "wave"])
def test_the_health_probe_tells_a_collapsed_generator_from_varied_sound(arch):
    from ganforge.audio.probe import AUDIO_COLLAPSE, audio_features, audio_probe
    from ganforge.audio.recipe import AudioRecipe
    from ganforge.engine.health import coverage

    recipe = AudioRecipe(arch=arch, sample_rate=SR, length=LENGTH)
    _, real = audio_probe(recipe, recipe.encode(varied(600, seed=0)), 0)
    other = audio_features(recipe, recipe.encode(varied(256, seed=1)))
    few = audio_features(recipe, recipe.encode(varied(3, seed=2)[np.arange(256) % 3]))
    assert coverage(real, other) > 0.5  # other clips of the same kind cover the real ones
    assert coverage(real, few) < AUDIO_COLLAPSE["collapse_coverage"]  # three sounds do not

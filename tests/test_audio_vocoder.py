"""The GAN vocoder: a short run learns to turn tones' spectrograms back into tones of the right pitch (and
an untrained one does not), the mel-only warm-up leaves the discriminators untouched, a generator silent
below the log-mel floor still learns from the mel loss, a resume across the warm-up's end equals an
uninterrupted run, a spectrogram GAN keeps a checked copy of its vocoder, and the CLI trains, evaluates
and refuses bad input in one line."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from test_audio import FAST, SR, peak_hz, run_cli, tones, write_folder

from ganforge import load
from ganforge.audio.model import AudioGAN
from ganforge.audio.spectral import LOG_FLOOR
from ganforge.audio.vocoder import SegmentSource, Vocoder
from ganforge.engine.trainer import Trainer
from ganforge.errors import CheckpointError, ConfigError

VOC = {"sample_rate": SR, "seconds": 0.5, "batch_size": 16, "device": "cpu"}


def noisy(n: int, seed: int) -> np.ndarray:
    """Tones over a faint noise floor (-40 dB), as recorded sound has one. (Over digital silence a short run
    learns no pitch: the loss spends itself on the silent bands' -11.5; see docs/audio.md.)"""
    clips, _ = tones(n, seed=seed)
    return clips + np.random.default_rng(seed + 100).normal(0, 0.01, clips.shape).astype(np.float32)


@pytest.fixture(scope="module")
def trained() -> Vocoder:
    return Vocoder(steps=200, warmup_steps=190, width=32, lr_g=1e-3, **VOC).fit(noisy(256, 0))


def vocoded_pitch_share(voc: Vocoder, clips: np.ndarray) -> float:
    out = voc.vocode(voc.recipe.mel.log_mel(clips), clips.shape[1])
    return float(np.mean(np.abs(peak_hz(out) - peak_hz(clips)) < 60))


def test_a_short_run_learns_to_vocode_tones_and_an_untrained_one_does_not(trained):
    held = noisy(64, seed=9)  # tones it never heard
    assert vocoded_pitch_share(trained, held) > 0.9
    figures = trained.compare(held)
    assert figures["vocoder"]["mel_l1"] < 1.0
    untrained = Vocoder(steps=1, warmup_steps=1, width=32, lr_g=0.0, **VOC).fit(noisy(32, 1))
    assert vocoded_pitch_share(untrained, held) < 0.5
    assert untrained.compare(held)["vocoder"]["mel_l1"] > 2 * figures["vocoder"]["mel_l1"]
    assert trained.metrics["steps"] == 200  # the last ten were adversarial: they ran and stayed finite


def test_the_warm_up_trains_the_generator_alone_then_the_discriminators_join():
    clips, _ = tones(32)
    voc = Vocoder(steps=4, warmup_steps=2, width=8, log_every=1, **VOC)
    r = voc.recipe
    r.log_mean, r.log_std = -5.0, 3.0
    trainer = Trainer(r, SegmentSource(r, clips), voc.train_config)
    d0 = {k: v.clone() for k, v in trainer.D.state_dict().items()}
    g0 = {k: v.clone() for k, v in trainer.G.state_dict().items()}
    records = []
    trainer.log_record = records.append
    trainer.fit()
    assert [("loss_d" in rec, "fm" in rec) for rec in records] == [(False, False)] * 2 + [(True, True)] * 2
    assert not all(torch.equal(v, g0[k]) for k, v in trainer.G.state_dict().items())
    # The warm-up alone leaves D as it was built.
    warm = Trainer(r, SegmentSource(r, clips), dataclasses.replace(voc.train_config, steps=2))
    warm.fit()
    assert all(torch.equal(v, d0[k]) for k, v in warm.D.state_dict().items())
    assert not all(torch.equal(v, d0[k]) for k, v in trainer.D.state_dict().items())


def test_a_generator_silent_below_the_log_floor_still_learns_pure_tones():
    """Pure tones over digital silence, and a generator whose output starts below the log-mel floor (1e-5) in
    every band: a clamped log would give it no gradient at all; the loss's smooth log does, and a few mel-only
    steps cut the loss on a fixed batch by a clear margin."""
    clips, _ = tones(32)
    voc = Vocoder(steps=12, warmup_steps=12, width=8, lr_g=1e-3, **dict(VOC, batch_size=8))
    r = voc.recipe
    r.log_mean, r.log_std = -5.0, 3.0
    source = SegmentSource(r, clips)
    trainer = Trainer(r, source, voc.train_config)
    with torch.no_grad():  # the output layer's gain (weight norm's g) and bias scaled to a millionth
        trainer.G.post.parametrizations.weight.original0.mul_(1e-6)
        trainer.G.post.bias.mul_(1e-6)
    x, c = source.get(torch.arange(8))

    def mel_loss() -> tuple[float, float]:
        with torch.no_grad():
            fake = trainer.G(None, c)
            loss = float(r.paired_loss(trainer.G, fake, x, None)["mel_l1"])
            return loss, float(r.mel.mel(fake[:, 0]).max())

    before, loudest = mel_loss()
    assert loudest < LOG_FLOOR  # silent in every band, where the tones are too
    trainer.fit()
    after, _ = mel_loss()
    assert after < 0.8 * before, (before, after)


def test_resume_across_the_warm_up_equals_uninterrupted(tmp_path):
    clips, _ = tones(32)
    kw = dict(VOC, width=8, warmup_steps=3, checkpoint_every=2)
    full = Vocoder(steps=6, **kw).fit(clips, out=tmp_path / "full")
    Vocoder(steps=2, **kw).fit(clips, out=tmp_path / "part")
    resumed = Vocoder.resume(tmp_path / "part", steps=6).fit(clips, out=tmp_path / "part", resume=True)
    for name in ("G", "G_ema", "D"):
        a, b = getattr(full, name).state_dict(), getattr(resumed, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name


def test_a_spectrogram_gan_keeps_a_checked_copy_of_its_vocoder(tmp_path, trained):
    clips, labels = tones(64)
    gan = AudioGAN(steps=2, **dict(FAST, width=4)).set_vocoder(trained)
    gan.fit(clips, labels=labels, out=tmp_path / "run")
    before = gan.generate(3, seed=5)
    again = load(tmp_path / "run")
    assert again.vocoder is not None and "GAN vocoder" in (tmp_path / "run" / "card.md").read_text()
    assert np.array_equal(before, again.generate(3, seed=5))
    # Sound made by the vocoder, not by Griffin-Lim.
    assert not np.allclose(before, again.set_vocoder(None).generate(3, seed=5), atol=1e-3)
    # A copy that is not the one it was saved with is refused.
    other = tmp_path / "other"
    Vocoder(steps=1, width=8, **VOC).fit(clips, out=other)
    (tmp_path / "run" / "vocoder" / "config.json").write_text((other / "config.json").read_text())
    (tmp_path / "run" / "vocoder" / "model.safetensors").write_bytes(
        (other / "model.safetensors").read_bytes()
    )
    with pytest.raises(CheckpointError, match="not the vocoder"):
        load(tmp_path / "run")
    # Spectrograms it was not trained on, and a waveform GAN, are refused in one line.
    with pytest.raises(ConfigError, match="same settings"):
        AudioGAN(sample_rate=16000, steps=1).set_vocoder(trained)
    with pytest.raises(ConfigError, match="wave makes sound directly"):
        AudioGAN(arch="wave", **dict(FAST, steps=1)).set_vocoder(trained)


def test_the_cli_trains_evaluates_and_refuses_bad_input(tmp_path):
    clips, labels = tones(24)
    write_folder(tmp_path / "data", clips, labels)
    run = tmp_path / "voc"
    done = run_cli("train", "vocoder", tmp_path / "data", "--out", run, "--steps", "3", "--warmup-steps", "2",
                   "--sample-rate", SR, "--seconds", "0.5", "--width", "8", "--device", "cpu")  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = run_cli("evaluate", run, "-n", "4")
    assert shown.returncode == 0, shown.stderr
    assert "griffin_lim" in shown.stdout and "vocoder" in shown.stdout
    saved = json.loads((run / "config.json").read_text())["metrics"]["evaluation"]
    assert saved["clips"]["n"] == 4 and saved["vocoder"]["mel_l1"] > 0
    for args, says in (
        (("sample", run, "-n", "2", "--out", tmp_path / "s"), "not available for a vocoder run"),
        (("train", "vocoder", tmp_path / "data", "--out", tmp_path / "w", "--width", "4"), "--width"),
        (
            (
                "train",
                "audio",
                tmp_path / "data",
                "--out",
                tmp_path / "a",
                "--sample-rate",
                "16000",
                "--vocoder",
                run,
            ),
            "same settings",
        ),  # fmt: skip
        (
            ("train", "audio", tmp_path / "data", "--out", tmp_path / "b", "--vocoder", tmp_path / "data"),
            "not a ganforge run",
        ),  # fmt: skip
    ):
        bad = run_cli(*args)
        lines = [ln for ln in bad.stderr.splitlines() if ln.strip()]
        assert bad.returncode != 0 and len(lines) == 1 and says in lines[0], (args, bad.stderr)
    assert not (tmp_path / "s").exists()


def test_onnx_export_of_a_spectrogram_gan_with_its_vocoder_samples_the_same_clips(tmp_path, trained):
    pytest.importorskip("onnxruntime")
    from ganforge.audio.export import OnnxAudio, export_audio
    from ganforge.engine.onnx_export import ExportError

    clips, labels = tones(64)
    AudioGAN(steps=2, **dict(FAST, width=4)).fit(clips, labels=labels, out=tmp_path / "gl")
    with pytest.raises(ExportError, match="Griffin-Lim"):
        export_audio(tmp_path / "gl")
    gan = AudioGAN(steps=2, **dict(FAST, width=4)).set_vocoder(trained)
    gan.fit(clips, labels=labels, out=tmp_path / "voc")
    exported = OnnxAudio(export_audio(tmp_path / "voc"))
    assert exported.class_names == gan.class_names
    want = gan.sample(4, seed=2, klass="1", watermark=False)
    assert np.abs(exported.sample(4, seed=2, klass="1", watermark=False) - want).max() < 1e-3

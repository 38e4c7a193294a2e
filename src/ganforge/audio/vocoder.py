"""The GAN vocoder: log-mel spectrograms -> sound, trained on real clips (``ganforge train vocoder DATA``).

A HiFi-GAN-style generator (audio/nets.py) learns to turn the spectrograms of real clips back into the
clips, on the one Trainer: least-squares adversarial loss from multi-period and multi-scale
discriminators, plus mel L1 (weight 45) and feature matching (weight 2) as HiFi-GAN trains. It trains on
random quarter-second segments; a spectrogram GAN run then uses it in place of Griffin-Lim
(``ganforge train audio ... --vocoder RUN``), and the run keeps its own copy.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.audio.data import AudioData, load_audio, source_name
from ganforge.audio.nets import VocoderDiscriminator, VocoderGenerator, upsample_rates
from ganforge.audio.spectral import MelSpec, stft_distance
from ganforge.core.config import TrainConfig, from_dict
from ganforge.core.io import fingerprint
from ganforge.engine import artifact
from ganforge.engine.callbacks import Callback
from ganforge.engine.health import health_callbacks
from ganforge.engine.model import GANModel, train_config
from ganforge.errors import ConfigError, DataError

KIND = "vocoder"

# After HiFi-GAN (least squares, Adam with betas 0.8 / 0.99, no gradient penalty), with a warm-up on the
# mel loss alone for the first 4,000 steps (as Parallel WaveGAN trains): a mel-only step costs a sixth of
# an adversarial one here, so the generator reaches intelligible sound within minutes on a CPU. The
# generator's rate is 5e-4 (HiFi-GAN: 2e-4), for short budgets. The EMA copy of the generator vocodes.
VOCODER_TRAIN_DEFAULTS: dict[str, Any] = {
    "loss": "lsgan", "lr_g": 5e-4, "lr_d": 2e-4, "betas": (0.8, 0.99), "r1_gamma": 0.0,
    "ema_halflife_images": 5_000.0, "grad_clip": 100.0, "adversarial_start": 4000,
}  # fmt: skip


@dataclass
class VocoderRecipe:
    """The spectrogram it reads (the spectrogram GAN's: same rate, FFT, hop and bands) and the widths."""

    sample_rate: int = 16000
    n_fft: int = 1024
    hop: int = 256
    n_mels: int = 64
    width: int = 64  # the generator's first channel count (halved at each upsampling)
    d_width: int = 16  # the discriminators' first channel count
    segment_frames: int = 16  # training segments: 16 frames = 4,096 samples
    mel_weight: float = 45.0
    fm_weight: float = 2.0
    log_mean: float = -5.0  # log-mel normalisation (set from the data)
    log_std: float = 3.0

    def __post_init__(self) -> None:
        try:
            upsample_rates(self.hop)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        if self.width < 8 or self.d_width < 1:
            raise ConfigError(f"width must be >= 8 and d_width >= 1 (got {self.width}, {self.d_width})")

    @property
    def mel(self) -> MelSpec:
        return MelSpec(self.sample_rate, self.n_fft, self.hop, self.n_mels)

    def build_generator(self) -> torch.nn.Module:
        return VocoderGenerator(self.n_mels, self.hop, self.width)

    def build_discriminator(self) -> torch.nn.Module:
        return VocoderDiscriminator(self.d_width, self.fm_weight)

    def sample_latents(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return torch.zeros(n, 0)

    def augment(self, x: torch.Tensor, p: float, rng: torch.Generator) -> torch.Tensor:
        return x

    def describe(self) -> dict[str, Any]:
        return {"name": "audio-vocoder", "sample_rate": self.sample_rate, "hop": self.hop,
                "n_mels": self.n_mels, "width": self.width, "d_width": self.d_width}  # fmt: skip

    def normalise(self, log_mel: torch.Tensor) -> torch.Tensor:
        return (log_mel - self.log_mean) / self.log_std

    def paired_loss(
        self, generator: torch.nn.Module, fake: torch.Tensor, real: torch.Tensor, c: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        """Mel L1 between the generated and the real segment, on ``smooth_log_mel`` (a gradient wherever
        the generated segment is quieter than the floor); the adversarial and feature-matching terms come
        from the Trainer."""
        mel = self.mel
        return {
            "mel_l1": self.mel_weight
            * (mel.smooth_log_mel(fake[:, 0].float()) - mel.smooth_log_mel(real[:, 0])).abs().mean()
        }


class SegmentSource:
    """Random segments of the training clips with their normalised log-mel frames (a SampledSource:
    the clip and the offset are drawn from the Trainer's generator, so a resume repeats them)."""

    def __init__(self, recipe: VocoderRecipe, clips: np.ndarray) -> None:
        hop, seg = recipe.hop, recipe.segment_frames
        frames = max(seg, math.ceil(clips.shape[1] / hop))
        x = torch.from_numpy(np.ascontiguousarray(clips, dtype=np.float32))
        self.waves = torch.nn.functional.pad(x, (0, frames * hop - x.shape[1]))
        mel = recipe.mel
        self.mels = torch.cat(
            [recipe.normalise(mel.log_mel(self.waves[i : i + 256])) for i in range(0, len(x), 256)]
        )
        self.hop, self.seg, self.frames = hop, seg, frames

    def __len__(self) -> int:
        return len(self.waves)

    def get(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = self.waves[indices, : self.seg * self.hop]
        return x[:, None], self.mels[indices, :, : self.seg]

    def sample(self, n: int, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        idx = torch.randint(len(self.waves), (n,), generator=rng)
        start = torch.randint(self.frames - self.seg + 1, (n,), generator=rng)
        x = torch.stack(
            [
                self.waves[i, s * self.hop : (s + self.seg) * self.hop]
                for i, s in zip(idx.tolist(), start.tolist(), strict=True)
            ]
        )
        c = torch.stack(
            [self.mels[i, :, s : s + self.seg] for i, s in zip(idx.tolist(), start.tolist(), strict=True)]
        )
        return x[:, None], c


class Vocoder(GANModel):
    """``Vocoder().fit("spoken-digits")``; ``.vocode(log_mel)`` -> clips. The spectrogram is
    ``MelSpec(sample_rate, n_fft, hop, n_mels).log_mel(clips)``, the spectrogram GAN's own."""

    kinds = (KIND,)
    memory_hint = "lower --width"

    def __init__(
        self,
        sample_rate: int = 16000,
        seconds: float = 1.0,
        steps: int | None = None,
        minutes: float | None = None,
        batch_size: int = 16,
        width: int = 64,
        seed: int = 0,
        device: str = "auto",
        checkpoint_every: int = 500,
        log_every: int = 20,
        n_mels: int = 64,
        hop: int = 256,
        n_fft: int = 1024,
        warmup_steps: int | None = None,
        lr_g: float | None = None,
        lr_d: float | None = None,
    ) -> None:
        """Give ``steps`` or ``minutes`` (or neither: 6,000 steps); ``sample_rate``, ``n_mels``, ``hop``
        and ``n_fft`` must be the spectrogram GAN's (its defaults are these). ``warmup_steps`` (default
        4,000) train the generator on the mel loss alone before the discriminators join."""
        from ganforge.audio.watermark import MAX_RATE, MIN_RATE

        if not MIN_RATE <= sample_rate <= MAX_RATE:
            raise ConfigError(f"sample_rate must be within {MIN_RATE:,}..{MAX_RATE:,} Hz (got {sample_rate})")
        if not 0.25 <= seconds <= 10:
            raise ConfigError(f"seconds must be within 0.25..10 (got {seconds:g})")
        if steps is not None and steps < 1:
            raise ConfigError(f"steps must be >= 1 (got {steps})")
        if warmup_steps is not None and warmup_steps < 0:
            raise ConfigError(f"warmup_steps must be >= 0 (got {warmup_steps})")
        chosen = {"lr_g": lr_g, "lr_d": lr_d, "adversarial_start": warmup_steps}
        self.train_config = train_config(
            VOCODER_TRAIN_DEFAULTS, chosen, steps, minutes, 6000,
            batch_size=batch_size, seed=seed, device=device, checkpoint_every=checkpoint_every, log_every=log_every
        )  # fmt: skip
        self.recipe = VocoderRecipe(
            sample_rate=int(sample_rate), n_fft=n_fft, hop=hop, n_mels=n_mels, width=width
        )
        self.seconds = float(seconds)
        self._init_state()

    def _read(self, data: str | Path | AudioData | np.ndarray) -> np.ndarray:
        r = self.recipe
        if isinstance(data, AudioData):
            if data.sample_rate != r.sample_rate:
                raise DataError(
                    f"the clips are at {data.sample_rate} Hz; this vocoder takes {r.sample_rate} Hz"
                )
            return data.clips
        if isinstance(data, np.ndarray):
            clips = np.asarray(data, dtype=np.float32)
            if clips.ndim != 2 or clips.shape[1] < r.segment_frames * r.hop // 2:
                raise DataError(f"clips must be an array (n, samples >= {r.segment_frames * r.hop // 2})")
            if not np.isfinite(clips).all():
                raise DataError("the clips hold NaN or infinite samples")
            return clips
        return load_audio(data, r.sample_rate, round(self.seconds * r.sample_rate), split="train").clips

    def fit(
        self,
        data: str | Path | AudioData | np.ndarray,
        out: str | Path | None = None,
        resume: bool = False,
        callbacks: list[Callback] | None = None,
        health: str = "recover",
    ) -> Vocoder:
        """Train on real clips: a folder of audio files, the built-in ``spoken-digits``, ``AudioData`` or an
        array (n, samples) at ``sample_rate``. ``health`` (recover | stop | warn | off): what the
        training-health monitor does about NaNs, divergence or discriminators that win outright."""
        clips = self._read(data)
        if len(clips) < 2:
            raise DataError(f"need at least 2 clips to learn from (got {len(clips)})")
        fp = fingerprint([np.asarray(clips, np.float32)])
        run_dir = artifact.prepare_out_dir(Path(out), resume) if out is not None else None
        r = self.recipe
        if resume:
            self.check_resumable(run_dir, fp, "different clips; resume needs the same data")
        else:
            probe = r.mel.log_mel(clips[:: max(1, len(clips) // 256)])
            r.log_mean, r.log_std = float(probe.mean()), float(probe.std().clamp_min(1e-3))
        source = SegmentSource(r, clips)
        self.data_info = {"source": source_name(data), "clips": len(clips), "sample_rate": r.sample_rate,
                          "seconds": clips.shape[1] / r.sample_rate, "fingerprint": fp}  # fmt: skip
        # (no collapse check: the spectrogram decides what the vocoder says)
        cbs = list(callbacks or []) + health_callbacks(health)
        trainer = self.start_training(r, source, run_dir, cbs, resume)
        result = trainer.fit(resume=resume)
        self.finish_training(trainer, result, segments_seen=result.examples_seen)
        if run_dir is not None:
            self.save(run_dir)
        return self

    # ------------------------------------------------------------------ use
    @torch.no_grad()
    def vocode(
        self, log_mel: torch.Tensor | np.ndarray, length: int | None = None, batch: int = 16
    ) -> np.ndarray:
        """Log-mel spectrograms (n, n_mels, frames) -> clips (n, length or frames x hop) float32 in [-1, 1]."""
        if self.G_ema is None:
            raise ConfigError("the vocoder is not trained yet: call fit() or load() first")
        x = torch.as_tensor(log_mel, dtype=torch.float32)
        r = self.recipe
        if x.ndim != 3 or x.shape[1] != r.n_mels:
            raise ConfigError(f"log-mel spectrograms must be (n, {r.n_mels}, frames) (got {tuple(x.shape)})")
        G = self.G_ema.eval()
        out = [
            G(None, r.normalise(x[i : i + batch]).to(self.device))[:, 0].float().cpu()
            for i in range(0, len(x), batch)
        ]
        clips = torch.cat(out).clamp(-1.0, 1.0).numpy()
        return (
            clips
            if length is None
            else np.pad(clips, ((0, 0), (0, max(0, length - clips.shape[1]))))[:, :length]
        )

    def fits(self, sample_rate: int, n_fft: int, hop: int, n_mels: int) -> None:
        """Refuse, in one line, spectrograms this vocoder was not trained on."""
        r = self.recipe
        mine, theirs = (r.sample_rate, r.n_fft, r.hop, r.n_mels), (sample_rate, n_fft, hop, n_mels)
        if mine != theirs:
            raise ConfigError(
                "the vocoder reads spectrograms of {} Hz, FFT {}, hop {}, {} mel bands; the model makes {} Hz, "
                "FFT {}, hop {}, {} bands: train a vocoder on the same settings".format(*mine, *theirs)
            )

    def compare(self, clips: np.ndarray, griffin_lim_iters: int = 32) -> dict[str, dict[str, float]]:
        """Real clips -> log-mel -> sound, by this vocoder and by Griffin-Lim: mel L1 and the multi-resolution
        STFT distance against the originals, and seconds of audio made per second."""
        import time

        r, mel = self.recipe, self.recipe.mel
        hop = r.hop
        x = torch.from_numpy(np.pad(clips, ((0, 0), (0, (-clips.shape[1]) % hop))).astype(np.float32))
        target = mel.log_mel(x)
        result = {}
        for name in ("vocoder", "griffin_lim"):
            t0 = time.perf_counter()
            if name == "vocoder":
                back = torch.from_numpy(self.vocode(target, x.shape[1]))
            else:
                back = mel.invert(target, x.shape[1], griffin_lim_iters)
            seconds = time.perf_counter() - t0
            result[name] = {
                "mel_l1": round(float((mel.log_mel(back) - target).abs().mean()), 4),
                "multi_resolution_stft": round(stft_distance(x, back, r.sample_rate), 4),
                "x_real_time": round(x.numel() / r.sample_rate / seconds, 1),
            }
        result["clips"] = {"n": len(clips)}
        return result

    # ------------------------------------------------------------------ persistence
    def config_dict(self) -> dict[str, Any]:
        return {"kind": KIND, "recipe": asdict(self.recipe), "train": asdict(self.train_config),
                "seconds": self.seconds, "data": self.data_info, "metrics": self.metrics}  # fmt: skip

    @classmethod
    def from_config(cls, config: dict[str, Any], train: dict[str, Any] | None = None) -> Vocoder:
        voc = cls.__new__(cls)
        voc._init_state()
        voc.train_config = from_dict(TrainConfig, train or config["train"], what="training")
        voc.recipe = from_dict(VocoderRecipe, config["recipe"], what="recipe")
        voc.seconds = float(config.get("seconds", 1.0))
        voc.data_info = dict(config.get("data", {}))
        return voc

    def network_recipe(self) -> VocoderRecipe:
        return self.recipe

    def card(self) -> dict[str, Any]:
        r = self.recipe
        return {
            "Model": {"kind": "GAN vocoder (log-mel spectrogram -> sound)",
                      "networks": f"HiFi-GAN-style generator (width {r.width}), multi-period + multi-scale "
                                  f"discriminators (width {r.d_width})",
                      "spectrogram": f"{r.n_mels} mel bands, FFT {r.n_fft}, hop {r.hop}, {r.sample_rate} Hz"},
            "Data": self.data_info,
            "Training": {k: v for k, v in self.metrics.items() if not k.startswith("evaluation")},
            "Evaluation": self.metrics.get("evaluation", "not evaluated yet: run `ganforge evaluate RUN`"),
            "Use": "ganforge train audio DATA --vocoder RUN (the spectrogram GAN keeps a copy)",
        }  # fmt: skip

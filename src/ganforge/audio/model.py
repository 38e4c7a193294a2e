"""``AudioGAN(arch="spec").fit("spoken-digits")``, ``.sample(n, seed=None, klass=None)`` -> clips
(n, samples) float32 in [-1, 1], each carrying the inaudible mark of the model's id."""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.audio.data import AudioData, load_audio, source_name
from ganforge.audio.probe import AUDIO_COLLAPSE, audio_probe
from ganforge.audio.recipe import ARCHS, AudioRecipe, ClipSource
from ganforge.core.config import TrainConfig, from_dict
from ganforge.core.io import fingerprint
from ganforge.engine import artifact
from ganforge.engine.callbacks import Callback
from ganforge.engine.health import health_callbacks
from ganforge.engine.model import GANModel, sampling_generator, train_config
from ganforge.errors import ConfigError, DataError
from ganforge.safety.payload import new_model_id, saved_model_id

KIND = "audio"
VOCODER_DIR = "vocoder"  # a run's own copy of the GAN vocoder it makes sound with (when it has one)

# Training settings for clips: the non-saturating loss with a lazy R1 penalty on the discriminator,
# Adam at 2e-4 with beta1 0.5, and an EMA of the generator.
AUDIO_TRAIN_DEFAULTS: dict[str, Any] = {
    "loss": "ns", "lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.99), "r1_gamma": 1.0, "reg_interval": 4,
    "ema_halflife_images": 10_000.0, "grad_clip": 10.0,
}  # fmt: skip


class AudioGAN(GANModel):
    """A GAN on short sound clips: ``arch`` "spec" (log-mel spectrogram GAN + Griffin-Lim) or "wave"
    (waveform GAN); class-conditional when the data has labels and ``cond`` is True."""

    kinds = (KIND,)
    memory_hint = "lower --width"

    def __init__(
        self,
        arch: str = "spec",
        seconds: float = 1.0,
        sample_rate: int = 16000,
        cond: bool = True,
        steps: int | None = None,
        minutes: float | None = None,
        batch_size: int = 64,
        z_dim: int = 100,
        width: int = 16,
        seed: int = 0,
        device: str = "auto",
        checkpoint_every: int = 500,
        log_every: int = 20,
        lr_g: float | None = None,
        lr_d: float | None = None,
    ) -> None:
        """Give ``steps`` or ``minutes`` (or neither: 2,000 steps); the rest shapes clips and networks."""
        if arch not in ARCHS:
            raise ConfigError(f"arch must be one of {', '.join(ARCHS)} (got {arch!r})")
        from ganforge.audio.watermark import MAX_RATE, MIN_RATE, MIN_SECONDS

        if not MIN_RATE <= sample_rate <= MAX_RATE:  # the rates every clip can carry the mark at
            raise ConfigError(f"sample_rate must be within {MIN_RATE:,}..{MAX_RATE:,} Hz (got {sample_rate})")
        if not MIN_SECONDS <= seconds <= 10:
            raise ConfigError(f"seconds must be within {MIN_SECONDS:.2f}..10 (got {seconds:g})")
        if steps is not None and steps < 1:
            raise ConfigError(f"steps must be >= 1 (got {steps})")
        chosen = {"lr_g": lr_g, "lr_d": lr_d}
        self.train_config = train_config(
            AUDIO_TRAIN_DEFAULTS, chosen, steps, minutes, 2000,
            batch_size=batch_size, seed=seed, device=device, checkpoint_every=checkpoint_every, log_every=log_every
        )  # fmt: skip
        self.recipe = AudioRecipe(arch=arch, sample_rate=int(sample_rate), length=round(seconds * sample_rate),
                                  z_dim=z_dim, width=width)  # fmt: skip
        self.cond = cond
        self._model_id: str | None = None
        self._init_state()
        self.vocoder: Any = None  # a trained Vocoder (audio/vocoder.py) in place of Griffin-Lim, or None
        self._vocoder_saved: dict[str, Any] | None = None

    @property
    def model_id(self) -> str:
        """The watermark key id (5 hex digits) every generated clip carries; saved in config.json."""
        if self._model_id is None:
            self._model_id = new_model_id()
        return self._model_id

    @property
    def class_names(self) -> list[str]:
        return list(self.recipe.class_names)

    # ------------------------------------------------------------------ training
    def _read(self, data: str | Path | AudioData | np.ndarray, labels: np.ndarray | None) -> AudioData:
        r = self.recipe
        if isinstance(data, AudioData):
            if data.sample_rate != r.sample_rate or data.clips.shape[1] != r.length:
                raise DataError(f"the clips are {data.clips.shape[1]} samples at {data.sample_rate} Hz; this "
                                f"model takes {r.length} samples at {r.sample_rate} Hz")  # fmt: skip
            return data
        if isinstance(data, np.ndarray):
            clips = np.asarray(data, dtype=np.float32)
            if clips.ndim != 2 or clips.shape[1] != r.length:
                raise DataError(f"clips must be an array (n, {r.length}) (got shape {clips.shape})")
            if not np.isfinite(clips).all():
                raise DataError("the clips hold NaN or infinite samples")
            if labels is not None:
                labels = np.asarray(labels)
                if labels.shape != (len(clips),) or labels.dtype.kind not in "iu" or labels.min() < 0:
                    raise DataError(f"labels must be {len(clips)} class indices >= 0")
            names = [str(k) for k in range(int(labels.max()) + 1)] if labels is not None else []
            return AudioData(clips=clips, labels=None if labels is None else np.asarray(labels, np.int64),
                             class_names=names, files=[], voices=[], sample_rate=r.sample_rate,
                             skipped=[])  # fmt: skip
        return load_audio(data, r.sample_rate, r.length, split="train")

    def fit(
        self,
        data: str | Path | AudioData | np.ndarray,
        out: str | Path | None = None,
        resume: bool = False,
        callbacks: list[Callback] | None = None,
        labels: np.ndarray | None = None,
        health: str = "recover",
    ) -> AudioGAN:
        """Train on a folder of audio files (class sub-folders become labels), the built-in
        ``spoken-digits``, loaded ``AudioData`` or an array of clips (n, samples) with optional ``labels``.
        ``health``: what the training-health monitor does about divergence, an overpowering discriminator,
        mode collapse or NaNs — "recover" (roll back and apply a remedy), "stop", "warn" or "off"."""
        audio = self._read(data, labels)
        if len(audio.clips) < 2:
            raise DataError(f"need at least 2 clips to learn from (got {len(audio.clips)})")
        use_labels = (
            audio.labels if self.cond and audio.labels is not None and len(audio.class_names) > 1 else None
        )
        fp = fingerprint(
            [
                np.asarray(audio.clips, np.float32),
                None if use_labels is None else np.asarray(use_labels, np.int64),
            ]
        )
        run_dir = artifact.prepare_out_dir(Path(out), resume) if out is not None else None
        r = self.recipe
        if resume:
            self.check_resumable(run_dir, fp, "different clips; resume needs the same data")
        else:
            r.num_classes = len(audio.class_names) if use_labels is not None else 0
            r.class_names = list(audio.class_names) if use_labels is not None else []
            if r.arch == "spec":  # the loudest band in the data maps to +1
                probe = audio.clips[:: max(1, len(audio.clips) // 256)]
                r.log_high = float(r.mel.log_mel(probe).max()) + 0.5
        source = ClipSource(r.encode(audio.clips), use_labels)
        cbs = list(callbacks or []) + health_callbacks(
            health, AUDIO_COLLAPSE, lambda: audio_probe(r, source.x, r.num_classes)
        )
        self.data_info = {"source": source_name(data),
                          "clips": len(audio.clips), "classes": r.num_classes, "sample_rate": r.sample_rate,
                          "seconds": r.length / r.sample_rate, "skipped": len(audio.skipped),
                          "fingerprint": fp}  # fmt: skip
        trainer = self.start_training(r, source, run_dir, cbs, resume)
        result = trainer.fit(resume=resume)
        self.finish_training(trainer, result, clips_seen=result.examples_seen)
        if run_dir is not None:
            self.save(run_dir)
        return self

    # ------------------------------------------------------------------ sampling
    def class_index(self, klass: int | str | None) -> int | None:
        """A class given by index or name -> its index (None stays None); ConfigError for unknown ones."""
        if klass is None:
            return None
        names = self.recipe.class_names
        if not names:
            raise ConfigError("--class needs a class-conditional model; this one was trained without labels")
        text = str(klass).strip()
        if re.fullmatch(r"-?[0-9]{1,18}", text):  # digits are an index, as on the command line
            index = int(text)
        elif text in names:
            return names.index(text)
        else:
            raise ConfigError(f"unknown class {str(klass)[:40]!r}; this model knows: {', '.join(names)}")
        if not 0 <= index < len(names):
            raise ConfigError(f"class index {index} is out of range 0..{len(names) - 1}")
        return index

    def labels_for(self, n: int, klass: int | str | None = None) -> np.ndarray | None:
        """The classes of ``n`` generated clips: all ``klass``, or every class in turn (0, 1, ..., 0, 1 ...)."""
        if not self.recipe.num_classes:
            self.class_index(klass)  # refuses a class for an unconditional model
            return None
        index = self.class_index(klass)
        return (
            np.full(n, index, np.int64)
            if index is not None
            else np.arange(n, dtype=np.int64) % self.recipe.num_classes
        )

    @torch.no_grad()
    def generate(
        self, n: int, seed: int | None = None, klass: int | str | None = None, batch: int = 256
    ) -> np.ndarray:
        """``n`` unmarked clips (n, samples) float32 in [-1, 1] (see ``labels_for`` for their classes)."""
        if self.G_ema is None:
            raise ConfigError("the model is not trained yet: call fit() or load() first")
        if n < 1:
            raise ConfigError(f"n must be >= 1 (got {n})")
        labels = self.labels_for(n, klass)
        rng = sampling_generator(seed)
        G = self.G_ema.eval()
        out = []
        for start in range(0, n, batch):
            m = min(batch, n - start)
            z = self.recipe.sample_latents(m, rng).to(self.device)
            c = torch.from_numpy(labels[start : start + m]).to(self.device) if labels is not None else None
            out.append(self._to_sound(G(z, c)))
        return np.concatenate(out)

    def _to_sound(self, out: torch.Tensor) -> np.ndarray:
        """The generator's output -> clips: by the GAN vocoder when the model has one, else the recipe's
        own way (the waveform itself, or Griffin-Lim)."""
        if self.vocoder is None:
            return self.recipe.decode(out)
        return self.vocoder.vocode(self.recipe.unscale(out[:, 0].float()), self.recipe.length)

    def set_vocoder(self, vocoder: Any) -> AudioGAN:
        """Make sound with a trained GAN vocoder (a ``Vocoder`` or its run directory) in place of
        Griffin-Lim; ``None`` goes back to Griffin-Lim. Saving the model saves a copy of the vocoder."""
        if vocoder is None:
            self.vocoder, self._vocoder_saved = None, None
            return self
        from ganforge.audio.vocoder import Vocoder

        if not isinstance(vocoder, Vocoder):
            vocoder = Vocoder.load(vocoder)
        r = self.recipe
        if r.arch != "spec":
            raise ConfigError("a vocoder turns spectrograms into sound; --arch wave makes sound directly")
        if vocoder.G_ema is None:
            raise ConfigError("the vocoder is not trained yet")
        vocoder.fits(r.sample_rate, r.n_fft, r.hop, r.n_mels)
        self.vocoder = vocoder
        return self

    def sample(self, n: int, seed: int | None = None, klass: int | str | None = None,
               watermark: bool = True) -> np.ndarray:  # fmt: skip
        """``n`` clips (n, samples) float32 in [-1, 1]; with ``watermark`` (the default) each carries the
        inaudible mark of :attr:`model_id` (``ganforge verify clip.wav`` reads it). Classes as
        ``labels_for(n, klass)``: all ``klass`` (index or name), or every class in turn."""
        clips = self.generate(n, seed, klass)
        if watermark:
            from ganforge.audio.watermark import mark

            clips = mark(clips, self.recipe.sample_rate, self.model_id)
        return clips

    # ------------------------------------------------------------------ persistence
    def config_dict(self) -> dict[str, Any]:
        config = {"kind": KIND, "recipe": asdict(self.recipe), "train": asdict(self.train_config), "cond": self.cond,
                  "data": self.data_info, "metrics": self.metrics, "watermark_key_id": self.model_id}  # fmt: skip
        if self.vocoder is not None and self._vocoder_saved is not None:
            config["vocoder"] = self._vocoder_saved
        return config

    def save(self, out: str | Path) -> Path:
        """As every model (weights, config.json, card.md), plus the vocoder's copy in ``out/vocoder``."""
        if self.G_ema is not None:
            self._save_vocoder(Path(out))
        return super().save(out)

    def write_config(self) -> None:
        from ganforge.engine import distributed

        if self.run_dir is not None and distributed.is_main():  # the vocoder's copy before the config
            self._save_vocoder(self.run_dir)
        super().write_config()

    def _save_vocoder(self, out: Path) -> None:
        if self.vocoder is None:
            return
        self.vocoder.save(out / VOCODER_DIR)
        saved = artifact.read_config(out / VOCODER_DIR)
        self._vocoder_saved = {"dir": VOCODER_DIR, "weights_sha256": saved["weights_sha256"]}

    def _attach_saved_vocoder(self, run_dir: Path, device: str) -> None:
        """The vocoder copy the run was saved with (checked against the checksum config.json records)."""
        from ganforge.errors import CheckpointError

        saved = self._vocoder_saved
        if not saved:
            return
        from ganforge.audio.vocoder import Vocoder

        where = Path(run_dir) / str(saved.get("dir", VOCODER_DIR))
        if not (where / artifact.CONFIG).is_file():
            raise CheckpointError(f"{run_dir} was saved with a vocoder, but {where} is missing")
        if artifact.read_config(where).get("weights_sha256") != saved.get("weights_sha256"):
            raise CheckpointError(f"{where} is not the vocoder {run_dir} was saved with (checksum differs)")
        self.set_vocoder(Vocoder.load(where, device=device))
        self._vocoder_saved = dict(saved)

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "cpu") -> AudioGAN:
        gan = super().load(run_dir, device=device)
        gan._attach_saved_vocoder(Path(run_dir), device)
        return gan

    @classmethod
    def resume(cls, run_dir: str | Path, steps: int | None = None, device: str | None = None,
               minutes: float | None = None) -> AudioGAN:  # fmt: skip
        gan = super().resume(run_dir, steps=steps, device=device, minutes=minutes)
        gan._attach_saved_vocoder(Path(run_dir), "cpu")
        return gan

    @classmethod
    def from_config(cls, config: dict[str, Any], train: dict[str, Any] | None = None) -> AudioGAN:
        gan = cls.__new__(cls)
        gan._init_state()
        gan.train_config = from_dict(TrainConfig, train or config["train"], what="training")
        gan.recipe = from_dict(AudioRecipe, config["recipe"], what="recipe")
        gan.cond = bool(config.get("cond", True))
        gan.data_info = dict(config.get("data", {}))
        gan._model_id = saved_model_id(config)
        gan.vocoder = None
        gan._vocoder_saved = config.get("vocoder") if isinstance(config.get("vocoder"), dict) else None
        return gan

    def network_recipe(self) -> AudioRecipe:
        return self.recipe

    def card(self) -> dict[str, Any]:
        r = self.recipe
        sound = ("the run's GAN vocoder (vocoder/)" if self.vocoder is not None
                 else f"Griffin-Lim ({r.griffin_lim_iters} iterations)")  # fmt: skip
        net = ("waveform GAN: 1-D transposed convolutions, phase-shuffle discriminator" if r.arch == "wave" else
               f"log-mel spectrogram GAN ({r.n_mels} mels x {r.frames} frames) + {sound}")  # fmt: skip
        return {
            "Model": {
                "kind": "audio GAN",
                "arch": r.arch,
                "networks": net,
                "width": r.width,
                "sample rate": r.sample_rate,
                "seconds": r.length / r.sample_rate,
                "classes": ", ".join(r.class_names) or "unconditional",
            },  # fmt: skip
            "Data": self.data_info,
            "Training": {k: v for k, v in self.metrics.items() if not k.startswith("evaluation")},
            "Evaluation": self.metrics.get("evaluation", "not evaluated yet: run `ganforge evaluate RUN`"),
            "Watermark": {"watermark key id": self.model_id, "check": "ganforge verify CLIP.wav"},
        }

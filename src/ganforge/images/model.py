"""The Python API: ``ImageGAN(...).fit(data)``, ``.sample(n)``, ``.save(dir)`` and ``load(dir)``."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ganforge.core.config import TrainConfig, from_dict
from ganforge.core.io import fingerprint
from ganforge.engine import artifact, distributed
from ganforge.engine.callbacks import Callback
from ganforge.engine.health import health_callbacks
from ganforge.engine.model import GANModel, sampling_generator
from ganforge.errors import ConfigError, DataError
from ganforge.images.codec import decode_images
from ganforge.images.data import ImageDataset, to_pil
from ganforge.images.monitor import FeatureDistanceMonitor, SampleGrid
from ganforge.images.probe import IMAGE_COLLAPSE, image_probe
from ganforge.images.recipe import AUTO, ImageRecipe, ImageRecipeConfig, ImageSource, auto_preset, preset
from ganforge.reporting.tensorboard import TensorBoardLogger
from ganforge.safety.payload import saved_model_id

SAMPLE_SEED = 1234  # fixed noise for the sample grids written while training


class ImageGAN(GANModel):
    """An image GAN with sensible defaults: ``ImageGAN(resolution=32, conditional=True).fit("fashion-mnist")``."""

    kinds = ("image",)

    def __init__(
        self,
        resolution: int = 32,
        conditional: bool | None = True,
        preset_name: str = "auto",
        arch: str | None = None,
        steps: int = 2000,
        batch_size: int = 64,
        seed: int = 0,
        device: str = "auto",
        width: int = 32,
        z_dim: int = 64,
        max_seconds: float | None = None,
        channels: int | None = None,
        spectral_norm: bool = False,
        lr_g: float | None = None,
        lr_d: float | None = None,
        loss: str | None = None,
        betas: tuple[float, float] | None = None,
        r1_gamma: float | None = None,
        r2_gamma: float | None = None,
        reg_interval: int | None = None,
        ema_halflife_images: float | None = None,
        augment_p: float | None = None,
        ada_target: float | None | str = "preset",
        grad_clip: float | None = None,
        lr_cooldown: float | None = None,
        checkpoint_every: int = 500,
        log_every: int = 10,
        precision: str = "fp32",
        channels_last: bool = False,
    ) -> None:
        """``preset_name`` sets the training recipe: loss, betas, R1/R2, EMA, augmentation and learning
        rates ("auto": `small-data` below 10,000 training images, else `default`, chosen when ``fit``
        sees the data and saved as the preset it chose); the keywords from ``lr_g`` to ``lr_cooldown`` replace the preset's value when given (None,
        or "preset" for ``ada_target``, keeps it; ``ada_target=None`` turns adaptive augmentation off).
        The other keywords are the model's own (``conditional=None``: class-conditional when the data has
        classes). All are validated here (docs/training.md)."""
        distributed.check_batch(batch_size)  # under torchrun the batch is split over the processes
        chosen = {"lr_g": lr_g, "lr_d": lr_d, "loss": loss, "betas": betas, "r1_gamma": r1_gamma,
                  "r2_gamma": r2_gamma, "reg_interval": reg_interval, "ema_halflife_images": ema_halflife_images,
                  "augment_p": augment_p, "grad_clip": grad_clip, "lr_cooldown": lr_cooldown}  # fmt: skip
        self._chosen = {k: v for k, v in chosen.items() if v is not None}
        if ada_target != "preset":
            self._chosen["ada_target"] = ada_target
        self._chosen_arch = arch
        self._run_settings = {"steps": steps, "batch_size": batch_size, "seed": seed, "device": device,
                              "max_seconds": max_seconds, "checkpoint_every": checkpoint_every,
                              "log_every": log_every, "precision": precision, "channels_last": channels_last}  # fmt: skip
        self.preset_name, self.conditional, self.channels = preset_name, conditional, channels
        # Validated now, completed (channels, classes; the preset for "auto") when the data is seen.
        self.recipe_config = ImageRecipeConfig(resolution=resolution, width=width, z_dim=z_dim,
                                               spectral_norm=spectral_norm)  # fmt: skip
        self._apply_preset(preset_name)
        self._init_state()
        self._model_id: str | None = None

    def _apply_preset(self, name: str) -> None:
        """Set the training settings and the net from preset ``name``; the caller's keywords win."""
        settings = preset(name)
        arch = self._chosen_arch or settings.pop("arch")
        settings.pop("arch", None)
        settings |= self._chosen
        self.train_config = from_dict(TrainConfig, {**settings, **self._run_settings}, what="training")
        self.recipe_config = replace(self.recipe_config, arch=arch)

    @property
    def model_id(self) -> str:
        """The watermark key id (5 hex digits) embedded in every image this model writes.

        Random for a new model and saved in config.json; a run saved without one gets an id derived
        from its weights' checksum, so it is the same every time the run is loaded.
        """
        if getattr(self, "_model_id", None) is None:
            from ganforge.images.watermark import new_model_id

            self._model_id = new_model_id()
        return str(self._model_id)

    # ------------------------------------------------------------------ training
    def fit(
        self,
        data: str | Path | ImageDataset,
        out: str | Path | None = None,
        resume: bool = False,
        callbacks: list[Callback] | None = None,
        sample_every: int = 500,
        monitor_every: int = 0,
        health: str = "recover",
        stream: bool = False,
    ) -> ImageGAN:
        """Train on a folder, a built-in dataset name or an ImageDataset; with ``out`` the run is saved there.

        ``health``: what the training-health monitor does about collapse, divergence or NaNs —
        "recover" (roll back and adjust), "stop", "warn" or "off". ``stream``: decode a folder batch by
        batch instead of loading it whole (docs/large-data.md); a streamed run resumes streamed.
        """
        stream = stream or (resume and out is not None and artifact.was_streamed(Path(out)))
        ds = self._open(data, stream)
        source, reals = self._adopt(ds, data)
        run_dir = artifact.prepare_out_dir(Path(out), resume) if out is not None else None
        if resume:
            self.check_resumable(
                run_dir, self.data_info["fingerprint"], "different data; resume needs the same dataset"
            )
        recipe = ImageRecipe(self.recipe_config)
        cbs = list(callbacks or []) + self._callbacks(
            recipe, reals, run_dir, sample_every, monitor_every, health
        )
        trainer = self.start_training(recipe, source, run_dir, cbs, resume)
        result = trainer.fit(resume=resume)
        self.finish_training(trainer, result, images_seen=result.examples_seen,
                             final_losses={k: round(v, 4) for k, v in trainer.last_stats.items()})  # fmt: skip
        if run_dir is not None and distributed.is_main():
            self.save(run_dir)
        return self

    def _open(self, data: str | Path | ImageDataset, stream: bool) -> Any:
        """The dataset to train on: in memory, or a folder decoded batch by batch with ``stream``."""
        from ganforge.images.builtin import resolve_image_source
        from ganforge.images.stream import StreamingImageFolder

        res = self.recipe_config.resolution
        if isinstance(data, ImageDataset):
            if stream:
                raise ConfigError(
                    "stream=True decodes a folder batch by batch; pass the folder, not a dataset"
                )
            ds = data
        elif stream:
            if not Path(data).is_dir():
                raise ConfigError(f"--stream reads a folder of images; {data} is not a folder")
            ds = StreamingImageFolder(data, res, channels=self.channels)
        else:
            ds = resolve_image_source(data, res, channels=self.channels)
        if ds.resolution != res:
            raise DataError(f"dataset images are {ds.resolution} px but the model is {res} px")
        return ds

    def _adopt(self, ds: Any, data: Any) -> tuple[Any, np.ndarray]:
        """Complete the recipe (channels, classes) and data_info from ``ds``; returns the BatchSource and
        real images for the probe and the monitor."""
        from ganforge.images.stream import StreamingImageFolder

        if self.preset_name == AUTO:  # chosen by data size, and saved as the preset it chose
            self.preset_name = auto_preset(len(ds))
            self._apply_preset(self.preset_name)
        has_classes = ds.labels is not None and ds.num_classes >= 2
        conditional = has_classes if self.conditional is None else self.conditional and has_classes
        if self.conditional and not conditional:
            raise DataError(
                f"class-conditional training needs labelled data (class sub-folders); {ds.source} has none "
                "(use --no-cond)"
            )
        self.recipe_config = replace(
            self.recipe_config, channels=ds.channels, num_classes=ds.num_classes if conditional else 0,
            class_names=tuple(ds.class_names) if conditional else (),
        )  # fmt: skip
        streamed = isinstance(ds, StreamingImageFolder)  # it holds a file index, not pixels
        fp = ds.fingerprint if streamed else fingerprint([ds.images, ds.labels])
        self.data_info = {"source": ds.source, "images": len(ds), "fingerprint": fp}
        if streamed:
            self.data_info["stream"] = True  # a resume re-opens the folder streamed
        if not isinstance(data, ImageDataset):  # how to find the data again (evaluate, resume)
            self.data_info["spec"] = str(data) if not Path(data).exists() else str(Path(data).resolve())
        if streamed:
            return (ds if conditional else ds.unlabelled()), ds.sample_images(512, seed=0)
        return ImageSource(ds.images, ds.labels if conditional else None), ds.images

    def _callbacks(
        self, recipe: ImageRecipe, reals: np.ndarray, run_dir: Path | None, sample_every: int,
        monitor_every: int, health: str,
    ) -> list[Callback]:  # fmt: skip
        """Sample grids and TensorBoard (with a run directory), the feature monitor, the health monitor."""
        cbs: list[Callback] = []
        main = distributed.is_main()  # under torchrun only rank 0 writes files
        if run_dir is not None and main:
            cbs.append(
                SampleGrid(run_dir / "samples", self._grid_fn(), every=sample_every, model_id=self.model_id)
            )
            cbs.append(TensorBoardLogger(run_dir / "tensorboard"))  # after SampleGrid: logs its grids
        if monitor_every and main:
            cbs.append(FeatureDistanceMonitor(reals, self._grid_fn(), every=monitor_every))
        probe = lambda: image_probe(recipe, reals, self.recipe_config.num_classes)  # noqa: E731
        return cbs + health_callbacks(health, IMAGE_COLLAPSE, probe)

    def _grid_fn(self) -> Any:
        rc = self.recipe_config

        def sample(generator: torch.nn.Module, n: int) -> np.ndarray:
            labels = [i % rc.num_classes for i in range(n)] if rc.num_classes else None
            return self._generate(generator, n, labels, SAMPLE_SEED)

        return sample

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def _generate(self, generator: torch.nn.Module, n: int, labels: Any, seed: int | None) -> np.ndarray:
        rc = self.recipe_config
        rng = sampling_generator(seed)
        c = self.labels_for(n, labels, rng)
        out = []
        for start in range(0, n, 256):
            z = torch.randn(min(256, n - start), rc.z_dim, generator=rng).to(self.device)
            cc = c[start : start + z.shape[0]].to(self.device) if c is not None else None
            out.append(decode_images(generator(z, cc)))
        return (
            np.concatenate(out) if out else np.zeros((0, rc.resolution, rc.resolution, rc.channels), np.uint8)
        )

    def labels_for(self, n: int, labels: Any, rng: torch.Generator) -> torch.Tensor | None:
        """Class labels for ``n`` images: drawn from ``rng`` (conditional models) or checked."""
        k = self.recipe_config.num_classes
        if labels is None:
            return torch.randint(k, (n,), generator=rng) if k else None
        if not k:
            raise ConfigError("this model is unconditional: it takes no labels")
        if isinstance(labels, str):  # a class by name
            names = list(self.recipe_config.class_names or [])
            if labels not in names:
                raise ConfigError(
                    f"unknown class {labels!r}; this model knows: {', '.join(names) or 'indices only'}"
                )
            labels = names.index(labels)
        arr = np.asarray([labels] * n if np.isscalar(labels) else labels)
        if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer):
            raise ConfigError(f"labels must be one integer or {n} integers")
        if arr.min() < 0 or arr.max() >= k:
            raise ConfigError(f"class labels must be in 0..{k - 1} (got {arr.min()}..{arr.max()})")
        return torch.from_numpy(arr.astype(np.int64))

    def sample(
        self,
        n: int,
        labels: int | list[int] | None = None,
        seed: int | None = None,
        as_pil: bool = False,
        watermark: bool = True,
    ) -> np.ndarray | list[Image.Image]:
        """``n`` images from the EMA generator: uint8 (n, H, W, C), or PIL images with ``as_pil=True``.

        With ``watermark`` (the default) every image carries the invisible mark of :attr:`model_id`
        (see ``ganforge verify`` and docs/responsible-use.md).
        """
        if self.G_ema is None:
            raise ConfigError("the model is not trained yet: call fit() or load() first")
        if n < 1:
            raise ConfigError(f"n must be >= 1 (got {n})")
        images = self._generate(self.G_ema.eval(), n, labels, seed)
        if watermark:
            from ganforge.images.watermark import mark

            images = mark(images, self.model_id)
        return [to_pil(im) for im in images] if as_pil else images

    def interpolate(
        self,
        steps: int = 32,
        label: int | None = None,
        seed: int = 0,
        points: int = 4,
        watermark: bool = True,
    ) -> np.ndarray:
        """A looping latent walk through ``points`` random latents (spherical interpolation), as images
        (each frame watermarked unless ``watermark=False``)."""
        rc, rng = self.recipe_config, torch.Generator().manual_seed(seed)
        keys = torch.randn(points, rc.z_dim, generator=rng)
        t = torch.linspace(0, 1, steps + 1)[:-1].view(-1, 1)
        frames = [slerp(keys[i], keys[(i + 1) % points], t) for i in range(points)]
        z = torch.cat(frames).to(self.device)
        c = self.labels_for(len(z), label if label is not None else (0 if rc.num_classes else None), rng)
        with torch.no_grad():
            images = decode_images(self.G_ema.eval()(z, c.to(self.device) if c is not None else None))
        if watermark:
            from ganforge.images.watermark import mark

            images = mark(images, self.model_id)
        return images

    # ------------------------------------------------------------------ persistence
    def config_dict(self) -> dict[str, Any]:
        return {
            "kind": "image",
            "preset": self.preset_name,
            "recipe": asdict(self.recipe_config),
            "train": asdict(self.train_config),
            "data": self.data_info,
            "metrics": self.metrics,
            "watermark_key_id": self.model_id,
        }

    def card(self) -> dict[str, Any]:
        return _card(self)

    @classmethod
    def from_config(cls, config: dict[str, Any], train: dict[str, Any] | None = None) -> ImageGAN:
        gan = cls.__new__(cls)
        gan._init_state()
        gan.recipe_config = from_dict(ImageRecipeConfig, config["recipe"], what="recipe")
        gan.train_config = from_dict(TrainConfig, train or config["train"], what="training")
        gan.preset_name = config.get("preset", "default")
        gan.conditional, gan.channels = gan.recipe_config.num_classes > 0, gan.recipe_config.channels
        gan._model_id = saved_model_id(config)
        return gan

    def network_recipe(self) -> ImageRecipe:
        return ImageRecipe(self.recipe_config)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation from ``a`` to ``b`` at the fractions ``t`` (a column of values in [0, 1])."""
    omega = torch.arccos(torch.clamp((a / a.norm()) @ (b / b.norm()), -1.0, 1.0))
    if omega.abs() < 1e-6:
        return a + t * (b - a)
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def _card(gan: ImageGAN) -> dict[str, Any]:
    rc = gan.recipe_config
    classes = ", ".join(rc.class_names) if rc.class_names else "unconditional"
    return {
        "Model": {"kind": "image GAN", "architecture": rc.arch, "preset": gan.preset_name,
                  "resolution": f"{rc.resolution}x{rc.resolution}", "channels": rc.channels, "classes": classes},
        "Data": gan.data_info,
        "Training": {k: v for k, v in gan.metrics.items() if not k.startswith("evaluation")},
        "Evaluation": gan.metrics.get("evaluation", "not evaluated yet: run `ganforge evaluate RUN`"),
        "Watermark": {"watermark key id": gan.model_id, "check": "ganforge verify IMAGE --runs DIR",
                      "details": "docs/responsible-use.md"},
        "Intended use": "Research and prototyping of synthetic images. Generated images are synthetic and "
        "must be labelled as such; they can reproduce biases of the training data.",
    }  # fmt: skip


def load_image(run_dir: str | Path, device: str = "cpu") -> ImageGAN:
    """Load a trained image model; tampered or corrupt files raise CheckpointError."""
    return ImageGAN.load(run_dir, device=device)


def resume_model(
    run_dir: str | Path, steps: int | None = None, device: str | None = None, minutes: float | None = None
) -> ImageGAN:
    """An ImageGAN configured exactly as the run in ``run_dir``, ready for ``fit(..., resume=True)``."""
    return ImageGAN.resume(run_dir, steps=steps, device=device, minutes=minutes)

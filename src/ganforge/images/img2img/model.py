"""Image-to-image GANs in Python: super-resolution / restoration and translation (pix2pix, CycleGAN).

``train_superres(data, out, scale=4)``, ``train_translate(a, b, mode, out)``, ``load_img2img(run)``;
the loaded model ``upscale``\\ s any image size by tiles (bounded memory) or ``translate``\\ s images.
Runs are ordinary run directories (checkpoints, exact resume, model.safetensors, config.json, card.md).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.core.config import TrainConfig, from_dict
from ganforge.core.io import fingerprint
from ganforge.engine import artifact
from ganforge.engine import checkpoint as ckpt
from ganforge.engine.callbacks import Callback
from ganforge.engine.model import GANModel
from ganforge.errors import CheckpointError, ConfigError, DataError
from ganforge.images.codec import encode_images, to_pixels
from ganforge.images.img2img.degrade import check_scale
from ganforge.images.img2img.paired import load_folder, load_hr_images, load_paired
from ganforge.images.img2img.superres import SuperResConfig, SuperResRecipe, SuperResSource
from ganforge.images.img2img.tiling import tiled_apply
from ganforge.images.img2img.translate import PairedSource, TranslateConfig, TranslateRecipe, UnpairedSource

KINDS = ("superres", "translate")
DIRECTIONS = ("a2b", "b2a")
SR_TRAIN = {"loss": "ns", "lr_g": 2e-4, "lr_d": 1e-4, "betas": (0.9, 0.99), "batch_size": 16,
            "ema_halflife_images": 2000.0}  # fmt: skip
TRANSLATE_TRAIN = {"loss": "ns", "lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "batch_size": 8,
                   "ema_halflife_images": 0.0}  # fmt: skip


class ImageToImage(GANModel):
    """A trained super-resolution or translation model (``kind``): its networks, config and run."""

    kinds = KINDS

    def __init__(
        self, kind: str, recipe_config: Any, train_config: TrainConfig, data_info: dict[str, Any]
    ) -> None:
        self._init_state()
        self.kind, self.recipe_config, self.train_config = kind, recipe_config, train_config
        self.data_info = data_info

    def recipe(self) -> SuperResRecipe | TranslateRecipe:
        """The recipe that builds this model's networks."""
        rc = self.recipe_config
        return SuperResRecipe(rc) if self.kind == "superres" else TranslateRecipe(rc)

    # ------------------------------------------------------------------ training
    def fit(self, source: Any, out: str | Path | None = None, resume: bool = False,
            callbacks: list[Callback] | None = None) -> ImageToImage:  # fmt: skip
        """Train on a prepared BatchSource; with ``out`` the run (checkpoints, weights) is saved there."""
        from ganforge.engine.distributed import launched

        if launched():
            raise ConfigError(
                f"{self.kind} training runs in one process; start it without torchrun (docs/scaling.md)"
            )
        run_dir = artifact.prepare_out_dir(Path(out), resume) if out is not None else None
        if resume and (run_dir is None or not ckpt.has_checkpoint(run_dir)):
            raise CheckpointError(f"nothing to resume in {run_dir}: no checkpoint found")
        trainer = self.start_training(self.recipe(), source, run_dir, list(callbacks or []), resume)
        result = trainer.fit(resume=resume)
        self.finish_training(trainer, result, images_seen=result.examples_seen,
                             final_losses={k: round(v, 4) for k, v in trainer.last_stats.items()})  # fmt: skip
        if run_dir is not None:
            self.save(run_dir)
        return self

    def config_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "recipe": asdict(self.recipe_config), "train": asdict(self.train_config),
                "data": self.data_info, "metrics": self.metrics}  # fmt: skip

    def card(self) -> dict[str, Any]:
        return _card(self)

    @classmethod
    def from_config(cls, config: dict[str, Any], train: dict[str, Any] | None = None) -> ImageToImage:
        kind = config.get("kind")
        if kind not in KINDS:
            raise CheckpointError(f"holds a '{kind}' model, not a super-resolution or translation model")
        rc = from_dict(
            SuperResConfig if kind == "superres" else TranslateConfig, config["recipe"], what="recipe"
        )
        tc = from_dict(TrainConfig, train or config["train"], what="training")
        return cls(kind, rc, tc, dict(config.get("data", {})))

    def network_recipe(self) -> SuperResRecipe | TranslateRecipe:
        return self.recipe()

    # ------------------------------------------------------------------ inference
    def _check_image(self, image: np.ndarray, channels: int, what: str = "the model") -> np.ndarray:
        arr = np.asarray(image)
        if arr.ndim == 2:
            arr = arr[..., None]
        if arr.dtype != np.uint8 or arr.ndim != 3:
            raise DataError(f"an image must be a uint8 array (H, W, C); got {arr.dtype} {arr.shape}")
        if arr.shape[2] != channels:
            kinds = {1: "grey", 3: "RGB", 4: "RGBA"}
            got = kinds.get(arr.shape[2], f"{arr.shape[2]}-channel")
            raise DataError(f"the image is {got} ({arr.shape[2]} channels) but {what} takes "
                            f"{channels}-channel ({kinds[channels]}) images")  # fmt: skip
        if min(arr.shape[:2]) < 2:
            raise DataError(f"the image is too small ({arr.shape[1]}x{arr.shape[0]})")
        return arr

    def _run(self, net: torch.nn.Module, region: np.ndarray) -> np.ndarray:
        x = encode_images(np.asarray(region, dtype=np.float32)[None])
        with torch.inference_mode():
            y = net(None, x.to(self.device))
        return to_pixels(y)[0].numpy()

    def upscale(self, image: np.ndarray, tile: int = 128, overlap: int = 16, pad: int = 16) -> np.ndarray:
        """Super-resolve (or restore) a uint8 ``(H, W, C)`` image of any size, ``tile`` input pixels at a
        time: tiles overlap by ``overlap`` pixels (blended) and see ``pad`` more pixels of context."""
        if self.kind != "superres":
            raise ConfigError("this is a translation model; use translate(), not upscale()")
        arr = self._check_image(image, self.recipe_config.channels)
        net = self.G_ema.eval()
        return tiled_apply(lambda r: self._run(net, r), arr, self.recipe_config.scale, tile, overlap, pad)

    def translate(self, image: np.ndarray, direction: str = "a2b") -> np.ndarray:
        """Translate a uint8 ``(H, W, C)`` image from domain A to B (``a2b``) or back (``b2a``, CycleGAN)."""
        if self.kind != "translate":
            raise ConfigError("this is a super-resolution model; use upscale(), not translate()")
        rc = self.recipe_config
        if direction not in DIRECTIONS:
            raise ConfigError(f"--direction must be a2b or b2a (got {direction!r})")
        if direction == "b2a" and rc.mode == "paired":
            raise ConfigError("a paired (pix2pix) model translates a2b only; train --unpaired for both ways")
        g = self.G_ema.eval()
        net = g if rc.mode == "paired" else (g.ab if direction == "a2b" else g.ba)
        channels = rc.channels_a if direction == "a2b" else rc.channels_b
        arr = self._check_image(image, channels, f"the {direction} generator")
        return np.clip(np.rint(self._run(net, arr)), 0, 255).astype(np.uint8)

    def translate_batch(self, images: np.ndarray, direction: str = "a2b") -> np.ndarray:
        """:meth:`translate` over ``(N, H, W, C)`` images."""
        return np.stack([self.translate(im, direction) for im in images])


def _card(model: ImageToImage) -> dict[str, Any]:
    rc = model.recipe_config
    if model.kind == "superres":
        what = {"kind": "super-resolution GAN" if rc.scale > 1 else "restoration GAN", "scale": rc.scale,
                "generator": f"RRDB x{rc.blocks}, width {rc.width}", "degradation": rc.degradation}  # fmt: skip
    else:
        what = {"kind": f"image translation ({'pix2pix' if rc.mode == 'paired' else 'CycleGAN'})",
                "resolution": rc.resolution, "channels": f"A {rc.channels_a}, B {rc.channels_b}"}  # fmt: skip
    return {"Model": what, "Data": model.data_info,
            "Training": {k: v for k, v in model.metrics.items() if k != "evaluation"},
            "Evaluation": model.metrics.get("evaluation", "not evaluated yet: run `ganforge evaluate RUN`"),
            "Intended use": "Research and prototyping. Outputs are synthetic: details a model adds are "
            "plausible, not recovered, and must not be relied on as evidence."}  # fmt: skip


# ---------------------------------------------------------------------------- training entry points


def _train_config(defaults: dict[str, Any], overrides: dict[str, Any]) -> TrainConfig:
    return from_dict(
        TrainConfig, defaults | {k: v for k, v in overrides.items() if v is not None}, what="training"
    )


def superres_source(data: Any, rc: SuperResConfig) -> tuple[SuperResSource, dict[str, Any]]:
    """The training source for ``data`` (folder, 'photos', built-in name or list of arrays) + data info."""
    if isinstance(data, (str, Path)):
        images, source = load_hr_images(data)
        spec = str(Path(data).resolve()) if Path(data).exists() else str(data)
    else:
        images, source, spec = [np.asarray(im) for im in data], "in-memory images", None
    for im in images:
        if im.dtype != np.uint8 or im.ndim != 3 or im.shape[2] != rc.channels:
            raise DataError(f"training images must be uint8 (H, W, {rc.channels}); got {im.dtype} {im.shape}")
    info = {"source": source, "images": len(images), "fingerprint": fingerprint([*images])}
    return SuperResSource(images, rc), info | ({"spec": spec} if spec else {})


def _hr_channels(data: Any) -> int:
    if isinstance(data, (str, Path)):
        return load_hr_images(data)[0][0].shape[2]
    return int(np.asarray(data[0]).shape[2])


def train_superres(
    data: Any, out: str | Path | None = None, scale: int = 4, crop: int | None = None, steps: int = 2000,
    callbacks: list[Callback] | None = None, *, width: int | None = None, blocks: int | None = None,
    growth: int | None = None, d_width: int | None = None, pixel_weight: float | None = None,
    perceptual_weight: float | None = None, degradation: str | None = None, batch_size: int | None = None,
    lr_g: float | None = None, lr_d: float | None = None, seed: int = 0, device: str = "cpu",
    max_seconds: float | None = None, checkpoint_every: int = 500, log_every: int = 10,
) -> ImageToImage:  # fmt: skip
    """Train a super-resolution (``scale`` 2-4) or restoration (``scale`` 1) GAN on high-resolution images.

    ``width`` … ``degradation`` are SuperResConfig fields and ``batch_size`` … ``log_every`` training
    settings (None: the defaults, SuperResConfig's and SR_TRAIN).
    """
    check_scale(scale)  # before reading any image
    rc_opts = {"width": width, "blocks": blocks, "growth": growth, "d_width": d_width, "pixel_weight": pixel_weight,
               "perceptual_weight": perceptual_weight, "degradation": degradation}  # fmt: skip
    crop = crop or max(16, (64 // scale) * scale if scale != 3 else 48)
    rc = SuperResConfig(scale=scale, crop=crop, channels=_hr_channels(data), **_given(rc_opts))
    train = {"batch_size": batch_size, "lr_g": lr_g, "lr_d": lr_d, "seed": seed, "device": device,
             "max_seconds": max_seconds, "checkpoint_every": checkpoint_every, "log_every": log_every}  # fmt: skip
    tc = _train_config(SR_TRAIN, train | {"steps": steps})
    source, info = superres_source(data, rc)
    return ImageToImage("superres", rc, tc, info).fit(source, out, callbacks=callbacks)


def _given(options: dict[str, Any]) -> dict[str, Any]:
    """The options that were given (not None)."""
    return {k: v for k, v in options.items() if v is not None}


def translate_source(
    a: Any, b: Any, mode: str, resolution: int
) -> tuple[Any, dict[str, Any], np.ndarray, np.ndarray]:
    """The training source for folders (or ``(N, H, W, C)`` arrays) ``a`` and ``b``, data info and arrays."""
    info: dict[str, Any] = {}
    if isinstance(a, (str, Path)) and isinstance(b, (str, Path)):
        if mode == "paired":
            xa, xb, _ = load_paired(a, b, resolution)
        else:
            xa, _ = load_folder(a, resolution)
            xb, _ = load_folder(b, resolution)
        info = {"a": str(Path(a).resolve()), "b": str(Path(b).resolve())}
    else:
        xa, xb = np.asarray(a), np.asarray(b)
        for x in (xa, xb):
            if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:3] != (resolution, resolution):
                raise DataError(
                    f"images must be uint8 (N, {resolution}, {resolution}, C); got {x.dtype} {x.shape}"
                )
        if mode == "paired" and len(xa) != len(xb):
            raise DataError(f"paired data needs as many A images as B images ({len(xa)} vs {len(xb)})")
    if min(len(xa), len(xb)) < 2:
        raise DataError("translation needs at least 2 images per domain")
    info |= {"source": f"{info.get('a', 'A')} -> {info.get('b', 'B')}", "images_a": len(xa), "images_b": len(xb),
             "fingerprint": fingerprint([xa, xb])}  # fmt: skip
    source = PairedSource(xa, xb) if mode == "paired" else UnpairedSource(xa, xb)
    return source, info, xa, xb


def train_translate(
    a: Any, b: Any, mode: str = "paired", out: str | Path | None = None, resolution: int = 64,
    steps: int = 2000, callbacks: list[Callback] | None = None, *, width: int | None = None,
    depth: int | None = None, d_width: int | None = None, d_layers: int | None = None,
    l1_weight: float | None = None, cycle_weight: float | None = None, identity_weight: float | None = None,
    pool_size: int | None = None, batch_size: int | None = None, lr_g: float | None = None,
    lr_d: float | None = None, seed: int = 0, device: str = "cpu", max_seconds: float | None = None,
    checkpoint_every: int = 500, log_every: int = 10,
) -> ImageToImage:  # fmt: skip
    """Train pix2pix (``mode="paired"``: matched file names) or CycleGAN (``"unpaired"``) from A to B.

    ``width`` … ``pool_size`` are TranslateConfig fields and ``batch_size`` … ``log_every`` training
    settings (None: the defaults, TranslateConfig's and TRANSLATE_TRAIN).
    """
    TranslateConfig(mode=mode, resolution=resolution)  # validate before reading any image
    source, info, xa, xb = translate_source(a, b, mode, resolution)
    rc_opts = {"width": width, "depth": depth, "d_width": d_width, "d_layers": d_layers, "l1_weight": l1_weight,
               "cycle_weight": cycle_weight, "identity_weight": identity_weight, "pool_size": pool_size}  # fmt: skip
    rc = TranslateConfig(
        mode=mode, resolution=resolution, channels_a=xa.shape[3], channels_b=xb.shape[3], **_given(rc_opts)
    )
    train = {"batch_size": batch_size, "lr_g": lr_g, "lr_d": lr_d, "seed": seed, "device": device,
             "max_seconds": max_seconds, "checkpoint_every": checkpoint_every, "log_every": log_every}  # fmt: skip
    tc = _train_config(TRANSLATE_TRAIN, train | {"steps": steps})
    return ImageToImage("translate", rc, tc, info).fit(source, out, callbacks=callbacks)


# ---------------------------------------------------------------------------- load and resume


def load_img2img(run_dir: str | Path, device: str = "cpu") -> ImageToImage:
    """Load a trained super-resolution or translation run (weights verified against config.json)."""
    return ImageToImage.load(run_dir, device=device)


def resume_img2img(
    run_dir: str | Path, steps: int | None = None, minutes: float | None = None, device: str | None = None,
    callbacks: list[Callback] | None = None,
) -> ImageToImage:  # fmt: skip
    """Continue a run exactly where its last checkpoint left it (its data must still be where it was)."""
    run_dir = Path(run_dir)
    model = ImageToImage.resume(run_dir, steps=steps, device=device, minutes=minutes)
    info = model.data_info
    if model.kind == "superres":
        if "spec" not in info:
            raise DataError(
                f"{run_dir} was trained on in-memory images; resume it from Python with the same data"
            )
        source, fresh = superres_source(info["spec"], model.recipe_config)
    else:
        if "a" not in info:
            raise DataError(
                f"{run_dir} was trained on in-memory images; resume it from Python with the same data"
            )
        rc = model.recipe_config
        source, fresh, _, _ = translate_source(info["a"], info["b"], rc.mode, rc.resolution)
    if fresh["fingerprint"] != info.get("fingerprint"):
        raise DataError(f"the images of {run_dir} changed since it was trained; resume needs the same images")
    return model.fit(source, run_dir, resume=True, callbacks=callbacks)

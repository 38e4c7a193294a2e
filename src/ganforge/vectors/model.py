"""``VectorGAN(steps=2000).fit("points.csv")``, ``.sample(n, seed)`` -> an (n, d) array in the data's units."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.core.config import TrainConfig, from_dict
from ganforge.core.io import fingerprint
from ganforge.engine import artifact
from ganforge.engine.callbacks import Callback
from ganforge.engine.model import GANModel, sampling_generator
from ganforge.errors import ConfigError
from ganforge.vectors.data import VectorCodec, read_vectors
from ganforge.vectors.recipe import TensorSource, VectorRecipe

KIND = "vector"


class VectorGAN(GANModel):
    """A GAN on d-dimensional points: MLP generator and discriminator, non-saturating loss with R1."""

    kinds = (KIND,)

    def __init__(
        self,
        steps: int = 2000,
        batch_size: int = 256,
        z_dim: int = 8,
        hidden: int = 128,
        depth: int = 3,
        lr: float = 1e-3,
        seed: int = 0,
        device: str = "auto",
        max_seconds: float | None = None,
        checkpoint_every: int = 500,
    ) -> None:
        if steps < 1:
            raise ConfigError(f"steps must be >= 1 (got {steps})")
        self.train_config = from_dict(
            TrainConfig,
            {"steps": steps, "batch_size": batch_size, "lr_g": lr, "lr_d": lr, "betas": (0.5, 0.99),
             "loss": "ns", "r1_gamma": 0.1, "seed": seed, "device": device, "max_seconds": max_seconds,
             "checkpoint_every": checkpoint_every, "ema_halflife_images": 5000.0},
            what="training",
        )  # fmt: skip
        self.recipe = VectorRecipe(dim=0, z_dim=z_dim, hidden=hidden, depth=depth)  # dim: from the data
        self.codec: VectorCodec | None = None
        self._init_state()

    def fit(
        self, data: str | Path | np.ndarray, out: str | Path | None = None, resume: bool = False,
        callbacks: list[Callback] | None = None,
    ) -> VectorGAN:  # fmt: skip
        """Train on a .csv / .npy file or an (N, d) array; with ``out`` the run is saved there."""
        x, names, where = read_vectors(data)
        fp = fingerprint([x])
        run_dir = artifact.prepare_out_dir(Path(out), resume) if out is not None else None
        if resume:
            self.check_resumable(run_dir, fp)
        self.codec = VectorCodec.fit(x, names)
        self.recipe.dim = x.shape[1]
        self.data_info = {"source": where, "vectors": len(x), "dim": x.shape[1], "fingerprint": fp}
        source = TensorSource(torch.from_numpy(self.codec.encode(x)))
        trainer = self.start_training(self.recipe, source, run_dir, list(callbacks or []), resume)
        result = trainer.fit(resume=resume)
        self.finish_training(trainer, result, vectors_seen=result.examples_seen)
        if run_dir is not None:
            self.save(run_dir)
        return self

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` vectors from the EMA generator, in the data's own units (float32, shape (n, d))."""
        if self.G_ema is None or self.codec is None:
            raise ConfigError("the model is not trained yet: call fit() or load() first")
        if n < 1:
            raise ConfigError(f"n must be >= 1 (got {n})")
        rng = sampling_generator(seed)
        z = self.recipe.sample_latents(n, rng).to(self.device)
        return self.codec.decode(self.G_ema.eval()(z, None).float().cpu().numpy())

    def config_dict(self) -> dict[str, Any]:
        return {"kind": KIND, "recipe": asdict(self.recipe), "train": asdict(self.train_config),
                "codec": self.codec.to_dict() if self.codec else None, "data": self.data_info,
                "metrics": self.metrics}  # fmt: skip

    @classmethod
    def from_config(cls, config: dict[str, Any], train: dict[str, Any] | None = None) -> VectorGAN:
        gan = cls.__new__(cls)
        gan._init_state()
        gan.train_config = from_dict(TrainConfig, train or config["train"], what="training")
        gan.recipe = from_dict(VectorRecipe, config["recipe"], what="recipe")
        gan.codec = VectorCodec(**config["codec"]) if config.get("codec") else None
        return gan

    def network_recipe(self) -> VectorRecipe:
        return self.recipe

    def card(self) -> dict[str, Any]:
        return {
            "Model": {
                "kind": "vector GAN",
                "dimensions": self.recipe.dim,
                "latent": self.recipe.z_dim,
                "hidden": f"{self.recipe.depth} x {self.recipe.hidden}",
            },  # fmt: skip
            "Data": self.data_info,
            "Training": {k: v for k, v in self.metrics.items() if not k.startswith("evaluation")},
            "Evaluation": self.metrics.get("evaluation", "not evaluated yet: run `ganforge evaluate RUN`"),
        }

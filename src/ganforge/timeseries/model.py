"""``SeriesGAN(window=24).fit("prices.csv", time="date")``, ``.sample(n, length=None, seed=None)`` -> a
DataFrame of ``n`` synthetic sequences in the input's layout (id column, time continued, features)."""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ganforge.core.config import TrainConfig, from_dict
from ganforge.engine import artifact
from ganforge.engine.callbacks import Callback
from ganforge.engine.health import health_callbacks
from ganforge.engine.model import GANModel, sampling_generator, train_config
from ganforge.errors import ConfigError
from ganforge.tables.model import table_fingerprint
from ganforge.timeseries.data import SCALINGS, SeriesCodec, read_series
from ganforge.timeseries.probe import SERIES_COLLAPSE, series_probe
from ganforge.timeseries.recipe import SeriesRecipe, WindowSource
from ganforge.timeseries.timegan import TimeGANRecipe

KIND = "series"

# Training settings for sequences: the non-saturating loss with a light R1 on the convolutional
# discriminator, Adam at 1e-3 / 5e-4 with beta1 0.5 and an EMA of the generator.
SERIES_TRAIN_DEFAULTS: dict[str, Any] = {
    "loss": "ns", "lr_g": 1e-3, "lr_d": 5e-4, "betas": (0.5, 0.99), "r1_gamma": 0.1, "reg_interval": 4,
    "ema_halflife_images": 20_000.0, "grad_clip": 10.0,
}  # fmt: skip
# The TimeGAN-style recipe: Adam's usual betas as the paper's, a warm-up in which the autoencoder and the
# supervisor learn before the adversarial game starts.
TIMEGAN_TRAIN_DEFAULTS: dict[str, Any] = {
    "lr_g": 1e-3, "lr_d": 1e-3, "betas": (0.9, 0.999), "adversarial_start": 500,
}  # fmt: skip
RECIPES = {"direct": SeriesRecipe, "timegan": TimeGANRecipe}


def saved_recipe(config: dict[str, Any]) -> dict[str, Any]:
    """A run's saved recipe settings; runs saved before the sliced term read as trained without it."""
    return {"sliced": 0.0} | config["recipe"]


def auto_width(channels: int) -> int:
    """The direct recipe's GRU width for data of ``channels`` encoded channels: 4 per channel, to the
    nearest power of two, 64 to 128 (Sines' and Stocks' 5 channels: 64; Energy's 34: 128, which scored
    0.235 against 0.260 for 64 in 30 minutes and lower at 3,000 steps with two seeds; wider was never
    measured, so 128 is the cap; docs/timeseries.md)."""
    return int(min(128, max(64, 2 ** round(math.log2(4 * max(channels, 1))))))


class SeriesGAN(GANModel):
    """A GAN on time series: windows of ``window`` steps of one long series or of many (an id column)."""

    kinds = (KIND,)

    def __init__(
        self,
        window: int = 24,
        steps: int | None = None,
        minutes: float | None = None,
        batch_size: int = 128,
        z_dim: int = 16,
        hidden: int | None = None,
        layers: int = 2,
        seed: int = 0,
        device: str = "auto",
        checkpoint_every: int = 500,
        log_every: int = 20,
        lr_g: float | None = None,
        lr_d: float | None = None,
        rollout: int | None = None,
        recipe: str = "direct",
        warmup_steps: int | None = None,
        scaling: str = "minmax",
        sliced: float | None = None,
    ) -> None:
        """Give ``steps`` or ``minutes`` (or neither: 3,000 steps); the rest shapes the networks.
        ``hidden``: the GRU's width; by default chosen from the data when ``fit`` reads it (direct recipe:
        ``auto_width``, 64 for a few channels, 128 for Energy's 34; timegan recipe: 64).
        ``rollout``: steps the generator runs in training, of which the discriminator judges a random
        window (default twice the window, or the shortest series if shorter). ``recipe``: "direct" (a
        recurrent generator against a convolutional discriminator on the data) or "timegan" (autoencoder,
        supervisor and the adversarial game in the latent space, see timegan.py); ``warmup_steps``: the
        timegan recipe's steps before the adversarial game starts (default 500). ``scaling``: how numeric
        features become channels, "minmax", "quantile" or "auto" (SeriesCodec.fit). ``sliced``: weight of the
        direct recipe's sliced Wasserstein term in G's loss (default 30; 0 turns it off)."""
        if recipe not in RECIPES:
            raise ConfigError(f"recipe must be one of {', '.join(RECIPES)} (got {recipe!r})")
        if scaling not in SCALINGS:
            raise ConfigError(f"scaling must be one of {', '.join(SCALINGS)} (got {scaling!r})")
        self.scaling = scaling
        if warmup_steps is not None and recipe != "timegan":
            raise ConfigError(f"warm-up steps belong to the timegan recipe, not the {recipe} one")
        if warmup_steps is not None and warmup_steps < 0:
            raise ConfigError(f"warmup_steps must be >= 0 (got {warmup_steps})")
        if window < 2:
            raise ConfigError(f"window must be >= 2 (got {window})")
        if steps is not None and steps < 1:
            raise ConfigError(f"steps must be >= 1 (got {steps})")
        for name, v in (("z_dim", z_dim), ("hidden", hidden), ("layers", layers)):
            if v is not None and v < 1:
                raise ConfigError(f"{name} must be >= 1 (got {v})")
        chosen = {"lr_g": lr_g, "lr_d": lr_d, "adversarial_start": warmup_steps}
        defaults = SERIES_TRAIN_DEFAULTS | (TIMEGAN_TRAIN_DEFAULTS if recipe == "timegan" else {})
        self.train_config = train_config(
            defaults, chosen, steps, minutes, 3000,
            batch_size=batch_size, seed=seed, device=device, checkpoint_every=checkpoint_every, log_every=log_every
        )  # fmt: skip
        self.auto_hidden = hidden is None  # chosen from the channels when fit reads the data
        self.recipe = RECIPES[recipe](window=window, z_dim=z_dim, hidden=hidden or 64, layers=layers)
        if sliced is not None:
            if not (math.isfinite(sliced) and sliced >= 0):
                raise ConfigError(f"sliced must be a number >= 0 (got {sliced})")
            if recipe != "direct" and sliced > 0:
                raise ConfigError(f"the sliced term belongs to the direct recipe, not the {recipe} one")
            self.recipe.sliced = float(sliced)
        if rollout is not None and rollout < window:
            raise ConfigError(f"rollout must be >= the window of {window} (got {rollout})")
        self.rollout = rollout
        self.codec: SeriesCodec | None = None
        self._init_state()

    # ------------------------------------------------------------------ training
    def fit(
        self,
        data: str | Path | pd.DataFrame,
        out: str | Path | None = None,
        resume: bool = False,
        callbacks: list[Callback] | None = None,
        time: str | None = None,
        id: str | None = None,
        health: str = "warn",
    ) -> SeriesGAN:
        """Train on a CSV/Parquet file, a DataFrame or a built-in (``sines``, ``stocks``, ``energy``);
        ``time`` and ``id`` name the time column and the column telling series apart (a panel).
        ``health``: what the training-health monitor does about divergence, an overpowering discriminator,
        mode collapse or NaNs -- "recover" (roll back and apply a remedy), "stop", "warn" (the default for
        sequences until the collapse threshold is calibrated on them) or "off"."""
        frame, where, builtin_time, builtin_id = read_series(data)
        time, id = time or builtin_time, id or builtin_id
        fp = table_fingerprint(frame)
        run_dir = artifact.prepare_out_dir(Path(out), resume) if out is not None else None
        if resume:
            saved = self.check_resumable(run_dir, fp, "a different series; resume needs the same data")
            self.codec = SeriesCodec(**saved["codec"])
            trained = saved_recipe(saved)  # as the run was trained
            self.recipe.sliced, self.recipe.hidden = float(trained["sliced"]), int(trained["hidden"])
        else:
            self.codec = SeriesCodec.fit(frame, time, id, self.recipe.window, self.scaling)
        if not resume:  # G runs up to twice the window in training, as far as the shortest series allows
            shortest = int(frame.groupby(id).size().min()) if id else len(frame)
            self.recipe.rollout = min(self.rollout or 2 * self.recipe.window, shortest)
        windows = self.codec.windows(frame, length=max(self.recipe.rollout, self.recipe.window))
        self.recipe.channels = self.codec.channels
        if not resume and self.auto_hidden and self.recipe.style == "direct":
            self.recipe.hidden = auto_width(self.codec.channels)
        self.recipe.static, self.recipe.groups = self.codec.static_channels, self.codec.groups()
        if self.recipe.static and self.recipe.style == "timegan":
            raise ConfigError(
                f"the timegan recipe does not generate per-series attributes ({', '.join(self.codec.static)}"
                "): use the direct recipe"
            )
        self.data_info = {"source": where, "rows": len(frame), "windows": len(windows),
                          "series": frame[id].nunique() if id else 1, "features": len(self.codec.features),
                          "fingerprint": fp}  # fmt: skip
        source = WindowSource(torch.from_numpy(windows))
        probe = lambda: series_probe(self.recipe, source.x)  # noqa: E731
        cbs = list(callbacks or []) + health_callbacks(health, SERIES_COLLAPSE, probe)
        trainer = self.start_training(self.recipe, source, run_dir, cbs, resume)
        result = trainer.fit(resume=resume)
        self.finish_training(trainer, result, windows_seen=result.examples_seen)
        if run_dir is not None:
            self.save(run_dir)
        return self

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def generate(
        self,
        n: int,
        length: int | None = None,
        seed: int | None = None,
        conditions: dict[str, Any] | None = None,
    ) -> np.ndarray:
        """``n`` sequences of ``length`` steps (default: the window) as channels (n, length, c) in [0, 1],
        as the data's own windows are encoded (one-hot categories, 0/1 missing-value indicators);
        ``conditions`` fixes static attributes ({"shop": "north"})."""
        if self.G_ema is None or self.codec is None:
            raise ConfigError("the model is not trained yet: call fit() or load() first")
        if n < 1:
            raise ConfigError(f"n must be >= 1 (got {n})")
        length = self.recipe.window if length is None else length
        if length < 1:
            raise ConfigError(f"length must be >= 1 (got {length})")
        values = self.codec.attribute_values(conditions or {})  # checks the conditions
        fixed = torch.from_numpy(values) if self.recipe.static else None
        rng = sampling_generator(seed)
        out = []
        for start in range(0, n, 4096):
            k = min(4096, n - start)
            z = self.recipe.latents(k, length, rng).to(self.device)
            c = fixed.expand(k, -1).to(self.device) if fixed is not None else None
            out.append(self.G_ema.eval()(z, c).float().cpu().numpy())
        return self.codec.harden(np.concatenate(out))  # decoded values stay within the data's range

    def sample(
        self,
        n: int,
        length: int | None = None,
        seed: int | None = None,
        conditions: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """``n`` synthetic sequences in the input's layout: the id column (the input's, or "sequence"),
        the time column continued after the data's last time, the features and static attributes.
        Lengths: ``length`` steps, or (a panel whose series differ in length) drawn from the data's own."""
        codec = self.codec
        if codec is None:
            raise ConfigError("the model is not trained yet: call fit() or load() first")
        lengths = codec.draw_lengths(n, seed) if length is None else None
        steps = int(lengths.max()) if lengths is not None else length
        return codec.decode(self.generate(n, steps, seed, conditions), lengths=lengths)

    # ------------------------------------------------------------------ persistence
    def config_dict(self) -> dict[str, Any]:
        return {"kind": KIND, "recipe": asdict(self.recipe), "train": asdict(self.train_config),
                "codec": self.codec.to_dict() if self.codec else None, "data": self.data_info,
                "metrics": self.metrics}  # fmt: skip

    @classmethod
    def from_config(cls, config: dict[str, Any], train: dict[str, Any] | None = None) -> SeriesGAN:
        gan = cls.__new__(cls)
        gan._init_state()
        gan.train_config = from_dict(TrainConfig, train or config["train"], what="training")
        recipe = saved_recipe(config)
        gan.recipe = from_dict(RECIPES[recipe.get("style", "direct")], recipe, what="recipe")
        gan.rollout = gan.recipe.rollout or None
        gan.auto_hidden = False  # the saved width
        gan.scaling = config.get("codec", {}).get("scaling", "minmax") if config.get("codec") else "minmax"
        gan.codec = SeriesCodec(**config["codec"]) if config.get("codec") else None
        gan.data_info = dict(config.get("data", {}))
        return gan

    def network_recipe(self) -> SeriesRecipe:
        return self.recipe

    def card(self) -> dict[str, Any]:
        r, described = self.recipe, self.recipe.describe()
        return {
            "Model": {
                "kind": "time-series GAN",
                "recipe": r.style,
                "window": r.window,
                "channels": r.channels,
                "generator": f"{described['generator']}, noise {r.z_dim} per step and per sequence",
                "discriminator": described["discriminator"],
            },  # fmt: skip
            "Data": self.data_info,
            "Training": {k: v for k, v in self.metrics.items() if not k.startswith("evaluation")},
            "Evaluation": self.metrics.get("evaluation", "not evaluated yet: run `ganforge evaluate RUN`"),
        }

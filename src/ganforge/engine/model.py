"""``GANModel``: the lifecycle (train, save, card, resume) every wing's model inherits; ``load(run_dir)``
reads config.json's kind and lets that kind's wing rebuild the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.core import registry
from ganforge.core.config import TrainConfig, from_dict, write_json
from ganforge.engine import artifact, distributed
from ganforge.engine import checkpoint as ckpt
from ganforge.engine.trainer import Trainer
from ganforge.errors import CheckpointError, ConfigError, DataError


def load(run_dir: str | Path, device: str = "cpu") -> Any:
    """Load a trained model (ImageGAN, TableGAN, an image-to-image model …) from a run directory;
    tampered or corrupt files raise CheckpointError."""
    run_dir = Path(run_dir)
    config = artifact.read_config(run_dir)
    return registry.wing(config.get("kind"), where=run_dir).load(run_dir, device=device)


def sampling_generator(seed: int | None) -> torch.Generator:
    """The random generator of one ``sample`` call: seeded (same seed, same output) or, without a seed,
    from fresh entropy."""
    g = torch.Generator()
    if seed is None:
        g.seed()  # its own entropy (torch.seed() would reseed the global stream that training draws from)
    else:
        g.manual_seed(int(seed))
    return g


def memory_budget() -> int:
    """Bytes the networks' training state may take: ``GANFORGE_MEMORY_LIMIT_GB``, else 80 % of RAM."""
    import os

    given = os.environ.get("GANFORGE_MEMORY_LIMIT_GB")
    if given:
        try:
            return int(float(given) * 2**30)
        except ValueError:
            raise ConfigError(f"GANFORGE_MEMORY_LIMIT_GB must be a number of GB (got {given!r})") from None
    return int(0.8 * os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def train_config(
    defaults: dict[str, Any], chosen: dict[str, Any], steps: int | None, minutes: float | None,
    default_steps: int, **fixed: Any,
) -> TrainConfig:  # fmt: skip
    """A model's training settings: the kind's ``defaults``, overridden by the ``chosen`` ones that are not
    None; ``steps`` updates or a budget of ``minutes`` (neither: ``default_steps``); ``fixed`` settings
    (batch_size, seed, device ...) as given."""
    settings = defaults | {k: v for k, v in chosen.items() if v is not None}
    total = steps if steps is not None else (10**9 if minutes else default_steps)
    budget = {"steps": total, "max_seconds": minutes * 60 if minutes else None}
    return from_dict(TrainConfig, {**settings, **fixed, **budget}, what="training")


class GANModel:
    """The lifecycle every wing's model shares: state, the training run on the one Trainer, save, the
    model card, resume checks. A wing's model supplies ``config_dict`` (what config.json records beyond
    the weights), ``card`` (the model card's sections) and its own ``fit`` / ``sample``."""

    def _init_state(self) -> None:
        """No networks yet: set by ``fit`` (trained) or ``load`` (from a run)."""
        self.G: nn.Module | None = None
        self.D: nn.Module | None = None
        self.G_ema: nn.Module | None = None
        self.device = torch.device("cpu")
        self.data_info: dict[str, Any] = {}
        self.metrics: dict[str, Any] = {}
        self.run_dir: Path | None = None

    # ------------------------------------------------------------------ what a wing supplies
    def config_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def card(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict[str, Any], train: dict[str, Any] | None = None) -> GANModel:
        """The model rebuilt from a run's saved parameters, without networks (``train`` replaces the
        saved training settings, for a resume). KeyError / TypeError mean an incomplete config."""
        raise NotImplementedError

    def network_recipe(self) -> Any:
        """The recipe that builds this model's networks (to load saved weights into)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ the one loading path
    kinds: tuple[str, ...] = ()  # the config.json kinds this model class rebuilds

    @classmethod
    def check_kind(cls, run_dir: Path, config: dict[str, Any]) -> None:
        """Refuse, in one line, a run of another kind (e.g. an image run given to ``train table --resume``)."""
        kind = config.get("kind")
        if cls.kinds and kind not in cls.kinds:
            raise CheckpointError(
                f"{run_dir} holds a {kind!r} run, not a {' or '.join(map(repr, cls.kinds))} run: use the "
                "command (or model class) that made it"
            )

    @classmethod
    def rebuild(cls, run_dir: Path, config: dict[str, Any], train: dict[str, Any] | None = None) -> Any:
        cls.check_kind(run_dir, config)
        try:
            model = cls.from_config(config, train)
        except (KeyError, TypeError) as e:
            raise CheckpointError(f"{Path(run_dir) / artifact.CONFIG} is incomplete: {e}") from None
        except CheckpointError as e:  # from_config knows the config, not where it lives
            raise CheckpointError(f"{run_dir} {e}") from None
        model.metrics = dict(config.get("metrics", {}))
        return model

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "cpu") -> Any:
        """A trained model from ``run_dir``, weights verified; tampered or corrupt files raise
        CheckpointError."""
        run_dir = Path(run_dir)
        config = artifact.read_config(run_dir)
        model = cls.rebuild(run_dir, config)
        weights = artifact.load_module_weights(run_dir, config)  # read and verified once
        artifact.attach_run(model, model.network_recipe(), run_dir, config, device, weights)
        model.restore_extra(weights, config)
        return model

    @classmethod
    def resume(
        cls, run_dir: str | Path, steps: int | None = None, device: str | None = None,
        minutes: float | None = None,
    ) -> Any:  # fmt: skip
        """The model configured exactly as the run in ``run_dir``, ready for ``fit(..., resume=True)``;
        ``steps`` or ``minutes`` (total training time) may raise the target to train longer."""
        run_dir = Path(run_dir)
        config = artifact.read_config(run_dir)
        cls.check_kind(run_dir, config)
        train = artifact.resume_train_settings(config, run_dir, steps, device, minutes)
        model = cls.rebuild(run_dir, config, train)
        model.run_dir = run_dir
        return model

    # ------------------------------------------------------------------ training
    memory_hint = ""  # what a user can change when the networks would not fit (a wing's flag)

    def check_memory(self, recipe: Any) -> None:
        """Refuse, before allocating anything, networks whose training state would not fit in memory.

        G and D are built on the "meta" device (shapes only, no memory) and counted: fp32 weights,
        gradients and two Adam moments for both, plus G's EMA copy. The budget is 80 % of physical
        memory, or ``GANFORGE_MEMORY_LIMIT_GB`` when set.
        """
        try:
            with torch.device("meta"):
                n_g = sum(p.numel() for p in recipe.build_generator().parameters())
                n_d = sum(p.numel() for p in recipe.build_discriminator().parameters())
        except (RuntimeError, NotImplementedError):  # a network whose set-up reads values cannot be
            return  # built without memory; it is then not estimated (image-to-image nets are small)
        need = 4 * (5 * n_g + 4 * n_d)
        limit = memory_budget()
        if need > limit:
            raise ConfigError(
                f"training needs about {need / 2**30:.1f} GB for its networks ({n_g + n_d:,} parameters) but the "
                f"budget is {limit / 2**30:.1f} GB{'; ' + self.memory_hint if self.memory_hint else ''}"
            )

    def start_training(
        self, recipe: Any, source: Any, run_dir: Path | None, callbacks: list[Any], resume: bool
    ) -> Trainer:
        """The Trainer for this model; its networks become the model's and, for a new run with a run
        directory, config.json is written (by rank 0 only under torchrun)."""
        self.check_memory(recipe)
        trainer = Trainer(recipe, source, self.train_config, run_dir=run_dir, callbacks=callbacks)
        self.G, self.D, self.G_ema, self.device = trainer.G, trainer.D, trainer.G_ema, trainer.device
        self.run_dir = run_dir
        if not resume:
            self.write_config()
        return trainer

    def write_config(self) -> None:
        """config.json of a new run (rank 0 only under torchrun): what a resume rebuilds the model from."""
        if self.run_dir is not None and distributed.is_main():
            write_json(self.run_dir / artifact.CONFIG, self.config_dict())

    def finish_training(self, trainer: Trainer, result: Any, **figures: Any) -> None:
        """Record the run's figures (``figures`` are the wing's own, e.g. epochs) in ``metrics``."""
        self.metrics.update(steps=result.steps, **figures, train_seconds=round(result.seconds, 1),
                            stopped_by=result.stopped_by)  # fmt: skip
        if trainer.stop_reason:
            self.metrics["stop_reason"] = trainer.stop_reason
        self.metrics["processes"] = trainer.world.size  # torchrun ranks of the last fit

    def check_resumable(
        self,
        run_dir: Path | None,
        fingerprint: str,
        mismatch: str = "different data; resume needs the same data",
    ) -> dict[str, Any]:
        """The saved config of the run to resume; refuses a missing checkpoint, or different data with
        "RUN was trained on ``mismatch``"."""
        if run_dir is None or not ckpt.has_checkpoint(run_dir):
            raise CheckpointError(f"nothing to resume in {run_dir}: no checkpoint found")
        saved = artifact.read_config(run_dir)
        if saved.get("data", {}).get("fingerprint") != fingerprint:
            raise DataError(f"{run_dir} was trained on {mismatch}")
        return saved

    # ------------------------------------------------------------------ persistence
    def save(self, out: str | Path) -> Path:
        """Write model.safetensors, config.json and card.md to ``out``."""
        if self.G_ema is None:
            raise ConfigError("nothing to save: the model is not trained yet")
        out = artifact.prepare_out_dir(Path(out), resume=True)
        modules = {"G": self.G, "G_ema": self.G_ema, "D": self.D}
        modules = {k: v for k, v in modules.items() if v is not None}
        artifact.save_artifact(out, modules, self.config_dict(), extra=self.extra_tensors())
        self.write_card(out)
        return out

    def extra_tensors(self) -> dict[str, torch.Tensor]:
        """Tensors besides the networks' that model.safetensors keeps (a wing's own; none by default)."""
        return {}

    def restore_extra(self, weights: dict[str, dict[str, torch.Tensor]], config: dict[str, Any]) -> None:
        """Take back what ``extra_tensors`` saved, from the run's verified weights by owner (``load``)."""

    def write_card(self, run_dir: Path | None = None) -> None:
        """card.md of the run (after training or evaluation)."""
        artifact.write_card(Path(run_dir or self.run_dir), self.card())  # type: ignore[arg-type]

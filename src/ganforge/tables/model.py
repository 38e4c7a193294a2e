"""The table API: ``TableGAN().fit(df)``, ``.sample(n, conditions=...)``, ``.sample_to_file(...)``, ``.save``.

Training goes through the one engine (``Trainer``) with the table recipe; this module only prepares the
data (metadata, codec), turns generated vectors back into rows and writes the run directory.
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from ganforge.core.config import TrainConfig, from_dict
from ganforge.core.io import fingerprint
from ganforge.engine import artifact, distributed
from ganforge.engine.callbacks import Callback
from ganforge.engine.health import health_callbacks
from ganforge.engine.model import GANModel
from ganforge.errors import ConfigError, DataError, warn_caller
from ganforge.reporting.tensorboard import TensorBoardLogger
from ganforge.tables.codec import TableCodec
from ganforge.tables.data import TableMetadata, infer_metadata, read_table
from ganforge.tables.labeller import TargetModel
from ganforge.tables.probe import TABLE_COLLAPSE, table_probe
from ganforge.tables.recipe import TableRecipe, TableRecipeConfig, TableSource, fit_width
from ganforge.tables.sampling import TableSampling

# Training settings that suit tables (measured on UCI Adult, benchmarks/table_vs_ctgan.py): the
# non-saturating loss on the packed discriminator, Adam at 5e-4 with beta1 0.5, and an EMA of the
# generator over ~50k rows, which steadies the marginals a lot at no cost.
TABLE_TRAIN_DEFAULTS: dict[str, Any] = {
    "loss": "ns", "lr_g": 5e-4, "lr_d": 5e-4, "betas": (0.5, 0.9), "r1_gamma": 0.0, "r2_gamma": 0.0,
    "reg_interval": 1, "ema_halflife_images": 50_000.0, "grad_clip": 100.0,
    "share_fake": True, "ema_stats_every": 4,
}  # fmt: skip
DEFAULT_EPOCHS = 100
DEFAULT_MIN_STEPS = 600  # the default budget on a tiny table: 100 epochs of 1,000 rows would be 200 steps


def table_fingerprint(df: pd.DataFrame) -> str:
    """Content hash of a table (values and column names), so a resume refuses different data."""
    values = pd.util.hash_pandas_object(df, index=False).to_numpy()
    return fingerprint([values, "\x1f".join(map(str, df.columns)).encode()])


def as_frame(data: pd.DataFrame | str | Path) -> tuple[pd.DataFrame, str]:
    """A DataFrame and a description of where it came from."""
    if isinstance(data, pd.DataFrame):
        if data.shape[0] == 0 or data.shape[1] == 0:
            raise DataError("the table is empty (no rows or no columns)")
        return data.reset_index(drop=True), "DataFrame"
    return read_table(data), str(Path(data).resolve())


class TableGAN(GANModel, TableSampling):
    """A tabular GAN: ``TableGAN(epochs=100).fit(df)``, then ``sample(n, conditions={"income": ">50K"})``."""

    kinds = ("table",)
    memory_hint = "a smaller pack (--pac 1) or fewer columns shrinks the discriminator's input"

    def __init__(
        self,
        epochs: float | None = None,
        steps: int | None = None,
        minutes: float | None = None,
        batch_size: int = 500,
        pac: int = 10,
        seed: int = 0,
        device: str = "auto",
        metadata: dict[str, Any] | None = None,
        z_dim: int = 128,
        hidden: tuple[int, ...] = (256, 256),
        rate_weight: float = 5.0,
        target_weight: float = 1.0,
        target_model: bool = True,
        dp: Any = None,
        loss: str | None = None,
        lr_g: float | None = None,
        lr_d: float | None = None,
        betas: tuple[float, float] | None = None,
        r1_gamma: float | None = None,
        r2_gamma: float | None = None,
        ema_halflife_images: float | None = None,
        grad_clip: float | None = None,
        lr_cooldown: float | None = None,
        checkpoint_every: int = 500,
        log_every: int = 20,
    ) -> None:
        """Give ``epochs``, ``steps`` or ``minutes`` (or none: 100 epochs, at least 600 steps); ``dp``
        turns on differentially private training (True, or DPConfig fields as a dict). ``rate_weight``
        scales the term that keeps category, missing-value and class rates at the real ones (0: off; see
        TableRecipe.learn_rates); ``target_weight`` the target-consistency term of ``fit(target=...)`` (0:
        off; TableRecipe.learn_target); ``target_model``: with a categorical target, each sampled row's
        target is drawn from a gradient-boosted model of it given the row's other columns (labeller.py;
        False: the generator's own). The keywords from
        ``loss`` to ``lr_cooldown`` replace the measured table defaults (TABLE_TRAIN_DEFAULTS) when given."""
        from ganforge.tables.privacy.training import as_dp_config

        self.dp = as_dp_config(dp)  # DP-SGD: see privacy/; a pack would mix rows, so no packing
        pac = 1 if self.dp is not None else pac
        if batch_size % pac:
            raise ConfigError(f"batch size ({batch_size}) must be a multiple of pac ({pac})")
        distributed.check_batch(batch_size, pac)  # under torchrun: whole packs on every rank
        if epochs is not None and steps is not None:
            raise ConfigError("give epochs or steps, not both")
        for name, weight in (("rate_weight", rate_weight), ("target_weight", target_weight)):
            if not weight >= 0:
                raise ConfigError(f"{name} must be >= 0 (got {weight})")
        if epochs is not None and epochs <= 0:
            raise ConfigError(f"epochs must be > 0 (got {epochs})")
        self.default_budget = epochs is None and steps is None and not minutes
        self.epochs = DEFAULT_EPOCHS if self.default_budget else epochs
        self.steps = steps
        chosen = {"loss": loss, "lr_g": lr_g, "lr_d": lr_d, "betas": betas, "r1_gamma": r1_gamma,
                  "r2_gamma": r2_gamma, "ema_halflife_images": ema_halflife_images, "grad_clip": grad_clip,
                  "lr_cooldown": lr_cooldown}  # fmt: skip
        settings = TABLE_TRAIN_DEFAULTS | {k: v for k, v in chosen.items() if v is not None}
        self.train_config = from_dict(
            TrainConfig,
            {**settings, "steps": steps or 1, "batch_size": batch_size, "seed": seed, "device": device,
             "max_seconds": minutes * 60 if minutes else None, "checkpoint_every": checkpoint_every,
             "log_every": log_every},
            what="training",
        )  # fmt: skip
        self.recipe_config = TableRecipeConfig(
            z_dim=z_dim,
            g_hidden=tuple(hidden),
            d_hidden=tuple(hidden),
            pac=pac,
            rate_weight=rate_weight,
            target_weight=target_weight,
        )
        self.metadata_overrides = metadata
        self.layout_note = ""  # what fit_width changed for a wide table
        self.privacy: dict[str, Any] | None = None
        self.codec: TableCodec | None = None
        self._init_state()
        self.wants_target_model = target_model and self.dp is None  # DP: only the DP-trained G sees data
        self.target_model: TargetModel | None = None

    @property
    def metadata(self) -> TableMetadata:
        if self.codec is None:
            raise ConfigError("the model is not trained yet: call fit() or load() first")
        return self.codec.meta

    # ------------------------------------------------------------------ training
    def fit(
        self,
        data: pd.DataFrame | str | Path,
        out: str | Path | None = None,
        resume: bool = False,
        callbacks: list[Callback] | None = None,
        source: str | None = None,
        target: str | None = None,
        health: str = "recover",
        stream: bool = False,
    ) -> TableGAN:
        """Train on a DataFrame or a CSV/Parquet file; with ``out`` the run is saved there.

        ``source`` records where a DataFrame came from (so ``evaluate`` can find it again); ``target``
        names the column ML efficacy is measured on; ``health`` is what the training-health monitor does
        about collapse, divergence or NaNs ("recover", "stop", "warn" or "off"). ``stream``: read a
        Parquet file by row groups in bounded memory (docs/large-data.md); ``df`` is then a sample.
        """
        stream = stream or (resume and out is not None and artifact.was_streamed(Path(out)))  # as it ran
        if stream:
            df, fp, n_rows, where = _stream_inputs(self, data)
        else:
            df, where = as_frame(data)
            fp, n_rows = table_fingerprint(df), len(df)
        self._check_inputs(df, target)
        run_dir = artifact.prepare_out_dir(Path(out), resume) if out is not None else None
        saved = (
            self.check_resumable(run_dir, fp, "a different table; resume needs the same data")
            if resume
            else None
        )
        x, cond_spans = self._encode(df, saved)
        self._set_budget(n_rows)
        self.data_info = {
            "source": source or where,
            "rows": n_rows,
            "columns": df.shape[1],
            "fingerprint": fp,
        }
        self.data_info |= ({"stream": True} if stream else {}) | ({"target": target} if target else {})
        self.data_info |= {"layout": self.layout_note} if self.layout_note else {}
        batches = self._source(data if stream else None, x, cond_spans)
        if not resume:  # a model fitted again forgets an earlier fit's target
            self.recipe_config = replace(self.recipe_config, target_span=None)
        if target is not None and self.dp is None and not resume:
            self._set_target(target)
        recipe = TableRecipe(self.recipe_config)
        recipe.learn_rates(x)
        recipe.learn_target(x, seed=self.train_config.seed)
        cbs = list(callbacks or []) + self._callbacks(recipe, batches, health)
        trainer = self.start_training(recipe, batches, run_dir, cbs, resume)
        if self.dp is not None:
            from ganforge.tables.privacy.training import attach_private_training, finish_private_training

            budget = attach_private_training(self, trainer, len(df))
            if not resume:  # the noise level and sampling rate are now known: a resume must reuse them
                self.write_config()
        result = trainer.fit(resume=resume)
        self.finish_training(trainer, result, rows_seen=result.examples_seen,
                             epochs=round(result.examples_seen / n_rows, 2))  # fmt: skip
        if self.dp is not None:
            finish_private_training(self, trainer, budget)
        self._fit_target_model(x)
        if run_dir is not None and distributed.is_main():
            self.save(run_dir)
        return self

    def _check_inputs(self, df: pd.DataFrame, target: str | None) -> None:
        if len(df) < 2:
            raise DataError(
                f"the table has {len(df)} row{'' if len(df) == 1 else 's'}; need at least 2 rows to learn from"
            )
        if target is not None and target not in df.columns:
            raise ConfigError(f"target {target!r} is not a column of the table")
        if self.dp is not None and distributed.launched():
            raise ConfigError(
                "differentially private training runs in one process (its accounting assumes one sampler); "
                "run it without torchrun"
            )

    def _encode(self, df: pd.DataFrame, saved: dict[str, Any] | None) -> tuple[torch.Tensor, list]:
        """The codec (the saved one on resume), the encoded rows and the conditional spans; the recipe
        learns the encoded layout."""
        if saved is not None:
            self.codec = TableCodec.from_dict(saved["codec"])
        elif self.dp is not None:
            from ganforge.tables.privacy.training import private_table_codec

            self.codec = private_table_codec(self, df)
        else:
            meta = infer_metadata(df, self.metadata_overrides)
            self.codec = TableCodec.fit(df, meta, seed=self.train_config.seed)
        codec = self.codec
        x = codec.encode(df, seed=self.train_config.seed)
        choices = [(s.start, s.size, s.role) for s, _ in codec.discrete_spans()] if self.dp is None else []
        cond_spans, pac, self.layout_note = fit_width(
            codec.dim, choices, self.recipe_config.pac, self.train_config.batch_size
        )
        distributed.check_batch(self.train_config.batch_size, pac)
        self.recipe_config = replace(
            self.recipe_config, data_dim=codec.dim, spans=[(s.start, s.size, s.activation) for s in codec.spans],
            cond_spans=cond_spans, pac=pac,
        )  # fmt: skip
        return x, cond_spans

    def _set_target(self, target: str) -> None:
        """A categorical or boolean target's span, for the recipe's target-consistency term."""
        if self.codec.meta[target].kind not in ("categorical", "boolean"):
            return
        span = next(s for s in self.codec.spans if s.column == target and s.activation == "softmax")
        self.recipe_config = replace(self.recipe_config, target_span=(span.start, span.size))

    def _fit_target_model(self, x: torch.Tensor) -> None:
        """The target model (labeller.py) of a run with a categorical target, on the encoded rows ``x``."""
        self.target_model = None
        column = self.target_column()
        if not self.wants_target_model or column is None:
            return
        try:
            self.target_model = TargetModel.fit(self.codec, x, column, seed=self.train_config.seed)
        except Exception as e:  # the trained GAN is saved regardless; its targets are then its own
            warn_caller(f"the target model for {column!r} could not be fitted ({e}); sampled targets are the "
                        "generator's own")  # fmt: skip
        if self.target_model is not None:
            self.metrics["target_model"] = {"trees": self.target_model.info.trees,
                                            "holdout_logloss": self.target_model.info.holdout_logloss}  # fmt: skip

    def _set_budget(self, n_rows: int) -> None:
        """Steps from epochs (at least DEFAULT_MIN_STEPS for the default budget), or unbounded when only
        a time budget is given."""
        if self.steps is None and self.epochs is not None:
            exact = self.epochs * n_rows / self.train_config.batch_size
            if not exact <= 1e12:  # inf and NaN too
                raise ConfigError(
                    f"{self.epochs:g} epochs of {n_rows:,} rows are more steps than can be trained; give "
                    "fewer, or a time budget (--minutes)"
                )
            steps = max(1, math.ceil(exact))
            if self.default_budget:
                steps = max(steps, DEFAULT_MIN_STEPS)
            self.train_config = replace(self.train_config, steps=steps)
        elif self.steps is None:  # time budget only
            self.train_config = replace(self.train_config, steps=10**9)

    def _source(self, stream_path: Any, x: torch.Tensor, cond_spans: list) -> Any:
        """The BatchSource: streamed Parquet, Poisson-sampled rows (DP) or training-by-sampling; the
        recipe learns the category frequencies it conditions on."""
        if stream_path is not None:
            from ganforge.tables.stream import ParquetStreamSource

            source = ParquetStreamSource(
                Path(stream_path), self.codec, x, cond_spans, seed=self.train_config.seed
            )
        elif self.dp is not None:
            from ganforge.tables.privacy.training import private_source

            source = private_source(self, x)
        else:
            source = TableSource(x, cond_spans)
        if cond_spans:
            freq = [source.freq_p[j, :size].tolist() for j, (_, size) in enumerate(cond_spans)]
            self.recipe_config = replace(self.recipe_config, cond_freq=freq)
        return source

    def _callbacks(self, recipe: TableRecipe, source: Any, health: str) -> list[Callback]:
        """TensorBoard (rank 0) and the health monitor (DP runs: only what DP-SGD allows)."""
        cbs: list[Callback] = [TensorBoardLogger()] if distributed.is_main() else []  # RUN/tensorboard
        if self.dp is not None:
            from ganforge.tables.privacy.dp import check_compatible

            health = check_compatible(asdict(self.train_config), health)
        return cbs + health_callbacks(health, TABLE_COLLAPSE, lambda: table_probe(recipe, source))

    # ------------------------------------------------------------------ persistence
    def config_dict(self) -> dict[str, Any]:
        rc = asdict(self.recipe_config)
        return {
            "kind": "table",
            "recipe": rc,
            "train": asdict(self.train_config),
            "codec": self.codec.to_dict() if self.codec else None,
            "data": self.data_info,
            "metrics": self.metrics,
            "target_model_wanted": self.wants_target_model,
            "target_model": self.target_model.record() if self.target_model else None,
        } | ({"privacy": self.privacy} if self.privacy else {})

    def extra_tensors(self) -> dict[str, torch.Tensor]:
        return self.target_model.tensors() if self.target_model else {}

    def card(self) -> dict[str, Any]:
        return _card(self)

    @classmethod
    def from_config(cls, config: dict[str, Any], train: dict[str, Any] | None = None) -> TableGAN:
        """Loading (``train`` None) restores the codec; a resume re-fits it from the data as it ran."""
        from ganforge.tables.privacy.training import as_dp_config

        gan = cls.__new__(cls)
        gan._init_state()
        # runs saved before the rate term existed resume without it (so they continue as they ran)
        rc = from_dict(TableRecipeConfig, {"rate_weight": 0.0} | config["recipe"], what="recipe")
        gan.recipe_config = replace(
            rc, spans=[tuple(s) for s in rc.spans], cond_spans=[tuple(s) for s in rc.cond_spans],
            target_span=tuple(rc.target_span) if rc.target_span else None,
            g_hidden=tuple(rc.g_hidden), d_hidden=tuple(rc.d_hidden),
        )  # fmt: skip
        gan.train_config = from_dict(TrainConfig, train or config["train"], what="training")
        gan.codec = TableCodec.from_dict(config["codec"]) if train is None else None
        gan.epochs, gan.steps, gan.metadata_overrides = None, gan.train_config.steps, None
        gan.default_budget = False
        gan.privacy = config.get("privacy")
        gan.dp = as_dp_config(gan.privacy["dp"]) if gan.privacy and train is not None else None
        gan.wants_target_model = bool(config.get("target_model_wanted", False))  # earlier runs: as they ran
        gan.target_model = None  # fitted again at the end of a resumed fit; read from the weights by load
        return gan

    def restore_extra(self, weights: dict[str, dict[str, torch.Tensor]], config: dict[str, Any]) -> None:
        """The target model's trees, from the weights ``load`` read and verified."""
        if config.get("target_model"):
            self.target_model = TargetModel.from_saved(config["target_model"], weights, str(self.run_dir))

    def network_recipe(self) -> TableRecipe:
        return TableRecipe(self.recipe_config)


def _stream_inputs(gan: TableGAN, data: Any) -> tuple[pd.DataFrame, str, int, str]:
    """(sample rows to fit on, fingerprint, rows in the file, where) for ``fit(path, stream=True)``."""
    from ganforge.tables.stream import stream_sample

    if isinstance(data, pd.DataFrame):
        raise ConfigError("stream=True reads a Parquet file by row groups; pass its path, not a DataFrame")
    if gan.dp is not None:
        raise ConfigError(
            "differential privacy needs the whole table in memory (Poisson sampling); drop --stream"
        )
    df, fp, n_rows = stream_sample(data, seed=gan.train_config.seed)
    return df, fp, n_rows, str(Path(data).resolve())


def _card(gan: TableGAN) -> dict[str, Any]:
    from ganforge.tables.privacy.training import privacy_card

    meta = gan.metadata
    kinds: dict[str, int] = {}
    for m in meta.columns:
        kinds[m.kind] = kinds.get(m.kind, 0) + 1
    return {
        "Model": {"kind": "table GAN", "encoded width": gan.recipe_config.data_dim, "pac": gan.recipe_config.pac,
                  "conditional columns": len(gan.recipe_config.cond_spans),
                  "target model": _target_model_card(gan)},
        "Data": gan.data_info | {"column kinds": kinds},
        "Training": {k: v for k, v in gan.metrics.items() if not k.startswith("evaluation")},
        "Evaluation": gan.metrics.get("evaluation", "not evaluated yet: run `ganforge evaluate RUN --real DATA`"),
        "Privacy": privacy_card(getattr(gan, "privacy", None)),
        "Intended use": "Synthetic rows for testing, sharing and prototyping. Rows are synthetic and must be "
        "labelled as such. Without differential privacy a GAN can leak facts about rare training rows; "
        "check the identical-row share before sharing.",
    }  # fmt: skip


def _target_model_card(gan: TableGAN) -> str:
    tm = getattr(gan, "target_model", None)
    if tm is None:
        return "none (targets are the generator's own)"
    return (f"{tm.info.column!r} drawn from gradient-boosted trees ({tm.info.trees} rounds, fitted on "
            f"{tm.info.rows:,} real rows) given the other columns")  # fmt: skip


def load_table(run_dir: str | Path, device: str = "cpu") -> TableGAN:
    """Load a trained table model; tampered or corrupt files raise CheckpointError."""
    return TableGAN.load(run_dir, device=device)


def resume_table(
    run_dir: str | Path, steps: int | None = None, device: str | None = None, minutes: float | None = None
) -> TableGAN:
    """A TableGAN configured exactly as the run in ``run_dir``, ready for ``fit(..., resume=True)``."""
    return TableGAN.resume(run_dir, steps=steps, device=device, minutes=minutes)

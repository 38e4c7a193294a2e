"""What the engine asks of a recipe and of a data source (nothing about images, tables or audio), the
optional hooks a recipe, a discriminator or a source may offer, and what the registry asks of a wing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # annotations only: the command line starts without importing torch
    import torch
    from torch import nn


class BatchSource(Protocol):
    """Training data as the engine sees it: encoded tensors fetched by index."""

    def __len__(self) -> int: ...

    def get(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return ``(x, c)``: encoded examples and their conditioning (or None) for ``indices``."""
        ...

    # Optional hooks: SampledSource, PerRankSource below.


class Recipe(Protocol):
    """A GAN for one kind of data: networks, noise and augmentation. Pure construction, no loop."""

    def build_generator(self) -> nn.Module:
        """G(z, c) -> encoded data."""
        ...

    def build_discriminator(self) -> nn.Module:
        """D(x, c) -> one logit per example, shape (N,)."""
        ...

    def sample_latents(self, n: int, rng: torch.Generator) -> torch.Tensor:
        """Noise for ``n`` examples drawn from ``rng`` (on the CPU, so runs are reproducible)."""
        ...

    def augment(self, x: torch.Tensor, p: float, rng: torch.Generator) -> torch.Tensor:
        """Differentiable augmentation applied to both reals and fakes before D (identity when p == 0)."""
        ...

    def describe(self) -> dict[str, Any]:
        """JSON-ready description, saved in checkpoints and config.json."""
        ...

    # Optional hooks: GeneratorPenalty, PairedLoss below; ReplayDiscriminator and FeatureMatching on D.


# ---------------------------------------------------------------------------- optional hooks
# The Trainer tests for these with isinstance (they are runtime-checkable), never with getattr.
@runtime_checkable
class SampledSource(Protocol):
    """A source that chooses each real batch itself (drawing only from ``rng``), e.g. to balance rare
    categories."""

    def sample(self, n: int, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]: ...


@runtime_checkable
class PerRankSource(Protocol):
    """A streamed source that reads this rank's shard itself under torchrun (``per_rank`` is True)."""

    per_rank: bool


@runtime_checkable
class StatefulSource(Protocol):
    """A streamed source whose position is saved in checkpoints (so a resume continues the stream)."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@runtime_checkable
class GeneratorPenalty(Protocol):
    """A recipe's own term added to the generator's loss (``fake`` is G's output before augmentation);
    None when it has nothing to add this step."""

    def generator_penalty(self, fake: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor | None: ...


@runtime_checkable
class PairedLoss(Protocol):
    """Terms added to the generator's loss (each logged under its name) that need the real batch or G
    itself: pixel / perceptual loss against a paired target, cycle consistency. With it, ``c`` may be an
    image that G maps (``sample_latents`` may return zero-width noise) and D may return several logits
    per example (one per patch): the losses average them."""

    def paired_loss(
        self, generator: nn.Module, fake: torch.Tensor, real: torch.Tensor, c: torch.Tensor | None
    ) -> dict[str, torch.Tensor]: ...


@runtime_checkable
class FeatureMatching(Protocol):
    """A discriminator that also returns its inner activations, so the generator's loss gains
    ``feature_matching_weight`` x the sum over feature maps of the mean L1 distance between those of its
    fakes and of the real batch (logged as ``fm``), as GAN vocoders train."""

    feature_matching_weight: float

    def features(self, x: torch.Tensor, c: torch.Tensor | None) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``(logits, activations)``: what ``forward`` returns and the feature maps it passed through."""
        ...


@runtime_checkable
class LatentGame(Protocol):
    """A generator that plays the adversarial game in a space of its own (TimeGAN's latent space): in
    training mode its forward returns points of that space (what D judges), in eval mode data; D sees each
    real batch through ``embed_real`` (taken without gradient). Its own terms (PairedLoss) train it.
    Single process only: ``embed_real`` and those terms run outside the distributed wrapper's forward."""

    def embed_real(self, x: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class ReplayDiscriminator(Protocol):
    """A discriminator that shows itself older fakes in place of the newest (a history pool); its state
    lives in D's buffers, so checkpoints keep it."""

    def replay(self, fake: torch.Tensor, rng: torch.Generator) -> torch.Tensor: ...


# ---------------------------------------------------------------------------- wings
class Wing:
    """What the registry (core/registry.py) asks of a kind of data. A wing subclasses this in its own
    ``wing.py`` and overrides what its kind can do; the rest answers with one clear line."""

    name = "wing"  # what its models are called in messages: "an image model", "a table model" ...
    package = ""  # the wing's package ("ganforge.tables"): the default hooks find its parts there
    unit = "items"  # what one generated example is called ("images", "rows" ...)
    sample_options: tuple[str, ...] = ()  # ``sample`` options only some kinds take (e.g. "length")

    def part(self, module: str, name: str) -> Any:
        """``name`` from the wing's module ``module`` (``cli``, ``evaluate``, ``report``), or None when the
        wing has no such module or name: the default hooks below call what a wing's files define."""
        import importlib
        import importlib.util

        path = f"{self.package}.{module}"
        if not self.package or importlib.util.find_spec(path) is None:
            return None
        return getattr(importlib.import_module(path), name, None)

    def unsupported(self, what: str) -> Exception:
        from ganforge.errors import ConfigError

        return ConfigError(f"{what} is not available for {self.name} models")  # e.g. "table models"

    def load(self, run_dir: Path, device: str = "cpu") -> Any:
        """The trained model saved in ``run_dir`` (weights verified)."""
        raise self.unsupported("loading")

    def sampler(self, run_dir: Path, device: str, engine: str, onnx: Path | None) -> Any:
        """What ``sample`` draws from: the loaded model (``engine`` torch) or an exported one."""
        if engine != "torch" or onnx is not None:
            raise self.unsupported("--engine onnx")
        return self.load(run_dir, device=device)

    def register_cli(self, app: Any, train_app: Any) -> None:
        """Mount this wing's commands (``train KIND`` and any of its own): ``cli.register(app, train_app)``."""
        register = self.part("cli", "register")
        if register is not None:
            register(app, train_app)

    def sample_cli(self, run: Path, config: dict[str, Any], out: Path, options: dict[str, Any]) -> str:
        """``ganforge sample`` for this kind: write the output, return the line to print
        (``cli.sample_cli(run, out, options)``)."""
        sample = self.part("cli", "sample_cli")
        if sample is None:
            raise self.unsupported("ganforge sample")
        return sample(run, out, options)

    def evaluate_cli(self, run: Path, config: dict[str, Any], options: dict[str, Any], console: Any,
                     out_console: Any) -> None:  # fmt: skip
        """``ganforge evaluate`` for this kind: measure, save, print
        (``evaluate.evaluate_cli(run, options, console, out_console)``)."""
        evaluate = self.part("evaluate", "evaluate_cli")
        if evaluate is None:
            raise self.unsupported("ganforge evaluate")
        evaluate(run, options, console, out_console)

    def summary_facts(self, config: dict[str, Any]) -> dict[str, Any]:
        """Facts about the run for the report's summary table (``report.summary_facts(config)``)."""
        facts = self.part("report", "summary_facts")
        return facts(config) if facts is not None else {}

    def report_sections(self, run_dir: Path, config: dict[str, Any], real: Path | None) -> list[Any]:
        """The report's sections for this kind, (anchor, title, html) tuples
        (``report.report_sections(run_dir, config, real)``)."""
        sections = self.part("report", "report_sections")
        return sections(run_dir, config, real) if sections is not None else []

    def serve_info(self, model: Any) -> dict[str, Any]:
        """What ``GET /api/models`` tells the page: ``capabilities`` (the endpoints it answers), the model's
        facts and ``usage`` (the line for a request to a wrong endpoint) (``serve.serve_info(model)``)."""
        info = self.part("serve", "serve_info")
        if info is None:
            raise self.unsupported("ganforge serve")
        return info(model)

    def serve_generate(self, model: Any) -> Any:
        """The call the server batches across requests, ``(z, c) -> outputs``, or None: the model is run
        whole per request (``serve.generate_marked(model, z, c)``)."""
        import functools

        generate = self.part("serve", "generate_marked")
        return functools.partial(generate, model) if generate is not None else None

    def serve_routes(self, app: Any, served: Any) -> None:
        """Add this kind's endpoints to the server's app (``serve.add_routes(app, served)``); ``served``
        finds models (``get(name, capability)``), their batchers and gates, the executor and limits."""
        add = self.part("serve", "add_routes")
        if add is not None:
            add(app, served)

    def export_onnx(self, run: Path, path: Path | None) -> str:
        """``ganforge export``: write the run's generator as ONNX; return the line to print."""
        raise self.unsupported("ONNX export")

    # ganforge verify: the files this kind marks, found by suffix
    verify_suffixes: tuple[str, ...] = ()

    def marked_runs(self, root: Path) -> dict[str, str]:
        """Watermark model id -> run directory, for this kind's runs at or below ``root``."""
        return {}

    def verify_file(self, path: Path, known: dict[str, str], named_runs: bool) -> tuple[str, int]:
        """One line (Rich markup) about the mark in ``path`` and a status: 0 marked, 1 not, 2 unreadable."""
        raise self.unsupported("ganforge verify")

    # sharded sampling (sampling/sharded.py)
    shard_suffix: str | None = None  # file suffix of one shard; None: this kind cannot be sharded

    def shard_default_n(self, model: Any) -> int:
        return 64

    def shard_check(self, model: Any, options: dict[str, Any]) -> None:
        """Refuse bad options once, before any worker starts."""

    def write_shard(self, task: Any, model: Any, fh: Any) -> int:
        """Write shard ``task`` to the open binary file ``fh``; return how many examples it holds."""
        raise self.unsupported("sharded sampling")

    def finish_shard(self, path: Path, model: Any, count: int, task: Any) -> None:
        """After the shard file is in place (e.g. its provenance sidecar)."""

    def shard_complete(self, path: Path) -> bool:
        """Whether the files that go with a finished shard are there too."""
        return True

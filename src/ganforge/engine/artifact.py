"""The run directory as an artifact: weights, config, card. Anyone can load it with ``ganforge.load``.

model.safetensors holds the generator, its EMA copy and the discriminator (weights only); config.json
holds everything needed to rebuild them plus the weights' SHA-256, so a modified file is refused.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge._version import __version__
from ganforge.core.config import read_json, write_json
from ganforge.core.io import atomic_write_text
from ganforge.engine import checkpoint as ckpt
from ganforge.errors import CheckpointError, ConfigError

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
CARD = "card.md"


def save_artifact(
    run_dir: Path,
    modules: dict[str, nn.Module],
    config: dict[str, Any],
    extra: dict[str, torch.Tensor] | None = None,
) -> None:
    """Write model.safetensors then config.json (which records the weights' checksum); ``extra``: more
    tensors for the file, named "owner.key" as the modules' are."""
    run_dir = Path(run_dir)
    tensors = {f"{name}.{k}": v for name, m in modules.items() for k, v in m.state_dict().items()}
    tensors |= extra or {}
    digest = ckpt.save_tensors_atomic(tensors, run_dir / WEIGHTS, metadata={"format": "ganforge"})
    config = dict(config) | {"weights_sha256": digest, "ganforge_version": __version__}
    config.setdefault("created", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    write_json(run_dir / CONFIG, config)


def read_config(run_dir: Path) -> dict[str, Any]:
    """config.json of a run, with a clear error when the directory is not a ganforge run."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run directory not found: {run_dir}")
    if not (run_dir / CONFIG).is_file():
        raise CheckpointError(f"{run_dir} is not a ganforge run (no {CONFIG})")
    return read_json(run_dir / CONFIG, what="run config")


def load_module_weights(run_dir: Path, config: dict[str, Any]) -> dict[str, dict[str, torch.Tensor]]:
    """State dicts by module name from model.safetensors, or from the last checkpoint of an unfinished run."""
    run_dir = Path(run_dir)
    if (run_dir / WEIGHTS).is_file():
        if "weights_sha256" not in config:
            raise CheckpointError(
                f"{run_dir / CONFIG} lacks the weights checksum; refusing unverified weights (if its training "
                "was interrupted, resume it with --resume to finish writing the run)"
            )
        tensors = ckpt.load_tensors_checked(run_dir / WEIGHTS, config["weights_sha256"], what="model weights")
    elif ckpt.has_checkpoint(run_dir):
        tensors, _ = ckpt.read_checkpoint(run_dir)
    else:
        raise CheckpointError(f"{run_dir} has neither {WEIGHTS} nor a checkpoint")
    out: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        name, _, rest = key.partition(".")
        out.setdefault(name, {})[rest] = value
    return out


def load_state(module: nn.Module, state: dict[str, torch.Tensor] | None, name: str, run_dir: Path) -> None:
    """Load one module's weights, turning shape/key mismatches into a CheckpointError."""
    if state is None:
        raise CheckpointError(f"{run_dir} holds no weights for {name}")
    try:
        module.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(f"weights in {run_dir} do not fit the configured {name}: {first}") from None


def write_card(run_dir: Path, sections: dict[str, str | dict[str, Any]]) -> None:
    """card.md: a short human-readable description of the model, its data and its figures."""
    lines = ["# ganforge model card", ""]
    for title, body in sections.items():
        lines += [f"## {title}", ""]
        if isinstance(body, dict):
            lines += [f"- **{k}**: {v}" for k, v in body.items()]
        else:
            lines.append(body)
        lines.append("")
    atomic_write_text(Path(run_dir) / CARD, "\n".join(lines))


def update_config(run_dir: Path, **fields: Any) -> dict[str, Any]:
    """Merge fields (e.g. evaluation figures) into config.json without touching the weights."""
    config = read_config(run_dir) | fields
    write_json(Path(run_dir) / CONFIG, config)
    return config


def load_networks(
    recipe: Any, weights: dict[str, dict[str, torch.Tensor]], run_dir: Path, device: torch.device
) -> dict[str, nn.Module]:
    """G, D and G_ema built by ``recipe`` with the run's verified ``weights`` (``load_module_weights``), on
    ``device``, in eval mode."""
    nets = {
        "G": recipe.build_generator(),
        "D": recipe.build_discriminator(),
        "G_ema": recipe.build_generator(),
    }
    for name, module in nets.items():
        load_state(module, weights.get(name), name, run_dir)
        module.to(device).eval()
    return nets


def attach_run(
    gan: Any,
    recipe: Any,
    run_dir: Path,
    config: dict[str, Any],
    device: str,
    weights: dict[str, dict[str, torch.Tensor]],
) -> Any:
    """Give a model object built without ``__init__`` its run: data info, metrics, device and the
    networks (G, D, G_ema) built by ``recipe`` with the run's verified ``weights``. Returns ``gan``."""
    from ganforge.engine.trainer import resolve_device

    gan.data_info, gan.metrics, gan.run_dir = config.get("data", {}), config.get("metrics", {}), run_dir
    gan.device = resolve_device(device)
    nets = load_networks(recipe, weights, run_dir, gan.device)
    gan.G, gan.D, gan.G_ema = nets["G"], nets["D"], nets["G_ema"]
    return gan


def resume_train_settings(
    config: dict[str, Any], run_dir: Path, steps: int | None, device: str | None, minutes: float | None
) -> dict[str, Any]:
    """The saved training settings of a run to resume, with a new step target / device / time budget."""
    if not ckpt.has_checkpoint(run_dir):
        raise CheckpointError(f"nothing to resume in {run_dir}: no checkpoint found")
    if not isinstance(config.get("train"), dict):
        raise CheckpointError(
            f"{Path(run_dir) / CONFIG} is incomplete: it has no training settings to resume"
        )
    train = dict(config["train"]) | ({"steps": steps} if steps is not None else {})
    train |= {"device": device} if device is not None else {}
    return train | ({"max_seconds": minutes * 60} if minutes is not None else {})


def prepare_out_dir(out: Path, resume: bool) -> Path:
    """``out`` created and writable; a new run refuses a folder that already holds one."""
    out = Path(out)
    if not resume and ckpt.has_checkpoint(out):
        raise ConfigError(
            f"{out} already holds a run; pass --resume {out} to continue it or choose another --out"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"  # per process: torchrun ranks probe at once
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise ConfigError(f"cannot write to output directory {out}: {e.strerror or e}") from None
    return out


def was_streamed(run_dir: Path) -> bool:
    """True when the run in ``run_dir`` read its data streamed (so its resume must stream too)."""
    if not (Path(run_dir) / CONFIG).is_file():
        return False
    return bool(read_config(Path(run_dir)).get("data", {}).get("stream"))

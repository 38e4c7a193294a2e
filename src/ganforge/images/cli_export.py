"""Commands ``export`` (ONNX), ``detect``, ``train detector``, and the ONNX engine of ``sample``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ganforge.errors import ConfigError

console = Console(stderr=True, soft_wrap=True)  # long paths stay on one line
out_console = Console(soft_wrap=True)
DEFAULT_DETECTOR = Path("runs/detector")


def export_message(run: Path, onnx: Path | None) -> str:
    """``ganforge export`` of an image run: the ONNX file, checked against PyTorch; the line to print."""
    from ganforge.images.export import OnnxGenerator, export_onnx

    path = export_onnx(run, onnx)
    gen = OnnxGenerator(path)
    rc = gen.recipe_config
    classes = f"{rc.num_classes} classes (input c: int64 [batch])" if rc.num_classes else "unconditional"
    return (
        f"wrote {path}: z float32 [batch, {rc.z_dim}] -> images float32 [batch, {rc.channels}, "
        f"{rc.resolution}, {rc.resolution}] in [-1, 1]; {classes}; model id {gen.model_id}; "
        "checked with ONNX Runtime (max difference <= 1e-4)"
    )


def load_sampler(run: Path, device: str, engine: str, onnx: Path | None) -> Any:
    """What ``sample`` draws from: the PyTorch model, or the run's ONNX generator with ``--engine onnx``."""
    from ganforge.engine.model import load

    if engine == "torch":
        return load(run, device=device)
    from ganforge.images.export import onnx_for_run

    return onnx_for_run(run, onnx)


def detect(
    images: Annotated[list[Path], typer.Argument(help="Image files to score.")],
    detector: Annotated[
        Path, typer.Option(help="Detector directory (written by `ganforge train detector`).")
    ] = DEFAULT_DETECTOR,
    threshold: Annotated[float, typer.Option(help="Call an image synthetic at or above this.")] = 0.5,
) -> None:
    """Probability that each image is generated rather than real (one line per image)."""
    from ganforge.images.detector import Detector

    if not 0.0 < threshold < 1.0:
        raise ConfigError(f"--threshold must be in (0, 1) (got {threshold})")
    model = Detector.load(detector)
    probs = model.predict_files(list(images))
    for path, p in zip(images, probs, strict=True):
        verdict = "synthetic" if p >= threshold else "real"
        out_console.print(f"{p:.3f}  {verdict:9}  {path}", highlight=False, soft_wrap=True)


def train_detector(
    real: Annotated[str, typer.Option(help="Real images: a folder or a built-in dataset name.")],
    fake: Annotated[list[Path], typer.Option(help="Image run(s) whose samples count as generated.")],
    out: Annotated[Path, typer.Option(help="Directory to write the detector to.")] = DEFAULT_DETECTOR,
    test_fake: Annotated[
        list[Path] | None,
        typer.Option(help="Run(s) NOT used for training: the reported AUC on unseen generators."),
    ] = None,
    n: Annotated[int, typer.Option("-n", help="Real images used (as many samples are drawn).")] = 1000,
    features: Annotated[
        str, typer.Option(help="Comma-separated feature blocks: pixels, spectrum, effnet.")
    ] = "pixels",
    seed: Annotated[int, typer.Option(help="Random seed (split and samples).")] = 0,
) -> None:
    """Train a real-vs-generated image detector and report its AUC on held-out images."""
    from ganforge.images.detector import train_detector as fit

    blocks = tuple(f.strip() for f in features.split(",") if f.strip())
    with console.status(f"training a detector: real {real} vs samples of {', '.join(map(str, fake))}"):
        model = fit(
            real, list(fake), out=out, test_fakes=list(test_fake or []), n=n, features=blocks, seed=seed
        )
    info = model.info
    out_console.print(
        f"trained on {info['real_train']} real + {info['fake_train']} generated images; "
        f"AUC on held-out real vs the training runs' samples: {info['auc_seen']:.3f}"
    )
    for run, auc in info["auc_unseen"].items():
        out_console.print(f"AUC on held-out real vs an unseen generator ({run}): {auc:.3f}")
    if not info["auc_unseen"]:
        out_console.print("(give --test-fake RUN to measure the AUC on a generator it was not trained on)")
    out_console.print(f"detector written to {out}; use: ganforge detect IMAGE... --detector {out}")


def register(app: typer.Typer, train_app: typer.Typer) -> None:
    """Add ``detect`` and ``train detector`` to the command line."""
    app.command()(detect)
    train_app.command("detector")(train_detector)


__all__ = ["register", "load_sampler"]

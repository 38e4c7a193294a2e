"""ONNX export of image generators and sampling with ONNX Runtime.

``export_onnx(run, path)`` writes the EMA generator as ``G(z[, c]) -> images`` with a dynamic batch axis
(``z``: float32 (N, z_dim); ``c``: int64 (N,) class labels, only for conditional models; ``images``:
float32 (N, C, H, W) in about [-1, 1]) and checks the file with ONNX Runtime against PyTorch before
returning. The file's metadata holds everything needed to sample from it alone: the model id, resolution,
channels, class names and the recipe.

``OnnxGenerator(path).sample(n, labels, seed)`` draws the very latents (and random labels) that
``ImageGAN.sample`` draws for the same seed, so both engines give the same images; it applies the same
watermark.

Table models are not exported: their sampling (conditions, rejection of rows, decoding of mixtures and
categories) lives in Python around the network, so an ONNX file alone would not produce rows.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge._version import __version__
from ganforge.core.config import from_dict
from ganforge.engine import artifact
from ganforge.engine.onnx_export import ExportError, trace, write_checked
from ganforge.errors import CheckpointError, ConfigError

ONNX_FILE = "model.onnx"
CHECK_TOLERANCE = 1e-4  # max |onnx - torch| on raw generator outputs accepted at export time


class _Generator(nn.Module):
    """The EMA generator with a fixed signature for export: (z) or (z, c)."""

    def __init__(self, generator: nn.Module, conditional: bool) -> None:
        super().__init__()
        self.generator, self.conditional = generator, conditional

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(z, c if self.conditional else None)


def _load_image_model(run: str | Path) -> Any:
    from ganforge.engine.model import load

    kind = artifact.read_config(Path(run)).get("kind")
    if kind != "image":
        raise ExportError(
            f"{run} is a {kind} model: ONNX export covers image generators only (other kinds sample and "
            "decode in Python); sample it with: ganforge sample RUN --out ..."
        )
    return load(run, device="cpu")


def export_onnx(run: str | Path, path: str | Path | None = None, check: bool = True) -> Path:
    """Export the generator of the image run in ``run`` to ``path`` (default ``RUN/model.onnx``).

    With ``check`` (the default) the file is loaded with ONNX Runtime and its outputs compared with
    PyTorch at batch sizes 1 and 3; a difference above 1e-4 raises ExportError.
    """
    gan = _load_image_model(run)
    path = Path(path) if path is not None else Path(run) / ONNX_FILE
    weights = str(artifact.read_config(Path(run)).get("weights_sha256", ""))
    return export_generator(gan.G_ema, gan.recipe_config, path, gan.model_id, weights=weights, check=check)


def export_generator(
    generator: nn.Module,
    recipe_config: Any,
    path: str | Path,
    model_id: str,
    weights: str = "",
    check: bool = True,
) -> Path:
    """Export any image generator built by the image recipe for ``recipe_config`` (an
    ``ImageRecipeConfig``) to ``path``, with the metadata ``OnnxGenerator`` reads."""
    from ganforge.core.extras import require

    for module in ("onnx", "onnxscript", "onnxruntime"):
        require(module, "export", "ONNX export")
    import onnx

    path = Path(path)
    if path.suffix.lower() != ".onnx":
        raise ConfigError(f"the ONNX file name must end in .onnx (got {path})")
    if path.is_dir():
        raise ConfigError(f"{path} is a directory; give a file name ending in .onnx")
    rc = recipe_config
    conditional = rc.num_classes > 0
    module = _Generator(generator, conditional).eval()
    proto = trace(module, rc.z_dim, rc.num_classes, output="images")
    props = {
        "ganforge.model_id": model_id,
        "ganforge.resolution": str(rc.resolution),
        "ganforge.channels": str(rc.channels),
        "ganforge.classes": json.dumps(list(rc.class_names) or list(map(str, range(rc.num_classes)))),
        "ganforge.recipe": json.dumps(asdict(rc)),
        "ganforge.weights_sha256": weights,
        "ganforge.version": __version__,
    }
    onnx.helper.set_model_props(proto, props)
    proto.doc_string = f"ganforge image generator: {rc.resolution}x{rc.resolution}x{rc.channels}, " + (
        f"{rc.num_classes} classes" if conditional else "unconditional"
    )
    return write_checked(proto, path, module, OnnxGenerator, rc.z_dim, rc.num_classes, CHECK_TOLERANCE, check)


class OnnxGenerator:
    """An exported image generator run by ONNX Runtime: ``OnnxGenerator("model.onnx").sample(16, seed=0)``.

    Needs only the .onnx file: resolution, classes, model id and the recipe are read from its metadata.
    """

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        from ganforge.core.extras import require

        require("onnxruntime", "export", "The ONNX engine")
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"ONNX file not found: {path}")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3  # errors only
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for unreadable files
            raise CheckpointError(f"{path} is not a readable ONNX model: {str(e).splitlines()[0]}") from None
        props = self.session.get_modelmeta().custom_metadata_map
        if "ganforge.recipe" not in props:
            raise CheckpointError(f"{path} was not exported by ganforge (no ganforge metadata)")
        from ganforge.images.recipe import ImageRecipeConfig

        self.path = path
        self.recipe_config = from_dict(ImageRecipeConfig, json.loads(props["ganforge.recipe"]), what="recipe")
        self.model_id = props.get("ganforge.model_id", "unknown")
        self.weights_sha256 = props.get("ganforge.weights_sha256", "")
        self.class_names: list[str] = json.loads(props.get("ganforge.classes", "[]"))
        self.input_names = [i.name for i in self.session.get_inputs()]

    @property
    def resolution(self) -> int:
        """Image height and width in pixels."""
        return self.recipe_config.resolution

    @property
    def num_classes(self) -> int:
        """Number of classes (0 for an unconditional model)."""
        return self.recipe_config.num_classes

    def run(self, z: np.ndarray, c: np.ndarray | None = None) -> np.ndarray:
        """Raw generator output, float32 (N, C, H, W), for latents ``z`` and labels ``c``."""
        feed = {"z": np.ascontiguousarray(z, dtype=np.float32)}
        if "c" in self.input_names:
            if c is None:
                raise ConfigError("this model is class-conditional: pass labels")
            feed["c"] = np.ascontiguousarray(c, dtype=np.int64)
        return self.session.run(["images"], feed)[0]

    def _as_module(self) -> Any:
        def forward(z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
            return torch.from_numpy(self.run(z.numpy(), c.numpy() if c is not None else None))

        return forward

    def sample(
        self, n: int, labels: int | list[int] | None = None, seed: int | None = None, watermark: bool = True
    ) -> np.ndarray:
        """``n`` images, uint8 (n, H, W, C): the images ``ImageGAN.sample`` gives for the same seed and
        labels, watermarked with the model id unless ``watermark=False``."""
        from ganforge.images.model import ImageGAN

        if n < 1:
            raise ConfigError(f"n must be >= 1 (got {n})")
        # ImageGAN's own sampling loop (labels, latents per chunk, decoding) with this ONNX Runtime session as the
        # generator: the random draws cannot drift apart between the two engines.
        shell = ImageGAN.__new__(ImageGAN)
        shell.recipe_config, shell.device = self.recipe_config, torch.device("cpu")
        images = shell._generate(self._as_module(), n, labels, seed)
        if watermark:
            from ganforge.images.watermark import mark

            images = mark(images, self.model_id)
        return images


def onnx_for_run(run: str | Path, onnx_path: str | Path | None = None) -> OnnxGenerator:
    """The ONNX generator of a run: ``onnx_path`` if given, else RUN/model.onnx, exported first when it is
    missing or was exported from other weights (the run was trained further)."""
    if onnx_path is not None:
        return OnnxGenerator(onnx_path)
    path = Path(run) / ONNX_FILE
    weights = artifact.read_config(Path(run)).get("weights_sha256")
    if path.is_file():
        existing = OnnxGenerator(path)
        if existing.weights_sha256 == weights:
            return existing
    return OnnxGenerator(export_onnx(run, path))

"""ONNX export of audio generators and sampling with ONNX Runtime.

``export_audio(run, path)`` writes ``G(z[, c]) -> clips`` (float32 (N, samples) in [-1, 1], dynamic batch
axis) for a waveform GAN, or for a spectrogram GAN together with its GAN vocoder (generator, log-mel
scaling and vocoder in one graph). A spectrogram GAN without a vocoder is refused: Griffin-Lim's
iterations of STFTs are not what an ONNX graph runs well. The file is checked against PyTorch before it
takes its name, and its metadata holds what sampling from it alone needs (model id, rate, length, classes).

``OnnxAudio(path).sample(n, seed, klass)`` draws the latents ``AudioGAN.sample`` draws for the same seed
and marks the clips the same way.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge._version import __version__
from ganforge.engine import artifact
from ganforge.engine.model import sampling_generator
from ganforge.engine.onnx_export import ExportError, trace, write_checked
from ganforge.errors import CheckpointError, ConfigError

ONNX_FILE = "model.onnx"
CHECK_TOLERANCE = 1e-3  # max |onnx - torch| on clips accepted at export time


class _ClipGenerator(nn.Module):
    """(z[, c]) -> clips (N, length): the EMA generator, and for a spectrogram GAN its vocoder."""

    def __init__(self, gan: Any) -> None:
        super().__init__()
        r = gan.recipe
        self.generator = _plain(gan.G_ema)
        self.vocoder = _plain(gan.vocoder.G_ema) if gan.vocoder is not None else None
        self.recipe, self.conditional, self.length = r, r.num_classes > 0, r.length
        self.voc_recipe = gan.vocoder.recipe if gan.vocoder is not None else None

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        out = self.generator(z, c if self.conditional else None)
        if self.vocoder is not None:
            log_mel = self.recipe.unscale(out[:, 0])
            out = self.vocoder(None, self.voc_recipe.normalise(log_mel))
        return out[:, 0, : self.length].clamp(-1.0, 1.0)


def _plain(module: nn.Module) -> nn.Module:
    """A copy of ``module`` in eval mode with weight normalisation folded into plain weights."""
    module = copy.deepcopy(module).eval()
    for sub in module.modules():
        if torch.nn.utils.parametrize.is_parametrized(sub):
            for name in list(sub.parametrizations):
                torch.nn.utils.parametrize.remove_parametrizations(sub, name)
    return module


def export_audio(run: str | Path, path: str | Path | None = None, check: bool = True) -> Path:
    """Export the audio run ``run`` to ``path`` (default ``RUN/model.onnx``), checked against PyTorch."""
    from ganforge.core.extras import require

    for module in ("onnx", "onnxscript", "onnxruntime"):
        require(module, "export", "ONNX export")
    import onnx

    from ganforge.engine.model import load

    gan = load(run, device="cpu")
    r = gan.recipe
    if r.arch == "spec" and gan.vocoder is None:
        raise ExportError(
            "this spectrogram GAN makes sound by Griffin-Lim, which ONNX export does not cover: give it a GAN "
            f"vocoder first (ganforge train audio DATA --resume {run} --vocoder VOCODER_RUN)"
        )
    path = Path(path) if path is not None else Path(run) / ONNX_FILE
    if path.suffix.lower() != ".onnx" or path.is_dir():
        raise ConfigError(f"the ONNX file name must end in .onnx (got {path})")
    module = _ClipGenerator(gan).eval()
    proto = trace(module, r.z_dim, r.num_classes, output="clips")
    props = {
        "ganforge.kind": "audio", "ganforge.model_id": gan.model_id, "ganforge.recipe": json.dumps(asdict(r)),
        "ganforge.weights_sha256": str(artifact.read_config(Path(run)).get("weights_sha256", "")),
        "ganforge.version": __version__,
    }  # fmt: skip
    onnx.helper.set_model_props(proto, props)
    proto.doc_string = f"ganforge audio generator: {r.length} samples at {r.sample_rate} Hz"
    return write_checked(proto, path, module, OnnxAudio, r.z_dim, r.num_classes, CHECK_TOLERANCE, check)


class OnnxAudio:
    """An exported audio generator run by ONNX Runtime: ``OnnxAudio("model.onnx").sample(16, seed=0)``."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        from ganforge.core.extras import require

        require("onnxruntime", "export", "The ONNX engine")
        import onnxruntime as ort

        from ganforge.audio.model import AudioGAN
        from ganforge.audio.recipe import AudioRecipe
        from ganforge.core.config import from_dict

        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"ONNX file not found: {path}")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for unreadable files
            raise CheckpointError(f"{path} is not a readable ONNX model: {str(e).splitlines()[0]}") from None
        props = self.session.get_modelmeta().custom_metadata_map
        if props.get("ganforge.kind") != "audio":
            raise CheckpointError(f"{path} is not an audio model exported by ganforge")
        self.path, self.model_id = path, props.get("ganforge.model_id", "unknown")
        self.weights_sha256 = props.get("ganforge.weights_sha256", "")
        self.recipe = from_dict(AudioRecipe, json.loads(props["ganforge.recipe"]), what="recipe")
        # AudioGAN's own class handling (names, indices, every class in turn) on this recipe.
        self._shell = AudioGAN.__new__(AudioGAN)
        self._shell.recipe = self.recipe
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.run_dir, self.data_info = None, {}

    @property
    def class_names(self) -> list[str]:
        return list(self.recipe.class_names)

    def labels_for(self, n: int, klass: int | str | None = None) -> np.ndarray | None:
        return self._shell.labels_for(n, klass)

    def run(self, z: np.ndarray, c: np.ndarray | None = None) -> np.ndarray:
        """Clips (N, samples) for latents ``z`` and class indices ``c``."""
        feed = {"z": np.ascontiguousarray(z, dtype=np.float32)}
        if "c" in self.input_names:
            if c is None:
                raise ConfigError("this model is class-conditional: pass labels")
            feed["c"] = np.ascontiguousarray(c, dtype=np.int64)
        return self.session.run(["clips"], feed)[0]

    def sample(self, n: int, seed: int | None = None, klass: int | str | None = None, watermark: bool = True,
               batch: int = 256) -> np.ndarray:  # fmt: skip
        """The clips ``AudioGAN.sample`` makes for the same seed and class (to float tolerance), marked."""
        if n < 1:
            raise ConfigError(f"n must be >= 1 (got {n})")
        labels = self.labels_for(n, klass)
        rng = sampling_generator(seed)
        out = []
        for start in range(0, n, batch):
            m = min(batch, n - start)
            z = self.recipe.sample_latents(m, rng).numpy()
            out.append(self.run(z, labels[start : start + m] if labels is not None else None))
        clips = np.concatenate(out)
        if watermark:
            from ganforge.audio.watermark import mark

            clips = mark(clips, self.recipe.sample_rate, self.model_id)
        return clips


def onnx_for_run(run: str | Path, onnx_path: str | Path | None = None) -> OnnxAudio:
    """``onnx_path`` if given, else RUN/model.onnx, exported first when missing or from other weights."""
    if onnx_path is not None:
        return OnnxAudio(onnx_path)
    path = Path(run) / ONNX_FILE
    if path.is_file():
        existing = OnnxAudio(path)
        if existing.weights_sha256 == artifact.read_config(Path(run)).get("weights_sha256"):
            return existing
    return OnnxAudio(export_audio(run, path))

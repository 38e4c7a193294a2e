"""Tracing a generator to ONNX, for any wing's export: ``trace(module, z_dim, num_classes, output)`` gives
the ModelProto of ``module(z[, c])`` with a dynamic batch axis on every input and the output;
``write_checked(proto, path, module, ...)`` writes it so that only a file that passes the ONNX checker and
matches ``module`` under ONNX Runtime takes the name ``path``."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge.core.io import atomic_file
from ganforge.errors import ConfigError, GanforgeError

OPSET = 20


class ExportError(GanforgeError):
    """A model cannot be exported to ONNX, or the exported file does not match PyTorch."""


def trace(module: nn.Module, z_dim: int, num_classes: int, output: str) -> Any:
    """The ONNX ModelProto of ``module``: inputs ``z`` float32 (N, z_dim) and, with classes, ``c`` int64
    (N,); one output named ``output``."""
    batch = torch.export.Dim("batch", min=1)
    z = torch.randn(2, z_dim)  # 2, not 1: an example batch of 1 would be specialised to a constant
    args: tuple[torch.Tensor, ...] = (z, torch.zeros(2, dtype=torch.long)) if num_classes else (z,)
    names = ["z", "c"][: len(args)]
    onnx_log = logging.getLogger("torch.onnx")
    level = onnx_log.level
    onnx_log.setLevel(logging.ERROR)  # "torchvision is not installed" notes are noise here
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module, args, input_names=names, output_names=[output], opset_version=OPSET,
                dynamic_shapes={name: {0: batch} for name in names}, dynamo=True, verbose=False,
            )  # fmt: skip
    except Exception as e:  # the exporter raises many types; report one line
        raise ExportError(f"ONNX export failed: {type(e).__name__}: {str(e).splitlines()[0]}") from e
    finally:
        onnx_log.setLevel(level)
    return program.model_proto


def write_checked(
    proto: Any,
    path: str | Path,
    module: nn.Module,
    open_exported: Callable[[str], Any],
    z_dim: int,
    num_classes: int,
    tolerance: float,
    check: bool = True,
) -> Path:
    """Write the ModelProto ``proto`` to ``path`` atomically: under a temporary name, and with ``check`` the
    ONNX checker runs on it and ``open_exported(temp_name).run(z, c)`` (ONNX Runtime) must match
    ``module(z, c)`` within ``tolerance`` at batch sizes 1 and 3 (ExportError otherwise) before the file takes
    its name. An OS error while writing becomes a one-line ConfigError."""
    import onnx

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as fh:  # only a checked file takes the final name
            fh.write(proto.SerializeToString())
            fh.flush()
            if check:
                onnx.checker.check_model(fh.name)
                _compare(module, open_exported(fh.name), z_dim, num_classes, tolerance)
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror or e}") from None
    return path


def _compare(module: nn.Module, exported: Any, z_dim: int, num_classes: int, tolerance: float) -> None:
    """``exported.run(z, c)`` against ``module(z, c)`` on seeded latents (and labels), batches of 1 and 3."""
    rng = torch.Generator().manual_seed(0)
    for n in (1, 3):
        z = torch.randn(n, z_dim, generator=rng)
        c = torch.randint(num_classes, (n,), generator=rng) if num_classes else None
        with torch.no_grad():
            want = module(z, c).numpy()
        got = exported.run(z.numpy(), c.numpy() if c is not None else None)
        diff = float(np.abs(got - want).max())
        if not diff <= tolerance:
            raise ExportError(f"the ONNX model differs from PyTorch by {diff:.2e} (> {tolerance})")

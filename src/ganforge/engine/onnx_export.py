"""Tracing a generator to ONNX, for any wing's export: ``trace(module, z_dim, num_classes, output)`` gives
the ModelProto of ``module(z[, c])`` with a dynamic batch axis on every input and the output."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import torch
from torch import nn

from ganforge.errors import GanforgeError

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

"""Training throughput (images/s) of each image architecture at 32x32, and its share of peak FLOP/s.

The peak is measured in the same run: the best of several large fp32 matrix multiplications. The FLOPs
of a training step (D step with R1/R2 when due, G step, EMA) are counted by torch's FLOP counter over
a whole lazy-regularisation cycle, so the penalty's double backward is included.

    python benchmarks/image_train.py [--steps 20] [--batch 64] [--device cpu]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

from ganforge.core.config import TrainConfig  # noqa: E402
from ganforge.engine.trainer import Trainer  # noqa: E402
from ganforge.images.recipe import ImageRecipe, ImageRecipeConfig, ImageSource, preset  # noqa: E402


class FlopCount(TorchDispatchMode):
    """Counts FLOPs of matmuls and convolutions (forward and backward) with torch's own per-op formulas.

    torch's FlopCounterMode cannot be used here: its module hooks break ``autograd.grad``, which the
    R1/R2 penalties call.
    """

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


def _best_seconds(fn, repeats: int, device: torch.device) -> float:  # noqa: ANN001
    fn()
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return best


@torch.no_grad()
def peak_matmul_flops(device: torch.device, n: int = 2048, repeats: int = 10) -> dict[str, float]:
    """Best FLOP/s of a large fp32 matmul through each of torch's CPU GEMM back-ends.

    ``torch.mm`` goes through BLAS (MKL), which on some CPUs (e.g. AMD) runs far below the hardware's
    rate; a 1x1 convolution is the same GEMM computed by oneDNN. The peak is the faster of the two.
    """
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    out = {"mm": 2 * n**3 / _best_seconds(lambda: a @ b, repeats, device)}
    c, hw, batch = 1024, 16, 32  # (batch*hw*hw) x c times c x c
    x = torch.randn(batch, c, hw, hw, device=device).to(memory_format=torch.channels_last)
    conv = torch.nn.Conv2d(c, c, 1, bias=False).to(device).to(memory_format=torch.channels_last)
    out["gemm_1x1_conv"] = 2 * batch * hw * hw * c * c / _best_seconds(lambda: conv(x), repeats, device)
    return out


def measure(arch: str, preset_name: str, batch: int, steps: int, device: str) -> dict:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4096, 32, 32, 3), dtype=np.uint8)  # throughput does not depend on content
    labels = rng.integers(0, 10, 4096)
    settings = preset(preset_name)
    settings.pop("arch")
    config = TrainConfig(steps=10**6, batch_size=batch, device=device, **settings)
    recipe = ImageRecipe(ImageRecipeConfig(resolution=32, channels=3, num_classes=10, arch=arch))
    trainer = Trainer(recipe, ImageSource(images, labels), config)
    for _ in range(3):  # warm-up
        trainer.train_step()
    cycle = config.reg_interval
    with FlopCount() as counter:
        for _ in range(cycle):
            trainer.train_step()
    flops_per_step = counter.total / cycle
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {
        "arch": arch,
        "preset": preset_name,
        "params_G": sum(p.numel() for p in trainer.G.parameters()),
        "params_D": sum(p.numel() for p in trainer.D.parameters()),
        "images_per_s": round(batch * steps / seconds, 1),
        "gflop_per_step": round(flops_per_step / 1e9, 2),
        "achieved_gflops": round(flops_per_step * steps / seconds / 1e9, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    peaks = peak_matmul_flops(device)
    peak = max(peaks.values())
    rows = [measure(preset(name)["arch"], name, args.batch, args.steps, args.device)
            for name in ("default", "r3gan", "dcgan")]  # fmt: skip
    for row in rows:
        row["share_of_peak"] = round(row["achieved_gflops"] * 1e9 / peak, 3)
    save("image_train", {"resolution": 32, "batch": args.batch, "peak_matmul_gflops": round(peak / 1e9, 1),
                         "peak_by_backend_gflops": {k: round(v / 1e9, 1) for k, v in peaks.items()},
                         "note": "FLOPs are nominal (direct-convolution counts); oneDNN may use faster "
                                 "algorithms, so a share can exceed what the arithmetic would allow",
                         "architectures": rows})  # fmt: skip


if __name__ == "__main__":
    main()

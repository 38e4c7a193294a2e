"""Generation speed: the default GAN generators (torch eager and ONNX Runtime) against a small diffusion
model (diffusers UNet2DModel + DDIM, 50 steps) at the same resolutions. Untrained weights: speed does not
depend on what the weights hold.

For each resolution: single-image latency (batch 1, median) and throughput (images/s at batch 64).
The diffusion model's batch-64 throughput is measured over ``--diffusion-steps-timed`` denoising steps
and scaled to 50 (each step is one identical UNet call plus a cheap scheduler update; ``--full``
runs all 50). One CPU thread by default (``--threads``): on a shared machine more threads mostly
measure the contention. Needs ``pip install -e ".[bench]"`` (diffusers).

    python benchmarks/generate.py [--resolutions 32 64] [--repeats 20] [--full]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

from ganforge.images.export import OnnxGenerator, export_generator  # noqa: E402
from ganforge.images.recipe import ImageRecipe, ImageRecipeConfig, preset  # noqa: E402

DDIM_STEPS = 50


def _timings(fn, repeats: int, warmup: int = 2) -> list[float]:  # noqa: ANN001
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _speed(fn_for_batch, repeats: int, batch: int) -> dict[str, float]:  # noqa: ANN001
    one = _timings(fn_for_batch(1), repeats)
    many = _timings(fn_for_batch(batch), max(3, repeats // 4))
    return {
        "latency_ms_batch1": round(statistics.median(one) * 1000, 3),
        "images_per_s_batch1": round(1 / statistics.median(one), 1),
        f"images_per_s_batch{batch}": round(batch / statistics.median(many), 1),
    }


def gan_speeds(resolution: int, repeats: int, batch: int, workdir: Path, threads: int) -> dict:
    """The default preset's generator (architecture, width 32, z 64), RGB, 10 classes."""
    rc = ImageRecipeConfig(resolution=resolution, channels=3, num_classes=10, arch=preset("default")["arch"])
    generator = ImageRecipe(rc).build_generator().eval()
    params = sum(p.numel() for p in generator.parameters())

    def torch_fn(n: int):  # noqa: ANN202
        z, c = torch.randn(n, rc.z_dim), torch.randint(10, (n,))

        def run() -> None:
            with torch.inference_mode():
                generator(z, c)

        return run

    path = export_generator(generator, rc, workdir / f"g{resolution}.onnx", model_id="00000")
    onnx_gen = OnnxGenerator(path, threads=threads)

    def onnx_fn(n: int):  # noqa: ANN202
        z, c = np.random.randn(n, rc.z_dim).astype(np.float32), np.random.randint(0, 10, n)
        return lambda: onnx_gen.run(z, c)

    return {
        "arch": rc.arch,
        "parameters": params,
        "torch": _speed(torch_fn, repeats, batch),
        "onnxruntime": _speed(onnx_fn, repeats, batch),
    }


def diffusion_speeds(resolution: int, batch: int, steps_timed: int, full: bool) -> dict:
    """A small pixel-space UNet (diffusers) sampled with DDIM in 50 steps."""
    from diffusers import DDIMScheduler, UNet2DModel

    unet = UNet2DModel(
        sample_size=resolution, in_channels=3, out_channels=3, layers_per_block=1,
        block_out_channels=(32, 64, 128), norm_num_groups=8,
        down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
    ).eval()  # fmt: skip
    scheduler = DDIMScheduler(num_train_timesteps=1000)
    params = sum(p.numel() for p in unet.parameters())

    def sample(n: int, steps: int) -> float:
        scheduler.set_timesteps(DDIM_STEPS)
        x = torch.randn(n, 3, resolution, resolution)
        t0 = time.perf_counter()
        with torch.inference_mode():
            for t in scheduler.timesteps[:steps]:
                x = scheduler.step(unet(x, t).sample, t, x).prev_sample
        return time.perf_counter() - t0

    sample(1, 2)  # warm-up
    one = sample(1, DDIM_STEPS)
    steps = DDIM_STEPS if full else steps_timed
    many = sample(batch, steps) * DDIM_STEPS / steps
    return {
        "parameters": params,
        "ddim_steps": DDIM_STEPS,
        "latency_ms_batch1": round(one * 1000, 1),
        "images_per_s_batch1": round(1 / one, 3),
        f"images_per_s_batch{batch}": round(batch / many, 3),
        f"batch{batch}_steps_timed": steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--resolutions", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--diffusion-steps-timed", type=int, default=5)
    parser.add_argument("--full", action="store_true", help="run all 50 DDIM steps at the large batch")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch and ONNX Runtime")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for res in args.resolutions:
            gan = gan_speeds(res, args.repeats, args.batch, Path(tmp), args.threads)
            diffusion = diffusion_speeds(res, args.batch, args.diffusion_steps_timed, args.full)
            key = f"images_per_s_batch{args.batch}"
            best = max(gan["torch"][key], gan["onnxruntime"][key])
            fastest_gan_latency = min(
                gan["torch"]["latency_ms_batch1"], gan["onnxruntime"]["latency_ms_batch1"]
            )
            results[f"{res}x{res}"] = {
                "gan": gan,
                "diffusion": diffusion,
                f"speed_ratio_images_per_s_batch{args.batch}": round(best / diffusion[key], 1),
                "speed_ratio_latency_batch1": round(diffusion["latency_ms_batch1"] / fastest_gan_latency, 1),
                "onnx_vs_torch_batch1_latency": round(
                    gan["torch"]["latency_ms_batch1"] / gan["onnxruntime"]["latency_ms_batch1"], 2
                ),
            }
            print(f"{res}px done", flush=True)
    save("generate", {"settings": vars(args), "results": results})


if __name__ == "__main__":
    main()

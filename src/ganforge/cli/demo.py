"""``make demo``: a class-conditional GAN on Fashion-MNIST within a CPU time budget, then FID/KID.

Run as ``python -m ganforge.cli.demo [--minutes 10] [--out runs/demo]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from ganforge.engine import checkpoint as ckpt
from ganforge.errors import GanforgeError


def free_run_dir(out: Path) -> Path:
    """``out`` itself, or ``out-2``, ``out-3``... so an earlier demo run is never overwritten."""
    candidate, k = out, 1
    while ckpt.has_checkpoint(candidate):
        k += 1
        candidate = out.with_name(f"{out.name}-{k}")
    return candidate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ganforge.cli.demo", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0, help="training time budget (default 10)")
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), help="run directory")
    parser.add_argument("--eval-n", type=int, default=2000, help="images per side for FID/KID (default 2000)")
    parser.add_argument("--preset", default="auto", help="auto | default | small-data | r3gan | dcgan")
    parser.add_argument("--device", default="auto", help="cpu | cuda | auto")
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    try:
        from ganforge.engine.progress import ProgressCallback
        from ganforge.images.evaluate import evaluate_run
        from ganforge.images.model import ImageGAN

        out = free_run_dir(args.out)
        console.print(f"[bold]ganforge demo[/]: class-conditional GAN on Fashion-MNIST (28x28), "
                      f"{args.minutes:g} min of training -> {out}")  # fmt: skip
        gan = ImageGAN(resolution=28, conditional=True, preset_name=args.preset, steps=10_000_000,
                       max_seconds=args.minutes * 60, device=args.device, checkpoint_every=250)  # fmt: skip
        gan.fit("fashion-mnist", out=out, callbacks=[ProgressCallback(console)], sample_every=250)
        m = gan.metrics
        console.print(
            f"trained {m['steps']} steps, {m['images_seen']:,} images in {m['train_seconds']:.0f} s "
            f"(preset {gan.preset_name})"
        )
        console.print(
            f"measuring quality: Inception FID/KID, {args.eval_n} generated (watermarked, as users get them) "
            f"vs {args.eval_n} test images"
        )
        r = evaluate_run(out, ref="fashion-mnist", split="test", n=args.eval_n, console=console)
    except GanforgeError as e:
        console.print(f"[bold red]error:[/] {e}")
        return 1
    n = args.eval_n
    print(f"\nFID {r['fid']:.2f}  KID {r['kid'] * 1000:.2f}e-3  ({n} watermarked samples vs {n} test images)")
    print(f"run directory: {out}")
    print(f"  samples over training: {out / 'samples'}   model card: {out / 'card.md'}")
    print("next:")
    print(f"  .venv/bin/ganforge sample {out} -n 64 --class 7 --grid --out sneakers.png")
    print(f"  .venv/bin/ganforge interpolate {out} --out walk.gif")
    print(f"  .venv/bin/ganforge train images {'fashion-mnist'} --resume {out} --minutes 20   # train longer")
    return 0


if __name__ == "__main__":
    sys.exit(main())

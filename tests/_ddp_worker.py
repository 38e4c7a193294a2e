"""Run by tests/test_distributed.py under ``torchrun`` (or called in its process for one process): train a
tiny conditional image GAN with R1/R2 and augmentation on fixed random data, then save this rank's weights to
OUT/rank{R}.safetensors."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from safetensors.torch import save_file

from ganforge.core.config import TrainConfig
from ganforge.engine.trainer import Trainer
from ganforge.images.recipe import ImageRecipe, ImageRecipeConfig, ImageSource


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--run-dir", type=Path, default=None)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(7)
    images = (torch.rand(64, 16, 16, 1, generator=g) * 255).to(torch.uint8).numpy()
    labels = torch.randint(3, (64,), generator=g).numpy()
    rc = ImageRecipeConfig(resolution=16, arch="resnet", width=8, z_dim=16, channels=1, num_classes=3)
    cfg = TrainConfig(
        steps=args.steps, batch_size=args.batch, lr_g=2e-3, lr_d=2e-3, betas=(0.0, 0.99), loss="rpgan",
        r1_gamma=0.5, r2_gamma=0.5, reg_interval=2, augment_p=0.3, ada_target=0.6, ada_interval=1,
        ema_halflife_images=200.0, checkpoint_every=1000, log_every=1, seed=3, precision=args.precision,
    )  # fmt: skip
    if args.run_dir is not None:
        args.run_dir.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(ImageRecipe(rc), ImageSource(images, labels), cfg, run_dir=args.run_dir)
    trainer.fit(resume=args.resume)
    tensors = {f"{name}.{k}": v.detach().cpu().contiguous() for name, m in
               (("G", trainer.G), ("D", trainer.D), ("G_ema", trainer.G_ema)) for k, v in m.state_dict().items()}  # fmt: skip
    tensors["augment_p"] = torch.tensor([trainer.augment_p], dtype=torch.float64)
    args.out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(args.out / f"rank{trainer.world.rank}.safetensors"))


if __name__ == "__main__":
    main()

"""Fashion-MNIST after a fixed CPU budget: every preset trained in one run, then measured alike.

Each preset is trained class-conditionally at 28x28 for the same wall-clock budget on the same machine
(all training first, so no measurement shares the CPU with a timed run). Then, for n generated images
(classes balanced, the same latents with and without the invisible mark) against n test images (classes
balanced):

- Inception FID and KID, marked (what users get) and unmarked;
- the Frechet distance in the features of a small Fashion-MNIST classifier that this script trains
  itself (penultimate layer; its test accuracy is reported): a distance ImageNet features cannot
  flatter (Kynkaanniemi et al., ICLR 2023);
- precision / recall / density / coverage (Inception features, k=5) and per-class FID;
- the floor: n real training images against the same test images, and what the mark alone costs on
  those real images.

    python benchmarks/fid_fashion.py [--minutes 10] [--n 2000] [--presets default dcgan] [--out NAME]
                                     [--set KEY=VALUE ...] [--runs NAME=DIR ...]

``--runs`` measures runs trained elsewhere (a GPU: benchmarks/gpu_images.py) with the same code.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import parse_overrides, save  # noqa: E402

from ganforge import ImageGAN  # noqa: E402
from ganforge.images import watermark as wm  # noqa: E402
from ganforge.images.augment_utility import pick_per_class  # noqa: E402
from ganforge.images.builtin import load_builtin  # noqa: E402
from ganforge.images.codec import decode_images, encode_images  # noqa: E402
from ganforge.images.data import ImageDataset  # noqa: E402
from ganforge.metrics.features import get_extractor  # noqa: E402
from ganforge.metrics.fid import features_frechet_distance, kid  # noqa: E402
from ganforge.metrics.prdc import prdc  # noqa: E402

CLASSES = 10


class SmallCNN(nn.Module):
    """Two conv blocks and a 128-d penultimate layer: ~91 % on Fashion-MNIST after three epochs."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
        )  # fmt: skip
        self.head = nn.Linear(128, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class PlainDCGAN:
    """The 2015 baseline (Radford et al.): unconditional, 32 px (Fashion-MNIST padded with black), four
    transposed convolutions with batch norm in G, strided convolutions with batch norm in D (not on its
    first layer), the non-saturating loss, Adam 2e-4 with beta1 0.5, batch 128, no EMA."""

    def __init__(self, z_dim: int = 100, width: int = 64, seed: int = 0) -> None:
        torch.manual_seed(seed)
        w = width
        self.z_dim = z_dim
        self.G = nn.Sequential(
            nn.ConvTranspose2d(z_dim, 4 * w, 4, 1, 0, bias=False), nn.BatchNorm2d(4 * w), nn.ReLU(),
            nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
            nn.ConvTranspose2d(w, 1, 4, 2, 1), nn.Tanh(),
        )  # fmt: skip
        self.D = nn.Sequential(
            nn.Conv2d(1, w, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 4 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(4 * w), nn.LeakyReLU(0.2),
            nn.Conv2d(4 * w, 1, 4, 1, 0),
        )  # fmt: skip
        for m in [*self.G.modules(), *self.D.modules()]:
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, 0.0, 0.02)
        self.steps = self.images_seen = 0
        self.train_seconds = 0.0

    def fit(self, images: np.ndarray, seconds: float, batch: int = 128) -> None:
        x = nn.functional.pad(encode_images(images), (2, 2, 2, 2), value=-1.0)
        opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        softplus = nn.functional.softplus
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            for idx in torch.randperm(len(x)).split(batch):
                if len(idx) < batch or time.perf_counter() - start >= seconds:
                    break
                fake = self.G(torch.randn(batch, self.z_dim, 1, 1))
                d_loss = softplus(-self.D(x[idx])).mean() + softplus(self.D(fake.detach())).mean()
                opt_d.zero_grad()
                d_loss.backward()
                opt_d.step()
                g_loss = softplus(-self.D(fake)).mean()
                opt_g.zero_grad()
                g_loss.backward()
                opt_g.step()
                self.steps += 1
                self.images_seen += batch
        self.train_seconds = round(time.perf_counter() - start, 1)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        torch.manual_seed(seed)
        self.G.eval()
        with torch.no_grad():
            out = torch.cat(
                [self.G(torch.randn(len(b), self.z_dim, 1, 1)) for b in torch.arange(n).split(500)]
            )
        self.G.train()
        return decode_images(out[:, :, 2:30, 2:30])


def train_classifier(
    train: ImageDataset, test: ImageDataset, epochs: int, seed: int = 0
) -> tuple[SmallCNN, float]:
    """The in-domain feature network, trained here on the training images; (net, test accuracy)."""
    torch.manual_seed(seed)
    x, y = encode_images(train.images), torch.from_numpy(train.labels)
    net = SmallCNN()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(epochs):
        net.train()
        for idx in torch.randperm(len(x)).split(128):
            loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    return net, float((predict(net, test.images) == test.labels).mean())


def predict(net: SmallCNN, images: np.ndarray) -> np.ndarray:
    """The classifier's class for each image."""
    with torch.no_grad():
        return torch.cat([net(b).argmax(1) for b in encode_images(images).split(1000)]).numpy()


def classifier_features(net: SmallCNN, images: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.cat([net.body(b) for b in encode_images(images).split(1000)]).double().numpy()


def measure(
    real: dict[str, np.ndarray], images: np.ndarray, labels: np.ndarray, inception: Any, net: SmallCNN
) -> dict[str, Any]:
    """Every figure of one image set against the test images (features of ``real`` precomputed)."""
    feats = inception(images)
    k_mean, k_std = kid(real["inception"], feats)
    row: dict[str, Any] = {
        "fid": round(features_frechet_distance(real["inception"], feats), 2),
        "kid": round(k_mean, 5),
        "kid_std": round(k_std, 5),
        "classifier_fd": round(
            features_frechet_distance(real["classifier"], classifier_features(net, images)), 3
        ),
    }
    row["prdc"] = {k: round(v, 4) for k, v in prdc(real["inception"], feats).items() if k in (
        "precision", "recall", "density", "coverage")}  # fmt: skip
    row["fid_per_class"] = [
        round(features_frechet_distance(real["inception"][real["labels"] == c], feats[labels == c]), 1)
        if (labels == c).sum() >= 2
        else None
        for c in range(CLASSES)
    ]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--n", type=int, default=2000, help="images per side (a multiple of 10)")
    parser.add_argument("--presets", nargs="*", default=["default", "dcgan"])
    parser.add_argument("--no-plain-dcgan", action="store_true", help="skip the 2015 baseline")
    parser.add_argument("--runs", nargs="*", default=[], metavar="NAME=DIR",
                        help="also measure runs trained elsewhere (gpu_images.py), loaded from DIR")  # fmt: skip
    parser.add_argument("--device", default="auto")
    parser.add_argument("--classifier-epochs", type=int, default=3)
    parser.add_argument("--out", default="fid_fashion", help="results/NAME.json")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="ImageGAN keywords for every preset, values as JSON or bare words (an "
                        "ablation row: --set loss=ns betas=[0.5,0.999])")  # fmt: skip
    args = parser.parse_args()
    overrides = parse_overrides(args.set)
    per = args.n // CLASSES

    train, test = load_builtin("fashion-mnist", 28, "train"), load_builtin("fashion-mnist", 28, "test")
    trained = []
    for name in args.presets:
        out = Path(tempfile.mkdtemp(prefix=f"fid-{name}-"))
        gan = ImageGAN(resolution=28, conditional=True, preset_name=name, steps=10**7, device=args.device,
                       max_seconds=args.minutes * 60, checkpoint_every=10**6, **overrides)  # fmt: skip
        gan.fit("fashion-mnist", out=out / "run", sample_every=10**6)
        trained.append((name, gan, out / "run"))
        print(f"{name}: {gan.metrics['steps']} steps in {gan.metrics['train_seconds']} s", flush=True)
    for name, folder in (r.split("=", 1) for r in args.runs):
        trained.append((name, ImageGAN.load(folder), Path(folder)))
    plain_dcgan = None
    if not args.no_plain_dcgan:
        plain_dcgan = PlainDCGAN()
        plain_dcgan.fit(train.images, args.minutes * 60)
        print(f"plain DCGAN (2015): {plain_dcgan.steps} steps in {plain_dcgan.train_seconds} s", flush=True)

    t = time.perf_counter()
    net, accuracy = train_classifier(train, test, args.classifier_epochs)
    print(f"in-domain classifier: {accuracy:.4f} test accuracy ({time.perf_counter() - t:.0f} s)", flush=True)
    inception = get_extractor("inception")
    pick = pick_per_class(test.labels, per, CLASSES, seed=0)
    real = {"labels": test.labels[pick], "inception": inception(test.images[pick])}
    real["classifier"] = classifier_features(net, test.images[pick])
    labels = np.repeat(np.arange(CLASSES), per)

    floor_pick = pick_per_class(train.labels, per, CLASSES, seed=1)
    floor_images, floor_labels = train.images[floor_pick], train.labels[floor_pick]
    floor = {"unmarked": measure(real, floor_images, floor_labels, inception, net)}
    floor["marked"] = measure(real, wm.mark(floor_images, "3a7c1"), floor_labels, inception, net)
    floor["mark_fid_cost"] = round(floor["marked"]["fid"] - floor["unmarked"]["fid"], 2)
    print("real training images:", floor, flush=True)

    rows = []
    for name, gan, out in trained:
        row: dict[str, Any] = {"preset": name, "arch": gan.recipe_config.arch, "steps": gan.metrics["steps"],
               "images_seen": gan.metrics["images_seen"], "train_seconds": gan.metrics["train_seconds"],
               "run_dir": str(out)}  # fmt: skip
        plain = gan.sample(args.n, labels=labels.tolist(), seed=0, watermark=False)
        row["marked"] = measure(real, wm.mark(plain, gan.model_id), labels, inception, net)
        row["unmarked"] = measure(real, plain, labels, inception, net)
        print(row, flush=True)
        rows.append(row)
    if plain_dcgan is not None:  # unconditional: no mark (it is not a ganforge model), classes as they come
        fake = plain_dcgan.sample(args.n, seed=0)
        guess = predict(net, fake)
        row = {"preset": "plain DCGAN (Radford et al. 2015, unconditional, 32 px padded)",
               "steps": plain_dcgan.steps, "images_seen": plain_dcgan.images_seen,
               "train_seconds": plain_dcgan.train_seconds,
               "unmarked": measure(real, fake, guess, inception, net)}  # fmt: skip
        row["unmarked"]["per_class_note"] = "classes of its samples as the in-domain classifier names them"
        print(row, flush=True)
        rows.append(row)
    save(args.out, {"minutes": args.minutes, "n": args.n, "overrides": overrides, "resolution": 28, "classes_balanced": True,
                    "classifier": {"test_accuracy": round(accuracy, 4), "epochs": args.classifier_epochs,
                                   "features": "128-d penultimate layer"},
                    "real_train_floor": floor, "results": rows})  # fmt: skip


if __name__ == "__main__":
    main()

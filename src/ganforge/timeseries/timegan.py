"""The TimeGAN-style recipe (Yoon, Jarrett and van der Schaar, NeurIPS 2019) on the one Trainer.

Four recurrent networks live in the generator module: an embedder (data -> latent sequence), a recovery
(latent -> data), a generator (noise -> latent) and a supervisor (latent up to step t -> latent at t + 1).
The discriminator is a GRU that judges latent sequences, one logit per step: the adversarial game is played
in the latent space (the engine's ``LatentGame`` hook shows D each real batch through the embedder).

Training, in the Trainer's terms:
- warm-up (``adversarial_start`` steps): the autoencoder learns to reconstruct (10 x RMSE) and the
  supervisor to predict the next latent step of real sequences; the generator matches the data's
  per-channel mean and spread (the moment terms);
- then the adversarial loss joins, with 100 x the square root of the supervised loss and 100 x the moment
  terms (the paper's weights), and the embedder keeps learning (reconstruction + 0.1 x supervised).

Unlike the paper, the four networks share one optimiser (the generator's), D is not held back when its
loss is low, and there is no second adversarial term on the generator's latents before the supervisor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.timeseries.recipe import SeriesRecipe

RECONSTRUCTION, SUPERVISED, MOMENTS, EMBEDDER_SUPERVISED = 10.0, 100.0, 100.0, 0.1


class _Recurrent(nn.Module):
    """A GRU and a per-step linear map; a sigmoid on latent outputs keeps the latent space in [0, 1]."""

    def __init__(self, inputs: int, hidden: int, outputs: int, layers: int, squash: bool) -> None:
        super().__init__()
        self.gru = nn.GRU(inputs, hidden, num_layers=layers, batch_first=True)
        self.out = nn.Linear(hidden, outputs)
        self.squash = squash

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
        y = self.out(self.gru(x, h0)[0])
        return torch.sigmoid(y) if self.squash else y


class LatentSeriesGenerator(nn.Module):
    """Embedder, recovery, generator and supervisor; ``forward(z)`` is the generator then the supervisor:
    latent sequences in training mode (what D judges), their recovery as data in eval mode. ``z`` is laid
    out as the direct recipe's: (n, 1 + steps, z_dim + ...), row 0 setting the initial state."""

    def __init__(self, z_dim: int, channels: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.z_dim, self.layers, self.hidden = z_dim, layers, hidden
        self.embedder = _Recurrent(channels, hidden, hidden, layers, squash=True)
        self.recovery = _Recurrent(hidden, hidden, channels, layers, squash=False)
        self.init = nn.Linear(z_dim, hidden * layers)
        self.generator = _Recurrent(2 * z_dim, hidden, hidden, layers, squash=True)
        self.supervisor = _Recurrent(hidden, hidden, hidden, max(layers - 1, 1), squash=True)

    def embed_real(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedder(x)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        z = z[..., : self.z_dim]
        glob, steps = z[:, 0], z[:, 1:]
        h0 = torch.tanh(self.init(glob)).view(-1, self.layers, self.hidden).transpose(0, 1).contiguous()
        e = self.generator(torch.cat([steps, glob[:, None].expand(-1, steps.shape[1], -1)], dim=2), h0)
        h = self.supervisor(e)
        return h if self.training else self.recovery(h)


class LatentDiscriminator(nn.Module):
    """A GRU over latent sequences -> one logit per step (n, steps), as TimeGAN's discriminator."""

    def __init__(self, hidden: int, layers: int) -> None:
        super().__init__()
        self.net = _Recurrent(hidden, hidden, 1, layers, squash=False)

    def forward(self, h: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(h).squeeze(2)


def _moments(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean absolute gap of every channel's spread and mean over the batch and its steps."""
    f, r = fake.flatten(0, 1), real.flatten(0, 1)
    std = (torch.sqrt(f.var(0) + 1e-6) - torch.sqrt(r.var(0) + 1e-6)).abs().mean()
    return std + (f.mean(0) - r.mean(0)).abs().mean()


def _next_step(supervisor: nn.Module, h: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the supervisor's prediction of each next latent step."""
    return F.mse_loss(supervisor(h)[:, :-1], h[:, 1:])


@dataclass
class TimeGANRecipe(SeriesRecipe):
    """The TimeGAN-style recipe: the direct recipe's settings, its networks replaced (see the module)."""

    style: str = "timegan"
    sliced: float = 0.0  # its own moment terms stand in for the direct recipe's sliced term

    def build_generator(self) -> LatentSeriesGenerator:  # type: ignore[override]
        return LatentSeriesGenerator(self.z_dim, self.channels, self.hidden, self.layers)

    def build_discriminator(self) -> LatentDiscriminator:  # type: ignore[override]
        return LatentDiscriminator(self.hidden, self.layers)

    def paired_loss(
        self, generator: nn.Module, fake: torch.Tensor, real: torch.Tensor, c: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        """The autoencoder's, the supervisor's and the moment terms (``fake`` is G's latent output)."""
        g: LatentSeriesGenerator = generator  # type: ignore[assignment]
        h = g.embedder(real)
        reconstruction = torch.sqrt(F.mse_loss(g.recovery(h), real) + 1e-8)
        supervised = _next_step(g.supervisor, h.detach())  # the supervisor learns the dynamics ...
        embedded = _next_step(g.supervisor, h)  # ... and the embedder makes them learnable (lightly)
        # the generator, not the recovery, is to match the moments: the recovery's weights held still here
        still = {k: v.detach() for k, v in g.recovery.named_parameters()}
        moments = _moments(torch.func.functional_call(g.recovery, still, (fake,)), real)
        return {
            "reconstruction": RECONSTRUCTION * reconstruction + EMBEDDER_SUPERVISED * embedded,
            "supervised": SUPERVISED * torch.sqrt(supervised + 1e-8),
            "moments": MOMENTS * moments,
        }

    def describe(self) -> dict[str, Any]:
        return super().describe() | {
            "name": "series-timegan",
            "generator": f"TimeGAN-style: embedder, recovery, generator, supervisor (GRU {self.layers} x "
            f"{self.hidden})",
            "discriminator": f"GRU {self.layers} x {self.hidden} on latent sequences",
        }

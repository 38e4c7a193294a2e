"""The audio networks: a waveform GAN (1-D transposed convolutions, phase shuffle in the discriminator,
after WaveGAN) and a spectrogram GAN (2-D convolutions on log-mel spectrograms, after SpecGAN).

Both are class-conditional when ``num_classes`` > 0: the generator reads a learned class embedding beside
its noise, the discriminator adds a projection term (its features dotted with the class's embedding).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

UPSAMPLINGS = 5  # the waveform generator's x4 stages: 4**5 = 1,024 samples per starting step


class PhaseShuffle(nn.Module):
    """Shift each example's activations by a random -n..n steps (reflection at the edges), so the
    discriminator cannot tell fakes by the phase of their periodic artefacts (WaveGAN's phase shuffle).
    Draws from torch's global generator, which the Trainer seeds per step (so a resume repeats it)."""

    def __init__(self, n: int = 2) -> None:
        super().__init__()
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.n == 0 or not self.training:
            return x
        shifts = torch.randint(-self.n, self.n + 1, (x.shape[0],), device=x.device)
        padded = F.pad(x, (self.n, self.n), mode="reflect")
        idx = torch.arange(x.shape[-1], device=x.device)[None, :] + self.n - shifts[:, None]
        return padded.gather(2, idx[:, None, :].expand(-1, x.shape[1], -1))


class _Conditioning(nn.Module):
    """Noise (and a class embedding) to the generator's first activations."""

    def __init__(self, z_dim: int, num_classes: int, out: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_classes, z_dim) if num_classes > 0 else None
        self.fc = nn.Linear(z_dim * (2 if num_classes > 0 else 1), out)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        if self.embed is not None:
            if c is None:
                raise ValueError("a conditional generator needs class labels")
            z = torch.cat([z, self.embed(c)], dim=1)
        return self.fc(z)


class _Projection(nn.Module):
    """The discriminator's head: a logit from features, plus <features, embedding(class)>."""

    def __init__(self, features: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(features, 1)
        self.embed = nn.Embedding(num_classes, features) if num_classes > 0 else None

    def forward(self, h: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        out = self.fc(h).squeeze(1)
        if self.embed is not None and c is not None:
            out = out + (self.embed(c) * h).sum(dim=1)
        return out


def _minibatch_std(x: torch.Tensor, group: int = 4) -> torch.Tensor:
    """One extra channel: the standard deviation across a group of examples (a collapsed G shows)."""
    n = x.shape[0]
    g = min(group, n)
    while n % g:
        g -= 1
    y = x.reshape(g, -1, *x.shape[1:]).float()
    std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=list(range(1, y.ndim - 1)), keepdim=True)
    std = std.repeat(g, *([1] * (std.ndim - 1)))
    return torch.cat([x, std.expand(-1, 1, *x.shape[2:]).to(x.dtype)], dim=1)


# ---------------------------------------------------------------------------- waveform
class WaveGenerator(nn.Module):
    """z (and class) -> a clip of ``steps * 1024`` samples in [-1, 1], shape (n, 1, samples)."""

    def __init__(self, z_dim: int, steps: int, width: int, num_classes: int = 0) -> None:
        super().__init__()
        chans = [width * 2 ** (UPSAMPLINGS - 1 - i) for i in range(UPSAMPLINGS)] + [1]  # 16w ... w, 1
        self.steps, self.c0 = steps, chans[0]
        self.inp = _Conditioning(z_dim, num_classes, chans[0] * steps)
        layers: list[nn.Module] = []
        for i in range(UPSAMPLINGS):
            layers.append(
                nn.ConvTranspose1d(chans[i], chans[i + 1], 25, stride=4, padding=11, output_padding=1)
            )
            if i < UPSAMPLINGS - 1:
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = F.relu(self.inp(z, c)).view(z.shape[0], self.c0, self.steps)
        return torch.tanh(self.net(h))


class WaveDiscriminator(nn.Module):
    """A clip (n, 1, samples) -> one logit: strided 1-D convolutions, phase shuffle, projection."""

    def __init__(self, steps: int, width: int, num_classes: int = 0, shuffle: int = 2) -> None:
        super().__init__()
        chans = [1] + [width * 2**i for i in range(UPSAMPLINGS)]  # 1, w ... 16w
        layers: list[nn.Module] = []
        for i in range(UPSAMPLINGS):
            layers += [nn.Conv1d(chans[i] + (1 if i == UPSAMPLINGS - 1 else 0), chans[i + 1], 25, stride=4,
                                 padding=11), nn.LeakyReLU(0.2)]  # fmt: skip
            if i < UPSAMPLINGS - 1:
                layers.append(PhaseShuffle(shuffle))
        self.body = nn.Sequential(*layers[:-2])  # all but the last conv (minibatch-std joins before it)
        self.last = nn.Sequential(*layers[-2:])
        self.head = _Projection(chans[-1] * steps, num_classes)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = self.last(_minibatch_std(self.body(x)))
        return self.head(h.flatten(1), c)


# ---------------------------------------------------------------------------- spectrogram
class SpecGenerator(nn.Module):
    """z (and class) -> a normalised log-mel spectrogram (n, 1, mels, frames) in [-1, 1]: four x2
    nearest-neighbour upsamplings, each followed by one 3x3 convolution, batch norm and leaky ReLU (one
    convolution per scale keeps a step cheap on a CPU)."""

    def __init__(self, z_dim: int, mels: int, frames: int, width: int, num_classes: int = 0) -> None:
        super().__init__()
        self.h0, self.w0 = mels // 16, frames // 16
        chans = [width * 8, width * 4, width * 2, width, max(width // 2, 4)]  # halved at every doubling
        self.c0 = chans[0]
        self.inp = _Conditioning(z_dim, num_classes, chans[0] * self.h0 * self.w0)
        blocks: list[nn.Module] = [nn.BatchNorm2d(chans[0]), nn.LeakyReLU(0.2)]
        for i in range(4):
            blocks += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(chans[i], chans[i + 1], 3, padding=1),
                       nn.BatchNorm2d(chans[i + 1]), nn.LeakyReLU(0.2)]  # fmt: skip
        self.net = nn.Sequential(*blocks, nn.Conv2d(chans[-1], 1, 3, padding=1))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = self.inp(z, c).view(z.shape[0], self.c0, self.h0, self.w0)
        return torch.tanh(self.net(h))


class SpecDiscriminator(nn.Module):
    """A log-mel spectrogram (n, 1, mels, frames) -> one logit: four stride-2 4x4 convolutions (a 3x3
    convolution after each of the last two), minibatch standard deviation, projection."""

    def __init__(self, mels: int, frames: int, width: int, num_classes: int = 0) -> None:
        super().__init__()
        chans = [1, width, width * 2, width * 4, width * 8]
        blocks: list[nn.Module] = []
        for i in range(4):
            blocks += [nn.Conv2d(chans[i], chans[i + 1], 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            if i >= 2:
                blocks += [nn.Conv2d(chans[i + 1], chans[i + 1], 3, padding=1), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*blocks)
        self.last = nn.Sequential(nn.Conv2d(chans[-1] + 1, chans[-1], 3, padding=1), nn.LeakyReLU(0.2))
        self.head = _Projection(chans[-1] * (mels // 16) * (frames // 16), num_classes)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = self.last(_minibatch_std(self.body(x)))
        return self.head(h.flatten(1), c)


# ---------------------------------------------------------------------------- the GAN vocoder
# A generator after HiFi-GAN (transposed 1-D convolutions from mel frames to samples, each followed by
# residual blocks of several kernel sizes and dilations whose outputs are averaged), and its two
# discriminators: multi-period (the waveform folded into 2-D by periods 2, 3, 5, 7, 11) and multi-scale
# (the waveform at 1x, 1/2 and 1/4 rate). Widths are far below HiFi-GAN's, for CPU training and speed.
def _wn(module: nn.Module) -> nn.Module:
    return nn.utils.parametrizations.weight_norm(module)


def upsample_rates(hop: int) -> list[int]:
    """``hop`` as a product of factors of 8, 4 and 2 (largest first): 256 -> [8, 8, 4]."""
    rates, rest = [], hop
    for f in (8, 4, 2):
        while rest % f == 0 and rest > 1:
            rates.append(f)
            rest //= f
    if rest != 1:
        raise ValueError(f"the hop ({hop}) must be a power of two")
    return rates


class _VocoderResBlock(nn.Module):
    """Dilated convolutions, each with its own residual connection."""

    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            _wn(nn.Conv1d(channels, channels, kernel, dilation=d, padding=d * (kernel - 1) // 2))
            for d in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = x + conv(F.leaky_relu(x, 0.1))
        return x


class VocoderGenerator(nn.Module):
    """(normalised log-mel (n, n_mels, frames)) -> waveform (n, 1, frames x hop) in [-1, 1]. ``z`` is
    ignored (zero-width): the spectrogram says everything."""

    KERNELS = (3, 5, 7)
    DILATIONS = ((1, 2), (2, 6), (3, 12))

    def __init__(self, n_mels: int, hop: int, width: int) -> None:
        super().__init__()
        self.pre = _wn(nn.Conv1d(n_mels, width, 7, padding=3))
        self.ups, self.blocks = nn.ModuleList(), nn.ModuleList()
        ch = width
        for r in upsample_rates(hop):
            out = max(ch // 2, 4)
            self.ups.append(_wn(nn.ConvTranspose1d(ch, out, 2 * r, stride=r, padding=r // 2)))
            self.blocks.append(
                nn.ModuleList(
                    _VocoderResBlock(out, k, d) for k, d in zip(self.KERNELS, self.DILATIONS, strict=True)
                )
            )
            ch = out
        self.post = _wn(nn.Conv1d(ch, 1, 7, padding=3))

    def forward(self, z: torch.Tensor | None, c: torch.Tensor) -> torch.Tensor:
        x = self.pre(c)
        for up, blocks in zip(self.ups, self.blocks, strict=True):
            x = up(F.leaky_relu(x, 0.1))
            x = sum(block(x) for block in blocks) / len(blocks)
        return torch.tanh(self.post(F.leaky_relu(x, 0.1)))


def _patch_logits(
    convs: nn.ModuleList, post: nn.Module, x: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A vocoder discriminator's pass: each of ``convs`` then a leaky ReLU (0.1), and ``post`` with no
    activation; returns the patch logits (n, P) and every activation on the way (for feature matching)."""
    feats = []
    for conv in convs:
        x = F.leaky_relu(conv(x), 0.1)
        feats.append(x)
    x = post(x)
    feats.append(x)
    return x.flatten(1), feats


class _PeriodDiscriminator(nn.Module):
    """The waveform folded into (length / period, period) and read by 2-D convolutions along time."""

    def __init__(self, period: int, width: int) -> None:
        super().__init__()
        self.period = period
        chans = [1, width, 2 * width, 4 * width, 8 * width]
        self.convs = nn.ModuleList(
            _wn(nn.Conv2d(a, b, (5, 1), (3, 1), padding=(2, 0)))
            for a, b in zip(chans[:-1], chans[1:], strict=True)
        )
        self.convs.append(_wn(nn.Conv2d(chans[-1], chans[-1], (5, 1), padding=(2, 0))))
        self.post = _wn(nn.Conv2d(chans[-1], 1, (3, 1), padding=(1, 0)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        n, ch, t = x.shape
        if t % self.period:
            x = F.pad(x, (0, self.period - t % self.period), mode="reflect")
        return _patch_logits(self.convs, self.post, x.view(n, ch, -1, self.period))


class _ScaleDiscriminator(nn.Module):
    """Strided, grouped 1-D convolutions over the waveform at one rate."""

    def __init__(self, width: int) -> None:
        super().__init__()
        w = width
        layers = [(1, w, 15, 1, 1), (w, 2 * w, 41, 4, 4), (2 * w, 4 * w, 41, 4, 8), (4 * w, 8 * w, 41, 4, 8),
                  (8 * w, 8 * w, 41, 4, 8), (8 * w, 8 * w, 5, 1, 1)]  # fmt: skip
        self.convs = nn.ModuleList(
            _wn(nn.Conv1d(a, b, k, s, groups=g, padding=k // 2)) for a, b, k, s, g in layers
        )
        self.post = _wn(nn.Conv1d(8 * w, 1, 3, padding=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return _patch_logits(self.convs, self.post, x)


class VocoderDiscriminator(nn.Module):
    """Multi-period and multi-scale discriminators together: ``forward`` -> every patch logit (n, P);
    ``features`` also returns every inner activation (for the generator's feature-matching loss)."""

    PERIODS = (2, 3, 5, 7, 11)
    SCALES = 3

    def __init__(self, width: int, feature_matching_weight: float = 2.0) -> None:
        super().__init__()
        self.periods = nn.ModuleList(_PeriodDiscriminator(p, width) for p in self.PERIODS)
        self.scales = nn.ModuleList(_ScaleDiscriminator(width) for _ in range(self.SCALES))
        self.feature_matching_weight = feature_matching_weight

    def features(
        self, x: torch.Tensor, c: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        logits, feats = [], []
        for d in self.periods:
            out, f = d(x)
            logits.append(out)
            feats += f
        for i, d in enumerate(self.scales):
            if i:
                x = F.avg_pool1d(x, 4, 2, padding=2)
            out, f = d(x)
            logits.append(out)
            feats += f
        return torch.cat(logits, dim=1), feats

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.features(x, c)[0]

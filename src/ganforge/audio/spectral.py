"""Spectrograms of clips in torch: the short-time Fourier transform, a mel filter bank, log-mel
spectrograms and their inversion to sound by Griffin-Lim (the fallback and baseline of the vocoder).

Every function takes a batch of mono clips ``(n, samples)`` as a float tensor in [-1, 1] (or numpy, which
is converted) and works on whatever device the tensor is on.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

LOG_FLOOR = 1e-5  # magnitudes below this are silence: log(1e-5) = -11.5


def resample(x: np.ndarray, rate: int, sample_rate: int) -> np.ndarray:
    """``x`` sampled at ``rate`` Hz resampled to ``sample_rate`` Hz (polyphase filtering), float32."""
    if rate == sample_rate:
        return x
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(rate), int(sample_rate))
    return resample_poly(x, sample_rate // g, rate // g).astype(np.float32, copy=False)


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


@functools.lru_cache(maxsize=16)
def mel_filters(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters evenly spaced on the mel scale, each of unit area
    (so a filter's output is the mean magnitude over its band, whatever its width)."""
    fmax = sample_rate / 2 if fmax is None else fmax
    freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None] - lower) / np.maximum(centre - lower, 1e-9)
    down = (upper - freqs[None]) / np.maximum(upper - centre, 1e-9)
    tri = np.clip(np.minimum(up, down), 0.0, None)
    tri /= np.maximum(tri.sum(axis=1, keepdims=True), 1e-9)
    return tri.astype(np.float32)


@dataclass(frozen=True)
class MelSpec:
    """Log-mel spectrograms with ``n_mels`` bands, an FFT of ``n_fft`` points and a hop of ``hop`` samples.

    A clip of ``L`` samples (a multiple of ``hop``) gives ``L // hop`` frames: frames are centred, and the
    last half-frame is dropped so lengths stay powers of two where the clip's is.
    """

    sample_rate: int = 16000
    n_fft: int = 1024
    hop: int = 256
    n_mels: int = 64

    def _window(self, device: torch.device) -> torch.Tensor:
        return torch.hann_window(self.n_fft, device=device)

    def stft(self, clips: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Complex STFT (n, n_fft // 2 + 1, frames)."""
        x = torch.as_tensor(clips, dtype=torch.float32)
        if x.ndim == 1:
            x = x[None]
        frames = x.shape[-1] // self.hop
        spec = torch.stft(x, self.n_fft, self.hop, window=self._window(x.device), center=True,
                          pad_mode="reflect" if x.shape[-1] > self.n_fft // 2 else "constant",
                          return_complex=True)  # fmt: skip
        return spec[..., :frames]

    def filters(self, device: torch.device) -> torch.Tensor:
        return torch.from_numpy(mel_filters(self.sample_rate, self.n_fft, self.n_mels)).to(device)

    def mel(self, clips: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Mel magnitudes (n, n_mels, frames)."""
        mag = self.stft(clips).abs()
        return torch.einsum("mf,nft->nmt", self.filters(mag.device), mag)

    def log_mel(self, clips: torch.Tensor | np.ndarray) -> torch.Tensor:
        """log(mel magnitude), floored at log(1e-5) (n, n_mels, frames)."""
        return torch.log(self.mel(clips).clamp_min(LOG_FLOOR))

    def smooth_log_mel(self, clips: torch.Tensor | np.ndarray) -> torch.Tensor:
        """log(mel magnitude + 1e-5) (n, n_mels, frames), for training losses: within 1e-5 / magnitude of
        ``log_mel`` above the floor, and with a gradient below it too, where ``log_mel``'s clamp has none
        (a generator that is silent where the target is not would otherwise never learn to sound)."""
        return torch.log(self.mel(clips) + LOG_FLOOR)

    def mel_to_linear(self, log_mel: torch.Tensor, iterations: int = 30) -> torch.Tensor:
        """Linear-frequency magnitudes (n, n_fft // 2 + 1, frames) whose mel bands best match ``log_mel``
        (non-negative least squares)."""
        fb = self.filters(log_mel.device)
        target = torch.exp(log_mel)
        # Non-negative least squares by multiplicative updates, from the filters' transpose: keeps a
        # tone's energy in its own bins instead of smearing it over the band as the pseudo-inverse does.
        lin = torch.einsum("mf,nmt->nft", fb, target) * (fb.shape[1] / fb.shape[0])
        numerator = torch.einsum("mf,nmt->nft", fb, target)
        for _ in range(iterations):
            rebuilt = torch.einsum("mf,nft->nmt", fb, lin)
            lin = lin * numerator / (torch.einsum("mf,nmt->nft", fb, rebuilt) + 1e-10)
        return lin

    def griffin_lim(self, magnitude: torch.Tensor, length: int, iterations: int = 32,
                    seed: int = 0) -> torch.Tensor:  # fmt: skip
        """Clips (n, length) whose STFT magnitude approaches ``magnitude`` (n, n_fft // 2 + 1, frames):
        Griffin-Lim with momentum 0.99 (Perraudin et al., 2013), from seeded random phases."""
        n, bins, frames = magnitude.shape
        full = frames * self.hop
        mag = torch.nn.functional.pad(magnitude, (0, 1))  # the dropped last frame, as silence
        window = self._window(magnitude.device)
        g = torch.Generator().manual_seed(seed)
        phase = torch.exp(2j * math.pi * torch.rand(mag.shape, generator=g)).to(magnitude.device)
        previous = torch.zeros_like(phase)
        for _ in range(iterations):
            audio = torch.istft(mag * phase, self.n_fft, self.hop, window=window, center=True, length=full)
            rebuilt = torch.stft(audio, self.n_fft, self.hop, window=window, center=True, return_complex=True)
            accelerated = rebuilt + 0.99 * (rebuilt - previous)  # fast Griffin-Lim's momentum
            previous = rebuilt
            phase = accelerated / accelerated.abs().clamp_min(1e-8)
        audio = torch.istft(mag * phase, self.n_fft, self.hop, window=window, center=True, length=full)
        out = torch.zeros(n, length, device=audio.device)
        out[:, : min(length, full)] = audio[:, :length]
        return out.clamp(-1.0, 1.0)

    def invert(self, log_mel: torch.Tensor, length: int, iterations: int = 32) -> torch.Tensor:
        """Clips (n, length) from log-mel spectrograms by Griffin-Lim."""
        return self.griffin_lim(self.mel_to_linear(log_mel), length, iterations)


def stft_distance(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, sample_rate: int) -> float:
    """The multi-resolution STFT distance between two batches of clips: spectral convergence plus
    log-magnitude L1, averaged over FFT sizes 512, 1,024 and 2,048 (hops of a quarter)."""
    total = 0.0
    for n_fft in (512, 1024, 2048):
        spec = MelSpec(sample_rate, n_fft, n_fft // 4, 64)
        sa, sb = spec.stft(a).abs(), spec.stft(b).abs()
        conv = torch.linalg.norm(sa - sb, dim=(1, 2)) / torch.linalg.norm(sa, dim=(1, 2)).clamp_min(1e-8)
        log_l1 = (sa.clamp_min(LOG_FLOOR).log() - sb.clamp_min(LOG_FLOOR).log()).abs().mean()
        total += float(conv.mean() + log_l1)
    return total / 3

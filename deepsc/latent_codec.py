"""Map a latent to channel symbols and back, restoring the scale from bundle statistics.

Normalising a vector by its own norm hides that norm from the receiver. Instead of spending a
symbol on it, both ends share per-dimension statistics of the latent space (stored in the bundle):

    sender:    u = (w - mean) / std,  x = sqrt(k·P) · u / ‖u‖            (k = latent size)
    receiver:  û = x̂ · expected_norm / sqrt(k·P),  ŵ = mean + std · û

where x̂ is the equalised channel output and expected_norm = E‖u‖ over the latent distribution.
For z the mapping network's PixelNorm makes the scale irrelevant, and the same formula applies
with mean 0 and std 1. The cost is a radial error of a few percent on w (‖u‖ varies from face to
face), in exchange for sending exactly ``latent size`` real values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from deepsc.channel import power_normalise


@dataclass
class LatentStatistics:
    """Per-dimension statistics of one latent space, shared by sender and receiver.

    Attributes:
        mean: (D,) mean latent.
        std: (D,) per-dimension standard deviation.
        expected_norm: E‖(latent - mean) / std‖ over the latent distribution.
    """

    mean: torch.Tensor
    std: torch.Tensor
    expected_norm: float

    @classmethod
    def identity(cls, dim: int) -> LatentStatistics:
        """Statistics of z ~ N(0, I): zero mean, unit std, norm sqrt(D)."""
        return cls(torch.zeros(dim), torch.ones(dim), math.sqrt(dim))

    @classmethod
    def estimate(cls, latents: torch.Tensor) -> LatentStatistics:
        """Estimate the statistics from samples (N, D)."""
        mean = latents.mean(0)
        std = latents.std(0).clamp_min(1e-6)
        norm = ((latents - mean) / std).norm(dim=1).mean().item()
        return cls(mean, std, norm)


def encode_latents(latents: torch.Tensor, stats: LatentStatistics, power: float = 1.0) -> torch.Tensor:
    """Turn latents (N, D) into power-normalised channel symbols (N, D); differentiable."""
    u = (latents - stats.mean.to(latents)) / stats.std.to(latents)
    return power_normalise(u, power)


def decode_latents(symbols: torch.Tensor, stats: LatentStatistics, power: float = 1.0) -> torch.Tensor:
    """Map equalised symbols (N, D) back to latents (N, D); differentiable."""
    k = symbols.shape[-1]
    u = symbols * (stats.expected_norm / math.sqrt(k * power))
    return stats.mean.to(symbols) + stats.std.to(symbols) * u


def encode_latent(latent: torch.Tensor, stats: LatentStatistics, power: float = 1.0) -> torch.Tensor:
    """Turn a latent (D,) into D power-normalised channel symbols."""
    return encode_latents(latent.reshape(1, -1), stats, power).squeeze(0)


def decode_latent(symbols: torch.Tensor, stats: LatentStatistics, power: float = 1.0) -> torch.Tensor:
    """Map equalised symbols (D,) back to a latent (D,)."""
    return decode_latents(symbols.reshape(1, -1), stats, power).squeeze(0)


def awgn_round_trip(
    latents: torch.Tensor,
    stats: LatentStatistics,
    snr_db: torch.Tensor,
    generator: torch.Generator | None = None,
    power: float = 1.0,
) -> torch.Tensor:
    """Latents (N, D) as the receiver restores them after an AWGN channel, differentiably.

    The same steps as the services (power normalisation, y = x + n, the MMSE equaliser's
    shrinkage P / (P + σ²), scale restoration), batched with one SNR per row, so a training loss
    can see the latent the receiver will see. snr_db: (N,) in dB.
    """
    symbols = encode_latents(latents, stats, power)
    variance = (power / 10.0 ** (snr_db / 10.0)).to(symbols).unsqueeze(1)  # (N, 1) σ² per real value
    noise = torch.randn(symbols.shape, generator=generator).to(symbols) * variance.sqrt()
    equalised = (symbols + noise) * (power / (power + variance))
    return decode_latents(equalised, stats, power)

"""Map a latent to channel symbols and back, with statistics both ends share.

Two normalisations, chosen by the bundle's statistics of each latent space:

- ``average`` (W of bundles that store the covariance of the standardised latent):

      sender:    u = (w − mean) / std,  x = sqrt(P) · u
      receiver:  û = LMMSE estimate of u from x̂ / sqrt(P), with the prior u ~ N(0, C),
                 ŵ = mean + std · û

  Every u has unit variance per value over the latent distribution, so the average power per
  real value is exactly P over the latent distribution (one latent's power varies with its
  norm) and the receiver knows the scale exactly. C = V diag(λ) Vᵀ comes from the bundle; W
  lies close to a low-dimensional set, so the estimate removes most of the noise in the
  directions where latents do not vary. No side information crosses the channel.

  With per-component ``gains`` (bundles built since the power allocation), the sender sends the
  eigen-coefficients instead, each with its own gain, and the receiver's estimate is per value:

      sender:    c = Vᵀu,  x = sqrt(P) · g ⊙ c
      receiver:  ĉ = g·λ / (g²·λ + σ²/P) ⊙ x̂ / sqrt(P),  û = V ĉ

  The gains are a water-filling of the power over the components, weighted by how strongly each
  one moves the attribute predictor's degrees (``allocate_power``): power goes where noise would
  change what the edit is about, and none is spent on components the faces do not use. Σ g²·λ = D,
  so the average power is still P over the latents λ describes.

- ``vector`` (Z, and bundles without a covariance): each latent is scaled to power P by its own
  norm, x = sqrt(k·P) · u / ‖u‖, and the receiver restores the scale from the expected norm
  E‖u‖ (for z the mapping network's PixelNorm makes the scale irrelevant), after the
  per-frame MMSE equaliser.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from deepsc.channel import NoisyFrame, equalise, power_normalise

# Floor of the prior's eigenvalues (u has unit variance per value): the estimate shrinks, rather
# than deletes, the directions the training latents barely use, which inverted photos still use.
VARIANCE_FLOOR = 0.02


@dataclass
class LatentStatistics:
    """Statistics of one latent space, shared by sender and receiver.

    Attributes:
        mean: (D,) mean latent.
        std: (D,) per-dimension standard deviation.
        expected_norm: E‖(latent − mean) / std‖ over the latent distribution.
        basis: (D, D) eigenvectors (columns) of the covariance of the standardised latent, or
            None for the ``vector`` normalisation.
        variances: (D,) the matching eigenvalues, floored at ``VARIANCE_FLOOR``.
        gains: (D,) amplitude gain per eigen-coefficient, or None to send u itself.
    """

    mean: torch.Tensor
    std: torch.Tensor
    expected_norm: float
    basis: torch.Tensor | None = None
    variances: torch.Tensor | None = None
    gains: torch.Tensor | None = None

    @property
    def normalisation(self) -> str:
        """``average`` with a covariance, else ``vector`` (see the module docstring)."""
        return "average" if self.basis is not None else "vector"

    @classmethod
    def identity(cls, dim: int) -> LatentStatistics:
        """Statistics of z ~ N(0, I): zero mean, unit std, norm sqrt(D)."""
        return cls(torch.zeros(dim), torch.ones(dim), math.sqrt(dim))

    @classmethod
    def estimate(cls, latents: torch.Tensor, covariance: bool = True) -> LatentStatistics:
        """Estimate the statistics from samples (N, D), with the covariance's eigenbasis if asked."""
        mean = latents.mean(0)
        std = latents.std(0).clamp_min(1e-6)
        u = (latents - mean) / std
        norm = u.norm(dim=1).mean().item()
        if not covariance:
            return cls(mean, std, norm)
        eigenvalues, eigenvectors = torch.linalg.eigh(u.T @ u / (len(u) - 1))
        return cls(mean, std, norm, eigenvectors, eigenvalues.clamp_min(VARIANCE_FLOOR))


def encode_latents(latents: torch.Tensor, stats: LatentStatistics, power: float = 1.0) -> torch.Tensor:
    """Turn latents (N, D) into channel symbols (N, D) of power P; differentiable."""
    u = (latents - stats.mean.to(latents)) / stats.std.to(latents)
    if stats.normalisation == "average":
        if stats.gains is not None:
            assert stats.basis is not None
            # NOTE: the power is P on average over the prior only. An inverted photo far from it can
            # go out at tens of times P; there is no peak-power cap yet.
            return (u @ stats.basis.to(u)) * stats.gains.to(u) * math.sqrt(power)
        return u * math.sqrt(power)
    return power_normalise(u, power)


def decode_latents(symbols: torch.Tensor, stats: LatentStatistics, power: float = 1.0) -> torch.Tensor:
    """Map equalised symbols (N, D) back to latents (N, D) without a prior; differentiable."""
    if stats.normalisation == "average":
        u = symbols / math.sqrt(power)
        if stats.gains is not None:
            assert stats.basis is not None
            # A component sent with no power carries nothing: it decodes to the mean.
            gains = stats.gains.to(u)
            u = torch.where(gains > 0, u / gains.clamp_min(1e-12), torch.zeros_like(u)) @ stats.basis.to(u).T
    else:
        u = symbols * (stats.expected_norm / math.sqrt(symbols.shape[-1] * power))
    return stats.mean.to(symbols) + stats.std.to(symbols) * u


def prior_estimate(observed: torch.Tensor, noise_variance: torch.Tensor, stats: LatentStatistics) -> torch.Tensor:
    """LMMSE estimate of u ~ N(0, C) from u + n, n ~ N(0, diag(noise_variance)); differentiable.

    With ``stats.gains`` the observation is g ⊙ Vᵀu + n instead.

    Args:
        observed: (N, D) noisy standardised latents (or gained eigen-coefficients).
        noise_variance: (N, 1) one variance per row, or (N, D) one per value.
    """
    assert stats.basis is not None and stats.variances is not None
    basis = stats.basis.to(observed)
    variances = stats.variances.to(observed)
    if stats.gains is not None:
        # The values are the gained eigen-coefficients g ⊙ c: independent, so the estimate is per value.
        gains = stats.gains.to(observed)
        # A component sent with no power estimates to its prior mean, 0, even without noise.
        shrink = gains * variances / (gains.square() * variances + noise_variance).clamp_min(1e-12)
        return (observed * torch.where(gains > 0, shrink, torch.zeros_like(shrink))) @ basis.T
    if noise_variance.shape[-1] == 1:
        # Equal noise on every value: the estimate is a per-eigenvalue shrinkage, c·λ / (λ + σ²).
        coefficients = observed @ basis
        return (coefficients * variances / (variances + noise_variance)) @ basis.T
    covariance = basis @ torch.diag(variances) @ basis.T
    systems = covariance.unsqueeze(0) + torch.diag_embed(noise_variance)
    return (covariance @ torch.linalg.solve(systems, observed.unsqueeze(-1))).squeeze(-1)


def estimate_latent(
    frames: list[NoisyFrame], stats: LatentStatistics, power: float = 1.0, equaliser: str = "mmse"
) -> torch.Tensor:
    """Estimate the sent latent (D,) from its noisy frames, as the receiver does.

    With the ``average`` normalisation and the MMSE equaliser, the zero-forced values and their
    noise variances σ²/|h|² per frame feed ``prior_estimate``; otherwise each frame is equalised
    on its own ("mmse" or "zf", see ``deepsc.channel.equalise``) and the scale restored.
    """
    if stats.normalisation == "average" and equaliser == "mmse":
        forced = torch.cat([equalise(frame, power, "zf") for frame in frames]) / math.sqrt(power)
        variances = torch.cat(
            [
                torch.full((frame.received.numel(),), frame.noise_variance / max(abs(frame.gain) ** 2, 1e-12) / power)
                for frame in frames
            ]
        )
        uniform = bool((variances == variances[0]).all())
        noise = variances[:1].unsqueeze(0) if uniform else variances.unsqueeze(0)
        u = prior_estimate(forced.unsqueeze(0), noise, stats).squeeze(0)
        return stats.mean + stats.std * u
    equalised = torch.cat([equalise(frame, power, equaliser) for frame in frames])
    return decode_latent(equalised, stats, power)


def encode_latent(latent: torch.Tensor, stats: LatentStatistics, power: float = 1.0) -> torch.Tensor:
    """Turn a latent (D,) into D channel symbols."""
    return encode_latents(latent.reshape(1, -1), stats, power).squeeze(0)


def decode_latent(symbols: torch.Tensor, stats: LatentStatistics, power: float = 1.0) -> torch.Tensor:
    """Map equalised symbols (D,) back to a latent (D,) without a prior."""
    return decode_latents(symbols.reshape(1, -1), stats, power).squeeze(0)


def awgn_round_trip(
    latents: torch.Tensor,
    stats: LatentStatistics,
    snr_db: torch.Tensor,
    generator: torch.Generator | None = None,
    power: float = 1.0,
) -> torch.Tensor:
    """Latents (N, D) as the receiver restores them after an AWGN channel, differentiably.

    The same steps as ``encode_latent``, the channel and ``estimate_latent`` with the MMSE
    equaliser, batched with one SNR per row, so a training loss gets the latent the receiver
    will decode. snr_db: (N,) in dB.
    """
    symbols = encode_latents(latents, stats, power)
    variance = (power / 10.0 ** (snr_db / 10.0)).to(symbols).unsqueeze(1)  # (N, 1) σ² per real value
    noise = torch.randn(symbols.shape, generator=generator).to(symbols) * variance.sqrt()
    received = symbols + noise
    if stats.normalisation == "average":
        u = prior_estimate(received / math.sqrt(power), variance / power, stats)
        return stats.mean.to(u) + stats.std.to(u) * u
    return decode_latents(received * (power / (power + variance)), stats, power)


def allocate_power(
    variances: torch.Tensor,
    sensitivity: torch.Tensor,
    snr_db: float,
    floor_weight: float = 0.2,
    power_variances: torch.Tensor | None = None,
) -> torch.Tensor:
    """Gains per component that minimise the weighted estimation error at one SNR (water-filling).

    Component i, with prior variance λ_i and power p_i, leaves the LMMSE error λ_i·σ²/(p_i + σ²).
    Minimising Σ q_i·λ_i·σ²/(p_i + σ²) under Σ p_i = D gives p_i = max(0, sqrt(q_i·λ_i·σ²/ν) − σ²),
    with ν set by bisection.

    Args:
        variances: (D,) prior variance λ_i of each component.
        sensitivity: (D,) how much an error in each component matters. It is normalised to mean 1
            and mixed with ``floor_weight`` of a uniform weight, because a component the predictor
            ignores may still carry the identity.
        snr_db: design SNR, P/σ² in dB.
        power_variances: (D,) the components' variances over the latents that will be sent, when
            they differ from the prior's floored ones. The gains are then scaled so that those
            latents are sent at exactly P on average.

    Returns:
        (D,) gains g_i = sqrt(p_i / λ_i).
    """
    weights = (1 - floor_weight) * sensitivity / sensitivity.mean().clamp_min(1e-12) + floor_weight
    noise = 10.0 ** (-snr_db / 10.0)
    total = float(variances.numel())

    def powers(level: float) -> torch.Tensor:
        return (torch.sqrt(weights * variances * noise / level) - noise).clamp_min(0)

    low, high = 1e-12, 1e12
    for _ in range(200):
        level = math.sqrt(low * high)
        if float(powers(level).sum()) > total:
            low = level
        else:
            high = level
    allocated = powers(high)
    gains = torch.sqrt(allocated * (total / allocated.sum()) / variances)
    if power_variances is not None:
        gains = gains * math.sqrt(total / float((gains.square() * power_variances).sum()))
    return gains

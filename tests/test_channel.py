import math
from dataclasses import replace

import pytest
import torch

from deepsc.channel import ChannelStats, cbr, channel_uses, noise_variance, power_normalise, transmit
from deepsc.latent_codec import (
    LatentStatistics,
    allocate_power,
    awgn_round_trip,
    decode_latent,
    encode_latent,
    estimate_latent,
    prior_estimate,
)


@pytest.mark.parametrize("power", [0.5, 1.0, 2.0, 10.0])
@pytest.mark.parametrize("k", [1, 7, 128, 512])
def test_power_normalise_mean_power(power, k):
    x = torch.randn(16, k, dtype=torch.float64) * 3.7 + 1.2
    normalised = power_normalise(x, power)
    mean_power = normalised.pow(2).mean(dim=1)
    assert torch.allclose(mean_power, torch.full_like(mean_power, power), atol=1e-6)


def test_power_normalise_keeps_direction():
    x = torch.randn(1, 128, dtype=torch.float64)
    normalised = power_normalise(x, 1.0)
    cosine = torch.nn.functional.cosine_similarity(x, normalised).item()
    assert cosine == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("channel", ["awgn", "rayleigh"])
@pytest.mark.parametrize("snr_db", [-6.0, 0.0, 6.0, 18.0])
def test_measured_snr_matches_request(channel, snr_db):
    x = power_normalise(torch.randn(1, 100_000, dtype=torch.float64)).squeeze(0)
    output = transmit(x, channel, snr_db, seed=3)
    assert output.stats.symbols == 100_000
    assert abs(output.stats.measured_snr_db - snr_db) < 0.2


def test_noise_is_seeded():
    x = power_normalise(torch.randn(1, 128)).squeeze(0)
    first = transmit(x, "rayleigh", 6.0, seed=11).received
    again = transmit(x, "rayleigh", 6.0, seed=11).received
    other = transmit(x, "rayleigh", 6.0, seed=12).received
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_none_channel_is_lossless():
    x = power_normalise(torch.randn(1, 128)).squeeze(0)
    output = transmit(x, "none", 6.0, seed=0)
    assert torch.allclose(output.equalised, x)
    assert output.stats.measured_snr_db == math.inf


def test_rayleigh_zero_forcing_inverts_fading_without_noise():
    x = power_normalise(torch.randn(1, 64)).squeeze(0)
    output = transmit(x, "rayleigh", 200.0 - 100.0, seed=5, equaliser="zf")
    assert torch.allclose(output.equalised, x, atol=1e-3)


def test_rayleigh_draws_one_gain_per_frame():
    x = power_normalise(torch.randn(1, 128)).squeeze(0)
    output = transmit(x, "rayleigh", 6.0, seed=1, frame_symbols=16)
    assert output.gains.numel() == 4  # 64 complex uses / 16 per frame


def test_unknown_channel_rejected():
    with pytest.raises(ValueError, match="unknown channel model"):
        transmit(torch.ones(4), "bsc", 6.0, seed=0)


def test_noise_variance_definition():
    assert noise_variance(0.0, 1.0) == pytest.approx(1.0)
    assert noise_variance(10.0, 2.0) == pytest.approx(0.2)


def test_cbr_arithmetic():
    assert cbr(128, 64, 64) == pytest.approx(1 / 96)
    assert cbr(512, 128, 128) == pytest.approx(0.0104167, abs=1e-7)
    assert channel_uses(128) == 64
    assert channel_uses(129) == 65
    assert cbr(channel_uses(128), 64, 64) == pytest.approx(1 / 192)


def test_channel_stats_snr():
    stats = ChannelStats(symbols=2, channel_uses=1, signal_power=1.0, noise_power=0.25)
    assert stats.measured_snr_db == pytest.approx(10 * math.log10(4))


def test_vector_normalisation_round_trip_without_noise():
    latents = torch.randn(4096, 32) * torch.linspace(0.5, 2.0, 32) + 3.0
    stats = LatentStatistics.estimate(latents, covariance=False)
    assert stats.normalisation == "vector"
    w = latents[0]
    symbols = encode_latent(w, stats)
    assert symbols.pow(2).mean().item() == pytest.approx(1.0, abs=1e-6)
    restored = decode_latent(symbols, stats)
    # Only the norm of the standardised latent is lost: the direction survives exactly.
    u, u_hat = (w - stats.mean) / stats.std, (restored - stats.mean) / stats.std
    assert torch.nn.functional.cosine_similarity(u, u_hat, dim=0).item() == pytest.approx(1.0, abs=1e-5)
    assert u_hat.norm().item() == pytest.approx(stats.expected_norm, rel=1e-5)


def _low_rank_latents(n: int, seed: int = 0) -> torch.Tensor:
    """Latents (n, 32) that vary mostly in 6 directions, as W does around its renderer faces."""
    mixing = torch.randn(6, 32, generator=torch.Generator().manual_seed(1234))
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 6, generator=gen) @ mixing + 0.05 * torch.randn(n, 32, generator=gen) + 1.0


def test_average_normalisation_mean_power():
    latents = _low_rank_latents(8192)
    stats = LatentStatistics.estimate(latents)
    assert stats.normalisation == "average"
    symbols = torch.stack([encode_latent(w, stats, power=2.0) for w in latents[:2000]])
    assert symbols.pow(2).mean().item() == pytest.approx(2.0, rel=0.05)
    # Without noise the receiver gets the latent back exactly, scale included.
    sent = latents[0]
    output = transmit(encode_latent(sent, stats), "none", 6.0, seed=1)
    torch.testing.assert_close(estimate_latent(output.frames, stats), sent, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("channel", ["awgn", "rayleigh"])
def test_prior_estimate_beats_equalising_alone(channel):
    latents = _low_rank_latents(8192)
    stats = LatentStatistics.estimate(latents)
    test = _low_rank_latents(200, seed=1)
    errors = {"prior": 0.0, "plain": 0.0}
    for i, w in enumerate(test):
        output = transmit(encode_latent(w, stats), channel, 6.0, seed=i)
        errors["prior"] += (estimate_latent(output.frames, stats) - w).pow(2).mean().item()
        errors["plain"] += (estimate_latent(output.frames, stats, equaliser="zf") - w).pow(2).mean().item()
    # The noise in the 26 directions the latents do not use is removed: well over half of it.
    assert errors["prior"] < 0.4 * errors["plain"]


def test_prior_estimate_uniform_and_per_value_noise_agree():
    stats = LatentStatistics.estimate(_low_rank_latents(4096))
    observed = torch.randn(3, 32)
    uniform = prior_estimate(observed, torch.full((3, 1), 0.3), stats)
    per_value = prior_estimate(observed, torch.full((3, 32), 0.3), stats)
    torch.testing.assert_close(uniform, per_value, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("allocated", [False, True])
def test_training_round_trip_matches_the_receiver_statistically(allocated):
    latents = _low_rank_latents(4096)
    stats = LatentStatistics.estimate(latents)
    if allocated:
        stats = _allocated(stats, torch.linspace(0.1, 1.0, 32), latents)
    test = _low_rank_latents(400, seed=2)
    trained = awgn_round_trip(test, stats, torch.full((400,), 0.0), generator=torch.Generator().manual_seed(0))
    served = torch.stack(
        [
            estimate_latent(transmit(encode_latent(w, stats), "awgn", 0.0, seed=i).frames, stats)
            for i, w in enumerate(test)
        ]
    )
    trained_error = (trained - test).pow(2).mean().item()
    served_error = (served - test).pow(2).mean().item()
    assert trained_error == pytest.approx(served_error, rel=0.15)


def _allocated(
    stats: LatentStatistics, weights: torch.Tensor, latents: torch.Tensor, snr_db: float = 6.0
) -> LatentStatistics:
    assert stats.variances is not None and stats.basis is not None
    actual = (((latents - stats.mean) / stats.std) @ stats.basis).var(0)
    gains = allocate_power(stats.variances, weights, snr_db, power_variances=actual)
    return replace(stats, gains=gains)


def test_allocate_power_water_fills_the_budget():
    variances = torch.tensor([4.0, 2.0, 1.0, 0.5, 0.1, 0.02])
    weights = torch.tensor([0.0, 1.0, 10.0, 1.0, 1.0, 0.0])
    gains = allocate_power(variances, weights, 6.0, floor_weight=0.0)
    powers = gains.square() * variances
    assert powers.sum().item() == pytest.approx(6.0, rel=1e-4)
    # Components with no weight get no power, and the heavily weighted one gets the most.
    assert powers[0].item() == 0.0
    assert powers[5].item() == 0.0
    assert int(powers.argmax()) == 2
    # With a uniform floor in the weights, the strongest component carries power again.
    assert allocate_power(variances, weights, 6.0, floor_weight=0.2)[0].item() > 0
    # Scaled to the variances of the latents actually sent, those latents use exactly the budget.
    actual = variances * torch.tensor([1.0, 1.0, 1.0, 1.0, 0.5, 0.1])
    scaled = allocate_power(variances, weights, 6.0, power_variances=actual)
    assert (scaled.square() * actual).sum().item() == pytest.approx(6.0, rel=1e-4)


def test_allocated_codec_power_and_round_trip():
    latents = _low_rank_latents(8192)
    weights = torch.rand(32, generator=torch.Generator().manual_seed(3))
    stats = _allocated(LatentStatistics.estimate(latents), weights, latents)
    symbols = torch.stack([encode_latent(w, stats, power=2.0) for w in latents[:2000]])
    assert symbols.pow(2).mean().item() == pytest.approx(2.0, rel=0.05)
    assert stats.gains is not None and stats.basis is not None
    assert (stats.gains == 0).any(), "the seeded weights should leave some component without power"

    # Without noise the receiver gets every component that carried power exactly. The others come
    # out at their prior mean.
    sent = latents[0]
    coefficients = ((sent - stats.mean) / stats.std) @ stats.basis
    expected = stats.mean + stats.std * (torch.where(stats.gains > 0, coefficients, 0.0) @ stats.basis.T)
    output = transmit(encode_latent(sent, stats), "none", 6.0, seed=1)
    torch.testing.assert_close(estimate_latent(output.frames, stats), expected, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(decode_latent(encode_latent(sent, stats), stats), expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("channel", ["awgn", "rayleigh"])
def test_allocation_lowers_the_weighted_error(channel):
    latents = _low_rank_latents(8192)
    plain = LatentStatistics.estimate(latents)
    assert plain.basis is not None
    # Errors in the third and fourth strongest components matter, and the rest barely do.
    weights = torch.full((32,), 0.01)
    weights[-4:-2] = 1.0
    allocated = _allocated(plain, weights, latents)
    test = _low_rank_latents(300, seed=1)
    errors = {"plain": 0.0, "allocated": 0.0}
    for name, stats in (("plain", plain), ("allocated", allocated)):
        for i, w in enumerate(test):
            output = transmit(encode_latent(w, stats), channel, 6.0, seed=i)
            error = ((estimate_latent(output.frames, stats) - w) / plain.std) @ plain.basis
            errors[name] += (error.square() * weights).sum().item()
    assert errors["allocated"] < 0.7 * errors["plain"]

"""Power normalisation, the physical channel and the bandwidth arithmetic.

Conventions:
- ``symbols`` counts the real values that cross the channel (k in the power constraint).
- Power normalisation scales a vector so its mean power per real value is exactly P:
  (1/k)·‖x‖² = P.
- Two consecutive real values form one complex channel use (real, imaginary).
- SNR in dB is 10·log10(P/σ²) with σ² the noise variance per real dimension, which equals Es/N0
  per complex channel use.
- Rayleigh block fading draws one h ~ CN(0, 1) per frame of complex symbols; the receiver has h
  (perfect CSI) and equalises with MMSE or zero-forcing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

CHANNEL_MODELS: tuple[str, ...] = ("none", "awgn", "rayleigh")
EQUALISERS: tuple[str, ...] = ("mmse", "zf")
DEFAULT_FRAME_SYMBOLS = 16  # complex symbols per fading block / per stream frame


def power_normalise(x: torch.Tensor, power: float = 1.0) -> torch.Tensor:
    """Scale each row of x (N, k) so that its mean power per real value is ``power``."""
    k = x.shape[-1]
    norm = x.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return x * (math.sqrt(k * power) / norm)


def noise_variance(snr_db: float, power: float = 1.0) -> float:
    """Noise variance per real dimension, σ² = P / 10^(SNR/10)."""
    return power / (10.0 ** (snr_db / 10.0))


def cbr(symbols: int, height: int, width: int, channels: int = 3) -> float:
    """Channel bandwidth ratio: real values sent per source dimension, k / (H·W·C)."""
    return symbols / (height * width * channels)


def channel_uses(symbols: int) -> int:
    """Complex channel uses needed for ``symbols`` real values (two per use)."""
    return (symbols + 1) // 2


@dataclass
class ChannelStats:
    """Statistics of one transmission through the channel.

    Attributes:
        symbols: real values sent.
        channel_uses: complex channel uses.
        signal_power: mean received signal power per real value, E|h·x|² / 2 per complex use.
        noise_power: mean noise power per real value actually added.
        measured_snr_db: 10·log10(signal_power / noise_power); inf when no noise was added.
    """

    symbols: int
    channel_uses: int
    signal_power: float
    noise_power: float

    @property
    def measured_snr_db(self) -> float:
        if self.noise_power <= 0:
            return math.inf
        return 10.0 * math.log10(self.signal_power / self.noise_power)


@dataclass
class ChannelOutput:
    """Received symbols, their equalised estimate and the channel statistics.

    Attributes:
        received: (k,) float32 real values as they arrive, h·x + n (complex pairs interleaved).
        equalised: (k,) float32 estimate of x after equalisation with perfect CSI.
        gains: (frames,) complex fading coefficient per frame (all 1 for none and AWGN).
        stats: measured powers and SNR.
        frames: the frames as they left the channel (y, h, σ²), for the receiver's estimate.
    """

    received: torch.Tensor
    equalised: torch.Tensor
    gains: torch.Tensor
    stats: ChannelStats
    frames: list[NoisyFrame]


def _to_complex(x: torch.Tensor) -> torch.Tensor:
    if x.shape[-1] % 2:
        x = torch.cat([x, x.new_zeros(1)])
    return torch.complex(x[0::2], x[1::2])


def _to_real(c: torch.Tensor, k: int) -> torch.Tensor:
    return torch.stack([c.real, c.imag], dim=-1).reshape(-1)[:k]


@dataclass
class NoisyFrame:
    """One frame as it leaves the channel.

    Attributes:
        index: frame number, from 0.
        received: real values y = h·x + n (complex pairs interleaved), float32.
        gain: the frame's fading coefficient h, rounded to complex64 (the value sent to the receiver).
        noise_variance: σ² per real dimension (0 for the "none" channel).
    """

    index: int
    received: torch.Tensor
    gain: complex
    noise_variance: float


class ChannelSimulator:
    """Applies Y = h·X + N frame by frame, with seeded draws, and measures what it did.

    The draws depend only on the seed and the frame sizes: for each frame, the fading
    coefficient first (Rayleigh only), then the noise. So a stream processed frame by frame in
    the channel emulator and a whole vector passed to ``transmit`` get identical noise.

    Args:
        channel: "none", "awgn" or "rayleigh".
        snr_db: P/σ² in dB; ignored for "none".
        seed: seed of the noise and fading draws.
        power: average power P per real value of the input.
    """

    def __init__(self, channel: str, snr_db: float, seed: int, power: float = 1.0) -> None:
        if channel not in CHANNEL_MODELS:
            raise ValueError(f"unknown channel model {channel!r}; expected one of {', '.join(CHANNEL_MODELS)}")
        if not math.isfinite(snr_db):
            raise ValueError(f"SNR must be a finite number of dB, got {snr_db}")
        if power <= 0:
            raise ValueError(f"power must be positive, got {power}")
        self.channel = channel
        self.power = power
        self.noise_variance = 0.0 if channel == "none" else noise_variance(snr_db, power)
        self._generator = torch.Generator().manual_seed(int(seed) % (2**63))
        self._signal_energy = 0.0
        self._noise_energy = 0.0
        self._symbols = 0
        self._frames = 0

    def apply(self, values: torch.Tensor) -> NoisyFrame:
        """Pass one frame of real values (complex pairs interleaved) through the channel."""
        x = values.detach().reshape(-1).to(torch.float64)
        k = x.numel()
        symbols = _to_complex(x)

        if self.channel == "rayleigh":
            # h ~ CN(0, 1): real and imaginary parts each N(0, 1/2).
            parts = torch.randn(2, generator=self._generator, dtype=torch.float64) * math.sqrt(0.5)
            gain = complex(parts[0].item(), parts[1].item())
        else:
            gain = 1.0 + 0.0j
        faded = symbols * gain

        if self.channel == "none":
            noise = torch.zeros_like(faded)
        else:
            parts = torch.randn(symbols.numel(), 2, generator=self._generator, dtype=torch.float64) * math.sqrt(
                self.noise_variance
            )
            noise = torch.complex(parts[:, 0], parts[:, 1])

        received = _to_real(faded + noise, k).to(torch.float32)
        self._signal_energy += float(_to_real(faded, k).pow(2).sum())
        self._noise_energy += float(_to_real(noise, k).pow(2).sum())
        self._symbols += k
        frame = NoisyFrame(
            self._frames, received, complex(torch.tensor(gain, dtype=torch.complex64).item()), self.noise_variance
        )
        self._frames += 1
        return frame

    def stats(self) -> ChannelStats:
        """Statistics of everything sent so far."""
        symbols = max(self._symbols, 1)
        return ChannelStats(
            self._symbols, channel_uses(self._symbols), self._signal_energy / symbols, self._noise_energy / symbols
        )

    @property
    def frames(self) -> int:
        return self._frames


def split_frames(x: torch.Tensor, frame_symbols: int = DEFAULT_FRAME_SYMBOLS) -> list[torch.Tensor]:
    """Cut a vector of real values into frames of ``frame_symbols`` complex symbols."""
    if frame_symbols < 1:
        raise ValueError(f"frame_symbols must be at least 1, got {frame_symbols}")
    flat = x.reshape(-1)
    return list(torch.split(flat, 2 * frame_symbols))


def equalise(frame: NoisyFrame, power: float = 1.0, equaliser: str = "mmse") -> torch.Tensor:
    """Estimate the sent real values of one frame from y, h and σ² (perfect CSI).

    MMSE: conj(h)·y / (|h|² + σ²/P), the linear MMSE estimate for a Gaussian input of power P;
    for AWGN (h = 1) it is the shrinkage P / (P + σ²). Zero-forcing: y / h.
    """
    if equaliser not in EQUALISERS:
        raise ValueError(f"unknown equaliser {equaliser!r}; expected one of {', '.join(EQUALISERS)}")
    y = _to_complex(frame.received.to(torch.float64))
    h = complex(frame.gain)
    if equaliser == "mmse":
        estimate = y * h.conjugate() / (abs(h) ** 2 + frame.noise_variance / power)
    else:
        estimate = y / h
    return _to_real(estimate, frame.received.numel()).to(torch.float32)


def transmit(
    x: torch.Tensor,
    channel: str,
    snr_db: float,
    seed: int,
    power: float = 1.0,
    frame_symbols: int = DEFAULT_FRAME_SYMBOLS,
    equaliser: str = "mmse",
) -> ChannelOutput:
    """Send one power-normalised vector through the channel and equalise it.

    Args:
        x: (k,) real values, already power-normalised to ``power``.
        channel: "none", "awgn" or "rayleigh".
        snr_db: P/σ² in dB; ignored for "none".
        seed: seed of the noise and fading draws, so a transmission repeats exactly.
        frame_symbols: complex symbols per frame (fading block).
        equaliser: "mmse" or "zf", see ``equalise``.
    """
    if equaliser not in EQUALISERS:
        raise ValueError(f"unknown equaliser {equaliser!r}; expected one of {', '.join(EQUALISERS)}")
    simulator = ChannelSimulator(channel, snr_db, seed, power)
    frames = [simulator.apply(values) for values in split_frames(x.to(torch.float32), frame_symbols)]
    received = torch.cat([frame.received for frame in frames])
    equalised = torch.cat([equalise(frame, power, equaliser) for frame in frames])
    gains = torch.tensor([frame.gain for frame in frames], dtype=torch.complex64)
    return ChannelOutput(received, equalised, gains, simulator.stats(), frames)

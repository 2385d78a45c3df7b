"""StyleGAN2 generator and discriminator in pure PyTorch.

Module and parameter names follow the rosinality implementation (stylegan2-pytorch, ``model.py``),
so its checkpoints and Talk-to-Edit's load unchanged: ``style.*`` is the mapping network,
``input``, ``conv1``, ``to_rgb1``, ``convs``, ``to_rgbs`` and the ``noises`` buffers form the
synthesis network. No custom CUDA op is needed: the fused bias-activation is
``leaky_relu(x + b, 0.2) * sqrt(2)`` and ``upfirdn2d`` is padding plus a depthwise convolution.

Images are (N, 3, H, W) in [-1, 1], as in rosinality. Latents are (N, style_dim) for z and w, or
(N, n_latent, style_dim) for W+.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_BLUR_KERNEL = (1, 3, 3, 1)


def fused_leaky_relu(
    x: torch.Tensor, bias: torch.Tensor, negative_slope: float = 0.2, scale: float = 2**0.5
) -> torch.Tensor:
    """Add a per-channel bias, apply leaky ReLU and rescale to keep unit variance."""
    shape = [1, -1] + [1] * (x.ndim - 2)
    return F.leaky_relu(x + bias.view(shape), negative_slope) * scale


def upfirdn2d(
    x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)
) -> torch.Tensor:
    """Upsample by zero insertion, pad, filter with a 2-D FIR kernel and downsample.

    Args:
        x: (N, C, H, W).
        kernel: (kh, kw) filter, applied as a true convolution (flipped).
        up, down: integer factors.
        pad: (before, after) padding on both axes, applied after upsampling; may be negative.
    """
    n, c, h, w = x.shape
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, (0, up - 1, 0, 0, 0, up - 1))
        x = x.reshape(n, c, h * up, w * up)
    pad0, pad1 = pad
    x = F.pad(x, (max(pad0, 0), max(pad1, 0), max(pad0, 0), max(pad1, 0)))
    if pad0 < 0 or pad1 < 0:
        x = x[:, :, max(-pad0, 0) : x.shape[2] - max(-pad1, 0), max(-pad0, 0) : x.shape[3] - max(-pad1, 0)]
    weight = torch.flip(kernel, [0, 1]).view(1, 1, *kernel.shape).repeat(c, 1, 1, 1).to(x.dtype)
    x = F.conv2d(x, weight, groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def make_kernel(k: Sequence[float]) -> torch.Tensor:
    """Build a normalised 2-D FIR kernel from a 1-D one (outer product)."""
    kernel = torch.tensor(k, dtype=torch.float32)
    if kernel.ndim == 1:
        kernel = kernel[None, :] * kernel[:, None]
    return kernel / kernel.sum()


class PixelNorm(nn.Module):
    """Normalise each latent to unit mean square, which makes the scale of z irrelevant."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(torch.mean(x**2, dim=1, keepdim=True) + 1e-8)


class Upsample(nn.Module):
    """2× upsampling with an FIR filter (buffer ``kernel``)."""

    kernel: torch.Tensor

    def __init__(self, kernel: Sequence[float], factor: int = 2) -> None:
        super().__init__()
        self.factor = factor
        fir = make_kernel(kernel) * factor**2
        self.register_buffer("kernel", fir)
        p = fir.shape[0] - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class Blur(nn.Module):
    """FIR low-pass filter (buffer ``kernel``) used around strided convolutions."""

    kernel: torch.Tensor

    def __init__(self, kernel: Sequence[float], pad: tuple[int, int], upsample_factor: int = 1) -> None:
        super().__init__()
        self.register_buffer("kernel", make_kernel(kernel) * upsample_factor**2)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class EqualConv2d(nn.Module):
    """Convolution with the equalised learning rate: weights stored at unit variance, scaled at run time."""

    def __init__(
        self, in_channel: int, out_channel: int, kernel_size: int, stride: int = 1, padding: int = 0, bias: bool = True
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channel, in_channel, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(in_channel * kernel_size**2)
        self.stride = stride
        self.padding = padding
        self.bias = nn.Parameter(torch.zeros(out_channel)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, bias=self.bias, stride=self.stride, padding=self.padding)


class EqualLinear(nn.Module):
    """Linear layer with the equalised learning rate and an optional fused leaky ReLU.

    Args:
        lr_mul: learning-rate multiplier; the mapping network uses 0.01 in StyleGAN2.
        activation: "fused_lrelu" or None.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        bias: bool = True,
        bias_init: float = 0.0,
        lr_mul: float = 1.0,
        activation: str | None = None,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.zeros(out_dim).fill_(bias_init)) if bias else None
        self.activation = activation
        self.scale = (1 / math.sqrt(in_dim)) * lr_mul
        self.lr_mul = lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias * self.lr_mul if self.bias is not None else None
        if self.activation:
            out = F.linear(x, self.weight * self.scale)
            return fused_leaky_relu(out, bias) if bias is not None else F.leaky_relu(out, 0.2) * 2**0.5
        return F.linear(x, self.weight * self.scale, bias=bias)


class ScaledLeakyReLU(nn.Module):
    def __init__(self, negative_slope: float = 0.2) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, self.negative_slope) * math.sqrt(2)


class FusedLeakyReLU(nn.Module):
    """Per-channel bias plus scaled leaky ReLU (parameter ``bias``)."""

    def __init__(self, channel: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channel))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_leaky_relu(x, self.bias)


class ModulatedConv2d(nn.Module):
    """Style-modulated convolution with optional demodulation and 2× upsampling.

    Computed as modulate-input, shared convolution, demodulate-output, which equals the
    per-sample weight form of StyleGAN2 and runs as one ordinary convolution per batch.
    """

    def __init__(
        self,
        in_channel: int,
        out_channel: int,
        kernel_size: int,
        style_dim: int,
        demodulate: bool = True,
        upsample: bool = False,
        blur_kernel: Sequence[float] = DEFAULT_BLUR_KERNEL,
    ) -> None:
        super().__init__()
        self.in_channel = in_channel
        self.out_channel = out_channel
        self.kernel_size = kernel_size
        self.upsample = upsample
        self.demodulate = demodulate
        if upsample:
            factor = 2
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + factor - 1, p // 2 + 1), upsample_factor=factor)
        self.scale = 1 / math.sqrt(in_channel * kernel_size**2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_channel, in_channel, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channel, bias_init=1)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """x: (N, in, H, W); style: (N, style_dim) → (N, out, H', W')."""
        batch = x.shape[0]
        weight = self.scale * self.weight.squeeze(0)  # (out, in, k, k)
        style = self.modulation(style)  # (N, in)

        x = x * style.view(batch, -1, 1, 1)
        if self.upsample:
            out = F.conv_transpose2d(x, weight.transpose(0, 1), padding=0, stride=2)
            out = self.blur(out)
        else:
            out = F.conv2d(x, weight, padding=self.padding)

        if self.demodulate:
            modulated = weight.unsqueeze(0) * style.view(batch, 1, -1, 1, 1)
            demod = (modulated.square().sum((2, 3, 4)) + 1e-8).rsqrt()  # (N, out)
            out = out * demod.view(batch, -1, 1, 1)
        return out


class NoiseInjection(nn.Module):
    """Adds per-pixel noise scaled by a learned ``weight``."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, image: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        if noise is None:
            batch, _, height, width = image.shape
            noise = image.new_empty(batch, 1, height, width).normal_()
        return image + self.weight * noise


class ConstantInput(nn.Module):
    """The learned 4×4 constant the synthesis network starts from (parameter ``input``)."""

    def __init__(self, channel: int, size: int = 4) -> None:
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channel, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.repeat(batch, 1, 1, 1)


class StyledConv(nn.Module):
    def __init__(
        self,
        in_channel: int,
        out_channel: int,
        kernel_size: int,
        style_dim: int,
        upsample: bool = False,
        blur_kernel: Sequence[float] = DEFAULT_BLUR_KERNEL,
        demodulate: bool = True,
    ) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(
            in_channel,
            out_channel,
            kernel_size,
            style_dim,
            upsample=upsample,
            blur_kernel=blur_kernel,
            demodulate=demodulate,
        )
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channel)

    def forward(self, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        return self.activate(self.noise(self.conv(x, style), noise=noise))


class ToRGB(nn.Module):
    def __init__(
        self, in_channel: int, style_dim: int, upsample: bool = True, blur_kernel: Sequence[float] = DEFAULT_BLUR_KERNEL
    ) -> None:
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(in_channel, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


def default_channels(channel_multiplier: int) -> dict[int, int]:
    """Channel count per resolution of the published StyleGAN2 configurations."""
    return {
        4: 512,
        8: 512,
        16: 512,
        32: 512,
        64: 256 * channel_multiplier,
        128: 128 * channel_multiplier,
        256: 64 * channel_multiplier,
        512: 32 * channel_multiplier,
        1024: 16 * channel_multiplier,
    }


class Generator(nn.Module):
    """StyleGAN2 generator: mapping network z → w, synthesis network w → image.

    Args:
        size: output resolution, a power of two ≥ 8.
        style_dim: dimension of z and w.
        n_mlp: number of layers of the mapping network.
        channel_multiplier: width factor of the published configurations (1 for the 128×128
            Talk-to-Edit model, 2 for FFHQ 1024).
        channels: per-resolution channel counts that replace the published ones; the bundled
            default uses narrow layers to train on a CPU.
        blur_kernel: FIR kernel of the resampling filters.
        lr_mlp: learning-rate multiplier of the mapping network.
    """

    def __init__(
        self,
        size: int,
        style_dim: int,
        n_mlp: int,
        channel_multiplier: int = 2,
        channels: dict[int, int] | None = None,
        blur_kernel: Sequence[float] = DEFAULT_BLUR_KERNEL,
        lr_mlp: float = 0.01,
    ) -> None:
        super().__init__()
        self.size = size
        self.style_dim = style_dim
        layers: list[nn.Module] = [PixelNorm()]
        layers += [EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation="fused_lrelu") for _ in range(n_mlp)]
        self.style = nn.Sequential(*layers)

        self.channels = dict(channels) if channels is not None else default_channels(channel_multiplier)
        self.input = ConstantInput(self.channels[4])
        self.conv1 = StyledConv(self.channels[4], self.channels[4], 3, style_dim, blur_kernel=blur_kernel)
        self.to_rgb1 = ToRGB(self.channels[4], style_dim, upsample=False)

        self.log_size = int(math.log2(size))
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.convs = nn.ModuleList()
        self.upsamples = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        for layer_idx in range(self.num_layers):
            res = (layer_idx + 5) // 2
            self.noises.register_buffer(f"noise_{layer_idx}", torch.randn(1, 1, 2**res, 2**res))

        in_channel = self.channels[4]
        for i in range(3, self.log_size + 1):
            out_channel = self.channels[2**i]
            self.convs.append(StyledConv(in_channel, out_channel, 3, style_dim, upsample=True, blur_kernel=blur_kernel))
            self.convs.append(StyledConv(out_channel, out_channel, 3, style_dim, blur_kernel=blur_kernel))
            self.to_rgbs.append(ToRGB(out_channel, style_dim))
            in_channel = out_channel
        self.n_latent = self.log_size * 2 - 2

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        """Map z (N, style_dim) to w (N, style_dim)."""
        return self.style(z)

    @torch.no_grad()
    def mean_latent(self, n_latent: int = 4096, seed: int = 0) -> torch.Tensor:
        """Average w over ``n_latent`` random z; (1, style_dim)."""
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(n_latent, self.style_dim, generator=gen).to(self.input.input.device)
        return self.mapping(z).mean(0, keepdim=True)

    def synthesis(self, w: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        """Render images from w (N, style_dim) or W+ (N, n_latent, style_dim).

        Args:
            noise_mode: "const" uses the stored ``noises`` buffers, so the same w always gives
                the same image (sender and receiver must agree); "random" draws fresh noise.

        Returns:
            (N, 3, size, size) images, about [-1, 1].
        """
        if w.ndim == 2:
            w = w.unsqueeze(1).repeat(1, self.n_latent, 1)
        if noise_mode == "const":
            noise: list[torch.Tensor | None] = [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]
        else:
            noise = [None] * self.num_layers

        out = self.input(w.shape[0])
        out = self.conv1(out, w[:, 0], noise=noise[0])
        skip = self.to_rgb1(out, w[:, 1])
        i = 1
        for conv1, conv2, noise1, noise2, to_rgb in zip(
            self.convs[::2], self.convs[1::2], noise[1::2], noise[2::2], self.to_rgbs, strict=True
        ):
            out = conv1(out, w[:, i], noise=noise1)
            out = conv2(out, w[:, i + 1], noise=noise2)
            skip = to_rgb(out, w[:, i + 2], skip)
            i += 2
        return skip

    def forward(self, z: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        """Render images from z (N, style_dim)."""
        return self.synthesis(self.mapping(z), noise_mode=noise_mode)


class ConvLayer(nn.Sequential):
    """Optional blur-downsample, equalised convolution and activation, as one Sequential."""

    def __init__(
        self,
        in_channel: int,
        out_channel: int,
        kernel_size: int,
        downsample: bool = False,
        blur_kernel: Sequence[float] = DEFAULT_BLUR_KERNEL,
        bias: bool = True,
        activate: bool = True,
    ) -> None:
        layers: list[nn.Module] = []
        if downsample:
            factor = 2
            p = (len(blur_kernel) - factor) + (kernel_size - 1)
            layers.append(Blur(blur_kernel, pad=((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(
            EqualConv2d(
                in_channel, out_channel, kernel_size, padding=padding, stride=stride, bias=bias and not activate
            )
        )
        if activate:
            layers.append(FusedLeakyReLU(out_channel) if bias else ScaledLeakyReLU(0.2))
        super().__init__(*layers)


class ResBlock(nn.Module):
    def __init__(self, in_channel: int, out_channel: int, blur_kernel: Sequence[float] = DEFAULT_BLUR_KERNEL) -> None:
        super().__init__()
        self.conv1 = ConvLayer(in_channel, in_channel, 3)
        self.conv2 = ConvLayer(in_channel, out_channel, 3, downsample=True, blur_kernel=blur_kernel)
        self.skip = ConvLayer(
            in_channel, out_channel, 1, downsample=True, activate=False, bias=False, blur_kernel=blur_kernel
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        return (out + self.skip(x)) / math.sqrt(2)


class Discriminator(nn.Module):
    """StyleGAN2 residual discriminator with a minibatch standard-deviation layer.

    Args:
        size: input resolution.
        channel_multiplier, channels, blur_kernel: as for ``Generator``.
    """

    def __init__(
        self,
        size: int,
        channel_multiplier: int = 2,
        channels: dict[int, int] | None = None,
        blur_kernel: Sequence[float] = DEFAULT_BLUR_KERNEL,
    ) -> None:
        super().__init__()
        self.channels = dict(channels) if channels is not None else default_channels(channel_multiplier)
        convs: list[nn.Module] = [ConvLayer(3, self.channels[size], 1)]
        log_size = int(math.log2(size))
        in_channel = self.channels[size]
        for i in range(log_size, 2, -1):
            out_channel = self.channels[2 ** (i - 1)]
            convs.append(ResBlock(in_channel, out_channel, blur_kernel))
            in_channel = out_channel
        self.convs = nn.Sequential(*convs)
        self.stddev_group = 4
        self.stddev_feat = 1
        self.final_conv = ConvLayer(in_channel + 1, self.channels[4], 3)
        self.final_linear = nn.Sequential(
            EqualLinear(self.channels[4] * 4 * 4, self.channels[4], activation="fused_lrelu"),
            EqualLinear(self.channels[4], 1),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images: (N, 3, size, size) in [-1, 1] → (N, 1) realness scores."""
        return self.final_linear[1](self.features(images))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """images: (N, 3, size, size) in [-1, 1] → (N, channels[4]) features before the last layer."""
        out = self.convs(images)
        batch, channel, height, width = out.shape
        group = min(batch, self.stddev_group)
        if batch % group != 0:
            group = 1
        stddev = out.view(group, -1, self.stddev_feat, channel // self.stddev_feat, height, width)
        stddev = torch.sqrt(stddev.var(0, unbiased=False) + 1e-8)
        stddev = stddev.mean(dim=[2, 3, 4], keepdim=True).squeeze(2)
        stddev = stddev.repeat(group, 1, height, width)
        out = torch.cat([out, stddev], 1)
        out = self.final_conv(out)
        return self.final_linear[0](out.view(batch, -1))

"""Inversion encoder: a CNN that predicts w from an image, to start the inversion near its result.

The optimisation of the inversion (λ·MSE + LPIPS by Adam steps) still decides the final latent;
the encoder only replaces the mean w as the starting point, which cuts the steps needed.
"""

from __future__ import annotations

import torch
from torch import nn


class InversionEncoder(nn.Module):
    """Image (N, 3, H, W) in [0, 1] → standardised w, (N, style_dim).

    The output is in the standardised space u = (w − mean) / std of the bundle's w statistics;
    ``to_w`` maps it back.

    Args:
        style_dim: size of w.
        width: channels of the first layer.
        resolution: input side in pixels.
    """

    def __init__(self, style_dim: int = 128, width: int = 32, resolution: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, width, 3, padding=1), nn.LeakyReLU(0.2)]
        channels, size = width, resolution
        while size > 4:
            out = min(channels * 2, 256)
            layers += [nn.Conv2d(channels, out, 3, stride=2, padding=1), nn.BatchNorm2d(out), nn.LeakyReLU(0.2)]
            channels, size = out, size // 2
        layers += [nn.Flatten(), nn.Linear(channels * size * size, 512), nn.LeakyReLU(0.2), nn.Linear(512, style_dim)]
        self.net = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images * 2 - 1)

    @staticmethod
    def to_w(u: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        """Undo the standardisation: w = mean + std · u."""
        return mean + std * u

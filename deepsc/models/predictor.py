"""Attribute predictor: one six-way head per attribute, read off a face image."""

from __future__ import annotations

import torch
from torch import nn

from deepsc.attributes import ATTRIBUTES, NUM_DEGREES


def _conv_block(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(0.2),
    )


class AttributePredictor(nn.Module):
    """A CNN over the whole face plus a branch on a full-resolution mouth crop.

    The mouth branch exists because the smile is only a few pixels tall at 64×64: a plain
    strided CNN loses it, while a crop at full resolution keeps it.

    Args:
        resolution: input height and width in pixels (64 for the bundled default).
        width: channel count of the first layer; later layers use multiples of it.
    """

    def __init__(self, resolution: int = 64, width: int = 32) -> None:
        super().__init__()
        self.resolution = resolution
        self.face = nn.Sequential(
            _conv_block(3, width, 1),
            _conv_block(width, width, 2),  # 32×32
            _conv_block(width, 2 * width, 2),  # 16×16
            _conv_block(2 * width, 3 * width, 2),  # 8×8
            _conv_block(3 * width, 4 * width, 2),  # 4×4
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
        )
        self.mouth = nn.Sequential(
            _conv_block(3, width, 1),
            _conv_block(width, width, 1),
            _conv_block(width, 2 * width, 2),
            _conv_block(2 * width, 2 * width, 2),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
        )
        features = 4 * width * 4 + 2 * width * 4
        self.trunk = nn.Sequential(nn.Linear(features, 256), nn.LeakyReLU(0.2))
        self.heads = nn.Linear(256, len(ATTRIBUTES) * NUM_DEGREES)

    def mouth_crop(self, images: torch.Tensor) -> torch.Tensor:
        """Cut the mouth region (rows 0.55–0.95, columns 0.2–0.8 of the image)."""
        size = images.shape[-1]
        top, bottom = int(0.55 * size), int(0.95 * size)
        left, right = int(0.20 * size), int(0.80 * size)
        return images[..., top:bottom, left:right]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Predict degree logits.

        Args:
            images: (N, 3, H, W) in [0, 1].

        Returns:
            (N, 5, 6) logits, attributes in ``ATTRIBUTES`` order.
        """
        x = images * 2 - 1
        features = torch.cat([self.face(x), self.mouth(self.mouth_crop(x))], dim=1)
        logits = self.heads(self.trunk(features))
        return logits.view(-1, len(ATTRIBUTES), NUM_DEGREES)

    @torch.no_grad()
    def predict_degrees(self, images: torch.Tensor) -> torch.Tensor:
        """Return the most likely degree per attribute, (N, 5) long."""
        return self(images).argmax(dim=-1)

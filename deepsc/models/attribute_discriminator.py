"""The bundle's discriminator: StyleGAN2's, with a projection head for the attribute degrees."""

from __future__ import annotations

import torch
from torch import nn

from deepsc.attributes import ATTRIBUTES, NUM_DEGREES
from deepsc.models.stylegan2 import Discriminator

# Discriminator of the bundled default: the generator's channels per resolution. Doubling them at
# 64 and 32 made a training step five times slower on a 2-core CPU.
DISCRIMINATOR_CHANNELS: dict[int, int] = {4: 128, 8: 128, 16: 64, 32: 32, 64: 16}


class AttributeDiscriminator(nn.Module):
    """StyleGAN2 discriminator with a projection head for the attribute degrees.

    The score is D(x) + Σ_a ⟨e_a[degree_a], φ(x)⟩ (projection discriminator), so it also judges
    whether the face shows the degrees it was drawn for: a frame, mouth or beard that is only a
    blur scores as fake for its degree. Without degrees it returns the unconditional realness D(x),
    the score the semantic field's training uses.

    Args:
        size: image resolution.
        channels: channels per resolution; defaults to ``DISCRIMINATOR_CHANNELS``.
    """

    def __init__(self, size: int = 64, channels: dict[int, int] | None = None) -> None:
        super().__init__()
        self.discriminator = Discriminator(size, channels=channels or DISCRIMINATOR_CHANNELS)
        width = self.discriminator.channels[4]
        self.degree_embedding = nn.Embedding(len(ATTRIBUTES) * NUM_DEGREES, width)
        nn.init.normal_(self.degree_embedding.weight, std=0.02)

    def forward(self, images: torch.Tensor, degrees: torch.Tensor | None = None) -> torch.Tensor:
        """images: (N, 3, size, size) in [-1, 1]; degrees: (N, 5) or None → (N,) scores."""
        features = self.discriminator.features(images)  # (N, C)
        score = self.discriminator.final_linear[1](features).squeeze(1)
        if degrees is None:
            return score

        offsets = torch.arange(len(ATTRIBUTES), device=degrees.device) * NUM_DEGREES
        projection = self.degree_embedding(degrees + offsets).sum(1)  # (N, C)
        return score + (projection * features).sum(1) / features.shape[1] ** 0.5

"""Identity embedding: a unit vector that describes who a face is, whatever its attributes.

The semantic field's identity loss and the evaluation's identity similarity compare these
embeddings (cosine similarity), in the role ArcFace plays for photographs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from deepsc.renderer import IDENTITY_FACTORS

# Identity factors the embedding is trained to carry: everything but the pose jitter, which
# changes between two photos of one person.
IDENTITY_TARGETS: tuple[str, ...] = tuple(
    f for f in IDENTITY_FACTORS if f not in ("shift_x", "shift_y", "scale", "tilt")
)


class IdentityEmbedding(nn.Module):
    """A CNN from a face image to an L2-normalised identity embedding.

    Args:
        width: channels of the first layer; later layers use multiples of it.
        dim: embedding size.
    """

    def __init__(self, width: int = 24, dim: int = 64) -> None:
        super().__init__()
        self.dim = dim
        layers: list[nn.Module] = []
        channels = [3, width, width, 2 * width, 3 * width, 4 * width]
        for i in range(5):
            stride = 1 if i == 0 else 2  # 64 → 64, 32, 16, 8, 4
            layers += [
                nn.Conv2d(channels[i], channels[i + 1], 3, stride=stride, padding=1),
                nn.BatchNorm2d(channels[i + 1]),
                nn.LeakyReLU(0.2),
            ]
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.project = nn.Linear(4 * width * 4, dim)
        # Training head only: regresses the identity factors from the embedding.
        self.factor_head = nn.Linear(dim, len(IDENTITY_TARGETS))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images: (N, 3, H, W) in [0, 1] → (N, dim) unit-length embeddings."""
        return F.normalize(self.project(self.features(images * 2 - 1)), dim=1)

    def similarity(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Cosine similarity of the identities of two image batches, (N,)."""
        return (self(a) * self(b)).sum(1)

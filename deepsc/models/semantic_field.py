"""Semantic field functions: per attribute, the latent step that raises its degree by one.

As in Editable-DeepSC (Yu et al., Fig. 2), the field of attribute a is a fully connected network of the image
embedding E_I (the identity embedding of the face the latent renders), the text embedding E_T
(the text semantic encoder's reading of the instruction) and the current latent z':

    Δ = F_a([E_I, E_T, z'])        z'_{t+1} = z'_t ± step_size · Δ

A decrease takes the negative step (as Talk-to-Edit does: w − Δ); the fields are trained on both
signs. Each field starts as the constant per-attribute direction ``base`` and learns a residual,
so an untrained residual is the first editing module.
"""

from __future__ import annotations

import torch
from torch import nn

from deepsc.attributes import ATTRIBUTES


class SemanticField(nn.Module):
    """F_a for one attribute.

    Args:
        latent_dim: size D of the latent z' (w or z).
        identity_dim: size of E_I.
        text_dim: size of E_T.
        hidden: width of the two hidden layers.
    """

    def __init__(self, latent_dim: int, identity_dim: int, text_dim: int, hidden: int = 256) -> None:
        super().__init__()
        self.base = nn.Parameter(torch.zeros(latent_dim))
        output = nn.Linear(hidden, latent_dim)
        self.net = nn.Sequential(
            nn.Linear(identity_dim + text_dim + latent_dim, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),
            output,
        )
        # Zero residual at initialisation: the field starts as the constant direction.
        nn.init.zeros_(output.weight)
        nn.init.zeros_(output.bias)

    def forward(self, latent: torch.Tensor, identity: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """latent: (N, D) standardised z'; identity: (N, I); text: (N, T) → (N, D) step Δ, standardised."""
        return self.base + self.net(torch.cat([identity, text, latent], dim=1))


class SemanticFields(nn.Module):
    """The five fields of one latent space, with the statistics that standardise their latent.

    Inputs and outputs are in the latent's own units. Internally the latent is standardised by
    ``mean`` and ``std`` (per dimension), so one set of widths suits W and Z alike.

    Args:
        latent_space: "w" or "z".
        latent_dim, identity_dim, text_dim, hidden: as for ``SemanticField``.
    """

    def __init__(self, latent_space: str, latent_dim: int, identity_dim: int, text_dim: int, hidden: int = 256) -> None:
        super().__init__()
        self.latent_space = latent_space
        self.text_dim = text_dim
        self.fields = nn.ModuleDict(
            {name: SemanticField(latent_dim, identity_dim, text_dim, hidden) for name in ATTRIBUTES}
        )
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.zeros(latent_dim))
        self.register_buffer("std", torch.ones(latent_dim))

    def set_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mean.copy_(mean)
        self.std.copy_(std)

    def set_base(self, directions: torch.Tensor) -> None:
        """Initialise every field's constant part from (5, D) directions in latent units."""
        with torch.no_grad():
            for i, name in enumerate(ATTRIBUTES):
                field = self.fields[name]
                assert isinstance(field, SemanticField)
                field.base.copy_(directions[i] / self.std)

    def forward(self, attribute: str, latent: torch.Tensor, identity: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Return the step Δ (N, D), in latent units, that raises ``attribute`` by one degree.

        Args:
            latent: (N, D) current latent.
            identity: (N, I) E_I of the images the latents render.
            text: (N, T) E_T of the instructions.
        """
        standardised = (latent - self.mean) / self.std
        return self.fields[attribute](standardised, identity, text) * self.std

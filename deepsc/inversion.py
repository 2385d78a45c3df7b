"""GAN inversion: find the latent whose generated image matches a photo.

Minimises J(w) = λ·MSE(S, G(w)) + LPIPS(S, G(w)) by Adam steps on w, with the generator frozen
(the receiver's copy must stay identical, or the semantic channel breaks).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from deepsc.models.stylegan2 import Generator

logger = logging.getLogger(__name__)

# Called after every step with (step, total_steps, loss); returning False stops early.
InversionCallback = Callable[[int, int, float], bool | None]


class Interrupted(Exception):
    """The caller set the interrupt flag; the work was stopped between two steps."""


@dataclass
class InversionConfig:
    """Settings of the inversion.

    Attributes:
        steps: Adam steps.
        lr: Adam learning rate, in units of the latent.
        mse_weight: λ, the weight of the pixel MSE beside LPIPS.
        lpips_size: side to which both images are resized before LPIPS (AlexNet needs more
            than 64 pixels to see fine detail).
        latent_space: "w" (optimise w, start from the mean w) or "z" (optimise z, start at 0).
    """

    steps: int = 150
    lr: float = 0.05
    mse_weight: float = 1.0
    lpips_size: int = 128
    latent_space: str = "w"


@dataclass
class InversionResult:
    """The latent found and how well it fits.

    Attributes:
        latent: (1, D) in the requested latent space.
        loss: final J.
        mse: final pixel MSE on [0, 1] images.
        steps: steps run.
    """

    latent: torch.Tensor
    loss: float
    mse: float
    steps: int


def invert(
    generator: Generator,
    target: torch.Tensor,
    lpips_model: torch.nn.Module,
    config: InversionConfig | None = None,
    start: torch.Tensor | None = None,
    callback: InversionCallback | None = None,
    interrupt: threading.Event | None = None,
) -> InversionResult:
    """Invert one image.

    Args:
        generator: frozen generator.
        target: (1, 3, H, W) in [0, 1] at the generator's resolution.
        lpips_model: LPIPS network taking images in [-1, 1].
        config: inversion settings.
        start: (1, D) initial latent; the mean w (or z = 0) when None.
        callback: progress hook, called after each step.
        interrupt: when set, the loop stops before the next step and raises ``Interrupted``.
    """
    config = config or InversionConfig()
    if config.latent_space not in ("w", "z"):
        raise ValueError(f"unknown latent space {config.latent_space!r}; expected 'w' or 'z'")
    generator.requires_grad_(False)
    device = target.device

    if start is not None:
        latent = start.detach().clone().to(device)
    elif config.latent_space == "w":
        latent = generator.mean_latent().to(device)
    else:
        latent = torch.zeros(1, generator.style_dim, device=device)
    latent.requires_grad_(True)
    optimizer = torch.optim.Adam([latent], lr=config.lr)
    target_pm = target * 2 - 1
    target_lpips = F.interpolate(target_pm, size=config.lpips_size, mode="bilinear", align_corners=False)

    loss_value, mse_value, step = float("nan"), float("nan"), 0
    for step in range(1, config.steps + 1):
        if interrupt is not None and interrupt.is_set():
            raise Interrupted(f"inversion interrupted before step {step}")
        w = generator.mapping(latent) if config.latent_space == "z" else latent
        image = generator.synthesis(w)
        mse = F.mse_loss((image + 1) / 2, target)
        image_lpips = F.interpolate(image, size=config.lpips_size, mode="bilinear", align_corners=False)
        perceptual = lpips_model(image_lpips, target_lpips).mean()
        loss = config.mse_weight * mse + perceptual

        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

        loss_value, mse_value = loss.item(), mse.item()
        if callback is not None and callback(step, config.steps, loss_value) is False:
            break

    return InversionResult(latent.detach(), loss_value, mse_value, step)

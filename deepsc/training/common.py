"""Shared pieces of the training commands: resumable checkpoints, seeding and augmentation."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

logger = logging.getLogger(__name__)

# Called after every training step with (step, total_steps, metrics); returning False stops.
StepCallback = Callable[[int, int, dict[str, float]], bool | None]


@dataclass
class TrainConfig:
    """Settings every training command shares.

    Attributes:
        steps: number of optimiser steps to run in total (a resumed run continues up to it).
        batch_size: images per step.
        seed: seed of the data stream and the initial weights.
        checkpoint: file for the resumable state; None keeps nothing between runs.
        checkpoint_every: steps between two checkpoint writes.
        threads: torch intra-op threads; 0 keeps torch's default.
    """

    steps: int
    batch_size: int = 32
    seed: int = 0
    checkpoint: Path | None = None
    checkpoint_every: int = 200
    threads: int = 0


def setup_threads(threads: int) -> None:
    """Set the number of torch threads when asked to."""
    if threads > 0:
        torch.set_num_threads(threads)


def save_checkpoint(path: Path | None, state: dict) -> None:
    """Write the resumable state atomically, so an interruption never leaves half a file."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path | None) -> dict | None:
    """Load a resumable state written by ``save_checkpoint``; None when there is none."""
    if path is None or not path.exists():
        return None
    logger.info("resuming from %s", path)
    return torch.load(path, map_location="cpu", weights_only=False)


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Blur, noise and shift colours of a batch, so a predictor also reads generator output.

    Args:
        images: (N, 3, H, W) in [0, 1].
    """
    n = images.shape[0]
    blurred = F.avg_pool2d(F.pad(images, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    mix = torch.rand(n, 1, 1, 1, generator=generator) * (torch.rand(n, 1, 1, 1, generator=generator) < 0.5)
    images = images * (1 - mix) + blurred * mix
    gain = 1 + (torch.rand(n, 3, 1, 1, generator=generator) - 0.5) * 0.1
    noise = torch.randn(images.shape, generator=generator) * torch.rand(n, 1, 1, 1, generator=generator) * 0.03
    return (images * gain + noise).clamp(0, 1)

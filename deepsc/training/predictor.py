"""Train the attribute predictor on freshly rendered faces."""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from deepsc.attributes import ATTRIBUTES, NUM_DEGREES
from deepsc.models.predictor import AttributePredictor
from deepsc.renderer import render, sample_params
from deepsc.training.common import (
    StepCallback,
    TrainConfig,
    augment,
    load_checkpoint,
    save_checkpoint,
    setup_threads,
)

logger = logging.getLogger(__name__)


def train_predictor(config: TrainConfig, callback: StepCallback | None = None, width: int = 32) -> AttributePredictor:
    """Train an ``AttributePredictor`` with cross-entropy on every head.

    Each step renders a new batch with uniform degrees, so the model never sees the same face
    twice and held-out faces come from the same distribution.
    """
    setup_threads(config.threads)
    torch.manual_seed(config.seed)
    model = AttributePredictor(width=width).to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=config.steps)
    start = 0

    state = load_checkpoint(config.checkpoint)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start = state["step"]

    model.train()
    for step in range(start, config.steps):
        data_gen = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
        params = sample_params(config.batch_size, data_gen)
        images = augment(render(params, noise_seed=step), data_gen)
        logits = model(images.contiguous(memory_format=torch.channels_last))
        loss = F.cross_entropy(logits.reshape(-1, NUM_DEGREES), params.degrees.reshape(-1))

        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()

        accuracy = (logits.argmax(-1) == params.degrees).float().mean().item()
        if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps:
            save_checkpoint(
                config.checkpoint,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "step": step + 1,
                },
            )
        if callback is not None and callback(step + 1, config.steps, {"loss": loss.item(), "acc": accuracy}) is False:
            logger.info("predictor training interrupted at step %d", step + 1)
            break

    model.eval()
    return model


@torch.no_grad()
def evaluate_predictor(model: AttributePredictor, n: int = 1200, seed: int = 10_000) -> dict[str, float]:
    """Return exact-degree accuracy per attribute on ``n`` held-out rendered faces."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    correct = torch.zeros(len(ATTRIBUTES))
    for start in range(0, n, 200):
        params = sample_params(min(200, n - start), gen)
        predicted = model.predict_degrees(render(params, noise_seed=seed + start))
        correct += (predicted == params.degrees).float().sum(0)
    return {name: float(correct[i] / n) for i, name in enumerate(ATTRIBUTES)}

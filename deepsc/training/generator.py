"""Train the bundled StyleGAN2 generator against the procedural renderer.

Each z determines a face (``params_from_latent``), so the generator is trained by supervised
regression rather than from scratch as a GAN, which converges on a 2-core CPU:

    L = L1(G(z), render(z)) + λ_lpips · LPIPS(G(z), render(z)) + λ_attr · CE(P(G(z)), degrees(z))

The attribute term uses the frozen attribute predictor P, so the generator must draw the fine
attributes (frames, mouth, beard) well enough to be read, not only colours and layout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from deepsc.attributes import NUM_DEGREES
from deepsc.models.predictor import AttributePredictor
from deepsc.models.stylegan2 import Generator
from deepsc.renderer import params_from_latent, render
from deepsc.training.common import StepCallback, TrainConfig, load_checkpoint, save_checkpoint, setup_threads

logger = logging.getLogger(__name__)

# Architecture of the bundled default: 128 latent values (CBR 1/96 at 64×64×3).
SYNTHETIC_64_CONFIG: dict = {
    "size": 64,
    "style_dim": 128,
    "n_mlp": 4,
    "channels": {4: 128, 8: 128, 16: 64, 32: 32, 64: 16},
    "lr_mlp": 1.0,
}


@dataclass
class GeneratorLossWeights:
    """Weights of the generator's training objective."""

    lpips: float = 0.5
    attribute: float = 0.3


def build_generator(config: dict | None = None) -> Generator:
    """Build the bundled default's generator (or one with ``config``'s keyword arguments)."""
    config = dict(config or SYNTHETIC_64_CONFIG)
    channels = config.pop("channels", None)
    if channels is not None:
        channels = {int(k): int(v) for k, v in channels.items()}
    return Generator(channels=channels, **config)


def train_generator(
    config: TrainConfig,
    predictor: AttributePredictor,
    lpips_model: torch.nn.Module | None,
    weights: GeneratorLossWeights | None = None,
    callback: StepCallback | None = None,
    generator_config: dict | None = None,
    lr: float = 2e-3,
) -> Generator:
    """Fit the generator to the renderer; resumable through ``config.checkpoint``."""
    setup_threads(config.threads)
    weights = weights or GeneratorLossWeights()
    torch.manual_seed(config.seed)
    generator = build_generator(generator_config)
    optimizer = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.99))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.steps, eta_min=lr * 0.05)
    predictor.eval().requires_grad_(False)
    start = 0

    state = load_checkpoint(config.checkpoint)
    if state is not None:
        generator.load_state_dict(state["generator"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start = state["step"]

    generator.train()
    for step in range(start, config.steps):
        data_gen = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
        z = torch.randn(config.batch_size, generator.style_dim, generator=data_gen)
        params = params_from_latent(z)
        target = render(params, noise_seed=0) * 2 - 1
        images = generator(z)

        l1 = (images - target).abs().mean()
        loss = l1
        metrics = {"l1": l1.item()}
        if lpips_model is not None and weights.lpips > 0:
            perceptual = lpips_model(images, target).mean()
            loss = loss + weights.lpips * perceptual
            metrics["lpips"] = perceptual.item()
        if weights.attribute > 0:
            logits = predictor(((images + 1) / 2).clamp(0, 1))
            attribute = F.cross_entropy(logits.reshape(-1, NUM_DEGREES), params.degrees.reshape(-1))
            loss = loss + weights.attribute * attribute
            metrics["attr"] = attribute.item()

        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()

        if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps:
            save_checkpoint(
                config.checkpoint,
                {
                    "generator": generator.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "step": step + 1,
                },
            )
        if callback is not None and callback(step + 1, config.steps, metrics) is False:
            logger.info("generator training interrupted at step %d", step + 1)
            break

    generator.eval()
    return generator

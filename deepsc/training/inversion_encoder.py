"""Train the inversion encoder on generator samples with known latents."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from deepsc.latent_codec import LatentStatistics
from deepsc.models.inversion_encoder import InversionEncoder
from deepsc.models.stylegan2 import Generator
from deepsc.training.common import StepCallback, TrainConfig, augment, load_checkpoint, save_checkpoint, setup_threads

# Off-manifold jitter of w, in units of its per-dimension std, so the encoder also sees latents
# the mapping network does not produce (inversion results of real photos are such latents).
W_JITTER = 0.3


def train_inversion_encoder(
    config: TrainConfig, generator: Generator, stats: LatentStatistics, callback: StepCallback | None = None
) -> InversionEncoder:
    """Regress the standardised w of generator samples from their images."""
    setup_threads(config.threads)
    torch.manual_seed(config.seed)
    generator.eval().requires_grad_(False)
    encoder = InversionEncoder(generator.style_dim, resolution=generator.size)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.steps, eta_min=5e-5)
    start = 0
    state = load_checkpoint(config.checkpoint)
    if state is not None:
        encoder.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start = state["step"]

    encoder.train()
    for step in range(start, config.steps):
        data_gen = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
        with torch.no_grad():
            w = generator.mapping(torch.randn(config.batch_size, generator.style_dim, generator=data_gen))
            w = w + torch.randn(w.shape, generator=data_gen) * stats.std * W_JITTER * torch.rand(
                w.shape[0], 1, generator=data_gen
            )
            images = augment(((generator.synthesis(w) + 1) / 2).clamp(0, 1), data_gen)
        target = (w - stats.mean) / stats.std
        loss = F.mse_loss(encoder(images), target)

        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()

        if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps:
            save_checkpoint(
                config.checkpoint,
                {
                    "model": encoder.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "step": step + 1,
                },
            )
        if callback is not None and callback(step + 1, config.steps, {"loss": loss.item()}) is False:
            break

    encoder.eval()
    return encoder

"""Train the identity embedding on rendered faces with random attribute degrees."""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from deepsc.models.identity import IDENTITY_TARGETS, IdentityEmbedding
from deepsc.renderer import IDENTITY_FACTORS, FaceParams, render, sample_params
from deepsc.training.common import StepCallback, TrainConfig, augment, load_checkpoint, save_checkpoint, setup_threads

logger = logging.getLogger(__name__)

_TARGET_COLUMNS = [IDENTITY_FACTORS.index(name) for name in IDENTITY_TARGETS]


def _resample_attributes(params: FaceParams, generator: torch.Generator) -> FaceParams:
    """Return the same identities (and pose) with fresh, independent degrees."""
    fresh = sample_params(len(params), generator)
    return FaceParams(identity=params.identity, degrees=fresh.degrees)


def train_identity(config: TrainConfig, callback: StepCallback | None = None) -> IdentityEmbedding:
    """Train the embedding to regress the identity factors and to ignore the attributes.

    Each step renders every identity twice, with independent degrees. The loss is the squared
    error of the factor head on both renders plus 1 − cosine similarity between the two
    embeddings, so glasses, beard or age do not move the embedding.
    """
    setup_threads(config.threads)
    torch.manual_seed(config.seed)
    model = IdentityEmbedding()
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
        other = _resample_attributes(params, data_gen)
        images = augment(render(params, noise_seed=step), data_gen)
        others = augment(render(other, noise_seed=step + 1), data_gen)
        target = params.identity[:, _TARGET_COLUMNS]

        embeddings = model(torch.cat([images, others]))
        factors = model.factor_head(embeddings)
        regression = F.mse_loss(factors, torch.cat([target, target]))
        first, second = embeddings.chunk(2)
        invariance = (1 - (first * second).sum(1)).mean()
        loss = regression + 0.1 * invariance

        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()

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
        metrics = {"mse": regression.item(), "inv": invariance.item()}
        if callback is not None and callback(step + 1, config.steps, metrics) is False:
            logger.info("identity training interrupted at step %d", step + 1)
            break

    model.eval()
    return model


@torch.no_grad()
def evaluate_identity(model: IdentityEmbedding, n: int = 500, seed: int = 30_000) -> dict[str, float]:
    """Cosine similarity of held-out faces: same identity with other degrees, and other identities.

    Returns:
        ``same_identity`` (mean over n pairs that differ only in their degrees),
        ``other_identity`` (mean over n pairs of different faces) and ``factor_r2``
        (fraction of the identity factors' variance the head explains).
    """
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    params = sample_params(n, gen)
    other = _resample_attributes(params, gen)
    first = model(render(params, noise_seed=seed))
    second = model(render(other, noise_seed=seed + 1))
    shuffled = first.roll(1, dims=0)
    target = params.identity[:, _TARGET_COLUMNS]
    residual = (model.factor_head(first) - target).pow(2).mean()
    return {
        "same_identity": round(float((first * second).sum(1).mean()), 4),
        "other_identity": round(float((first * shuffled).sum(1).mean()), 4),
        "factor_r2": round(float(1 - residual / target.var(0).mean()), 4),
    }

"""Train the bundled StyleGAN2 generator against the procedural renderer.

Each z determines a face (``params_from_latent``), so the generator is trained by supervised
regression rather than from scratch as a GAN, which converges on a 2-core CPU. The synthesis
network learns from latents derived from the renderer parameters: a small embedding network
maps the parameters (identity factors, one-hot degrees) to w_p, and

    L = L1(S(w_p), x) + λ_lpips · LPIPS(S(w_p), x) + λ_attr · CE(P(S(w_p)), degrees)
        + λ_map · ‖M(z) − w_p‖²

with x the rendered face, S the synthesis network, P the frozen attribute predictor and M the
mapping network, which learns to reproduce w_p from z. Feeding the parameters in directly
converges several times faster than learning them through the mapping network (L1 0.18 against
0.29 after 300 steps in one comparison on a 2-core CPU). The attribute term makes the generator
draw the fine attributes (frames, mouth, beard) well enough to be read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from deepsc.attributes import ATTRIBUTES, NUM_DEGREES
from deepsc.models.attribute_discriminator import AttributeDiscriminator
from deepsc.models.predictor import AttributePredictor
from deepsc.models.stylegan2 import Generator
from deepsc.renderer import IDENTITY_FACTORS, FaceParams, params_from_latent, render, sample_params
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

    # NOTE: with LPIPS 0.3 and the attribute term 0.1 from the first step, the generator learned
    # textures that fool the frozen predictor. Its cross-entropy fell to 0.07 on images that were
    # not faces. Both terms stay off by default until they can start from a converged L1 model.
    lpips: float = 0.0
    attribute: float = 0.0
    mapping: float = 1.0


class ParamEmbedding(nn.Module):
    """Renderer parameters → w: identity factors and one-hot degrees through a two-layer MLP."""

    def __init__(self, style_dim: int) -> None:
        super().__init__()
        features = len(IDENTITY_FACTORS) + len(ATTRIBUTES) * NUM_DEGREES
        self.net = nn.Sequential(nn.Linear(features, 256), nn.LeakyReLU(0.2), nn.Linear(256, style_dim))

    def forward(self, params: FaceParams) -> torch.Tensor:
        one_hot = F.one_hot(params.degrees, NUM_DEGREES).float().reshape(len(params), -1)
        return self.net(torch.cat([params.identity * 2 - 1, one_hot], dim=1))


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
) -> tuple[Generator, ParamEmbedding]:
    """Fit the generator to the renderer; resumable through ``config.checkpoint``.

    Returns:
        The generator and the parameter embedding it was trained with.
    """
    setup_threads(config.threads)
    weights = weights or GeneratorLossWeights()
    torch.manual_seed(config.seed)
    generator = build_generator(generator_config)
    embedding = ParamEmbedding(generator.style_dim)
    optimizer = torch.optim.Adam([*generator.parameters(), *embedding.parameters()], lr=lr, betas=(0.0, 0.99))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.steps, eta_min=lr * 0.05)
    predictor.eval().requires_grad_(False)
    start = 0

    state = load_checkpoint(config.checkpoint)
    if state is not None:
        generator.load_state_dict(state["generator"])
        embedding.load_state_dict(state["embedding"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start = state["step"]

    generator.train()
    for step in range(start, config.steps):
        data_gen = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
        z = torch.randn(config.batch_size, generator.style_dim, generator=data_gen)
        params = params_from_latent(z)
        target = render(params, resolution=generator.size, noise_seed=0) * 2 - 1
        w_params = embedding(params)
        images = generator.synthesis(w_params)

        l1 = (images - target).abs().mean()
        mapping = (generator.mapping(z) - w_params.detach()).pow(2).mean()
        loss = l1 + weights.mapping * mapping
        metrics = {"l1": l1.item(), "map": mapping.item()}
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
                    "embedding": embedding.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "step": step + 1,
                },
            )
        if callback is not None and callback(step + 1, config.steps, metrics) is False:
            logger.info("generator training interrupted at step %d", step + 1)
            break

    generator.eval()
    return generator, embedding.eval()


def train_mapping(
    generator: Generator,
    embedding: ParamEmbedding,
    steps: int,
    batch_size: int = 256,
    seed: int = 0,
    lr: float = 1e-3,
    callback: StepCallback | None = None,
) -> Generator:
    """Fit the mapping network alone to reproduce w_p from z, with everything else frozen.

    The degrees are step functions of z, so the mapping needs many more steps than the joint
    training gives it; this stage is cheap because it runs no convolution.
    """
    torch.manual_seed(seed)
    embedding.eval().requires_grad_(False)
    generator.requires_grad_(False)
    generator.style.requires_grad_(True)
    optimizer = torch.optim.Adam(generator.style.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, eta_min=lr * 0.02)
    for step in range(steps):
        data_gen = torch.Generator().manual_seed(seed * 1_000_003 + step)
        z = torch.randn(batch_size, generator.style_dim, generator=data_gen)
        with torch.no_grad():
            target = embedding(params_from_latent(z))
        loss = (generator.mapping(z) - target).pow(2).mean()

        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        if callback is not None and callback(step + 1, steps, {"map": loss.item()}) is False:
            break
    generator.requires_grad_(False)
    return generator.eval()


@torch.no_grad()
def embedding_directions(embedding: ParamEmbedding, samples: int = 4096, seed: int = 0) -> torch.Tensor:
    """Mean change of w_p per degree step of each attribute, (5, D): the editing directions.

    For random faces and every degree d < 5, the embedding of the face at degree d + 1 minus the
    embedding at degree d; averaged, one row moves its attribute by about one degree.
    """
    params = sample_params(samples, torch.Generator().manual_seed(seed))
    rows = []
    for attribute in ATTRIBUTES:
        steps = []
        for degree in range(NUM_DEGREES - 1):
            lower = embedding(params.with_degree(attribute, degree))
            upper = embedding(params.with_degree(attribute, degree + 1))
            steps.append((upper - lower).mean(0))
        rows.append(torch.stack(steps).mean(0))
    return torch.stack(rows)


@dataclass
class AdversarialWeights:
    """Weights of the adversarial fine-tuning objective (on top of L1, weight 1)."""

    lpips: float = 1.0
    detail: float = 1.0  # L1 + LPIPS on the mouth and eye crops at twice their size
    adversarial: float = 0.1
    r1: float = 0.1  # R1 penalty γ on real images, applied every ``r1_every`` steps
    r1_every: int = 16
    mouth: float = 0.0  # L1 + LPIPS on the tight mouth crop at four times its size
    attribute: float = 0.0  # the frozen predictor's cross-entropy at the target degrees


# Regions of a 64×64 aligned face where the fine attributes sit, as (top, bottom, left, right)
# fractions of the image: the mouth (smile, beard) and the eye band (glasses, bangs' edge).
DETAIL_REGIONS: tuple[tuple[float, float, float, float], ...] = ((0.55, 0.95, 0.2, 0.8), (0.28, 0.6, 0.1, 0.9))
# The lips and teeth alone, with room for the pose jitter: the smile's six degrees differ inside it.
MOUTH_REGION: tuple[float, float, float, float] = (0.6, 0.86, 0.26, 0.74)


def detail_loss(
    images: torch.Tensor,
    target: torch.Tensor,
    lpips_model: torch.nn.Module,
    regions: tuple[tuple[float, float, float, float], ...] = DETAIL_REGIONS,
    scale: int = 2,
) -> torch.Tensor:
    """L1 + LPIPS on crops of ``regions`` (the mouth and the eyes), upsampled ``scale`` times: the
    fine attributes are a few pixels of the whole image, so the whole-image losses barely see them.
    images, target: (N, 3, H, W)."""
    size = images.shape[-1]
    total = images.new_zeros(())
    for top, bottom, left, right in regions:
        rows, cols = slice(int(top * size), int(bottom * size)), slice(int(left * size), int(right * size))
        crop = F.interpolate(images[..., rows, cols], scale_factor=scale, mode="bilinear", align_corners=False)
        crop_target = F.interpolate(target[..., rows, cols], scale_factor=scale, mode="bilinear", align_corners=False)
        total = total + (crop - crop_target).abs().mean() + lpips_model(crop, crop_target).mean()
    return total


def train_adversarial(
    config: TrainConfig,
    generator: Generator,
    embedding: ParamEmbedding,
    lpips_model: torch.nn.Module,
    weights: AdversarialWeights | None = None,
    callback: StepCallback | None = None,
    lr: float = 5e-4,
    predictor: AttributePredictor | None = None,
    discriminator: AttributeDiscriminator | None = None,
    train_embedding: bool = True,
    data_offset: int = 500_000,
) -> tuple[Generator, ParamEmbedding, AttributeDiscriminator]:
    """Fine-tune a regression-trained synthesis network with LPIPS and a discriminator.

    L1 regression alone leaves the fine attributes (frames, mouth, beard texture) blurred: the
    mean of the plausible images. Starting from the converged L1 model, the generator minimises

        L = L1(S(w_p), x) + λ_lpips · LPIPS(S(w_p), x) + λ_detail · detail(S(w_p), x)
            + λ_adv · softplus(−D(S(w_p), degrees))

    while the projection discriminator D learns to tell rendered faces from generated ones at the
    same degrees (non-saturating loss, lazy R1 penalty). L1 and LPIPS keep each image tied to its
    rendered target, so the adversarial term only sharpens; the detail term (``detail_loss``)
    weights the mouth and the eyes, where the attributes are a few pixels wide. Resumable through ``config.checkpoint``.

    The mouth stage calls it again with ``weights.mouth`` and ``weights.attribute`` on: L1 + LPIPS
    on the tight mouth crop at 4× and the frozen predictor's cross-entropy at the degrees that
    were rendered. It starts from the first stage's discriminator and keeps the embedding fixed,
    so the mapping network, the statistics of W and the editing directions stay valid.

    Args:
        predictor: the frozen attribute predictor; needed when ``weights.attribute`` > 0.
        discriminator: a trained discriminator to continue; a new one when None.
        train_embedding: whether the parameter embedding learns along with the synthesis network.
        data_offset: added to the data seed, so each stage draws faces of its own.

    Returns:
        The generator, the parameter embedding and the discriminator.
    """
    setup_threads(config.threads)
    weights = weights or AdversarialWeights()
    if weights.attribute > 0 and predictor is None:
        raise ValueError("missing predictor: weights.attribute > 0 needs the frozen attribute predictor")
    torch.manual_seed(config.seed)
    discriminator = discriminator or AttributeDiscriminator(generator.size)
    trained = [*generator.parameters(), *(embedding.parameters() if train_embedding else [])]
    g_optimizer = torch.optim.Adam(trained, lr=lr, betas=(0.0, 0.99))
    d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=lr * 2, betas=(0.0, 0.99))
    lpips_model.eval().requires_grad_(False)
    if predictor is not None:
        predictor.eval().requires_grad_(False)
    generator.train().requires_grad_(True)
    embedding.train(train_embedding).requires_grad_(train_embedding)
    start = 0

    state = load_checkpoint(config.checkpoint)
    if state is not None:
        generator.load_state_dict(state["generator"])
        embedding.load_state_dict(state["embedding"])
        discriminator.load_state_dict(state["discriminator"])
        g_optimizer.load_state_dict(state["g_optimizer"])
        d_optimizer.load_state_dict(state["d_optimizer"])
        start = state["step"]

    for step in range(start, config.steps):
        data_gen = torch.Generator().manual_seed(config.seed * 1_000_003 + data_offset + step)
        z = torch.randn(config.batch_size, generator.style_dim, generator=data_gen)
        params = params_from_latent(z)
        real = render(params, resolution=generator.size, noise_seed=0) * 2 - 1

        # Generator step: stay on the rendered target, look real at its degrees.
        discriminator.requires_grad_(False)
        images = generator.synthesis(embedding(params))
        l1 = (images - real).abs().mean()
        perceptual = lpips_model(images, real).mean()
        detail = detail_loss(images, real, lpips_model)
        adversarial = F.softplus(-discriminator(images, params.degrees)).mean()
        g_loss = l1 + weights.lpips * perceptual + weights.detail * detail + weights.adversarial * adversarial
        stage_metrics = {}
        if weights.mouth > 0:
            mouth = detail_loss(images, real, lpips_model, regions=(MOUTH_REGION,), scale=4)
            g_loss = g_loss + weights.mouth * mouth
            stage_metrics["mouth"] = mouth.item()
        if weights.attribute > 0 and predictor is not None:
            logits = predictor(((images + 1) / 2).clamp(0, 1))  # (N, 5, 6)
            attribute = F.cross_entropy(logits.reshape(-1, NUM_DEGREES), params.degrees.reshape(-1))
            g_loss = g_loss + weights.attribute * attribute
            stage_metrics["attr"] = attribute.item()
        g_optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        g_optimizer.step()
        discriminator.requires_grad_(True)

        # Discriminator step on the same images: rendered faces are real, generated ones fake.
        d_loss = F.softplus(discriminator(images.detach(), params.degrees)).mean()
        d_loss = d_loss + F.softplus(-discriminator(real, params.degrees)).mean()
        if weights.r1 > 0 and step % weights.r1_every == 0:
            real_r1 = real.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(discriminator(real_r1, params.degrees).sum(), real_r1, create_graph=True)
            d_loss = d_loss + weights.r1 / 2 * grad.pow(2).sum(dim=[1, 2, 3]).mean() * weights.r1_every
        d_optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        d_optimizer.step()

        metrics = {
            "l1": l1.item(),
            "lpips": perceptual.item(),
            "detail": detail.item(),
            "g_adv": adversarial.item(),
            "d": d_loss.item(),
            **stage_metrics,
        }
        if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps:
            save_checkpoint(
                config.checkpoint,
                {
                    "generator": generator.state_dict(),
                    "embedding": embedding.state_dict(),
                    "discriminator": discriminator.state_dict(),
                    "g_optimizer": g_optimizer.state_dict(),
                    "d_optimizer": d_optimizer.state_dict(),
                    "step": step + 1,
                },
            )
        if callback is not None and callback(step + 1, config.steps, metrics) is False:
            logger.info("adversarial fine-tuning interrupted at step %d", step + 1)
            break

    generator.eval().requires_grad_(False)
    return generator, embedding.eval().requires_grad_(False), discriminator.eval().requires_grad_(False)

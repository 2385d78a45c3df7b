"""Train the semantic field functions through the noisy channel (Editable-DeepSC, eqs. 10–13).

For each attribute a, a batch of faces at known degrees a_i takes one field step, up (target
a_i + 1) or down (the negative step, target a_i − 1). The stepped latent then crosses the channel
as the services send it: power normalisation, AWGN at an SNR drawn uniformly from −6 to 18 dB per
face, and the receiver's LMMSE estimate (``awgn_round_trip``). The generator renders what the receiver would
decode, and

    L = λ_pred·CE(P_a(G(ŵ)), target) + λ_keep·CE(P_others(G(ŵ)), their degrees)
        + λ_id·‖Id(G(ŵ)) − Id(G(w))‖₁ + λ_disc·softplus(−D(G(ŵ))) + λ_step·‖Δ‖²

with P the frozen predictor, Id the identity embedding and D the discriminator's unconditional
score. The λ_keep term (the other attributes stay put) and the small step penalty are additions
to the loss of Editable-DeepSC. The edit success and other-attribute change of ``deepsc eval-edit`` measure
what they buy.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from deepsc.attributes import ATTRIBUTES, MAX_DEGREE, NUM_DEGREES
from deepsc.corpus import generate_corpus
from deepsc.editing import synthesise
from deepsc.latent_codec import LatentStatistics, awgn_round_trip
from deepsc.models.attribute_discriminator import AttributeDiscriminator
from deepsc.models.identity import IdentityEmbedding
from deepsc.models.predictor import AttributePredictor
from deepsc.models.semantic_field import SemanticFields
from deepsc.models.stylegan2 import Generator
from deepsc.models.text_encoder import TextEncoder
from deepsc.renderer import sample_params
from deepsc.training.common import StepCallback, TrainConfig, load_checkpoint, save_checkpoint, setup_threads

logger = logging.getLogger(__name__)

# SNR range of the training channel, in dB: the range Editable-DeepSC evaluates over.
TRAIN_SNR_DB = (-6.0, 18.0)


@dataclass
class FieldLossWeights:
    """Weights of the field's training loss (see the module docstring)."""

    prediction: float = 1.0
    keep: float = 0.5
    identity: float = 2.0
    discriminator: float = 0.05
    step: float = 0.002


def text_bank(encoder: TextEncoder | None, text_dim: int, seed: int = 0) -> dict[tuple[str, int], torch.Tensor]:
    """E_T of the training corpus per (attribute, direction), direction +1 or −1.

    An increase field step is conditioned on instructions that raise the attribute (relative
    requests for more, absolute targets above 0), a decrease on the others. Without a text encoder
    every entry is one zero vector.
    """
    bank: dict[tuple[str, int], torch.Tensor] = {}
    corpus = generate_corpus("train", seed=seed, per_template=2)
    for attribute in ATTRIBUTES:
        for sign in (1, -1):
            if encoder is None:
                bank[(attribute, sign)] = torch.zeros(1, text_dim)
                continue
            texts = [
                item.text
                for item in corpus
                if item.attribute == attribute
                and (
                    (item.mode == "change" and item.amount * sign > 0)
                    or (item.mode == "target" and (item.degree > 0) == (sign > 0))
                )
            ]
            with torch.no_grad():
                bank[(attribute, sign)] = encoder.embed(encoder.encode_tokens(texts))
    return bank


def start_latents(
    count: int, latent_space: str, generator: Generator, embedding: torch.nn.Module | None, data_gen: torch.Generator
) -> torch.Tensor:
    """Return start latents (N, D) to edit: random z, or the w of random renderer parameters.

    A w comes from the parameter embedding when the bundle has one, else from the mapping network.
    """
    if latent_space == "z":
        return torch.randn(count, generator.style_dim, generator=data_gen)
    if embedding is not None:
        with torch.no_grad():
            return embedding(sample_params(count, data_gen))
    with torch.no_grad():
        return generator.mapping(torch.randn(count, generator.style_dim, generator=data_gen))


def train_fields(
    config: TrainConfig,
    latent_space: str,
    generator: Generator,
    predictor: AttributePredictor,
    identity: IdentityEmbedding,
    stats: LatentStatistics,
    directions: torch.Tensor,
    text_encoder: TextEncoder | None = None,
    text_dim: int | None = None,
    discriminator: AttributeDiscriminator | None = None,
    embedding: torch.nn.Module | None = None,
    weights: FieldLossWeights | None = None,
    callback: StepCallback | None = None,
    lr: float = 1e-3,
) -> SemanticFields:
    """Train the five fields of one latent space; ``config.steps`` steps per attribute.

    Args:
        stats: statistics of the latent that crosses the channel (the bundle's, for ``latent_space``).
        directions: (5, D) starting direction per attribute, in latent units, one unit ≈ one degree.
        text_dim: size of E_T when there is no text encoder (E_T is then zero).
        embedding: the renderer-parameter embedding, which gives on-manifold start latents in W.
    """
    setup_threads(config.threads)
    weights = weights or FieldLossWeights()
    torch.manual_seed(config.seed)
    if text_encoder is not None:
        text_dim = text_encoder.lstm.hidden_size * 4
    elif text_dim is None:
        raise ValueError("without a text encoder, text_dim sets the size of the (zero) E_T")
    fields = SemanticFields(latent_space, generator.style_dim, identity.dim, text_dim)
    fields.set_statistics(stats.mean, stats.std)
    fields.set_base(directions)
    bank = text_bank(text_encoder, text_dim, seed=config.seed)
    for module in (generator, predictor, identity, discriminator):
        if module is not None:
            module.eval().requires_grad_(False)
    optimizers = {name: torch.optim.Adam(fields.fields[name].parameters(), lr=lr) for name in ATTRIBUTES}
    total = config.steps * len(ATTRIBUTES)
    start = 0

    state = load_checkpoint(config.checkpoint)
    if state is not None:
        fields.load_state_dict(state["fields"])
        for name in ATTRIBUTES:
            optimizers[name].load_state_dict(state["optimizers"][name])
        start = state["step"]

    fields.train()
    for step in range(start, total):
        attribute = ATTRIBUTES[step // config.steps]
        index = ATTRIBUTES.index(attribute)
        data_gen = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
        rng = random.Random(config.seed * 1_000_003 + step)
        latents = start_latents(config.batch_size, latent_space, generator, embedding, data_gen)

        # Current degrees as the editing loop reads them: the predictor on the rendered latent.
        with torch.no_grad():
            images = synthesise(generator, latents, latent_space)
            degrees = predictor(images).argmax(-1)  # (N, 5)
            identity_before = identity(images)
        current = degrees[:, index]
        signs = torch.tensor([rng.choice((1, -1)) for _ in range(config.batch_size)])
        signs = torch.where(current == 0, 1, torch.where(current == MAX_DEGREE, -1, signs))
        targets = (current + signs).clamp(0, MAX_DEGREE)
        text = torch.stack(
            [bank[(attribute, int(sign))][rng.randrange(len(bank[(attribute, int(sign))]))] for sign in signs]
        )

        delta = fields(attribute, latents, identity_before, text)
        edited = latents + signs.unsqueeze(1).to(delta) * delta
        snr_db = torch.empty(config.batch_size).uniform_(*TRAIN_SNR_DB, generator=data_gen)
        received = awgn_round_trip(edited, stats, snr_db, generator=data_gen)
        output = synthesise(generator, received, latent_space)

        logits = predictor(output)  # (N, 5, 6)
        prediction = F.cross_entropy(logits[:, index], targets)
        others = [i for i in range(len(ATTRIBUTES)) if i != index]
        keep = F.cross_entropy(logits[:, others].reshape(-1, NUM_DEGREES), degrees[:, others].reshape(-1))
        identity_loss = (identity(output) - identity_before).abs().sum(1).mean()
        step_loss = (delta / fields.std).pow(2).mean()
        loss = (
            weights.prediction * prediction
            + weights.keep * keep
            + weights.identity * identity_loss
            + weights.step * step_loss
        )
        metrics = {"pred": prediction.item(), "keep": keep.item(), "id": identity_loss.item()}
        if discriminator is not None and weights.discriminator > 0:
            realness = F.softplus(-discriminator(output * 2 - 1)).mean()
            loss = loss + weights.discriminator * realness
            metrics["disc"] = realness.item()
        metrics["acc"] = (logits[:, index].argmax(-1) == targets).float().mean().item()

        optimizers[attribute].zero_grad(set_to_none=True)
        loss.backward()
        optimizers[attribute].step()

        if (step + 1) % config.checkpoint_every == 0 or step + 1 == total:
            save_checkpoint(
                config.checkpoint,
                {
                    "fields": fields.state_dict(),
                    "optimizers": {name: optimizers[name].state_dict() for name in ATTRIBUTES},
                    "step": step + 1,
                },
            )
        if callback is not None and callback(step + 1, total, {**metrics, "attribute": float(index)}) is False:
            logger.info("field training interrupted at step %d", step + 1)
            break

    fields.eval().requires_grad_(False)
    return fields

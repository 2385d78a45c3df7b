"""``deepsc train PART``: train one part of a bundle and record it in ``bundle.json``."""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from deepsc.attributes import ATTRIBUTES, NUM_DEGREES
from deepsc.bundle import sha256_of, tensor_shapes, write_manifest, write_weights
from deepsc.latent_codec import LatentStatistics, allocate_power
from deepsc.models.predictor import AttributePredictor
from deepsc.models.stylegan2 import Generator
from deepsc.renderer import IDENTITY_FACTORS, params_from_latent, render, sample_params
from deepsc.training.common import TrainConfig
from deepsc.training.field import train_fields
from deepsc.training.generator import (
    SYNTHETIC_64_CONFIG,
    AdversarialWeights,
    ParamEmbedding,
    build_generator,
    embedding_directions,
    train_adversarial,
    train_generator,
    train_mapping,
)
from deepsc.training.identity import evaluate_identity, train_identity
from deepsc.training.inversion_encoder import train_inversion_encoder
from deepsc.training.model_card import write_model_card
from deepsc.training.predictor import evaluate_predictor, train_predictor
from deepsc.training.text import evaluate_text_encoder, train_text_encoder

logger = logging.getLogger(__name__)

PREDICTOR_CONFIG = {"resolution": 64, "width": 32}
DEFAULT_STEPS = {
    "predictor": 2000,
    "eval-predictor": 2000,
    "generator": 9000,
    "editing": 8192,
    "text": 12000,
    "encoder": 1500,
    "identity": 1000,
    "field": 600,
}
# Steps of the generator's adversarial fine-tuning after its regression stage.
DEFAULT_ADVERSARIAL_STEPS = 4000
# Steps of the generator's mouth stage after the adversarial one, and its loss weights: the
# adversarial stage's objective plus the tight mouth crop and the predictor's cross-entropy.
DEFAULT_MOUTH_STEPS = 1500
MOUTH_STAGE_WEIGHTS = AdversarialWeights(mouth=1.0, attribute=0.2)
# Steps of the mapping-only stage per step of the joint generator training.
MAPPING_STEPS_PER_STEP = 3
# Added to --seed for the evaluation predictor, so it never shares data or weights with the predictor.
EVAL_PREDICTOR_SEED_OFFSET = 1000
DEFAULT_BATCH = {
    "predictor": 64,
    "eval-predictor": 64,
    "generator": 32,
    "text": 64,
    "encoder": 64,
    "identity": 32,
    "field": 24,
}
IDENTITY_CONFIG = {"width": 24, "dim": 64}
FIELD_HIDDEN = 256
TEXT_ENCODER_CONFIG = {"embed_dim": 64, "hidden": 96}


def _progress(desc: str):
    from tqdm import tqdm

    bar = tqdm(desc=desc, unit="step", file=sys.stderr, disable=not sys.stderr.isatty())

    def callback(step: int, total: int, metrics: dict[str, float]) -> None:
        bar.total = total
        bar.n = step
        bar.set_postfix({key: f"{value:.4f}" for key, value in metrics.items()}, refresh=False)
        bar.refresh()
        if step % 500 == 0:
            logger.info("%s step %d/%d %s", desc, step, total, metrics)

    return callback


def _update_manifest(out: Path, metrics_key: str, metrics: dict) -> None:
    """Rewrite bundle.json with every weight file now in the folder and the new metrics."""
    previous = json.loads((out / "bundle.json").read_text()) if (out / "bundle.json").exists() else {}
    files = {}
    for part in (
        "generator",
        "param_embedding",
        "discriminator",
        "predictor",
        "eval_predictor",
        "editing",
        "text_encoder",
        "inversion_encoder",
        "identity",
        "semantic_field_w",
        "semantic_field_z",
    ):
        path = out / f"{part}.safetensors"
        if path.exists():
            files[part] = {
                "path": path.name,
                "format": "safetensors",
                "sha256": sha256_of(path),
                "tensors": tensor_shapes(path),
            }
    vocab = out / "text_vocab.json"
    if vocab.exists():
        files["text_vocab"] = {"path": vocab.name, "format": "json", "sha256": sha256_of(vocab)}
    recorded = dict(previous.get("metrics", {}))
    recorded[metrics_key] = metrics
    write_manifest(
        out,
        name=out.name,
        generator_config=SYNTHETIC_64_CONFIG,
        predictor_config=PREDICTOR_CONFIG,
        files=files,
        resolution=SYNTHETIC_64_CONFIG["size"],
        latent_size=SYNTHETIC_64_CONFIG["style_dim"],
        extra={
            "metrics": recorded,
            "text_encoder": TEXT_ENCODER_CONFIG,
            "identity": IDENTITY_CONFIG,
            "semantic_field": {"text_dim": 4 * TEXT_ENCODER_CONFIG["hidden"], "hidden": FIELD_HIDDEN},
            "side_information": "none crosses the channel; w: per-dimension mean and std and the eigenbasis of the covariance of the standardised w, shared through editing.safetensors; z: none needed (PixelNorm)",
        },
    )


# Power allocation of the sent W (see ``deepsc.latent_codec``): design SNR in dB, the uniform share
# of the component weights, and the faces the predictor's sensitivity is averaged over.
ALLOCATION_SNR_DB = 6.0
ALLOCATION_FLOOR_WEIGHT = 0.2
SENSITIVITY_SAMPLES = 256


def degree_sensitivity(
    generator: Generator,
    predictor: AttributePredictor,
    inputs: torch.Tensor,
    to_w: Callable[[torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """Return E[Jᵀ J] (D, D) over the inputs (N, D), with J the Jacobian of the five expected degrees.

    ``to_w`` maps an input batch to w. Each face's degrees depend on its own input only, so one
    gradient of the batch sum per attribute gives every face's row.
    """
    inputs = inputs.detach().clone().requires_grad_(True)
    images = ((generator.synthesis(to_w(inputs)) + 1) / 2).clamp(0, 1)
    degrees = (predictor(images).softmax(-1) * torch.arange(NUM_DEGREES)).sum(-1)  # (N, 5) expected degrees
    sensitivity = torch.zeros(inputs.shape[1], inputs.shape[1])
    for attribute in range(degrees.shape[1]):
        (gradient,) = torch.autograd.grad(degrees[:, attribute].sum(), inputs, retain_graph=True)  # (N, D)
        sensitivity += gradient.T @ gradient / len(inputs)
    return sensitivity.detach()


def _load_predictor(out: Path, part: str = "predictor") -> AttributePredictor:
    path = out / f"{part}.safetensors"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; run `deepsc train {part.replace('_', '-')} --out {out}` first")
    predictor = AttributePredictor(**PREDICTOR_CONFIG)
    predictor.load_state_dict(load_file(str(path)))
    return predictor.eval()


def _previous_metrics(out: Path, part: str) -> dict:
    path = out / "bundle.json"
    return json.loads(path.read_text()).get("metrics", {}).get(part, {}) if path.exists() else {}


def _checkpoint_step(path: Path) -> int:
    if not path.exists():
        return 0
    return int(torch.load(path, map_location="cpu", weights_only=False).get("step", 0))


def load_param_embedding(out: Path) -> ParamEmbedding:
    """The renderer-parameter embedding into W that a bundle's generator was trained with."""
    path = out / "param_embedding.safetensors"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; run `deepsc train generator --out {out}` first")
    embedding = ParamEmbedding(SYNTHETIC_64_CONFIG["style_dim"])
    embedding.load_state_dict(load_file(str(path)))
    return embedding.eval()


def _train_field(out: Path, latent_space: str, config: TrainConfig):
    """Train the fields of one latent space from the bundle's other parts."""
    from deepsc.bundle import load_bundle

    bundle = load_bundle(out, verify=False)
    if bundle.identity is None:
        raise FileNotFoundError(
            f"{out / 'identity.safetensors'} not found; run `deepsc train identity --out {out}` first"
        )
    embedding = load_param_embedding(out) if (out / "param_embedding.safetensors").exists() else None
    if latent_space == "w":
        directions = bundle.directions
    else:
        # In Z the renderer reads attribute a off coordinate 21 + a (params_from_latent): half a
        # unit there is about one degree near the middle of its range.
        directions = torch.zeros(len(ATTRIBUTES), bundle.latent_size)
        for i in range(len(ATTRIBUTES)):
            directions[i, len(IDENTITY_FACTORS) + i] = 0.5
    return train_fields(
        config,
        latent_space,
        bundle.generator,
        bundle.predictor,
        bundle.identity,
        bundle.latent_stats(latent_space),
        directions,
        text_encoder=bundle.text_encoder,
        text_dim=4 * TEXT_ENCODER_CONFIG["hidden"],
        discriminator=bundle.discriminator,
        embedding=embedding,
        callback=_progress(f"field {latent_space}"),
    )


def _load_generator(out: Path):
    path = out / "generator.safetensors"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; run `deepsc train generator --out {out}` first")
    generator = build_generator()
    generator.load_state_dict(load_file(str(path)))
    return generator.eval().requires_grad_(False)


@torch.no_grad()
@torch.no_grad()
def evaluate_generator(
    generator,
    predictor: AttributePredictor,
    n: int = 1000,
    seed: int = 20_000,
    eval_predictor: AttributePredictor | None = None,
) -> dict:
    """Measure how well generator samples match the renderer faces their z determines.

    Returns PSNR against the renderer and, per attribute, the fraction of samples whose predicted
    degree equals the degree the z encodes. The mouth stage trains against the predictor, so
    ``eval_predictor``, when given, reads the same samples a second time.
    """
    gen = torch.Generator().manual_seed(seed)
    correct = torch.zeros(len(ATTRIBUTES))
    checked = torch.zeros(len(ATTRIBUTES))
    squared_error = 0.0
    for start in range(0, n, 250):
        z = torch.randn(min(250, n - start), generator.style_dim, generator=gen)
        params = params_from_latent(z)
        images = ((generator(z) + 1) / 2).clamp(0, 1)
        squared_error += float((images - render(params)).pow(2).mean()) * z.shape[0]
        correct += (predictor.predict_degrees(images) == params.degrees).float().sum(0)
        if eval_predictor is not None:
            checked += (eval_predictor.predict_degrees(images) == params.degrees).float().sum(0)
    mse = squared_error / n
    metrics = {
        "samples": n,
        "psnr_db": round(10 * math.log10(1 / mse), 2),
        "degree_accuracy": {name: round(float(correct[i] / n), 4) for i, name in enumerate(ATTRIBUTES)},
    }
    if eval_predictor is not None:
        metrics["eval_predictor_degree_accuracy"] = {
            name: round(float(checked[i] / n), 4) for i, name in enumerate(ATTRIBUTES)
        }
    return metrics


def train_part(
    part: str,
    out: Path,
    steps: int | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    checkpoint: str | None = None,
    threads: int = 0,
    eval_samples: int | None = None,
    adversarial_steps: int | None = None,
    latent_space: str = "both",
    mouth_steps: int | None = None,
) -> dict:
    """Train ``part`` into the bundle folder ``out`` and return its measured metrics.

    Args:
        eval_samples: size of the evaluation sets of the predictor (default 1200 faces) and the
            generator (default 1000 samples); smaller only for smoke tests.
        latent_space: field only: train the fields of "w", "z" or "both".
        adversarial_steps: steps of the generator's adversarial fine-tuning (default 4000; 0
            skips it and writes no discriminator).
        mouth_steps: steps of the generator's mouth stage after the adversarial one (default
            1500; 0 skips it).
    """
    out.mkdir(parents=True, exist_ok=True)
    steps = steps or DEFAULT_STEPS[part]
    checkpoint_path = Path(checkpoint) if checkpoint else Path("runs") / f"{part}.ckpt"
    started = time.perf_counter()
    config = TrainConfig(
        steps=steps,
        batch_size=batch_size or DEFAULT_BATCH.get(part, 64),
        seed=seed,
        checkpoint=checkpoint_path,
        threads=threads,
    )
    metrics: dict[str, Any]

    if part == "predictor":
        model = train_predictor(config, _progress("predictor"), width=PREDICTOR_CONFIG["width"])
        write_weights(out, "predictor", model.state_dict())
        faces = eval_samples or 1200
        metrics = {
            "held_out_faces": faces,
            "degree_accuracy": {k: round(v, 4) for k, v in evaluate_predictor(model, n=faces).items()},
        }
    elif part == "eval-predictor":
        # The same recipe from another seed: a second opinion on received edits (see Bundle.eval_predictor).
        config = replace(config, seed=seed + EVAL_PREDICTOR_SEED_OFFSET)
        model = train_predictor(config, _progress("eval-predictor"), width=PREDICTOR_CONFIG["width"])
        write_weights(out, "eval_predictor", model.state_dict())
        faces = eval_samples or 1200
        metrics = {
            "seed": config.seed,
            "held_out_faces": faces,
            "degree_accuracy": {k: round(v, 4) for k, v in evaluate_predictor(model, n=faces).items()},
        }
    elif part == "generator":
        from deepsc.metrics.lpips import load_lpips

        predictor = _load_predictor(out)
        resumed_at = _checkpoint_step(checkpoint_path)
        lpips_model = load_lpips()
        generator, embedding = train_generator(config, predictor, lpips_model, callback=_progress("generator"))
        adversarial_steps = DEFAULT_ADVERSARIAL_STEPS if adversarial_steps is None else adversarial_steps
        mouth_steps = DEFAULT_MOUTH_STEPS if mouth_steps is None else mouth_steps
        adversarial_checkpoint = checkpoint_path.with_name(checkpoint_path.stem + "-adversarial.ckpt")
        adversarial_resumed_at = _checkpoint_step(adversarial_checkpoint)
        discriminator = None
        if adversarial_steps > 0:
            adversarial_config = replace(config, steps=adversarial_steps, checkpoint=adversarial_checkpoint)
            generator, embedding, discriminator = train_adversarial(
                adversarial_config, generator, embedding, lpips_model, callback=_progress("adversarial")
            )
        if mouth_steps > 0:
            # The embedding stays fixed, so the mapping stage below and the editing statistics still fit.
            mouth_config = replace(
                config, steps=mouth_steps, checkpoint=checkpoint_path.with_name(checkpoint_path.stem + "-mouth.ckpt")
            )
            generator, embedding, discriminator = train_adversarial(
                mouth_config,
                generator,
                embedding,
                lpips_model,
                MOUTH_STAGE_WEIGHTS,
                callback=_progress("mouth"),
                predictor=predictor,
                discriminator=discriminator,
                train_embedding=False,
                data_offset=900_000,
            )
        if discriminator is not None:
            write_weights(out, "discriminator", discriminator.state_dict())
        mapping_steps = MAPPING_STEPS_PER_STEP * steps
        train_mapping(generator, embedding, mapping_steps, seed=seed, callback=_progress("mapping"))
        write_weights(out, "generator", generator.state_dict())
        write_weights(out, "param_embedding", embedding.state_dict())
        eval_predictor = (
            _load_predictor(out, "eval_predictor") if (out / "eval_predictor.safetensors").exists() else None
        )
        metrics = evaluate_generator(generator, predictor, n=eval_samples or 1000, eval_predictor=eval_predictor)
        metrics["mapping_steps"] = mapping_steps
        metrics["adversarial_steps"] = adversarial_steps
        metrics["mouth_steps"] = mouth_steps
        if resumed_at:
            metrics["resumed_at_step"] = resumed_at
        previous = _previous_metrics(out, "generator")
        if resumed_at >= steps and previous:
            # The regression stage was complete: keep the time it took when it ran.
            metrics["regression_seconds"] = previous.get("regression_seconds", previous.get("seconds"))
        if adversarial_steps > 0 and adversarial_resumed_at >= adversarial_steps and previous:
            # So was the adversarial stage: keep the time of the run that trained it.
            metrics["adversarial_run_seconds"] = previous.get("adversarial_run_seconds", previous.get("seconds"))
    elif part == "editing":
        embedding = load_param_embedding(out)
        with torch.no_grad():
            directions = embedding_directions(embedding, samples=steps, seed=seed)
            w = embedding(sample_params(steps, torch.Generator().manual_seed(seed + 1)))
        stats = LatentStatistics.estimate(w)
        generator, predictor = _load_generator(out), _load_predictor(out)
        assert stats.basis is not None and stats.variances is not None
        basis, mean, std = stats.basis, stats.mean, stats.std

        # W: the prior's eigen-coefficients are sent; each is weighted by the diagonal of E[JᵀJ].
        coefficients = ((w - mean) / std) @ basis
        w_sensitivity = degree_sensitivity(
            generator, predictor, coefficients[:SENSITIVITY_SAMPLES], lambda c: mean + std * (c @ basis.T)
        )
        gains = allocate_power(
            stats.variances,
            w_sensitivity.diagonal(),
            ALLOCATION_SNR_DB,
            ALLOCATION_FLOOR_WEIGHT,
            power_variances=coefficients.var(0),
        )

        # Z ~ N(0, I) has unit variance in every basis, so the eigenbasis of E[JᵀJ] is sent.
        z = torch.randn(SENSITIVITY_SAMPLES, generator.style_dim, generator=torch.Generator().manual_seed(seed + 2))
        z_sensitivity, z_basis = torch.linalg.eigh(degree_sensitivity(generator, predictor, z, generator.mapping))
        z_gains = allocate_power(
            torch.ones_like(z_sensitivity), z_sensitivity.clamp_min(0), ALLOCATION_SNR_DB, ALLOCATION_FLOOR_WEIGHT
        )
        write_weights(
            out,
            "editing",
            {
                "directions": directions,
                "w_mean": stats.mean,
                "w_std": stats.std,
                "w_expected_norm": torch.tensor(stats.expected_norm),
                "w_basis": stats.basis,
                "w_variances": stats.variances,
                "w_gains": gains,
                "z_basis": z_basis.contiguous(),
                "z_gains": z_gains,
            },
        )
        metrics = {
            "samples": steps,
            "w_expected_norm": round(stats.expected_norm, 4),
            "power_allocation": {
                "design_snr_db": ALLOCATION_SNR_DB,
                "floor_weight": ALLOCATION_FLOOR_WEIGHT,
                "sensitivity_samples": SENSITIVITY_SAMPLES,
                "unused_components": {"w": int((gains == 0).sum()), "z": int((z_gains == 0).sum())},
            },
        }
    elif part == "text":
        encoder = train_text_encoder(config, _progress("text"))
        write_weights(out, "text_encoder", encoder.state_dict())
        (out / "text_vocab.json").write_text(json.dumps(encoder.vocab) + "\n")
        metrics = {
            "held_out": evaluate_text_encoder(encoder, "held_out"),
            "train": evaluate_text_encoder(encoder, "train", seed=0),
        }
    elif part == "encoder":
        generator = _load_generator(out)
        editing_path = out / "editing.safetensors"
        if not editing_path.exists():
            raise FileNotFoundError(f"{editing_path} not found; run `deepsc train editing --out {out}` first")
        editing = load_file(str(editing_path))
        stats = LatentStatistics(editing["w_mean"], editing["w_std"], float(editing["w_expected_norm"]))
        encoder_model = train_inversion_encoder(config, generator, stats, _progress("encoder"))
        write_weights(out, "inversion_encoder", encoder_model.state_dict())
        metrics = {"steps": steps}
    elif part == "identity":
        identity = train_identity(config, _progress("identity"))
        write_weights(out, "identity", identity.state_dict())
        metrics = {"held_out_faces": eval_samples or 500, **evaluate_identity(identity, n=eval_samples or 500)}
    elif part == "field":
        metrics = {"steps_per_attribute": steps, "latent_spaces": {}}
        for space in ("w", "z") if latent_space == "both" else (latent_space,):
            space_started = time.perf_counter()
            fields = _train_field(
                out, space, replace(config, checkpoint=checkpoint_path.with_name(f"field-{space}.ckpt"))
            )
            write_weights(out, f"semantic_field_{space}", fields.state_dict())
            metrics["latent_spaces"][space] = {
                "seconds": round(time.perf_counter() - space_started, 1),
                "command": f"deepsc train field --out {out} --steps {steps} --seed {seed} --latent-space {space}",
            }
    else:
        raise ValueError(
            f"unknown part {part!r}; expected predictor, generator, editing, text, encoder, identity or field"
        )

    metrics["seconds"] = round(time.perf_counter() - started, 1)
    metrics["command"] = f"deepsc train {part} --out {out} --steps {steps} --seed {seed}"
    if part == "generator":
        metrics["command"] += f" --adversarial-steps {metrics['adversarial_steps']} --mouth-steps {mouth_steps}"
    if part == "field":
        metrics["command"] += f" --latent-space {latent_space}"
        # Training one space keeps the other space's record, so W and Z can train in two processes.
        # The record is read now, not at the start, because the other process may have finished since.
        previous = _previous_metrics(out, "field")
        if previous.get("steps_per_attribute") == steps:
            metrics["latent_spaces"] = {**previous.get("latent_spaces", {}), **metrics["latent_spaces"]}
    _update_manifest(out, part, metrics)
    write_model_card(out)
    return metrics

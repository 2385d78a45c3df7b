"""Render a bundle's MODEL_CARD.md from the metrics its training commands recorded."""

from __future__ import annotations

import json
from pathlib import Path

from deepsc.renderer import IDENTITY_FACTORS


def _accuracy_table(accuracy: dict[str, float]) -> str:
    header = "| " + " | ".join(accuracy) + " |"
    rule = "|" + "---|" * len(accuracy)
    values = "| " + " | ".join(f"{value:.3f}" for value in accuracy.values()) + " |"
    return "\n".join([header, rule, values])


def render_model_card(folder: Path) -> str:
    """Return the model card text for the bundle in ``folder``."""
    manifest = json.loads((folder / "bundle.json").read_text())
    metrics = manifest.get("metrics", {})
    generator = manifest["generator"]
    latent = manifest["latent"]["size"]
    resolution = manifest["resolution"]
    lines = [
        f"# Model card: {manifest['name']}",
        "",
        f"The bundled default of editable-deepsc: a {resolution}×{resolution} StyleGAN2 generator whose w latent has "
        f"{latent} real values (CBR {latent}/({resolution}·{resolution}·3) = {latent / (resolution * resolution * 3):.6f}), "
        "an attribute predictor and the editing directions, trained by this repository's commands on a procedural face world. "
        "Licence: Apache-2.0.",
        "",
        "## Data",
        "",
        f"Faces drawn on the fly by `deepsc/renderer.py` at {resolution}×{resolution}: identity factors "
        f"({', '.join(IDENTITY_FACTORS)}) drawn uniformly, and five attributes (bangs, eyeglasses, beard, smile, age) at "
        "six exact degrees each. Neighbouring degrees differ by at least two pixels in extent or by a clear change in "
        "shade (bangs: the fringe's lower edge moves about 3 pixels per degree; eyeglasses: thin frames, thick frames, "
        "then lens tint 0.35, 0.65, 0.92; beard: the beard's upper edge rises about 3.5 pixels per degree with denser "
        "hair; smile: wider, more curved, then open mouth; age: greyer hair and more wrinkles). Pose jitter: shifts of "
        "up to ±5 % of the width and ±4 % of the height, scale ±5 %, tilt ±0.06 rad. The generator's training target "
        "for a latent z is the face whose parameters are read off z (`params_from_latent`), so every sample has exact "
        "labels.",
        "",
        "## Networks",
        "",
        f"- `generator.safetensors`: StyleGAN2 (rosinality parameter names), style_dim {generator['style_dim']}, "
        f"{generator['n_mlp']} mapping layers, channels {generator['channels']} per resolution. Trained by regression "
        "to the renderer: the synthesis network renders w_p, an embedding of the renderer parameters learned with it, "
        "under an L1 loss (the LPIPS and attribute terms of the trainer are off: started from scratch they taught the "
        "generator textures that fool the predictor); the mapping "
        "network learns to reproduce w_p from z (squared error), jointly and then alone for three times as many steps. "
        "No adversarial training yet.",
        "- `param_embedding.safetensors`: the embedding of renderer parameters into W used to train the generator; the "
        "editing directions and the statistics of W come from it.",
        "- `predictor.safetensors`: CNN over the face plus a full-resolution mouth branch, six-way head per attribute.",
        "- `editing.safetensors`: per-attribute w directions (the mean change of the parameter embedding per degree "
        "step, so one unit ≈ one degree) and the statistics of w used to restore its scale at the receiver.",
        "",
        "## Side information",
        "",
        "The sender normalises the standardised latent u = (w − mean)/std to mean power P per real value and sends "
        f"exactly {latent} values; nothing else crosses the channel. The receiver multiplies by the expected norm E‖u‖ "
        "stored in `editing.safetensors` and undoes the standardisation. For z the mapping network's PixelNorm makes "
        "the scale irrelevant.",
        "",
        "## Measured quality",
        "",
    ]
    if "predictor" in metrics:
        predictor = metrics["predictor"]
        lines += [
            f"Attribute predictor, exact-degree accuracy on {predictor['held_out_faces']} held-out rendered faces:",
            "",
            _accuracy_table(predictor["degree_accuracy"]),
            "",
        ]
    if "generator" in metrics:
        gen = metrics["generator"]
        lines += [
            f"Generator, on {gen['samples']} random z: PSNR against the rendered face that z encodes "
            f"{gen['psnr_db']:.2f} dB; fraction of samples whose predicted degree equals the degree z encodes:",
            "",
            _accuracy_table(gen["degree_accuracy"]),
            "",
        ]
    if "text" in metrics:
        text = metrics["text"]
        lines += [
            f"Text semantic encoder (BiLSTM): {text['held_out']['accuracy']:.3f} of {text['held_out']['instructions']} "
            f"held-out phrasings (sentence templates never used in training) read fully right; "
            f"{text['train']['accuracy']:.3f} on the {text['train']['instructions']} training instructions.",
            "",
        ]
    lines += [
        "## Training commands and time",
        "",
        "Wall-clock time of the recorded runs on a 2-core x86-64 CPU (torch 2.14.1, CPU only); other work shared the "
        "CPU during some of them, so an idle machine is faster:",
        "",
    ]
    for part in ("predictor", "generator", "editing", "text", "encoder"):
        if part in metrics:
            lines.append(f"- `{metrics[part]['command']}`: {metrics[part]['seconds'] / 60:.1f} min")
    lines += [
        "",
        "`make bundle` runs them in order; each is resumable from its checkpoint in `runs/`. These numbers are "
        "rewritten from `bundle.json` by every `deepsc train` command.",
        "",
        "## Limits",
        "",
        "- Real photos are inverted into a cartoon world: the output is a likeness in that style, not a photo.",
        "- The generator is trained by L1 regression only, so it draws the fine attributes (frames, mouth, beard "
        "texture) blurred: the predictor reads the degree that z encodes on only part of its samples (table above). "
        "Adversarial and perceptual fine-tuning are the next step.",
        "- The editing directions are constant per attribute; changing one attribute can move others a little.",
        "- Restoring the latent's scale from the expected norm costs a radial error of a few percent.",
        "",
    ]
    return "\n".join(lines)


def write_model_card(folder: Path) -> Path:
    path = folder / "MODEL_CARD.md"
    path.write_text(render_model_card(folder))
    return path

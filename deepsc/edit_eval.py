"""``deepsc eval-edit``: how well edits survive the channel, on held-out renderer faces.

Each face is inverted once. The Semantic Editing Module edits the latent at the sender, where the
predictor checks it without noise. With ``channel_aware`` (the default, as in the services), the
sender receives the SNR with the job and edits once per evaluated SNR, so output determination
simulates that channel. Otherwise one edit serves every SNR. The edited latent crosses an AWGN
channel with one seeded noise draw per face and SNR, independent of the sender's simulation. For
the received image:

- edit success: the predictor's degree of the edited attribute equals the target degree;
- identity similarity: cosine similarity of the identity embeddings of the reconstruction
  (G of the inverted latent, noiseless) and the received edit;
- other-attribute change: mean absolute change, in degrees, of the four other attributes between
  the reconstruction and the received edit.

The sender's refinement optimises the latent against the bundle's predictor, so a bundle with an
evaluation predictor (trained apart, from another seed) reads every reconstruction and received
edit again: ``independent_check`` repeats edit success and other-attribute change by that second
reading, with the fraction of reconstruction degrees on which both predictors agree.

Instructions cover all five attributes in both directions: face i edits attribute i mod 5, up for
even i // 5 and down for odd (flipped at the ends of the scale), as a change of one or two degrees
or an absolute target three degrees away.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from deepsc.attributes import ATTRIBUTES, MAX_DEGREE
from deepsc.bundle import Bundle
from deepsc.channel import transmit
from deepsc.corpus import generate_corpus
from deepsc.editing import EditConfig, SimulatedChannel, synthesise
from deepsc.instruction import EditRequest
from deepsc.inversion import InversionConfig, invert
from deepsc.latent_codec import encode_latent, estimate_latent
from deepsc.renderer import render, sample_params

EVAL_SNRS_DB: tuple[float, ...] = (18.0, 6.0, 0.0)
# Seed of the held-out faces: no training command draws from it.
EVAL_SEED = 40_000

# Called after each face with (faces done, faces in all).
EvalProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class EvalSizes:
    """Set sizes of one evaluation."""

    faces: int = 200
    inversion_steps: int = 150


FULL = EvalSizes()
QUICK = EvalSizes(faces=10, inversion_steps=10)


def eval_request(index: int, current: int) -> EditRequest:
    """Build the request for face ``index`` from the current degree of its attribute (see module doc)."""
    attribute = ATTRIBUTES[index % len(ATTRIBUTES)]
    sign = 1 if (index // len(ATTRIBUTES)) % 2 == 0 else -1
    if (sign > 0 and current == MAX_DEGREE) or (sign < 0 and current == 0):
        sign = -sign
    kind = (index // (2 * len(ATTRIBUTES))) % 3
    if kind == 0:
        return EditRequest(attribute, "change", amount=sign)
    if kind == 1:
        return EditRequest(attribute, "change", amount=2 * sign)
    return EditRequest(attribute, "target", degree=max(0, min(MAX_DEGREE, current + 3 * sign)))


def eval_phrasings(seed: int = 0) -> dict[tuple, list[str]]:
    """Held-out phrasings of the corpus by (attribute, mode, degree, amount): the text whose E_T
    conditions the field (the request itself is given exactly, so text errors do not count)."""
    phrasings: dict[tuple, list[str]] = {}
    for item in generate_corpus("held_out", seed=seed, per_template=1):
        if item.attribute in ATTRIBUTES:
            phrasings.setdefault((item.attribute, item.mode, item.degree, item.amount), []).append(item.text)
    return phrasings


def _phrasing(phrasings: dict[tuple, list[str]], request: EditRequest, index: int) -> str | None:
    key = (
        request.attribute,
        request.mode,
        request.degree if request.mode == "target" else -1,
        request.amount if request.mode == "change" else 0,
    )
    options = phrasings.get(key)
    return options[index % len(options)] if options else None


def evaluate_editing(
    bundle: Bundle,
    lpips_model: torch.nn.Module,
    sizes: EvalSizes = FULL,
    latent_space: str = "w",
    snrs_db: tuple[float, ...] = EVAL_SNRS_DB,
    progress: EvalProgress | None = None,
    channel_aware: bool = True,
) -> dict:
    """Run the evaluation and return its numbers (the keys of ``deepsc eval-edit --json``)."""
    started = time.perf_counter()
    editor = bundle.editor(EditConfig())
    if latent_space != "w" and not editor.has_field(latent_space):
        raise ValueError(f"bundle {bundle.name} has no semantic field for latent space {latent_space!r}")
    params = sample_params(sizes.faces, torch.Generator().manual_seed(EVAL_SEED))
    faces = render(params, resolution=bundle.resolution, noise_seed=EVAL_SEED)
    stats = bundle.latent_stats(latent_space)
    keys = [_key(snr) for snr in snrs_db]
    success: dict[str, list[bool]] = {key: [] for key in keys}
    similarity: dict[str, list[float]] = {key: [] for key in keys}
    other_change: dict[str, list[float]] = {key: [] for key in keys}
    sender_success: list[bool] = []
    by_attribute: dict[str, dict[str, list[bool]]] = {key: {name: [] for name in ATTRIBUTES} for key in keys}
    checker = bundle.eval_predictor
    check_success: dict[str, list[bool]] = {key: [] for key in keys}
    check_change: dict[str, list[float]] = {key: [] for key in keys}
    agreement: list[float] = []
    phrasings = eval_phrasings()

    for i in range(sizes.faces):
        target_image = faces[i : i + 1]
        start = bundle.start_w(target_image) if latent_space == "w" else None
        inverted = invert(
            bundle.generator,
            target_image,
            lpips_model,
            InversionConfig(steps=sizes.inversion_steps, latent_space=latent_space),
            start=start,
        ).latent.detach()
        with torch.no_grad():
            reconstruction = synthesise(bundle.generator, inverted, latent_space)
            degrees_before = bundle.predictor.predict_degrees(reconstruction)[0]
            if checker is not None:
                checked_before = checker.predict_degrees(reconstruction)[0]
                agreement.append(float((checked_before == degrees_before).float().mean()))
        attribute_index = i % len(ATTRIBUTES)
        request = eval_request(i, int(degrees_before[attribute_index]))
        text = bundle.text_embedding(_phrasing(phrasings, request, i))
        edit = None

        for snr, key in zip(snrs_db, keys, strict=True):
            if edit is None or channel_aware:
                channel = SimulatedChannel(stats, snr) if channel_aware else None
                edit = editor.edit(inverted, request, latent_space=latent_space, text_embedding=text, channel=channel)
                sender_success.append(edit.degree_reached == edit.degree_target)
            symbols = encode_latent(edit.latent.reshape(-1), stats)
            received = transmit(symbols, "awgn", snr, seed=EVAL_SEED + i)
            latent = estimate_latent(received.frames, stats).unsqueeze(0)
            with torch.no_grad():
                edited = synthesise(bundle.generator, latent, latent_space)
                degrees_after = bundle.predictor.predict_degrees(edited)[0]
                if bundle.identity is not None:
                    similarity[key].append(float(bundle.identity.similarity(reconstruction, edited)[0]))
            hit = int(degrees_after[attribute_index]) == edit.degree_target
            success[key].append(hit)
            by_attribute[key][request.attribute].append(hit)
            others = [j for j in range(len(ATTRIBUTES)) if j != attribute_index]
            other_change[key].append(float((degrees_after[others] - degrees_before[others]).abs().float().mean()))
            if checker is not None:
                with torch.no_grad():
                    checked_after = checker.predict_degrees(edited)[0]
                check_success[key].append(int(checked_after[attribute_index]) == edit.degree_target)
                check_change[key].append(float((checked_after[others] - checked_before[others]).abs().float().mean()))
        if progress is not None:
            progress(i + 1, sizes.faces)

    return {
        "bundle": bundle.name,
        "latent_space": latent_space,
        "field": "trained" if editor.has_field(latent_space) else "constant directions",
        "faces": sizes.faces,
        "inversion_steps": sizes.inversion_steps,
        "channel": "awgn",
        "channel_aware": channel_aware,
        "edit_success": {key: _mean(values) for key, values in success.items()},
        "identity_similarity": {key: _mean(values) if values else None for key, values in similarity.items()},
        "other_attribute_change": {key: _mean(values) for key, values in other_change.items()},
        "edit_success_at_sender": _mean(sender_success),
        "edit_success_by_attribute": {
            key: {name: _mean(values) if values else None for name, values in rows.items()}
            for key, rows in by_attribute.items()
        },
        "independent_check": None
        if checker is None
        else {
            "predictor": "eval_predictor",
            "agreement_on_reconstructions": _mean(agreement),
            "edit_success": {key: _mean(values) for key, values in check_success.items()},
            "other_attribute_change": {key: _mean(values) for key, values in check_change.items()},
        },
        "seconds": round(time.perf_counter() - started, 1),
    }


def _key(snr_db: float) -> str:
    """SNR as a JSON key: "6" for 6.0 dB, "-3.5" for -3.5 dB."""
    return str(int(snr_db)) if float(snr_db).is_integer() else str(snr_db)


def _mean(values: list) -> float:
    return round(float(sum(values)) / max(len(values), 1), 4)

"""Semantic Editing Module: move a latent until the attribute predictor reports the target degree.

Target attribute computation turns the parsed instruction and the predictor's current degree into
an expected degree (``target_attribute``). The semantic field then moves the latent one step at a
time; after each step the generator renders the latent and the predictor checks the degree. The
loop stops on a match, on an overshoot (after bisecting the last step up to ``refinements`` times),
or after ``max_steps``; output determination returns the latent whose degree came closest to the
target, the most confident one among equals.

When the sender knows the channel the latent will cross (``SimulatedChannel``), output
determination also looks along the last field step, before and past that latent, and sends the
candidate whose simulated receptions (power normalisation, AWGN at the job's SNR and the
receiver's estimate) most often show the target degree. This goes beyond Editable-DeepSC, which
stops at the first match: a latent that has just entered the target degree sits on its border,
and small channel noise, or the receiver's shrinkage towards the mean latent, moves it out again.
Then the channel-robust refinement takes a few gradient steps on the chosen latent. Its loss is the
predictor's cross-entropy, on the latent and on simulated receptions of it, towards the target
degree for the edited attribute and the degrees before the edit for the others, plus an identity
term. This makes the latent a precoding for the channel: noise at the job's SNR should leave every
degree where the user wants it. The refined latent replaces the chosen one only when, on the same
simulated receptions, its five degrees land no further from those wanted (the edited one counted
twice) and, with ``sender_match``, the sender still reads the target.

The field is either the bundle's trained ``SemanticFields`` (one network per attribute, in W or in
Z, see ``deepsc.models.semantic_field``) or, for bundles without them, a constant direction per
attribute in W.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from deepsc.attributes import ATTRIBUTES, attribute_index
from deepsc.instruction import EditRequest
from deepsc.inversion import Interrupted
from deepsc.latent_codec import LatentStatistics, awgn_round_trip
from deepsc.models.identity import IdentityEmbedding
from deepsc.models.predictor import AttributePredictor
from deepsc.models.semantic_field import SemanticFields
from deepsc.models.stylegan2 import Generator

logger = logging.getLogger(__name__)

# Called after every field step with (step, max_steps, predicted degree); False stops early.
EditCallback = Callable[[int, int, int], bool | None]


@dataclass
class EditConfig:
    """Settings of the editing loop.

    Attributes:
        step_size: multiple of the field's step per iteration (a trained field's step is one
            degree); None picks 1.0 for trained fields and 0.25 for constant directions.
        max_steps: iterations before output determination gives up.
        refinements: bisection steps between the last two latents after an overshoot.
        channel_samples: simulated receptions per candidate when a ``SimulatedChannel`` is
            given; 0 turns the channel-aware output determination off.
        candidate_offsets: multiples of the last field step added to the loop's best latent to
            form the candidates of the channel-aware output determination.
        channel_seed: seed of the simulated channel noise, so an edit is reproducible.
        sender_match: when the loop reached the target, keep the sent latent at the target degree
            at the sender too, so a session's next turn starts from the degree the user asked for.
        refine_steps: Adam steps of the channel-robust refinement. Zero turns it off.
        refine_samples: simulated receptions per refinement step (fresh noise each step).
        refine_lr: Adam learning rate of the refinement, in prior standard deviations of the latent.
        refine_identity: weight of 1 − cosine similarity of the identity embeddings (of the
            unedited rendering and the refined one) against the predictor's cross-entropy.
    """

    step_size: float | None = None
    max_steps: int = 20
    refinements: int = 5
    channel_samples: int = 16
    candidate_offsets: tuple[float, ...] = (-0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.5)
    channel_seed: int = 0
    sender_match: bool = True
    refine_steps: int = 20
    refine_samples: int = 8
    refine_lr: float = 0.05
    refine_identity: float = 5.0


@dataclass(frozen=True)
class SimulatedChannel:
    """The channel an edited latent will cross, as the sender simulates it.

    Attributes:
        stats: statistics of the sent latent space (its power normalisation and receiver prior).
        snr_db: SNR of the job, P/σ² in dB; the simulation is AWGN at this SNR.
        power: average power P per real value.
    """

    stats: LatentStatistics
    snr_db: float
    power: float = 1.0


@dataclass
class EditResult:
    """Outcome of one edit.

    Attributes:
        latent: (1, D) edited latent (the best one found), in the space it was edited in.
        degree_before: predicted degree of the unedited latent.
        degree_target: expected degree from target attribute computation.
        degree_reached: predicted degree of ``latent`` at the sender (noiseless).
        steps: field steps taken.
        stopped: "match", "overshoot", "max_steps" or "no_change".
        degrees_before: predicted degrees of all attributes before the edit.
        degrees_reached: predicted degrees of all attributes of ``latent``.
        expected_success: fraction of the simulated receptions of ``latent`` that show the target
            degree; None without a ``SimulatedChannel``.
    """

    latent: torch.Tensor
    degree_before: int
    degree_target: int
    degree_reached: int
    steps: int
    stopped: str
    degrees_before: dict[str, int] = field(default_factory=dict)
    degrees_reached: dict[str, int] = field(default_factory=dict)
    expected_success: float | None = None


def target_attribute(request: EditRequest, current: int) -> int:
    """Target attribute computation: an absolute degree, or current ± amount, clamped to 0..5."""
    return request.target_degree(current)


def synthesise(generator: Generator, latent: torch.Tensor, latent_space: str = "w") -> torch.Tensor:
    """Render latents (N, D) of ``latent_space`` to images (N, 3, H, W) in [0, 1]."""
    w = generator.mapping(latent) if latent_space == "z" else latent
    return ((generator.synthesis(w) + 1) / 2).clamp(0, 1)


def predict_degrees(
    generator: Generator, predictor: AttributePredictor, latent: torch.Tensor, latent_space: str = "w"
) -> torch.Tensor:
    """Render latents (N, D) and return the predicted degrees (N, 5)."""
    with torch.no_grad():
        return predictor.predict_degrees(synthesise(generator, latent, latent_space))


class SemanticEditor:
    """Edits latents with the semantic fields and the predictor check.

    Args:
        generator: the frozen generator.
        predictor: the attribute predictor.
        directions: (5, D) constant direction per attribute in W, one unit ≈ one degree; used
            when ``fields`` has no network for the latent space being edited.
        config: loop settings.
        fields: trained semantic fields per latent space ("w", "z"), or None.
        identity: identity embedding giving the fields their E_I; needed with ``fields``.
    """

    def __init__(
        self,
        generator: Generator,
        predictor: AttributePredictor,
        directions: torch.Tensor,
        config: EditConfig | None = None,
        fields: dict[str, SemanticFields] | None = None,
        identity: IdentityEmbedding | None = None,
    ) -> None:
        self.generator = generator
        self.predictor = predictor
        self.directions = directions
        self.config = config or EditConfig()
        self.fields = dict(fields or {})
        self.identity = identity
        if self.fields and identity is None:
            raise ValueError("semantic fields need the identity embedding for their E_I input")

    def has_field(self, latent_space: str) -> bool:
        """Return True when a trained field edits this latent space (else the constant W directions do)."""
        return latent_space in self.fields

    def edit(
        self,
        latent: torch.Tensor,
        request: EditRequest,
        callback: EditCallback | None = None,
        interrupt: threading.Event | None = None,
        latent_space: str = "w",
        text_embedding: torch.Tensor | None = None,
        channel: SimulatedChannel | None = None,
    ) -> EditResult:
        """Edit one latent (1, D) as the request specifies.

        Args:
            latent: (1, D) in ``latent_space``; without a field for that space it must be a w.
            text_embedding: (1, T) E_T of the instruction; zeros when None.
            channel: the channel the result will cross; given, output determination picks the
                candidate most robust to it (see the module docstring).
        """
        fields = self.fields.get(latent_space)
        if fields is None and latent_space != "w":
            raise ValueError(f"no semantic field for latent space {latent_space!r}; edit in 'w'")
        index = attribute_index(request.attribute)
        step_size = self.config.step_size or (1.0 if fields is not None else 0.25)
        if fields is not None and text_embedding is None:
            text_embedding = latent.new_zeros(1, fields.text_dim)

        with torch.no_grad():
            images = synthesise(self.generator, latent, latent_space)
            logits = self.predictor(images)
        source_images = images
        all_degrees = logits.argmax(-1)[0]
        before = int(all_degrees[index])
        target = target_attribute(request, before)
        degrees_before = {name: int(all_degrees[i]) for i, name in enumerate(ATTRIBUTES)}
        if target == before:
            return EditResult(latent.clone(), before, target, before, 0, "no_change", degrees_before, degrees_before)

        sign = 1.0 if target > before else -1.0
        best = _Candidate(latent.clone(), all_degrees.clone(), abs(target - before), 0.0)
        current, stopped, step = latent.clone(), "max_steps", 0
        last_delta = None

        for step in range(1, self.config.max_steps + 1):
            if interrupt is not None and interrupt.is_set():
                raise Interrupted(f"editing interrupted before step {step}")
            delta = (
                sign * step_size * self._field_step(fields, request.attribute, index, current, images, text_embedding)
            )
            last_delta = delta
            candidate = self._evaluate(current + delta, index, target, latent_space)

            # Overshoot: bisect between the current latent (short of the target) and the stepped
            # one (past it), so a coarse field step can still land on the target degree.
            low, high = 0.0, 1.0
            for _ in range(self.config.refinements):
                if (candidate.degree(index) - target) * sign <= 0:
                    break
                middle = (low + high) / 2
                probe = self._evaluate(current + middle * delta, index, target, latent_space)
                if (probe.degree(index) - target) * sign > 0:
                    high = middle
                    best = min(best, probe, key=lambda c: (c.gap, -c.confidence))
                else:
                    low = middle
                    candidate = probe

            assert candidate.images is not None  # every evaluated candidate keeps its rendering
            images = candidate.images
            best = min(best, candidate, key=lambda c: (c.gap, -c.confidence))
            degree = candidate.degree(index)
            current = candidate.latent
            if callback is not None and callback(step, self.config.max_steps, degree) is False:
                break
            if degree == target:
                stopped = "match"
                break
            if (degree - target) * sign > 0:
                stopped = "overshoot"
                break

        logger.debug(
            "edit %s in %s: %d -> %d (target %d) in %d steps, %s",
            request.attribute,
            latent_space,
            before,
            best.degree(index),
            target,
            step,
            stopped,
        )
        expected = None
        if channel is not None and self.config.channel_samples > 0 and last_delta is not None:
            best, expected = self._determine_for_channel(
                best, last_delta, index, target, all_degrees, latent_space, channel
            )
            if self.config.refine_steps > 0:
                best, expected = self._refine_for_channel(
                    best, expected, index, target, all_degrees, source_images, latent_space, channel, interrupt
                )
        reached = {name: int(best.degrees[i]) for i, name in enumerate(ATTRIBUTES)}
        return EditResult(
            best.latent, before, target, best.degree(index), step, stopped, degrees_before, reached, expected
        )

    def _determine_for_channel(
        self,
        best: _Candidate,
        delta: torch.Tensor,
        index: int,
        target: int,
        degrees_before: torch.Tensor,
        latent_space: str,
        channel: SimulatedChannel,
    ) -> tuple[_Candidate, float]:
        """Pick the latent along the last field step around ``best`` whose simulated receptions most
        often show the target degree.

        Ties go to the candidate that moves the other attributes least, then to the one closest to
        ``best``. With ``sender_match``, only candidates that show the target degree without noise
        compete when ``best`` does.
        """
        offsets = torch.tensor(self.config.candidate_offsets, dtype=best.latent.dtype)
        candidates = best.latent + offsets.unsqueeze(1) * delta  # (C, D)
        samples = self.config.channel_samples

        with torch.no_grad():
            received = torch.cat([self.simulate_receptions(c.unsqueeze(0), channel) for c in candidates])  # (C·K, D)
            degrees = predict_degrees(self.generator, self.predictor, received, latent_space)
            noiseless = predict_degrees(self.generator, self.predictor, candidates, latent_space)[:, index]  # (C,)
        degrees = degrees.view(len(offsets), samples, -1)  # (C, K, 5)
        eligible = noiseless == target if self.config.sender_match and best.gap == 0 else noiseless >= -1

        hits = (degrees[..., index] == target).float().mean(1)  # (C,)
        others = [i for i in range(degrees.shape[-1]) if i != index]
        drift = (degrees[..., others] - degrees_before[others].to(degrees)).abs().float().mean((1, 2))  # (C,)
        scores = [
            (bool(eligible[c]), float(hits[c]), -float(drift[c]), -abs(float(offsets[c]))) for c in range(len(offsets))
        ]
        chosen = max(range(len(offsets)), key=lambda c: scores[c])
        if float(offsets[chosen]) == 0.0:
            return best, float(hits[chosen])
        return self._evaluate(candidates[chosen : chosen + 1], index, target, latent_space), float(hits[chosen])

    def _refine_for_channel(
        self,
        best: _Candidate,
        expected: float,
        index: int,
        target: int,
        degrees_before: torch.Tensor,
        source_images: torch.Tensor,
        latent_space: str,
        channel: SimulatedChannel,
        interrupt: threading.Event | None,
    ) -> tuple[_Candidate, float]:
        """Refine ``best`` for the channel (see the module docstring).

        Returns the latent to send, and the fraction of the output determination's simulated
        receptions of it that show the target degree.
        """
        desired = degrees_before.clone()
        desired[index] = target
        weights = _degree_weights(index, len(desired)).to(desired.device)
        samples = self.config.refine_samples
        snr_db = torch.full((samples,), float(channel.snr_db))
        noise = torch.Generator().manual_seed(self.config.channel_seed + 1)  # apart from the scoring draws
        # Optimise in prior standard deviations, so one learning rate suits W and Z.
        mean, std = channel.stats.mean.to(best.latent), channel.stats.std.to(best.latent)
        standardised = ((best.latent - mean) / std).detach().requires_grad_(True)
        optimizer = torch.optim.Adam([standardised], lr=self.config.refine_lr)

        identity = self.identity if self.config.refine_identity > 0 else None
        with torch.enable_grad():
            with torch.no_grad():
                source_identity = identity(source_images) if identity is not None else None
            for step in range(self.config.refine_steps):
                if interrupt is not None and interrupt.is_set():
                    raise Interrupted(f"refinement interrupted before step {step + 1}")
                latent = mean + std * standardised
                received = awgn_round_trip(
                    latent.expand(samples, -1), channel.stats, snr_db, generator=noise, power=channel.power
                )
                images = synthesise(self.generator, torch.cat([latent, received]), latent_space)  # (1+K, 3, H, W)
                logits = self.predictor(images)  # (1+K, 5, 6)
                cross_entropy = F.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]), desired.repeat(samples + 1), reduction="none"
                ).view(samples + 1, -1)
                loss = (cross_entropy * weights).mean()
                if identity is not None and source_identity is not None:
                    similarity = (identity(images) * source_identity).sum(1)
                    loss = loss + self.config.refine_identity * (1 - similarity).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()

        refined = self._evaluate((mean + std * standardised).detach(), index, target, latent_space)
        hits, error = self.score_receptions(refined.latent, index, desired, latent_space, channel)
        _, error_before = self.score_receptions(best.latent, index, desired, latent_space, channel)
        keeps_match = refined.gap == 0 or best.gap != 0 or not self.config.sender_match
        accepted = keeps_match and error <= error_before
        logger.debug(
            "refinement %s: simulated degree error %.3f -> %.3f, target seen %.3f -> %.3f",
            "kept" if accepted else "discarded",
            error_before,
            error,
            expected,
            hits,
        )
        return (refined, hits) if accepted else (best, expected)

    def score_receptions(
        self,
        latent: torch.Tensor,
        index: int,
        desired: torch.Tensor,
        latent_space: str,
        channel: SimulatedChannel,
    ) -> tuple[float, float]:
        """Score a latent (1, D) on the output determination's simulated receptions.

        Args:
            index: the edited attribute.
            desired: (5,) degrees the receiver should see: the target for ``index``, the
                degrees before the edit for the others.

        Returns:
            The fraction of receptions at ``desired[index]``, and the mean absolute error, in
            degrees, of all five degrees against ``desired``, the edited one counted twice.
        """
        with torch.no_grad():
            degrees = predict_degrees(
                self.generator, self.predictor, self.simulate_receptions(latent, channel), latent_space
            )
        hits = float((degrees[:, index] == desired[index]).float().mean())
        weights = _degree_weights(index, degrees.shape[-1]).to(degrees.device)
        error = float(((degrees - desired.to(degrees)).abs().float() * weights).mean())
        return hits, error

    def simulate_receptions(self, latent: torch.Tensor, channel: SimulatedChannel) -> torch.Tensor:
        """``channel_samples`` receptions (K, D) of one latent (1, D) as the receiver estimates them.

        Every call draws the same noise, so candidates are compared on equal channel draws.
        """
        samples = self.config.channel_samples
        noise = torch.Generator().manual_seed(self.config.channel_seed)
        snr_db = torch.full((samples,), float(channel.snr_db))
        return awgn_round_trip(latent.expand(samples, -1), channel.stats, snr_db, generator=noise, power=channel.power)

    def _field_step(
        self,
        fields: SemanticFields | None,
        attribute: str,
        index: int,
        latent: torch.Tensor,
        images: torch.Tensor,
        text_embedding: torch.Tensor | None,
    ) -> torch.Tensor:
        """Δ (1, D) for the current latent: the trained field, or the constant direction."""
        if fields is None:
            return self.directions[index].to(latent).unsqueeze(0)
        assert self.identity is not None and text_embedding is not None
        with torch.no_grad():
            return fields(attribute, latent, self.identity(images), text_embedding.to(latent))

    def _evaluate(self, latent: torch.Tensor, index: int, target: int, latent_space: str) -> _Candidate:
        with torch.no_grad():
            images = synthesise(self.generator, latent, latent_space)
            probabilities = self.predictor(images).softmax(-1)[0]
        degrees = probabilities.argmax(-1)
        gap = abs(int(degrees[index]) - target)
        return _Candidate(latent, degrees, gap, float(probabilities[index, target]), images)


def _degree_weights(index: int, count: int) -> torch.Tensor:
    """Return the (count,) weights of the degrees in the refinement, the edited one counted twice."""
    weights = torch.ones(count)
    weights[index] = 2.0
    return weights


@dataclass
class _Candidate:
    """One latent visited by the loop, with what the predictor read from it."""

    latent: torch.Tensor
    degrees: torch.Tensor  # (5,) predicted degrees
    gap: int  # |degree - target| of the edited attribute
    confidence: float  # predictor probability of the target degree
    images: torch.Tensor | None = None

    def degree(self, index: int) -> int:
        return int(self.degrees[index])

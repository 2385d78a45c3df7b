"""Semantic Editing Module: move a latent until the attribute predictor reports the target degree.

Target attribute computation turns the parsed instruction and the predictor's current degree into
an expected degree. The semantic field then moves the latent a small step at a time; after each
step the generator renders the latent and the predictor checks the degree. The loop stops on a
match, on an overshoot, or after ``max_steps``, and output determination returns the latent whose
degree came closest to the target (the earliest one on ties, so the face changes least).

This first field is constant per attribute: a direction in W, the mean change of the generator's
renderer-parameter embedding per degree step, so one unit moves the attribute by about one degree.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from deepsc.attributes import ATTRIBUTES, attribute_index
from deepsc.instruction import EditRequest
from deepsc.inversion import Interrupted
from deepsc.models.predictor import AttributePredictor
from deepsc.models.stylegan2 import Generator

logger = logging.getLogger(__name__)

# Called after every field step with (step, max_steps, predicted degree); False stops early.
EditCallback = Callable[[int, int, int], bool | None]


@dataclass
class EditConfig:
    """Settings of the editing loop.

    Attributes:
        step_size: field step per iteration, in degrees of the attribute.
        max_steps: iterations before output determination gives up.
    """

    step_size: float = 0.25
    max_steps: int = 40


@dataclass
class EditResult:
    """Outcome of one edit.

    Attributes:
        latent: (1, D) edited latent (the best one found).
        degree_before: predicted degree of the unedited latent.
        degree_target: expected degree from target attribute computation.
        degree_reached: predicted degree of ``latent`` at the sender (noiseless).
        steps: field steps taken.
        stopped: "match", "overshoot", "max_steps" or "no_change".
        degrees_before: predicted degrees of all attributes before the edit.
    """

    latent: torch.Tensor
    degree_before: int
    degree_target: int
    degree_reached: int
    steps: int
    stopped: str
    degrees_before: dict[str, int] = field(default_factory=dict)


def predict_degrees(generator: Generator, predictor: AttributePredictor, w: torch.Tensor) -> torch.Tensor:
    """Render w (N, D) and return the predicted degrees (N, 5)."""
    with torch.no_grad():
        images = ((generator.synthesis(w) + 1) / 2).clamp(0, 1)
        return predictor.predict_degrees(images)


class SemanticEditor:
    """Edits w latents with per-attribute field directions.

    Args:
        generator: the frozen generator.
        predictor: the attribute predictor.
        directions: (5, D) field direction per attribute, one unit ≈ one degree.
        config: loop settings.
    """

    def __init__(
        self,
        generator: Generator,
        predictor: AttributePredictor,
        directions: torch.Tensor,
        config: EditConfig | None = None,
    ) -> None:
        self.generator = generator
        self.predictor = predictor
        self.directions = directions
        self.config = config or EditConfig()

    def edit(
        self,
        w: torch.Tensor,
        request: EditRequest,
        callback: EditCallback | None = None,
        interrupt: threading.Event | None = None,
    ) -> EditResult:
        """Edit one latent (1, D) in W as the request specifies."""
        index = attribute_index(request.attribute)
        all_degrees = predict_degrees(self.generator, self.predictor, w)[0]
        before = int(all_degrees[index])
        target = request.target_degree(before)
        degrees_before = {name: int(all_degrees[i]) for i, name in enumerate(ATTRIBUTES)}
        if target == before:
            return EditResult(w.clone(), before, target, before, 0, "no_change", degrees_before)

        sign = 1.0 if target > before else -1.0
        step_vector = sign * self.config.step_size * self.directions[index].to(w)
        best_latent, best_degree, best_gap = w.clone(), before, abs(target - before)
        current = w.clone()
        stopped, step = "max_steps", 0

        for step in range(1, self.config.max_steps + 1):
            if interrupt is not None and interrupt.is_set():
                raise Interrupted(f"editing interrupted before step {step}")
            current = current + step_vector
            degree = int(predict_degrees(self.generator, self.predictor, current)[0, index])
            gap = abs(target - degree)
            if gap < best_gap:
                best_latent, best_degree, best_gap = current.clone(), degree, gap
            if callback is not None and callback(step, self.config.max_steps, degree) is False:
                break
            if degree == target:
                stopped = "match"
                break
            if (degree - target) * sign > 0:
                stopped = "overshoot"
                break

        logger.debug(
            "edit %s: %d -> %d (target %d) in %d steps, %s",
            request.attribute,
            before,
            best_degree,
            target,
            step,
            stopped,
        )
        return EditResult(best_latent, before, target, best_degree, step, stopped, degrees_before)

"""Validation and acceptance of an edit, shared by the REST and gRPC front ends."""

from __future__ import annotations

import math
from dataclasses import dataclass

from deepsc.channel import CHANNEL_MODELS
from deepsc.face import ImageError, load_image
from deepsc.instruction import InstructionError
from deepsc.pipeline import LATENT_SPACES, EditOptions
from sender.jobs import Job
from sender.worker import QueueFull


class SubmissionError(Exception):
    """An edit that cannot be accepted.

    Attributes:
        kind: "invalid" (bad input), "too_large", "unsupported_image", "not_ready" or "busy".
        field: the request field at fault, when there is one.
    """

    def __init__(self, kind: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.field = field


@dataclass
class EditSubmission:
    """One edit as a client sends it."""

    image: bytes
    instruction: str
    snr_db: float = 6.0
    channel: str = "awgn"
    seed: int = 0
    latent_space: str = "w"


def accept_edit(state, submission: EditSubmission, request_id: str = "") -> Job:
    """Validate a submission, create its job and queue it.

    Args:
        state: the running sender's ``SenderState``.

    Raises:
        SubmissionError: for invalid input, a service still loading, or a full queue.
    """
    settings = state.settings
    if len(submission.image) > settings.max_upload_bytes:
        raise SubmissionError("too_large", f"image: the upload exceeds {settings.max_upload_bytes} bytes", "image")
    try:
        load_image(submission.image)
    except ImageError as error:
        raise SubmissionError("unsupported_image", f"image: {error}", "image") from None
    if not submission.instruction.strip():
        raise SubmissionError("invalid", "instruction: the instruction is empty", "instruction")
    if submission.channel not in CHANNEL_MODELS:
        raise SubmissionError(
            "invalid",
            f"channel: {submission.channel!r} is invalid; expected one of {', '.join(CHANNEL_MODELS)}",
            "channel",
        )
    if submission.latent_space not in LATENT_SPACES:
        raise SubmissionError(
            "invalid", f"latent_space: {submission.latent_space!r} is invalid; expected 'w' or 'z'", "latent_space"
        )
    if not math.isfinite(submission.snr_db) or not -50 <= submission.snr_db <= 100:
        raise SubmissionError("invalid", f"snr_db: {submission.snr_db} is invalid; expected -50 to 100 dB", "snr_db")
    if not 0 <= submission.seed < 2**63:
        raise SubmissionError("invalid", f"seed: {submission.seed} is invalid; expected 0 to 2**63 - 1", "seed")

    if state.load_error:
        raise SubmissionError("not_ready", f"the sender could not load its models: {state.load_error}")
    if state.worker is None:
        raise SubmissionError("not_ready", "the models are still loading; retry shortly")
    try:
        parsed = state.worker.pipeline.bundle.parse(submission.instruction)
    except InstructionError as error:
        raise SubmissionError("invalid", f"instruction: {error}", "instruction") from None

    options = EditOptions(
        snr_db=submission.snr_db,
        channel=submission.channel,
        seed=submission.seed,
        latent_space=submission.latent_space,
        inversion_steps=settings.inversion_steps,
        frame_symbols=settings.frame_symbols,
    )
    job = state.jobs.create(submission.instruction, parsed, options, submission.image, request_id=request_id)
    try:
        state.worker.submit(job)
    except QueueFull as error:
        job.update(status="cancelled", stage="cancelled", error=f"rejected: {error}")
        raise SubmissionError("busy", f"too many jobs waiting ({error}); retry later") from None
    return job

"""Validation and acceptance of an edit, shared by the REST and gRPC front ends."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

from deepsc.channel import CHANNEL_MODELS
from deepsc.face import ImageError, load_image
from deepsc.instruction import InstructionError
from deepsc.pipeline import LATENT_SPACES, EditOptions
from sender.jobs import Job
from sender.sessions import Session
from sender.worker import QueueFull

logger = logging.getLogger("deepsc.sender")


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


def _check_image(state, image: bytes) -> None:
    settings = state.settings
    if len(image) > settings.max_upload_bytes:
        raise SubmissionError("too_large", f"image: the upload exceeds {settings.max_upload_bytes} bytes", "image")
    try:
        load_image(image)
    except ImageError as error:
        raise SubmissionError("unsupported_image", f"image: {error}", "image") from None


def _check_options(submission: EditSubmission) -> None:
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


def _check_ready(state) -> None:
    if state.load_error:
        raise SubmissionError("not_ready", f"the sender could not load its models: {state.load_error}")
    if state.worker is None:
        raise SubmissionError("not_ready", "the models are still loading; retry shortly")


def _options(state, submission: EditSubmission) -> EditOptions:
    return EditOptions(
        snr_db=submission.snr_db,
        channel=submission.channel,
        seed=submission.seed,
        latent_space=submission.latent_space,
        inversion_steps=state.settings.inversion_steps,
        frame_symbols=state.settings.frame_symbols,
    )


def _queue(state, job: Job) -> Job:
    try:
        state.worker.submit(job)
    except QueueFull as error:
        job.update(status="cancelled", stage="cancelled", error=f"rejected: {error}")
        raise SubmissionError("busy", f"too many jobs waiting ({error}); retry later") from None
    return job


def accept_session(state, submission: EditSubmission) -> Session:
    """Validate a session's face and settings and open the session (its instruction is unused).

    Raises:
        SubmissionError: for invalid input or a service still loading.
    """
    _check_image(state, submission.image)
    _check_options(submission)
    _check_ready(state)
    return state.sessions.create(submission.image, _options(state, submission))


def close_session(state, session: Session) -> dict:
    """Close a session: cancel its unfinished turns, forget its latent, and return its last state.

    The REST and gRPC APIs both close sessions here, so a turn still running ends cancelled.
    """
    with session.lock:
        session.closed = True
    for job_id in session.turns:
        job = state.jobs.get(job_id)
        if job is not None and not job.finished:
            if state.worker is not None:
                state.worker.cancel(job)
            else:
                job.cancel.set()
    state.sessions.remove(session.id)
    logger.info("session %s closed after %d turns", session.id, len(session.turns))
    body = session.to_dict(state.jobs)
    session.face = None
    return body


def accept_turn(state, session: Session, instruction: str, seed: int | None = None, request_id: str = "") -> Job:
    """Parse a turn's instruction (a follow-up refers to the session's previous turn) and queue it.

    The turn's channel seed is ``seed``, or the session's seed plus the turn's number minus one,
    so turns do not repeat each other's noise.

    Raises:
        SubmissionError: closed session, invalid instruction or seed, a service still loading, or
            a full queue.
    """
    if session.closed:
        raise SubmissionError("invalid", f"session {session.id} is closed", "session")
    if not instruction.strip():
        raise SubmissionError("invalid", "instruction: the instruction is empty", "instruction")
    if seed is not None and not 0 <= seed < 2**63:
        raise SubmissionError("invalid", f"seed: {seed} is invalid; expected 0 to 2**63 - 1", "seed")
    _check_ready(state)
    with session.lock:
        try:
            parsed = state.worker.pipeline.bundle.parse_turn(instruction, session.last_request)
        except InstructionError as error:
            raise SubmissionError("invalid", f"instruction: {error}", "instruction") from None
        turn = len(session.turns) + 1
        options = replace(session.options, seed=seed if seed is not None else (session.options.seed + turn - 1) % 2**63)
        job = state.jobs.create(instruction, parsed, options, b"", request_id=request_id, session=session, turn=turn)
        _queue(state, job)
        session.turns.append(job.id)
        session.last_request = parsed
        session.updated_at = job.created_at
    return job


def accept_edit(state, submission: EditSubmission, request_id: str = "") -> Job:
    """Validate a submission, create its job and queue it.

    Args:
        state: the running sender's ``SenderState``.

    Raises:
        SubmissionError: for invalid input, a service still loading, or a full queue.
    """
    _check_image(state, submission.image)
    if not submission.instruction.strip():
        raise SubmissionError("invalid", "instruction: the instruction is empty", "instruction")
    _check_options(submission)
    _check_ready(state)
    try:
        parsed = state.worker.pipeline.bundle.parse(submission.instruction)
    except InstructionError as error:
        raise SubmissionError("invalid", f"instruction: {error}", "instruction") from None

    options = _options(state, submission)
    job = state.jobs.create(submission.instruction, parsed, options, submission.image, request_id=request_id)
    return _queue(state, job)

"""Edit jobs and their in-memory store."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepsc.instruction import EditRequest
from deepsc.pipeline import EditOptions

STATUSES = ("queued", "running", "done", "failed", "cancelled")
FINAL_STATUSES = ("done", "failed", "cancelled")
IMAGE_KINDS = ("original", "reconstruction", "edited")


@dataclass
class Job:
    """One edit job and everything it produced.

    Attributes:
        id: job id (a UUID4 hex string), also sent to the channel emulator and receiver.
        instruction: the instruction as uploaded.
        request: the parsed instruction.
        options: channel and latent settings.
        image_bytes: the uploaded file, kept until the job ends.
        status: one of ``STATUSES``.
        stage: current stage ("queued", "alignment", "inversion", "editing", "channel",
            "synthesis", "done", ...).
        step, total: progress within the stage.
        error: a sentence saying why the job failed.
        summary: the summary.json keys, when done.
        images: PNG bytes per image kind, as they become available.
        request_id: id of the HTTP request that created the job, for log correlation.
        session: the multi-turn session this job is a turn of, or None.
        turn: the turn's number in its session, from 1 (0 outside a session).
    """

    id: str
    instruction: str
    request: EditRequest
    options: EditOptions
    image_bytes: bytes
    status: str = "queued"
    stage: str = "queued"
    step: int = 0
    total: int = 0
    error: str | None = None
    summary: dict | None = None
    images: dict[str, bytes] = field(default_factory=dict)
    request_id: str = ""
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    cancel: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)
    version: int = 0
    session: Any = None
    turn: int = 0

    def to_dict(self, base_url: str = "") -> dict[str, Any]:
        """The job as the REST API returns it."""
        prefix = f"{base_url}/v1/edits/{self.id}"
        links = {"self": prefix, "events": f"{prefix}/events"}
        for kind in IMAGE_KINDS:
            if kind in self.images:
                links[kind] = f"{prefix}/images/{kind}"
        if self.session is not None:
            links["session"] = f"{base_url}/v1/sessions/{self.session.id}"
        return {
            "id": self.id,
            "session": {"id": self.session.id, "turn": self.turn} if self.session is not None else None,
            "status": self.status,
            "stage": self.stage,
            "progress": {"step": self.step, "total": self.total},
            "error": self.error,
            "summary": self.summary,
            "instruction": self.instruction,
            "parsed": self.request.to_dict(),
            "options": {
                "snr_db": self.options.snr_db,
                "channel": self.options.channel,
                "seed": self.options.seed,
                "latent_space": self.options.latent_space,
            },
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "links": links,
        }

    def update(self, **changes: Any) -> None:
        """Apply changes and wake everyone waiting for this job."""
        with self.changed:
            for key, value in changes.items():
                setattr(self, key, value)
            self.updated_at = time.time()
            self.version += 1
            self.changed.notify_all()

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATUSES


class JobStore:
    """Thread-safe map of job id to job, dropping the oldest finished jobs beyond ``max_jobs``."""

    def __init__(self, max_jobs: int = 1000) -> None:
        self.max_jobs = max_jobs
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def create(
        self,
        instruction: str,
        request: EditRequest,
        options: EditOptions,
        image_bytes: bytes,
        request_id: str = "",
        session: Any = None,
        turn: int = 0,
    ) -> Job:
        job = Job(
            uuid.uuid4().hex,
            instruction,
            request,
            options,
            image_bytes,
            request_id=request_id,
            session=session,
            turn=turn,
        )
        with self._lock:
            self._jobs[job.id] = job
            self._evict()
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def count(self, status: str) -> int:
        with self._lock:
            return sum(1 for job in self._jobs.values() if job.status == status)

    def _evict(self) -> None:
        if len(self._jobs) <= self.max_jobs:
            return
        finished = sorted((job for job in self._jobs.values() if job.finished), key=lambda job: job.updated_at)
        for job in finished[: len(self._jobs) - self.max_jobs]:
            del self._jobs[job.id]


def png_to_array(data: bytes) -> np.ndarray:
    """Decode PNG bytes to an (H, W, 3) uint8 array."""
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))

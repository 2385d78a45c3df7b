"""Multi-turn editing sessions: one uploaded face, a chain of edits on its latent.

A session inverts its face once (during its first turn) and keeps the latent each turn leaves
behind at the sender, so the next instruction ("a bit more") edits the previous result and only
the newly edited latent crosses the channel. Turns are ordinary jobs, with the same events and
images; the worker runs them in the order they were posted.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from deepsc.instruction import EditRequest
from deepsc.pipeline import EditOptions, InvertedFace


@dataclass
class Session:
    """One multi-turn session.

    Attributes:
        id: session id (UUID4 hex).
        image_bytes: the uploaded face, kept until the first turn has inverted it.
        options: channel and latent settings shared by every turn (a turn may override the seed).
        face: the aligned face and its current latent (the latest done turn's edited latent),
            None until the first turn has inverted the face.
        last_request: the latest done turn's parsed request, for follow-ups such as "a bit more".
        turns: job ids of the turns, in order.
    """

    id: str
    image_bytes: bytes
    options: EditOptions
    face: InvertedFace | None = None
    last_request: EditRequest | None = None
    turns: list[str] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to_dict(self, jobs: Any = None) -> dict[str, Any]:
        """The session as the REST API returns it; ``jobs`` (a JobStore) adds each turn's status."""
        prefix = f"/v1/sessions/{self.id}"
        turns = []
        for index, job_id in enumerate(self.turns, start=1):
            job = jobs.get(job_id) if jobs is not None else None
            turns.append(
                {
                    "turn": index,
                    "job_id": job_id,
                    "status": job.status if job is not None else "expired",
                    "links": {"self": f"/v1/edits/{job_id}"},
                }
            )
        return {
            "id": self.id,
            "options": {
                "snr_db": self.options.snr_db,
                "channel": self.options.channel,
                "seed": self.options.seed,
                "latent_space": self.options.latent_space,
            },
            "inverted": self.face is not None,
            "closed": self.closed,
            "turns": turns,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "links": {"self": prefix, "turns": f"{prefix}/turns"},
        }


class SessionStore:
    """Thread-safe map of session id to session; the least recently used beyond ``max_sessions`` go."""

    def __init__(self, max_sessions: int = 100) -> None:
        self.max_sessions = max_sessions
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, image_bytes: bytes, options: EditOptions) -> Session:
        session = Session(uuid.uuid4().hex, image_bytes, options)
        with self._lock:
            self._sessions[session.id] = session
            if len(self._sessions) > self.max_sessions:
                oldest = min(self._sessions.values(), key=lambda s: s.updated_at)
                del self._sessions[oldest.id]
        return session

    def get(self, session_id: str) -> Session | None:
        with self._lock:
            return self._sessions.get(session_id)

    def remove(self, session_id: str) -> Session | None:
        with self._lock:
            return self._sessions.pop(session_id, None)

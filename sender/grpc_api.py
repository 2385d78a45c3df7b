"""The sender's gRPC API for programs (deepsc.v1.EditService)."""

from __future__ import annotations

import json
import logging
from functools import partial

import grpc

from deepsc.grpc_server import abort
from deepsc.request_context import request_id_from_metadata, request_id_var
from deepsc.v1 import editing_pb2, editing_pb2_grpc
from sender.jobs import FINAL_STATUSES, Job
from sender.sessions import Session
from sender.submission import (
    EditSubmission,
    SubmissionError,
    accept_edit,
    accept_session,
    accept_turn,
    close_session,
)

logger = logging.getLogger("deepsc.sender")

SERVICE_NAME = editing_pb2.DESCRIPTOR.services_by_name["EditService"].full_name

SUBMISSION_CODES = {
    "too_large": grpc.StatusCode.INVALID_ARGUMENT,
    "unsupported_image": grpc.StatusCode.INVALID_ARGUMENT,
    "invalid": grpc.StatusCode.INVALID_ARGUMENT,
    "not_ready": grpc.StatusCode.UNAVAILABLE,
    "busy": grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def _changed_or_gone(job: Job, seen_version: int, context: grpc.ServicerContext) -> bool:
    return job.version != seen_version or not context.is_active()


def job_message(job: Job) -> editing_pb2.EditJob:
    return editing_pb2.EditJob(
        id=job.id,
        status=job.status,
        stage=job.stage,
        step=job.step,
        total=job.total,
        error=job.error or "",
        summary_json=json.dumps(job.summary) if job.summary is not None else "",
    )


def session_message(session: Session, body: dict) -> editing_pb2.EditSession:
    """Build the gRPC message of a session from ``body``, its REST form (``Session.to_dict``)."""
    return editing_pb2.EditSession(
        id=session.id,
        inverted=body["inverted"],
        closed=body["closed"],
        turn_job_ids=[turn["job_id"] for turn in body["turns"]],
        session_json=json.dumps(body),
    )


class EditServicer(editing_pb2_grpc.EditServiceServicer):
    """Shares the REST API's job store and worker.

    Args:
        state: the running sender's ``SenderState``.
    """

    def __init__(self, state) -> None:
        self.state = state

    def SubmitEdit(self, request: editing_pb2.SubmitEditRequest, context: grpc.ServicerContext):
        rid = request_id_from_metadata(context.invocation_metadata())
        token = request_id_var.set(rid)
        try:
            submission = EditSubmission(
                image=request.image,
                instruction=request.instruction,
                snr_db=request.snr_db if request.HasField("snr_db") else 6.0,
                channel=request.channel or "awgn",
                seed=request.seed if request.HasField("seed") else 0,
                latent_space=request.latent_space or "w",
            )
            try:
                job = accept_edit(self.state, submission, request_id=rid if rid != "-" else "")
            except SubmissionError as error:
                abort(context, SUBMISSION_CODES[error.kind], str(error))
            logger.info("job %s submitted over gRPC", job.id)
        finally:
            request_id_var.reset(token)

        yield from self._follow(job, context)

    def _follow(self, job: Job, context: grpc.ServicerContext):
        """Stream a job's progress events until it ends, with the images on "done"."""

        # A client that disconnects before the end cancels its job, because no one else can collect it.
        def on_done() -> None:
            if not job.finished and self.state.worker is not None:
                logger.info("job %s: gRPC client disconnected; cancelling", job.id)
                self.state.worker.cancel(job)

        context.add_callback(on_done)
        last_version = -1
        while True:
            with job.changed:
                job.changed.wait_for(partial(_changed_or_gone, job, last_version, context), timeout=1.0)
                version, finished = job.version, job.finished
            if not context.is_active():
                return
            if version == last_version:
                continue
            last_version = version
            if not finished:
                yield editing_pb2.EditEvent(event="progress", job=job_message(job))
                continue
            images = None
            if job.status == "done":
                images = editing_pb2.EditImages(
                    original=job.images.get("original", b""),
                    reconstruction=job.images.get("reconstruction", b""),
                    edited=job.images.get("edited", b""),
                )
            yield editing_pb2.EditEvent(event=job.status, job=job_message(job), images=images)
            return

    def CreateSession(
        self, request: editing_pb2.CreateSessionRequest, context: grpc.ServicerContext
    ) -> editing_pb2.EditSession:
        submission = EditSubmission(
            image=request.image,
            instruction="",
            snr_db=request.snr_db if request.HasField("snr_db") else 6.0,
            channel=request.channel or "awgn",
            seed=request.seed if request.HasField("seed") else 0,
            latent_space=request.latent_space or "w",
        )
        try:
            session = accept_session(self.state, submission)
        except SubmissionError as error:
            logger.warning("rejected gRPC session (%s): %s", error.kind, error)
            abort(context, SUBMISSION_CODES[error.kind], str(error))
        logger.info("session %s opened over gRPC", session.id)
        return session_message(session, session.to_dict(self.state.jobs))

    def EditTurn(self, request: editing_pb2.SessionTurnRequest, context: grpc.ServicerContext):
        session = self._session(request.session_id, context)
        rid = request_id_from_metadata(context.invocation_metadata())
        token = request_id_var.set(rid)
        try:
            seed = request.seed if request.HasField("seed") else None
            try:
                job = accept_turn(self.state, session, request.instruction, seed, rid if rid != "-" else "")
            except SubmissionError as error:
                logger.warning("session %s: rejected gRPC turn (%s): %s", session.id, error.kind, error)
                code = grpc.StatusCode.FAILED_PRECONDITION if session.closed else SUBMISSION_CODES[error.kind]
                abort(context, code, str(error))
            logger.info("session %s: turn %d queued over gRPC as job %s", session.id, job.turn, job.id)
        finally:
            request_id_var.reset(token)
        yield from self._follow(job, context)

    def GetSession(
        self, request: editing_pb2.GetSessionRequest, context: grpc.ServicerContext
    ) -> editing_pb2.EditSession:
        session = self._session(request.session_id, context)
        return session_message(session, session.to_dict(self.state.jobs))

    def CloseSession(
        self, request: editing_pb2.CloseSessionRequest, context: grpc.ServicerContext
    ) -> editing_pb2.EditSession:
        session = self._session(request.session_id, context)
        return session_message(session, close_session(self.state, session))

    def _session(self, session_id: str, context: grpc.ServicerContext) -> Session:
        session = self.state.sessions.get(session_id)
        if session is None:
            logger.warning("gRPC request for unknown session %r", session_id)
            abort(context, grpc.StatusCode.NOT_FOUND, f"no session with id {session_id!r}")
        return session

    def GetEdit(self, request: editing_pb2.GetEditRequest, context: grpc.ServicerContext) -> editing_pb2.EditJob:
        job = self.state.jobs.get(request.id)
        if job is None:
            abort(context, grpc.StatusCode.NOT_FOUND, f"no edit job with id {request.id!r}")
        return job_message(job)

    def CancelEdit(self, request: editing_pb2.CancelEditRequest, context: grpc.ServicerContext) -> editing_pb2.EditJob:
        job = self.state.jobs.get(request.id)
        if job is None:
            abort(context, grpc.StatusCode.NOT_FOUND, f"no edit job with id {request.id!r}")
        if job.status in FINAL_STATUSES:
            abort(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                f"job {job.id} already ended {job.status}; nothing to cancel",
            )
        if self.state.worker is not None:
            self.state.worker.cancel(job)
        return job_message(job)


def serve_edit_api(state, host: str, port: int):
    """Start the EditService gRPC server with health checking and reflection."""
    from deepsc.grpc_server import start_server

    servicer = EditServicer(state)
    return start_server(
        lambda server: editing_pb2_grpc.add_EditServiceServicer_to_server(servicer, server), [SERVICE_NAME], host, port
    )

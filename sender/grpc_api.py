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
from sender.submission import EditSubmission, SubmissionError, accept_edit

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

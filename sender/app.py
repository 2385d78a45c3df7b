"""Sender REST API (FastAPI): upload a photo with an instruction, follow the job, fetch images."""

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from deepsc.pipeline import EditPipeline
from deepsc.request_context import request_id_var
from deepsc.settings import Settings
from sender.grpc_api import serve_edit_api
from sender.jobs import FINAL_STATUSES, Job, JobStore
from sender.metrics import SenderMetrics
from sender.sessions import Session, SessionStore
from sender.submission import (
    EditSubmission,
    SubmissionError,
    accept_edit,
    accept_session,
    accept_turn,
    close_session,
)
from sender.transport import ChannelClient
from sender.worker import EditWorker

logger = logging.getLogger("deepsc.sender")


@dataclass
class SenderState:
    """State of the running service: settings, jobs, metrics and (once loaded) the worker."""

    settings: Settings
    jobs: JobStore
    metrics: SenderMetrics = field(default_factory=SenderMetrics)
    sessions: SessionStore = field(default_factory=SessionStore)
    worker: EditWorker | None = None
    load_error: str | None = None

    @property
    def ready(self) -> bool:
        return self.worker is not None


def load_pipeline(settings: Settings) -> EditPipeline:
    """Load the bundle named by the settings and the LPIPS network onto the configured device."""
    from deepsc.bundle import load_bundle
    from deepsc.metrics.lpips import load_lpips
    from deepsc.settings import resolve_device

    device = resolve_device(settings.device)
    return EditPipeline(load_bundle(settings.bundle, device=device), load_lpips(device))


def _load_models(state: SenderState, pipeline_factory: Callable[[], EditPipeline]) -> None:
    """Load the models, then start the worker; runs in a thread so /healthz responds at once."""
    try:
        pipeline = pipeline_factory()
        worker = EditWorker(pipeline, ChannelClient(state.settings.channel_address), state.settings, state.metrics)
        worker.start()
        state.worker = worker
        logger.info(
            "sender ready: bundle %s, channel emulator at %s", pipeline.bundle.name, state.settings.channel_address
        )
    except Exception as error:  # noqa: BLE001 - reported by /readyz and every submission
        state.load_error = f"{type(error).__name__}: {error}"
        logger.exception("sender failed to load its models")


# HTTP status and headers for each kind of rejected submission.
SUBMISSION_STATUS: dict[str, tuple[int, dict[str, str] | None]] = {
    "too_large": (413, None),
    "unsupported_image": (415, None),
    "invalid": (422, None),
    "not_ready": (503, {"Retry-After": "5"}),
    "busy": (429, {"Retry-After": "10"}),
}


def _return(pipeline: EditPipeline) -> EditPipeline:
    return pipeline


def create_app(
    settings: Settings | None = None,
    pipeline: EditPipeline | None = None,
    pipeline_factory: Callable[[], EditPipeline] | None = None,
) -> FastAPI:
    """Build the sender app.

    Args:
        settings: service settings; read from the environment when None.
        pipeline: an already loaded pipeline (tests share one).
        pipeline_factory: how to load the pipeline at start-up, in a background thread; loads the
            bundle named by the settings when neither this nor ``pipeline`` is given.
    """
    settings = settings or Settings()
    factory: Callable[[], EditPipeline]
    if pipeline_factory is not None:
        factory = pipeline_factory
    elif pipeline is not None:
        factory = partial(_return, pipeline)
    else:
        factory = partial(load_pipeline, settings)
    state = SenderState(settings, JobStore())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        loader = threading.Thread(target=_load_models, args=(state, factory), name="model-loader", daemon=True)
        loader.start()
        grpc_server = serve_edit_api(state, settings.host, settings.sender_grpc_port)
        logger.info("sender starting: REST on port %d, gRPC on port %d", settings.sender_http_port, grpc_server.port)
        yield
        grpc_server.stop()
        if state.worker is not None:
            state.worker.stop()
            state.worker.channel_client.close()
        logger.info("sender stopped")

    app = FastAPI(
        title="Editable-DeepSC sender",
        version="0.1.0",
        description="Upload a face photo with a text instruction; the edited StyleGAN latent crosses an emulated channel and the receiver's generator draws the result.",
        lifespan=lifespan,
        # The stock /docs page loads Swagger UI from a CDN, which an offline machine cannot reach.
        # The page below serves the copy shipped in the swagger-ui-bundle package instead.
        docs_url=None,
        redoc_url=None,
    )
    app.state.sender = state
    app.mount("/docs-static", StaticFiles(directory=str(swagger_ui_path)), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="/docs-static/favicon-32x32.png",
        )

    @app.middleware("http")
    async def request_id(request: Request, call_next):
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        request.state.request_id = rid
        token = request_id_var.set(rid)
        try:
            response = await call_next(request)
        finally:
            request_id_var.reset(token)
        response.headers["X-Request-Id"] = rid
        route = request.scope.get("route")
        state.metrics.requests.labels(
            request.method, getattr(route, "path", "unmatched"), str(response.status_code)
        ).inc()
        logger.info("%s %s -> %d", request.method, request.url.path, response.status_code, extra={"request_id": rid})
        return response

    def get_state() -> SenderState:
        return state

    def get_job(job_id: str, current: Annotated[SenderState, Depends(get_state)]) -> Job:
        job = current.jobs.get(job_id)
        if job is None:
            raise HTTPException(status_code=404, detail=f"no edit job with id {job_id!r}")
        return job

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict:
        """Liveness: the process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz(current: Annotated[SenderState, Depends(get_state)]) -> JSONResponse:
        """Readiness: the models are loaded and jobs are accepted."""
        if current.ready:
            return JSONResponse({"status": "ready"})
        body = {
            "status": "failed" if current.load_error else "loading",
            "detail": current.load_error or "models are loading",
        }
        return JSONResponse(body, status_code=503)

    @app.post("/v1/edits", status_code=202, tags=["edits"])
    async def submit_edit(
        request: Request,
        response: Response,
        current: Annotated[SenderState, Depends(get_state)],
        image: Annotated[UploadFile, File(description="face photo (PNG, JPEG, WebP, ...)")],
        instruction: Annotated[
            str,
            Form(
                description="editing request about bangs, eyeglasses, beard, smile or age",
                min_length=1,
                max_length=500,
                examples=["Give her thick glasses.", "make her smile a bit more"],
            ),
        ],
        snr_db: Annotated[float, Form(description="channel SNR P/σ² in dB", ge=-50, le=100)] = 6.0,
        channel: Annotated[Literal["awgn", "rayleigh", "none"], Form(description="channel model")] = "awgn",
        seed: Annotated[int, Form(description="seed of the channel noise and fading", ge=0, lt=2**63)] = 0,
        latent_space: Annotated[Literal["w", "z"], Form(description="latent that crosses the channel")] = "w",
    ) -> dict:
        """Accept an edit job; the work runs in the background. Returns the job with 202 and a Location."""
        data = await image.read(current.settings.max_upload_bytes + 1)
        submission = EditSubmission(data, instruction, snr_db, channel, seed, latent_space)
        try:
            # Decoding a large upload takes a while: keep it off the event loop.
            job = await run_in_threadpool(accept_edit, current, submission, request.state.request_id)
        except SubmissionError as error:
            logger.warning("rejected edit (%s): %s", error.kind, error)
            status, headers = SUBMISSION_STATUS[error.kind]
            raise HTTPException(status_code=status, detail=str(error), headers=headers) from None
        response.headers["Location"] = f"/v1/edits/{job.id}"
        return job.to_dict()

    @app.get("/v1/edits/{job_id}", tags=["edits"])
    def get_edit(job: Annotated[Job, Depends(get_job)]) -> dict:
        """Return the job: status, stage, progress, error, summary and links."""
        return job.to_dict()

    @app.get(
        "/v1/edits/{job_id}/images/{kind}",
        tags=["edits"],
        response_class=Response,
        responses={200: {"content": {"image/png": {}}}},
    )
    def get_image(
        kind: Literal["original", "reconstruction", "edited"], job: Annotated[Job, Depends(get_job)]
    ) -> Response:
        """Return one of the job's images as PNG: the aligned input, the noiseless reconstruction, or the received edit."""
        data = job.images.get(kind)
        if data is None:
            raise HTTPException(
                status_code=409,
                detail=f"image {kind!r} of job {job.id} is not available: the job is {job.status} (stage {job.stage})",
            )
        return Response(content=data, media_type="image/png")

    @app.get(
        "/v1/edits/{job_id}/events",
        tags=["edits"],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def edit_events(job: Annotated[Job, Depends(get_job)]) -> StreamingResponse:
        """Server-Sent Events: ``progress`` on every stage or step change, then one ``done``,
        ``failed`` or ``cancelled`` event; each carries the job as JSON data."""

        async def stream():
            last_version = -1
            idle = 0.0
            while True:
                version, finished = job.version, job.finished
                if version != last_version:
                    last_version = version
                    event = job.status if finished else "progress"
                    yield f"id: {version}\nevent: {event}\ndata: {json.dumps(job.to_dict())}\n\n"
                    idle = 0.0
                    if finished:
                        return
                await asyncio.sleep(0.05)
                idle += 0.05
                if idle >= 15:
                    yield ": keep-alive\n\n"
                    idle = 0.0

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.delete("/v1/edits/{job_id}", status_code=202, tags=["edits"])
    def cancel_edit(job: Annotated[Job, Depends(get_job)], current: Annotated[SenderState, Depends(get_state)]) -> dict:
        """Cancel a queued or running job; a running job stops within one inversion or editing step."""
        if job.status in FINAL_STATUSES:
            raise HTTPException(status_code=409, detail=f"job {job.id} already ended {job.status}; nothing to cancel")
        if current.worker is not None:
            current.worker.cancel(job)
        else:
            job.cancel.set()
        return job.to_dict()

    def get_session(session_id: str, current: Annotated[SenderState, Depends(get_state)]) -> Session:
        session = current.sessions.get(session_id)
        if session is None:
            raise HTTPException(status_code=404, detail=f"no session with id {session_id!r}")
        return session

    def rejected(error: SubmissionError, what: str) -> HTTPException:
        logger.warning("rejected %s (%s): %s", what, error.kind, error)
        status, headers = SUBMISSION_STATUS[error.kind]
        return HTTPException(status_code=status, detail=str(error), headers=headers)

    @app.post("/v1/sessions", status_code=201, tags=["sessions"])
    async def create_session(
        response: Response,
        current: Annotated[SenderState, Depends(get_state)],
        image: Annotated[UploadFile, File(description="face photo (PNG, JPEG, WebP, ...)")],
        snr_db: Annotated[float, Form(description="channel SNR P/σ² in dB", ge=-50, le=100)] = 6.0,
        channel: Annotated[Literal["awgn", "rayleigh", "none"], Form(description="channel model")] = "awgn",
        seed: Annotated[int, Form(description="channel seed of turn 1; turn n uses seed + n - 1", ge=0, lt=2**63)] = 0,
        latent_space: Annotated[Literal["w", "z"], Form(description="latent that crosses the channel")] = "w",
    ) -> dict:
        """Open a multi-turn session on one face. The first turn inverts it; each later turn edits
        the latent the previous turn left, and only the newly edited latent crosses the channel."""
        data = await image.read(current.settings.max_upload_bytes + 1)
        submission = EditSubmission(data, "", snr_db, channel, seed, latent_space)
        try:
            session = await run_in_threadpool(accept_session, current, submission)
        except SubmissionError as error:
            raise rejected(error, "session") from None
        logger.info("session %s opened", session.id)
        response.headers["Location"] = f"/v1/sessions/{session.id}"
        return session.to_dict(current.jobs)

    @app.get("/v1/sessions/{session_id}", tags=["sessions"])
    def read_session(
        session: Annotated[Session, Depends(get_session)], current: Annotated[SenderState, Depends(get_state)]
    ) -> dict:
        """Return the session: settings, whether the face is inverted, and its turns with their status."""
        return session.to_dict(current.jobs)

    @app.post("/v1/sessions/{session_id}/turns", status_code=202, tags=["sessions"])
    def add_turn(
        request: Request,
        response: Response,
        session: Annotated[Session, Depends(get_session)],
        current: Annotated[SenderState, Depends(get_state)],
        instruction: Annotated[
            str,
            Form(
                description="editing request; one that names no attribute ('a bit more', 'less') follows up on the previous turn",
                min_length=1,
                max_length=500,
                examples=["make her smile", "a bit more"],
            ),
        ],
        seed: Annotated[int | None, Form(description="channel seed of this turn", ge=0, lt=2**63)] = None,
    ) -> dict:
        """Queue the next turn. Returns its job (the same job as ``POST /v1/edits`` gives) with 202."""
        try:
            job = accept_turn(current, session, instruction, seed, request.state.request_id)
        except SubmissionError as error:
            raise rejected(error, "turn") from None
        logger.info("session %s: turn %d queued as job %s", session.id, job.turn, job.id)
        response.headers["Location"] = f"/v1/edits/{job.id}"
        return job.to_dict()

    @app.delete("/v1/sessions/{session_id}", tags=["sessions"])
    def delete_session(
        session: Annotated[Session, Depends(get_session)], current: Annotated[SenderState, Depends(get_state)]
    ) -> dict:
        """Close the session: unfinished turns are cancelled and its latent is forgotten."""
        return close_session(current, session)

    @app.get("/metrics", tags=["health"], response_class=Response)
    def metrics(current: Annotated[SenderState, Depends(get_state)]) -> Response:
        """Prometheus text format: requests, job durations by stage, queue depth, errors."""
        return Response(current.metrics.render(), media_type="text/plain; version=0.0.4")

    return app

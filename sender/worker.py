"""Background worker: runs queued edit jobs one at a time, off the request path."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import replace

import grpc

from deepsc.channel import ChannelStats
from deepsc.face import ImageError, load_image
from deepsc.inversion import Interrupted
from deepsc.pipeline import EditPipeline, png_bytes, to_uint8
from deepsc.request_context import request_id_var
from deepsc.settings import Settings
from sender.jobs import Job, png_to_array
from sender.metrics import SenderMetrics
from sender.transport import ChannelClient

logger = logging.getLogger("deepsc.sender")


class QueueFull(Exception):
    """More jobs are waiting than the queue accepts."""


class EditWorker:
    """Owns the job queue and the thread that runs the pipeline.

    Args:
        pipeline: loaded pipeline (the sender's half of it is used).
        channel_client: connection to the channel emulator.
        settings: service settings (queue size, frame size, timeouts).
    """

    def __init__(
        self,
        pipeline: EditPipeline,
        channel_client: ChannelClient,
        settings: Settings,
        metrics: SenderMetrics | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.channel_client = channel_client
        self.settings = settings
        self.metrics = metrics or SenderMetrics()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="edit-worker", daemon=True)
        self._stopping = threading.Event()
        self.current: Job | None = None

    def start(self) -> None:
        self._thread.start()
        logger.info("edit worker started")

    def cancel(self, job: Job) -> None:
        """Ask a job to stop: a queued job ends cancelled at once, a running one within one step."""
        job.cancel.set()
        if job.status == "queued":
            job.update(status="cancelled", stage="cancelled")
            logger.info("job %s cancelled while queued", job.id)

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel the running job, stop taking new ones and wait for the thread."""
        self._stopping.set()
        if self.current is not None:
            self.current.cancel.set()
        self._queue.put(None)
        self._thread.join(timeout)
        logger.info("edit worker stopped")

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    def submit(self, job: Job) -> None:
        """Queue a job; raises QueueFull beyond ``settings.max_queued_jobs``."""
        if self._queue.qsize() >= self.settings.max_queued_jobs:
            raise QueueFull(f"{self._queue.qsize()} jobs are already waiting")
        self._queue.put(job)
        self.metrics.queue_depth.set(self._queue.qsize())
        logger.info("job %s queued", job.id)

    def _run(self) -> None:
        while not self._stopping.is_set():
            job = self._queue.get()
            self.metrics.queue_depth.set(self._queue.qsize())
            if job is None:
                break
            self.current = job
            token = request_id_var.set(job.request_id or job.id)
            try:
                self.process(job)
            finally:
                request_id_var.reset(token)
                self.current = None
                job.image_bytes = b""
                self.metrics.jobs.labels(job.status).inc()
        # Jobs still waiting when the service stops end as cancelled, never silently dropped.
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None and not job.finished:
                job.update(status="cancelled", stage="cancelled", error="the sender stopped before the job ran")

    def process(self, job: Job) -> None:
        """Run one job to a final status: done, failed (with a reason) or cancelled."""
        if job.cancel.is_set():
            if not job.finished:
                job.update(status="cancelled", stage="cancelled")
            return
        started = time.perf_counter()
        job.update(status="running", stage="alignment", step=0, total=1)
        logger.info(
            "job %s started: %r, %s at %.1f dB, latent %s",
            job.id,
            job.instruction,
            job.options.channel,
            job.options.snr_db,
            job.options.latent_space,
        )
        try:
            self._process(job, started)
        except Interrupted:
            stage = job.stage
            job.update(status="cancelled", stage="cancelled")
            logger.info("job %s cancelled during %s", job.id, stage)
        except ImageError as error:
            job.update(status="failed", error=str(error))
            self.metrics.errors.labels("image").inc()
            logger.warning("job %s failed: %s", job.id, error)
        except grpc.RpcError as error:
            reason = f"transmission through the channel emulator at {self.channel_client.address} failed ({error.code().name}): {error.details()}"
            job.update(status="failed", error=reason)
            self.metrics.errors.labels("transmission").inc()
            logger.error("job %s failed: %s", job.id, reason)
        except Exception as error:  # noqa: BLE001 - any other failure must still end the job
            job.update(status="failed", error=f"internal error: {type(error).__name__}: {error}")
            self.metrics.errors.labels("internal").inc()
            logger.exception("job %s failed with an unexpected error", job.id)
        finally:
            self.metrics.job_seconds.observe(time.perf_counter() - started)

    def _process(self, job: Job, started: float) -> None:
        def progress(stage: str, step: int, total: int) -> None:
            job.update(stage=stage, step=step, total=total)

        session = job.session
        if session is None:
            image = load_image(job.image_bytes)
            sender = self.pipeline.run_sender(image, job.request, job.options, progress=progress, interrupt=job.cancel)
        else:
            # A session inverts its face on its first turn; later turns edit the latent the
            # previous turn left, so the face is inverted only once.
            if session.face is None:
                image = load_image(session.image_bytes)
                session.face = self.pipeline.invert_image(image, job.options, progress=progress, interrupt=job.cancel)
                session.image_bytes = b""
                logger.info("session %s: face inverted in %.2f s", session.id, session.face.seconds)
            sender = self.pipeline.edit_latent(
                session.face, job.instruction, job.options, progress, job.cancel, request=job.request
            )
        job.images["original"] = png_bytes(sender.aligned.image)
        job.images["reconstruction"] = png_bytes(to_uint8(sender.reconstruction))
        if job.cancel.is_set():
            raise Interrupted("cancelled before transmission")

        job.update(stage="channel", step=0, total=1)
        sent = time.perf_counter()
        response = self.channel_client.transmit(
            job.id,
            sender.symbols,
            job.options.latent_space,
            job.options.channel,
            job.options.snr_db,
            job.options.seed,
            bundle=self.pipeline.bundle.name,
            frame_symbols=job.options.frame_symbols,
            power=self.settings.power,
            equaliser=self.settings.equaliser,
            timeout=self.settings.transmit_timeout_s,
            request_id=job.request_id,
        )
        round_trip = time.perf_counter() - sent

        edited = png_to_array(response.result.edited_png)
        statistics = response.statistics
        stats = ChannelStats(
            statistics.symbols, statistics.channel_uses, statistics.signal_power, statistics.noise_power
        )
        timings = {
            "inversion": sender.timings["inversion"],
            "editing": sender.timings["editing"],
            "channel": max(round_trip - response.result.decode_seconds, 0.0),
            "synthesis": response.result.decode_seconds,
            "total": time.perf_counter() - started,
        }
        for stage in ("inversion", "editing", "channel", "synthesis"):
            self.metrics.stage_seconds.labels(stage).observe(timings[stage])
        summary = self.pipeline.summarise(sender, edited, job.options, stats, timings)
        summary["instruction"] = job.instruction
        job.images["edited"] = response.result.edited_png
        if session is not None:
            # Only a delivered turn moves the session on; a failed one leaves the latent as it was.
            # A session closed while this turn was on the channel has dropped its face: keep it so.
            if session.face is not None:
                session.face = replace(session.face, latent=sender.latent, seconds=0.0)
            session.updated_at = time.time()
            summary["session"] = {"id": session.id, "turn": job.turn}
        job.update(status="done", stage="done", step=1, total=1, summary=summary)
        logger.info(
            "job %s done in %.2f s: %s %d -> %d (target %d)",
            job.id,
            timings["total"],
            summary["attribute"],
            summary["degree_before"],
            summary["degree_after"],
            summary["degree_target"],
        )

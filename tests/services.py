"""Start the three services inside the test process on free 127.0.0.1 ports."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager

import httpx
import uvicorn

from channel_sim.server import serve as serve_channel
from deepsc.pipeline import EditPipeline
from deepsc.settings import Settings
from receiver.server import serve as serve_receiver
from sender.app import create_app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_services(pipeline: EditPipeline, pipeline_factory=None, wait_ready: bool = True, **overrides):
    """Yield (sender base URL, settings) with receiver, channel emulator and sender running.

    Args:
        pipeline: loaded pipeline shared by the receiver and (unless ``pipeline_factory``) the sender.
        pipeline_factory: how the sender loads its pipeline, to test start-up.
        wait_ready: wait for /readyz, else only for /healthz.
    """
    receiver = serve_receiver(Settings(), bundle=pipeline.bundle, port=0)
    channel_port = free_port()
    settings = Settings(
        receiver_port=receiver.port,
        receiver_address=f"127.0.0.1:{receiver.port}",
        channel_port=channel_port,
        channel_address=f"127.0.0.1:{channel_port}",
        sender_http_port=free_port(),
        sender_grpc_port=free_port(),
        **overrides,
    )
    channel, channel_service = serve_channel(settings, port=channel_port)
    app = create_app(
        settings, pipeline=pipeline if pipeline_factory is None else None, pipeline_factory=pipeline_factory
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=settings.sender_http_port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{settings.sender_http_port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/{'readyz' if wait_ready else 'healthz'}", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("sender did not become ready")
        yield base, settings
    finally:
        server.should_exit = True
        thread.join(10)
        channel.stop(0)
        channel_service.close()
        receiver.stop(0)


def wait_for_job(client: httpx.Client, url: str, timeout: float = 300.0) -> dict:
    """Poll a job until it reaches a final status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(url).json()
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    raise TimeoutError(f"job {url} did not finish in {timeout} s")

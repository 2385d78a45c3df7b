"""Entry points of the three services (``python -m sender``, ``channel_sim``, ``receiver``)."""

from __future__ import annotations

import logging
import signal
import threading

from deepsc.request_context import configure_logging
from deepsc.settings import Settings

logger = logging.getLogger("deepsc.service")


def _wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def _apply_threads(settings: Settings) -> None:
    if settings.torch_threads > 0:
        import torch

        torch.set_num_threads(settings.torch_threads)


def run_receiver() -> int:
    from receiver.server import serve

    settings = Settings()
    configure_logging(settings.log_level, "receiver")
    _apply_threads(settings)
    server = serve(settings)
    logger.info("receiver started on %s:%d", settings.host, server.port)
    _wait_for_signal()
    logger.info("receiver stopping")
    server.stop()
    logger.info("receiver stopped")
    return 0


def run_channel() -> int:
    from channel_sim.server import serve

    settings = Settings()
    configure_logging(settings.log_level, "channel")
    server, service = serve(settings)
    logger.info(
        "channel emulator started on %s:%d, receiver at %s", settings.host, server.port, settings.receiver_address
    )
    _wait_for_signal()
    logger.info("channel emulator stopping")
    server.stop()
    service.close()
    logger.info("channel emulator stopped")
    return 0


def run_sender() -> int:
    import uvicorn

    from sender.app import create_app

    settings = Settings()
    configure_logging(settings.log_level, "sender")
    _apply_threads(settings)
    # The app's middleware logs each request with its request id, so uvicorn's access log is off.
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.sender_http_port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )
    return 0

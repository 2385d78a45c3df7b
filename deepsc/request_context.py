"""The request id of the work in progress, attached to every log line of every service.

The sender takes the id from the ``X-Request-Id`` header (or makes one), and passes it along in
the ``x-request-id`` gRPC metadata key, so one edit can be followed through the sender, the
channel emulator and the receiver logs.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

REQUEST_ID_METADATA_KEY = "x-request-id"
request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

LOG_FORMAT = "%(asctime)s %(levelname)s {service} [%(request_id)s] %(name)s: %(message)s"


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` from the current context, unless the call passed one in ``extra``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


def configure_logging(level: str, service: str) -> None:
    """Log to standard error with the service name and request id on every line."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter(LOG_FORMAT.format(service=service)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's own loggers would otherwise print without the request id.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def request_id_from_metadata(metadata) -> str:
    """Read the request id from gRPC invocation metadata; '-' when absent."""
    for key, value in metadata or ():
        if key == REQUEST_ID_METADATA_KEY:
            return value
    return "-"

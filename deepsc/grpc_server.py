"""Common set-up of the gRPC servers: health checking, reflection and clean shutdown."""

from __future__ import annotations

import logging
from concurrent import futures
from typing import NoReturn

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

logger = logging.getLogger(__name__)

# Latents are small, but a PNG result of a large bundle can exceed gRPC's 4 MiB default.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
GRPC_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
]


def abort(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
    """Log and end the call with a status; ``context.abort`` raises, which type checkers cannot see."""
    logger.warning("rejected gRPC call (%s): %s", code.name, message)
    context.abort(code, message)
    raise AssertionError("grpc.ServicerContext.abort returned")


class ServingServer:
    """A started gRPC server with its health servicer.

    Attributes:
        server: the grpc.Server.
        port: the bound port (useful when 0 was requested).
        health: health servicer; every service is SERVING until ``stop``.
    """

    def __init__(
        self, server: grpc.Server, port: int, health_servicer: health.HealthServicer, service_names: list[str]
    ) -> None:
        self.server = server
        self.port = port
        self.health = health_servicer
        self.service_names = service_names

    def stop(self, grace: float = 2.0) -> None:
        """Report NOT_SERVING, then stop, letting running calls finish for ``grace`` seconds."""
        for name in ["", *self.service_names]:
            self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        self.server.stop(grace).wait()

    def wait(self) -> None:
        self.server.wait_for_termination()


def start_server(register, service_names: list[str], host: str, port: int, workers: int = 8) -> ServingServer:
    """Create, register and start a server with health checking and reflection.

    Args:
        register: callable taking the grpc.Server and adding the service implementations.
        service_names: full names of the registered services (for health and reflection).
        host, port: address to bind; port 0 picks a free port.

    Raises:
        RuntimeError: the address could not be bound.
    """
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=GRPC_OPTIONS)
    register(server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection([*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError as error:
        raise RuntimeError(f"cannot listen on {host}:{port}: {error}") from None
    if bound == 0:
        raise RuntimeError(f"cannot listen on {host}:{port}: address in use or not available")
    server.start()
    for name in ["", *service_names]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    logger.info("gRPC server for %s listening on %s:%d", ", ".join(service_names), host, bound)
    return ServingServer(server, bound, health_servicer, service_names)

"""Container health probes: ``python -m deepsc.healthcheck http URL`` or ``grpc HOST:PORT``.

Exits 0 when the target is healthy (HTTP 200, or gRPC health status SERVING), 1 otherwise, with
one line on standard error saying why.
"""

from __future__ import annotations

import sys


def check_http(url: str, timeout: float) -> str | None:
    import httpx

    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as error:
        return f"{url} is unreachable: {error}"
    return None if response.status_code == 200 else f"{url} answered {response.status_code}: {response.text[:200]}"


def check_grpc(address: str, timeout: float, service: str = "") -> str | None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout
            )
        except grpc.RpcError as error:
            return f"{address} health check failed ({error.code().name}): {error.details()}"
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        return f"{address} is {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}"
    return None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in ("http", "grpc"):
        print("usage: python -m deepsc.healthcheck http URL | grpc HOST:PORT", file=sys.stderr)
        return 2
    problem = check_http(args[1], 5.0) if args[0] == "http" else check_grpc(args[1], 5.0)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

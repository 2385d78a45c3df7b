"""The docker-compose deployment, checked and run without a Docker engine.

CI has no Docker engine, so the test reads docker-compose.yml and starts each service's command
as a local process with the compose environment. It rewrites service host names to 127.0.0.1,
the listening ports to free ones, and the container path of the read-only bundle mount to the
checkout's folder. It then runs each healthcheck command and sends an edit through the services.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.services import free_port

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
GPU = yaml.safe_load((ROOT / "docker-compose.gpu.yml").read_text())
PORT_VARIABLES = {"DEEPSC_SENDER_HTTP_PORT", "DEEPSC_SENDER_GRPC_PORT", "DEEPSC_CHANNEL_PORT", "DEEPSC_RECEIVER_PORT"}


def test_compose_structure():
    services = COMPOSE["services"]
    assert set(services) == {"sender", "channel", "receiver"}
    for name, service in services.items():
        assert "healthcheck" in service, name
        assert (ROOT / service["build"]["dockerfile"]).exists(), name
        for dependency, condition in service.get("depends_on", {}).items():
            assert condition == {"condition": "service_healthy"}, f"{name} -> {dependency}"
        for volume in service.get("volumes", []):
            assert volume.endswith(":ro"), f"{name} mounts {volume} writable"
    assert set(services["sender"]["depends_on"]) == {"channel", "receiver"}
    assert set(services["channel"]["depends_on"]) == {"receiver"}


def test_gpu_override_targets_sender_and_receiver():
    assert set(GPU["services"]) == {"sender", "receiver"}
    for service in GPU["services"].values():
        assert service["environment"]["DEEPSC_DEVICE"] == "cuda"
        device = service["deploy"]["resources"]["reservations"]["devices"][0]
        assert device["capabilities"] == ["gpu"]


def test_dockerfiles_use_pytorch_base_image():
    for name in ("sender", "channel_sim", "receiver"):
        text = (ROOT / name / "Dockerfile").read_text()
        assert "FROM pytorch/pytorch:" in text


def _start_order(services: dict) -> list[str]:
    order: list[str] = []
    while len(order) < len(services):
        for name, service in services.items():
            if name not in order and all(dep in order for dep in service.get("depends_on", {})):
                order.append(name)
    return order


def _local_environment(services: dict, ports: dict[str, int]) -> dict[str, dict[str, str]]:
    """Compose environments with host names, ports and mount paths rewritten for this machine."""
    mounts = {}
    for service in services.values():
        for volume in service.get("volumes", []):
            source, target, _mode = volume.split(":")
            mounts[target] = str((ROOT / source).resolve())
    service_ports = {
        "receiver": ports["DEEPSC_RECEIVER_PORT"],
        "channel": ports["DEEPSC_CHANNEL_PORT"],
    }
    environments = {}
    for name, service in services.items():
        env = {}
        for key, value in service.get("environment", {}).items():
            value = str(value)
            if key == "DEEPSC_HOST":
                value = "127.0.0.1"
            elif key in PORT_VARIABLES:
                value = str(ports[key])
            for host, port in service_ports.items():
                if value.startswith(f"{host}:"):
                    value = f"127.0.0.1:{port}"
            for target, source in mounts.items():
                if value.startswith(target + "/") or value == target:
                    value = source + value[len(target) :]
            env[key] = value
        environments[name] = env
    return environments


def _local_command(command: list[str]) -> list[str]:
    return [sys.executable if part == "python" else part for part in command]


def _healthy(command: list[str], env: dict[str, str], ports: dict[str, int]) -> bool:
    # The healthcheck commands name the container's ports; point them at the rewritten ones.
    local = []
    for part in command[1:]:  # drop "CMD"
        for variable, container_port in (
            ("DEEPSC_SENDER_HTTP_PORT", 8000),
            ("DEEPSC_CHANNEL_PORT", 50052),
            ("DEEPSC_RECEIVER_PORT", 50053),
        ):
            part = part.replace(f"127.0.0.1:{container_port}", f"127.0.0.1:{ports[variable]}")
        local.append(part)
    return subprocess.run(_local_command(local), env=env, capture_output=True, timeout=30).returncode == 0


@pytest.mark.slow
def test_compose_services_pass_an_edit(astronaut_path):
    services = COMPOSE["services"]
    ports = {variable: free_port() for variable in PORT_VARIABLES}
    environments = _local_environment(services, ports)
    processes = {}
    try:
        for name in _start_order(services):
            env = {**os.environ, **environments[name]}
            processes[name] = subprocess.Popen(_local_command(services[name]["command"]), env=env)
            deadline = time.monotonic() + 180
            while not _healthy(services[name]["healthcheck"]["test"], env, ports):
                assert processes[name].poll() is None, f"{name} exited with {processes[name].returncode}"
                assert time.monotonic() < deadline, f"{name} never became healthy"
                time.sleep(1)

        base = f"http://127.0.0.1:{ports['DEEPSC_SENDER_HTTP_PORT']}"
        with httpx.Client(base_url=base, timeout=30) as client:
            response = client.post(
                "/v1/edits",
                files={"image": ("a.png", astronaut_path.read_bytes(), "image/png")},
                data={"instruction": "Give her thick glasses."},
            )
            assert response.status_code == 202
            location = response.headers["location"]
            deadline = time.monotonic() + 300
            while (job := client.get(location).json())["status"] not in ("done", "failed", "cancelled"):
                assert time.monotonic() < deadline
                time.sleep(0.5)
        assert job["status"] == "done", job["error"]
        assert job["summary"]["bundle"] == "synthetic-64"
        assert job["summary"]["symbols"] == 128
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.wait(30)

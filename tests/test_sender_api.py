import json
import time

import httpx
import pytest

from deepsc.bundle import load_bundle
from deepsc.metrics.lpips import load_lpips
from deepsc.pipeline import EditPipeline
from tests.services import running_services, wait_for_job


@pytest.fixture(scope="module")
def tiny_pipeline(tiny_bundle):
    return EditPipeline(load_bundle(tiny_bundle), load_lpips())


def _submit(client, photo, instruction="add glasses"):
    return client.post("/v1/edits", files={"image": ("f.png", photo, "image/png")}, data={"instruction": instruction})


def _read_events(client, url):
    events = []
    with client.stream("GET", url) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[len("data: ") :])))
                if name in ("done", "failed", "cancelled"):
                    break
    return events


def test_event_stream_ends_with_done(tiny_pipeline, small_photo_path):
    with running_services(tiny_pipeline, inversion_steps=20) as (base, _):
        with httpx.Client(base_url=base, timeout=60) as client:
            job = _submit(client, small_photo_path.read_bytes()).json()
            events = _read_events(client, job["links"]["events"].replace(base, ""))
            names = [name for name, _ in events]
            assert names[-1] == "done"
            assert set(names[:-1]) <= {"progress"}
            stages = {data["stage"] for name, data in events}
            assert "inversion" in stages or len(events) >= 2
            final = events[-1][1]
            assert final["status"] == "done"
            assert final["summary"]["attribute"] == "eyeglasses"
            edited = client.get(final["links"]["edited"].replace(base, ""))
            assert edited.status_code == 200
            assert edited.content.startswith(b"\x89PNG")


def test_delete_stops_running_job(tiny_pipeline, small_photo_path):
    with running_services(tiny_pipeline, inversion_steps=1_000_000) as (base, _):
        with httpx.Client(base_url=base, timeout=60) as client:
            job = _submit(client, small_photo_path.read_bytes()).json()
            url = f"/v1/edits/{job['id']}"
            deadline = time.monotonic() + 60
            while client.get(url).json()["stage"] != "inversion":
                assert time.monotonic() < deadline, "job never reached the inversion"
                time.sleep(0.05)
            step_before = client.get(url).json()["progress"]["step"]
            response = client.delete(url)
            assert response.status_code == 202
            final = wait_for_job(client, url, timeout=30)
            assert final["status"] == "cancelled"
            assert final["progress"]["step"] < step_before + 1000
            assert client.delete(url).status_code == 409
            assert client.get(f"{url}/images/edited").status_code == 409


def test_delete_queued_job_and_unknown_job(tiny_pipeline, small_photo_path):
    with running_services(tiny_pipeline, inversion_steps=1_000_000) as (base, _):
        with httpx.Client(base_url=base, timeout=60) as client:
            first = _submit(client, small_photo_path.read_bytes()).json()
            second = _submit(client, small_photo_path.read_bytes()).json()
            assert client.get(f"/v1/edits/{second['id']}").json()["status"] == "queued"
            assert client.delete(f"/v1/edits/{second['id']}").status_code == 202
            assert client.get(f"/v1/edits/{second['id']}").json()["status"] == "cancelled"
            assert client.delete(f"/v1/edits/{first['id']}").status_code == 202
            assert wait_for_job(client, f"/v1/edits/{first['id']}", timeout=30)["status"] == "cancelled"
            missing = client.delete("/v1/edits/nope")
            assert missing.status_code == 404
            assert "nope" in missing.json()["detail"]


def test_health_and_metrics(tiny_pipeline, small_photo_path):
    with running_services(tiny_pipeline, inversion_steps=2) as (base, _):
        with httpx.Client(base_url=base, timeout=60) as client:
            assert client.get("/healthz").json() == {"status": "ok"}
            assert client.get("/readyz").status_code == 200
            job = _submit(client, small_photo_path.read_bytes()).json()
            wait_for_job(client, f"/v1/edits/{job['id']}")
            assert _submit(client, b"not an image").status_code == 415
            text = client.get("/metrics").text
            assert 'deepsc_http_requests_total{method="POST",route="/v1/edits",status="202"} 1.0' in text
            assert 'deepsc_http_requests_total{method="POST",route="/v1/edits",status="415"} 1.0' in text
            assert 'deepsc_jobs_total{status="done"} 1.0' in text
            assert 'deepsc_job_stage_seconds_count{stage="inversion"} 1.0' in text
            assert "deepsc_queue_depth 0.0" in text
            response = client.get("/healthz", headers={"X-Request-Id": "abc123"})
            assert response.headers["x-request-id"] == "abc123"


def test_openapi_lists_routes(tiny_pipeline):
    with running_services(tiny_pipeline, inversion_steps=2) as (base, _):
        spec = httpx.get(f"{base}/openapi.json").json()
        assert {
            "/v1/edits",
            "/v1/edits/{job_id}",
            "/v1/edits/{job_id}/events",
            "/v1/edits/{job_id}/images/{kind}",
            "/healthz",
            "/readyz",
            "/metrics",
        } <= set(spec["paths"])
        docs = httpx.get(f"{base}/docs")
        assert docs.status_code == 200
        # The page must work offline: Swagger UI comes from the sender, not from a CDN.
        assert "/docs-static/swagger-ui-bundle.js" in docs.text
        assert "cdn.jsdelivr" not in docs.text
        assert httpx.get(f"{base}/docs-static/swagger-ui-bundle.js").status_code == 200
        assert httpx.get(f"{base}/docs-static/swagger-ui.css").status_code == 200


def test_readyz_not_ready_until_models_load(tiny_pipeline, small_photo_path):
    import threading

    release = threading.Event()

    def slow_factory():
        release.wait(60)
        return tiny_pipeline

    with running_services(tiny_pipeline, pipeline_factory=slow_factory, wait_ready=False) as (base, _):
        with httpx.Client(base_url=base, timeout=30) as client:
            assert client.get("/healthz").status_code == 200
            response = client.get("/readyz")
            assert response.status_code == 503
            assert response.json()["status"] == "loading"
            busy = _submit(client, small_photo_path.read_bytes())
            assert busy.status_code == 503
            assert busy.headers["retry-after"] == "5"
            release.set()
            deadline = time.monotonic() + 30
            while client.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, "sender never became ready"
                time.sleep(0.05)
            assert _submit(client, small_photo_path.read_bytes()).status_code == 202


def test_request_id_reaches_every_service(tiny_pipeline, small_photo_path, caplog):
    import logging

    from deepsc.request_context import RequestIdFilter

    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.INFO):
        with running_services(tiny_pipeline, inversion_steps=2) as (base, _):
            with httpx.Client(base_url=base, timeout=30) as client:
                response = client.post(
                    "/v1/edits",
                    files={"image": ("f.png", small_photo_path.read_bytes(), "image/png")},
                    data={"instruction": "add glasses"},
                    headers={"X-Request-Id": "req-7f3a"},
                )
                assert response.headers["x-request-id"] == "req-7f3a"
                wait_for_job(client, response.headers["location"])
    tagged = {record.name for record in caplog.records if getattr(record, "request_id", None) == "req-7f3a"}
    assert {"deepsc.sender", "deepsc.channel", "deepsc.receiver"} <= tagged


def test_every_grpc_server_has_health_and_reflection(tiny_pipeline):
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    with running_services(tiny_pipeline, inversion_steps=2) as (_, settings):
        ports = {
            "deepsc.v1.EditService": settings.sender_grpc_port,
            "deepsc.v1.ChannelEmulator": settings.channel_port,
            "deepsc.v1.Receiver": settings.receiver_port,
        }
        for service, port in ports.items():
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                status = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=service), timeout=10
                )
                assert status.status == health_pb2.HealthCheckResponse.SERVING, service
                stub = reflection_pb2_grpc.ServerReflectionStub(channel)
                replies = stub.ServerReflectionInfo(
                    iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10
                )
                names = {entry.name for reply in replies for entry in reply.list_services_response.service}
                assert service in names
                assert "grpc.health.v1.Health" in names

"""Multi-turn sessions over the three services: each turn edits the latent the previous one left."""

import json

import grpc
import httpx
import pytest

from deepsc.bundle import load_bundle
from deepsc.metrics.lpips import load_lpips
from deepsc.pipeline import EditPipeline
from deepsc.v1 import editing_pb2, editing_pb2_grpc
from tests.services import running_services, wait_for_job


@pytest.fixture(scope="module")
def services(tiny_field_bundle):
    pipeline = EditPipeline(load_bundle(tiny_field_bundle), load_lpips())
    with running_services(pipeline, inversion_steps=3) as running:
        yield running


def _open(client, photo_path, **fields):
    return client.post(
        "/v1/sessions",
        files={"image": ("face.png", photo_path.read_bytes(), "image/png")},
        data={key: str(value) for key, value in fields.items()},
    )


@pytest.mark.parametrize("space", ["w", "z"])
def test_three_turns_chain_their_latents(services, small_photo_path, space):
    base, _ = services
    with httpx.Client(base_url=base, timeout=30) as client:
        created = _open(client, small_photo_path, latent_space=space, snr_db=12, seed=7)
        assert created.status_code == 201, created.text
        session = created.json()
        assert created.headers["location"] == f"/v1/sessions/{session['id']}"
        assert session["inverted"] is False
        assert session["turns"] == []

        jobs = []
        for text in ("give her a big smile", "a bit more", "add glasses"):
            response = client.post(f"/v1/sessions/{session['id']}/turns", data={"instruction": text})
            assert response.status_code == 202, response.text
            jobs.append(response.json())
        assert [job["session"]["turn"] for job in jobs] == [1, 2, 3]
        assert jobs[1]["parsed"] == {"attribute": "smile", "mode": "change", "degree": None, "amount": 1}
        # Each turn has its own channel seed, so turns do not share noise.
        assert [job["options"]["seed"] for job in jobs] == [7, 8, 9]

        done = [wait_for_job(client, f"/v1/edits/{job['id']}") for job in jobs]
        assert [job["status"] for job in done] == ["done"] * 3, [job["error"] for job in done]
        summaries = [job["summary"] for job in done]
        assert all(summary["latent_space"] == space for summary in summaries)
        assert all(summary["symbols"] == 16 for summary in summaries)
        # Turn n starts from the latent turn n - 1 left at the sender, not from the photo again.
        assert summaries[1]["degrees_before"] == summaries[0]["degrees_at_sender"]
        assert summaries[2]["degrees_before"] == summaries[1]["degrees_at_sender"]
        assert summaries[0]["timings_s"]["inversion"] > 0
        assert summaries[1]["timings_s"]["inversion"] == 0 == summaries[2]["timings_s"]["inversion"]
        for job in done:
            assert client.get(f"/v1/edits/{job['id']}/images/edited").headers["content-type"] == "image/png"

        state = client.get(f"/v1/sessions/{session['id']}").json()
        assert state["inverted"] is True
        assert [turn["status"] for turn in state["turns"]] == ["done"] * 3


def test_session_errors(services, small_photo_path, not_an_image):
    base, _ = services
    with httpx.Client(base_url=base, timeout=30) as client:
        assert _open(client, not_an_image).status_code == 415
        assert _open(client, small_photo_path, channel="pigeon").status_code == 422
        missing = client.post("/v1/sessions/nope/turns", data={"instruction": "add glasses"})
        assert missing.status_code == 404
        assert "no session" in missing.json()["detail"]

        session = _open(client, small_photo_path).json()
        turns = f"/v1/sessions/{session['id']}/turns"
        # A follow-up needs a previous turn to follow.
        first = client.post(turns, data={"instruction": "a bit more"})
        assert first.status_code == 422
        assert "can edit" in first.json()["detail"]
        assert client.post(turns, data={"instruction": ""}).status_code == 422

        queued = client.post(turns, data={"instruction": "add a beard"}).json()
        closed = client.delete(f"/v1/sessions/{session['id']}")
        assert closed.status_code == 200
        assert closed.json()["closed"] is True
        final = wait_for_job(client, f"/v1/edits/{queued['id']}")
        assert final["status"] in ("done", "cancelled")
        assert client.get(f"/v1/sessions/{session['id']}").status_code == 404
        assert client.post(turns, data={"instruction": "add glasses"}).status_code == 404


def test_grpc_session_chains_turns(services, small_photo_path, not_an_image):
    _, settings = services
    with grpc.insecure_channel(f"127.0.0.1:{settings.sender_grpc_port}") as channel:
        stub = editing_pb2_grpc.EditServiceStub(channel)
        session = stub.CreateSession(
            editing_pb2.CreateSessionRequest(image=small_photo_path.read_bytes(), snr_db=12, seed=3, latent_space="z")
        )
        assert session.inverted is False
        assert list(session.turn_job_ids) == []

        summaries = []
        for text in ("give her a big smile", "a bit more"):
            events = list(stub.EditTurn(editing_pb2.SessionTurnRequest(session_id=session.id, instruction=text)))
            assert [event.event for event in events[:-1]] == ["progress"] * (len(events) - 1)
            assert events[-1].event == "done", events[-1].job.error
            assert events[-1].images.edited.startswith(b"\x89PNG")
            summaries.append(json.loads(events[-1].job.summary_json))
        # The second turn edits the latent the first one left, without inverting again.
        assert summaries[1]["degrees_before"] == summaries[0]["degrees_at_sender"]
        assert summaries[1]["timings_s"]["inversion"] == 0
        assert all(summary["latent_space"] == "z" for summary in summaries)

        state = stub.GetSession(editing_pb2.GetSessionRequest(session_id=session.id))
        assert state.inverted is True
        assert len(state.turn_job_ids) == 2
        assert stub.GetEdit(editing_pb2.GetEditRequest(id=state.turn_job_ids[1])).status == "done"
        assert json.loads(state.session_json)["options"]["seed"] == 3

        closed = stub.CloseSession(editing_pb2.CloseSessionRequest(session_id=session.id))
        assert closed.closed is True
        with pytest.raises(grpc.RpcError) as error:
            list(stub.EditTurn(editing_pb2.SessionTurnRequest(session_id=session.id, instruction="add glasses")))
        assert error.value.code() == grpc.StatusCode.NOT_FOUND

        with pytest.raises(grpc.RpcError) as error:
            stub.CreateSession(editing_pb2.CreateSessionRequest(image=not_an_image.read_bytes()))
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        fresh = stub.CreateSession(editing_pb2.CreateSessionRequest(image=small_photo_path.read_bytes()))
        with pytest.raises(grpc.RpcError) as error:
            list(stub.EditTurn(editing_pb2.SessionTurnRequest(session_id=fresh.id, instruction="a bit more")))
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "can edit" in error.value.details()

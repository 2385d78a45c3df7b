import json

import grpc
import pytest

from deepsc.bundle import load_bundle
from deepsc.cli import main
from deepsc.client import EditFailed, GrpcClient, RestClient
from deepsc.metrics.lpips import load_lpips
from deepsc.pipeline import EditPipeline
from deepsc.v1 import editing_pb2, editing_pb2_grpc
from tests.services import running_services


@pytest.fixture(scope="module")
def services(tiny_bundle):
    pipeline = EditPipeline(load_bundle(tiny_bundle), load_lpips())
    with running_services(pipeline, inversion_steps=10) as running:
        yield running


def test_grpc_client_receives_progress_and_result(services, small_photo_path):
    _, settings = services
    seen = []
    with GrpcClient(f"127.0.0.1:{settings.sender_grpc_port}") as client:
        result = client.edit(
            small_photo_path.read_bytes(),
            "make her smile a bit more",
            progress=lambda *args: seen.append(args),
            snr_db=3.0,
        )
    stages = [stage for stage, _, _ in seen]
    assert "inversion" in stages
    assert stages[-1] == "done"
    assert result.summary["attribute"] == "smile"
    assert result.summary["snr_db"] == 3.0
    for kind in ("original", "reconstruction", "edited"):
        assert result.images[kind].startswith(b"\x89PNG")


def test_grpc_rejects_bad_input(services):
    _, settings = services
    with grpc.insecure_channel(f"127.0.0.1:{settings.sender_grpc_port}") as channel:
        stub = editing_pb2_grpc.EditServiceStub(channel)
        with pytest.raises(grpc.RpcError) as error:
            list(
                stub.SubmitEdit(
                    editing_pb2.SubmitEditRequest(image=b"not an image", instruction="add glasses"), timeout=10
                )
            )
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "not a readable image" in error.value.details()
        with pytest.raises(grpc.RpcError) as error:
            stub.GetEdit(editing_pb2.GetEditRequest(id="missing"), timeout=10)
        assert error.value.code() == grpc.StatusCode.NOT_FOUND


def test_grpc_client_error_is_edit_failed(services, small_photo_path):
    _, settings = services
    with GrpcClient(f"127.0.0.1:{settings.sender_grpc_port}") as client:
        with pytest.raises(EditFailed, match="INVALID_ARGUMENT"):
            client.edit(small_photo_path.read_bytes(), "paint the sky purple")


def test_rest_client_edit(services, small_photo_path):
    base, _ = services
    with RestClient(base) as client:
        result = client.edit(small_photo_path.read_bytes(), "no beard", channel="rayleigh")
    assert result.summary["attribute"] == "beard"
    assert result.summary["channel"] == "rayleigh"
    assert result.images["edited"].startswith(b"\x89PNG")


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_submit_command(services, small_photo_path, tmp_path, capsys, protocol):
    base, settings = services
    out = tmp_path / protocol
    code = main(
        [
            "submit",
            str(small_photo_path),
            "--instruction",
            "add glasses",
            "--protocol",
            protocol,
            "--url",
            base,
            "--address",
            f"127.0.0.1:{settings.sender_grpc_port}",
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["attribute"] == "eyeglasses"
    assert json.loads((out / "summary.json").read_text()) == summary
    assert (out / "edited.png").exists()


def test_submit_rejected_instruction_exits_2(services, small_photo_path, capsys):
    base, _ = services
    assert main(["submit", str(small_photo_path), "--instruction", "paint the sky", "--url", base]) == 2
    assert "422" in capsys.readouterr().err


def test_submit_unreachable_sender_exits_1(small_photo_path, capsys):
    assert main(["submit", str(small_photo_path), "--instruction", "add glasses", "--url", "http://127.0.0.1:9"]) == 1
    assert "cannot reach the sender" in capsys.readouterr().err

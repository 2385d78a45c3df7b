"""Slow tests on the bundled default synthetic-64: the demo's promises on a real photo."""

import json

import httpx
import pytest
from PIL import Image

from deepsc.bundle import DEFAULT_BUNDLE, check_bundle, load_bundle, resolve_bundle
from deepsc.cli import main
from deepsc.metrics.lpips import load_lpips
from deepsc.pipeline import EditPipeline
from tests.services import running_services, wait_for_job

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pipeline():
    return EditPipeline(load_bundle(DEFAULT_BUNDLE), load_lpips())


def test_bundle_files_match_manifest():
    folder = resolve_bundle(DEFAULT_BUNDLE)
    assert check_bundle(folder) == []
    manifest = json.loads((folder / "bundle.json").read_text())
    assert manifest["latent"]["size"] <= 128
    assert manifest["resolution"] == 64
    assert (folder / "MODEL_CARD.md").exists()


def test_bundle_ships_text_and_inversion_encoders(pipeline):
    assert pipeline.bundle.text_encoder is not None
    assert pipeline.bundle.inversion_encoder is not None
    request = pipeline.bundle.parse("Give her thick glasses.")
    assert (request.attribute, request.mode, request.degree) == ("eyeglasses", "target", 2)


def test_cli_edit_astronaut_adds_glasses(astronaut_path, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "edit",
            str(astronaut_path),
            "--instruction",
            "Give her thick glasses.",
            "--snr-db",
            "6",
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["attribute"] == "eyeglasses"
    assert summary["degree_after"] > summary["degree_before"]
    assert summary["cbr"] <= 1 / 96
    assert summary["symbols"] == 128
    assert summary["warnings"] == []
    for name in ("original.png", "reconstruction.png", "edited.png"):
        assert Image.open(out / name).size == (64, 64)


def test_services_edit_astronaut_adds_glasses(pipeline, astronaut_path):
    with running_services(pipeline) as (base, _settings):
        with httpx.Client(base_url=base, timeout=30) as client:
            response = client.post(
                "/v1/edits",
                files={"image": ("a.png", astronaut_path.read_bytes(), "image/png")},
                data={"instruction": "Give her thick glasses.", "snr_db": "6"},
            )
            assert response.status_code == 202
            job = wait_for_job(client, response.headers["location"])
    assert job["status"] == "done", job["error"]
    summary = job["summary"]
    assert summary["attribute"] == "eyeglasses"
    assert summary["degree_after"] > summary["degree_before"]
    assert summary["cbr"] <= 1 / 96

import io

import httpx
import numpy as np
import pytest
from PIL import Image

from deepsc.bundle import load_bundle
from deepsc.face import load_image
from deepsc.metrics.lpips import load_lpips
from deepsc.pipeline import EditOptions, EditPipeline
from tests.services import running_services, wait_for_job


@pytest.fixture(scope="module")
def tiny_pipeline(tiny_bundle):
    return EditPipeline(load_bundle(tiny_bundle), load_lpips())


@pytest.fixture(scope="module")
def services(tiny_pipeline):
    with running_services(tiny_pipeline, inversion_steps=3) as running:
        yield running


def _submit(base, photo_bytes, **fields):
    data = {"instruction": "make her smile a bit more", **{k: str(v) for k, v in fields.items()}}
    return httpx.post(
        f"{base}/v1/edits", files={"image": ("face.png", photo_bytes, "image/png")}, data=data, timeout=30
    )


@pytest.mark.parametrize("channel", ["awgn", "rayleigh", "none"])
def test_edit_through_three_services_matches_in_process(services, tiny_pipeline, small_photo_path, channel):
    base, _ = services
    photo = small_photo_path.read_bytes()
    response = _submit(base, photo, snr_db=2.5, seed=9, channel=channel)
    assert response.status_code == 202
    job = response.json()
    assert response.headers["location"] == f"/v1/edits/{job['id']}"
    assert job["status"] in ("queued", "running")

    with httpx.Client(base_url=base, timeout=30) as client:
        final = wait_for_job(client, f"/v1/edits/{job['id']}")
        assert final["status"] == "done", final["error"]
        edited = np.asarray(Image.open(io.BytesIO(client.get(f"/v1/edits/{job['id']}/images/edited").content)))
        for kind in ("original", "reconstruction"):
            image = client.get(f"/v1/edits/{job['id']}/images/{kind}")
            assert image.status_code == 200
            assert image.headers["content-type"] == "image/png"

    options = EditOptions(snr_db=2.5, channel=channel, seed=9, inversion_steps=3)
    expected = tiny_pipeline.run(load_image(photo), "make her smile a bit more", options)
    assert np.array_equal(edited, expected.edited)
    summary = final["summary"]
    for key in (
        "attribute",
        "degree_before",
        "degree_target",
        "degree_after",
        "symbols",
        "channel_uses",
        "cbr",
        "latent_space",
    ):
        assert summary[key] == expected.summary[key], key


def test_not_an_image_rejected(services):
    base, _ = services
    response = _submit(base, b"plain text, not an image")
    assert response.status_code == 415
    assert "image" in response.json()["detail"]
    assert "not a readable image" in response.json()["detail"]


def test_missing_instruction_is_422(services, small_photo_path):
    base, _ = services
    response = httpx.post(
        f"{base}/v1/edits", files={"image": ("face.png", small_photo_path.read_bytes(), "image/png")}, timeout=30
    )
    assert response.status_code == 422
    assert any("instruction" in entry["loc"] for entry in response.json()["detail"])


def test_unrelated_instruction_is_422(services, small_photo_path):
    base, _ = services
    response = httpx.post(
        f"{base}/v1/edits",
        files={"image": ("f.png", small_photo_path.read_bytes(), "image/png")},
        data={"instruction": "paint the sky purple"},
        timeout=30,
    )
    assert response.status_code == 422
    assert "eyeglasses" in response.json()["detail"]


@pytest.mark.parametrize(
    ("field", "value"), [("channel", "bsc"), ("latent_space", "x"), ("snr_db", "loud"), ("seed", "-1")]
)
def test_invalid_options_are_422(services, small_photo_path, field, value):
    base, _ = services
    response = _submit(base, small_photo_path.read_bytes(), **{field: value})
    assert response.status_code == 422
    assert any(field in entry["loc"] for entry in response.json()["detail"])


def test_unknown_job_is_404(services):
    base, _ = services
    response = httpx.get(f"{base}/v1/edits/does-not-exist")
    assert response.status_code == 404
    assert "does-not-exist" in response.json()["detail"]


def test_unknown_image_kind_is_422(services, small_photo_path):
    base, _ = services
    job = _submit(base, small_photo_path.read_bytes()).json()
    response = httpx.get(f"{base}/v1/edits/{job['id']}/images/thumbnail")
    assert response.status_code == 422
